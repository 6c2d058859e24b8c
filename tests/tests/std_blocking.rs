//! castnet-std's blocking calls: the conformance suite runs the engine's
//! API on castnet-std's loops; these run the blocking vocabulary a
//! synchronous user calls (`send`, `send_timeout`, `recv_timeout`,
//! `SendWork::wait_timeout`, `serve` until `stop`, `dial*`), from plain
//! threads, with every wait bounded.

use bytes::Bytes;
use castnet_std::core::session::SessionConfig;
use castnet_std::core::PacketN;
use castnet_std::{
    dial, dial_timeout, dial_unix, handler_fn, Config, Conn, RecvTimeoutError, SendTimeoutError,
    Server, Session,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(20);

type Serving = thread::JoinHandle<std::io::Result<()>>;

/// Serves `server` on a thread of its own with an echo handler; a frame
/// `block` makes the handler call a blocking send instead.
fn serve_echo(server: &Server) -> Serving {
    let serving = server.clone();
    thread::spawn(move || {
        serving.serve(handler_fn(|cx: &mut Conn<'_, PacketN>, frame: Bytes| {
            if &frame[..] == b"block" {
                let _ = Session::from(cx.session().clone()).send(frame);
            } else {
                let _ = cx.send(frame);
            }
        }))
    })
}

fn echo_server() -> (Server, SocketAddr, Serving) {
    let server: Server = Server::bind("127.0.0.1:0", Config::default()).unwrap();
    let addr = match server.local_addr() {
        castnet_std::LocalAddr::Tcp(addr) => *addr,
        other => panic!("a TCP server has a TCP address, not {other:?}"),
    };
    let serve = serve_echo(&server);
    (server, addr, serve)
}

/// A length-prefixed frame as the default codec writes it (4-byte
/// big-endian header).
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

#[test]
fn serve_blocks_until_stop_from_another_thread_and_a_dialled_client_round_trips() {
    let (server, addr, serve) = echo_server();
    let client = dial(addr, Config::default()).unwrap();
    client.send(Bytes::from_static(b"ping")).unwrap();
    assert_eq!(client.recv_timeout(BOUND).unwrap(), "ping");
    assert!(!serve.is_finished(), "serve blocks while the server runs");
    server.stop();
    serve.join().unwrap().unwrap();
    // The server closed the connection gracefully: the client sees the end.
    assert_eq!(client.recv_timeout(BOUND), Err(RecvTimeoutError::Closed));
}

#[test]
fn recv_timeout_times_out_without_losing_the_next_frame() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = dial(addr, Config::default()).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let started = Instant::now();
    assert_eq!(
        client.recv_timeout(Duration::from_millis(50)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(started.elapsed() >= Duration::from_millis(50));
    peer.write_all(&frame(b"late")).unwrap();
    assert_eq!(client.recv_timeout(BOUND).unwrap(), "late");
    drop(peer);
    assert_eq!(client.recv_timeout(BOUND), Err(RecvTimeoutError::Closed));
}

/// A client whose peer never reads: the queue fills. `try_send` refuses
/// with the message back, `send_timeout` gives up with it, and a blocked
/// `send` goes through once the peer reads.
#[test]
fn a_full_queue_refuses_try_send_times_out_send_timeout_and_blocks_send_until_the_peer_reads() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // Inherited by the accepted socket: the peer's kernel buffers little.
    socket2::SockRef::from(&listener)
        .set_recv_buffer_size(4096)
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let session = SessionConfig::builder()
        .max_queue_frames(4)
        .send_timeout(None)
        .build()
        .unwrap();
    let mut config = Config::default().session(session);
    config.socket.send_buffer_size = Some(4096);
    let client: Session = dial(addr, config).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(BOUND)).unwrap();

    let big = Bytes::from(vec![7u8; 64 * 1024]);
    let mut sent = 0usize;
    let deadline = Instant::now() + BOUND;
    // Full, and still full a while later: the socket buffers are full too.
    let refused = loop {
        match client.try_send(big.clone()) {
            Ok(()) => sent += 1,
            Err(e) => {
                thread::sleep(Duration::from_millis(100));
                match client.try_send(big.clone()) {
                    Ok(()) => sent += 1,
                    Err(_) => break e,
                }
            }
        }
        assert!(Instant::now() < deadline, "the queue never filled");
    };
    assert!(matches!(
        refused,
        castnet_std::TrySendError::QueueFull(ref m) if m.len() == big.len()
    ));
    match client.send_timeout(big.clone(), Duration::from_millis(100)) {
        Err(SendTimeoutError::Timeout(m)) => assert_eq!(m.len(), big.len()),
        other => panic!("expected a timeout with the message back, got {other:?}"),
    }

    // `send` blocks until the peer drains: read everything on this thread
    // while another thread sends.
    let (done_tx, done_rx) = mpsc::channel();
    let sender = client.clone();
    let last = big.clone();
    thread::spawn(move || done_tx.send(sender.send(last).is_ok()));
    assert!(
        done_rx.recv_timeout(Duration::from_millis(100)).is_err(),
        "send returned while the queue was full"
    );
    let expected = (sent + 1) * (4 + big.len());
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0;
    while got < expected {
        let n = peer.read(&mut buf).unwrap();
        assert!(n > 0, "the client closed early");
        got += n;
    }
    assert_eq!(got, expected);
    assert_eq!(done_rx.recv_timeout(BOUND), Ok(true));
}

