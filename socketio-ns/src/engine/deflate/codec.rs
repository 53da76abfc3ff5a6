//! Server-side WebSocket frames with `permessage-deflate` (RFC 6455 section 5, RFC 7692
//! section 7.2), sans-IO: bytes read from the client in, messages out; messages in, bytes to
//! write out. The wire format of a frame header is tungstenite's ([`FrameHeader`]); the rest
//! (the client's masks, fragments, control frames, the extension's RSV1 bit, inflating and
//! deflating) is here, because tungstenite refuses a frame with RSV1 set.
//!
//! Without context takeover every connection shares one compressor and one decompressor per
//! thread, reset for each message; with it a connection owns the ones it keeps, created when
//! first needed. The size limit applies to the inflated message, so a small compressed frame
//! cannot make the server allocate more than the limit (a decompression bomb).

use std::cell::RefCell;
use std::io::Cursor;

use bytes::{Buf, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, FrameHeader, Utf8Bytes};

use super::negotiate::Agreed;

/// What a sync flush ends with, taken off a compressed message and put back to inflate it
/// (RFC 7692 section 7.2.1).
const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

thread_local! {
    /// The compressor of connections without server context takeover, and its level.
    static DEFLATER: RefCell<Option<(u32, Compress)>> = const { RefCell::new(None) };
    /// The decompressor of connections without client context takeover.
    static INFLATER: RefCell<Option<Decompress>> = const { RefCell::new(None) };
}

/// A raw deflate compressor (no zlib header).
fn new_deflater(level: u32) -> Compress {
    Compress::new(Compression::new(level), false)
}

/// A message being reassembled from its fragments.
#[derive(Debug)]
struct Partial {
    text: bool,
    compressed: bool,
    data: Vec<u8>,
}

/// One WebSocket connection's framing with the extension agreed for it.
pub(crate) struct Codec {
    agreed: Agreed,
    /// The largest message accepted, after inflating.
    max_message: usize,
    partial: Option<Partial>,
    /// Kept between messages with server context takeover.
    deflater: Option<Compress>,
    /// Kept between messages with client context takeover.
    inflater: Option<Decompress>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("agreed", &self.agreed)
            .field("max_message", &self.max_message)
            .field("partial", &self.partial.as_ref().map(|p| p.data.len()))
            .finish_non_exhaustive()
    }
}

fn protocol(e: ProtocolError) -> Error {
    Error::Protocol(e)
}

fn too_long(size: usize, max_size: usize) -> Error {
    Error::Capacity(CapacityError::MessageTooLong { size, max_size })
}

impl Codec {
    pub(crate) fn new(agreed: Agreed, max_message: usize) -> Self {
        Codec {
            agreed,
            max_message,
            partial: None,
            deflater: None,
            inflater: None,
        }
    }

    /// The most compressed bytes one message may carry: a little more than the limit, for
    /// the few bytes deflate adds to data it cannot compress.
    fn max_compressed(&self) -> usize {
        self.max_message
            .saturating_add(self.max_message / 64)
            .saturating_add(64)
    }

