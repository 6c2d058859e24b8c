//! The P2P envelope and its codec, layered on [`PacketN`].

use crate::frame::{ByteOrder, ConfigError, Decoder, EncodedFrame, Encoder, FrameError, PacketN};
use bytes::{Buf, Bytes, BytesMut};
use std::fmt;

/// Bytes of the address header inside each PacketN frame: `src_type` (1),
/// `src_no` (2), `dst_type` (1), `dst_no` (2).
pub const ADDRESS_LEN: usize = 6;

/// One peer of a P2P network: a `(type, no)` pair, such as "game server 3".
///
/// Endpoints order by type, then number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// The endpoint's type (the `type` of `(type, no)`).
    pub ty: u8,
    /// Its number within the type.
    pub no: u16,
}

impl Endpoint {
    /// The endpoint `(ty, no)`.
    pub const fn new(ty: u8, no: u16) -> Self {
        Endpoint { ty, no }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.ty, self.no)
    }
}

/// A routed message: who sent it, who it is for, and the payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Envelope {
    /// The sender's type.
    pub src_type: u8,
    /// The sender's number.
    pub src_no: u16,
    /// The recipient's type.
    pub dst_type: u8,
    /// The recipient's number.
    pub dst_no: u16,
    /// The payload, untouched by the codec.
    pub payload: Bytes,
}

impl Envelope {
    /// An envelope from `src` to `dst`.
    pub fn new(src: Endpoint, dst: Endpoint, payload: Bytes) -> Self {
        Envelope {
            src_type: src.ty,
            src_no: src.no,
            dst_type: dst.ty,
            dst_no: dst.no,
            payload,
        }
    }

    /// The sender.
    pub fn src(&self) -> Endpoint {
        Endpoint::new(self.src_type, self.src_no)
    }

    /// The recipient.
    pub fn dst(&self) -> Endpoint {
        Endpoint::new(self.dst_type, self.dst_no)
    }

    /// An envelope carrying `payload` back to this one's sender.
    pub fn reply(&self, payload: Bytes) -> Envelope {
        Envelope::new(self.dst(), self.src(), payload)
    }
}

/// The P2P envelope codec: a [`PacketN`] frame whose payload is the 6-byte
/// address header (`src_type`, `src_no`, `dst_type`, `dst_no`) followed by
/// the envelope's payload.
///
/// The two 16-bit numbers use the byte order of the PacketN length header,
/// so one setting governs the whole frame (big-endian by default). The
/// PacketN maximum applies to the whole PacketN payload, address included.
/// Decoding is zero-copy: the envelope's payload is a slice of the read
/// buffer. Encoding puts the PacketN header and the address (at most 14
/// bytes) in the frame's inline head and leaves the payload untouched.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use castnet_core::frame::{Decoder, Encoder};
/// use castnet_core::route::{Endpoint, Envelope, EnvelopeCodec};
///
/// let mut codec = EnvelopeCodec::default(); // 4-byte big-endian PacketN
/// let env = Envelope::new(Endpoint::new(1, 7), Endpoint::new(2, 300), Bytes::from_static(b"hi"));
/// let mut wire = BytesMut::new();
/// codec.encode(env.clone(), &mut wire).unwrap();
/// assert_eq!(&wire[..], b"\x00\x00\x00\x08\x01\x00\x07\x02\x01\x2chi");
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(env));
/// ```
#[derive(Debug, Clone)]
pub struct EnvelopeCodec {
    packet: PacketN,
}

impl Default for EnvelopeCodec {
    /// Over [`PacketN::default`]: a 4-byte big-endian header, 8 MiB maximum.
    fn default() -> Self {
        EnvelopeCodec {
            packet: PacketN::default(),
        }
    }
}

impl EnvelopeCodec {
    /// An envelope codec over `packet`. Refused if `packet`'s maximum frame
    /// length cannot hold the 6-byte address header.
    pub fn new(packet: PacketN) -> Result<Self, ConfigError> {
        if packet.max_frame_len() < ADDRESS_LEN as u64 {
            return Err(ConfigError::OutOfRange {
                what: "max_frame_len",
                detail: format!(
                    "{} bytes cannot hold the {ADDRESS_LEN}-byte envelope address",
                    packet.max_frame_len()
                ),
            });
        }
        Ok(EnvelopeCodec { packet })
    }

    /// The PacketN codec underneath.
    pub fn packet(&self) -> &PacketN {
        &self.packet
    }

    /// The largest envelope payload accepted: the PacketN maximum less the
    /// address header.
    pub fn max_payload_len(&self) -> u64 {
        self.packet.max_frame_len() - ADDRESS_LEN as u64
    }

