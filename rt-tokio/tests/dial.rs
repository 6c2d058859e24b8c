//! Dialing: `dial_timeout` succeeds against a server and gives up with
//! `TimedOut` when the handshake cannot complete; `dial` reports refusal.

mod common;

use castnet_tokio::{dial, dial_timeout, Config};
use common::{bounded, echo, round_trip, Running};
use socket2::{Domain, Socket, Type};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::timeout;

#[tokio::test]
async fn dial_timeout_connects_when_the_server_answers_in_time() {
    bounded(async {
        let running = Running::<String>::start(Config::default(), echo()).await;
        let client = dial_timeout(running.addr(), Duration::from_secs(5), Config::default())
            .await
            .unwrap();
        round_trip(&client, "in time").await;
        running.stop().await;
    })
    .await;
}

#[tokio::test]
async fn dial_timeout_gives_up_on_a_listener_whose_backlog_is_full() {
    bounded(async {
        // A listener that never accepts, with the smallest backlog: once its
        // accept queue is full the kernel drops further handshakes, so a
        // connect neither completes nor fails.
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        let mut held = Vec::new();
        let mut full = false;
        for _ in 0..16 {
            match timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
                Ok(stream) => held.push(stream.unwrap()),
                Err(_) => {
                    full = true;
                    break;
                }
            }
        }
        assert!(full, "the backlog never filled");
        let err = dial_timeout(addr, Duration::from_millis(200), Config::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        drop(held);
    })
    .await;
}

#[tokio::test]
async fn dial_to_a_port_nobody_listens_on_is_refused() {
    bounded(async {
        // Bind then close: the port is free and, for a moment, unused.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = dial(addr, Config::default()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    })
    .await;
}
