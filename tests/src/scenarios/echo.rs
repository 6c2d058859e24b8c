//! Echo over every transport: castnet clients over TCP and Unix sockets,
//! echoed with `Conn::send` and through the session handle.

use crate::support::{dial, echo, echo_via_handle, socket_path, Running, Server};
use crate::TestRuntime;
use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_engine::{Config, Handler};

fn frames() -> Vec<Bytes> {
    (0..1000u32)
        .map(|i| Bytes::from(vec![i as u8; (i % 300) as usize]))
        .collect()
}

async fn echoes_every_frame_in_order<T: TestRuntime>(handler: impl Handler<PacketN>) {
    let running = Running::<T>::start(Config::default(), handler).await;
    let client = dial::<T>(running.addr(), Config::default()).await;
    let frames = frames();
    for f in &frames {
        client.send(f.clone()).await.unwrap();
    }
    for f in &frames {
        assert_eq!(&client.recv().await.unwrap(), f);
    }
    client.close();
    client.closed().await;
    let server = running.stop().await;
    let stats = server.stats();
    assert_eq!(stats.frames_in, 1000);
    assert_eq!(stats.frames_out, 1000);
    assert_eq!(stats.connections_open, 0);
}

/// The default echo handler replies with `Conn::send`.
pub async fn tcp_echo_returns_every_frame_in_order_including_empty_ones<T: TestRuntime>() {
    echoes_every_frame_in_order::<T>(echo()).await;
}

/// A handler replying through its session's handle (`try_send`) too.
pub async fn tcp_echo_through_the_session_handle_returns_every_frame_in_order<T: TestRuntime>() {
    echoes_every_frame_in_order::<T>(echo_via_handle()).await;
}

pub async fn async_send_resolves_ok_once_the_bytes_are_written<T: TestRuntime>() {
    let running = Running::<T>::start(Config::default(), echo()).await;
    let client = running.dial().await;
    client.async_send("hello").await.unwrap();
    assert_eq!(&client.recv().await.unwrap()[..], b"hello");
    running.stop().await;
    // The server closed the connection: the client sees the end.
    assert_eq!(client.recv().await, None);
    client.closed().await;
    assert!(client.async_send("late").await.is_err());
}

pub async fn unix_socket_echo_returns_every_frame_and_stop_removes_the_path<T: TestRuntime>() {
    let path = socket_path::<T>("echo");
    let _ = std::fs::remove_file(&path);
    let server = Server::<T>::bind_unix(&path, Config::default())
        .await
        .unwrap();
    let running = Running::<T>::serve(server, echo());
    let client = castnet_engine::dial_unix_with(&T::Rt::default(), &path, Config::default())
        .await
        .unwrap();
    let frames = frames();
    for f in &frames {
        client.send(f.clone()).await.unwrap();
    }
    for f in &frames {
        assert_eq!(&client.recv().await.unwrap(), f);
    }
    running.stop().await;
    assert_eq!(client.recv().await, None);
    assert!(!path.exists(), "socket file left behind");
}

pub async fn unix_socket_path_is_removed_when_stopped_before_serving<T: TestRuntime>() {
    let path = socket_path::<T>("never-served");
    let _ = std::fs::remove_file(&path);
    let server = Server::<T>::bind_unix(&path, Config::default())
        .await
        .unwrap();
    assert!(path.exists());
    server.stop().await;
    assert!(!path.exists(), "socket file left behind");
}
