//! The server's lifecycle, registry API, counters and graceful stop.

use crate::raw;
use crate::rt::spawn;
use crate::support::{echo, round_trip, wait_until, Echo, Recorder, Running, Server};
use crate::TestRuntime;
use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::hub::ServerState;
use castnet_core::session::{CloseReason, SendFailure, SessionConfig};
use castnet_engine::{Config, Conn, Handler, SendWorkError, Session, SocketOptions, TrySendError};
use std::net::TcpStream;
use std::time::Duration;

/// Echoes, and reports `server.state()` as seen from inside `on_close`.
struct StateAtClose<T: TestRuntime> {
    server: Server<T>,
    tx: async_channel::Sender<ServerState>,
}

impl<T: TestRuntime> Handler<PacketN> for StateAtClose<T> {
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        let _ = cx.send(frame);
    }
    fn on_close(&self, _: &Session<PacketN>, _: (), _: &CloseReason) {
        let _ = self.tx.try_send(self.server.state());
    }
}

pub async fn state_goes_starting_running_stopping_closed<T: TestRuntime>() {
    let server = Server::<T>::bind("127.0.0.1:0", Config::default())
        .await
        .unwrap();
    assert_eq!(server.state(), ServerState::Starting);
    let (tx, at_close) = async_channel::unbounded();
    let handler = StateAtClose::<T> {
        server: server.clone(),
        tx,
    };
    let running = Running::<T>::serve(server.clone(), handler);
    let client = running.dial().await;
    // A round trip proves the server accepted, so `serve` is running.
    round_trip::<T>(&client, "up").await;
    assert_eq!(server.state(), ServerState::Running);
    running.stop().await;
    // The session was closed by `stop`, which had moved to Stopping.
    assert_eq!(at_close.recv().await.ok(), Some(ServerState::Stopping));
    assert_eq!(server.state(), ServerState::Closed);
}

pub async fn stop_closes_the_listener_before_it_returns<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let addr = running.addr();
    let server = running.server.clone();
    // A round trip proves `serve` holds the listener; then no session is
    // left, so `stop` has no connection to wait for.
    let (client, id) = running.connect(&seen).await;
    round_trip::<T>(&client, "up").await;
    client.close();
    seen.close_of(id).await;
    server.stop().await;
    let err = TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    running.stop().await;
}

pub async fn serve_after_stop_is_an_error_and_stop_twice_is_harmless<T: TestRuntime>() {
    let server = Server::<T>::bind("127.0.0.1:0", Config::default())
        .await
        .unwrap();
    server.stop().await;
    assert_eq!(server.state(), ServerState::Closed);
    assert!(server.serve(echo()).await.is_err());
    server.stop().await;
    assert_eq!(server.state(), ServerState::Closed);
}

pub async fn registry_finds_sends_to_and_closes_sessions_by_id<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let server = running.server.clone();
    let (a, a_id) = running.connect(&seen).await;
    let (b, b_id) = running.connect(&seen).await;
    let (c, c_id) = running.connect(&seen).await;

    assert_eq!(server.session_count(), 3);
    let mut ids: Vec<_> = server.sessions().iter().map(|s| s.id()).collect();
    ids.sort();
    let mut want = vec![a_id, b_id, c_id];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(server.session(b_id).unwrap().id(), b_id);

    server.send_to(b_id, "to b").unwrap();
    assert_eq!(&b.recv().await.unwrap()[..], b"to b");

    assert!(server.close(a_id));
    assert!(matches!(seen.close_of(a_id).await, CloseReason::Local));
    assert_eq!(a.recv().await, None);
    assert!(server.session(a_id).is_none());
    assert!(
        !server.close(a_id),
        "closing a closed session reports false"
    );
    match server.send_to(a_id, "gone") {
        Err(TrySendError::Closed(m)) => assert_eq!(m, "gone"),
        other => panic!("expected Closed with the message back, got {other:?}"),
    }

    assert_eq!(server.close_many(&[a_id, b_id, c_id]), 2);
    seen.close_of(b_id).await;
    seen.close_of(c_id).await;
    assert_eq!(b.recv().await, None);
    assert_eq!(c.recv().await, None);
    assert_eq!(server.session_count(), 0);
    assert_eq!(server.stats().connections_open, 0);
    running.stop().await;
}

pub async fn stats_add_up_across_sessions<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(running.dial().await);
    }
    for client in &clients {
        for i in 0..20u8 {
            client.send(vec![i; 10]).await.unwrap();
        }
    }
    for client in &clients {
        for i in 0..20u8 {
            assert_eq!(client.recv().await.unwrap(), vec![i; 10]);
        }
    }
    for client in &clients {
        client.close();
    }
    let mut closed = 0;
    while closed < 5 {
        if let crate::support::Seen::Close(_, reason) = seen.next().await {
            assert!(matches!(reason, CloseReason::PeerEof), "{reason:?}");
            closed += 1;
        }
    }
    let stats = running.server.stats();
    assert_eq!(stats.connections_accepted, 5);
    assert_eq!(stats.connections_open, 0);
    assert_eq!(stats.connections_refused, 0);
    assert_eq!(stats.frames_in, 100);
    assert_eq!(stats.bytes_in, 100 * 14);
    assert_eq!(stats.frames_out, 100);
    assert_eq!(stats.bytes_out, 100 * 14);
    assert_eq!(stats.sent, 100);
    assert_eq!(stats.failed_closed + stats.failed_timed_out, 0);
    assert_eq!(stats.refused_queue_full, 0);
    assert_eq!(stats.heartbeats_sent, 0);
    running.stop().await;
}

