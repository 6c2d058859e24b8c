//! # castnet-tokio
//!
//! castnet on Tokio: servers ([`Server`]), clients ([`dial`]) and session
//! handles ([`Session`]) driving `castnet-core`'s sans-IO session and hub, with
//! tokio-util interop ([`codec::Compat`]).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codec;
mod config;
mod connect;
mod driver;
mod handler;
mod lane;
mod pending;
mod recv;
mod server;
mod session;
mod socket;
mod stats;

pub use castnet_core as core;
pub use castnet_core::hub::PeerAddr;
pub use config::Config;
pub use connect::{dial, dial_timeout, dial_unix};
pub use handler::{handler_fn, FnHandler, Handler};
pub use server::{BroadcastWork, Channel, LocalAddr, Server};
pub use session::{SendError, SendWork, SendWorkError, Session, TrySendError};
pub use socket::SocketOptions;
pub use stats::Stats;
