//! The byte layout of a fuzz input, read the same way by the fuzz targets and
//! by the seed corpus replay.
//!
//! Every byte string is a valid input: a field past the end reads as zero. A
//! target reads its configuration first (its own fields, documented on the
//! target), then [`Input::reads_and_stream`]:
//!
//! ```text
//! config..  k  size_1 .. size_k  stream..
//! ```
//!
//! `k` is one byte, each size is one byte (the length of one read, cycled
//! until the stream is fed; 0 is a wake-up with nothing new), and the stream
//! is every byte after them. Multi-byte numbers are little-endian.
//!
//! The layout is ours rather than `arbitrary`'s so that seeds can be written
//! by hand and keep their meaning across dependency updates.

/// A cursor over a fuzz input.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        taken
    }

    /// `N` bytes, zero-filled past the end.
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut raw = [0; N];
        let got = self.bytes(N);
        raw[..got.len()].copy_from_slice(got);
        raw
    }

    /// One byte, or 0 past the end.
    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    /// A little-endian `u16`; missing bytes are 0.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    /// A little-endian `u32`; missing bytes are 0.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    /// A little-endian `u64`; missing bytes are 0.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// The read sizes and the stream: everything left of the input.
    pub fn reads_and_stream(mut self) -> (Vec<usize>, &'a [u8]) {
        let k = usize::from(self.u8());
        let sizes = self.bytes(k).iter().map(|&s| usize::from(s)).collect();
        (sizes, self.data)
    }
}
