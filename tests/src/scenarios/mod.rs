//! The scenarios, by what they prove. Each is `async fn name<T:
//! TestRuntime>()`; [`conformance!`](crate::conformance) makes a test of it
//! per runtime.

pub mod broadcast;
pub mod channels;
pub mod churn;
pub mod client;
pub mod dial;
pub mod echo;
pub mod faults;
pub mod handler;
pub mod heartbeat;
pub mod limits;
pub mod quiet_heartbeat;
pub mod send;
pub mod server;
pub mod session;
pub mod state;
pub mod timers;
pub mod typed;
