//! Binary attachments: serde adapters that move bytes out of (and back into) the JSON of a
//! Socket.IO packet.
//!
//! Outgoing, [`write_args`] serializes a handler's arguments as compact JSON and replaces every
//! byte buffer (anything serialized with `serialize_bytes`, such as [`bytes::Bytes`] or
//! `serde_bytes::ByteBuf`) with the placeholder `{"_placeholder":true,"num":N}`, collecting the
//! bytes as attachments. Incoming, [`from_arg`] deserializes one argument, giving attachment
//! `N` to whatever asks for bytes where the JSON holds placeholder `N`.
//!
//! Both wrap serde_json's own serializer and deserializer, so the JSON written and accepted is
//! exactly serde_json's for everything else.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;

use bytes::Bytes;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, MapAccess,
    SeqAccess, Unexpected, VariantAccess, Visitor,
};
use serde::ser::{self, Serialize, Serializer};
use serde_json::value::RawValue;

use super::packet::DecodeError;

// ---------------------------------------------------------------------------------------------
// Outgoing
// ---------------------------------------------------------------------------------------------

/// Writes the arguments of an event or ack to `out` as compact JSON, separated by commas, and
/// returns how many it wrote.
///
/// A value that serializes as a tuple (`(a, b)`, `[T; N]`) spreads into one argument per
/// element, unit `()` into none, and anything else (a struct, a `Vec`, a string, a unit struct,
/// a newtype, `serde_json::Value::Null`, ...) is one argument. (`()` is told apart from other
/// values that serialize as a unit, such as `Value::Null`, by being zero-sized.) With `leading_comma`, every argument is preceded by a comma
/// (to follow the event name); otherwise the first is not.
///
/// Every byte buffer at any depth is pushed to `attachments` and written as
/// `{"_placeholder":true,"num":N}`, `N` being its index in `attachments`. Everything else is
/// written exactly as `serde_json` writes it.
///
/// # Errors
///
/// Those of `serde_json` (for example a map with non-string keys, or a failing `Serialize`
/// impl). On error, `out` and `attachments` are left as they were.
pub fn write_args<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    attachments: &mut Vec<Bytes>,
    leading_comma: bool,
) -> Result<usize, serde_json::Error> {
    let start = out.len();
    let first_attachment = attachments.len();
    let ctx = Ctx {
        attachments: RefCell::new(std::mem::take(attachments)),
        shape: Cell::new(Shape::One),
        spread: Cell::new(false),
        count: Cell::new(0),
    };
    // Written up front; taken back below if there turns out to be no argument.
    if leading_comma {
        out.push(b',');
    }
    let result = {
        let formatter = ArgsFormatter {
            ctx: &ctx,
            depth: 0,
            spreading: false,
        };
        let mut json = serde_json::Serializer::with_formatter(&mut *out, formatter);
        value.serialize(BinSer {
            inner: &mut json,
            ctx: &ctx,
            top: true,
        })
    };
    let shape = ctx.shape.get();
    let count = ctx.count.get();
    *attachments = ctx.attachments.into_inner();
    if let Err(err) = result {
        out.truncate(start);
        attachments.truncate(first_attachment);
        return Err(err);
    }
    let count = match shape {
        Shape::One => 1,
        Shape::Unit if std::mem::size_of_val(value) == 0 => 0,
        Shape::Unit => 1,
        Shape::Tuple => count,
    };
    if count == 0 {
        out.truncate(start);
    }
    Ok(count)
}

/// State shared by the serializer wrappers and the formatter of one [`write_args`] call.
struct Ctx {
    /// The attachments collected so far (the caller's vector, moved in and back out).
    attachments: RefCell<Vec<Bytes>>,
    /// What the top-level value turned out to be.
    shape: Cell<Shape>,
    /// Set by a top-level tuple just before serde_json opens its array: the formatter then
    /// leaves out the brackets.
    spread: Cell<bool>,
    /// The number of elements of a spread tuple (counted by the formatter).
    count: Cell<usize>,
}

impl Ctx {
    /// Stores an attachment and returns its index.
    fn push(&self, bytes: &[u8]) -> usize {
        let mut attachments = self.attachments.borrow_mut();
        attachments.push(Bytes::copy_from_slice(bytes));
        attachments.len() - 1
    }
}

/// The shape of the top-level value given to [`write_args`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One argument.
    One,
    /// A unit: no argument if the value is `()` (zero-sized), else one `null`.
    Unit,
    /// A tuple: one argument per element.
    Tuple,
}

/// serde_json's compact formatter, except that the array of a top-level tuple is written
/// without its brackets: its elements become comma-separated arguments.
struct ArgsFormatter<'c> {
    ctx: &'c Ctx,
    /// Nesting of arrays and objects.
    depth: usize,
    /// Whether the outermost array is being spread.
    spreading: bool,
}

impl serde_json::ser::Formatter for ArgsFormatter<'_> {
    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth += 1;
        if self.depth == 1 && self.ctx.spread.replace(false) {
            self.spreading = true;
            return Ok(());
        }
        writer.write_all(b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 && self.spreading {
            self.spreading = false;
            return Ok(());
        }
        writer.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if self.depth == 1 && self.spreading {
            self.ctx.count.set(self.ctx.count.get() + 1);
        }
        if first {
            Ok(())
        } else {
            writer.write_all(b",")
        }
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth += 1;
        writer.write_all(b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        writer.write_all(b"}")
    }
}

/// Writes the placeholder of attachment `num`.
fn serialize_placeholder<S: Serializer>(serializer: S, num: usize) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct as _;
    let mut s = serializer.serialize_struct("Placeholder", 2)?;
    s.serialize_field("_placeholder", &true)?;
    s.serialize_field("num", &num)?;
    s.end()
}

