//! Encoding outgoing Socket.IO packets straight into Engine.IO message frames (`4` + packet),
//! so one encoding serves every recipient. With the msgpack parser, a packet's msgpack form is
//! made from that encoding the first time it is sent, and shared by every recipient too.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::RawArgs;
use super::binary;
use super::msgpack::{self, Parser};
use super::packet::{PacketType, write_header};
use crate::codec::engine::packet::Frame;

/// What can be sent as the arguments of an event or an ack.
///
/// Any `T: Serialize`: a tuple spreads into several arguments, `()` into none, anything else
/// is one argument; `bytes::Bytes` (anywhere inside) travels as a binary attachment.
/// [`RawArgs`] sends received arguments on unchanged.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent as Socket.IO arguments",
    label = "not serializable",
    note = "derive `serde::Serialize` for it, or pass a tuple of serializable values"
)]
pub trait Args {
    /// Writes the arguments as comma-separated JSON (each preceded by a comma when
    /// `leading_comma`), pushing binary attachments; returns how many arguments it wrote.
    fn write_args(
        &self,
        out: &mut Vec<u8>,
        attachments: &mut Vec<Bytes>,
        leading_comma: bool,
    ) -> Result<usize, serde_json::Error>;

    /// Bytes the arguments are known to take at least once written (0: unknown); sizes the
    /// packet's buffer so that it is allocated once.
    fn len_hint(&self) -> usize {
        0
    }
}

impl<T: serde::Serialize + ?Sized> Args for T {
    fn write_args(
        &self,
        out: &mut Vec<u8>,
        attachments: &mut Vec<Bytes>,
        leading_comma: bool,
    ) -> Result<usize, serde_json::Error> {
        binary::write_args(self, out, attachments, leading_comma)
    }
}

impl Args for RawArgs {
    fn write_args(
        &self,
        out: &mut Vec<u8>,
        attachments: &mut Vec<Bytes>,
        leading_comma: bool,
    ) -> Result<usize, serde_json::Error> {
        if self.count == 0 {
            return Ok(0);
        }
        if !attachments.is_empty() && !self.attachments.is_empty() {
            return Err(serde::ser::Error::custom(
                "raw arguments with attachments must be sent alone",
            ));
        }
        if leading_comma {
            out.push(b',');
        }
        out.extend_from_slice(self.json.as_bytes());
        attachments.extend(self.attachments.iter().cloned());
        Ok(self.count)
    }

    fn len_hint(&self) -> usize {
        self.json.len()
    }
}

/// An encoded packet: the text frame, then its attachments (the JSON parser's form, which the
/// runtime keeps), and its msgpack form once made.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub(crate) text: Utf8Bytes,
    pub(crate) attachments: Vec<Bytes>,
    /// The msgpack message, made on first use and shared by the clones.
    msgpack: Arc<OnceLock<Option<Bytes>>>,
}

impl Encoded {
    /// A packet from its text frame (`4` + the packet) and its attachments.
    pub(crate) fn new(text: Utf8Bytes, attachments: Vec<Bytes>) -> Self {
        Encoded {
            text,
            attachments,
            msgpack: Arc::default(),
        }
    }

    /// The packet as one text frame, when it is one for a client of `parser` (the JSON parser,
    /// no attachments: most events). Queued for each of a broadcast's recipients, it skips
    /// [`Encoded::frames`]' chain of iterators, which callgrind counted at about 100
    /// instructions and a 200-byte copy per recipient.
    #[inline]
    pub(crate) fn single_frame(&self, parser: Parser) -> Option<Frame> {
        (parser != Parser::MsgPack && self.attachments.is_empty())
            .then(|| Frame::Text(self.text.clone()))
    }

