//! Connection limits: connections over `max_connections` or `max_per_ip`
//! are refused cleanly (closed at once, counted, no session), the sessions
//! already open are unaffected, and a slot is released when its session
//! closes.

use crate::support::{round_trip, within, Echo, Recorder, Running};
use crate::TestRuntime;
use castnet_core::limits::ConnectionLimits;
use castnet_engine::Config;

async fn refuses_over_the_limit_and_releases_slots_on_close<T: TestRuntime>(
    limits: ConnectionLimits,
    cap: usize,
) {
    let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
    let running = Running::<T>::start(Config::default().limits(limits), recorder).await;
    let server = running.server.clone();
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..cap {
        let (client, id) = running.connect(&seen).await;
        clients.push(client);
        ids.push(id);
    }

    // Over the limit: the TCP handshake completes in the kernel, then the
    // server closes the connection without creating a session.
    let refused = running.dial().await;
    assert_eq!(within::<T, _>("the refusal", refused.recv()).await, None);
    refused.closed().await;
    let stats = server.stats();
    assert_eq!(stats.connections_refused, 1);
    assert_eq!(stats.connections_accepted as usize, cap);
    assert_eq!(stats.connections_open as usize, cap);
    assert_eq!(server.session_count(), cap);
    for client in &clients {
        round_trip::<T>(client, "unaffected").await;
    }

    // One closes: its slot is free again.
    clients.remove(0).close();
    seen.close_of(ids[0]).await;
    let (again, _) = running.connect(&seen).await;
    round_trip::<T>(&again, "admitted").await;
    let stats = server.stats();
    assert_eq!(stats.connections_refused, 1);
    assert_eq!(stats.connections_accepted as usize, cap + 1);
    assert_eq!(stats.connections_open as usize, cap);
    running.stop().await;
}

pub async fn max_connections_refuses_cleanly_counts_and_releases_slots_on_close<T: TestRuntime>() {
    refuses_over_the_limit_and_releases_slots_on_close::<T>(
        ConnectionLimits::new(3, 100).unwrap(),
        3,
    )
    .await;
}

pub async fn max_per_ip_refuses_cleanly_counts_and_releases_slots_on_close<T: TestRuntime>() {
    // Every test client comes from 127.0.0.1, so the per-IP cap binds first.
    refuses_over_the_limit_and_releases_slots_on_close::<T>(
        ConnectionLimits::new(100, 2).unwrap(),
        2,
    )
    .await;
}
