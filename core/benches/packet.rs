//! PacketN against tokio-util's `LengthDelimitedCodec`, side by side on the
//! same bytes: a 4-byte big-endian length header and an 8 MiB limit for both.
//!
//! One group per operation and payload size (`decode/256B`, ...), each holding
//! both codecs, so the report reads as ratios. Every buffer holds about 1 MiB
//! of frames: many frames per call, as a runtime sees under load.
//!
//! `cargo bench -p castnet-core --bench packet`

use bytes::{Bytes, BytesMut};
use castnet_core::frame::{Decoder as _, Encoder as _, PacketN};
use criterion::{criterion_group, criterion_main, BatchSize, Bencher, Criterion, Throughput};
use std::hint::black_box;
use tokio_util::codec::{Decoder as _, Encoder as _, LengthDelimitedCodec};

const PAYLOAD_SIZES: [usize; 4] = [16, 256, 4 * 1024, 64 * 1024];
const BUFFER_BYTES: usize = 1 << 20;

fn label(size: usize) -> String {
    match size {
        s if s >= 1024 => format!("{}KiB", s / 1024),
        s => format!("{s}B"),
    }
}

/// The payloads of one buffer, and the buffer both codecs encode them to.
fn workload(size: usize) -> (Vec<Bytes>, Bytes) {
    let count = BUFFER_BYTES / (size + 4);
    let payloads: Vec<Bytes> = (0..count)
        .map(|i| Bytes::from(vec![i as u8; size]))
        .collect();
    let mut ours = BytesMut::new();
    let mut theirs = BytesMut::new();
    for p in &payloads {
        PacketN::default().encode(p.clone(), &mut ours).unwrap();
        LengthDelimitedCodec::new()
            .encode(p.clone(), &mut theirs)
            .unwrap();
    }
    assert_eq!(ours, theirs, "both codecs must see the same bytes");
    (payloads, ours.freeze())
}

/// Times decoding all of `wire` with `next`, one frame per call. Each
/// iteration gets a fresh copy of `wire`, made untimed just before it, so the
/// buffer is in cache as after a read; per-iteration timing costs tens of
/// nanoseconds, the same for both codecs.
fn time_decode<T>(
    b: &mut Bencher<'_>,
    wire: &Bytes,
    frames: usize,
    mut next: impl FnMut(&mut BytesMut) -> Option<T>,
) {
    b.iter_batched(
        || BytesMut::from(&wire[..]),
        |mut src| {
            let mut n = 0;
            while let Some(frame) = next(&mut src) {
                black_box(frame);
                n += 1;
            }
            assert_eq!(n, frames);
            src
        },
        BatchSize::PerIteration,
    )
}

/// Times encoding every payload into one buffer with `put`. The buffer is
/// cleared and reused, so the figure is the codec and the copy, not page
/// faults in a fresh allocation; each payload handle is cloned (a reference
/// count), as both encoders take `Bytes` by value.
fn time_encode(
    b: &mut Bencher<'_>,
    payloads: &[Bytes],
    wire_len: usize,
    mut put: impl FnMut(Bytes, &mut BytesMut),
) {
    let mut dst = BytesMut::with_capacity(wire_len);
    b.iter(|| {
        dst.clear();
        for p in payloads {
            put(p.clone(), &mut dst);
        }
        assert_eq!(dst.len(), wire_len);
    })
}

fn decode(c: &mut Criterion) {
    for size in PAYLOAD_SIZES {
        let (payloads, wire) = workload(size);
        let mut group = c.benchmark_group(format!("decode/{}", label(size)));
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function("castnet PacketN", |b| {
            let mut codec = PacketN::default();
            time_decode(b, &wire, payloads.len(), |src| codec.decode(src).unwrap())
        });
        group.bench_function("tokio-util LengthDelimitedCodec", |b| {
            let mut codec = LengthDelimitedCodec::new();
            time_decode(b, &wire, payloads.len(), |src| codec.decode(src).unwrap())
        });
        group.finish();
    }
}

fn encode(c: &mut Criterion) {
    for size in PAYLOAD_SIZES {
        let (payloads, wire) = workload(size);
        let mut group = c.benchmark_group(format!("encode/{}", label(size)));
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function("castnet PacketN", |b| {
            let mut codec = PacketN::default();
            time_encode(b, &payloads, wire.len(), |p, dst| {
                codec.encode(p, dst).unwrap()
            })
        });
        group.bench_function("tokio-util LengthDelimitedCodec", |b| {
            let mut codec = LengthDelimitedCodec::new();
            time_encode(b, &payloads, wire.len(), |p, dst| {
                codec.encode(p, dst).unwrap()
            })
        });
        // Not like for like: the header-only form castnet's sessions use for
        // vectored writes, which never copies the payload.
        group.bench_function("castnet PacketN encode_frame (no copy)", |b| {
            let mut codec = PacketN::default();
            let mut frames = Vec::with_capacity(payloads.len());
            b.iter(|| {
                frames.clear();
                frames.extend(
                    payloads
                        .iter()
                        .map(|p| codec.encode_frame(p.clone()).unwrap()),
                );
                black_box(&frames);
            })
        });
        group.finish();
    }
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
