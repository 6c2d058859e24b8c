//! What the tours (`demo`, `p2p_router`, `custom_codec`) share around
//! their story: a time limit and an exit status.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

/// How a tour (or a node it can run as instead) ended.
pub type Outcome = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Runs `tour`, which must end within `limit`: a tour that hangs is an
/// error, not a process that never exits.
pub async fn within(limit: Duration, tour: impl Future<Output = Outcome>) -> Outcome {
    tokio::time::timeout(limit, tour)
        .await
        .unwrap_or_else(|_| Err(format!("the tour took longer than {limit:?}").into()))
}

/// Status 0 for `Ok`; the error logged and status 1 otherwise.
pub fn exit_code(program: &str, outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{program} failed");
            ExitCode::FAILURE
        }
    }
}
