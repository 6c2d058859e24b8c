//! castnet's fan-out server (`docs/bench-protocol.md`): every frame any client
//! sends is broadcast, encoded once, to every connected client, the sender
//! included, in per-sender order.
//!
//! ```text
//! cargo run --release -p castnet-examples --bin fanout_server -- --addr 127.0.0.1:7001
//! cargo run --release -p castnet-examples --bin fanout_server -- --runtime smol
//! cargo run --release -p castnet-examples --bin fanout_server -- --header varint
//! ```
//!
//! Slow-client policy: every frame is pushed once onto the server's
//! broadcast ring and each session takes it into its own send queue. A
//! client that does not read fills its queue, falls behind the ring and
//! misses the oldest frames (counted in `Stats::broadcast_missed`, and the
//! first miss logged at WARN); nobody else waits for it.
//!
//! What the ring's pressure rule changed here: frames that a session has
//! not had its turn to take are now kept beyond `Config::broadcast_ring`,
//! up to twice it, before the oldest are dropped anyway, so a client that
//! does not read misses frames a little later and the ring may hold up to
//! twice its bound. The handler deliberately keeps the plain
//! `broadcast_detached`, which never pauses: with
//! `broadcast_detached_from`, a sender's connection would stop reading
//! while a client that does not read is within its slow-reader grace (1 s),
//! and the policy above is that nobody waits for it.

use bytes::Bytes;
use castnet_engine::{Conn, Handler, Runtime, Server};
use castnet_examples::server::{run_castnet_server, BenchApp, BenchCodec};
use std::process::ExitCode;

struct Fanout<R: Runtime, C: BenchCodec> {
    server: Server<R, C>,
}

impl<R: Runtime, C: BenchCodec> Handler<C> for Fanout<R, C> {
    fn on_frame(&self, _from: &mut Conn<'_, C>, frame: Bytes) {
        // Fire and forget: one push onto the broadcast ring, no
        // per-recipient report; frames a slow client misses are counted in
        // the server's stats.
        if let Err(e) = self.server.broadcast_detached(frame) {
            tracing::debug!(error = %e, "broadcast refused");
        }
    }
}

/// The bench app: a [`Fanout`] handler on whichever runtime serves.
struct App;

impl BenchApp for App {
    fn handler<R: Runtime + Default, C: BenchCodec>(server: &Server<R, C>) -> impl Handler<C> {
        Fanout {
            server: server.clone(),
        }
    }
}

fn main() -> ExitCode {
    run_castnet_server::<App>("fanout_server")
}
