//! The one-command tour of castnet, entirely on 127.0.0.1 and over in a few
//! seconds:
//!
//! ```text
//! cargo run --release -p castnet-examples --bin demo
//! ```
//!
//! It starts a server, connects clients, and shows echo, `async_send`
//! outcomes, channels with a kick callback, encode-once broadcast with its
//! per-recipient report, a slow consumer that cannot stall the others, a
//! heartbeat keeping a link alive while a silent one times out, and a
//! graceful stop that resolves every send.
// The demo narrates to its user on stdout; it is a program, not a library.
#![allow(clippy::print_stdout)]

use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::{CloseReason, SessionConfig};
use castnet_tokio::{dial, Config, Conn, Handler, Server, Session};
use std::error::Error;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// Echoes every frame and narrates how sessions end.
struct Echo;

impl Handler<PacketN> for Echo {
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        // A reply on the connection itself: never refused for a full queue
        // (the server reads more slowly from a client that lags instead).
        let _ = cx.send(frame);
    }

    fn on_close(&self, session: &Session<PacketN>, _: (), reason: &CloseReason) {
        println!("   server: {} closed ({reason})", session.id());
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    castnet_examples::init_tracing();
    timeout(Duration::from_secs(20), tour())
        .await
        .map_err(|_| "the demo took too long")?
}

async fn tour() -> Result<()> {
    println!("castnet demo: a server and its clients on 127.0.0.1\n");

    // Sessions that say nothing for a second are closed; send queues are
    // kept small so the slow-consumer scene below is quick.
    let session_rules = SessionConfig::builder()
        .peer_timeout(Some(Duration::from_millis(1500)))
        .max_queue_bytes(64 * 1024)
        .linger(Duration::from_millis(500))
        .build()?;
    let server: Server = Server::bind(
        "127.0.0.1:0",
        Config::new(PacketN::default()).session(session_rules),
    )
    .await?;
    let addr = server.local_addr().to_string();
    let serving = {
        let server = server.clone();
        tokio::spawn(async move { server.serve(Echo).await })
    };
    // --- echo and async_send -------------------------------------------
    let alice = dial(&addr, Config::default()).await?;
    println!("1. server listening on {addr} (state {:?})", server.state());
    let outcome = alice.async_send("hello from alice").await;
    let echo = alice.recv().await.ok_or("no echo")?;
    println!(
        "2. alice: async_send -> {outcome:?}; echo {:?}",
        String::from_utf8_lossy(&echo)
    );

    // --- channels and kick ---------------------------------------------
    let bob = dial(&addr, Config::default()).await?;
    let carol = dial(&addr, Config::default()).await?;
    for client in [&bob, &carol] {
        client.send("hi").await?;
        client.recv().await.ok_or("no echo")?;
    }
    let lobby = server.channel("lobby".to_string());
    for session in server.sessions() {
        lobby.join(&session, |kicked, channel| {
            println!(
                "   kick callback: {} was kicked from {channel:?}",
                kicked.id()
            );
        });
    }
    println!("3. channel \"lobby\" has {} members", lobby.len());
    let first = lobby.members()[0].clone();
    lobby.kick(&first);
    println!(
        "   after kick: {} members; the kicked session is still open: {}",
        lobby.len(),
        !first.is_closed()
    );

    // --- encode-once broadcast with a report ---------------------------
    let report = lobby.broadcast("news for the lobby")?.await;
    let c = report.counts();
    println!(
        "4. lobby broadcast, encoded once: sent {}, closed {}, timed out {}, queue full {}",
        c.sent, c.closed, c.timed_out, c.queue_full
    );
    for client in [&alice, &bob, &carol] {
        // Each client got either the broadcast (if in the lobby) or nothing.
        let _ = timeout(Duration::from_millis(100), client.recv()).await;
    }

    // --- a slow consumer cannot stall the others -----------------------
    let mut stalled = TcpStream::connect(&addr).await?; // never reads
    stalled.write_all(b"\0\0\0\x02hi").await?;
    let readers: Vec<_> = [alice.clone(), carol.clone()]
        .into_iter()
        .map(|c| {
            tokio::spawn(async move {
                let mut n = 0usize;
                while let Ok(Some(_)) = timeout(Duration::from_millis(500), c.recv()).await {
                    n += 1;
                }
                n
            })
        })
        .collect();
    let payload = Bytes::from(vec![b'x'; 16 * 1024]);
    let mut last = None;
    for _ in 0..300 {
        last = Some(server.broadcast(payload.clone())?);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let last = timeout(Duration::from_secs(2), last.ok_or("no broadcast")?.wait()).await?;
    let mut got = Vec::new();
    for r in readers {
        got.push(r.await?);
    }
    let c = last.counts();
    println!(
        "5. 300 broadcasts of 16 KiB while one client never reads: alice and carol each got {got:?};"
    );
    println!(
        "   the last one's report: sent {}, queue full {} (the client that never reads), timed out {}",
        c.sent, c.queue_full, c.timed_out
    );
    drop(stalled);

    // --- heartbeat vs. peer timeout -------------------------------------
    let lively = dial(&addr, Config::default()).await?;
    lively.set_heartbeat(Some((Duration::from_millis(400), "ping")))?;
    println!(
        "6. a new client sends a heartbeat every 400 ms; alice, bob and carol now stay silent (peer timeout 1.5 s)..."
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    println!(
        "   after 2.5 s: the heartbeating client is open: {}; sessions open on the server: {}",
        !lively.is_closed(),
        server.session_count()
    );

    // --- graceful stop ----------------------------------------------------
    let work = lively.async_send("last words before the stop");
    server.stop().await;
    serving.await??;
    let s = server.stats();
    println!(
        "7. stopped (state {:?}); the send in flight ended {:?}",
        server.state(),
        work.await
    );
    println!(
        "   totals: {} connections, {} frames in, {} frames out, {} sends Sent, {} refused for a full queue",
        s.connections_accepted, s.frames_in, s.frames_out, s.sent, s.refused_queue_full
    );
    println!("\ndone.");
    Ok(())
}
