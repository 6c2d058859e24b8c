//! [`SpareBuffers`]: the buffers a runtime shares among the sessions that
//! one thread drives.

use super::packed::PackedFrames;
use bytes::BytesMut;

/// Buffers a runtime keeps once per worker thread (or event loop) and lends
/// to the session it is driving, instead of each session keeping its own
/// between reads and writes, as gnet's and gev's loops share one read
/// buffer.
///
/// Before reading, or before a turn that may queue replies,
/// [`Session::borrow_buffers`](super::Session::borrow_buffers) takes what
/// the session lacks: a read buffer and the memory of a packed run of small
/// frames. Once the turn's frames are handled and its writes done,
/// [`Session::return_buffers`](super::Session::return_buffers) gives back
/// what the session no longer needs. A session holding a partial frame, or
/// frames still waiting to be written, keeps the buffers holding them.
///
/// Without it, a session keeps its buffers for
/// [`keep_buffers`](super::SessionConfig::keep_buffers) after its last
/// traffic. Both avoid an allocation per read; sharing also means that many
/// sessions, each busy for a moment, do not each leave buffers behind.
///
/// ```
/// use castnet_core::session::SpareBuffers;
/// use castnet_core::{PacketN, Session, SessionConfig};
/// use std::time::Instant;
///
/// let now = Instant::now();
/// let mut spare = SpareBuffers::new(); // one per worker thread
/// let mut s = Session::new(PacketN::default(), SessionConfig::default(), now);
/// s.borrow_buffers(&mut spare);
/// s.read_buf().extend_from_slice(&[0, 0, 0, 2, b'h', b'i']);
/// s.on_read(6, now);
/// while let Some(event) = s.poll_event() {
///     if let castnet_core::Event::Frame(frame) = event {
///         s.reply(frame, now).unwrap(); // echo
///     }
/// }
/// while s.wants_write() {
///     let n = s.chunk().len(); // the socket takes it all
///     s.on_written(n, now);
/// }
/// s.return_buffers(&mut spare);
/// assert_eq!(s.read_buffer_capacity(), 0); // the session holds no buffer
/// assert!(spare.capacity() > 0); // the next session reuses them
/// ```
#[derive(Debug, Default)]
pub struct SpareBuffers {
    pub(super) read: Option<BytesMut>,
    pub(super) run: PackedFrames,
}

impl SpareBuffers {
    /// None held yet: the first sessions allocate them.
    #[must_use]
    pub const fn new() -> Self {
        SpareBuffers {
            read: None,
            run: PackedFrames::new(),
        }
    }

    /// Bytes of buffer held, ready to lend.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.read.as_ref().map_or(0, BytesMut::capacity) + self.run.capacity()
    }
}
