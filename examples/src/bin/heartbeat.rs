//! Liveness on castnet-tokio, both ways: server and clients send heartbeats
//! (`set_heartbeat`) that the other side names with `Config::peer_heartbeat`,
//! so they keep a connection alive without ever reaching a handler or
//! `recv`; a client that sends nothing is closed with
//! `CloseReason::PeerTimeout` (and learns it was closed through
//! `Session::close_reason`); an application-level idle kick with
//! `Conn::run_after` and `Handler::on_timer`; and a server tick
//! (`Handler::on_tick`) logging the sessions alive. The server lives in
//! `castnet_examples::heartbeat`.
//!
//! With no arguments, one process starts the server on 127.0.0.1 (peer
//! timeout 1 s, heartbeats every 200 ms, idle kick after 6 s, a tick a
//! second), runs a beating, a silent and an idle client, narrates (tracing,
//! INFO) and exits 0 after about 7 s:
//!
//! ```text
//! cargo run -p castnet-examples --bin heartbeat
//! ```
//!
//! Or run the server until SIGINT/SIGTERM (it prints `listening on ADDR`).
//! Send it lines, e.g. with `nc 127.0.0.1 7400`: it answers `ok LINE`,
//! beats `hb` at you, closes the connection 1 s after your last line
//! (you send no heartbeats) and logs its tick at INFO:
//!
//! ```text
//! RUST_LOG=info cargo run -p castnet-examples --bin heartbeat -- --serve --addr 127.0.0.1:7400
//! ```

use castnet_core::frame::Utf8LinesCodec;
use castnet_examples::heartbeat::{connect, start, Running, Settings};
use castnet_examples::tour::{tour_or_serve, Outcome};
use castnet_tokio::Session;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::time::timeout;
use tracing::info;

const ABOUT: &str = "A server with peer heartbeats, an idle kick and a tick. Without --serve: the server and three clients in one process, narrated.";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let serve = |addr: String| async move {
        start(&addr, Settings::default())
            .await
            .map(Running::into_serving)
    };
    tour_or_serve("heartbeat", ABOUT, "127.0.0.1:7400", tour(), serve).await
}

/// The next line on `session` (`None` once closed), within 10 s.
async fn next(session: &Session<Utf8LinesCodec>) -> Result<Option<String>, &'static str> {
    timeout(Duration::from_secs(10), session.recv())
        .await
        .map_err(|_| "nothing within 10 s")
}

async fn tour() -> Outcome {
    let settings = Settings::default();
    let server = start("127.0.0.1:0", settings).await?;
    let addr = server.local_addr()?;
    info!(%addr, ?settings, "1. a server with a peer timeout, heartbeats, an idle kick and a tick");
    let started = Instant::now();

    let beating = connect(addr, &settings, "beating", true).await?;
    let silent = connect(addr, &settings, "silent", false).await?;
    let idle = connect(addr, &settings, "idle", true).await?;
    for (name, client) in [("beating", &beating), ("silent", &silent), ("idle", &idle)] {
        info!(
            "2. {name} connects and names itself: {:?}",
            next(client).await?
        );
    }
    info!(
        "   beating and idle send heartbeats every {:?}; silent sends nothing more",
        settings.heartbeat
    );

    let why = timeout(Duration::from_secs(10), silent.closed()).await?;
    info!(
        after = ?started.elapsed(),
        "3. silent's connection ended: {why}; close_reason() = {:?}",
        silent.close_reason()
    );
    let server_side = server.close_reason("silent").await;
    info!("   the server closed it for: {server_side:?}");

    // Three peer timeouts and a half since beating's last line.
    tokio::time::sleep_until((started + settings.peer_timeout * 7 / 2).into()).await;
    info!(
        after = ?started.elapsed(),
        "4. beating, silent but for heartbeats past 3 peer timeouts, is open: {}; close_reason() = {:?}",
        !beating.is_closed(),
        beating.close_reason()
    );
    info!(
        "   heartbeats received by the server: {}; heartbeat lines its handler saw: {}",
        server.heartbeats_received(),
        server.seen().heartbeat_lines()
    );
    beating.send("still here").await?;
    info!(
        "   beating says \"still here\" and gets {:?} (none of the server's heartbeats reached its recv)",
        next(&beating).await?
    );

    let bye = next(&idle).await?;
    let then = next(&idle).await?;
    info!(
        after = ?started.elapsed(),
        "5. idle, beating but saying nothing, is kicked by the application's timer: it got {bye:?}, then {then:?}"
    );
    info!(
        "   the server closed it for: {:?}",
        server.close_reason("idle").await
    );

    info!(
        ticks = server.seen().ticks(),
        alive = server.session_count(),
        "6. the server's tick ran; sessions alive now"
    );
    server.stop().await?;
    info!("server stopped; done.");
    Ok(())
}
