//! The one-command tour of castnet, entirely on 127.0.0.1 and over in a few
//! seconds:
//!
//! ```text
//! cargo run --release -p castnet-examples --bin demo
//! ```
//!
//! It starts a server, connects clients, and narrates (tracing, INFO, on
//! stderr; `RUST_LOG` overrides the level) each call it makes: echo and
//! `async_send` outcomes; a channel (`channel`, `join` with a kick callback,
//! `members`, `kick`, `exit`, `broadcast` with its per-recipient report);
//! sessions by id (`session(id)`, `send_to`); fire-and-forget fan-out
//! (`broadcast_detached`, and `broadcast_detached_from` relaying what a
//! client sent); a slow consumer that cannot stall the others under
//! `broadcast`; `close_many`; a heartbeat keeping a link alive while silent
//! ones time out; `stats()` and a graceful `stop()` that resolves every
//! send. It exits 0.

use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::{CloseReason, SessionConfig};
use castnet_core::SessionId;
use castnet_examples::tour::{exit_code, within, Outcome};
use castnet_tokio::{dial, Config, Conn, Handler, Server, Session};
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tracing::info;

/// A frame starting with this is relayed to every session instead of
/// echoed.
const RELAY: &[u8] = b"relay:";
/// A client sending this gets its session id (as the server numbers it).
const WHOAMI: &[u8] = b"whoami";

/// Echoes every frame, answers `whoami`, relays `relay:` frames to every
/// session, and narrates how sessions end.
struct Echo {
    server: Server,
}

impl Handler<PacketN> for Echo {
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        if frame.starts_with(RELAY) {
            // Fan-out from a handler: this connection pauses rather than
            // overrun the sessions that keep up.
            match self.server.broadcast_detached_from(cx, frame) {
                Ok(n) => info!(
                    "   server: broadcast_detached_from({}) relayed to {n} sessions",
                    cx.id()
                ),
                Err(e) => info!("   server: relay refused: {e}"),
            }
        } else if &frame[..] == WHOAMI {
            let _ = cx.send(cx.id().get().to_string());
        } else {
            // A reply on the connection itself: never refused for a full
            // queue (the server reads more slowly from a client that lags).
            let _ = cx.send(frame);
        }
    }

    fn on_close(&self, session: &Session<PacketN>, _: (), reason: &CloseReason) {
        info!("   server: {} closed ({reason})", session.id());
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    castnet_examples::init_tracing_at("info");
    exit_code("demo", within(Duration::from_secs(20), tour()).await)
}

/// The next frame for `client`, within a second.
async fn next(client: &Session<PacketN>) -> Result<Bytes, String> {
    match timeout(Duration::from_secs(1), client.recv()).await {
        Ok(Some(frame)) => Ok(frame),
        Ok(None) => Err(format!("{} closed", client.id())),
        Err(_) => Err(format!("nothing for {} within a second", client.id())),
    }
}

fn text(frame: &Bytes) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(frame)
}

/// The id the server gave `client`'s connection.
async fn server_id(client: &Session<PacketN>) -> Result<SessionId, String> {
    client.try_send(WHOAMI).map_err(|e| e.to_string())?;
    let id = next(client).await?;
    text(&id)
        .parse()
        .map(SessionId::from_raw)
        .map_err(|e| format!("not an id: {e}"))
}

