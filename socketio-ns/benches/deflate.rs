//! Criterion micro-benchmarks of what WebSocket `permessage-deflate` costs per message with
//! flate2's pure-Rust backend, the one the engine uses (`src/engine/deflate/codec.rs`): a
//! chat-sized Socket.IO event deflated with a sync flush, after a `reset` (no context
//! takeover, a compressor shared by connections) or against the context of the messages
//! before (context takeover), at levels 1 and 6; the reset alone; inflating it; and a
//! megabyte of text deflated at levels 1 and 6.
//!
//! ```text
//! cargo bench -p socketio-ns --bench deflate -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

/// The `echo` event of `bench/compression.sh`, about 270 bytes.
const EVENT: &[u8] = br#"42/bench,12["echo",{"user":"carol","room":"general","text":"the release build of our server is good we think so people can take it into time with your work on the dashboard review branch latency and customer export today merge fix bug test","ts":1700000012345}]"#;

fn deflate(c: &mut Compress, out: &mut Vec<u8>) {
    out.clear();
    c.compress_vec(EVENT, out, FlushCompress::Sync).unwrap();
}

fn bench(c: &mut Criterion) {
    let mut out = Vec::with_capacity(1024);
    for level in [1, 6] {
        let mut shared = Compress::new(Compression::new(level), false);
        c.bench_function(&format!("deflate/no_takeover/level{level}"), |b| {
            b.iter(|| {
                shared.reset();
                deflate(&mut shared, &mut out);
                black_box(out.len())
            })
        });
        let mut own = Compress::new(Compression::new(level), false);
        c.bench_function(&format!("deflate/takeover/level{level}"), |b| {
            b.iter(|| {
                deflate(&mut own, &mut out);
                black_box(out.len())
            })
        });
    }
    let mut shared = Compress::new(Compression::default(), false);
    c.bench_function("deflate/reset_only", |b| b.iter(|| shared.reset()));

    shared.reset();
    deflate(&mut shared, &mut out);
    let compressed = out.clone();
    let mut d = Decompress::new(false);
    let mut plain = Vec::with_capacity(1024);
    c.bench_function("inflate/no_takeover", |b| {
        b.iter(|| {
            d.reset(false);
            plain.clear();
            d.decompress_vec(&compressed, &mut plain, FlushDecompress::Sync)
                .unwrap();
            black_box(plain.len())
        })
    });
}

/// A megabyte of pseudo-random letters (compresses to about 62 %), deflated in one go at
/// levels 1 and 6: how long a large message holds its connection's task.
fn bench_large(c: &mut Criterion) {
    let mut seed = 7u32;
    let text: Vec<u8> = (0..1_000_000)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            b'a' + ((seed >> 16) % 26) as u8
        })
        .collect();
    let mut group = c.benchmark_group("deflate_1mb");
    group.sample_size(10);
    let mut out = Vec::with_capacity(2_000_000);
    for level in [1, 6] {
        let mut shared = Compress::new(Compression::new(level), false);
        group.bench_function(format!("level{level}"), |b| {
            b.iter(|| {
                shared.reset();
                out.clear();
                shared
                    .compress_vec(&text, &mut out, FlushCompress::Sync)
                    .unwrap();
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, bench_large);
criterion_main!(benches);
