//! Socket setup through `socket2`, and the one stream type a connection task
//! drives (TCP or Unix).

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

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

    /// Applies the per-connection options to a TCP stream.
    pub(crate) fn apply_tcp(&self, stream: &TcpStream) -> io::Result<()> {
        let sock = SockRef::from(stream);
        sock.set_tcp_nodelay(self.nodelay)?;
        if let Some(idle) = self.keepalive {
            sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(idle))?;
        }
        self.apply_buffers(&sock)
    }

    /// A TCP listener bound to `addr` with these options.
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
        TcpListener::from_std(socket.into())
    }

    /// A Unix-socket listener at `path`, with these options' backlog.
    pub(crate) fn bind_unix(&self, path: &std::path::Path) -> io::Result<UnixListener> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        socket.bind(&socket2::SockAddr::unix(path)?)?;
        socket.listen(self.backlog.min(i32::MAX as u32) as i32)?;
        UnixListener::from_std(socket.into())
    }
}

/// A connected stream a connection task drives with readiness and
/// non-blocking `try_*` calls.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Reads into `buf`'s spare capacity (appending), as `AsyncRead::poll_read`
    /// does, so a short read clears the readiness without another syscall.
    pub(crate) fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut bytes::BytesMut,
    ) -> Poll<io::Result<usize>> {
        match self {
            Stream::Tcp(s) => tokio_util::io::poll_read_buf(Pin::new(s), cx, buf),
            Stream::Unix(s) => tokio_util::io::poll_read_buf(Pin::new(s), cx, buf),
        }
    }

    pub(crate) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => s.poll_read_ready(cx),
            Stream::Unix(s) => s.poll_read_ready(cx),
        }
    }

    pub(crate) fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Tcp(s) => s.poll_write_ready(cx),
            Stream::Unix(s) => s.poll_write_ready(cx),
        }
    }

    pub(crate) fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_write_vectored(bufs),
            Stream::Unix(s) => s.try_write_vectored(bufs),
        }
    }

    /// Half-closes the write side (sends FIN) once everything is written.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => SockRef::from(s).shutdown(std::net::Shutdown::Write),
            Stream::Unix(s) => SockRef::from(s).shutdown(std::net::Shutdown::Write),
        }
    }
}