async fn tour() -> Outcome {
    info!("castnet demo: a server and its clients on 127.0.0.1");

    // Sessions that say nothing for a second and a half are closed; send
    // queues are kept small so the slow-consumer scene below is quick.
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
        let handler = Echo {
            server: server.clone(),
        };
        tokio::spawn(async move { server.serve(handler).await })
    };
    // --- echo and async_send -------------------------------------------
    let alice = dial(&addr, Config::default()).await?;
    info!("1. server listening on {addr} (state {:?})", server.state());
    let outcome = alice.async_send("hello from alice").await;
    let echo = next(&alice).await?;
    info!(
        "2. alice: async_send -> {outcome:?}; echo {:?}",
        text(&echo)
    );

    // --- channels: join, kick, exit, broadcast --------------------------
    let bob = dial(&addr, Config::default()).await?;
    let carol = dial(&addr, Config::default()).await?;
    let ids = [
        server_id(&alice).await?,
        server_id(&bob).await?,
        server_id(&carol).await?,
    ];
    let lobby = server.channel("lobby".to_string());
    for session in server.sessions() {
        lobby.join(&session, |kicked, channel| {
            info!(
                "   kick callback: {} was kicked from {channel:?}",
                kicked.id()
            );
        });
    }
    let members = lobby.members();
    let listed: Vec<String> = members.iter().map(|m| m.id().to_string()).collect();
    info!(
        "3. channel(\"lobby\"): joined, {} members; members() -> [{}]",
        lobby.len(),
        listed.join(", ")
    );
    lobby.kick(&members[0]);
    info!(
        "   after kick: {} members; the kicked session is still open: {}",
        lobby.len(),
        !members[0].is_closed()
    );
    let left = lobby.exit(&members[1]);
    info!(
        "   exit({}) -> {left}: {} member left, no kick callback",
        members[1].id(),
        lobby.len()
    );
    // The remaining member gets it; the others get nothing.
    let report = lobby.broadcast("news for the lobby")?.await;
    let c = report.counts();
    info!(
        "4. lobby broadcast, encoded once: sent {}, closed {}, timed out {}, queue full {}",
        c.sent, c.closed, c.timed_out, c.queue_full
    );
    for client in [&alice, &bob, &carol] {
        let _ = timeout(Duration::from_millis(100), client.recv()).await;
    }

    // --- sessions by id --------------------------------------------------
    let [alice_id, bob_id, carol_id] = ids;
    let found = server.session(alice_id).ok_or("alice's session is open")?;
    info!(
        "5. server.session({alice_id}) -> open, peer {:?}",
        found.peer_addr()
    );
    server
        .send_to(alice_id, "a word for alice only")
        .map_err(|e| e.to_string())?;
    info!(
        "   send_to({alice_id}): alice got {:?}",
        text(&next(&alice).await?)
    );

    // --- fire-and-forget fan-out ----------------------------------------
    let following = server.broadcast_detached("tick for everyone")?;
    let mut got = Vec::new();
    for client in [&alice, &bob, &carol] {
        got.push(text(&next(client).await?).into_owned());
    }
    info!("6. broadcast_detached: {following} sessions following the ring; alice, bob and carol got {got:?}");
    carol
        .try_send("relay:carol says hi")
        .map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    for client in [&alice, &bob, &carol] {
        got.push(text(&next(client).await?).into_owned());
    }
    info!("   carol's frame, relayed by the handler: alice, bob and carol got {got:?}");

    // --- closing sessions by id -----------------------------------------
    let handles: Vec<Session<PacketN>> = [bob_id, carol_id]
        .iter()
        .filter_map(|&id| server.session(id))
        .collect();
    let closed = server.close_many(&[bob_id, carol_id]);
    for handle in &handles {
        // Resolves once the session's owner has finished and left the server.
        timeout(Duration::from_secs(3), handle.closed()).await?;
    }
    if server.session(bob_id).is_some() || server.session(carol_id).is_some() {
        return Err("close_many did not close bob and carol".into());
    }
    info!("7. close_many([{bob_id}, {carol_id}]) -> {closed}; server.session of each is now None");
    drop((bob, carol));

    // --- a slow consumer cannot stall the others -----------------------
    let dave = dial(&addr, Config::default()).await?;
    let mut stalled = TcpStream::connect(&addr).await?; // never reads
    stalled.write_all(b"\0\0\0\x02hi").await?;
    let readers: Vec<_> = [alice.clone(), dave.clone()]
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
    info!("8. 300 broadcasts of 16 KiB while one client never reads: alice and dave each got {got:?};");
    info!(
        "   the last one's report: sent {}, queue full {} (the client that never reads), timed out {}",
        c.sent, c.queue_full, c.timed_out
    );
    drop(stalled);

    // --- heartbeat vs. peer timeout -------------------------------------
    let lively = dial(&addr, Config::default()).await?;
    lively.set_heartbeat(Some((Duration::from_millis(400), "ping")))?;
    info!("9. a new client sends a heartbeat every 400 ms; alice and dave now stay silent (peer timeout 1.5 s)...");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    info!(
        "   after 2.5 s: the heartbeating client is open: {}; sessions open on the server: {}",
        !lively.is_closed(),
        server.session_count()
    );

    // --- graceful stop ----------------------------------------------------
    let work = lively.async_send("last words before the stop");
    server.stop().await;
    serving.await??;
    let s = server.stats();
    info!(
        "10. stopped (state {:?}); the send in flight ended {:?}",
        server.state(),
        work.await
    );
    info!(
        "   stats(): {} connections, {} frames in, {} frames out, {} sends Sent, {} refused for a full queue",
        s.connections_accepted, s.frames_in, s.frames_out, s.sent, s.refused_queue_full
    );
    info!("done.");
    Ok(())
}
