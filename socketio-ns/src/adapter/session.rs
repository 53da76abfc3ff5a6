//! Connection state recovery at the adapter level: the sessions of disconnected sockets and
//! the packets they may have missed ([`SessionStore`], used by [`super::LocalAdapter`]), and
//! the plain data an adapter exchanges with the namespace runtime about them.
//!
//! Every EVENT broadcast without an ack id and not volatile is *stamped*: an offset is appended
//! as its last argument (the client remembers the last one it processed) and the packet is kept
//! for the recovery duration. A socket that drops for a recoverable reason leaves a
//! [`SessionToPersist`]; when its client comes back with `{pid, offset}`, the packets after that
//! offset which its rooms selected are replayed, in order, each once.
//!
//! The log and its sequence numbers live in one mutex that broadcasts hold while they stamp and
//! deliver: restoring a session takes it too, so a packet is either among the missed ones or
//! delivered live to the recovered socket, never both, never neither.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::{BroadcastOptions, BroadcastPacket, Room, Sid};
use crate::codec::socketio::encode::Encoded;

/// What a socket that dropped for a recoverable reason leaves behind, to be resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionToPersist {
    /// The Socket.IO id the socket will have again.
    pub sid: Sid,
    /// The private session id the client presents to recover (`pid` in its CONNECT auth).
    pub pid: String,
    /// The rooms it was in, its own id room included.
    pub rooms: Vec<Room>,
    /// The offset that was current when the socket connected ([`super::Adapter::current_offset`]):
    /// a client that presents no offset has processed no stamped packet since.
    pub since: Option<String>,
    /// The socket's data ([`crate::Context::data`]; `socket.data` in the JavaScript server),
    /// restored with it. Only adapters that share sessions between processes need it.
    pub data: Option<serde_json::Value>,
}

/// A session found again: the socket's id and rooms, and the packets it missed, in order,
/// each already stamped with its offset.
#[derive(Debug, Clone)]
pub struct RecoveredSession {
    /// The Socket.IO id.
    pub sid: Sid,
    /// The private session id.
    pub pid: String,
    /// The rooms to join again, its own id room included.
    pub rooms: Vec<Room>,
    /// The packets sent to those rooms after the client's offset.
    pub missed: Vec<BroadcastPacket>,
    /// The socket's data as it was persisted ([`SessionToPersist::data`]).
    pub data: Option<serde_json::Value>,
}

/// Makes a recovered socket live: called by [`super::Adapter::restore_session`] at a moment when
/// no broadcast of the namespace is being delivered, so that every packet after
/// [`RecoveredSession::missed`] reaches the socket live. It queues the missed packets, joins the
/// rooms and makes the socket reachable; `false` when it could not (the client went away).
pub type ResumeFn = Box<dyn FnOnce(RecoveredSession) -> bool + Send>;

/// The options of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    /// How long a session and a packet are kept.
    pub max_disconnection_duration: Duration,
    /// The most packets kept; beyond, the oldest go (sessions whose offset is older are then
    /// not recovered).
    pub max_packets: usize,
    /// The most bytes of packets kept (text and attachments); beyond, the oldest go, as above.
    pub max_bytes: usize,
}

/// Sessions of disconnected sockets and recently stamped packets of one namespace, in memory.
pub struct SessionStore {
    config: StoreConfig,
    /// Prefixes every offset: offsets of another namespace or an earlier process are unknown
    /// here, not mistaken for ours.
    epoch: String,
    inner: Mutex<Inner>,
    pruner: AtomicBool,
}

impl fmt::Debug for SessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("SessionStore")
            .field("config", &self.config)
            .field("sessions", &st.sessions.len())
            .field("packets", &st.packets.len())
            .finish()
    }
}

struct Stored {
    at: Instant,
    /// The packet's bytes, counted against [`StoreConfig::max_bytes`].
    size: usize,
    packet: BroadcastPacket,
    rooms: Vec<Room>,
    except: Vec<Room>,
}

struct Persisted {
    sid: Sid,
    rooms: Vec<Room>,
    since: Option<u64>,
    data: Option<serde_json::Value>,
    at: Instant,
}

struct Inner {
    /// The sequence number of the next packet (the first is 1); offsets are sequence numbers,
    /// and `packets` holds the last ones, up to `next - 1`.
    next: u64,
    packets: VecDeque<Stored>,
    /// The sum of `packets`' sizes.
    bytes: usize,
    sessions: HashMap<String, Persisted>,
}

impl Inner {
    /// The sequence number of `packets[0]`.
    fn first(&self) -> u64 {
        self.next - self.packets.len() as u64
    }

