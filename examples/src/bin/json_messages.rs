//! Typed messages on castnet-tokio (its `json` feature): a request/response
//! protocol of serde types (`Request::Add { a, b }`, `Request::Echo(..)`
//! answered with `Response::Sum`, `Response::Echo` or `Response::Error`),
//! the server decoding each frame with `frame.json::<Request>()` and
//! answering `Json(response)`; a malformed request answered with a typed
//! error while its session stays open; and a typed `Notice` broadcast to
//! every session, serialised once. The protocol and server live in
//! `castnet_examples::json_messages`.
//!
//! With no arguments, one process starts the server on 127.0.0.1, runs
//! three clients against it, narrates (tracing, INFO) and exits 0:
//!
//! ```text
//! cargo run -p castnet-examples --bin json_messages
//! ```
//!
//! Or run the server until SIGINT/SIGTERM (it prints `listening on ADDR`);
//! its frames are PacketN (a 4-byte big-endian length, then the JSON, e.g.
//! `{"Add":{"a":2,"b":40}}`), so talk to it with a castnet client:
//!
//! ```text
//! cargo run -p castnet-examples --bin json_messages -- --serve --addr 127.0.0.1:7500
//! ```

use castnet_examples::json_messages::{start, Client, Request, Running};
use castnet_examples::tour::{tour_or_serve, Outcome};
use std::process::ExitCode;
use tracing::info;

const ABOUT: &str = "Typed JSON requests, responses and a broadcast notice. Without --serve: the server and three clients in one process, narrated.";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let serve = |addr: String| async move { start(&addr).await.map(Running::into_serving) };
    tour_or_serve("json_messages", ABOUT, "127.0.0.1:7500", tour(), serve).await
}

async fn tour() -> Outcome {
    let server = start("127.0.0.1:0").await?;
    let addr = server.local_addr()?;
    info!(%addr, "1. a server of typed JSON requests listening; three clients connect");
    let alice = Client::connect(addr).await?;
    let bob = Client::connect(addr).await?;
    let carol = Client::connect(addr).await?;

    for request in [
        Request::Add { a: 2, b: 40 },
        Request::Echo("hello, typed world".into()),
        Request::Add { a: i64::MAX, b: 1 },
    ] {
        let response = alice.request(&request).await?;
        info!("2. alice: {request:?} -> {response:?}");
    }

    for payload in [&br#"{"Add":{"a":1}}"#[..], b"not json at all"] {
        let response = bob.send_raw(payload).await?;
        info!(
            "3. bob sends {:?} -> {response:?}",
            String::from_utf8_lossy(payload)
        );
    }
    let request = Request::Add { a: 1, b: 2 };
    let response = bob.request(&request).await?;
    info!(
        malformed = server.malformed(),
        "   bob's session stays open: {request:?} -> {response:?}"
    );

    let sent = server.notify("maintenance at noon").await?;
    info!("4. the server broadcasts a notice, serialised once, written to {sent} sessions");
    for (name, client) in [("alice", &alice), ("bob", &bob), ("carol", &carol)] {
        info!("   {name} gets {:?}", client.next().await?);
    }

    server.stop().await?;
    info!("server stopped; done.");
    Ok(())
}
