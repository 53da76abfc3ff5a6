//! Criterion micro-benchmarks of event dispatch through the `match` that `#[namespace]`
//! generates, against a `HashMap<&str, fn>` handler map (what a registry-of-handlers design
//! does) over the same twelve event names.
//!
//! ```text
//! cargo bench -p socketio-ns --bench dispatch -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! What is measured, per event:
//!
//! - `event/from_text`: what the server does with an EVENT packet before dispatch (header
//!   decode, event array parse, [`Event`] built);
//! - `lookup/*`: event name → handler: the generated [`Namespace::method_of`] `match`, against
//!   `HashMap::get` (std's SipHash) on the same names;
//! - `decode_and_call/*`: the lookup, then the arguments decoded with the very function the
//!   expansion calls for each parameter (`__private::arg`), then a handler body without a
//!   context. The generated side matches on the method enum exactly as the expansion does; the
//!   map side stores one `fn` per event that decodes and calls. Not included on either side:
//!   the ACL check, the `async` state machine, and encoding the ack;
//! - `handler/process_packet`: the whole path a socket's actor runs for an event, through a
//!   real [`Context`] over an in-memory socket (`socketio_ns::testing::TestSocket`): the
//!   ACL check, the lookup, decoding, the handler, the ack encoded and queued.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use socketio_ns::__private::arg;
use socketio_ns::testing::TestSocket;
use socketio_ns::{Bytes, Context, Event, HandlerError, Namespace, namespace};

#[derive(Debug, Serialize, Deserialize)]
struct Msg {
    room: String,
    text: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Pos {
    x: i32,
    y: i32,
}

#[derive(Debug, Serialize)]
struct Welcome {
    nick: String,
    users: u32,
}

/// The namespace under test: twelve event handlers with typed arguments, several answering
/// acks. Each delegates to a context-free body below, which the benchmarks call directly.
#[derive(Debug, Default)]
struct Chat {
    events: u64,
    bytes: usize,
    pos: (i32, i32),
}

#[namespace("/bench")]
impl Chat {
    async fn on_login(
        &mut self,
        _cx: &mut Context<Self>,
        nick: String,
    ) -> Result<Welcome, HandlerError> {
        self.login(nick)
    }

    #[event("chat message")]
    fn on_chat_message(&mut self, _cx: &mut Context<Self>, msg: Msg) {
        self.chat_message(msg);
    }

    fn on_join(&mut self, _cx: &mut Context<Self>, room: String) {
        self.room(room);
    }

    fn on_leave(&mut self, _cx: &mut Context<Self>, room: String) {
        self.room(room);
    }

    fn on_typing(&mut self, _cx: &mut Context<Self>, room: String, typing: bool) {
        self.typing(room, typing);
    }

    fn on_say(&mut self, _cx: &mut Context<Self>, room: String, text: String) {
        self.say(room, text);
    }

    fn on_add(&mut self, _cx: &mut Context<Self>, a: u32, b: u32) -> u32 {
        self.add(a, b)
    }

    fn on_echo_n(&mut self, _cx: &mut Context<Self>, n: u32) -> u32 {
        self.echo_n(n)
    }

    fn on_move(&mut self, _cx: &mut Context<Self>, pos: Pos) {
        self.moved(pos);
    }

    fn on_history(&mut self, _cx: &mut Context<Self>, room: String, limit: u32) -> Vec<String> {
        self.history(room, limit)
    }

    fn on_upload(&mut self, _cx: &mut Context<Self>, name: String, data: Bytes) -> usize {
        self.upload(name, data)
    }

    fn on_logout(&mut self, _cx: &mut Context<Self>) {
        self.logout();
    }
}

/// The handler bodies, without a context.
impl Chat {
    fn login(&mut self, nick: String) -> Result<Welcome, HandlerError> {
        self.events += 1;
        if nick.is_empty() {
            return Err(HandlerError::new("bad_nick", "empty nick"));
        }
        Ok(Welcome { nick, users: 1 })
    }

    fn chat_message(&mut self, msg: Msg) {
        self.events += 1;
        self.bytes += msg.room.len() + msg.text.len();
    }

    fn room(&mut self, room: String) {
        self.events += 1;
        self.bytes += room.len();
    }

    fn typing(&mut self, room: String, typing: bool) {
        self.events += u64::from(typing);
        self.bytes += room.len();
    }

    fn say(&mut self, room: String, text: String) {
        self.events += 1;
        self.bytes += room.len() + text.len();
    }

    fn add(&mut self, a: u32, b: u32) -> u32 {
        self.events += 1;
        a.wrapping_add(b)
    }

