//! 2,000 connections opened and closed, in every way a client can leave:
//! the counters, the open file descriptors and the runtime's live tasks all
//! return to where they started. Alone in its file so that it runs in its
//! own process: the descriptor count is the whole process's.

mod common;

use castnet_tokio::{dial, Config};
use common::{bounded, echo, round_trip, wait_until, Running};
use socket2::SockRef;
use std::time::Duration;
use tokio::net::TcpStream;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test]
async fn two_thousand_connections_leave_no_session_descriptor_or_task_behind() {
    bounded(async {
        let running = Running::<String>::start(Config::default(), echo()).await;
        let addr = running.addr();
        // One round trip so the serve task is up before the baseline.
        let first = dial(addr, Config::default()).await.unwrap();
        round_trip(&first, "warm").await;
        first.close();
        first.closed().await;
        wait_until("the first session is gone", || {
            running.server.stats().connections_open == 0
        })
        .await;
        let (fds, tasks) = (open_fds(), alive_tasks());

        for batch in 0..20 {
            let mut joins = Vec::new();
            for i in 0..100 {
                joins.push(tokio::spawn(async move {
                    match i % 4 {
                        // A castnet client that closes gracefully.
                        0 => {
                            let c = dial(addr, Config::default()).await.unwrap();
                            round_trip(&c, "graceful").await;
                            c.close();
                            c.closed().await;
                        }
                        // One that is simply dropped.
                        1 => {
                            let c = dial(addr, Config::default()).await.unwrap();
                            round_trip(&c, "dropped").await;
                        }
                        // One that aborts.
                        2 => {
                            let c = dial(addr, Config::default()).await.unwrap();
                            c.abort();
                            c.closed().await;
                        }
                        // A raw socket that resets.
                        _ => {
                            let s = TcpStream::connect(addr).await.unwrap();
                            SockRef::from(&s).set_linger(Some(Duration::ZERO)).unwrap();
                        }
                    }
                }));
            }
            for j in joins {
                j.await.unwrap();
            }
            let _ = batch;
        }

        // No event says "a descriptor was closed" or "a task ended", so
        // these are polled, within the test's bound.
        let server = running.server.clone();
        wait_until("every session is closed", || {
            server.stats().connections_open == 0 && server.session_count() == 0
        })
        .await;
        wait_until("descriptors return to the baseline", || open_fds() == fds).await;
        wait_until("tasks return to the baseline", || alive_tasks() == tasks).await;
        let stats = server.stats();
        assert_eq!(stats.connections_accepted, 2001);
        assert_eq!(stats.connections_refused, 0);
        running.stop().await;
    })
    .await;
}
