//! # castnet-tokio
//!
//! castnet on Tokio. **Not implemented yet**: this crate only re-exports
//! [`castnet_core`] so far; its server, client and session API is tracked in
//! the project's issues. Nothing here pretends to work.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use castnet_core as core;
