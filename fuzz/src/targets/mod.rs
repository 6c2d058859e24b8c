//! One function per fuzz target. Each reads its configuration from the input,
//! as its doc says, then the reads and the stream (see [`crate::input`]).
//! Configurations a builder refuses end the run quietly: refusing them, with
//! a `ConfigError` rather than a panic, is what is being checked.

mod delimiter;
mod envelope;
mod fixed;
mod length_field;
mod lines;
mod packet;
mod prefixed;
mod raw;
mod session_ops;
mod varint;

pub use delimiter::decode_delimiter;
pub use envelope::decode_envelope;
pub use fixed::decode_fixed;
pub use length_field::decode_length_field;
pub use lines::decode_lines;
pub use packet::decode_packet;
pub use raw::decode_raw;
pub use session_ops::session_ops;
pub use varint::decode_varint;

use castnet_core::frame::{ByteOrder, HeaderLen, OversizePolicy, PacketN};

/// Whether bit `n` of `flags` is set.
fn bit(flags: u8, n: u32) -> bool {
    flags & (1 << n) != 0
}

/// Little-endian when the flag is set, big-endian otherwise.
fn order(little: bool) -> ByteOrder {
    if little {
        ByteOrder::Little
    } else {
        ByteOrder::Big
    }
}

/// `Discard` when the flag is set, `Fail` otherwise.
fn policy(discard: bool) -> OversizePolicy {
    if discard {
        OversizePolicy::Discard
    } else {
        OversizePolicy::Fail
    }
}

/// The PacketN configured by a flags byte (bits 0–1: header of 1, 2, 4 or 8
/// bytes; bit 2: little-endian; bit 3: `Discard`; other bits ignored) and a
/// maximum frame length.
fn packet_codec(flags: u8, max: u64) -> PacketN {
    let header = [
        HeaderLen::One,
        HeaderLen::Two,
        HeaderLen::Four,
        HeaderLen::Eight,
    ];
    PacketN::builder()
        .header_len(header[usize::from(flags & 0b11)])
        .byte_order(order(bit(flags, 2)))
        .max_frame_len(max)
        .oversize_policy(policy(bit(flags, 3)))
        .build()
        .expect("every header length here is supported")
}
