//! The `heartbeat` example: peer heartbeats kept from the handler, a peer
//! timeout closing a silent client, an idle kick by timer, the tick; on
//! 127.0.0.1.

mod common;

use castnet_core::session::CloseReason;
use castnet_examples::heartbeat::{connect, start, Settings};
use std::time::{Duration, Instant};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

async fn next(
    session: &castnet_tokio::Session<castnet_core::frame::Utf8LinesCodec>,
) -> Option<String> {
    timeout(LIMIT, session.recv())
        .await
        .expect("a line or the end in time")
}

#[tokio::test]
async fn heartbeats_keep_a_client_the_silent_one_times_out_the_idle_one_is_kicked() {
    let settings = Settings {
        peer_timeout: Duration::from_secs(1),
        heartbeat: Duration::from_millis(100),
        idle_kick: Duration::from_secs(6),
        tick: Duration::from_millis(200),
    };
    let server = start("127.0.0.1:0", settings).await.unwrap();
    let addr = server.local_addr().unwrap();
    let started = Instant::now();
    let beating = connect(addr, &settings, "beating", true).await.unwrap();
    let silent = connect(addr, &settings, "silent", false).await.unwrap();
    let idle = connect(addr, &settings, "idle", true).await.unwrap();
    for (name, client) in [("beating", &beating), ("silent", &silent), ("idle", &idle)] {
        assert_eq!(next(client).await.as_deref(), Some(&*format!("ok {name}")));
    }

    // The silent one: closed by the server's peer timeout, seen by both.
    let why = timeout(LIMIT, silent.closed())
        .await
        .expect("closed in time");
    assert!(matches!(why, CloseReason::PeerEof), "{why:?}");
    assert!(matches!(silent.close_reason(), Some(CloseReason::PeerEof)));
    let why = server.close_reason("silent").await;
    assert!(matches!(why, Some(CloseReason::PeerTimeout)), "{why:?}");

    // The beating ones outlive three and a half peer timeouts with nothing but
    // heartbeats, none of which reached the handler.
    tokio::time::sleep_until((started + settings.peer_timeout * 7 / 2).into()).await;
    for client in [&beating, &idle] {
        assert!(!client.is_closed(), "{:?}", client.close_reason());
        assert!(client.close_reason().is_none());
    }
    assert_eq!(server.session_count(), 2);
    assert_eq!(server.seen().heartbeat_lines(), 0);
    assert_eq!(server.seen().lines(), 3);
    assert!(
        server.heartbeats_received() >= 10,
        "{}",
        server.heartbeats_received()
    );
    // And the server's heartbeats never reached the client's recv.
    beating.send("still here".to_owned()).await.unwrap();
    assert_eq!(next(&beating).await.as_deref(), Some("ok still here"));

    // The idle one: beating, but no line for the idle kick.
    assert_eq!(next(&idle).await.as_deref(), Some("bye: idle"));
    assert_eq!(next(&idle).await, None);
    let why = server.close_reason("idle").await;
    assert!(matches!(why, Some(CloseReason::Local)), "{why:?}");
    assert!(!beating.is_closed(), "beating's last line was later");

    assert!(
        server.seen().ticks() >= 2,
        "ticks: {}",
        server.seen().ticks()
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_tour_shows_both_timeouts_and_the_tick_and_exits_zero() {
    let output = common::run_tour(env!("CARGO_BIN_EXE_heartbeat")).await;
    common::assert_mentions(
        &output,
        &[
            "2. beating connects and names itself: Some(\"ok beating\")",
            "3. silent's connection ended: the peer closed the connection; close_reason() = Some(PeerEof)",
            "the server closed it for: Some(PeerTimeout)",
            "past 3 peer timeouts, is open: true; close_reason() = None",
            "heartbeat lines its handler saw: 0",
            "beating says \"still here\" and gets Some(\"ok still here\")",
            "it got Some(\"bye: idle\"), then None",
            "the server closed it for: Some(Local)",
            "heartbeat: tick, sessions alive tick=2",
            "server stopped; done.",
        ],
    );
}

#[tokio::test]
async fn the_server_runs_as_a_process_until_sigterm() {
    let server = common::Server::spawn(env!("CARGO_BIN_EXE_heartbeat"), &["--serve"], &[]).await;
    let client = connect(server.addr, &Settings::default(), "me", true)
        .await
        .unwrap();
    assert_eq!(next(&client).await.as_deref(), Some("ok me"));
    let status = server.stop_with("TERM").await;
    assert!(status.success(), "exit status {status}");
}