pub async fn stop_with_frames_in_flight_resolves_every_accepted_send<T: TestRuntime>() {
    let session = SessionConfig::builder()
        .linger(Duration::from_millis(300))
        .max_queue_frames(64)
        .build()
        .unwrap();
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let mut socket = SocketOptions::default();
    socket.send_buffer_size = Some(16 * 1024);
    let config = Config::default().session(session).socket(socket);
    let running = Running::<T>::start(config, recorder).await;
    let server = running.server.clone();

    // A castnet client that reads eagerly, and a raw one that reads nothing
    // until the server has stopped.
    let (eager, eager_id) = running.connect(&seen).await;
    let stalled = raw::connect_small(running.addr(), 16 * 1024);
    let stalled_id = seen.open().await;

    let payload = Bytes::from(vec![7u8; 4096]);
    let mut works = Vec::new();
    for id in [eager_id, stalled_id] {
        let s = server.session(id).unwrap();
        for _ in 0..2000 {
            works.push((id, s.async_send(payload.clone())));
        }
    }
    let eager_reader = spawn::<T, _>(async move {
        let mut n = 0usize;
        while eager.recv().await.is_some() {
            n += 1;
        }
        n
    });
    server.stop().await;

    let (mut ok, mut closed, mut full) = ([0usize; 2], [0usize; 2], [0usize; 2]);
    for (id, work) in works {
        let i = usize::from(id == stalled_id);
        match work.await {
            Ok(()) => ok[i] += 1,
            Err(SendWorkError::Failed(SendFailure::Closed)) => closed[i] += 1,
            Err(SendWorkError::Failed(SendFailure::QueueFull)) => full[i] += 1,
            Err(e) => panic!("unexpected outcome {e:?}"),
        }
    }
    for i in 0..2 {
        assert_eq!(ok[i] + closed[i] + full[i], 2000);
    }
    // The eager client got exactly what was reported sent to it.
    assert_eq!(eager_reader.join().await, ok[0]);
    // The stalled one did not drain within the linger time: what was still
    // queued failed `Closed`, and it reads exactly the frames reported sent.
    assert!(closed[1] > 0, "the linger time should have cut the queue");
    let received = raw::thread(move || {
        let mut stalled = stalled;
        let mut received = 0;
        while let Some(frame) = raw::read_packet_lenient(&mut stalled) {
            assert_eq!(frame.len(), 4096);
            received += 1;
        }
        received
    })
    .join()
    .await;
    assert_eq!(received, ok[1]);

    let stats = server.stats();
    assert_eq!(stats.sent as usize, ok[0] + ok[1]);
    assert_eq!(stats.failed_closed as usize, closed[0] + closed[1]);
    assert_eq!(stats.refused_queue_full as usize, full[0] + full[1]);
    assert_eq!(stats.connections_open, 0);
    running.stop().await;
}

pub async fn stop_during_a_connection_storm_leaves_no_session_behind<T: TestRuntime>() {
    let running = Running::<T>::start(Config::default(), echo()).await;
    let addr = running.addr();
    let server = running.server.clone();
    let storm = raw::thread(move || {
        let mut held = Vec::new();
        for _ in 0..400 {
            match TcpStream::connect_timeout(&addr, raw::IO_TIMEOUT) {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
        }
        held
    });
    // Let the storm get going: wait for some sessions to exist.
    wait_until::<T>("connections are accepted", || {
        server.stats().connections_accepted >= 20
    })
    .await;
    server.stop().await;
    assert_eq!(server.state(), ServerState::Closed);
    assert_eq!(server.session_count(), 0);
    let stats = server.stats();
    assert_eq!(stats.connections_open, 0);
    drop(storm.join().await);
    running.stop().await;
}

pub async fn connections_waiting_for_their_peer_hold_no_read_buffer_unless_a_frame_is_partial<
    T: TestRuntime,
>() {
    // Buffers kept per session would last `keep_buffers` (an hour here):
    // the worker's shared buffers make that moot.
    let keep = Duration::from_secs(3600);
    let session = SessionConfig::builder().keep_buffers(keep).build().unwrap();
    let running = Running::<T>::start(Config::default().session(session), echo()).await;
    let mut clients = Vec::new();
    for _ in 0..20 {
        let client = running.dial().await;
        round_trip::<T>(&client, "wake up").await;
        clients.push(client);
    }
    assert_eq!(running.server.session_count(), 20);
    // Every server session has read, decoded and answered, and now waits for
    // its peer, holding no read buffer (stats are published after each
    // turn's write).
    let server = running.server.clone();
    wait_until::<T>("idle sessions hold no read buffer", || {
        server.stats().frames_in == 20 && server.stats().read_buffer_bytes == 0
    })
    .await;
    // Half a frame: its bytes stay in a buffer of its session's own until
    // the rest comes.
    let mut partial = raw::connect(running.addr());
    let frame = raw::packet(b"in two parts");
    raw::write(&mut partial, &frame[..7]);
    wait_until::<T>("the partial frame holds a buffer", || {
        server.stats().read_buffer_bytes > 0
    })
    .await;
    round_trip::<T>(&clients[0], "others still answered").await;
    assert!(server.stats().read_buffer_bytes > 0, "still held");
    raw::write(&mut partial, &frame[7..]);
    let echoed = raw::thread(move || raw::read_packet(&mut partial))
        .join()
        .await;
    assert_eq!(echoed.as_deref(), Some(&b"in two parts"[..]));
    wait_until::<T>("the buffer is given back", || {
        server.stats().read_buffer_bytes == 0
    })
    .await;
    assert_eq!(server.stats().frames_in, 22);
    running.stop().await;
}
