//! netbench's own framing (PacketN's fixed headers, or a LEB128 varint
//! prefix) and payload layout.
//!
//! netbench does not use castnet's codec on purpose: it is the oracle that
//! checks servers built on that codec, so it must not share its bugs.
//!
//! Every payload starts with a 20-byte stamp (little-endian `seq: u64`,
//! `sent_ns: u64`, `sender: u32`) followed by a filler that depends on the
//! sender. A payload shorter than the stamp carries its first bytes only.
//! Rebuilding the expected bytes from `(sender, seq, sent_ns)` lets the
//! verifier compare a received payload byte for byte without keeping a copy
//! of what was sent.

use crate::flags::{Endian, Header};
use bytes::{Buf, BufMut, BytesMut};

/// Bytes of the stamp at the start of every payload.
pub(crate) const STAMP_LEN: usize = 20;

/// The length header: a fixed size and byte order, or a varint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `head` bytes, big- or little-endian.
    Fixed { head: usize, big: bool },
    /// Unsigned LEB128: 7 bits per byte, low group first, high bit set on
    /// every byte but the last (`--endian` does not apply).
    Varint,
}

/// The most bytes a LEB128 `u64` takes.
const VARINT_MAX: usize = 10;

impl Framing {
    pub(crate) fn new(header: Header, endian: Endian) -> Self {
        match header {
            Header::Fixed(header) => Framing::Fixed {
                head: header.bytes(),
                big: endian == Endian::Be,
            },
            Header::Varint => Framing::Varint,
        }
    }

    /// The header's size in front of a payload of `len` bytes, as netbench
    /// writes it (a varint in its shortest form).
    pub(crate) fn head_len(self, len: usize) -> usize {
        match self {
            Framing::Fixed { head, .. } => head,
            Framing::Varint => {
                let mut n = 1;
                let mut rest = len as u64 >> 7;
                while rest > 0 {
                    n += 1;
                    rest >>= 7;
                }
                n
            }
        }
    }

    /// Appends the header for a payload of `len` bytes. The caller has
    /// checked that `len` fits the header.
    pub(crate) fn put_head(self, len: usize, dst: &mut BytesMut) {
        match self {
            Framing::Fixed { head, big: true } => dst.put_uint(len as u64, head),
            Framing::Fixed { head, big: false } => dst.put_uint_le(len as u64, head),
            Framing::Varint => {
                let mut rest = len as u64;
                while rest >= 0x80 {
                    dst.put_u8(rest as u8 | 0x80);
                    rest >>= 7;
                }
                dst.put_u8(rest as u8);
            }
        }
    }

    /// The payload length declared at the start of `src` and the header's
    /// size, once the whole header is there. A varint that does not fit in
    /// 64 bits reads as `u64::MAX`, which no expected length equals.
    pub(crate) fn peek_len(self, src: &[u8]) -> Option<(u64, usize)> {
        match self {
            Framing::Fixed { head, big } => {
                let mut bytes = src.get(..head)?;
                let len = if big {
                    bytes.get_uint(head)
                } else {
                    bytes.get_uint_le(head)
                };
                Some((len, head))
            }
            Framing::Varint => {
                let mut len: u64 = 0;
                for (i, &byte) in src.iter().take(VARINT_MAX).enumerate() {
                    let group = u64::from(byte & 0x7f);
                    if i == VARINT_MAX - 1 && byte > 1 {
                        return Some((u64::MAX, VARINT_MAX));
                    }
                    len |= group << (7 * i);
                    if byte < 0x80 {
                        return Some((len, i + 1));
                    }
                }
                None
            }
        }
    }
}

/// What identifies a frame: who sent it, its place in that sender's
/// sequence, and when it was sent (nanoseconds on netbench's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) seq: u64,
    pub(crate) sent_ns: u64,
    pub(crate) sender: u32,
}

impl Stamp {
    fn to_bytes(self) -> [u8; STAMP_LEN] {
        let mut out = [0u8; STAMP_LEN];
        out[..8].copy_from_slice(&self.seq.to_le_bytes());
        out[8..16].copy_from_slice(&self.sent_ns.to_le_bytes());
        out[16..].copy_from_slice(&self.sender.to_le_bytes());
        out
    }

    /// Reads the stamp of a payload at least [`STAMP_LEN`] long.
    pub(crate) fn read(payload: &[u8]) -> Option<Stamp> {
        let mut stamp = payload.get(..STAMP_LEN)?;
        Some(Stamp {
            seq: stamp.get_u64_le(),
            sent_ns: stamp.get_u64_le(),
            sender: stamp.get_u32_le(),
        })
    }
}

/// One sender's payload with an empty stamp: written with a stamp in front,
/// compared against on receipt.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    bytes: Box<[u8]>,
}

impl Template {
    pub(crate) fn new(sender: u32, len: usize) -> Self {
        let bytes = (0..len)
            .map(|i| {
                if i < STAMP_LEN {
                    0
                } else {
                    // Any pattern that differs between senders and positions
                    // will do; this one never repeats within 256 bytes.
                    (i as u32)
                        .wrapping_mul(167)
                        .wrapping_add(sender.wrapping_mul(29))
                        .wrapping_add(0x3b) as u8
                }
            })
            .collect();
        Template { bytes }
    }

    fn stamped(&self) -> usize {
        self.bytes.len().min(STAMP_LEN)
    }