/// A serializer that forwards everything to `inner`, except byte buffers, which become
/// placeholders; nested values are wrapped again (see [`Wrap`]).
struct BinSer<'c, S> {
    inner: S,
    ctx: &'c Ctx,
    /// Whether this serializes the top-level value of [`write_args`].
    top: bool,
}

/// A nested value, serialized through [`BinSer`].
struct Wrap<'a, T: ?Sized> {
    value: &'a T,
    ctx: &'a Ctx,
}

impl<T: Serialize + ?Sized> Serialize for Wrap<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(BinSer {
            inner: serializer,
            ctx: self.ctx,
            top: false,
        })
    }
}

/// A compound serializer of the wrapped serializer, wrapping its elements.
struct Compound<'c, C> {
    inner: C,
    ctx: &'c Ctx,
}

/// Forwards a primitive `serialize_*` method.
macro_rules! forward_ser {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method(self, v: $ty) -> Result<S::Ok, S::Error> {
                self.inner.$method(v)
            }
        )*
    };
}

impl<'c, S: Serializer> Serializer for BinSer<'c, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Compound<'c, S::SerializeSeq>;
    type SerializeTuple = Compound<'c, S::SerializeTuple>;
    type SerializeTupleStruct = Compound<'c, S::SerializeTupleStruct>;
    type SerializeTupleVariant = Compound<'c, S::SerializeTupleVariant>;
    type SerializeMap = Compound<'c, S::SerializeMap>;
    type SerializeStruct = Compound<'c, S::SerializeStruct>;
    type SerializeStructVariant = Compound<'c, S::SerializeStructVariant>;

    forward_ser! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<S::Ok, S::Error> {
        let num = self.ctx.push(v);
        serialize_placeholder(self.inner, num)
    }

    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        let wrapped = Wrap {
            value,
            ctx: self.ctx,
        };
        self.inner.serialize_some(&wrapped)
    }

    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        if self.top {
            self.ctx.shape.set(Shape::Unit);
        }
        self.inner.serialize_unit()
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit_struct(name)
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        variant_index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.inner
            .serialize_unit_variant(name, variant_index, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let wrapped = Wrap {
            value,
            ctx: self.ctx,
        };
        self.inner.serialize_newtype_struct(name, &wrapped)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        variant_index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        let wrapped = Wrap {
            value,
            ctx: self.ctx,
        };
        self.inner
            .serialize_newtype_variant(name, variant_index, variant, &wrapped)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        let ctx = self.ctx;
        Ok(Compound {
            inner: self.inner.serialize_seq(len)?,
            ctx,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        if self.top {
            self.ctx.shape.set(Shape::Tuple);
            self.ctx.spread.set(true);
        }
        let ctx = self.ctx;
        Ok(Compound {
            inner: self.inner.serialize_tuple(len)?,
            ctx,
        })
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        let ctx = self.ctx;
        Ok(Compound {
            inner: self.inner.serialize_tuple_struct(name, len)?,
            ctx,
        })
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        variant_index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        let ctx = self.ctx;
        Ok(Compound {
            inner: self
                .inner
                .serialize_tuple_variant(name, variant_index, variant, len)?,
            ctx,
        })
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        let ctx = self.ctx;
        Ok(Compound {
            inner: self.inner.serialize_map(len)?,
            ctx,
        })
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        let ctx = self.ctx;
        Ok(Compound {
            inner: self.inner.serialize_struct(name, len)?,
            ctx,
        })
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        variant_index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        let ctx = self.ctx;
        Ok(Compound {
            inner: self
                .inner
                .serialize_struct_variant(name, variant_index, variant, len)?,
            ctx,
        })
    }

    fn collect_str<T: fmt::Display + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.inner.collect_str(value)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

impl<C: ser::SerializeSeq> ser::SerializeSeq for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        let wrapped = Wrap {
            value,
            ctx: self.ctx,
        };
        self.inner.serialize_element(&wrapped)
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeTuple> ser::SerializeTuple for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        let wrapped = Wrap {
            value,
            ctx: self.ctx,
        };
        self.inner.serialize_element(&wrapped)
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeTupleStruct> ser::SerializeTupleStruct for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        let wrapped = Wrap {
            value,
            ctx: self.ctx,
        };
        self.inner.serialize_field(&wrapped)
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeTupleVariant> ser::SerializeTupleVariant for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        let wrapped = Wrap {
            value,
            ctx: self.ctx,
        };
        self.inner.serialize_field(&wrapped)
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeMap> ser::SerializeMap for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    // Keys are not wrapped: JSON keys are strings, and serde_json rejects bytes there.
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        self.inner.serialize_key(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        let wrapped = Wrap {
            value,
            ctx: self.ctx,
        };
        self.inner.serialize_value(&wrapped)
    }

    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), C::Error> {
        let wrapped = Wrap {
            value,
            ctx: self.ctx,
        };
        self.inner.serialize_entry(key, &wrapped)
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeStruct> ser::SerializeStruct for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        let wrapped = Wrap {
            value,
            ctx: self.ctx,
        };
        self.inner.serialize_field(key, &wrapped)
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
        self.inner.skip_field(key)
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

impl<C: ser::SerializeStructVariant> ser::SerializeStructVariant for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = C::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), C::Error> {
        let wrapped = Wrap {
            value,
            ctx: self.ctx,
        };
        self.inner.serialize_field(key, &wrapped)
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
        self.inner.skip_field(key)
    }

    fn end(self) -> Result<C::Ok, C::Error> {
        self.inner.end()
    }
}

// ---------------------------------------------------------------------------------------------
// Incoming
// ---------------------------------------------------------------------------------------------

/// If `raw` is exactly a placeholder object, `{"_placeholder":true,"num":N}` (in any key order,
/// with any whitespace, no other key), returns `N`. Does not allocate.
pub fn placeholder_num(raw: &RawValue) -> Option<usize> {
    let text = raw.get();
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let num = de.deserialize_map(PlaceholderVisitor).ok().flatten()?;
    de.end().ok()?;
    usize::try_from(num).ok()
}

