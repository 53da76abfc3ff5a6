use std::fmt;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use serde_json::value::RawValue;

use super::binary;
use super::packet::EventData;

/// Arguments received from a client (an event's or an ack's): spans of raw JSON in the packet
/// text, decoded on demand, and the binary attachments.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    text: Utf8Bytes,
    args: Vec<(u32, u32)>,
    attachments: Vec<Bytes>,
}

/// Where `inner`, a slice of `outer`, stands in it.
fn span(outer: &str, inner: &str) -> (u32, u32) {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    (start as u32, (start + inner.len()) as u32)
}

impl Received {
    /// `args` borrow from `text`.
    pub(crate) fn new(text: &Utf8Bytes, args: &[&RawValue], attachments: Vec<Bytes>) -> Self {
        let outer = text.as_str();
        Received {
            text: text.clone(),
            args: args.iter().map(|r| span(outer, r.get())).collect(),
            attachments,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.args.len()
    }

    pub(crate) fn raw_arg(&self, i: usize) -> Option<&str> {
        let (a, b) = *self.args.get(i)?;
        self.text.as_str().get(a as usize..b as usize)
    }

    pub(crate) fn arg<T: DeserializeOwned>(&self, i: usize) -> Result<T, serde_json::Error> {
        let raw = self.raw_arg(i).unwrap_or("null");
        if self.attachments.is_empty() {
            serde_json::from_str(raw)
        } else {
            let raw: &RawValue = serde_json::from_str(raw)?;
            binary::from_arg(raw, &self.attachments)
        }
    }

    pub(crate) fn bytes(&self, i: usize) -> Option<Bytes> {
        let raw: &RawValue = serde_json::from_str(self.raw_arg(i)?).ok()?;
        let n = binary::placeholder_num(raw)?;
        self.attachments.get(n).cloned()
    }

    pub(crate) fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// The arguments from position `i` on, as they came (binary included).
    pub(crate) fn args_from(&self, i: usize) -> RawArgs {
        let args = self.args.get(i..).unwrap_or(&[]);
        let json = match (args.first(), args.last()) {
            (Some(&(a, _)), Some(&(_, b))) => {
                self.text.as_str().get(a as usize..b as usize).unwrap_or("")
            }
            _ => "",
        };
        RawArgs {
            json: json.to_owned(),
            count: args.len(),
            attachments: self.attachments.clone(),
        }
    }
}

/// An event received from a client: its name, its arguments as raw JSON (decoded on demand
/// into the handler's parameter types), its binary attachments and its ack id.
pub struct Event {
    received: Received,
    name: Name,
    ack: Option<u64>,
}

enum Name {
    Span(u32, u32),
    Owned(Box<str>),
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name())
            .field("args", &self.len())
            .field("attachments", &self.attachments().len())
            .field("ack", &self.ack)
            .finish()
    }
}

impl Event {
    /// Builds an event from the packet text it was parsed from. `data` borrows from `text`.
    pub(crate) fn new(
        text: &Utf8Bytes,
        data: EventData<'_>,
        attachments: Vec<Bytes>,
        ack: Option<u64>,
    ) -> Self {
        let name = match data.name {
            std::borrow::Cow::Borrowed(n) => {
                let (a, b) = span(text.as_str(), n);
                Name::Span(a, b)
            }
            std::borrow::Cow::Owned(n) => Name::Owned(n.into_boxed_str()),
        };
        Event {
            received: Received::new(text, &data.args, attachments),
            name,
            ack,
        }
    }

    #[doc(hidden)]
    pub fn from_text(
        text: &str,
        attachments: Vec<Bytes>,
    ) -> Result<Event, crate::codec::socketio::packet::DecodeError> {
        use crate::codec::socketio::packet::{self, DecodeError, PacketType};
        let text = Utf8Bytes::from(text);
        let p = packet::decode(text.as_str(), usize::MAX)?;
        if !matches!(p.kind, PacketType::Event | PacketType::BinaryEvent) {
            return Err(DecodeError::InvalidData);
        }
        if p.attachments != attachments.len() {
            return Err(DecodeError::InvalidAttachment);
        }
        let data = packet::parse_event(p.data.unwrap_or(""))?;
        Ok(Event::new(&text, data, attachments, p.id))
    }

    /// The event name.
    pub fn name(&self) -> &str {
        match &self.name {
            Name::Span(a, b) => self
                .received
                .text
                .as_str()
                .get(*a as usize..*b as usize)
                .unwrap_or(""),
            Name::Owned(n) => n,
        }
    }

    /// The ack id, when the client asked for an ack.
    pub fn ack_id(&self) -> Option<u64> {
        self.ack
    }

    /// The number of arguments.
    pub fn len(&self) -> usize {
        self.received.len()
    }

    /// Whether the event has no arguments.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw JSON of argument `i`.
    pub fn raw_arg(&self, i: usize) -> Option<&str> {
        self.received.raw_arg(i)
    }

    /// Argument `i` decoded into `T`; a missing argument decodes as JSON `null` (so `Option`
    /// parameters may be left out). Binary placeholders are resolved where `T` asks for bytes.
    pub fn arg<T: DeserializeOwned>(&self, i: usize) -> Result<T, serde_json::Error> {
        self.received.arg(i)
    }

    /// Argument `i` as binary: the attachment its placeholder names.
    pub fn bytes(&self, i: usize) -> Option<Bytes> {
        self.received.bytes(i)
    }

    /// Whether argument `i` is a JSON string.
    pub fn arg_is_string(&self, i: usize) -> bool {
        self.raw_arg(i).is_some_and(|r| r.starts_with('"'))
    }

    /// The binary attachments, in placeholder order.
    pub fn attachments(&self) -> &[Bytes] {
        self.received.attachments()
    }

    /// The arguments from position `i` on, as they came (binary included).
    pub fn args_from(&self, i: usize) -> RawArgs {
        self.received.args_from(i)
    }

    /// The arguments as they came, to send on unchanged (binary included).
    pub fn into_args(self) -> RawArgs {
        self.received.args_from(0)
    }
}

/// Arguments kept as raw JSON with their attachments, to be sent again unchanged
/// (see [`Event::into_args`]). Emitting them writes the JSON as it came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawArgs {
    pub(crate) json: String,
    pub(crate) count: usize,
    pub(crate) attachments: Vec<Bytes>,
}

impl RawArgs {
    /// The number of arguments.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}
