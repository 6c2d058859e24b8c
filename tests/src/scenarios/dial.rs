//! Dialling: `dial_timeout` succeeds against a server and gives up with
//! `TimedOut` when the handshake cannot complete; `dial` reports refusal.

use crate::raw;
use crate::support::{echo, round_trip, Running};
use crate::TestRuntime;
use castnet_engine::{dial_timeout_with, dial_with, Config};
use socket2::{Domain, Socket, Type};
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub async fn dial_timeout_connects_when_the_server_answers_in_time<T: TestRuntime>() {
    let running = Running::<T>::start(Config::default(), echo()).await;
    let client = dial_timeout_with(
        &T::Rt::default(),
        running.addr(),
        Duration::from_secs(5),
        Config::default(),
    )
    .await
    .unwrap();
    round_trip::<T>(&client, "in time").await;
    running.stop().await;
}

pub async fn dial_timeout_gives_up_on_a_listener_whose_backlog_is_full<T: TestRuntime>() {
    // A listener that never accepts, with the smallest backlog: once its
    // accept queue is full the kernel drops further handshakes, so a connect
    // neither completes nor fails.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let (held, full) = raw::thread(move || {
        let mut held = Vec::new();
        for _ in 0..16 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(stream) => held.push(stream),
                Err(_) => return (held, true),
            }
        }
        (held, false)
    })
    .join()
    .await;
    assert!(full, "the backlog never filled");
    let err = dial_timeout_with(
        &T::Rt::default(),
        addr,
        Duration::from_millis(200),
        Config::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    drop(held);
}

pub async fn dial_to_a_port_nobody_listens_on_is_refused<T: TestRuntime>() {
    // Bind then close: the port is free and, for a moment, unused.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = dial_with(&T::Rt::default(), addr, Config::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}