/// Checks the placeholders in the arguments of a binary packet (BINARY_EVENT or BINARY_ACK)
/// that arrived with `attachments` attachments, as the reference parser does when it puts the
/// attachments back (`_reconstructPacket` in socket.io-parser, which throws "illegal
/// attachments").
///
/// An object, at any depth, whose `_placeholder` member is `true` is a placeholder: its `num`
/// must be a JSON integer from 0 to `attachments - 1`; its other members are not looked at (the
/// reference parser replaces the whole object). Every other object and array is searched. When
/// a key occurs twice, its last value counts, as in `JSON.parse` (an earlier value is searched
/// too). Placeholders with other keys than `_placeholder` and `num` are checked too, though
/// [`from_arg`] only fills exact ones.
///
/// The text is scanned once, without building values: numbers of any size are fine here (as
/// for `JSON.parse`; serde_json refuses a value beyond `f64`, so a handler that asks for one
/// gets an error then).
///
/// # Errors
///
/// [`DecodeError::InvalidAttachment`] for a placeholder whose `num` is missing, not an integer
/// (`-1`, `1.5`, `1.0`, `"0"`, `null`, ...) or not the index of an attachment. Never panics.
pub fn check_placeholders(args: &[&RawValue], attachments: usize) -> Result<(), DecodeError> {
    let mut stack = Vec::new();
    for arg in args {
        if scan_placeholders(arg.get().as_bytes(), attachments, &mut stack) {
            return Err(DecodeError::InvalidAttachment);
        }
    }
    Ok(())
}

/// What a placeholder's members need to know of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    /// `true`.
    True,
    /// A JSON integer from 0 to `u64::MAX`.
    Index(u64),
    /// Anything else.
    Other,
}

/// The keys of a placeholder, and the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Placeholder,
    Num,
    Other,
}

/// An array or object being scanned by [`scan_placeholders`].
#[derive(Debug)]
struct Open {
    /// An object (else an array).
    object: bool,
    /// In an object, whether the next string is a key.
    expect_key: bool,
    /// In an object, the key of the member being read.
    key: Key,
    /// The last `_placeholder` member is `true`.
    placeholder: bool,
    /// The last `num` member.
    num: Option<Member>,
    /// A value inside holds an invalid placeholder.
    nested_invalid: bool,
}

impl Open {
    /// Takes the value of the current member or element.
    fn take(&mut self, value: Member, invalid: bool) {
        self.nested_invalid |= invalid;
        match self.key {
            Key::Placeholder => self.placeholder = value == Member::True,
            Key::Num => self.num = Some(value),
            Key::Other => {}
        }
        self.key = Key::Other;
    }

    /// Whether this array or object, now closed, is or holds an invalid placeholder.
    fn invalid(&self, attachments: usize) -> bool {
        if self.object && self.placeholder {
            !matches!(
                self.num,
                Some(Member::Index(n)) if usize::try_from(n).is_ok_and(|n| n < attachments)
            )
        } else {
            self.nested_invalid
        }
    }
}

/// Scans one JSON value (valid JSON: it comes from a [`RawValue`]); returns whether it is or
/// holds an invalid placeholder. `stack` is scratch space. Indexing is checked throughout, so
/// even text that is not JSON cannot make it panic.
fn scan_placeholders(text: &[u8], attachments: usize, stack: &mut Vec<Open>) -> bool {
    stack.clear();
    let mut pos = 0;
    while let Some(&b) = text.get(pos) {
        // The value read at `pos`, if any: what it is to its parent, and whether it is invalid.
        let value = match b {
            b'{' | b'[' => {
                stack.push(Open {
                    object: b == b'{',
                    expect_key: b == b'{',
                    key: Key::Other,
                    placeholder: false,
                    num: None,
                    nested_invalid: false,
                });
                pos += 1;
                None
            }
            b'}' | b']' => {
                pos += 1;
                let Some(closed) = stack.pop() else {
                    return false;
                };
                Some((Member::Other, closed.invalid(attachments)))
            }
            b',' => {
                if let Some(open) = stack.last_mut() {
                    open.expect_key = open.object;
                }
                pos += 1;
                None
            }
            b'"' => {
                let end = string_end(text, pos);
                let is_key = stack.last().is_some_and(|open| open.expect_key);
                if let Some(open) = stack.last_mut().filter(|_| is_key) {
                    open.key = key_of(text.get(pos..end).unwrap_or_default());
                    open.expect_key = false;
                    pos = end;
                    None
                } else {
                    pos = end;
                    Some((Member::Other, false))
                }
            }
            b'-' | b'0'..=b'9' => {
                let len = text
                    .get(pos..)
                    .unwrap_or_default()
                    .iter()
                    .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .unwrap_or(text.len() - pos);
                let number = text.get(pos..pos + len).unwrap_or_default();
                pos += len;
                let index = std::str::from_utf8(number)
                    .ok()
                    .filter(|n| n.bytes().all(|c| c.is_ascii_digit()))
                    .and_then(|n| n.parse().ok());
                Some((index.map_or(Member::Other, Member::Index), false))
            }
            b't' => {
                pos += 4;
                Some((Member::True, false))
            }
            b'f' => {
                pos += 5;
                Some((Member::Other, false))
            }
            b'n' => {
                pos += 4;
                Some((Member::Other, false))
            }
            // Whitespace and `:`.
            _ => {
                pos += 1;
                None
            }
        };
        if let Some((member, invalid)) = value {
            match stack.last_mut() {
                Some(open) => open.take(member, invalid),
                None => return invalid,
            }
        }
    }
    false
}

/// The position just after the string that starts with the `"` at `start`.
fn string_end(text: &[u8], start: usize) -> usize {
    let mut pos = start + 1;
    while let Some(&b) = text.get(pos) {
        pos += match b {
            b'"' => return pos + 1,
            b'\\' => 2,
            _ => 1,
        };
    }
    text.len()
}

