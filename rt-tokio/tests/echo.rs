//! End-to-end: a castnet server echoing to castnet clients over 127.0.0.1.

use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_tokio::{dial, handler_fn, Config, Server, Session};
use std::time::Duration;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

async fn echo_server() -> Server {
    let server: Server = Server::bind("127.0.0.1:0", Config::default())
        .await
        .unwrap();
    let s = server.clone();
    tokio::spawn(async move {
        s.serve(handler_fn(|session: &Session<PacketN>, frame: Bytes| {
            session.try_send(frame).unwrap();
        }))
        .await
        .unwrap();
    });
    server
}

fn addr(server: &Server) -> String {
    server.local_addr().to_string()
}

#[tokio::test]
async fn frames_come_back_in_order_including_empty_ones() {
    timeout(LIMIT, async {
        let server = echo_server().await;
        let client = dial(addr(&server), Config::default()).await.unwrap();
        let frames: Vec<Bytes> = (0..1000u32)
            .map(|i| Bytes::from(vec![i as u8; (i % 300) as usize]))
            .collect();
        for f in &frames {
            client.send(f.clone()).await.unwrap();
        }
        for f in &frames {
            assert_eq!(&client.recv().await.unwrap(), f);
        }
        client.close();
        client.closed().await;
        server.stop().await;
        let stats = server.stats();
        assert_eq!(stats.frames_in, 1000);
        assert_eq!(stats.frames_out, 1000);
        assert_eq!(stats.connections_open, 0);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn async_send_resolves_ok_once_the_bytes_are_written() {
    timeout(LIMIT, async {
        let server = echo_server().await;
        let client = dial(addr(&server), Config::default()).await.unwrap();
        client.async_send("hello").await.unwrap();
        assert_eq!(&client.recv().await.unwrap()[..], b"hello");
        server.stop().await;
        // The server closed the connection: the client sees the end.
        assert_eq!(client.recv().await, None);
        client.closed().await;
        assert!(client.async_send("late").await.is_err());
    })
    .await
    .unwrap();
}
