//! P2P routing: the `{src_type, src_no, dst_type, dst_no, payload}` envelope
//! codec and the router from `(type, no)` endpoints to sessions.
//!
//! This module maps endpoints to sessions; it never sends anything itself.

mod envelope;
mod router;

pub use envelope::{Endpoint, Envelope, EnvelopeCodec, ADDRESS_LEN};
pub use router::{EndpointError, RouteError, Router, TypeRoute};
