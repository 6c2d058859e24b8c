//! What only Tokio can do, so only Tokio is asked: tokio-util interop
//! (`castnet_tokio::codec::Compat`), and dropping a runtime under live
//! sessions (castnet-smol spawns onto smol's global executor, which lives as
//! long as the process, so there is no runtime to drop there).

use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::{SendFailure, SessionConfig};
use castnet_tests::raw;
use castnet_tests::support::{echo, run, small_send_buffer, Echo, Recorder, Running, LIMIT};
use castnet_tests::Tokio;
use castnet_tokio::codec::Compat;
use castnet_tokio::Config;
use futures_util::{SinkExt, StreamExt};
use tokio_util::codec::Framed;

fn frames() -> Vec<Bytes> {
    (0..1000u32)
        .map(|i| Bytes::from(vec![i as u8; (i % 300) as usize]))
        .collect()
}

#[test]
fn tokio_util_framed_client_with_compat_talks_to_a_castnet_server() {
    run::<Tokio, _>(|| async {
        let running = Running::<Tokio>::start(Config::default(), echo()).await;
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
    });
}

#[test]
fn sends_in_flight_when_the_runtime_shuts_down_end_closed() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let first = runtime();
    let (work, broadcast, peer) = first.block_on(bounded(async {
        let (recorder, seen) = Recorder::new::<Tokio>(Echo::No);
        let config = small_send_buffer(SessionConfig::default());
        let running = Running::<Tokio>::start(config, recorder).await;
        let peer = raw::stalled(running.addr());
        let s = running.server.session(seen.open().await).unwrap();
        // Stuck behind a frame the peer does not read.
        let stuck = s.async_send(Bytes::from(vec![1u8; 256 * 1024]));
        let work = s.async_send("behind");
        let broadcast = running.server.broadcast("everyone").unwrap();
        drop(stuck);
        (work, broadcast, peer)
    }));
    // Dropping the runtime drops every task, the connection's among them.
    drop(first);
    drop(peer);
    runtime().block_on(bounded(async {
        assert_eq!(work.await.unwrap_err().failure(), Some(SendFailure::Closed));
        let report = broadcast.await;
        assert_eq!(report.counts().closed, 1);
        assert!(report.is_complete());
    }));
}

/// `f`, failing if it takes longer than the suite's bound.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("exceeded its bound")
}
