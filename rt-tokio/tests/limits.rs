//! Connection limits: connections over `max_connections` or `max_per_ip`
//! are refused cleanly (closed at once, counted, no session), the sessions
//! already open are unaffected, and a slot is released when its session
//! closes.

mod common;

use castnet_core::limits::ConnectionLimits;
use castnet_tokio::{dial, Config};
use common::{bounded, close_of, next_open, round_trip, Recorder, Running};

async fn refuses_over_the_limit_and_releases_slots_on_close(limits: ConnectionLimits, cap: usize) {
    let (recorder, mut seen) = Recorder::new(true);
    let running = Running::<String>::start(Config::default().limits(limits), recorder).await;
    let server = running.server.clone();
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..cap {
        clients.push(dial(running.addr(), Config::default()).await.unwrap());
        ids.push(next_open(&mut seen).await);
    }

    // Over the limit: the TCP handshake completes in the kernel, then the
    // server closes the connection without creating a session.
    let refused = dial(running.addr(), Config::default()).await.unwrap();
    assert_eq!(bounded(refused.recv()).await, None);
    refused.closed().await;
    let stats = server.stats();
    assert_eq!(stats.connections_refused, 1);
    assert_eq!(stats.connections_accepted as usize, cap);
    assert_eq!(stats.connections_open as usize, cap);
    assert_eq!(server.session_count(), cap);
    for client in &clients {
        round_trip(client, "unaffected").await;
    }

    // One closes: its slot is free again.
    clients.remove(0).close();
    close_of(&mut seen, ids[0]).await;
    let again = dial(running.addr(), Config::default()).await.unwrap();
    next_open(&mut seen).await;
    round_trip(&again, "admitted").await;
    let stats = server.stats();
    assert_eq!(stats.connections_refused, 1);
    assert_eq!(stats.connections_accepted as usize, cap + 1);
    assert_eq!(stats.connections_open as usize, cap);
    running.stop().await;
}

#[tokio::test]
async fn max_connections_refuses_cleanly_counts_and_releases_slots_on_close() {
    bounded(refuses_over_the_limit_and_releases_slots_on_close(
        ConnectionLimits::new(3, 100).unwrap(),
        3,
    ))
    .await;
}

#[tokio::test]
async fn max_per_ip_refuses_cleanly_counts_and_releases_slots_on_close() {
    // Every test client comes from 127.0.0.1, so the per-IP cap binds first.
    bounded(refuses_over_the_limit_and_releases_slots_on_close(
        ConnectionLimits::new(100, 2).unwrap(),
        2,
    ))
    .await;
}
