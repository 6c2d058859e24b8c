//! Socket setup through `socket2`: options applied to listeners and
//! connections, and listeners bound as std sockets for a runtime to wrap.

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::time::Duration;

/// Socket options applied to listeners and to every connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SocketOptions {
    /// `TCP_NODELAY` on connections (default `true`: castnet batches its
    /// own writes, so Nagle's algorithm only adds latency).
    pub nodelay: bool,
    /// TCP keepalive idle time (default `None`: off).
    pub keepalive: Option<Duration>,
    /// `SO_REUSEADDR` on listeners (default `true`).
    pub reuse_address: bool,
    /// `SO_REUSEPORT` on listeners (default `false`): several servers may
    /// bind the same port and the kernel spreads connections between them.
    pub reuse_port: bool,
    /// Listen backlog (default 1024).
    pub backlog: u32,
    /// `SO_RCVBUF` (default `None`: the OS default).
    pub recv_buffer_size: Option<usize>,
    /// `SO_SNDBUF` (default `None`: the OS default).
    pub send_buffer_size: Option<usize>,
    /// How long a closing connection keeps reading, and discarding, what
    /// its peer still sends before the socket closes (default 2 s;
    /// `Duration::ZERO` closes at once).
    ///
    /// This applies after an orderly close
    /// ([`CloseReason::is_orderly`](castnet_core::session::CloseReason::is_orderly):
    /// a local close or a decode error, the queue drained, a FIN sent)
    /// while the peer had not ended its side. Closing a TCP socket with unread input resets the
    /// connection, and the reset throws away replies still in the kernel's
    /// send buffer, such as the echoes before a malformed frame, to a peer
    /// that writes everything before it reads. The drain ends at the peer's
    /// end of stream, after this long, or after 8 MiB, whichever comes
    /// first; the session itself is closed already (its `on_close` has run
    /// and `Server::stop` does not wait for the drain).
    pub close_drain: Duration,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            nodelay: true,
            keepalive: None,
            reuse_address: true,
            reuse_port: false,
            backlog: 1024,
            recv_buffer_size: None,
            send_buffer_size: None,
            close_drain: Duration::from_secs(2),
        }
    }
}

impl SocketOptions {
    fn apply_buffers(&self, sock: &SockRef<'_>) -> io::Result<()> {
        if let Some(n) = self.recv_buffer_size {
            sock.set_recv_buffer_size(n)?;
        }
        if let Some(n) = self.send_buffer_size {
            sock.set_send_buffer_size(n)?;
        }
        Ok(())
    }

    /// Applies the per-connection options to a TCP connection.
    pub(crate) fn apply_tcp(&self, sock: &SockRef<'_>) -> io::Result<()> {
        sock.set_tcp_nodelay(self.nodelay)?;
        if let Some(idle) = self.keepalive {
            sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(idle))?;
        }
        self.apply_buffers(sock)
    }

    /// A non-blocking TCP listener bound to `addr` with these options.
    pub(crate) fn bind_tcp(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(self.reuse_address)?;
        if self.reuse_port {
            socket.set_reuse_port(true)?;
        }
        self.apply_buffers(&SockRef::from(&socket))?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(self.backlog.min(i32::MAX as u32) as i32)?;
        Ok(socket.into())
    }

    /// A non-blocking Unix-socket listener at `path`, with these options'
    /// backlog.
    pub(crate) fn bind_unix(&self, path: &std::path::Path) -> io::Result<UnixListener> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        socket.bind(&socket2::SockAddr::unix(path)?)?;
        socket.listen(self.backlog.min(i32::MAX as u32) as i32)?;
        Ok(socket.into())
    }
}

/// Reads what `socket` has into `buf`'s spare capacity, without zeroing it
/// first, and appends it: one `recv(2)`. `Ok(0)` is end of stream; a
/// non-blocking socket with nothing to read gives `WouldBlock`. For runtime
/// bindings whose sockets offer no `BytesMut`-appending read of their own.
///
/// Reading through `std::io::Read` instead needs initialised memory: zeroing
/// the room first was 38% of castnet-smol's instructions on 64-byte echo
/// (callgrind), hence this function's one `unsafe` block.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use std::io::Write;
/// use std::os::unix::net::UnixStream;
///
/// let (mut a, b) = UnixStream::pair()?;
/// a.write_all(b"ping")?;
/// let mut buf = bytes::BytesMut::with_capacity(64);
/// let n = castnet_engine::recv_buf(socket2::SockRef::from(&b), &mut buf)?;
/// assert_eq!((n, &buf[..]), (4, &b"ping"[..]));
/// # Ok(())
/// # }
/// ```
#[allow(unsafe_code)] // one `set_len`, proved below
pub fn recv_buf(socket: SockRef<'_>, buf: &mut bytes::BytesMut) -> io::Result<usize> {
    let n = socket.recv(buf.spare_capacity_mut())?;
    // SAFETY: `recv` hands the spare capacity to recv(2), which wrote `n`
    // bytes at its start (socket2 writes no uninitialised bytes and returns
    // the system call's count, at most the slice's length). So the first
    // `len + n` bytes are initialised and within capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}