    fn open(&self, frame: Option<Bytes>) -> Result<Option<Envelope>, FrameError> {
        let Some(mut frame) = frame else {
            return Ok(None);
        };
        if frame.len() < ADDRESS_LEN {
            return Err(FrameError::InvalidLength(
                "PacketN frame shorter than the 6-byte envelope address",
            ));
        }
        let order = self.packet.byte_order();
        let src_type = frame.get_u8();
        let src_no = get_u16(&mut frame, order);
        let dst_type = frame.get_u8();
        let dst_no = get_u16(&mut frame, order);
        Ok(Some(Envelope {
            src_type,
            src_no,
            dst_type,
            dst_no,
            payload: frame,
        }))
    }
}

fn get_u16(buf: &mut Bytes, order: ByteOrder) -> u16 {
    match order {
        ByteOrder::Little => buf.get_u16_le(),
        ByteOrder::Big => buf.get_u16(),
    }
}

fn u16_bytes(n: u16, order: ByteOrder) -> [u8; 2] {
    match order {
        ByteOrder::Little => n.to_le_bytes(),
        ByteOrder::Big => n.to_be_bytes(),
    }
}

impl Decoder for EnvelopeCodec {
    type Item = Envelope;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Envelope>, FrameError> {
        let frame = self.packet.decode(src)?;
        self.open(frame)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Envelope>, FrameError> {
        let frame = self.packet.decode_eof(src)?;
        self.open(frame)
    }
}

impl Encoder<Envelope> for EnvelopeCodec {
    fn encode_frame(&mut self, env: Envelope) -> Result<EncodedFrame, FrameError> {
        let max = self.max_payload_len();
        let len = env.payload.len() as u64;
        if len > max {
            return Err(FrameError::PayloadTooLarge { len, max });
        }
        let order = self.packet.byte_order();
        // The PacketN payload is the address plus the envelope's payload;
        // `len <= max` above keeps it within what PacketN accepts.
        let (length, n) = self.packet.head_for(env.payload.len() + ADDRESS_LEN)?;
        let mut head = [0u8; 8 + ADDRESS_LEN];
        head[..n].copy_from_slice(&length[..n]);
        head[n] = env.src_type;
        head[n + 1..n + 3].copy_from_slice(&u16_bytes(env.src_no, order));
        head[n + 3] = env.dst_type;
        head[n + 4..n + 6].copy_from_slice(&u16_bytes(env.dst_no, order));
        Ok(EncodedFrame::new(
            &head[..n + ADDRESS_LEN],
            env.payload,
            Bytes::new(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{HeaderLen, OversizePolicy};
    use proptest::prelude::*;

    fn env(payload: &'static [u8]) -> Envelope {
        Envelope::new(
            Endpoint::new(1, 0x0102),
            Endpoint::new(3, 0x0405),
            Bytes::from_static(payload),
        )
    }

    fn codec(header: HeaderLen, order: ByteOrder) -> EnvelopeCodec {
        EnvelopeCodec::new(PacketN::new(header, order)).unwrap()
    }

    #[test]
    fn address_numbers_follow_the_packet_byte_order() {
        let mut wire = BytesMut::new();
        codec(HeaderLen::Two, ByteOrder::Little)
            .encode(env(b"p"), &mut wire)
            .unwrap();
        assert_eq!(&wire[..], b"\x07\x00\x01\x02\x01\x03\x05\x04p");
        let mut wire = BytesMut::new();
        codec(HeaderLen::One, ByteOrder::Big)
            .encode(env(b""), &mut wire)
            .unwrap();
        assert_eq!(&wire[..], b"\x06\x01\x01\x02\x03\x04\x05");
    }

    #[test]
    fn encode_puts_header_and_address_inline_and_leaves_the_payload_untouched() {
        let payload = Bytes::from(vec![9u8; 100]);
        let e = Envelope::new(Endpoint::new(1, 1), Endpoint::new(2, 2), payload.clone());
        let frame = codec(HeaderLen::Eight, ByteOrder::Big)
            .encode_frame(e)
            .unwrap();
        assert_eq!(frame.head().len(), 8 + ADDRESS_LEN);
        assert_eq!(
            frame.body().as_ptr(),
            payload.as_ptr(),
            "payload not copied"
        );
        assert!(frame.tail().is_empty());
    }

    #[test]
    fn decode_slices_the_payload_out_of_the_read_buffer() {
        let mut c = EnvelopeCodec::default();
        let mut wire = BytesMut::new();
        c.encode(env(b"hello"), &mut wire).unwrap();
        let base = wire.as_ptr() as usize;
        let got = c.decode(&mut wire).unwrap().unwrap();
        assert_eq!(got.payload.as_ptr() as usize, base + 4 + ADDRESS_LEN);
        assert_eq!(got, env(b"hello"));
    }

    #[test]
    fn frame_shorter_than_the_address_is_an_invalid_length() {
        let mut c = EnvelopeCodec::default();
        let mut wire = BytesMut::from(&b"\x00\x00\x00\x05\x01\x02\x03\x04\x05"[..]);
        assert!(matches!(
            c.decode(&mut wire),
            Err(FrameError::InvalidLength(_))
        ));
        let mut empty = BytesMut::from(&b"\x00\x00\x00\x00"[..]);
        assert!(matches!(
            EnvelopeCodec::default().decode(&mut empty),
            Err(FrameError::InvalidLength(_))
        ));
    }

    #[test]
    fn oversize_payload_is_refused_before_anything_is_written() {
        let packet = PacketN::builder()
            .header_len(HeaderLen::One)
            .build()
            .unwrap();
        let mut c = EnvelopeCodec::new(packet).unwrap();
        assert_eq!(c.max_payload_len(), 255 - 6);
        let mut wire = BytesMut::new();
        let big = Envelope::new(
            Endpoint::new(0, 0),
            Endpoint::new(0, 0),
            Bytes::from(vec![0; 250]),
        );
        assert!(matches!(
            c.encode(big, &mut wire),
            Err(FrameError::PayloadTooLarge { len: 250, max: 249 })
        ));
        assert!(wire.is_empty());
        let fits = Envelope::new(
            Endpoint::new(0, 0),
            Endpoint::new(0, 0),
            Bytes::from(vec![0; 249]),
        );
        c.encode(fits, &mut wire).unwrap();
        assert_eq!(wire[0], 255);
    }

    #[test]
    fn packet_maximum_below_the_address_size_is_a_configuration_error() {
        let packet = PacketN::builder().max_frame_len(5).build().unwrap();
        assert!(EnvelopeCodec::new(packet).is_err());
        let packet = PacketN::builder().max_frame_len(6).build().unwrap();
        assert_eq!(EnvelopeCodec::new(packet).unwrap().max_payload_len(), 0);
    }

    #[test]
    fn discarded_oversize_frame_is_reported_and_decoding_goes_on() {
        let packet = PacketN::builder()
            .max_frame_len(8)
            .oversize_policy(OversizePolicy::Discard)
            .build()
            .unwrap();
        let mut c = EnvelopeCodec::new(packet).unwrap();
        let mut wire = BytesMut::from(&b"\x00\x00\x00\x0a0123456789"[..]);
        c.encode(env(b"ok"), &mut wire).unwrap();
        let err = c.decode(&mut wire).unwrap_err();
        assert!(err.is_recoverable());
        assert_eq!(c.decode(&mut wire).unwrap(), Some(env(b"ok")));
    }

    #[test]
    fn truncated_envelope_at_eof_is_an_error() {
        let mut c = EnvelopeCodec::default();
        let mut wire = BytesMut::new();
        c.encode(env(b"abc"), &mut wire).unwrap();
        wire.truncate(wire.len() - 1);
        assert!(matches!(
            c.decode_eof(&mut wire),
            Err(FrameError::UnexpectedEof { .. })
        ));
    }

    #[test]
    fn reply_swaps_source_and_destination() {
        let e = env(b"q");
        let r = e.reply(Bytes::from_static(b"a"));
        assert_eq!((r.src(), r.dst()), (e.dst(), e.src()));
    }

    fn header() -> impl Strategy<Value = HeaderLen> {
        prop_oneof![
            Just(HeaderLen::One),
            Just(HeaderLen::Two),
            Just(HeaderLen::Four),
            Just(HeaderLen::Eight)
        ]
    }

    fn envelope() -> impl Strategy<Value = Envelope> {
        (
            any::<(u8, u16, u8, u16)>(),
            proptest::collection::vec(any::<u8>(), 0..200),
        )
            .prop_map(|((st, sn, dt, dn), payload)| {
                Envelope::new(Endpoint::new(st, sn), Endpoint::new(dt, dn), payload.into())
            })
    }

    proptest! {
        #[test]
        fn envelopes_round_trip_under_any_chunking(
            header in header(),
            little in any::<bool>(),
            envs in proptest::collection::vec(envelope(), 0..8),
            cuts in proptest::collection::vec(1usize..40, 0..50),
        ) {
            let order = if little { ByteOrder::Little } else { ByteOrder::Big };
            let mut c = codec(header, order);
            let mut wire = BytesMut::new();
            for e in &envs {
                c.encode(e.clone(), &mut wire).unwrap();
            }
            let mut input = wire.freeze();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut cuts = cuts.into_iter();
            while !input.is_empty() {
                let n = cuts.next().unwrap_or(input.len()).min(input.len());
                buf.extend_from_slice(&input.split_to(n));
                while let Some(e) = c.decode(&mut buf).unwrap() {
                    got.push(e);
                }
            }
            prop_assert_eq!(c.decode_eof(&mut buf).unwrap(), None);
            prop_assert_eq!(got, envs);
        }
    }
}
