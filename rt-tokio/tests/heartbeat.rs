//! Heartbeat and liveness, on Tokio's paused clock (it advances by itself
//! whenever every task waits, so seconds of idle time pass at once): a
//! heartbeat keeps an idle link alive past the peer timeout, and
//! `peer_timeout` closes a silent one.

mod common;

use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::{CloseReason, SessionConfig};
use castnet_tokio::{dial, Config, Conn, Handler};
use common::{bounded, close_of, next_open, Recorder, Running, Seen};
use std::time::Duration;
use tokio::net::TcpStream;

fn peer_timeout(secs: u64) -> Config {
    Config::default().session(
        SessionConfig::builder()
            .peer_timeout(Some(Duration::from_secs(secs)))
            .build()
            .unwrap(),
    )
}

#[tokio::test(start_paused = true)]
async fn heartbeat_keeps_an_idle_link_alive_and_peer_timeout_closes_it_once_stopped() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(false);
        let running = Running::<String>::start(peer_timeout(3), recorder).await;
        let (client, id) = running.connect(&mut seen).await;
        client
            .set_heartbeat(Some((Duration::from_secs(1), "hb")))
            .unwrap();

        // Ten idle seconds, over three peer timeouts: each heartbeat arrives
        // as a frame and keeps the session open.
        let mut beats = 0;
        while beats < 10 {
            match common::next_seen(&mut seen).await {
                Seen::Frame(who, frame) if who == id => {
                    assert_eq!(&frame[..], b"hb");
                    beats += 1;
                }
                Seen::Close(_, reason) => panic!("closed while beating: {reason:?}"),
                _ => {}
            }
        }
        assert!(running.server.session(id).is_some());

        // Silence: the server gives up after its peer timeout.
        client.set_heartbeat(None::<(Duration, &str)>).unwrap();
        let stopped_at = tokio::time::Instant::now();
        assert!(matches!(
            close_of(&mut seen, id).await,
            CloseReason::PeerTimeout
        ));
        let waited = stopped_at.elapsed();
        assert!(
            waited >= Duration::from_secs(2) && waited <= Duration::from_secs(3),
            "closed {waited:?} after the last heartbeat was due"
        );
        assert_eq!(client.recv().await, None);
        running.stop().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn peer_timeout_closes_a_silent_link_and_spares_a_beating_one() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(false);
        let running = Running::<String>::start(peer_timeout(2), recorder).await;
        let (beating, beating_id) = running.connect(&mut seen).await;
        beating
            .set_heartbeat(Some((Duration::from_millis(500), "hb")))
            .unwrap();
        let _silent = TcpStream::connect(running.addr()).await.unwrap();
        let silent_id = next_open(&mut seen).await;
        assert!(matches!(
            close_of(&mut seen, silent_id).await,
            CloseReason::PeerTimeout
        ));
        assert!(running.server.session(beating_id).is_some());
        assert_eq!(running.server.stats().connections_open, 1);
        running.stop().await;
    })
    .await;
}

/// Starts a one-second heartbeat on every session it serves.
struct BeatOnOpen;

impl Handler<PacketN> for BeatOnOpen {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        let session = cx.session();
        session
            .set_heartbeat(Some((Duration::from_secs(1), "server hb")))
            .unwrap();
    }
    fn on_frame(&self, _: &mut Conn<'_, PacketN>, _: Bytes) {}
}

#[tokio::test(start_paused = true)]
async fn server_heartbeat_reaches_the_client_and_is_counted() {
    bounded(async {
        let running = Running::<String>::start(Config::default(), BeatOnOpen).await;
        let client = dial(running.addr(), Config::default()).await.unwrap();
        for _ in 0..5 {
            assert_eq!(&client.recv().await.unwrap()[..], b"server hb");
        }
        let stats = running.server.stats();
        assert!(stats.heartbeats_sent >= 5, "{stats:?}");
        // Heartbeats are frames on the wire, not sends: no outcome is counted.
        assert_eq!(stats.sent, 0);
        assert!(stats.frames_out >= 5);
        running.stop().await;
    })
    .await;
}
