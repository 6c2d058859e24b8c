//! What a dialled client learns and runs: why its session closed
//! (`Session::close_reason`, `Session::closed`), and a full `Handler` run on
//! a dialled session (`dial_handler_with`).

use crate::raw;
use crate::support::{dial, echo, within, Echo, Recorder, Running};
use crate::TestRuntime;
use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::{CloseReason, SendId, SendOutcome, SessionConfig};
use castnet_engine::{dial_handler_with, Config, Conn, Handler, Session};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Waits for the client's `recv` to end, then returns the reason it gives,
/// checking that `closed` resolves to the same.
async fn reason_after_recv_ends<T: TestRuntime>(client: &Session<PacketN>) -> CloseReason {
    while within::<T, _>("the session to end", client.recv())
        .await
        .is_some()
    {}
    let reason = client
        .close_reason()
        .expect("a reason once recv returned None");
    let closed = within::<T, _>("closed()", client.closed()).await;
    assert_eq!(closed.to_string(), reason.to_string());
    reason
}

/// A raw server on 127.0.0.1 whose one connection runs `peer` on a thread:
/// returns its address and the thread.
fn raw_server(peer: impl FnOnce(TcpStream) + Send + 'static) -> (SocketAddr, raw::PeerThread<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = raw::thread(move || peer(raw::accept(&listener)));
    (addr, thread)
}

/// Reads until the client goes (end of stream, reset or timeout).
fn drain(mut stream: TcpStream) {
    let mut buf = [0u8; 1024];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

pub async fn a_client_learns_why_it_closed_peer_eof_local_frame_error_timeout_and_reset<
    T: TestRuntime,
>() {
    // The server closes the session: the client reads the end of stream.
    let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let (client, id) = running.connect(&seen).await;
    assert!(client.close_reason().is_none(), "open: no reason yet");
    running.server.session(id).unwrap().close();
    assert!(matches!(
        reason_after_recv_ends::<T>(&client).await,
        CloseReason::PeerEof
    ));

    // The client closes.
    let (client, _) = running.connect(&seen).await;
    client.close();
    assert!(matches!(
        within::<T, _>("closed()", client.closed()).await,
        CloseReason::Local
    ));
    assert!(matches!(client.close_reason(), Some(CloseReason::Local)));
    assert_eq!(client.recv().await, None);
    running.stop().await;

    // A malformed frame: a header declaring more than the maximum length.
    let (addr, peer) = raw_server(|mut stream| {
        raw::write(&mut stream, &[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
        drain(stream);
    });
    let client = dial::<T>(addr, Config::default()).await;
    let reason = reason_after_recv_ends::<T>(&client).await;
    assert!(matches!(reason, CloseReason::Frame(_)), "{reason:?}");
    drop(client);
    peer.join().await;

    // A server that says nothing for longer than the client's peer timeout.
    let timeout = Duration::from_millis(300);
    let config = Config::default().session(
        SessionConfig::builder()
            .peer_timeout(Some(timeout))
            .build()
            .unwrap(),
    );
    let (addr, peer) = raw_server(drain);
    let started = Instant::now();
    let client = dial::<T>(addr, config).await;
    let reason = reason_after_recv_ends::<T>(&client).await;
    assert!(matches!(reason, CloseReason::PeerTimeout), "{reason:?}");
    assert!(started.elapsed() >= timeout / 2);
    drop(client);
    peer.join().await;

    // A server that resets the connection.
    let (addr, peer) = raw_server(|mut stream| {
        // Once the client's first frame is in, so it is surely connected.
        assert_eq!(raw::read_packet(&mut stream).as_deref(), Some(&b"hi"[..]));
        raw::reset(stream);
    });
    let client = dial::<T>(addr, Config::default()).await;
    client.send("hi").await.unwrap();
    let reason = reason_after_recv_ends::<T>(&client).await;
    assert!(matches!(reason, CloseReason::Io(_)), "{reason:?}");
    peer.join().await;
}

/// What a dialled [`Caller`] saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Open,
    Sent(SendId),
    Frame(Bytes),
    Close(Vec<Bytes>, String),
}

/// Sends three words from `on_open`, keeps every answer in its state and
/// hangs up after the third.
struct Caller {
    tx: async_channel::Sender<Call>,
}

impl Handler<PacketN, Vec<Bytes>> for Caller {
    const REPORT_SENT: bool = true;

    fn on_open(&self, cx: &mut Conn<'_, PacketN, Vec<Bytes>>) {
        let _ = self.tx.try_send(Call::Open);
        for word in ["one", "two", "three"] {
            cx.send_tracked(word).unwrap();
        }
    }

    fn on_frame(&self, cx: &mut Conn<'_, PacketN, Vec<Bytes>>, frame: Bytes) {
        let _ = self.tx.try_send(Call::Frame(frame.clone()));
        cx.state().push(frame);
        if cx.state().len() == 3 {
            cx.close();
        }
    }

    fn on_sent(&self, _: &mut Conn<'_, PacketN, Vec<Bytes>>, id: SendId, outcome: SendOutcome) {
        assert_eq!(outcome, SendOutcome::Sent);
        let _ = self.tx.try_send(Call::Sent(id));
    }

    fn on_close(&self, _: &Session<PacketN>, answers: Vec<Bytes>, why: &CloseReason) {
        let _ = self.tx.try_send(Call::Close(answers, why.to_string()));
    }
}

pub async fn a_dialled_handler_gets_open_then_its_sends_and_frames_then_close_with_its_state<
    T: TestRuntime,
>() {
    let running = Running::<T>::start(Config::default(), echo()).await;
    let (tx, calls) = async_channel::unbounded();
    let session = dial_handler_with(
        &T::Rt::default(),
        running.addr(),
        Config::default(),
        Caller { tx },
    )
    .await
    .unwrap();
    // Frames go to the handler, not to recv.
    assert_eq!(session.recv().await, None);
    let why = within::<T, _>("the caller to hang up", session.closed()).await;
    assert!(matches!(why, CloseReason::Local), "{why:?}");
    assert!(matches!(session.close_reason(), Some(CloseReason::Local)));

    let calls: Vec<Call> = std::iter::from_fn(|| calls.try_recv().ok()).collect();
    let words: Vec<Bytes> = ["one", "two", "three"].map(Bytes::from).into();
    assert_eq!(calls.first(), Some(&Call::Open));
    assert_eq!(
        calls.last(),
        Some(&Call::Close(words.clone(), CloseReason::Local.to_string()))
    );
    let frames: Vec<_> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Frame(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(frames, words, "every echo, in order");
    // Each word was reported sent before its echo came back.
    let (mut sent, mut echoed) = (0, 0);
    for call in &calls[1..calls.len() - 1] {
        match call {
            Call::Sent(_) => sent += 1,
            Call::Frame(_) => {
                echoed += 1;
                assert!(sent >= echoed, "an echo before its send was reported");
            }
            other => panic!("{other:?} between open and close"),
        }
    }
    assert_eq!(sent, 3);
    running.stop().await;
}
