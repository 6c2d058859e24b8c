//! Raw peers that speak the default framing (4-byte big-endian length) over
//! blocking `std::net` sockets: hostile, stalled or half-closing clients,
//! and peers that accept a castnet client's connection. They are the same
//! whatever runtime is under test.
//!
//! Every socket here has read and write timeouts ([`IO_TIMEOUT`]), so a peer
//! never blocks for ever. Whatever may block (a read, a large write) runs on
//! a thread of its own ([`thread`]), joined (asynchronously) before the
//! scenario ends.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::Duration;

/// Read and write timeout of every raw socket.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A thread running a raw peer; [`join`](Self::join) it for its result.
#[must_use = "join the peer thread before the scenario ends"]
pub struct PeerThread<R> {
    done: async_channel::Receiver<std::thread::Result<R>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Runs `f` on a thread of its own.
pub fn thread<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> PeerThread<R> {
    let (tx, done) = async_channel::bounded(1);
    let thread = std::thread::Builder::new()
        .name("raw-peer".into())
        .spawn(move || {
            let _ = tx.send_blocking(catch_unwind(AssertUnwindSafe(f)));
        })
        .expect("a peer thread");
    PeerThread {
        done,
        thread: Some(thread),
    }
}

impl<R> PeerThread<R> {
    /// Waits (without blocking the runtime) for the thread to finish, and
    /// returns its result; a panic on the thread is resumed here.
    pub async fn join(mut self) -> R {
        let result = self.done.recv().await.expect("peer thread vanished");
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        match result {
            Ok(r) => r,
            Err(panic) => resume_unwind(panic),
        }
    }
}

impl<R> Drop for PeerThread<R> {
    /// A scenario that failed before joining still does not leave the
    /// thread behind: its sockets time out, so this wait is bounded.
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn with_timeouts(stream: TcpStream) -> TcpStream {
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Connects to `addr` (a listening 127.0.0.1 port: the handshake completes
/// in the kernel at once).
pub fn connect(addr: SocketAddr) -> TcpStream {
    with_timeouts(TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("raw connect"))
}

/// Connects with a receive buffer of `rcvbuf` bytes, set before the
/// handshake so the window stays small: a peer that stalls its sender once
/// it stops reading.
pub fn connect_small(addr: SocketAddr, rcvbuf: usize) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(rcvbuf).unwrap();
    socket
        .connect_timeout(&addr.into(), IO_TIMEOUT)
        .expect("raw connect");
    with_timeouts(socket.into())
}

/// A stalled client: a receive buffer of 4 KiB, and it reads only when the
/// scenario does.
pub fn stalled(addr: SocketAddr) -> TcpStream {
    connect_small(addr, 4096)
}

/// A listener on 127.0.0.1 whose accepted sockets have a 4 KiB receive
/// buffer.
pub fn stalled_listener() -> (TcpListener, SocketAddr) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&any.into()).unwrap();
    socket.listen(8).unwrap();
    let listener: TcpListener = socket.into();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Accepts one connection (already in the backlog: call after the dial
/// returned).
pub fn accept(listener: &TcpListener) -> TcpStream {
    with_timeouts(listener.accept().expect("accept").0)
}

/// `payload` framed with the default codec's header (4 bytes, big-endian).
pub fn packet(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// Every payload framed, one after the other: what a client pipelining them
/// in one write sends.
pub fn packets<P: AsRef<[u8]>>(payloads: &[P]) -> Vec<u8> {
    payloads.iter().flat_map(|p| packet(p.as_ref())).collect()
}

/// Reads one default-codec frame; `None` at a clean end of stream between
/// frames. Anything else (a timeout, a reset, a cut frame) panics.
pub fn read_packet(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut head = [0u8; 4];
    match stream.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return None,
        Err(e) => panic!("read failed: {e}"),
    }
    let mut payload = vec![0u8; u32::from_be_bytes(head) as usize];
    stream.read_exact(&mut payload).expect("a whole frame");
    Some(payload)
}

/// Reads one frame; the end of stream, a reset or a frame cut by the close
/// all count as the end.
pub fn read_packet_lenient(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).ok()?;
    let mut payload = vec![0u8; u32::from_be_bytes(head) as usize];
    stream.read_exact(&mut payload).ok()?;
    Some(payload)
}

/// Reads frames until a clean end of stream.
pub fn read_to_end(stream: &mut impl Read) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| read_packet(stream)).collect()
}

/// Writes `bytes`, panicking on failure.
pub fn write(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).expect("raw write");
}

/// Ends our sending side (FIN); we can still read.
pub fn shutdown_write(stream: &TcpStream) {
    stream.shutdown(Shutdown::Write).expect("shutdown");
}

/// Closes with a reset (RST) instead of a FIN.
pub fn reset(stream: TcpStream) {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
}