/// Which key a JSON string (quotes included) is, escapes decoded.
fn key_of(quoted: &[u8]) -> Key {
    let name = |bytes: &[u8]| match bytes {
        b"_placeholder" => Key::Placeholder,
        b"num" => Key::Num,
        _ => Key::Other,
    };
    let inner = quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or_default();
    if !inner.contains(&b'\\') {
        return name(inner);
    }
    // Escaped: at most six bytes per character of "_placeholder".
    if quoted.len() > 2 + 6 * "_placeholder".len() {
        return Key::Other;
    }
    match serde_json::from_slice::<String>(quoted) {
        Ok(key) => name(key.as_bytes()),
        Err(_) => Key::Other,
    }
}

/// Deserializes one argument of an event or ack, filling byte buffers from `attachments`.
///
/// Without attachments this is `serde_json::from_str(raw.get())`. With attachments, wherever
/// the target type asks for bytes (`deserialize_bytes` or `deserialize_byte_buf`, as
/// [`bytes::Bytes`] and `serde_bytes::ByteBuf` do), at any depth, and the JSON there is a
/// placeholder `{"_placeholder":true,"num":N}`, it gets attachment `N`. Other targets (for
/// example `serde_json::Value`) see the placeholder object as it is.
///
/// # Errors
///
/// Those of `serde_json`, and a placeholder whose `N` is not the index of an attachment.
pub fn from_arg<T: DeserializeOwned>(
    raw: &RawValue,
    attachments: &[Bytes],
) -> Result<T, serde_json::Error> {
    if attachments.is_empty() {
        return serde_json::from_str(raw.get());
    }
    let mut de = serde_json::Deserializer::from_str(raw.get());
    let value = T::deserialize(BinDe {
        inner: &mut de,
        attachments,
    })?;
    de.end()?;
    Ok(value)
}

/// Reads the entries of a map; returns `N` if it is exactly a placeholder. Consumes the whole
/// map either way.
fn read_placeholder<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<u64>, A::Error> {
    let mut flag = None;
    let mut num = None;
    let mut other = false;
    while let Some(key) = map.next_key::<PlaceholderKey>()? {
        match key {
            PlaceholderKey::Placeholder if flag.is_none() => flag = Some(map.next_value()?),
            PlaceholderKey::Num if num.is_none() => num = Some(map.next_value()?),
            _ => {
                map.next_value::<IgnoredAny>()?;
                other = true;
            }
        }
    }
    Ok(match (other, flag, num) {
        (false, Some(Scalar::Bool(true)), Some(Scalar::U64(n))) => Some(n),
        _ => None,
    })
}

/// Reads a map as a placeholder, for [`placeholder_num`].
struct PlaceholderVisitor;

impl<'de> Visitor<'de> for PlaceholderVisitor {
    type Value = Option<u64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a placeholder object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        read_placeholder(map)
    }
}

/// A key of a placeholder object.
enum PlaceholderKey {
    Placeholder,
    Num,
    Other,
}

impl<'de> de::Deserialize<'de> for PlaceholderKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(PlaceholderKeyVisitor)
    }
}

/// Visitor of [`PlaceholderKey`].
struct PlaceholderKeyVisitor;

impl Visitor<'_> for PlaceholderKeyVisitor {
    type Value = PlaceholderKey;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(match v {
            "_placeholder" => PlaceholderKey::Placeholder,
            "num" => PlaceholderKey::Num,
            _ => PlaceholderKey::Other,
        })
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
        Ok(PlaceholderKey::Other)
    }
}

/// A JSON value reduced to what a placeholder needs (any value is accepted and skipped).
enum Scalar {
    Bool(bool),
    U64(u64),
    Other,
}

impl<'de> de::Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

/// Visitor of [`Scalar`].
struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::U64(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(u64::try_from(v).map_or(Scalar::Other, Scalar::U64))
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_ignored_any(IgnoredAny).map(|_| Scalar::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

/// A deserializer that forwards everything to `inner`, except requests for bytes, which a
/// placeholder answers with its attachment; nested values are wrapped again.
struct BinDe<'a, D> {
    inner: D,
    attachments: &'a [Bytes],
}

/// Forwards `deserialize_*` methods, wrapping the visitor.
macro_rules! forward_de {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                self.inner.$method($($arg,)* WrapVisitor { visitor, attachments: self.attachments })
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for BinDe<'_, D> {
    type Error = D::Error;

    forward_de! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_any(BytesVisitor {
            visitor,
            attachments: self.attachments,
        })
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_any(BytesVisitor {
            visitor,
            attachments: self.attachments,
        })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.inner.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Answers a request for bytes: a placeholder gives its attachment, a string its UTF-8 bytes
/// (as serde_json's `deserialize_bytes` does), anything else goes to the target's visitor.
struct BytesVisitor<'a, V> {
    visitor: V,
    attachments: &'a [Bytes],
}

/// Forwards `visit_*` methods of values without nested content.
macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.visitor.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for BytesVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i64(i64);
        visit_i128(i128);
        visit_u64(u64);
        visit_u128(u128);
        visit_f64(f64);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.visitor.visit_bytes(v.as_bytes())
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.visitor.visit_borrowed_bytes(v.as_bytes())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        self.visitor.visit_byte_buf(v.into_bytes())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_seq(WrapSeq {
            inner: seq,
            attachments: self.attachments,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let Some(num) = read_placeholder(map)? else {
            return Err(de::Error::invalid_type(Unexpected::Map, &self));
        };
        match usize::try_from(num)
            .ok()
            .and_then(|n| self.attachments.get(n))
        {
            Some(bytes) => self.visitor.visit_bytes(bytes),
            None => Err(de::Error::custom(format_args!(
                "placeholder refers to attachment {num}, but the packet has {}",
                self.attachments.len()
            ))),
        }
    }
}

/// Wraps the target's visitor so that the nested values it reads are wrapped too.
struct WrapVisitor<'a, V> {
    visitor: V,
    attachments: &'a [Bytes],
}

