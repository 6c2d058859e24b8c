//! The blocking wait: any engine future, run to completion on the calling
//! thread.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Instant;

/// Wakes a thread blocked in [`block_on_until`].
struct Unpark {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Runs `future` on the calling thread, parking it between wake-ups, until
/// it completes or `deadline` passes (then `None`; the future is dropped,
/// which every castnet wait allows without losing anything). The blocking
/// half of the engine's waits: a synchronous caller (castnet-std's API, a
/// plain thread holding a handle) waits on the same futures an async task
/// awaits. Never call it on a thread that runs tasks: they would stall.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// assert_eq!(castnet_engine::block_on_until(async { 42 }, None), Some(42));
/// let never = std::future::pending::<()>();
/// let soon = Instant::now() + Duration::from_millis(10);
/// assert_eq!(castnet_engine::block_on_until(never, Some(soon)), None);
/// ```
pub fn block_on_until<F: Future>(future: F, deadline: Option<Instant>) -> Option<F::Output> {
    let unpark = Arc::new(Unpark {
        thread: std::thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(unpark.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        while !unpark.woken.swap(false, Ordering::AcqRel) {
            match deadline {
                None => std::thread::park(),
                Some(at) => {
                    let now = Instant::now();
                    if now >= at {
                        return None;
                    }
                    std::thread::park_timeout(at - now);
                }
            }
        }
    }
}
