//! Echo over every transport and client kind: castnet clients over TCP and
//! Unix sockets, and a tokio-util `Framed` client using `Compat`.

mod common;

use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_tokio::codec::Compat;
use castnet_tokio::{dial, dial_unix, Config, Server};
use common::{bounded, echo, Running};
use futures_util::{SinkExt, StreamExt};
use std::path::PathBuf;
use tokio_util::codec::Framed;

fn frames() -> Vec<Bytes> {
    (0..1000u32)
        .map(|i| Bytes::from(vec![i as u8; (i % 300) as usize]))
        .collect()
}

fn socket_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("castnet-{}-{name}.sock", std::process::id()))
}

#[tokio::test]
async fn tcp_echo_returns_every_frame_in_order_including_empty_ones() {
    bounded(async {
        let running = Running::<String>::start(Config::default(), echo()).await;
        let client = dial(running.addr(), Config::default()).await.unwrap();
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
    })
    .await;
}

#[tokio::test]
async fn async_send_resolves_ok_once_the_bytes_are_written() {
    bounded(async {
        let running = Running::<String>::start(Config::default(), echo()).await;
        let client = dial(running.addr(), Config::default()).await.unwrap();
        client.async_send("hello").await.unwrap();
        assert_eq!(&client.recv().await.unwrap()[..], b"hello");
        running.stop().await;
        // The server closed the connection: the client sees the end.
        assert_eq!(client.recv().await, None);
        client.closed().await;
        assert!(client.async_send("late").await.is_err());
    })
    .await;
}

#[tokio::test]
async fn unix_socket_echo_returns_every_frame_and_stop_removes_the_path() {
    bounded(async {
        let path = socket_path("echo");
        let _ = std::fs::remove_file(&path);
        let server: Server = Server::bind_unix(&path, Config::default()).await.unwrap();
        let running = Running::serve(server, echo());
        let client = dial_unix(&path, Config::default()).await.unwrap();
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
    })
    .await;
}

#[tokio::test]
async fn unix_socket_path_is_removed_when_stopped_before_serving() {
    bounded(async {
        let path = socket_path("never-served");
        let _ = std::fs::remove_file(&path);
        let server: Server = Server::bind_unix(&path, Config::default()).await.unwrap();
        assert!(path.exists());
        server.stop().await;
        assert!(!path.exists(), "socket file left behind");
    })
    .await;
}

#[tokio::test]
async fn tokio_util_framed_client_with_compat_talks_to_a_castnet_server() {
    bounded(async {
        let running = Running::<String>::start(Config::default(), echo()).await;
        let stream = tokio::net::TcpStream::connect(running.addr())
            .await
            .unwrap();
        let mut framed = Framed::new(stream, Compat::new(PacketN::default()));
        let frames = frames();
        for f in &frames {
            framed.feed(f.clone()).await.unwrap();
        }
        SinkExt::<Bytes>::flush(&mut framed).await.unwrap();
        for f in &frames {
            assert_eq!(&framed.next().await.unwrap().unwrap(), f);
        }
        running.stop().await;
        // The server's graceful close reaches the Framed client as the end.
        assert!(framed.next().await.is_none());
    })
    .await;
}