    /// The next message in `buf`, whose bytes are consumed; `Ok(None)` when more bytes are
    /// needed. Pings, pongs and closes are returned too (answering them is the caller's job).
    /// After an error the connection must be closed.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, Error> {
        loop {
            let mut cursor = Cursor::new(&buf[..]);
            let Some((header, len)) = FrameHeader::parse(&mut cursor)? else {
                return Ok(None);
            };
            let head = cursor.position() as usize;
            if header.rsv2 || header.rsv3 {
                return Err(protocol(ProtocolError::NonZeroReservedBits));
            }
            let Some(mask) = header.mask else {
                return Err(protocol(ProtocolError::UnmaskedFrameFromClient));
            };
            match header.opcode {
                OpCode::Control(_) => {
                    if !header.is_final {
                        return Err(protocol(ProtocolError::FragmentedControlFrame));
                    }
                    if len > 125 {
                        return Err(protocol(ProtocolError::ControlFrameTooBig));
                    }
                    if header.rsv1 {
                        return Err(protocol(ProtocolError::NonZeroReservedBits));
                    }
                }
                OpCode::Data(data) => {
                    match (data, &self.partial) {
                        (Data::Continue, None) => {
                            return Err(protocol(ProtocolError::UnexpectedContinueFrame));
                        }
                        (Data::Continue, Some(_)) if header.rsv1 => {
                            // RSV1 marks the first frame of a compressed message only.
                            return Err(protocol(ProtocolError::NonZeroReservedBits));
                        }
                        (Data::Text | Data::Binary, Some(_)) => {
                            return Err(protocol(ProtocolError::ExpectedFragment(data)));
                        }
                        _ => {}
                    }
                    let compressed = match (&self.partial, data) {
                        (Some(p), _) => p.compressed,
                        (None, _) => header.rsv1,
                    };
                    let limit = if compressed {
                        self.max_compressed()
                    } else {
                        self.max_message
                    };
                    let so_far = self.partial.as_ref().map_or(0, |p| p.data.len());
                    let size = usize::try_from(len)
                        .unwrap_or(usize::MAX)
                        .saturating_add(so_far);
                    if size > limit {
                        return Err(too_long(size, limit));
                    }
                }
            }
            let len = len as usize;
            if buf.len() < head + len {
                buf.reserve(head + len - buf.len());
                return Ok(None);
            }
            buf.advance(head);
            let mut payload = buf.split_to(len);
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i & 3];
            }
            match header.opcode {
                OpCode::Control(Control::Ping) => return Ok(Some(Message::Ping(payload.freeze()))),
                OpCode::Control(Control::Pong) => return Ok(Some(Message::Pong(payload.freeze()))),
                OpCode::Control(Control::Close) => {
                    return close_frame(payload.freeze()).map(|c| Some(Message::Close(c)));
                }
                OpCode::Control(Control::Reserved(b)) => {
                    return Err(protocol(ProtocolError::UnknownControlFrameType(b)));
                }
                OpCode::Data(Data::Reserved(b)) => {
                    return Err(protocol(ProtocolError::UnknownDataFrameType(b)));
                }
                OpCode::Data(Data::Continue) => {
                    let p = self.partial.as_mut().expect("checked above");
                    p.data.extend_from_slice(&payload);
                }
                OpCode::Data(data) => {
                    let text = data == Data::Text;
                    if header.is_final && !header.rsv1 {
                        // The common case of an uncompressed message: no copy.
                        return plain(text, payload.freeze()).map(Some);
                    }
                    self.partial = Some(Partial {
                        text,
                        compressed: header.rsv1,
                        data: Vec::from(&payload[..]),
                    });
                }
            }
            if header.is_final {
                let p = self.partial.take().expect("a data frame");
                let data = if p.compressed {
                    self.inflate(&p.data)?
                } else {
                    p.data
                };
                return plain(p.text, Bytes::from(data)).map(Some);
            }
        }
    }

    fn inflate(&mut self, input: &[u8]) -> Result<Vec<u8>, Error> {
        let max = self.max_message;
        if self.agreed.client_takeover {
            let d = self.inflater.get_or_insert_with(|| Decompress::new(false));
            inflate(d, input, max)
        } else {
            INFLATER.with(|cell| {
                let mut cell = cell.borrow_mut();
                let d = cell.get_or_insert_with(|| Decompress::new(false));
                d.reset(false);
                inflate(d, input, max)
            })
        }
    }

    /// Appends `message` as frames to `out`. A text or binary message of at least the
    /// threshold goes compressed, in one frame with RSV1 set.
    pub(crate) fn encode(&mut self, message: Message, out: &mut Vec<u8>) {
        let (opcode, payload): (OpCode, Bytes) = match message {
            Message::Text(t) => (OpCode::Data(Data::Text), t.into()),
            Message::Binary(b) => (OpCode::Data(Data::Binary), b),
            Message::Ping(p) => (OpCode::Control(Control::Ping), p),
            Message::Pong(p) => (OpCode::Control(Control::Pong), p),
            Message::Close(c) => {
                let mut p = Vec::new();
                if let Some(c) = c {
                    p.extend_from_slice(&u16::from(c.code).to_be_bytes());
                    p.extend_from_slice(c.reason.as_bytes());
                }
                (OpCode::Control(Control::Close), p.into())
            }
            // Raw frames are not something this server sends.
            Message::Frame(_) => return,
        };
        let compress = matches!(opcode, OpCode::Data(_))
            && !payload.is_empty()
            && payload.len() >= self.agreed.threshold;
        let header = |rsv1| FrameHeader {
            is_final: true,
            rsv1,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
        };
        if compress {
            let data = self.deflate(&payload);
            write_frame(&header(true), &data, out);
        } else {
            write_frame(&header(false), &payload, out);
        }
    }

    fn deflate(&mut self, input: &[u8]) -> Vec<u8> {
        let level = self.agreed.level;
        if self.agreed.server_takeover {
            deflate(
                self.deflater.get_or_insert_with(|| new_deflater(level)),
                input,
            )
        } else {
            DEFLATER.with(|cell| {
                let mut cell = cell.borrow_mut();
                match &mut *cell {
                    Some((l, c)) if *l == level => c.reset(),
                    // First use on this thread, or an engine with another level.
                    other => *other = Some((level, new_deflater(level))),
                }
                let (_, c) = cell.as_mut().expect("set above");
                deflate(c, input)
            })
        }
    }
}

