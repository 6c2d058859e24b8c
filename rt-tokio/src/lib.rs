//! # castnet-tokio
//!
//! castnet on Tokio. So far this crate holds the tokio-util interop
//! ([`codec::Compat`]); the server, client and session API is being built
//! (see the project's issues and README status table).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codec;
mod socket;

pub use socket::{PeerAddr, SocketOptions};

pub use castnet_core as core;
