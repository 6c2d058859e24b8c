//! `Std`'s `yield_now` lets the tasks the loop's sockets woke run first,
//! as Tokio's does: the engine yields after broadcast frames wake a
//! connection so that publishers (woken by readable sockets) publish before
//! the connection pulls. One loop, so that every task below shares it.

use castnet_engine::{AsyncStream, Runtime};
use castnet_std::Std;
use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::mpsc;
use std::task::Poll;
use std::time::Duration;

const BOUND: Duration = Duration::from_secs(10);

#[test]
fn a_yielded_task_runs_after_the_tasks_its_loop_found_readable() {
    std::env::set_var("CASTNET_STD_THREADS", "1");
    let path = std::env::temp_dir().join(format!("castnet-yield-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let (log_tx, log) = mpsc::channel::<&str>();

    // A lone yield completes: the loop does not sleep on a yielded task.
    let tx = log_tx.clone();
    Std.spawn(async move {
        Std.yield_now().await;
        tx.send("alone").unwrap();
    });
    assert_eq!(log.recv_timeout(BOUND), Ok("alone"));

    // Two tasks wait on their sockets (registered with the loop's poller):
    // the reader, and the relay, which once readable makes the reader's
    // socket readable.
    let tx = log_tx.clone();
    wait_for_a_byte(&path, &log_tx, move || tx.send("reader ran").unwrap());
    let (mut reader_peer, _) = listener.accept().unwrap();
    assert_eq!(log.recv_timeout(BOUND), Ok("waiting"));
    wait_for_a_byte(&path, &log_tx, move || reader_peer.write_all(b"x").unwrap());
    let (mut relay_peer, _) = listener.accept().unwrap();
    assert_eq!(log.recv_timeout(BOUND), Ok("waiting"));

    // Wakes the relay, then yields. Each look at the sockets wakes one task
    // of the chain, and each must run before the yielded task does: a yield
    // that only put the task back in the queue would let it run first.
    let tx = log_tx;
    Std.spawn(async move {
        relay_peer.write_all(b"x").unwrap();
        Std.yield_now().await;
        tx.send("yielded").unwrap();
    });
    assert_eq!(log.recv_timeout(BOUND), Ok("reader ran"));
    assert_eq!(log.recv_timeout(BOUND), Ok("yielded"));
    let _ = std::fs::remove_file(&path);
}

/// Spawns a task that connects to `path`, logs "waiting" once it waits on
/// the connection, and runs `then` when a byte arrives.
fn wait_for_a_byte(
    path: &Path,
    log: &mpsc::Sender<&'static str>,
    then: impl FnOnce() + Send + 'static,
) {
    let (path, log) = (path.to_path_buf(), log.clone());
    Std.spawn(async move {
        let mut stream = Std.connect_unix(&path).await.unwrap();
        let mut buf = bytes::BytesMut::with_capacity(16);
        let mut told = false;
        let read = std::future::poll_fn(|cx| match stream.poll_read_buf(cx, &mut buf) {
            Poll::Pending => {
                if !std::mem::replace(&mut told, true) {
                    log.send("waiting").unwrap();
                }
                Poll::Pending
            }
            Poll::Ready(read) => Poll::Ready(read.unwrap()),
        })
        .await;
        assert_eq!(read, 1);
        then();
    });
}
