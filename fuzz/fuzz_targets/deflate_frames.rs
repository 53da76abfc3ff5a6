//! The server's WebSocket frame decoder with `permessage-deflate` (the engine's own codec, as
//! tungstenite refuses RSV1 frames). The first byte picks context takeover, the size limit and
//! how the rest is cut into reads.
//!
//! 1. The rest as raw bytes from a client, fed in pieces: the decoder never panics, never
//!    returns a data message over the limit (however small the compressed frame: no
//!    decompression bomb) nor a control frame over 125 bytes, and stops at its first error.
//! 2. The rest as a message a correct client sends twice, deflated (the context kept when taken
//!    over, else reset) and masked, in one frame or two fragments: it decodes to the same bytes
//!    both times when within the limit, and is refused when over it.
#![no_main]

use bytes::BytesMut;
use flate2::{Compress, Compression, FlushCompress};
use libfuzzer_sys::fuzz_target;
use socketio_ns::engine::FuzzDeflate;

/// A masked client frame.
fn frame(fin: bool, rsv1: bool, opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(u8::from(fin) << 7 | u8::from(rsv1) << 6 | opcode);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
}

/// Deflates one message as a client does: sync flush, the 4-byte tail taken off.
fn deflate(c: &mut Compress, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 64);
    let mut pos = 0;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        let before = c.total_in();
        c.compress_vec(&input[pos..], &mut out, FlushCompress::Sync)
            .expect("deflate");
        pos += (c.total_in() - before) as usize;
        if pos == input.len() && out.len() < out.capacity() {
            break;
        }
    }
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let takeover = pick & 1 == 1;
    let max = 16usize << ((pick >> 1) & 7); // 16 B .. 2 KB
    let piece = 1 + usize::from(pick >> 4) * 7; // 1 .. 106 bytes per read

    // 1. Raw bytes.
    let mut d = FuzzDeflate::new(takeover, max);
    let mut buf = BytesMut::new();
    'feed: for chunk in rest.chunks(piece) {
        buf.extend_from_slice(chunk);
        loop {
            match d.decode(&mut buf) {
                Ok(Some((true, m))) => assert!(m.len() <= max, "{} > {max}", m.len()),
                Ok(Some((false, m))) => assert!(m.len() <= 125),
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }

    // 2. A correct client's message, twice.
    let mut d = FuzzDeflate::new(takeover, max);
    let mut c = Compress::new(Compression::new(u32::from(pick >> 5)), false);
    for round in 0..2 {
        if !takeover {
            c.reset();
        }
        let z = deflate(&mut c, rest);
        let mut wire = Vec::new();
        if pick & 0x10 != 0 && z.len() > 1 {
            let (a, b) = z.split_at(z.len() / 2);
            frame(false, true, 2, a, &mut wire);
            frame(true, false, 0, b, &mut wire);
        } else {
            frame(true, true, 2, &z, &mut wire);
        }
        let mut buf = BytesMut::from(&wire[..]);
        match d.decode(&mut buf) {
            Ok(Some((true, m))) => {
                assert!(rest.len() <= max);
                assert_eq!(m, rest, "round {round}");
                assert!(buf.is_empty());
            }
            Ok(other) => panic!("round {round}: {other:?}"),
            // Over the limit (inflated, or already compressed): refused, and the
            // connection would close here.
            Err(e) => {
                assert!(rest.len() > max || z.len() > max, "round {round}: {e}");
                return;
            }
        }
    }
});
