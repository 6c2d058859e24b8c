//! The [`Runtime`] trait: what a runtime binding gives the engine.
//!
//! The engine needs little from a runtime: spawning a task, a timer, async
//! readiness on a TCP or Unix stream and listener, and a clock. A binding
//! (castnet-tokio, castnet-smol) implements these traits for its own types in
//! a few dozen lines; everything else (handles, servers, channels, the
//! connection owner and the loop that drives it) is the engine's.

use castnet_core::hub::PeerAddr;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};
use std::time::Instant;

/// A runtime the engine can run on. Cheap to clone (usually a unit struct).
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A connected, non-blocking TCP stream registered with the runtime.
    type TcpStream: AsyncStream;
    /// A connected, non-blocking Unix stream registered with the runtime.
    type UnixStream: AsyncStream;
    /// A TCP listener registered with the runtime.
    type TcpListener: AsyncListener<Stream = Self::TcpStream>;
    /// A Unix-socket listener registered with the runtime.
    type UnixListener: AsyncListener<Stream = Self::UnixStream>;
    /// A resettable timer.
    type Timer: AsyncTimer;

    /// Runs `future` to completion in the background.
    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// A timer that fires at `at`.
    fn timer(&self, at: Instant) -> Self::Timer;

    /// Registers a listening std TCP socket (already non-blocking).
    fn wrap_tcp_listener(&self, listener: std::net::TcpListener) -> io::Result<Self::TcpListener>;

    /// Registers a listening std Unix socket (already non-blocking).
    fn wrap_unix_listener(
        &self,
        listener: std::os::unix::net::UnixListener,
    ) -> io::Result<Self::UnixListener>;

    /// Connects to a TCP server.
    fn connect_tcp(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::TcpStream>> + Send;

    /// Connects to a Unix-socket server.
    fn connect_unix(
        &self,
        path: &Path,
    ) -> impl Future<Output = io::Result<Self::UnixStream>> + Send;

    /// Lets every other runnable task run once before this one goes on.
    fn yield_now(&self) -> impl Future<Output = ()> + Send;

    /// The current time. Overridable so a simulated runtime controls time.
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A non-blocking byte stream with readiness, as the connection loop uses
/// it.
pub trait AsyncStream: Send + Sync + Unpin + 'static {
    /// Appends what the socket has to `buf`'s spare capacity (reserving
    /// nothing: the caller made room). `Ready(Ok(0))` is end of stream;
    /// `Pending` registers the task for readability.
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut bytes::BytesMut,
    ) -> Poll<io::Result<usize>>;

    /// Ready when the socket may be readable, without reading: a connection
    /// asks for a read buffer only after this.
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Ready when the socket may take writes.
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Writes what the socket takes now; `WouldBlock` when it takes nothing.
    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;

    /// Ends the write side (sends FIN) once everything was written.
    fn shutdown_write(&self) -> io::Result<()>;

    /// The socket, for options.
    fn socket(&self) -> socket2::SockRef<'_>;
}

/// A listener that accepts connections with readiness.
pub trait AsyncListener: Send + Sync + 'static {
    /// The accepted connections' type.
    type Stream: AsyncStream;

    /// Accepts one connection, or registers the task for the next one.
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Stream, PeerAddr)>>;
}

/// A timer the connection loop re-arms as its deadline moves.
pub trait AsyncTimer: Send + Unpin + 'static {
    /// Fires at `at` instead.
    fn reset(&mut self, at: Instant);
    /// Ready once the deadline passed; registers the task otherwise.
    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

/// A TCP or Unix stream of runtime `R`.
pub(crate) enum Stream<R: Runtime> {
    Tcp(R::TcpStream),
    Unix(R::UnixStream),
}

/// Delegates to whichever stream this is.
macro_rules! either {
    ($stream:expr, $s:ident => $body:expr) => {
        match $stream {
            Stream::Tcp($s) => $body,
            Stream::Unix($s) => $body,
        }
    };
}

/// The connection loop drives any [`AsyncStream`]: the plain socket today.
/// A layer that transforms the byte stream (TLS: rustls is itself sans-IO)
/// implements the same trait over a [`Stream`] (plaintext out of
/// `poll_read_buf`, plaintext into `try_write_vectored`, ciphertext to and
/// from the socket inside) and the same loop drives it, for every runtime:
/// no second driver.
impl<R: Runtime> AsyncStream for Stream<R> {
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut bytes::BytesMut,
    ) -> Poll<io::Result<usize>> {
        either!(self, s => s.poll_read_buf(cx, buf))
    }

    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => s.poll_read_ready(cx))
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, s => s.poll_write_ready(cx))
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        either!(self, s => s.try_write_vectored(bufs))
    }

    fn shutdown_write(&self) -> io::Result<()> {
        either!(self, s => s.shutdown_write())
    }

    fn socket(&self) -> socket2::SockRef<'_> {
        either!(self, s => s.socket())
    }
}

/// A TCP or Unix listener of runtime `R`.
pub(crate) enum Listener<R: Runtime> {
    Tcp(R::TcpListener),
    Unix {
        listener: R::UnixListener,
        /// Removed after the listener is closed (fields drop in order).
        _path: UnixPath,
    },
}

impl<R: Runtime> Listener<R> {
    pub(crate) fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Stream<R>, PeerAddr)>> {
        match self {
            Listener::Tcp(l) => l.poll_accept(cx).map_ok(|(s, a)| (Stream::Tcp(s), a)),
            Listener::Unix { listener, .. } => listener
                .poll_accept(cx)
                .map_ok(|(s, a)| (Stream::Unix(s), a)),
        }
    }
}

/// A Unix listener's socket file, removed when the listener goes, however
/// the server ends: stopped, never served, `serve` failing, or dropped.
pub(crate) struct UnixPath(pub(crate) std::path::PathBuf);

impl Drop for UnixPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
