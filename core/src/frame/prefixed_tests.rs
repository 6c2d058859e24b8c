//! Checks shared by the unit tests of the length-prefixed codecs (PacketN,
//! VarintCodec): each takes the codec and the bytes of its own prefixes.

use super::{Decoder, Encoder, FrameError, MAX_RESERVE_STEP};
use bytes::{Bytes, BytesMut};

/// Decodes until the codec asks for more bytes.
pub(crate) fn drain<D: Decoder>(codec: &mut D, src: &mut BytesMut) -> Vec<D::Item> {
    let mut frames = Vec::new();
    while let Some(frame) = codec.decode(src).expect("valid input") {
        frames.push(frame);
    }
    frames
}

/// The declared length and maximum of a `FrameTooLarge`.
pub(crate) fn too_large(result: Result<Option<Bytes>, FrameError>) -> (u64, u64) {
    match result {
        Err(FrameError::FrameTooLarge { declared, max }) => (declared, max),
        other => panic!("expected FrameTooLarge, got {other:?}"),
    }
}

/// The bytes an `UnexpectedEof` counts.
pub(crate) fn eof_error(result: Result<Option<Bytes>, FrameError>) -> usize {
    match result {
        Err(FrameError::UnexpectedEof { buffered }) => buffered,
        other => panic!("expected UnexpectedEof, got {other:?}"),
    }
}

/// A prefix declaring `len` with a few payload bytes after it, under a
/// maximum raised to `len`: one reserve step at most, and no more on a
/// second call with nothing new.
pub(crate) fn lying_prefix_allocates_one_step_at_most<D>(mut codec: D, prefix: &[u8])
where
    D: Decoder<Item = Bytes>,
{
    let mut src = BytesMut::from(prefix);
    src.extend_from_slice(b"only a few bytes");
    let fed = src.len();
    assert_eq!(codec.decode(&mut src).unwrap(), None);
    assert!(
        src.capacity() <= 2 * (fed + MAX_RESERVE_STEP),
        "{prefix:02x?}: capacity {}",
        src.capacity()
    );
    let capacity = src.capacity();
    assert_eq!(codec.decode(&mut src).unwrap(), None);
    assert_eq!(src.capacity(), capacity);
}

/// A 1 MiB frame after `prefix` (which declares it), fed 4 KiB at a time:
/// the buffer grows only with what arrived.
pub(crate) fn large_frame_grows_with_its_bytes<D>(mut codec: D, prefix: &[u8])
where
    D: Decoder<Item = Bytes>,
{
    let len = 1 << 20;
    let mut src = BytesMut::from(prefix);
    let mut fed = prefix.len();
    for _ in 0..len / 4096 {
        assert_eq!(codec.decode(&mut src).unwrap(), None);
        assert!(
            src.capacity() <= 2 * (fed + MAX_RESERVE_STEP),
            "{fed} bytes fed, capacity {}",
            src.capacity()
        );
        src.extend_from_slice(&[9; 4096]);
        fed += 4096;
    }
    assert_eq!(codec.decode(&mut src).unwrap().unwrap().len(), len);
}

/// `frame` frames payloads with the codec's prefix. A codec with a maximum
/// of 100 and `Discard` gets "before", a 5,000-byte frame, "after" and an
/// empty frame, 64 bytes at a time: the big one is skipped and reported
/// once, the others decode, and skipped bytes never pile up in the buffer
/// (at most a read and a prefix of `max_prefix` bytes stay).
pub(crate) fn discard_resynchronises<D>(
    codec: &mut D,
    frame: impl Fn(&[u8]) -> Vec<u8>,
    max_prefix: usize,
) where
    D: Decoder<Item = Bytes>,
{
    let big: Vec<u8> = (0..5_000u32).map(|i| i as u8).collect();
    let wire = [frame(b"before"), frame(&big), frame(b"after"), frame(b"")].concat();
    let mut src = BytesMut::new();
    let (mut frames, mut discarded) = (Vec::new(), Vec::new());
    for chunk in wire.chunks(64) {
        src.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut src) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    assert!(e.is_recoverable(), "{e:?}");
                    discarded.push(e);
                }
            }
        }
        assert!(src.len() < 64 + max_prefix, "skipped bytes are not kept");
    }
    assert_eq!(codec.decode_eof(&mut src).unwrap(), None);
    assert_eq!(frames, [&b"before"[..], b"after", b""]);
    let once = matches!(
        discarded[..],
        [FrameError::FrameDiscarded {
            declared: 5_000,
            max: 100
        }]
    );
    assert!(once, "{discarded:?}");
}

/// Asserts that every way of encoding `len` bytes is refused with
/// `PayloadTooLarge { len, max }` and leaves what was queued as it was;
/// `to_bytes` is the codec's `encode_to_bytes`.
pub(crate) fn refuses_and_writes_nothing<C>(
    codec: &mut C,
    len: usize,
    max: u64,
    to_bytes: impl Fn(&C, &[u8]) -> Result<Bytes, FrameError>,
) where
    C: for<'a> Encoder<&'a [u8]> + Encoder<Bytes> + Encoder<Vec<u8>>,
{
    let payload = vec![0xab; len];
    let mut dst = BytesMut::from(&b"earlier frames"[..]);
    let capacity = dst.capacity();
    let mut vec = b"earlier frames".to_vec();
    for result in [
        Encoder::<&[u8]>::encode(codec, &payload[..], &mut dst),
        Encoder::<Bytes>::encode(codec, Bytes::from(payload.clone()), &mut dst),
        Encoder::<Vec<u8>>::encode(codec, payload.clone(), &mut dst),
        Encoder::<&[u8]>::encode_to_vec(codec, &payload[..], &mut vec),
        Encoder::<Bytes>::encode_frame(codec, Bytes::from(payload.clone())).map(drop),
        to_bytes(codec, &payload).map(drop),
    ] {
        match result {
            Err(FrameError::PayloadTooLarge { len: l, max: m }) => {
                assert_eq!((l, m), (len as u64, max));
            }
            other => panic!("expected PayloadTooLarge, got {other:?}"),
        }
    }
    assert_eq!(&dst[..], b"earlier frames");
    assert_eq!(dst.capacity(), capacity);
    assert_eq!(vec, b"earlier frames");
}

/// `wire` holds a frame of `a` then an empty one: `decode_eof` takes both,
/// then ends cleanly.
pub(crate) fn eof_on_frame_boundaries_is_clean<D: Decoder<Item = Bytes>>(
    mut codec: D,
    wire: &[u8],
) {
    let mut src = BytesMut::from(wire);
    assert_eq!(
        codec.decode_eof(&mut src).unwrap(),
        Some(Bytes::from_static(b"a"))
    );
    assert_eq!(codec.decode_eof(&mut src).unwrap(), Some(Bytes::new()));
    assert_eq!(codec.decode_eof(&mut src).unwrap(), None);
}

/// A whole prefix declaring a non-empty payload, alone: `decode` takes it
/// and waits, and `decode_eof` then counts its bytes as the partial frame.
pub(crate) fn eof_after_a_whole_prefix_counts_it<D: Decoder<Item = Bytes>>(
    mut codec: D,
    prefix: &[u8],
) {
    let mut src = BytesMut::from(prefix);
    assert_eq!(codec.decode(&mut src).unwrap(), None);
    assert!(src.is_empty(), "the prefix left the buffer");
    assert_eq!(eof_error(codec.decode_eof(&mut src)), prefix.len());
}
