//! `decode_raw`: pass-through, where frames are whatever each read brought.

use crate::harness::{decode_stream, encode_then_decode};
use crate::input::Input;
use castnet_core::frame::RawCodec;

/// No configuration: the input is the reads and the stream.
pub fn decode_raw(data: &[u8]) {
    let (sizes, stream) = Input::new(data).reads_and_stream();

    // Frame boundaries depend on the reads by design: what must hold is that
    // the frames, in order, are the stream, and none is empty.
    let decoded = decode_stream(&mut RawCodec::new(), stream, &sizes);
    assert!(decoded.end.is_ok(), "{:?}", decoded.end);
    let frames = decoded.frames();
    assert!(frames.iter().all(|f| !f.is_empty()), "an empty raw frame");
    assert_eq!(
        frames
            .iter()
            .flat_map(|f| &f[..])
            .copied()
            .collect::<Vec<u8>>(),
        stream
    );

    let (wire, _) = encode_then_decode(RawCodec::new, stream, &sizes).expect("raw takes anything");
    assert_eq!(wire, stream);
}
