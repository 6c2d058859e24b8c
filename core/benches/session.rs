//! Session-to-session throughput of 64-byte frames, without sockets: `send`
//! on one session, `chunks_vectored` into the peer's `read_buf`,
//! `on_written` / `on_read`, and the `Frame` event out of the peer (plus the
//! sender's `Sent` events). Side by side, the same bytes through tokio-util's
//! `LengthDelimitedCodec` encoding into and decoding from one `BytesMut`: the
//! work a `Framed` pair does per frame, minus its IO.

use bytes::{Bytes, BytesMut};
use castnet_core::{Event, PacketN, Session, SessionConfig};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::io::IoSlice;
use std::time::Instant;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

const PAYLOAD: usize = 64;

/// Moves everything `from` has queued into `to`, one vectored gather per
/// write, then drains both sides' events. Returns the frames `to` received.
fn pump(from: &mut Session<PacketN>, to: &mut Session<PacketN>, now: Instant) -> usize {
    while from.wants_write() {
        let mut slices = [IoSlice::new(&[]); 128];
        let k = from.chunks_vectored(&mut slices);
        let buf = to.read_buf();
        let mut n = 0;
        for slice in &slices[..k] {
            buf.extend_from_slice(slice);
            n += slice.len();
        }
        from.on_written(n, now);
        to.on_read(n, now);
    }
    while let Some(event) = from.poll_event() {
        black_box(event);
    }
    let mut frames = 0;
    while let Some(event) = to.poll_event() {
        if let Event::Frame(frame) = event {
            black_box(frame);
            frames += 1;
        }
    }
    frames
}

fn session_to_session(c: &mut Criterion) {
    #[allow(clippy::disallowed_methods)] // the bench's only clock read: a fixed `now`
    let now = Instant::now();
    let payload = Bytes::from(vec![0x5a; PAYLOAD]);
    let mut group = c.benchmark_group("session_64B");
    for batch in [1usize, 64] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("castnet_session/batch{batch}"), |bench| {
            let mut a = Session::new(PacketN::default(), SessionConfig::default(), now);
            let mut b = Session::new(PacketN::default(), SessionConfig::default(), now);
            bench.iter(|| {
                for _ in 0..batch {
                    a.send(payload.clone(), now).unwrap();
                }
                assert_eq!(pump(&mut a, &mut b, now), batch);
            });
        });
        group.bench_function(
            format!("tokio_util_length_delimited/batch{batch}"),
            |bench| {
                let mut codec = LengthDelimitedCodec::new();
                let mut wire = BytesMut::new();
                bench.iter(|| {
                    for _ in 0..batch {
                        codec.encode(payload.clone(), &mut wire).unwrap();
                    }
                    let mut frames = 0;
                    while let Some(frame) = codec.decode(&mut wire).unwrap() {
                        black_box(frame);
                        frames += 1;
                    }
                    assert_eq!(frames, batch);
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, session_to_session);
criterion_main!(benches);