    fn prune(&mut self, now: Instant, config: &StoreConfig) {
        let max = config.max_disconnection_duration;
        while let Some(p) = self.packets.front() {
            if self.packets.len() > config.max_packets
                || self.bytes > config.max_bytes
                || now.duration_since(p.at) > max
            {
                self.bytes -= p.size;
                self.packets.pop_front();
            } else {
                break;
            }
        }
    }
}

/// Whether the sockets of `rooms` were selected by a broadcast to `rooms_to` minus `except`.
pub(crate) fn selected(rooms: &[Room], to: &[Room], except: &[Room]) -> bool {
    let included = to.is_empty() || rooms.iter().any(|r| to.contains(r));
    included && !rooms.iter().any(|r| except.contains(r))
}

/// `packet` with `offset` appended as its last argument. The text ends with the `]` of the
/// argument array (attachments are separate frames), so this is a splice, not a re-encoding.
pub(crate) fn stamp(packet: &BroadcastPacket, offset: &str) -> BroadcastPacket {
    let text = packet.text();
    debug_assert!(text.ends_with(']'));
    let mut out = String::with_capacity(text.len() + offset.len() + 3);
    out.push_str(&text[..text.len() - 1]);
    out.push_str(",\"");
    out.push_str(offset);
    out.push_str("\"]");
    BroadcastPacket::new(
        Encoded::new(Utf8Bytes::from(out), packet.encoded.attachments.clone()),
        None,
    )
}

