//! The runtime abstraction the scenarios are written against.

use castnet_engine::{AsyncTimer, Runtime};
use futures_lite::FutureExt as _;
use std::future::Future;
use std::panic::{resume_unwind, AssertUnwindSafe};
use std::time::Duration;

/// A runtime the suite runs on: the engine's [`Runtime`] it binds, and how
/// a test thread drives a future on it.
///
/// Everything else a scenario needs (spawning, sleeping, timeouts) is
/// derived from [`Runtime`] itself, so adding a runtime is implementing
/// these two items and adding one line to [`conformance!`](crate::conformance).
pub trait TestRuntime: Sized + Send + 'static {
    /// The engine runtime under test (`castnet_engine::Server<Self::Rt>` and
    /// friends).
    type Rt: Runtime + Default;
    /// A short name, for messages and socket paths.
    const NAME: &'static str;

    /// Runs `future` to completion on the calling thread, with the runtime
    /// live (tasks spawned through [`Runtime::spawn`] make progress).
    fn block_on<F: Future>(future: F) -> F::Output;

    /// How many tasks the runtime has alive, where it can say.
    fn alive_tasks() -> Option<usize> {
        None
    }
}

/// castnet-tokio, on a multi-threaded Tokio runtime of two workers (so that
/// no scenario relies on a single-threaded interleaving).
#[derive(Debug)]
pub struct Tokio;

impl TestRuntime for Tokio {
    type Rt = castnet_tokio::Tokio;
    const NAME: &'static str = "tokio";

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a Tokio runtime")
            .block_on(future)
    }

    fn alive_tasks() -> Option<usize> {
        Some(
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
        )
    }
}

/// castnet-smol, on smol's global executor (`smol::block_on` drives the
/// test body, the executor's own thread the tasks).
#[derive(Debug)]
pub struct Smol;

impl TestRuntime for Smol {
    type Rt = castnet_smol::Smol;
    const NAME: &'static str = "smol";

    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }
}

/// castnet-std, on its own loop threads: the test body blocks the test
/// thread with `castnet_std::block_on`, as a synchronous caller does.
#[derive(Debug)]
pub struct Std;

impl TestRuntime for Std {
    type Rt = castnet_std::Std;
    const NAME: &'static str = "std";

    fn block_on<F: Future>(future: F) -> F::Output {
        castnet_std::block_on(future)
    }
}

/// A task spawned with [`spawn`]: [`join`](Self::join) it for its output (a
/// panic in the task is resumed in the joiner). Dropping it detaches the
/// task.
#[must_use = "join the task, or drop it to detach it"]
pub struct Task<O>(async_channel::Receiver<std::thread::Result<O>>);

impl<O> Task<O> {
    /// The task's output, once it has finished.
    pub async fn join(self) -> O {
        match self.0.recv().await {
            Ok(Ok(output)) => output,
            Ok(Err(panic)) => resume_unwind(panic),
            Err(_) => panic!("the task was dropped before it finished"),
        }
    }
}

/// Spawns `future` on `T`'s runtime.
pub fn spawn<T, F>(future: F) -> Task<F::Output>
where
    T: TestRuntime,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = async_channel::bounded(1);
    T::Rt::default().spawn(async move {
        let output = AssertUnwindSafe(future).catch_unwind().await;
        let _ = tx.send(output).await;
    });
    Task(rx)
}

/// Sleeps for `d` on `T`'s timers. Only for a bounded poll loop or a
/// negative check, never in place of an event.
pub async fn sleep<T: TestRuntime>(d: Duration) {
    let rt = T::Rt::default();
    let mut timer = rt.timer(rt.now() + d);
    std::future::poll_fn(|cx| timer.poll_fired(cx)).await
}

/// `future`'s output, or `None` if `d` passes first.
pub async fn timeout<T: TestRuntime, F: Future>(d: Duration, future: F) -> Option<F::Output> {
    async { Some(future.await) }
        .or(async {
            sleep::<T>(d).await;
            None
        })
        .await
}