    /// Appends one whole frame (header, stamp, filler) to `dst`.
    pub(crate) fn put_frame(&self, framing: Framing, stamp: Stamp, dst: &mut BytesMut) {
        let k = self.stamped();
        dst.reserve(framing.head_len(self.bytes.len()) + self.bytes.len());
        framing.put_head(self.bytes.len(), dst);
        dst.extend_from_slice(&stamp.to_bytes()[..k]);
        dst.extend_from_slice(&self.bytes[k..]);
    }

    /// True when `payload` is exactly the payload sent with `stamp`.
    pub(crate) fn matches(&self, payload: &[u8], stamp: Stamp) -> bool {
        let k = self.stamped();
        payload.len() == self.bytes.len()
            && payload[..k] == stamp.to_bytes()[..k]
            && payload[k..] == self.bytes[k..]
    }

    /// True when everything after the stamp is this sender's filler.
    pub(crate) fn filler_matches(&self, payload: &[u8]) -> bool {
        let k = self.stamped();
        payload.len() == self.bytes.len() && payload[k..] == self.bytes[k..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use castnet_core::frame::HeaderLen;

    const HEADERS: [Header; 5] = [
        Header::Fixed(HeaderLen::One),
        Header::Fixed(HeaderLen::Two),
        Header::Fixed(HeaderLen::Four),
        Header::Fixed(HeaderLen::Eight),
        Header::Varint,
    ];

    #[test]
    fn header_round_trips_in_every_size_and_order() {
        for header in HEADERS {
            for endian in [Endian::Be, Endian::Le] {
                let framing = Framing::new(header, endian);
                let mut buf = BytesMut::new();
                framing.put_head(200, &mut buf);
                assert_eq!(buf.len(), framing.head_len(200));
                assert_eq!(framing.peek_len(&buf), Some((200, buf.len())));
                assert_eq!(framing.peek_len(&buf[..buf.len() - 1]), None);
            }
        }
    }

    #[test]
    fn varint_headers_are_leb128_whatever_the_endian() {
        for endian in [Endian::Be, Endian::Le] {
            let framing = Framing::new(Header::Varint, endian);
            for (len, wire) in [
                (0usize, &[0x00][..]),
                (127, &[0x7f]),
                (128, &[0x80, 0x01]),
                (16_383, &[0xff, 0x7f]),
                (16_384, &[0x80, 0x80, 0x01]),
            ] {
                let mut buf = BytesMut::new();
                framing.put_head(len, &mut buf);
                assert_eq!(&buf[..], wire, "{len}");
                assert_eq!(framing.head_len(len), wire.len());
            }
            // A padded prefix is read as its value; an overflowing one as
            // a length nothing expects.
            assert_eq!(framing.peek_len(&[0x80, 0x00]), Some((0, 2)));
            assert_eq!(framing.peek_len(&[0xff; 10]), Some((u64::MAX, 10)));
            assert_eq!(framing.peek_len(&[0x80; 9]), None);
        }
    }

    #[test]
    fn header_byte_order_is_the_one_on_the_wire() {
        let mut be = BytesMut::new();
        Framing::new(HeaderLen::Four.into(), Endian::Be).put_head(0x0102, &mut be);
        assert_eq!(&be[..], [0, 0, 1, 2]);
        let mut le = BytesMut::new();
        Framing::new(HeaderLen::Two.into(), Endian::Le).put_head(0x0102, &mut le);
        assert_eq!(&le[..], [2, 1]);
    }

    #[test]
    fn a_written_frame_matches_its_stamp_and_nothing_else() {
        let framing = Framing::new(HeaderLen::Four.into(), Endian::Be);
        let stamp = Stamp {
            seq: 7,
            sent_ns: 123_456,
            sender: 3,
        };
        let template = Template::new(3, 64);
        let mut wire = BytesMut::new();
        template.put_frame(framing, stamp, &mut wire);
        assert_eq!(wire.len(), 68);
        assert_eq!(framing.peek_len(&wire), Some((64, 4)));
        let payload = &wire[4..];
        assert!(template.matches(payload, stamp));
        assert_eq!(Stamp::read(payload), Some(stamp));
        assert!(!template.matches(payload, Stamp { seq: 8, ..stamp }));
        assert!(!Template::new(4, 64).filler_matches(payload));

        for i in 0..payload.len() {
            let mut flipped = payload.to_vec();
            flipped[i] ^= 0x01;
            assert!(!template.matches(&flipped, stamp), "flip at {i} unnoticed");
        }
    }

    #[test]
    fn payloads_shorter_than_the_stamp_carry_its_prefix() {
        let template = Template::new(0, 8);
        let stamp = Stamp {
            seq: 0x0102_0304,
            sent_ns: 99,
            sender: 0,
        };
        let mut wire = BytesMut::new();
        template.put_frame(
            Framing::new(HeaderLen::One.into(), Endian::Be),
            stamp,
            &mut wire,
        );
        assert_eq!(&wire[..], [8, 4, 3, 2, 1, 0, 0, 0, 0]);
        assert!(template.matches(&wire[1..], stamp));
        assert!(!template.matches(&wire[1..], Stamp { seq: 5, ..stamp }));

        let empty = Template::new(0, 0);
        let mut wire = BytesMut::new();
        empty.put_frame(
            Framing::new(HeaderLen::Two.into(), Endian::Le),
            stamp,
            &mut wire,
        );
        assert_eq!(&wire[..], [0, 0]);
        assert!(empty.matches(&[], stamp));
    }
}