impl SessionStore {
    /// An empty store.
    pub fn new(config: StoreConfig) -> Self {
        let epoch = crate::engine::new_sid();
        SessionStore {
            config,
            epoch: epoch[..8].to_owned(),
            inner: Mutex::new(Inner {
                next: 1,
                packets: VecDeque::new(),
                bytes: 0,
                sessions: HashMap::new(),
            }),
            pruner: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Its options.
    pub fn config(&self) -> StoreConfig {
        self.config
    }

    fn offset(&self, seq: u64) -> String {
        format!("{}{:x}", self.epoch, seq)
    }

    fn parse(&self, offset: &str) -> Option<u64> {
        let hex = offset.strip_prefix(self.epoch.as_str())?;
        if hex.is_empty() || hex.len() > 16 {
            return None;
        }
        u64::from_str_radix(hex, 16).ok()
    }

    /// Whether a broadcast with these options is stamped and kept: events without ack id,
    /// not volatile.
    pub fn keeps(packet: &BroadcastPacket, opts: &BroadcastOptions) -> bool {
        packet.ack_id().is_none() && !opts.volatile
    }

    /// Stamps `packet`, keeps it, and hands the stamped packet to `deliver` while no session
    /// can be restored.
    pub fn push<R>(
        self: &Arc<Self>,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
        deliver: impl FnOnce(&BroadcastPacket) -> R,
    ) -> R {
        self.start_pruner();
        let now = Instant::now();
        let mut st = self.lock();
        let seq = st.next;
        st.next += 1;
        let stamped = stamp(packet, &self.offset(seq));
        let e = &stamped.encoded;
        let size = e.text.len() + e.attachments.iter().map(|a| a.len()).sum::<usize>();
        st.bytes += size;
        st.packets.push_back(Stored {
            at: now,
            size,
            packet: stamped.clone(),
            rooms: opts.rooms.clone(),
            except: opts.except.clone(),
        });
        st.prune(now, &self.config);
        deliver(&stamped)
    }

    /// The offset of the last stamped packet (a packet before the first when none was): what a
    /// socket connecting now has processed.
    pub fn current_offset(&self) -> String {
        self.offset(self.lock().next - 1)
    }

    /// Keeps a session for the recovery duration.
    pub fn persist(self: &Arc<Self>, session: SessionToPersist) {
        self.start_pruner();
        let since = session.since.as_deref().and_then(|o| self.parse(o));
        self.lock().sessions.insert(
            session.pid,
            Persisted {
                sid: session.sid,
                rooms: session.rooms,
                since,
                data: session.data,
                at: Instant::now(),
            },
        );
    }

    /// Takes the session `pid` and, when it has not expired and every packet after `offset`
    /// (or after its start, without one) is still kept, hands it with its missed packets to
    /// `resume`, under the lock broadcasts take. Returns what `resume` returned; `false` when
    /// the session is unknown, expired, or its offset too old or not ours.
    pub fn restore(&self, pid: &str, offset: Option<&str>, resume: ResumeFn) -> bool {
        let now = Instant::now();
        let mut st = self.lock();
        let Some(session) = st.sessions.remove(pid) else {
            return false;
        };
        if now.duration_since(session.at) > self.config.max_disconnection_duration {
            return false;
        }
        // The client's offset, or the session's start when it processed nothing stamped; an
        // offset from before the session's start counts from the start.
        let from = match (offset.map(|o| self.parse(o)), session.since) {
            (Some(None), _) | (None, None) => return false,
            (Some(Some(o)), Some(s)) => o.max(s),
            (Some(Some(o)), None) => o,
            (None, Some(s)) => s,
        };
        st.prune(now, &self.config);
        // An offset beyond the last packet is not ours; one whose successors were dropped is
        // too old.
        if from >= st.next || from + 1 < st.first() {
            return false;
        }
        let start = (from + 1 - st.first()) as usize;
        let missed = st
            .packets
            .iter()
            .skip(start)
            .filter(|p| selected(&session.rooms, &p.rooms, &p.except))
            .map(|p| p.packet.clone())
            .collect();
        resume(RecoveredSession {
            sid: session.sid,
            pid: pid.to_owned(),
            rooms: session.rooms,
            missed,
            data: session.data,
        })
    }

    /// Drops expired sessions and packets.
    pub fn prune(&self) {
        let now = Instant::now();
        let max = self.config.max_disconnection_duration;
        let mut st = self.lock();
        st.prune(now, &self.config);
        st.sessions.retain(|_, s| now.duration_since(s.at) <= max);
    }

    /// How many sessions and packets are kept.
    pub fn len(&self) -> (usize, usize) {
        let st = self.lock();
        (st.sessions.len(), st.packets.len())
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }

    /// Prunes now and then while the store lives, from the first use on (a tokio runtime is
    /// running by then).
    fn start_pruner(self: &Arc<Self>) {
        if self.pruner.swap(true, Ordering::AcqRel) {
            return;
        }
        let period = (self.config.max_disconnection_duration / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(15));
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(store) => store.prune(),
                    None => return,
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(max_packets: usize, max_bytes: usize) -> Arc<SessionStore> {
        Arc::new(SessionStore::new(StoreConfig {
            max_disconnection_duration: Duration::from_secs(60),
            max_packets,
            max_bytes,
        }))
    }

    /// A broadcast to everyone whose text is `42["m","<text>"]`.
    fn push(store: &Arc<SessionStore>, text: &str) {
        let packet = BroadcastPacket::new(
            Encoded::new(Utf8Bytes::from(format!(r#"42["m","{text}"]"#)), Vec::new()),
            None,
        );
        store.push(&packet, &BroadcastOptions::default(), |_| ());
    }

    /// Persists a session that connected at `since` and tries to restore it from there: the
    /// texts of the packets it gets back, or `None` when it cannot be recovered.
    fn restore(store: &Arc<SessionStore>, since: &str) -> Option<Vec<String>> {
        store.persist(SessionToPersist {
            sid: Sid::from("s"),
            pid: "p".to_owned(),
            rooms: vec![Room::from("s")],
            since: Some(since.to_owned()),
            data: None,
        });
        let got = Arc::new(Mutex::new(None));
        let out = got.clone();
        let restored = store.restore(
            "p",
            None,
            Box::new(move |s| {
                let texts = s.missed.iter().map(|p| p.text().to_owned()).collect();
                *out.lock().unwrap() = Some(texts);
                true
            }),
        );
        restored.then(|| got.lock().unwrap().take().unwrap())
    }

    #[tokio::test]
    async fn the_byte_budget_drops_the_oldest_packets_and_what_needed_them_is_not_recovered() {
        // Each packet is about 325 bytes stamped (`42["m","<300 bytes>","<offset>"]`): three
        // fit in 1,000 bytes, a fourth pushes the oldest out.
        let s = store(1000, 1000);
        let start = s.current_offset();
        push(&s, &"a".repeat(300));
        push(&s, &"b".repeat(300));
        let two = restore(&s, &start).expect("both kept");
        assert_eq!(two.len(), 2);
        assert!(two[0].contains("aaa") && two[1].contains("bbb"));
        let after_b = s.current_offset();
        push(&s, &"c".repeat(300));
        push(&s, &"d".repeat(300));
        assert_eq!(s.len().1, 3, "{s:?}");
        // A session from the start missed the dropped packet: not recovered.
        assert_eq!(restore(&s, &start), None);
        // One from after the second packet gets the two after it.
        let got = restore(&s, &after_b).expect("its packets are kept");
        assert_eq!(got.len(), 2);
        assert!(got[0].contains("ccc") && got[1].contains("ddd"));
        // A packet larger than the whole budget is not kept at all.
        let before_big = s.current_offset();
        push(&s, &"e".repeat(2000));
        assert_eq!(restore(&s, &before_big), None);
    }

    #[tokio::test]
    async fn the_packet_count_drops_the_oldest_packets() {
        let s = store(2, usize::MAX);
        let start = s.current_offset();
        push(&s, "a");
        let after_a = s.current_offset();
        push(&s, "b");
        push(&s, "c");
        assert_eq!(s.len().1, 2);
        assert_eq!(restore(&s, &start), None);
        let got = restore(&s, &after_a).expect("b and c are kept");
        assert_eq!(got.len(), 2);
    }
}