fn write_frame(header: &FrameHeader, payload: &[u8], out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = header.format(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

fn plain(text: bool, data: Bytes) -> Result<Message, Error> {
    if text {
        Ok(Message::Text(Utf8Bytes::try_from(data)?))
    } else {
        Ok(Message::Binary(data))
    }
}

/// A close frame's payload: nothing, or a valid code and a UTF-8 reason.
fn close_frame(payload: Bytes) -> Result<Option<CloseFrame>, Error> {
    match payload.len() {
        0 => Ok(None),
        1 => Err(protocol(ProtocolError::InvalidCloseSequence)),
        _ => {
            let code = CloseCode::from(u16::from_be_bytes([payload[0], payload[1]]));
            if !code.is_allowed() {
                return Err(protocol(ProtocolError::InvalidCloseSequence));
            }
            let reason = Utf8Bytes::try_from(payload.slice(2..))?;
            Ok(Some(CloseFrame { code, reason }))
        }
    }
}

/// Inflates one message (its compressed bytes, then the tail the sender took off), failing as
/// soon as the output passes `max` bytes: the output buffer never grows beyond that.
fn inflate(d: &mut Decompress, input: &[u8], max: usize) -> Result<Vec<u8>, Error> {
    let corrupt = |e: flate2::DecompressError| {
        Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    };
    let mut out: Vec<u8> = Vec::with_capacity(input.len().saturating_mul(2).max(64).min(max + 1));
    for chunk in [input, &TAIL[..]] {
        let mut pos = 0;
        loop {
            if out.len() == out.capacity() {
                if out.len() > max {
                    return Err(too_long(out.len(), max));
                }
                let grow = out.len().max(4096).min(max + 1 - out.len());
                out.reserve_exact(grow);
            }
            let (in0, out0) = (d.total_in(), d.total_out());
            let status = d
                .decompress_vec(&chunk[pos..], &mut out, FlushDecompress::Sync)
                .map_err(corrupt)?;
            pos += (d.total_in() - in0) as usize;
            if out.len() > max {
                return Err(too_long(out.len(), max));
            }
            let progress = d.total_in() != in0 || d.total_out() != out0;
            let room = out.len() < out.capacity();
            if status == Status::StreamEnd || (pos == chunk.len() && room) {
                break;
            }
            if !progress && room {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "truncated deflate data",
                )));
            }
        }
    }
    Ok(out)
}

/// Deflates one message with a sync flush and takes its tail off.
fn deflate(c: &mut Compress, input: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(input.len() / 2 + 64);
    compress_into(c, input, FlushCompress::Sync, &mut out);
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    out
}

