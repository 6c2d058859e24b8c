//! 2,000 connections opened and closed, in every way a client can leave:
//! the counters, the process's descriptors of sockets on the server's port
//! and (where the runtime can count them) its live tasks all return to
//! where they started. Descriptors are counted by port, not in all: another
//! scenario's runtime starting meanwhile (its epoll and eventfd descriptors,
//! made before [`exclusive`] is taken) is not this scenario's leak.

use crate::rt::spawn;
use crate::support::{dial, echo, exclusive, round_trip, wait_until, Running};
use crate::TestRuntime;
use castnet_engine::{AsyncStream, Config, Runtime};
use std::time::Duration;

/// This process's descriptors of TCP sockets whose local or remote port is
/// `port`: the server's listener and accepted sockets, and its clients'.
fn sockets_on(port: u16) -> usize {
    let want = format!(":{port:04X}");
    let mut inodes = std::collections::HashSet::new();
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        // Columns: sl, local, remote, state, queues, timer, retransmits,
        // uid, timeout, inode.
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 9 && (cols[1].ends_with(&want) || cols[2].ends_with(&want)) {
                inodes.insert(format!("socket:[{}]", cols[9]));
            }
        }
    }
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| inodes.contains(target.to_string_lossy().as_ref()))
        .count()
}

// The lock keeps this scenario's thread alone with the descriptor table;
// it is only ever taken by scenario threads, never by a runtime's task.
#[allow(clippy::await_holding_lock)]
pub async fn two_thousand_connections_leave_no_session_descriptor_or_task_behind<T: TestRuntime>() {
    let _alone = exclusive();
    let running = Running::<T>::start(Config::default(), echo()).await;
    let addr = running.addr();
    // One round trip so the serve task is up before the baseline.
    let first = running.dial().await;
    round_trip::<T>(&first, "warm").await;
    first.close();
    first.closed().await;
    wait_until::<T>("the first session is gone", || {
        running.server.stats().connections_open == 0
    })
    .await;
    let port = addr.port();
    let (fds, tasks) = (sockets_on(port), T::alive_tasks());
    assert_eq!(fds, 1, "the listener alone");

    for _batch in 0..20 {
        let mut joins = Vec::new();
        for i in 0..100 {
            joins.push(spawn::<T, _>(async move {
                match i % 4 {
                    // A castnet client that closes gracefully.
                    0 => {
                        let c = dial::<T>(addr, Config::default()).await;
                        round_trip::<T>(&c, "graceful").await;
                        c.close();
                        c.closed().await;
                    }
                    // One that is simply dropped.
                    1 => {
                        let c = dial::<T>(addr, Config::default()).await;
                        round_trip::<T>(&c, "dropped").await;
                    }
                    // One that aborts.
                    2 => {
                        let c = dial::<T>(addr, Config::default()).await;
                        c.abort();
                        c.closed().await;
                    }
                    // A raw socket (the runtime's own) that resets.
                    _ => {
                        let s = T::Rt::default().connect_tcp(addr).await.unwrap();
                        s.socket().set_linger(Some(Duration::ZERO)).unwrap();
                    }
                }
            }));
        }
        for j in joins {
            j.join().await;
        }
    }

    // No event says "a descriptor was closed" or "a task ended", so these
    // are polled, within the bound.
    let server = running.server.clone();
    wait_until::<T>("every session is closed", || {
        server.stats().connections_open == 0 && server.session_count() == 0
    })
    .await;
    wait_until::<T>("socket descriptors return to the baseline", || {
        sockets_on(port) == fds
    })
    .await;
    if tasks.is_some() {
        wait_until::<T>("tasks return to the baseline", || T::alive_tasks() == tasks).await;
    }
    let stats = server.stats();
    assert_eq!(stats.connections_accepted, 2001);
    assert_eq!(stats.connections_refused, 0);
    running.stop().await;
}
