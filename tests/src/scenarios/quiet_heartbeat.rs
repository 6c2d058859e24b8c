//! Heartbeats the application need not see (`Config::peer_heartbeat`,
//! `Conn::set_peer_heartbeat`): the peer's heartbeat frames keep a session
//! alive past its peer timeout, are counted, and reach neither the handler
//! nor `recv`, while every other frame does.

use crate::rt::{sleep, timeout};
use crate::support::{dial, wait_until, within, Echo, Recorder, Running, Seen};
use crate::TestRuntime;
use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::CloseReason;
use castnet_engine::{Config, Conn, Handler, PeerHeartbeat};
use std::time::Duration;

const BEAT: Duration = Duration::from_millis(100);
const PEER_TIMEOUT: Duration = Duration::from_millis(400);

fn peer_timeout() -> Config {
    super::heartbeat::peer_timeout(PEER_TIMEOUT)
}

pub async fn peer_heartbeats_are_not_delivered_and_keep_a_session_alive_past_its_peer_timeout<
    T: TestRuntime,
>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
    let config = peer_timeout().peer_heartbeat(PeerHeartbeat::payload("hb"));
    let running = Running::<T>::start(config, recorder).await;
    let (client, id) = running.connect(&seen).await;
    client.set_heartbeat(Some((BEAT, "hb"))).unwrap();

    // Three peer timeouts on heartbeats alone: nothing reaches the handler,
    // and the session stays.
    if let Some(seen) = timeout::<T, _>(3 * PEER_TIMEOUT, seen.next()).await {
        panic!("heartbeats alone led to {seen:?}");
    }
    assert!(running.server.session(id).is_some());
    let server = running.server.clone();
    wait_until::<T>("the heartbeats are counted", || {
        server.stats().heartbeats_received >= 8
    })
    .await;

    // Other frames still arrive, between the beats.
    for word in ["data", "more"] {
        client.send(word).await.unwrap();
        match seen.next().await {
            Seen::Frame(who, frame) if who == id => assert_eq!(&frame[..], word.as_bytes()),
            other => panic!("expected the frame {word:?}, saw {other:?}"),
        }
        let echo = within::<T, _>("an echo", client.recv()).await.unwrap();
        assert_eq!(&echo[..], word.as_bytes());
    }

    // Without the beats, the peer timeout closes the session: it was armed
    // all along.
    client.set_heartbeat(None::<(Duration, &str)>).unwrap();
    assert!(matches!(seen.close_of(id).await, CloseReason::PeerTimeout));
    running.stop().await;
}

/// Beats at the client, names the client's beats from `on_open` (a
/// per-session setting) and echoes everything else.
struct BeatsBothWays;

impl Handler<PacketN> for BeatsBothWays {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        cx.set_heartbeat(Some((BEAT, "server hb"))).unwrap();
        cx.set_peer_heartbeat(Some(PeerHeartbeat::matching(|f: &Bytes| {
            &f[..] == b"client hb"
        })));
    }
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        assert_ne!(&frame[..], b"client hb", "a heartbeat reached on_frame");
        let _ = cx.send(frame);
    }
}

pub async fn a_client_s_recv_skips_the_server_s_heartbeats_and_a_handler_can_name_its_peer_s<
    T: TestRuntime,
>() {
    let running = Running::<T>::start(peer_timeout(), BeatsBothWays).await;
    let config = peer_timeout().peer_heartbeat(PeerHeartbeat::payload("server hb"));
    let client = dial::<T>(running.addr(), config).await;
    client.set_heartbeat(Some((BEAT, "client hb"))).unwrap();

    // Both sides idle but for their beats, for three peer timeouts: the
    // client's recv gets nothing, and neither side closes.
    assert!(
        timeout::<T, _>(3 * PEER_TIMEOUT, client.recv())
            .await
            .is_none(),
        "recv returned during the beats"
    );
    assert!(client.close_reason().is_none());
    assert_eq!(running.server.stats().connections_open, 1);

    // A real frame comes back as the first thing recv sees.
    client.send("hello").await.unwrap();
    let echo = within::<T, _>("the echo", client.recv()).await.unwrap();
    assert_eq!(&echo[..], b"hello");
    let server = running.server.clone();
    wait_until::<T>("the server counts the client's beats", || {
        server.stats().heartbeats_received >= 8
    })
    .await;
    // Beats still come, and are still skipped.
    sleep::<T>(2 * BEAT).await;
    client.send("again").await.unwrap();
    assert_eq!(&client.recv().await.unwrap()[..], b"again");
    client.close();
    assert!(matches!(client.closed().await, CloseReason::Local));
    running.stop().await;
}