/// Compresses all of `input` with `c` onto `out`, ending with `flush` (`Sync`: a message of a
/// stream that goes on; `Finish`: the end of the stream), growing `out` as needed.
pub(crate) fn compress_into(
    c: &mut Compress,
    input: &[u8],
    flush: FlushCompress,
    out: &mut Vec<u8>,
) {
    let mut pos = 0;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        let in0 = c.total_in();
        // Compressing a buffer does not fail (the error is for a stream misused).
        let _ = c.compress_vec(&input[pos..], out, flush);
        pos += (c.total_in() - in0) as usize;
        // Room left in `out` once the input is in: the flush is complete.
        if pos == input.len() && out.len() < out.capacity() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::config::WsCompression;
    use crate::engine::deflate::negotiate::negotiate;

    fn agreed(offer: &str, config: WsCompression) -> Agreed {
        negotiate([offer.as_bytes()], &config).expect("accepted")
    }

    fn codec(takeover: bool) -> Codec {
        let config = WsCompression {
            threshold: 16,
            server_context_takeover: takeover,
            client_context_takeover: takeover,
            level: 6,
        };
        Codec::new(agreed("permessage-deflate", config), 1000)
    }

    /// A client's frame: masked.
    fn client_frame(opcode: OpCode, fin: bool, rsv1: bool, payload: &[u8]) -> Vec<u8> {
        let mask = [1, 2, 3, 4];
        let header = FrameHeader {
            is_final: fin,
            rsv1,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: Some(mask),
        };
        let mut out = Vec::new();
        header.format(payload.len() as u64, &mut out).unwrap();
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        out
    }

    /// What a client with its own deflate context sends for `text`.
    fn client_deflate(c: &mut Compress, text: &str) -> Vec<u8> {
        deflate(c, text.as_bytes())
    }

    const TEXT: OpCode = OpCode::Data(Data::Text);

    fn decode_all(codec: &mut Codec, bytes: &[u8]) -> Vec<Result<Message, Error>> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        // Byte by byte: every split of a frame must work.
        for b in bytes {
            buf.extend_from_slice(&[*b]);
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(m)) => out.push(Ok(m)),
                    Ok(None) => break,
                    Err(e) => {
                        out.push(Err(e));
                        return out;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn compressed_messages_with_and_without_context_takeover_decode() {
        let big = "hello, compressed world! ".repeat(10);
        for takeover in [false, true] {
            let mut client = new_deflater(6);
            let mut wire = Vec::new();
            for _ in 0..3 {
                if !takeover {
                    client.reset();
                }
                let data = client_deflate(&mut client, &big);
                wire.extend(client_frame(TEXT, true, true, &data));
            }
            // A fragmented compressed message: RSV1 on the first frame only.
            let data = {
                if !takeover {
                    client.reset();
                }
                client_deflate(&mut client, &big)
            };
            let (a, b) = data.split_at(data.len() / 2);
            wire.extend(client_frame(TEXT, false, true, a));
            wire.extend(client_frame(
                OpCode::Control(Control::Ping),
                true,
                false,
                b"p",
            ));
            wire.extend(client_frame(OpCode::Data(Data::Continue), true, false, b));
            wire.extend(client_frame(
                OpCode::Data(Data::Binary),
                true,
                false,
                b"raw",
            ));
            let got = decode_all(&mut codec(takeover), &wire);
            let got: Vec<Message> = got.into_iter().map(Result::unwrap).collect();
            assert_eq!(got.len(), 6, "{got:?}");
            for m in &got[..3] {
                assert_eq!(m, &Message::Text(big.clone().into()));
            }
            assert_eq!(got[3], Message::Ping(Bytes::from_static(b"p")));
            assert_eq!(got[4], Message::Text(big.clone().into()));
            assert_eq!(got[5], Message::Binary(Bytes::from_static(b"raw")));
        }
    }

    #[test]
    fn the_server_compresses_at_the_threshold_only() {
        for takeover in [false, true] {
            let mut codec = codec(takeover);
            let mut out = Vec::new();
            codec.encode(Message::Text("x".repeat(15).into()), &mut out);
            assert_eq!(out[0], 0x81, "final text frame, no RSV1");
            assert_eq!(&out[2..], "x".repeat(15).as_bytes());
            let mut inflater = Decompress::new(false);
            for _ in 0..2 {
                let mut out = Vec::new();
                codec.encode(Message::Text("y".repeat(400).into()), &mut out);
                assert_eq!(out[0], 0xc1, "final text frame, RSV1");
                let len = out[1] as usize;
                assert!(len < 100, "{len}");
                if !takeover {
                    inflater.reset(false);
                }
                let plain = inflate(&mut inflater, &out[2..], 1000).unwrap();
                assert_eq!(plain, "y".repeat(400).as_bytes());
            }
        }
    }

    #[test]
    fn a_decompression_bomb_is_refused_at_the_limit() {
        let mut c = new_deflater(6);
        let bomb = deflate(&mut c, &[0u8; 100_000]);
        assert!(bomb.len() < 200, "{}", bomb.len());
        let got = decode_all(&mut codec(false), &client_frame(TEXT, true, true, &bomb));
        assert!(
            matches!(
                got[..],
                [Err(Error::Capacity(CapacityError::MessageTooLong { .. }))]
            ),
            "{got:?}"
        );
        // At the limit exactly: accepted.
        c.reset();
        let at = deflate(&mut c, &[b'a'; 1000]);
        let got = decode_all(&mut codec(false), &client_frame(TEXT, true, true, &at));
        assert!(
            matches!(&got[..], [Ok(Message::Text(t))] if t.len() == 1000),
            "{got:?}"
        );
    }

    #[test]
    fn garbage_never_panics() {
        // Frames with random headers and payloads (compressed or not, fragmented or not): every
        // outcome is a message, a wait for more or an error, never a panic.
        let mut seed = 0x2545_f491_u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _ in 0..2000 {
            let mut wire = Vec::new();
            for _ in 0..(next() % 4) {
                let opcode = OpCode::from((next() % 16) as u8);
                if matches!(
                    opcode,
                    OpCode::Data(Data::Reserved(_)) | OpCode::Control(Control::Reserved(_))
                ) {
                    continue;
                }
                let len = (next() % 200) as usize;
                let payload: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                let (fin, rsv1) = (next() % 3 != 0, next() % 2 == 0);
                wire.extend(client_frame(opcode, fin, rsv1, &payload));
            }
            let mut codec = codec(next() % 2 == 0);
            let mut buf = BytesMut::from(&wire[..]);
            while let Ok(Some(_)) = codec.decode(&mut buf) {}
        }
    }

    #[test]
    fn protocol_errors() {
        let cases: Vec<Vec<u8>> = vec![
            // Unmasked.
            vec![0x81, 0x01, b'a'],
            // RSV1 on a control frame.
            client_frame(OpCode::Control(Control::Ping), true, true, b""),
            // RSV1 on a continuation.
            [
                client_frame(TEXT, false, false, b"a"),
                client_frame(OpCode::Data(Data::Continue), true, true, b"b"),
            ]
            .concat(),
            // A continuation with nothing to continue, a new message inside a fragmented one.
            client_frame(OpCode::Data(Data::Continue), true, false, b"b"),
            [
                client_frame(TEXT, false, false, b"a"),
                client_frame(TEXT, true, false, b"b"),
            ]
            .concat(),
            // Invalid UTF-8, garbage deflate data, a too long message.
            client_frame(TEXT, true, false, &[0xff]),
            client_frame(TEXT, true, true, &[0xff; 8]),
            client_frame(TEXT, true, false, &[b'a'; 1001]),
        ];
        for wire in cases {
            let got = decode_all(&mut codec(false), &wire);
            assert!(matches!(got.last(), Some(Err(_))), "{wire:?}: {got:?}");
        }
    }
}