impl<'de, V: Visitor<'de>> Visitor<'de> for WrapVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.visitor.visit_some(BinDe {
            inner: d,
            attachments: self.attachments,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.visitor.visit_newtype_struct(BinDe {
            inner: d,
            attachments: self.attachments,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_seq(WrapSeq {
            inner: seq,
            attachments: self.attachments,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_map(WrapMap {
            inner: map,
            attachments: self.attachments,
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_enum(WrapEnum {
            inner: data,
            attachments: self.attachments,
        })
    }
}

/// A seed whose deserializer is wrapped in [`BinDe`].
struct WrapSeed<'a, S> {
    seed: S,
    attachments: &'a [Bytes],
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for WrapSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(BinDe {
            inner: d,
            attachments: self.attachments,
        })
    }
}

/// A sequence whose elements are wrapped.
struct WrapSeq<'a, A> {
    inner: A,
    attachments: &'a [Bytes],
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for WrapSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.inner.next_element_seed(WrapSeed {
            seed,
            attachments: self.attachments,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// A map whose values are wrapped (keys are strings in JSON, so they are not).
struct WrapMap<'a, A> {
    inner: A,
    attachments: &'a [Bytes],
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WrapMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.next_value_seed(WrapSeed {
            seed,
            attachments: self.attachments,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// An enum whose content is wrapped.
struct WrapEnum<'a, A> {
    inner: A,
    attachments: &'a [Bytes],
}

impl<'a, 'de, A: EnumAccess<'de>> EnumAccess<'de> for WrapEnum<'a, A> {
    type Error = A::Error;
    type Variant = WrapEnum<'a, A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let (tag, variant) = self.inner.variant_seed(seed)?;
        Ok((
            tag,
            WrapEnum {
                inner: variant,
                attachments: self.attachments,
            },
        ))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for WrapEnum<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.newtype_variant_seed(WrapSeed {
            seed,
            attachments: self.attachments,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.inner.tuple_variant(
            len,
            WrapVisitor {
                visitor,
                attachments: self.attachments,
            },
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.inner.struct_variant(
            fields,
            WrapVisitor {
                visitor,
                attachments: self.attachments,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::*;

    /// Runs `write_args`, returning the text written, the count and the attachments.
    fn args<T: Serialize + ?Sized>(value: &T, leading_comma: bool) -> (String, usize, Vec<Bytes>) {
        let mut out = Vec::new();
        let mut attachments = Vec::new();
        let n = write_args(value, &mut out, &mut attachments, leading_comma).unwrap();
        (String::from_utf8(out).unwrap(), n, attachments)
    }

    fn text<T: Serialize + ?Sized>(value: &T) -> (String, usize) {
        let (text, n, attachments) = args(value, false);
        assert!(attachments.is_empty());
        (text, n)
    }

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    fn b(data: &'static [u8]) -> Bytes {
        Bytes::from_static(data)
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Unit;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Pair(i32, i32);

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Wrapper((i32, i32));

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct File {
        name: String,
        data: Bytes,
        thumb: Option<Bytes>,
        parts: Vec<Bytes>,
        meta: BTreeMap<String, Bytes>,
        kind: Kind,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Kind {
        Empty,
        Raw(Bytes),
        Pair(Bytes, u8),
        Named { blob: Bytes },
    }

    #[test]
    fn args_shapes() {
        assert_eq!(text(&()), (String::new(), 0));
        assert_eq!(text(&("a", 1)), (r#""a",1"#.into(), 2));
        assert_eq!(text(&("a",)), (r#""a""#.into(), 1));
        assert_eq!(text(&"a"), (r#""a""#.into(), 1));
        assert_eq!(text(&1.5), ("1.5".into(), 1));
        assert_eq!(text(&vec![1, 2]), ("[1,2]".into(), 1));
        assert_eq!(text(&Vec::<i32>::new()), ("[]".into(), 1));
        assert_eq!(text(&json!({"a": 1})), (r#"{"a":1}"#.into(), 1));
        assert_eq!(text(&Unit), ("null".into(), 1));
        assert_eq!(text(&None::<i32>), ("null".into(), 1));
        assert_eq!(text(&serde_json::Value::Null), ("null".into(), 1));
        assert_eq!(args(&serde_json::Value::Null, true).0, ",null");
        assert_eq!(text(&(serde_json::Value::Null,)), ("null".into(), 1));
        assert_eq!(text(&Some((1, 2))), ("[1,2]".into(), 1));
        assert_eq!(text(&Pair(1, 2)), ("[1,2]".into(), 1));
        assert_eq!(text(&Wrapper((1, 2))), ("[1,2]".into(), 1));
        assert_eq!(text(&((1, 2), 3)), ("[1,2],3".into(), 2));
        assert_eq!(text(&((), ())), ("null,null".into(), 2));
        assert_eq!(text(&[1, 2, 3]), ("1,2,3".into(), 3));
        assert_eq!(text(&[0u8; 0]), (String::new(), 0));
        assert_eq!(text(&Kind::Empty), (r#""Empty""#.into(), 1));
        assert_eq!(text(&&&("x", [1])), (r#""x",[1]"#.into(), 2));
        assert_eq!(text(&*raw(r#" {"x" : 1} "#)), (r#"{"x" : 1}"#.into(), 1));
    }

    #[test]
    fn args_leading_comma() {
        assert_eq!(args(&(), true).0, "");
        assert_eq!(args(&("a", 1), true).0, r#","a",1"#);
        assert_eq!(args(&"a", true).0, r#","a""#);
        assert_eq!(args(&vec![1], true).0, ",[1]");
        assert_eq!(args(&[0u8; 0], true).0, "");

        // Appends after what is there, like the event name.
        let mut out = br#"2["ev""#.to_vec();
        let mut attachments = Vec::new();
        let n = write_args(&(1, "b"), &mut out, &mut attachments, true).unwrap();
        out.push(b']');
        assert_eq!((out.as_slice(), n), (br#"2["ev",1,"b"]"#.as_slice(), 2));
    }

    #[test]
    fn args_match_serde_json() {
        let value = json!({
            "s": "quote \" backslash \\ newline \n tab \t unicode é ✓ \u{1}",
            "n": [0, -1, 1.25, 1e300, u64::MAX, i64::MIN],
            "b": [true, false, null],
            "o": {"nested": {"deep": []}},
        });
        assert_eq!(text(&value).0, serde_json::to_string(&value).unwrap());
        let tuple = (&value, "x", 3u128, 'c', -7i8);
        let expected = serde_json::to_string(&tuple).unwrap();
        assert_eq!(format!("[{}]", text(&tuple).0), expected);
    }

    #[test]
    fn placeholders_out() {
        let (text, n, attachments) = args(&("ev", b(b"\x01\x02")), false);
        assert_eq!(text, r#""ev",{"_placeholder":true,"num":0}"#);
        assert_eq!(n, 2);
        assert_eq!(attachments, [b(b"\x01\x02")]);

        let (text, n, attachments) = args(&b(b"top"), true);
        assert_eq!(text, r#",{"_placeholder":true,"num":0}"#);
        assert_eq!((n, attachments), (1, vec![b(b"top")]));

        let file = File {
            name: "f".into(),
            data: b(b"data"),
            thumb: Some(b(b"thumb")),
            parts: vec![b(b"p0"), b(b"")],
            meta: BTreeMap::from([("k".into(), b(b"meta"))]),
            kind: Kind::Named { blob: b(b"blob") },
        };
        let (text, n, attachments) = args(&(1, &file, Kind::Raw(b(b"raw"))), false);
        assert_eq!(
            text,
            concat!(
                r#"1,{"name":"f","data":{"_placeholder":true,"num":0},"#,
                r#""thumb":{"_placeholder":true,"num":1},"#,
                r#""parts":[{"_placeholder":true,"num":2},{"_placeholder":true,"num":3}],"#,
                r#""meta":{"k":{"_placeholder":true,"num":4}},"#,
                r#""kind":{"Named":{"blob":{"_placeholder":true,"num":5}}}},"#,
                r#"{"Raw":{"_placeholder":true,"num":6}}"#,
            )
        );
        assert_eq!(n, 3);
        let expected: Vec<Bytes> = ["data", "thumb", "p0", "", "meta", "blob", "raw"]
            .iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect();
        assert_eq!(attachments, expected);

        let (text, _, attachments) = args(&Kind::Pair(b(b"x"), 9), false);
        assert_eq!(text, r#"{"Pair":[{"_placeholder":true,"num":0},9]}"#);
        assert_eq!(attachments, [b(b"x")]);
    }

    #[test]
    fn placeholders_continue_numbering() {
        let mut out = Vec::new();
        let mut attachments = vec![b(b"earlier")];
        write_args(&b(b"later"), &mut out, &mut attachments, false).unwrap();
        assert_eq!(out, br#"{"_placeholder":true,"num":1}"#);
        assert_eq!(attachments, [b(b"earlier"), b(b"later")]);
    }

    #[test]
    fn args_error_leaves_buffers_unchanged() {
        let bad_key: BTreeMap<(i32, i32), i32> = BTreeMap::from([((1, 2), 3)]);
        let mut out = b"keep".to_vec();
        let mut attachments = vec![b(b"old")];
        let result = write_args(&(b(b"new"), bad_key), &mut out, &mut attachments, true);
        assert!(result.is_err());
        assert_eq!(out, b"keep");
        assert_eq!(attachments, [b(b"old")]);
    }

    #[test]
    fn placeholder_detection() {
        let yes = [
            (r#"{"_placeholder":true,"num":0}"#, 0),
            (r#"{"num":3,"_placeholder":true}"#, 3),
            ("{ \"_placeholder\" : true ,\n \"num\" : 12 }", 12),
            (r#"{"\u005fplaceholder":true,"num":1}"#, 1),
        ];
        for (input, num) in yes {
            assert_eq!(placeholder_num(&raw(input)), Some(num), "{input}");
        }
        let no = [
            r#"{"_placeholder":false,"num":0}"#,
            r#"{"_placeholder":"true","num":0}"#,
            r#"{"_placeholder":true}"#,
            r#"{"num":0}"#,
            r#"{"_placeholder":true,"num":0,"x":1}"#,
            r#"{"_placeholder":true,"num":0,"x":{"a":[1,{}]}}"#,
            r#"{"_placeholder":true,"num":-1}"#,
            r#"{"_placeholder":true,"num":1.5}"#,
            r#"{"_placeholder":true,"num":"0"}"#,
            r#"{"_placeholder":true,"num":[0]}"#,
            r#"{"_placeholder":true,"num":null}"#,
            r#"{"_placeholder":true,"num":0,"num":0}"#,
            r#"{"_placeholder":true,"_placeholder":true,"num":0}"#,
            r#"{"_placeholder":true,"num":100000000000000000000}"#,
            r#"{}"#,
            r#"[{"_placeholder":true,"num":0}]"#,
            r#""_placeholder""#,
            "0",
            "null",
        ];
        for input in no {
            assert_eq!(placeholder_num(&raw(input)), None, "{input}");
        }
    }

    /// `check_placeholders` on one argument.
    fn check(arg: &str, attachments: usize) -> Result<(), DecodeError> {
        check_placeholders(&[&*raw(arg)], attachments)
    }

    #[test]
    fn placeholder_check_accepts() {
        let valid = [
            (r#"{"_placeholder":true,"num":0}"#, 1),
            (r#"{"num":1,"_placeholder":true}"#, 2),
            (r#"[1,{"a":[{"_placeholder":true,"num":2}]}]"#, 3),
            (r#"{"\u005fplaceholder":true,"num":0}"#, 1),
            // Other keys: still a placeholder (the reference parser replaces it), in range.
            (
                r#"{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":9}}"#,
                1,
            ),
            // Not placeholders: `_placeholder` is not `true`.
            (r#"{"_placeholder":false,"num":7}"#, 0),
            (r#"{"_placeholder":"true","num":7}"#, 0),
            (r#"{"_placeholder":1,"num":7}"#, 0),
            (r#"{"num":7}"#, 0),
            // The last of duplicate keys counts, as in JSON.parse.
            (r#"{"_placeholder":true,"_placeholder":false,"num":7}"#, 0),
            (r#"{"_placeholder":true,"num":7,"num":0}"#, 1),
            (r#""_placeholder""#, 0),
            // Strings that look like placeholders, escaped quotes and brackets included.
            (r#"{"a":"{\"_placeholder\":true,\"num\":9}]}"}"#, 0),
            (r#"{"_placeholder\"":true,"num":9}"#, 0),
            (r#"["\\",{"x\\":"\\\""},"]"]"#, 0),
            // Numbers beyond f64 (JSON.parse reads them as Infinity).
            (r#"[1e999,{"_placeholder":true,"num":0},-1e999]"#, 1),
            ("null", 0),
            ("[]", 0),
            ("{}", 0),
        ];
        for (input, attachments) in valid {
            assert_eq!(check(input, attachments), Ok(()), "{input}");
        }
        assert_eq!(check_placeholders(&[], 0), Ok(()));
    }

    #[test]
    fn placeholder_check_refuses() {
        let invalid = [
            (r#"{"_placeholder":true,"num":7}"#, 1),
            (r#"{"_placeholder":true,"num":1}"#, 1),
            (r#"{"_placeholder":true,"num":0}"#, 0),
            (r#"{"_placeholder":true}"#, 1),
            (r#"{"_placeholder":true,"num":-1}"#, 1),
            (r#"{"_placeholder":true,"num":0.5}"#, 1),
            (r#"{"_placeholder":true,"num":0.0}"#, 1),
            (r#"{"_placeholder":true,"num":1e0}"#, 2),
            (r#"{"_placeholder":true,"num":"0"}"#, 1),
            (r#"{"_placeholder":true,"num":null}"#, 1),
            (r#"{"_placeholder":true,"num":[0]}"#, 1),
            (r#"{"_placeholder":true,"num":18446744073709551615}"#, 1),
            (r#"{"_placeholder":true,"num":100000000000000000000}"#, 1),
            (r#"{"_placeholder":true,"num":0,"num":5}"#, 1),
            (r#"{"_placeholder":false,"_placeholder":true,"num":5}"#, 1),
            // At any depth, in arrays and in the members of other objects.
            (r#"[0,[1,[{"_placeholder":true,"num":3}]]]"#, 1),
            (r#"{"a":{"b":{"_placeholder":true,"num":3}}}"#, 1),
            (r#"{"_placeholder":{"_placeholder":true,"num":3}}"#, 1),
            ("{ \"_placeholder\" :\n true , \"num\" : 9 }", 1),
            (r#"[1e999,{"_placeholder":true,"num":3}]"#, 1),
            (r#"[{"a":"]}"},{"_placeholder":true,"num":3}]"#, 1),
            (r#"{"num":{"_placeholder":true,"num":3}}"#, 1),
        ];
        for (input, attachments) in invalid {
            assert_eq!(
                check(input, attachments),
                Err(DecodeError::InvalidAttachment),
                "{input}"
            );
        }
        // Any argument, not only the first.
        let args = [&*raw("1"), &*raw(r#"{"_placeholder":true,"num":7}"#)];
        assert_eq!(
            check_placeholders(&args, 1),
            Err(DecodeError::InvalidAttachment)
        );
    }

    #[test]
    fn placeholder_check_on_parsed_packets() {
        use super::super::packet::{decode, parse_ack, parse_event};
        // The case of the issue (`451-[...]` in an Engine.IO message): placeholder 7, one
        // attachment.
        let p = decode(r#"51-["x",{"_placeholder":true,"num":7}]"#, 10).unwrap();
        let event = parse_event(p.data.unwrap()).unwrap();
        assert_eq!(
            check_placeholders(&event.args, p.attachments),
            Err(DecodeError::InvalidAttachment)
        );
        let p = decode(r#"51-["x",{"_placeholder":true,"num":0}]"#, 10).unwrap();
        let event = parse_event(p.data.unwrap()).unwrap();
        assert_eq!(check_placeholders(&event.args, p.attachments), Ok(()));
        let p = decode(r#"62-/chat,5[{"_placeholder":true,"num":2}]"#, 10).unwrap();
        let args = parse_ack(p.data.unwrap()).unwrap();
        assert_eq!(
            check_placeholders(&args, p.attachments),
            Err(DecodeError::InvalidAttachment)
        );
    }

    #[test]
    fn placeholder_check_deep_nesting() {
        // As deep as serde_json parses (its recursion limit is 128).
        let inner = r#"{"_placeholder":true,"num":1}"#;
        let nested = format!("{}{inner}{}", "[".repeat(120), "]".repeat(120));
        assert_eq!(check(&nested, 2), Ok(()));
        assert_eq!(check(&nested, 1), Err(DecodeError::InvalidAttachment));
    }

    #[test]
    fn floats_read_back_exactly() {
        // What ryu writes (the shortest text that reads back exactly) must read back exactly,
        // as JSON.parse does: serde_json's default parser can be one bit off, its
        // `float_roundtrip` feature is correctly rounded.
        for x in [
            -7.42531518146221e-267_f64,
            2.2250738585072014e-308,
            0.1,
            1e300,
        ] {
            let (text, _, attachments) = args(&(x, b(b"z")), false);
            let event = format!("[{text}]");
            let got = super::super::packet::parse_ack(&event).unwrap();
            assert_eq!(from_arg::<f64>(got[0], &attachments).unwrap(), x, "{text}");
            assert_eq!(from_arg::<f64>(got[0], &[]).unwrap(), x, "{text}");
            let value: serde_json::Value = from_arg(got[0], &attachments).unwrap();
            assert_eq!(value.as_f64(), Some(x), "{text}");
        }
    }

    #[test]
    fn from_arg_without_attachments() {
        assert_eq!(from_arg::<String>(&raw(r#""a""#), &[]).unwrap(), "a");
        assert_eq!(
            from_arg::<Bytes>(&raw("[1,2]"), &[]).unwrap(),
            b(b"\x01\x02")
        );
        assert!(from_arg::<Bytes>(&raw(r#"{"_placeholder":true,"num":0}"#), &[]).is_err());
    }

    #[test]
    fn placeholders_in() {
        let attachments = [b(b"zero"), b(b"one")];
        let placeholder = |n: usize| format!(r#"{{"_placeholder":true,"num":{n}}}"#);

        let got: Bytes = from_arg(&raw(&placeholder(1)), &attachments).unwrap();
        assert_eq!(got, b(b"one"));

        let input = format!(r#"["name",{}]"#, placeholder(0));
        let got: (String, Bytes) = from_arg(&raw(&input), &attachments).unwrap();
        assert_eq!(got, ("name".into(), b(b"zero")));

        // Nested, in structs, options, vectors, maps and enums; key order is free.
        let input = format!(
            r#"{{"name":"f","data":{},"thumb":{},"parts":[{},{}],"meta":{{"k":{}}},"kind":{{"Named":{{"blob":{}}}}}}}"#,
            r#"{"num":1,"_placeholder":true}"#,
            placeholder(0),
            placeholder(1),
            placeholder(0),
            placeholder(1),
            placeholder(0),
        );
        let file: File = from_arg(&raw(&input), &attachments).unwrap();
        assert_eq!(
            file,
            File {
                name: "f".into(),
                data: b(b"one"),
                thumb: Some(b(b"zero")),
                parts: vec![b(b"one"), b(b"zero")],
                meta: BTreeMap::from([("k".into(), b(b"one"))]),
                kind: Kind::Named { blob: b(b"zero") },
            }
        );
        let kind: Kind = from_arg(
            &raw(&format!(r#"{{"Raw":{}}}"#, placeholder(1))),
            &attachments,
        )
        .unwrap();
        assert_eq!(kind, Kind::Raw(b(b"one")));
        let input = format!(r#"{{"Pair":[{},7]}}"#, placeholder(0));
        let kind: Kind = from_arg(&raw(&input), &attachments).unwrap();
        assert_eq!(kind, Kind::Pair(b(b"zero"), 7));
        let kind: Kind = from_arg(&raw(r#""Empty""#), &attachments).unwrap();
        assert_eq!(kind, Kind::Empty);

        // Bytes from JSON that is no placeholder, as serde_json gives them.
        let got: Bytes = from_arg(&raw("[104,105]"), &attachments).unwrap();
        assert_eq!(got, b(b"hi"));
        let got: Bytes = from_arg(&raw(r#""hi""#), &attachments).unwrap();
        assert_eq!(got, b(b"hi"));
        let got: Option<Bytes> = from_arg(&raw("null"), &attachments).unwrap();
        assert_eq!(got, None);

        // Other targets see the object as it is.
        let value: serde_json::Value = from_arg(&raw(&placeholder(1)), &attachments).unwrap();
        assert_eq!(value, json!({"_placeholder": true, "num": 1}));
        let value: Box<RawValue> = from_arg(&raw(&placeholder(1)), &attachments).unwrap();
        assert_eq!(value.get(), placeholder(1));
        let value: BTreeMap<String, serde_json::Value> =
            from_arg(&raw(r#"{"a":[1,{"b":null}]}"#), &attachments).unwrap();
        assert_eq!(value["a"], json!([1, {"b": null}]));
    }

    #[test]
    fn placeholders_in_malformed() {
        let attachments = [b(b"zero")];
        for input in [
            r#"{"_placeholder":true,"num":1}"#,
            r#"{"_placeholder":true,"num":18446744073709551615}"#,
            r#"{"_placeholder":false,"num":0}"#,
            r#"{"_placeholder":true,"num":0,"x":0}"#,
            "true",
            "1",
        ] {
            assert!(
                from_arg::<Bytes>(&raw(input), &attachments).is_err(),
                "{input}"
            );
        }
        let err =
            from_arg::<Bytes>(&raw(r#"{"_placeholder":true,"num":1}"#), &attachments).unwrap_err();
        assert!(err.to_string().contains("attachment 1"), "{err}");
    }

    #[test]
    fn round_trip() {
        let file = File {
            name: "photo".into(),
            data: b(b"\x00\xff"),
            thumb: None,
            parts: vec![b(b"a"), b(b"b")],
            meta: BTreeMap::new(),
            kind: Kind::Pair(b(b"c"), 1),
        };
        let mut out = br#"["upload""#.to_vec();
        let mut attachments = Vec::new();
        let n = write_args(&("x", &file), &mut out, &mut attachments, true).unwrap();
        out.push(b']');
        assert_eq!(n, 2);
        assert_eq!(attachments.len(), 4);

        let text = std::str::from_utf8(&out).unwrap();
        let event = super::super::packet::parse_event(text).unwrap();
        assert_eq!(event.name, "upload");
        assert_eq!(
            from_arg::<String>(event.args[0], &attachments).unwrap(),
            "x"
        );
        assert_eq!(from_arg::<File>(event.args[1], &attachments).unwrap(), file);
    }
}