#[test]
fn async_send_wait_timeout_then_wait_reports_the_outcome() {
    let (server, addr, serve) = echo_server();
    let client = dial(addr, Config::default()).unwrap();
    let mut work = client.async_send(Bytes::from_static(b"tracked"));
    let outcome = match work.wait_timeout(BOUND) {
        Some(outcome) => outcome,
        None => work.wait(),
    };
    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(client.recv_timeout(BOUND).unwrap(), "tracked");
    // After a close, an async send ends `Closed` at once.
    client.close();
    let refused = client.async_send(Bytes::from_static(b"x")).wait();
    assert_eq!(
        refused.unwrap_err().failure(),
        Some(castnet_std::core::session::SendFailure::Closed)
    );
    server.stop();
    serve.join().unwrap().unwrap();
}

#[test]
fn process_handles_every_frame_until_the_peer_leaves() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = dial(addr, Config::default()).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let mut wire = Vec::new();
    for i in 0..100u32 {
        wire.extend(frame(&i.to_be_bytes()));
    }
    peer.write_all(&wire).unwrap();
    let mut once = None;
    assert!(client.process_once(|_, f| once = Some(f)));
    assert_eq!(once.as_deref(), Some(&0u32.to_be_bytes()[..]));
    drop(peer); // the rest, then the end of stream
    let mut seen = Vec::new();
    let n = client.process(|_, f| seen.push(u32::from_be_bytes(f[..].try_into().unwrap())));
    assert_eq!(n, 99);
    assert_eq!(seen, (1..100).collect::<Vec<_>>());
    assert!(!client.process_once(|_, _| {}));
}

#[test]
fn dial_timeout_and_dial_unix_connect_and_a_refused_dial_is_an_error() {
    let (server, addr, serve) = echo_server();
    let client = dial_timeout(addr, BOUND, Config::default()).unwrap();
    client.send(Bytes::from_static(b"t")).unwrap();
    assert_eq!(client.recv_timeout(BOUND).unwrap(), "t");
    server.stop();
    serve.join().unwrap().unwrap();
    // Nobody listens there any more.
    assert!(dial(addr, Config::default()).is_err());

    let path = std::env::temp_dir().join(format!("castnet-std-blocking-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let unix: Server = Server::bind_unix(&path, Config::default()).unwrap();
    let serve = serve_echo(&unix);
    let client = dial_unix(&path, Config::default()).unwrap();
    client.send(Bytes::from_static(b"u")).unwrap();
    assert_eq!(client.recv_timeout(BOUND).unwrap(), "u");
    unix.stop();
    serve.join().unwrap().unwrap();
    assert!(!path.exists(), "the socket file goes with the server");
}

/// Blocking inside a handler would stall the loop's connections: it panics
/// with a message saying so, and the panic ends that session only.
#[test]
fn a_blocking_call_on_a_loop_thread_panics_and_ends_only_its_session() {
    let (server, addr, serve) = echo_server();
    let mut bad = TcpStream::connect(addr).unwrap();
    bad.set_read_timeout(Some(BOUND)).unwrap();
    bad.write_all(&frame(b"block")).unwrap();
    let mut rest = Vec::new();
    // The session ends: end of stream or reset, and no echo.
    let _ = bad.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{rest:?}");
    let good = dial(addr, Config::default()).unwrap();
    good.send(Bytes::from_static(b"fine")).unwrap();
    assert_eq!(good.recv_timeout(BOUND).unwrap(), "fine");
    server.stop();
    serve.join().unwrap().unwrap();
}

/// Counts the echoes of one word in its state, hanging up at the third.
struct ThreeEchoes(mpsc::Sender<u32>);

impl castnet_std::Handler<PacketN, u32> for ThreeEchoes {
    fn on_open(&self, cx: &mut Conn<'_, PacketN, u32>) {
        for _ in 0..3 {
            cx.send("again").unwrap();
        }
    }
    fn on_frame(&self, cx: &mut Conn<'_, PacketN, u32>, _: Bytes) {
        *cx.state() += 1;
        if *cx.state() == 3 {
            cx.close();
        }
    }
    fn on_close(
        &self,
        _: &castnet_engine::Session<PacketN>,
        echoes: u32,
        _: &castnet_std::core::session::CloseReason,
    ) {
        let _ = self.0.send(echoes);
    }
}

#[test]
fn dial_handler_runs_a_handler_and_the_blocking_handle_learns_why_it_closed() {
    use castnet_std::core::session::CloseReason;
    let (server, addr, serve) = echo_server();
    let (tx, echoes) = mpsc::channel();
    let caller = castnet_std::dial_handler(addr, Config::default(), ThreeEchoes(tx)).unwrap();
    let why = caller.closed_timeout(BOUND).expect("the caller hangs up");
    assert!(matches!(why, CloseReason::Local), "{why:?}");
    assert_eq!(echoes.recv_timeout(BOUND), Ok(3));

    // A plain client: the server closes it, and `recv` ending says why.
    let client = dial(addr, Config::default()).unwrap();
    client.send("hi").unwrap();
    assert_eq!(&client.recv_timeout(BOUND).unwrap()[..], b"hi");
    for session in server.sessions() {
        session.close();
    }
    assert_eq!(client.recv_timeout(BOUND), Err(RecvTimeoutError::Closed));
    assert!(matches!(client.close_reason(), Some(CloseReason::PeerEof)));
    assert!(matches!(client.closed(), CloseReason::PeerEof));
    server.stop();
    serve.join().unwrap().unwrap();
}