    /// The frames to queue for a client of `parser`, cheaply cloned: the text frame and the
    /// attachments, or one msgpack binary frame.
    pub(crate) fn frames(&self, parser: Parser) -> impl Iterator<Item = Frame> + '_ {
        let (json, msgpack) = match parser {
            Parser::MsgPack => {
                let m = self
                    .msgpack
                    .get_or_init(|| to_msgpack(self.text.as_str(), &self.attachments));
                (None, m.clone())
            }
            _ => (Some(self), None),
        };
        json.into_iter()
            .flat_map(|e| {
                std::iter::once(Frame::Text(e.text.clone()))
                    .chain(e.attachments.iter().cloned().map(Frame::Binary))
            })
            .chain(msgpack.map(Frame::Binary))
    }

    fn finish(
        buf: Vec<u8>,
        header_end: usize,
        kind: PacketType,
        nsp: &str,
        id: Option<u64>,
        attachments: Vec<Bytes>,
    ) -> Result<Self, serde_json::Error> {
        let buf = if attachments.is_empty() {
            buf
        } else {
            let binary = match kind {
                PacketType::Ack => PacketType::BinaryAck,
                _ => PacketType::BinaryEvent,
            };
            let mut b = Vec::with_capacity(buf.len() + 4);
            b.push(b'4');
            write_header(&mut b, binary, nsp, attachments.len(), id);
            b.extend_from_slice(&buf[header_end..]);
            b
        };
        let text = String::from_utf8(buf).map_err(serde::ser::Error::custom)?;
        Ok(Encoded::new(text.into(), attachments))
    }
}

/// The msgpack form of an Engine.IO message `4<packet>` and its attachments; `None` (logged)
/// if the text is not a packet, which the runtime's own encodings always are.
fn to_msgpack(text: &str, attachments: &[Bytes]) -> Option<Bytes> {
    let result = match text
        .strip_prefix('4')
        .map(|p| super::packet::decode(p, usize::MAX))
    {
        Some(Ok(p)) => msgpack::encode(p.kind, p.nsp, p.id, p.data, attachments)
            .map(Bytes::from)
            .map_err(|e| e.to_string()),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("not a message".to_owned()),
    };
    result
        .inspect_err(|e| tracing::error!(error = %e, "packet not sent: no msgpack form"))
        .ok()
}

/// `42<nsp>,<id>["event",...args]` (or its binary form).
pub(crate) fn event<A: Args + ?Sized>(
    nsp: &str,
    name: &str,
    args: &A,
    id: Option<u64>,
) -> Result<Encoded, serde_json::Error> {
    let mut buf = Vec::with_capacity(64 + nsp.len() + name.len() + args.len_hint());
    buf.push(b'4');
    write_header(&mut buf, PacketType::Event, nsp, 0, id);
    let header_end = buf.len();
    buf.push(b'[');
    serde_json::to_writer(&mut buf, name)?;
    let mut attachments = Vec::new();
    args.write_args(&mut buf, &mut attachments, true)?;
    buf.push(b']');
    Encoded::finish(buf, header_end, PacketType::Event, nsp, id, attachments)
}

/// `43<nsp>,<id>[...args]` (or its binary form).
pub(crate) fn ack<A: Args + ?Sized>(
    nsp: &str,
    id: u64,
    args: &A,
) -> Result<Encoded, serde_json::Error> {
    let mut buf = Vec::with_capacity(64 + nsp.len() + args.len_hint());
    buf.push(b'4');
    write_header(&mut buf, PacketType::Ack, nsp, 0, Some(id));
    let header_end = buf.len();
    buf.push(b'[');
    let mut attachments = Vec::new();
    args.write_args(&mut buf, &mut attachments, false)?;
    buf.push(b']');
    Encoded::finish(buf, header_end, PacketType::Ack, nsp, Some(id), attachments)
}

/// A packet without ack id or attachments: CONNECT, DISCONNECT, CONNECT_ERROR, for a client of
/// `parser`.
pub(crate) fn simple(parser: Parser, kind: PacketType, nsp: &str, json: Option<&str>) -> Frame {
    if parser == Parser::MsgPack {
        return match msgpack::encode(kind, nsp, None, json, &[]) {
            Ok(m) => Frame::Binary(m.into()),
            Err(e) => {
                tracing::error!(error = %e, "packet not sent: no msgpack form");
                Frame::noop()
            }
        };
    }
    let mut buf = Vec::with_capacity(16 + json.map_or(0, str::len));
    buf.push(b'4');
    write_header(&mut buf, kind, nsp, 0, None);
    if let Some(j) = json {
        buf.extend_from_slice(j.as_bytes());
    }
    match String::from_utf8(buf) {
        Ok(s) => Frame::Text(s.into()),
        Err(_) => Frame::noop(),
    }
}
