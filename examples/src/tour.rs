//! What the tours (`demo`, `p2p_router`, `custom_codec`, `chat`,
//! `heartbeat`, `json_messages`) share around their story: a time limit, an
//! exit status, and for the last three their whole `main` ([`tour_or_serve`]).

use crate::server::{announce_listening, Serving, Shutdown};
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

/// Checks `done` every 10 ms until it holds, for at most `limit`: how long
/// that took, or `None` if it never did. For application state that no
/// future announces (a router's table, a handler's record of closes).
pub async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let start = tokio::time::Instant::now();
    loop {
        if done() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
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

/// The flags of a tour that can run its server alone instead.
#[derive(Debug, clap::Parser)]
struct ServeArgs {
    /// Run the server until SIGINT/SIGTERM instead of the tour.
    #[arg(long)]
    serve: bool,
    /// With --serve: where to listen.
    #[arg(long)]
    addr: String,
}

/// How long a tour run by [`tour_or_serve`] may take.
pub const TOUR_LIMIT: Duration = Duration::from_secs(30);

/// A tour's `main`. Parses `--serve` and `--addr ADDR` (default
/// `default_addr`; `about` is the `--help` text); with `--serve`, runs the
/// server `start` makes on that address until SIGINT/SIGTERM, logging at
/// WARN; otherwise runs `tour` within [`TOUR_LIMIT`], narrating at INFO.
pub async fn tour_or_serve<C, F, Fut>(
    program: &'static str,
    about: &'static str,
    default_addr: &'static str,
    tour: impl Future<Output = Outcome>,
    start: F,
) -> ExitCode
where
    C: castnet_core::Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = std::io::Result<Serving<C>>>,
{
    use clap::{CommandFactory, FromArgMatches};
    let matches = ServeArgs::command()
        .name(program)
        .about(about)
        .mut_arg("addr", |addr| {
            addr.default_value(default_addr).required(false)
        })
        .get_matches();
    let args = ServeArgs::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    crate::init_tracing_at(if args.serve { "warn" } else { "info" });
    let run = if args.serve {
        serve_until_stopped(start(args.addr)).await
    } else {
        within(TOUR_LIMIT, tour).await
    };
    exit_code(program, run)
}

async fn serve_until_stopped<C>(
    server: impl Future<Output = std::io::Result<Serving<C>>>,
) -> Outcome
where
    C: castnet_core::Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    let shutdown = Shutdown::install()?;
    let server = server.await?;
    announce_listening(server.local_addr()?)?;
    shutdown.wait().await;
    Ok(server.stop().await?)
}
