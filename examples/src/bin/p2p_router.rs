//! P2P routing on castnet-tokio: nodes connect to a router over TCP,
//! register `(type, no)` endpoints, and send each other envelopes that the
//! router forwards by destination, with ping/pong liveness. The protocol
//! and both sides live in `castnet_examples::p2p`.
//!
//! With no arguments, one process starts a router and three nodes on
//! 127.0.0.1, narrates (tracing, INFO) and exits 0:
//!
//! ```text
//! cargo run -p castnet-examples --bin p2p_router
//! ```
//!
//! It shows: registration acknowledged, a taken endpoint refused, envelopes
//! routed both ways with their source and destination, an unknown
//! destination refused, a node that stops answering pings closed by the
//! router and its endpoint released, and a new node taking that endpoint.
//!
//! Or run each node as its own process (a router, then echo nodes that send
//! every envelope back to its sender):
//!
//! ```text
//! cargo run -p castnet-examples --bin p2p_router -- --role router --addr 127.0.0.1:7100
//! cargo run -p castnet-examples --bin p2p_router -- --role node --router 127.0.0.1:7100 --type 2 --no 1
//! ```
//!
//! The router prints `listening on ADDR`, a node `registered (T, N)`; both
//! stop on SIGINT/SIGTERM with status 0.

use bytes::Bytes;
use castnet_core::route::{Endpoint, Envelope};
use castnet_examples::p2p::{Incoming, JoinError, Liveness, Refusal, RouterNode, Service};
use castnet_examples::tour::{exit_code, wait_until, within};
use clap::{Parser, ValueEnum};
use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use tokio::time::timeout;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    /// Route envelopes between the nodes that connect.
    Router,
    /// Join a router and echo every envelope back to its sender.
    Node,
}

/// P2P routing by `(type, no)` endpoints. Without --role: a router and
/// three nodes in one process, narrated, then exit.
#[derive(Debug, Parser)]
struct Args {
    /// Run one node of the network instead of the whole tour.
    #[arg(long, value_enum)]
    role: Option<Role>,
    /// Router: where to listen.
    #[arg(long, default_value = "127.0.0.1:7100")]
    addr: String,
    /// Node: the router's address.
    #[arg(long, required_if_eq("role", "node"))]
    router: Option<SocketAddr>,
    /// Node: its endpoint's type (1 to 255; 0 is the router's).
    #[arg(long = "type", value_parser = clap::value_parser!(u8).range(1..), required_if_eq("role", "node"))]
    ty: Option<u8>,
    /// Node: its endpoint's number.
    #[arg(long, required_if_eq("role", "node"))]
    no: Option<u16>,
    /// How often the router pings each node, in milliseconds.
    #[arg(long, default_value_t = 500)]
    ping_ms: u64,
    /// Silence after which either side closes the link, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    peer_timeout_ms: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    castnet_examples::init_tracing_at(if args.role.is_none() { "info" } else { "warn" });
    let liveness = Liveness {
        ping_interval: Duration::from_millis(args.ping_ms),
        peer_timeout: Duration::from_millis(args.peer_timeout_ms),
    };
    let run: Result<()> = match (args.role, args.router, args.ty, args.no) {
        (Some(Role::Router), ..) => castnet_examples::p2p::run_router(&args.addr, liveness)
            .await
            .map_err(Into::into),
        (Some(Role::Node), Some(router), Some(ty), Some(no)) => {
            castnet_examples::p2p::run_echo_node(router, Endpoint::new(ty, no), liveness)
                .await
                .map_err(Into::into)
        }
        (Some(Role::Node), ..) => Err("a node needs --router, --type and --no".into()),
        (None, ..) => within(Duration::from_secs(20), tour()).await,
    };
    exit_code("p2p_router", run)
}

const GATE: Endpoint = Endpoint::new(1, 1);
const GAME_1: Endpoint = Endpoint::new(2, 1);
const GAME_2: Endpoint = Endpoint::new(2, 2);

/// The next envelope or refusal for `node`, within a second.
async fn next(node: &mut Service) -> Result<Incoming> {
    timeout(Duration::from_secs(1), node.recv())
        .await
        .map_err(|_| "nothing arrived within a second")?
        .ok_or_else(|| "the link closed".into())
}

/// The next envelope for `node` within a second; a refusal is an error.
async fn next_message(node: &mut Service) -> Result<Envelope> {
    match next(node).await? {
        Incoming::Message(env) => Ok(env),
        Incoming::Refused(refusal) => Err(format!("{}: {refusal}", node.endpoint()).into()),
    }
}

/// `"payload" from SRC to DST`.
fn describe(env: &Envelope) -> String {
    format!(
        "{:?} from {} to {}",
        String::from_utf8_lossy(&env.payload),
        env.src(),
        env.dst()
    )
}

async fn tour() -> Result<()> {
    // Quicker than the default, so the silent node's close comes soon.
    let liveness = Liveness {
        ping_interval: Duration::from_millis(250),
        peer_timeout: Duration::from_secs(1),
    };
    let router = RouterNode::start("127.0.0.1:0", liveness).await?;
    let addr = router.local_addr()?;
    tracing::info!(%addr, ?liveness, "1. router listening");

    let mut gate = Service::join(addr, GATE, liveness).await?;
    let mut game1 = Service::join(addr, GAME_1, liveness).await?;
    let game2 = Service::join(addr, GAME_2, liveness).await?;
    tracing::info!("2. three nodes registered {GATE}, {GAME_1} and {GAME_2} (each got an ack)");
    match Service::join(addr, GAME_1, liveness).await {
        Err(JoinError::Refused(refusal)) => {
            tracing::info!("   a fourth node asking for {GAME_1} was refused: {refusal}")
        }
        Err(e) => return Err(e.into()),
        Ok(_) => return Err("a taken endpoint was given twice".into()),
    }

    gate.send(GAME_1, "join room 7").await?;
    let request = next_message(&mut game1).await?;
    tracing::info!("3. {GAME_1} got {}", describe(&request));
    game1.send(request.src(), "welcome to room 7").await?;
    let answer = next_message(&mut gate).await?;
    tracing::info!("   and answered: {GATE} got {}", describe(&answer));

    let nowhere = Endpoint::new(9, 9);
    gate.send(nowhere, Bytes::from_static(b"anyone?")).await?;
    match next(&mut gate).await? {
        Incoming::Refused(refusal @ Refusal::UnknownDestination(_)) => {
            tracing::info!("4. an envelope to {nowhere} came back refused: {refusal}")
        }
        other => return Err(format!("expected a refusal, got {other:?}").into()),
    }

    game2.stop_answering_pings();
    tracing::info!("5. {GAME_2} stops answering the router's pings...");
    let waited = wait_until(Duration::from_secs(5), || router.holder(GAME_2).is_none())
        .await
        .ok_or("the silent node was never closed")?;
    tracing::info!("   after {waited:?} the router had closed it and released {GAME_2}");

    let mut newcomer = Service::join(addr, GAME_2, liveness).await?;
    gate.send(GAME_2, "hello, newcomer").await?;
    let hello = next_message(&mut newcomer).await?;
    tracing::info!("6. a new node took {GAME_2} and got {}", describe(&hello));

    router.stop().await?;
    tracing::info!("7. router stopped; done.");
    Ok(())
}
