//! Helpers shared by the integration tests: bounded waits, servers started on
//! 127.0.0.1, a recording handler, and raw-socket framing for hostile or
//! stalled peers.
#![allow(dead_code)] // each test file uses a different subset

use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::{CloseReason, SendId, SendOutcome};
use castnet_core::SessionId;
use castnet_tokio::{handler_fn, Config, Conn, Handler, LocalAddr, Server, Session};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The bound on every test body.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Runs `f`, failing the test if it takes longer than [`LIMIT`].
pub async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("test exceeded its time bound")
}

/// Polls `cond` until it holds, within half of [`LIMIT`] (so its own message,
/// naming the condition, comes before the test's bound). Only for state that
/// has no event to await (counters, descriptor tables): a short sleep
/// between polls.
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = tokio::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < LIMIT / 2,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A handler that echoes every frame.
pub fn echo() -> impl Handler<PacketN> {
    handler_fn(|cx: &mut Conn<'_, PacketN>, frame: Bytes| {
        let session = cx.session();
        let _ = session.try_send(frame);
    })
}

/// A server on 127.0.0.1 serving with `handler` on a task of its own.
pub struct Running<K = String> {
    pub server: Server<PacketN, K>,
    serve: JoinHandle<io::Result<()>>,
}

impl<K> Running<K>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
{
    pub async fn start<H: Handler<PacketN>>(config: Config, handler: H) -> Self {
        let server = Server::bind("127.0.0.1:0", config).await.unwrap();
        Self::serve(server, handler)
    }

    pub fn serve<H: Handler<PacketN>>(server: Server<PacketN, K>, handler: H) -> Self {
        let s = server.clone();
        let serve = tokio::spawn(async move { s.serve(handler).await });
        Running { server, serve }
    }

    pub fn addr(&self) -> SocketAddr {
        match self.server.local_addr() {
            LocalAddr::Tcp(a) => *a,
            other => panic!("not a TCP server: {other}"),
        }
    }

    /// Dials the server with the default config and waits for its side to
    /// open (reported by a [`Recorder`] on `seen`): the client, and the id
    /// of the server's session.
    pub async fn connect(
        &self,
        seen: &mut mpsc::UnboundedReceiver<Seen>,
    ) -> (Session<PacketN>, SessionId) {
        let client = castnet_tokio::dial(self.addr(), Config::default())
            .await
            .unwrap();
        (client, next_open(seen).await)
    }

    /// Stops the server and checks that `serve` returned cleanly.
    pub async fn stop(self) -> Server<PacketN, K> {
        self.server.stop().await;
        self.serve.await.unwrap().unwrap();
        self.server
    }
}

/// What a [`Recorder`] saw, in order.
#[derive(Debug, Clone)]
pub enum Seen {
    Open(SessionId),
    Frame(SessionId, Bytes),
    Sent(SessionId, SendId, SendOutcome),
    Close(SessionId, CloseReason),
}

/// A handler that reports every callback on a channel, and echoes frames
/// when asked to.
pub struct Recorder {
    tx: mpsc::UnboundedSender<Seen>,
    echo: bool,
    abort_when_full: bool,
}

impl Recorder {
    pub fn new(echo: bool) -> (Self, mpsc::UnboundedReceiver<Seen>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let recorder = Recorder {
            tx,
            echo,
            abort_when_full: false,
        };
        (recorder, rx)
    }

    /// Echoes, and aborts a session whose echo is refused for a full queue.
    pub fn echo_or_abort_when_full() -> (Self, mpsc::UnboundedReceiver<Seen>) {
        let (mut recorder, rx) = Recorder::new(true);
        recorder.abort_when_full = true;
        (recorder, rx)
    }
}

impl Handler<PacketN> for Recorder {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        let s = cx.session();
        let _ = self.tx.send(Seen::Open(s.id()));
    }
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        let s = cx.session();
        if self.echo {
            if let Err(castnet_tokio::TrySendError::QueueFull(_)) = s.try_send(frame.clone()) {
                if self.abort_when_full {
                    s.abort();
                }
            }
        }
        let _ = self.tx.send(Seen::Frame(s.id(), frame));
    }
    const REPORT_SENT: bool = true;

    fn on_sent(&self, cx: &mut Conn<'_, PacketN>, id: SendId, outcome: SendOutcome) {
        let s = cx.session();
        let _ = self.tx.send(Seen::Sent(s.id(), id, outcome));
    }
    fn on_close(&self, s: &Session<PacketN>, reason: &CloseReason) {
        let _ = self.tx.send(Seen::Close(s.id(), reason.clone()));
    }
}

/// The next callback seen, within the bound.
pub async fn next_seen(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    bounded(rx.recv()).await.expect("recorder gone")
}

/// Waits for the `Open` of the next session and returns its id.
pub async fn next_open(rx: &mut mpsc::UnboundedReceiver<Seen>) -> SessionId {
    loop {
        if let Seen::Open(id) = next_seen(rx).await {
            return id;
        }
    }
}

/// Waits for the `Close` of session `id` and returns its reason.
pub async fn close_of(rx: &mut mpsc::UnboundedReceiver<Seen>, id: SessionId) -> CloseReason {
    loop {
        if let Seen::Close(who, reason) = next_seen(rx).await {
            if who == id {
                return reason;
            }
        }
    }
}

/// `payload` framed with the default codec's header (4 bytes, big-endian).
pub fn packet(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// Reads one default-codec frame from a raw stream; `None` at a clean end of
/// stream between frames.
pub async fn read_packet(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = [0u8; 4];
    match stream.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return None,
        Err(e) => panic!("read failed: {e}"),
    }
    let mut payload = vec![0u8; u32::from_be_bytes(head) as usize];
    stream.read_exact(&mut payload).await.unwrap();
    Some(payload)
}

/// Writes one default-codec frame to a raw stream.
pub async fn write_packet(stream: &mut TcpStream, payload: &[u8]) {
    stream.write_all(&packet(payload)).await.unwrap();
}

/// A castnet client's round trip through an echo server: proves a
/// connection still works.
pub async fn round_trip(client: &Session<PacketN>, payload: &'static str) {
    client.send(payload).await.unwrap();
    let back = bounded(client.recv()).await.expect("connection ended");
    assert_eq!(&back[..], payload.as_bytes());
}

/// A config whose connections have a small socket send buffer, so a peer
/// that does not read stalls them after a few KiB.
pub fn small_send_buffer(session: castnet_core::session::SessionConfig) -> Config {
    let mut socket = castnet_tokio::SocketOptions::default();
    socket.send_buffer_size = Some(4096);
    Config::default().session(session).socket(socket)
}

/// A raw client with a small receive buffer that reads only when the test
/// does.
pub async fn stalled_client(addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(addr).await.unwrap()
}
