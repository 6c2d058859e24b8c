//! Handler callbacks: `on_open`, `on_frame`, `on_sent` and `on_close` arrive
//! in order, once, with the right close reason for each way a session ends.

mod common;

use castnet_core::frame::FrameError;
use castnet_core::session::{CloseReason, SendOutcome};
use castnet_core::SessionId;
use castnet_tokio::{dial, Config};
use common::{bounded, close_of, next_open, next_seen, packet, Recorder, Running, Seen};
use socket2::SockRef;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;

/// Everything seen for session `id` up to and including its close.
async fn seen_until_close(seen: &mut UnboundedReceiver<Seen>, id: SessionId) -> Vec<Seen> {
    let mut out = Vec::new();
    loop {
        let s = next_seen(seen).await;
        match &s {
            Seen::Open(who) | Seen::Frame(who, _) | Seen::Sent(who, ..) | Seen::Close(who, _)
                if *who != id => {}
            Seen::Close(..) => {
                out.push(s);
                return out;
            }
            _ => out.push(s),
        }
    }
}

#[tokio::test]
async fn callbacks_arrive_open_then_frames_and_their_sends_then_close_once() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(true);
        let running = Running::<String>::start(Config::default(), recorder).await;
        let client = dial(running.addr(), Config::default()).await.unwrap();
        for word in ["one", "two", "three"] {
            client.send(word).await.unwrap();
        }
        for _ in 0..3 {
            client.recv().await.unwrap();
        }
        let id = next_open(&mut seen).await;
        client.close();
        let events = seen_until_close(&mut seen, id).await;

        let frames: Vec<_> = events
            .iter()
            .filter_map(|s| match s {
                Seen::Frame(_, f) => Some(f.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(frames, ["one", "two", "three"]);
        // One on_sent per echo, in the order the sends were made, each
        // after the frame that caused it.
        let mut frames_so_far = 0;
        let mut sends = Vec::new();
        for s in &events {
            match s {
                Seen::Frame(..) => frames_so_far += 1,
                Seen::Sent(_, send, outcome) => {
                    assert_eq!(*outcome, SendOutcome::Sent);
                    sends.push(*send);
                    assert!(sends.len() <= frames_so_far, "on_sent before its frame");
                }
                Seen::Open(_) => panic!("on_open twice"),
                Seen::Close(..) => {}
            }
        }
        assert_eq!(sends.len(), 3);
        assert!(sends.windows(2).all(|w| w[0] < w[1]));
        assert!(matches!(
            events.last(),
            Some(Seen::Close(_, CloseReason::PeerEof))
        ));
        running.stop().await;
    })
    .await;
}

#[tokio::test]
async fn on_close_reports_local_aborted_peer_eof_reset_and_frame_errors() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(true);
        let running = Running::<String>::start(Config::default(), recorder).await;
        let server = running.server.clone();

        // Closed by the server: Local.
        let _a = dial(running.addr(), Config::default()).await.unwrap();
        let a = next_open(&mut seen).await;
        server.session(a).unwrap().close();
        assert!(matches!(close_of(&mut seen, a).await, CloseReason::Local));

        // Aborted by the server.
        let _b = dial(running.addr(), Config::default()).await.unwrap();
        let b = next_open(&mut seen).await;
        server.session(b).unwrap().abort();
        assert!(matches!(close_of(&mut seen, b).await, CloseReason::Aborted));

        // The peer ends its side: PeerEof.
        let mut c_stream = TcpStream::connect(running.addr()).await.unwrap();
        let c = next_open(&mut seen).await;
        c_stream.shutdown().await.unwrap();
        assert!(matches!(close_of(&mut seen, c).await, CloseReason::PeerEof));

        // The peer resets the connection: an IO error.
        let d_stream = TcpStream::connect(running.addr()).await.unwrap();
        let d = next_open(&mut seen).await;
        SockRef::from(&d_stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(d_stream);
        assert!(matches!(close_of(&mut seen, d).await, CloseReason::Io(_)));

        // The peer ends mid-frame: a decode error.
        let mut e_stream = TcpStream::connect(running.addr()).await.unwrap();
        let e = next_open(&mut seen).await;
        e_stream
            .write_all(&packet(b"cut short")[..6])
            .await
            .unwrap();
        e_stream.shutdown().await.unwrap();
        assert!(matches!(
            close_of(&mut seen, e).await,
            CloseReason::Frame(FrameError::UnexpectedEof { .. })
        ));

        assert_eq!(server.stats().connections_open, 0);
        running.stop().await;
    })
    .await;
}