    fn echo_n(&mut self, n: u32) -> u32 {
        self.events += 1;
        n
    }

    fn moved(&mut self, pos: Pos) {
        self.events += 1;
        self.pos = (pos.x, pos.y);
    }

    fn history(&mut self, room: String, limit: u32) -> Vec<String> {
        self.events += 1;
        (0..limit.min(2)).map(|_| room.clone()).collect()
    }

    fn upload(&mut self, name: String, data: Bytes) -> usize {
        self.events += 1;
        self.bytes += name.len();
        data.len()
    }

    fn logout(&mut self) {
        self.events += 1;
    }
}

/// One EVENT packet per handler (the text after the Engine.IO `4`), with its attachments.
fn packets() -> Vec<(&'static str, Vec<Bytes>)> {
    vec![
        (r#"2["login","alice"]"#, vec![]),
        (
            r#"2["chat message",{"room":"lobby","text":"hello world"}]"#,
            vec![],
        ),
        (r#"2["join","lobby"]"#, vec![]),
        (r#"2["leave","lobby"]"#, vec![]),
        (r#"2["typing","lobby",true]"#, vec![]),
        (r#"2/bench,17["say","lobby","hi"]"#, vec![]),
        (r#"2/bench,18["add",40,2]"#, vec![]),
        (r#"2/bench,19["echo_n",7]"#, vec![]),
        (r#"2["move",{"x":10,"y":-4}]"#, vec![]),
        (r#"2/bench,20["history","lobby",50]"#, vec![]),
        (
            r#"51-/bench,21["upload","a.png",{"_placeholder":true,"num":0}]"#,
            vec![Bytes::from(vec![7u8; 1024])],
        ),
        (r#"2["logout"]"#, vec![]),
    ]
}

fn events() -> Vec<Event> {
    packets()
        .into_iter()
        .map(|(text, attachments)| Event::from_text(text, attachments).expect("valid event"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The two dispatchers

/// The generated `method_of` match, then a `match` on the method enum that decodes each
/// argument with `__private::arg`, as the `#[namespace]` expansion writes it.
fn dispatch_generated(ns: &mut Chat, event: &Event) -> Result<(), HandlerError> {
    match Chat::method_of(event) {
        Some(ChatMethod::on_login) => {
            let out = ns.login(arg(event, 0)?);
            black_box(out).map(drop)
        }
        Some(ChatMethod::on_chat_message) => {
            ns.chat_message(arg(event, 0)?);
            Ok(())
        }
        Some(ChatMethod::on_join) => {
            ns.room(arg(event, 0)?);
            Ok(())
        }
        Some(ChatMethod::on_leave) => {
            ns.room(arg(event, 0)?);
            Ok(())
        }
        Some(ChatMethod::on_typing) => {
            ns.typing(arg(event, 0)?, arg(event, 1)?);
            Ok(())
        }
        Some(ChatMethod::on_say) => {
            ns.say(arg(event, 0)?, arg(event, 1)?);
            Ok(())
        }
        Some(ChatMethod::on_add) => {
            black_box(ns.add(arg(event, 0)?, arg(event, 1)?));
            Ok(())
        }
        Some(ChatMethod::on_echo_n) => {
            black_box(ns.echo_n(arg(event, 0)?));
            Ok(())
        }
        Some(ChatMethod::on_move) => {
            ns.moved(arg(event, 0)?);
            Ok(())
        }
        Some(ChatMethod::on_history) => {
            black_box(ns.history(arg(event, 0)?, arg(event, 1)?));
            Ok(())
        }
        Some(ChatMethod::on_upload) => {
            black_box(ns.upload(arg(event, 0)?, arg(event, 1)?));
            Ok(())
        }
        Some(ChatMethod::on_logout) => {
            ns.logout();
            Ok(())
        }
        None => Err(socketio_ns::__private::no_such_method(event)),
    }
}

type Handler = fn(&mut Chat, &Event) -> Result<(), HandlerError>;

/// The baseline: a map from event name to a handler `fn` that decodes its own arguments.
fn handler_map() -> HashMap<&'static str, Handler> {
    let handlers: [(&'static str, Handler); 12] = [
        ("login", |ns, e| black_box(ns.login(arg(e, 0)?)).map(drop)),
        ("chat message", |ns, e| {
            ns.chat_message(arg(e, 0)?);
            Ok(())
        }),
        ("join", |ns, e| {
            ns.room(arg(e, 0)?);
            Ok(())
        }),
        ("leave", |ns, e| {
            ns.room(arg(e, 0)?);
            Ok(())
        }),
        ("typing", |ns, e| {
            ns.typing(arg(e, 0)?, arg(e, 1)?);
            Ok(())
        }),
        ("say", |ns, e| {
            ns.say(arg(e, 0)?, arg(e, 1)?);
            Ok(())
        }),
        ("add", |ns, e| {
            black_box(ns.add(arg(e, 0)?, arg(e, 1)?));
            Ok(())
        }),
        ("echo_n", |ns, e| {
            black_box(ns.echo_n(arg(e, 0)?));
            Ok(())
        }),
        ("move", |ns, e| {
            ns.moved(arg(e, 0)?);
            Ok(())
        }),
        ("history", |ns, e| {
            black_box(ns.history(arg(e, 0)?, arg(e, 1)?));
            Ok(())
        }),
        ("upload", |ns, e| {
            black_box(ns.upload(arg(e, 0)?, arg(e, 1)?));
            Ok(())
        }),
        ("logout", |ns, _| {
            ns.logout();
            Ok(())
        }),
    ];
    handlers.into_iter().collect()
}

fn dispatch_map(
    map: &HashMap<&'static str, Handler>,
    ns: &mut Chat,
    event: &Event,
) -> Result<(), HandlerError> {
    match map.get(event.name()) {
        Some(handler) => handler(ns, event),
        None => Err(socketio_ns::__private::no_such_method(event)),
    }
}

// ---------------------------------------------------------------------------------------------
// Benchmarks

fn event_from_text(c: &mut Criterion) {
    let mut g = c.benchmark_group("event");
    let text = r#"2["chat message",{"room":"lobby","text":"hello world"}]"#;
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("from_text/chat_message", |b| {
        b.iter(|| black_box(Event::from_text(black_box(text), Vec::new())))
    });
    g.finish();
}

fn lookup(c: &mut Criterion) {
    let mut events = events();
    events.push(Event::from_text(r#"2["no such event",1]"#, vec![]).expect("valid event"));
    let map = handler_map();
    assert_eq!(Chat::METHODS.len(), 12);
    for e in &events {
        assert_eq!(
            Chat::method_of(e).is_some(),
            map.contains_key(e.name()),
            "{e:?}"
        );
    }

    let mut g = c.benchmark_group("lookup");
    // Per iteration: all thirteen names (every handler once, and one unknown name).
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("generated_match", |b| {
        b.iter(|| {
            for e in black_box(&events) {
                black_box(Chat::method_of(e));
            }
        })
    });
    g.bench_function("hashmap_siphash", |b| {
        b.iter(|| {
            for e in black_box(&events) {
                black_box(map.get(e.name()));
            }
        })
    });
    g.finish();
}

fn decode_and_call(c: &mut Criterion) {
    let events = events();
    let map = handler_map();
    let mut ns = Chat::default();
    for e in &events {
        assert_eq!(dispatch_generated(&mut ns, e), Ok(()), "{e:?}");
        assert_eq!(dispatch_map(&map, &mut ns, e), Ok(()), "{e:?}");
    }

    let mut g = c.benchmark_group("decode_and_call");
    // Per iteration: each of the twelve handlers once.
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("generated_match", |b| {
        b.iter(|| {
            for e in black_box(&events) {
                let _ = black_box(dispatch_generated(&mut ns, e));
            }
        })
    });
    g.bench_function("hashmap_siphash", |b| {
        b.iter(|| {
            for e in black_box(&events) {
                let _ = black_box(dispatch_map(&map, &mut ns, e));
            }
        })
    });
    g.finish();
    black_box((ns.events, ns.bytes, ns.pos));
}

fn process_packet(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let packets = packets();
    let mut socket = rt.block_on(async {
        let mut t = TestSocket::new(Chat::default());
        t.connect(None).await.expect("no recv_connect refuses");
        t
    });
    // Every event answered as the handler says: the four that asked for an ack get one.
    rt.block_on(async {
        for (text, attachments) in &packets {
            socket.event_with(text, attachments.clone()).await;
        }
    });
    let acks = socket.sent().iter().filter(|f| f.starts_with("43")).count();
    assert_eq!(
        acks, 5,
        "say, add, echo_n, history and upload asked for acks"
    );

    let mut g = c.benchmark_group("handler");
    // Per iteration: each of the twelve handlers once.
    g.throughput(Throughput::Elements(packets.len() as u64));
    g.bench_function("process_packet", |b| {
        b.iter(|| {
            rt.block_on(async {
                for (text, attachments) in black_box(&packets) {
                    socket.event_with(text, attachments.clone()).await;
                }
            });
            black_box(socket.sent_frames());
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    event_from_text,
    lookup,
    decode_and_call,
    process_packet
);
criterion_main!(benches);
