//! # castnet-tokio
//!
//! castnet on Tokio: servers ([`Server`]), clients ([`dial`]) and session
//! handles ([`Session`]) from `castnet-engine`, run on Tokio's tasks, timers
//! and sockets, with tokio-util interop ([`codec::Compat`]).
//!
//! This crate is the binding only: [`Tokio`] implements the engine's
//! [`Runtime`] trait, and everything else is the
//! engine's API under this crate's name. The same program runs on smol with
//! `castnet-smol` by changing the crate name.
//!
//! ## When to pick it
//!
//! Your program already runs on Tokio, or you want the widest ecosystem
//! (tokio-util codecs through [`codec::Compat`], `tokio::time::pause` in
//! tests, which castnet's timers follow). On smol pick `castnet-smol`;
//! without an async runtime, `castnet-std`.
//!
//! ## A first server
//!
//! ```no_run
//! use bytes::Bytes;
//! use castnet_tokio::{handler_fn, Config, Conn, Server};
//! use castnet_tokio::core::PacketN;
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let server = Server::bind("127.0.0.1:7000", Config::default()).await?;
//!     server
//!         .serve(handler_fn(|cx: &mut Conn<'_, PacketN>, frame: Bytes| {
//!             let _ = cx.send(frame); // echo; reading pauses while the peer lags
//!         }))
//!         .await
//! }
//! ```
//!
//! Each connection runs on its own Tokio task; the handler's callbacks run
//! there, and a reply made with [`Conn::send`] goes straight into the
//! connection's send queue.
//!
//! ## A first client
//!
//! ```no_run
//! use castnet_tokio::{dial, Config};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let session = dial("127.0.0.1:7000", Config::default()).await?;
//!     session.async_send("hello").await?; // Ok once every byte reached the OS
//!     let echo = session.recv().await; // Some(frame), or None once closed
//!     println!("{echo:?}");
//!     session.close(); // graceful: queued frames are written first
//!     Ok(())
//! }
//! ```
//!
//! ## Features
//!
//! `json`, `msgpack` and `xml` (none on by default) turn on castnet-core's
//! typed messages and re-export them here: [`Conn::send`], a handle's sends
//! and every broadcast take `Json(value)`, `MsgPack(value)` or
//! `Xml(value)`, and `frame.json::<T>()` or a `Typed` codec reads them.
//!
//! ## Where to go next
//!
//! - [`Server`] (registry, channels, broadcasts, `stats`, graceful `stop`),
//!   [`Session`] (the handle: `send`, `try_send`, `async_send`, `recv`,
//!   `close_reason`), [`Handler`] (callbacks, per-session state, timers,
//!   the server tick), [`dial_handler`] (a client run by a handler),
//!   [`Config`] (codec, limits, timeouts, peer heartbeats).
//! - The `demo` example of castnet-examples makes every `Server` call the
//!   README lists: `cargo run --release -p castnet-examples --bin demo`;
//!   `custom_codec` and `p2p_router` are tours on castnet-tokio too.
//! - The repository's `docs/architecture.md`, `docs/features.md` and
//!   `docs/security-and-limits.md`. Logs go through `tracing`: install a
//!   subscriber (the README's "Logs" section) to see them.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codec;

pub use castnet_engine::*;

castnet_engine::runtime_api!(Tokio);
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// The Tokio runtime, for the engine: tasks go to `tokio::spawn`, timers are
/// Tokio's (so `tokio::time::pause` holds for castnet too), sockets are
/// `tokio::net`'s.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

/// A Tokio socket or timer, as the engine drives it.
#[derive(Debug)]
pub struct Io<T>(T);

impl Runtime for Tokio {
    type TcpStream = Io<TcpStream>;
    type UnixStream = Io<UnixStream>;
    type TcpListener = Io<TcpListener>;
    type UnixListener = Io<UnixListener>;
    type Timer = Io<Pin<Box<tokio::time::Sleep>>>;

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(future);
    }

    fn timer(&self, at: Instant) -> Self::Timer {
        Io(Box::pin(tokio::time::sleep_until(at.into())))
    }

    fn wrap_tcp_listener(&self, listener: std::net::TcpListener) -> io::Result<Self::TcpListener> {
        TcpListener::from_std(listener).map(Io)
    }

    fn wrap_unix_listener(
        &self,
        listener: std::os::unix::net::UnixListener,
    ) -> io::Result<Self::UnixListener> {
        UnixListener::from_std(listener).map(Io)
    }

    async fn connect_tcp(&self, addr: SocketAddr) -> io::Result<Self::TcpStream> {
        TcpStream::connect(addr).await.map(Io)
    }

    async fn connect_unix(&self, path: &Path) -> io::Result<Self::UnixStream> {
        UnixStream::connect(path).await.map(Io)
    }

    async fn yield_now(&self) {
        tokio::task::yield_now().await
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

impl AsyncTimer for Io<Pin<Box<tokio::time::Sleep>>> {
    fn reset(&mut self, at: Instant) {
        self.0.as_mut().reset(at.into());
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

/// Tokio's TCP and Unix streams have the same non-blocking API.
macro_rules! tokio_stream {
    ($stream:ty) => {
        impl AsyncStream for Io<$stream> {
            /// Through `poll_read`: Tokio takes a read that did not fill the
            /// buffer as proof that the socket is drained, so a turn costs no
            /// extra `recv` that would only say "would block".
            fn poll_read_buf(
                &mut self,
                cx: &mut Context<'_>,
                buf: &mut bytes::BytesMut,
            ) -> Poll<io::Result<usize>> {
                tokio_util::io::poll_read_buf(Pin::new(&mut self.0), cx, buf)
            }

            fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.0.poll_read_ready(cx)
            }

            fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.0.poll_write_ready(cx)
            }

            fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
                self.0.try_write_vectored(bufs)
            }

            fn shutdown_write(&self) -> io::Result<()> {
                self.socket().shutdown(std::net::Shutdown::Write)
            }

            fn socket(&self) -> socket2::SockRef<'_> {
                socket2::SockRef::from(&self.0)
            }
        }
    };
}

tokio_stream!(TcpStream);
tokio_stream!(UnixStream);

impl AsyncListener for Io<TcpListener> {
    type Stream = Io<TcpStream>;

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Stream, PeerAddr)>> {
        self.0
            .poll_accept(cx)
            .map_ok(|(s, addr)| (Io(s), PeerAddr::Ip(addr)))
    }
}

impl AsyncListener for Io<UnixListener> {
    type Stream = Io<UnixStream>;

    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Stream, PeerAddr)>> {
        self.0.poll_accept(cx).map_ok(|(s, addr)| {
            let path = addr.as_pathname().map(Path::to_path_buf);
            (Io(s), PeerAddr::Unix(path))
        })
    }
}
