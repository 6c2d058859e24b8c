//! A chat server on castnet-tokio: rooms are channels, a line protocol
//! (`/nick NAME`, `/join ROOM`, `/leave`, `/kick NAME`, `/quit`, anything
//! else said in the room as `NAME: text`), each session's nick and room in
//! the handler's per-session state. The server lives in
//! `castnet_examples::chat`.
//!
//! With no arguments, one process starts the server on 127.0.0.1, runs
//! three clients through it, narrates (tracing, INFO) and exits 0:
//!
//! ```text
//! cargo run -p castnet-examples --bin chat
//! ```
//!
//! It shows joining rooms, lines reaching exactly their room's members in
//! order, an unknown command answered with an error, leaving, a kick (the
//! kicked client told by the channel's kick callback, and no longer in the
//! room) and a client that disconnects while in a room leaving it.
//!
//! Or run the server until SIGINT/SIGTERM (it prints `listening on ADDR`)
//! and chat yourself, e.g. from two terminals with `nc 127.0.0.1 7300`:
//!
//! ```text
//! cargo run -p castnet-examples --bin chat -- --serve --addr 127.0.0.1:7300
//! ```

use castnet_examples::chat::{start, Client, Running};
use castnet_examples::tour::{tour_or_serve, Outcome};
use std::process::ExitCode;
use tracing::info;

const ABOUT: &str = "A chat server whose rooms are castnet channels. Without --serve: the server and three clients in one process, narrated.";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let serve = |addr: String| async move { start(&addr).await.map(Running::into_serving) };
    tour_or_serve("chat", ABOUT, "127.0.0.1:7300", tour(), serve).await
}

/// `who` sends `line` and logs the answer it gets.
async fn ask(who: &str, client: &Client, line: &str) -> Outcome {
    client.send(line).await?;
    let answer = client.line().await?;
    info!("{who} sends {line:?} and gets {answer:?}");
    Ok(())
}

/// Logs the next line `who` gets.
async fn hears(who: &str, client: &Client) -> Outcome {
    let line = client.line().await?;
    info!("   {who} gets {line:?}");
    Ok(())
}

async fn tour() -> Outcome {
    let server = start("127.0.0.1:0").await?;
    let addr = server.local_addr()?;
    info!(%addr, "1. a chat server listening; three clients connect");
    let alice = Client::connect(addr).await?;
    let bob = Client::connect(addr).await?;
    let carol = Client::connect(addr).await?;
    ask("alice", &alice, "hello?").await?;
    for (name, client) in [("alice", &alice), ("bob", &bob), ("carol", &carol)] {
        ask(name, client, &format!("/nick {name}")).await?;
    }

    info!("2. alice and bob join lobby, carol joins garden");
    ask("alice", &alice, "/join lobby").await?;
    bob.send("/join lobby").await?;
    hears("alice", &alice).await?;
    hears("bob", &bob).await?;
    ask("carol", &carol, "/join garden").await?;

    info!("3. lines reach exactly their room's members, in order");
    for (name, client, text) in [("alice", &alice, "hi bob"), ("bob", &bob, "hi alice")] {
        client.send(text).await?;
        info!("{name} says {text:?}");
        hears("alice", &alice).await?;
        hears("bob", &bob).await?;
    }
    ask("carol", &carol, "anyone in the garden?").await?;
    info!("   (carol heard nothing from lobby: her next line is her own)");

    info!("4. an unknown command is an error line; the session stays open");
    ask("carol", &carol, "/dance").await?;

    info!("5. carol leaves garden and joins lobby; only lobby's first member may kick");
    ask("carol", &carol, "/leave").await?;
    carol.send("/join lobby").await?;
    for (name, client) in [("alice", &alice), ("bob", &bob), ("carol", &carol)] {
        hears(name, client).await?;
    }
    ask("bob", &bob, "/kick carol").await?;
    alice.send("/kick carol").await?;
    info!("alice sends \"/kick carol\"");
    hears("carol (kick callback)", &carol).await?;
    hears("alice", &alice).await?;
    hears("bob", &bob).await?;
    alice.send("carol is gone").await?;
    hears("alice", &alice).await?;
    hears("bob", &bob).await?;
    ask("carol", &carol, "still here?").await?;
    info!(members = server.room_len("lobby"), "   lobby's members now");

    info!("6. bob disconnects while in lobby: his on_close leaves the room");
    bob.close();
    hears("alice", &alice).await?;
    info!(members = server.room_len("lobby"), "   lobby's members now");

    ask("alice", &alice, "/quit").await?;
    server.stop().await?;
    info!("server stopped; done.");
    Ok(())
}
