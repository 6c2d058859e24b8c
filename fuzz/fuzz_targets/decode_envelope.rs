//! `decode_envelope`: the P2P envelope codec over any PacketN header, byte
//! order, maximum and oversize policy, on any bytes cut into any reads.
//!
//! Checked: no panic; the read buffer never grows past what arrived (no
//! allocation for a declared length); cutting the stream differently does
//! not change what it decodes to; every envelope respects the payload
//! maximum; and when nothing was skipped, the decoded envelopes re-encode to
//! exactly the bytes they were decoded from, in order.
//!
//! Input layout (every byte string is valid; a field past the end reads 0):
//! one flags byte (bits 0–1: header of 1, 2, 4 or 8 bytes; bit 2:
//! little-endian; bit 3: `Discard` instead of `Fail`), the maximum frame
//! length as a little-endian `u32`, a count byte `k` and `k` read sizes (0 is
//! a wake-up with nothing new; all zero means one read), then the stream.
#![no_main]

use bytes::BytesMut;
use castnet_core::frame::{
    ByteOrder, Decoder, Encoder, FrameError, HeaderLen, OversizePolicy, PacketN, MAX_RESERVE_STEP,
};
use castnet_core::route::{Envelope, EnvelopeCodec, ADDRESS_LEN};
use libfuzzer_sys::fuzz_target;

/// What one run made of the stream.
#[derive(Debug, PartialEq)]
struct Run {
    envelopes: Vec<Envelope>,
    skipped: usize,
    /// The fatal error's description, if one ended the stream.
    fatal: Option<String>,
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (taken, rest) = data.split_at(n.min(data.len()));
    *data = rest;
    taken
}

/// Decodes until the decoder wants more bytes (or, at `eof`, drains it),
/// checking the capacity bound after every call.
fn drain(
    codec: &mut EnvelopeCodec,
    buf: &mut BytesMut,
    fed: usize,
    eof: bool,
    run: &mut Run,
) -> Result<(), FrameError> {
    loop {
        let result = if eof {
            codec.decode_eof(buf)
        } else {
            codec.decode(buf)
        };
        let bound = 2 * (fed + MAX_RESERVE_STEP) + 64;
        assert!(
            buf.capacity() <= bound,
            "capacity {} after {fed} bytes",
            buf.capacity()
        );
        match result {
            Ok(Some(envelope)) => {
                assert!(envelope.payload.len() as u64 <= codec.max_payload_len());
                run.envelopes.push(envelope);
            }
            Ok(None) => return Ok(()),
            Err(err) if err.is_recoverable() => run.skipped += 1,
            Err(err) => return Err(err),
        }
    }
}

fn decode(mut codec: EnvelopeCodec, stream: &[u8], sizes: &[usize]) -> Run {
    let mut run = Run {
        envelopes: Vec::new(),
        skipped: 0,
        fatal: None,
    };
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut sizes = sizes.iter().copied().filter(|&s| s > 0).cycle();
    while fed < stream.len() {
        let n = sizes.next().unwrap_or(stream.len()).min(stream.len() - fed);
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        if let Err(err) = drain(&mut codec, &mut buf, fed, false, &mut run) {
            run.fatal = Some(format!("{err:?}"));
            return run;
        }
    }
    if let Err(err) = drain(&mut codec, &mut buf, fed, true, &mut run) {
        run.fatal = Some(format!("{err:?}"));
    }
    run
}

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let flags = take(&mut data, 1).first().copied().unwrap_or(0);
    let mut max = [0u8; 4];
    let raw = take(&mut data, 4);
    max[..raw.len()].copy_from_slice(raw);
    let max = u64::from(u32::from_le_bytes(max));
    let k = usize::from(take(&mut data, 1).first().copied().unwrap_or(0));
    let sizes: Vec<usize> = take(&mut data, k).iter().map(|&s| usize::from(s)).collect();
    let stream = data;

    let header = [
        HeaderLen::One,
        HeaderLen::Two,
        HeaderLen::Four,
        HeaderLen::Eight,
    ][usize::from(flags & 0b11)];
    let order = if flags & 0b100 == 0 {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
    let oversize = if flags & 0b1000 == 0 {
        OversizePolicy::Fail
    } else {
        OversizePolicy::Discard
    };
    let packet = PacketN::builder()
        .header_len(header)
        .byte_order(order)
        .max_frame_len(max)
        .oversize_policy(oversize)
        .build()
        .expect("every header length here is supported");
    let Ok(codec) = EnvelopeCodec::new(packet.clone()) else {
        assert!(
            packet.max_frame_len() < ADDRESS_LEN as u64,
            "refused only below the address size"
        );
        return;
    };

    let chunked = decode(codec.clone(), stream, &sizes);
    let whole = decode(codec.clone(), stream, &[]);
    assert_eq!(chunked, whole, "reads cut differently decoded differently");

    if chunked.skipped == 0 {
        let mut encoder = codec;
        let mut wire = BytesMut::new();
        for envelope in &chunked.envelopes {
            encoder
                .encode(envelope.clone(), &mut wire)
                .expect("a decoded envelope re-encodes");
        }
        assert_eq!(
            &wire[..],
            &stream[..wire.len()],
            "re-encoding changed the bytes"
        );
    }
});
