//! One function per fuzz target. Each reads its configuration from the input,
//! as its doc says, then the reads and the stream (see [`crate::input`]).

mod packet;

pub use packet::decode_packet;
