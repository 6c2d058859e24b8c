//! The client-side session handle: receiving (`recv`, `process`,
//! `process_once`), what happens to frames and the connection when the peer
//! or the handles go away, and handles from any task.

mod common;

use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::CloseReason;
use castnet_tokio::{dial, Config, Conn, Handler};
use common::{bounded, echo, next_seen, packet, Recorder, Running, Seen};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn process_once_handles_one_frame_and_process_runs_until_the_session_closes() {
    bounded(async {
        let running = Running::<String>::start(Config::default(), echo()).await;
        let client = dial(running.addr(), Config::default()).await.unwrap();
        for i in 0..10u8 {
            client.send(vec![i]).await.unwrap();
        }
        let mut first = None;
        assert!(
            client
                .process_once(|s, frame| {
                    assert_eq!(s.id(), client.id());
                    first = Some(frame);
                })
                .await
        );
        assert_eq!(first.as_deref(), Some(&[0u8][..]));

        let rest = {
            let client = client.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                let n = client.process(|_, frame| got.push(frame[0])).await;
                (n, got)
            })
        };
        // Once the nine other echoes are in, close: `process` returns.
        common::wait_until("the echoes are in", || running.server.stats().sent == 10).await;
        client.close();
        let (n, got) = rest.await.unwrap();
        assert_eq!(n, 9);
        assert_eq!(got, (1..10).collect::<Vec<u8>>());
        assert!(
            !client
                .process_once(|_, _| panic!("no frame after close"))
                .await
        );
        running.stop().await;
    })
    .await;
}

/// Reports whether `recv` on a handler-served session returns at once.
struct RecvOnServed(tokio::sync::mpsc::UnboundedSender<Option<Bytes>>);

impl Handler<PacketN> for RecvOnServed {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        let session = cx.session();
        let (session, tx) = (session.clone(), self.0.clone());
        tokio::spawn(async move {
            let _ = tx.send(session.recv().await);
        });
    }
    fn on_frame(&self, _: &mut Conn<'_, PacketN>, _: Bytes) {}
}

#[tokio::test]
async fn recv_on_a_handler_served_session_returns_none_at_once() {
    bounded(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let running = Running::<String>::start(Config::default(), RecvOnServed(tx)).await;
        let client = dial(running.addr(), Config::default()).await.unwrap();
        client.send("for the handler").await.unwrap();
        assert_eq!(rx.recv().await, Some(None));
        running.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn frames_read_before_the_peer_closed_all_reach_recv() {
    bounded(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = dial(
            listener.local_addr().unwrap(),
            Config::default().recv_buffer(4),
        )
        .await
        .unwrap();
        let (mut peer, _) = listener.accept().await.unwrap();
        // The whole burst and the end of stream are in the client's socket
        // before its task next runs, so it reads them in one go, far past
        // its receive buffer of 4 frames.
        let burst: Vec<u8> = (0..500u32).flat_map(|i| packet(&i.to_be_bytes())).collect();
        peer.write_all(&burst).await.unwrap();
        peer.shutdown().await.unwrap();
        for i in 0..500u32 {
            let frame = client.recv().await.expect("a frame was lost at close");
            assert_eq!(frame[..], i.to_be_bytes());
        }
        assert_eq!(client.recv().await, None);
        client.closed().await;
    })
    .await;
}

#[tokio::test]
async fn dropping_every_client_handle_closes_the_connection_after_its_sends() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(false);
        let running = Running::<String>::start(Config::default(), recorder).await;
        let (client, id) = running.connect(&mut seen).await;
        let other = client.clone();
        client.try_send("one").unwrap();
        other.try_send("two").unwrap();
        drop(client);
        drop(other);
        let mut frames = Vec::new();
        let reason = loop {
            match next_seen(&mut seen).await {
                Seen::Frame(_, f) => frames.push(f),
                Seen::Close(who, reason) if who == id => break reason,
                _ => {}
            }
        };
        assert_eq!(frames, [Bytes::from("one"), Bytes::from("two")]);
        assert!(matches!(reason, CloseReason::PeerEof), "{reason:?}");
        running.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_send_from_many_tasks_and_every_frame_arrives_once() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(false);
        let running = Running::<String>::start(Config::default(), recorder).await;
        let (client, id) = running.connect(&mut seen).await;
        let mut tasks = Vec::new();
        for t in 0..8u8 {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..250u8 {
                    client.send(vec![t, i]).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        client.close();
        let mut next = [0u8; 8];
        let mut total = 0;
        loop {
            match next_seen(&mut seen).await {
                Seen::Frame(_, f) => {
                    // Each task's frames arrive in its own order.
                    assert_eq!(f[1], next[f[0] as usize]);
                    next[f[0] as usize] += 1;
                    total += 1;
                }
                Seen::Close(who, _) if who == id => break,
                _ => {}
            }
        }
        assert_eq!(total, 2000);
        running.stop().await;
    })
    .await;
}
