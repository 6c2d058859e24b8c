//! castnet's echo server (`docs/bench-protocol.md`): every frame a client sends
//! comes back to it unchanged, in order.
//!
//! ```text
//! cargo run --release -p castnet-examples --bin echo_server -- --addr 127.0.0.1:7000
//! cargo run --release -p castnet-examples --bin echo_server -- --runtime smol
//! cargo run --release -p castnet-examples --bin echo_server -- --header varint
//! ```
//!
//! `--header 1|2|4|8` frames with PacketN; `--header varint` with a LEB128
//! length prefix (`VarintCodec`, protobuf's length-delimited framing), where
//! `--endian` does not apply.
//!
//! Echoes are replies on the connection itself ([`Conn::send`]): never
//! refused for a full queue. A client that writes thousands of frames (or
//! megabytes) before it reads gets every echo: while its send queue is over
//! its bound (1 MiB or 1024 frames by default) the server stops reading from
//! it, and resumes once it has read its echoes. It is never disconnected for
//! reading slowly, and other clients are unaffected.

use bytes::Bytes;
use castnet_engine::{handler_fn, Conn, Handler, Runtime, Server};
use castnet_examples::server::{run_castnet_server, BenchApp, BenchCodec};
use std::process::ExitCode;

struct Echo;

impl BenchApp for Echo {
    fn handler<R: Runtime + Default, C: BenchCodec>(_: &Server<R, C>) -> impl Handler<C> {
        handler_fn(|cx: &mut Conn<'_, C>, frame: Bytes| {
            if let Err(e) = cx.send(frame) {
                // Only once the session is closing.
                tracing::debug!(error = %e, "echo not sent");
            }
        })
    }
}

fn main() -> ExitCode {
    run_castnet_server::<Echo>("echo_server")
}
