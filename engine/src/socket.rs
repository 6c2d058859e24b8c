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
