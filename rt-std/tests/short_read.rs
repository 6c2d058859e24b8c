//! castnet-std's reads: a read shorter than its buffer emptied the socket,
//! so the next wait is for the poller's next event rather than another read
//! call that could only say `WouldBlock`; but once the poller has reported
//! the peer's end of stream, the socket stays readable, since no further
//! event will come for it.
//!
//! Driven by hand through the engine's `AsyncStream` on a Unix socket pair,
//! from the test thread, on one loop (`CASTNET_STD_THREADS=1`), whose
//! thread sets the readiness.

use bytes::BytesMut;
use castnet_engine::{AsyncListener, AsyncStream, Runtime};
use castnet_std::{Io, Std};
use std::io::{self, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Once};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// One loop for the process, set before anything starts the loops.
fn one_loop() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_var("CASTNET_STD_THREADS", "1"));
}

/// Returns once the loop has looked at its sockets since the call: a task
/// spawned now ends its yield only after the loop's next poll, which takes
/// every event already pending.
fn loop_polled() {
    let (tx, rx) = mpsc::channel();
    Std.spawn(async move {
        Std.yield_now().await;
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("the loop polled its sockets");
}

/// A waker that records that it was woken.
#[derive(Default)]
struct Woken(AtomicBool);

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

impl Woken {
    /// Waits (5 s at most) until woken, then clears the record.
    fn wait(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.0.swap(false, SeqCst) {
            assert!(Instant::now() < deadline, "never woken");
            sleep(Duration::from_millis(1));
        }
    }
}

/// A connected pair: a plain std client and the server's end on the loops,
/// whose read readiness has been used up (its first read said
/// `WouldBlock`), so the loop's next event for it wakes `woken`.
struct Pair {
    client: UnixStream,
    server: Io<UnixStream>,
    woken: Arc<Woken>,
    waker: Waker,
    path: PathBuf,
}

impl Pair {
    fn new(name: &str) -> Pair {
        one_loop();
        let path = std::env::temp_dir().join(format!(
            "castnet-std-short-read-{}-{name}.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let listener = Std.wrap_unix_listener(listener).unwrap();
        let client = UnixStream::connect(&path).unwrap();
        let woken = Arc::new(Woken::default());
        let waker = Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);
        let Poll::Ready(Ok((mut server, _))) = listener.poll_accept(&mut cx) else {
            panic!("a local connect is in the backlog at once");
        };
        let mut buf = BytesMut::with_capacity(64);
        assert!(server.poll_read_buf(&mut cx, &mut buf).is_pending());
        Pair {
            client,
            server,
            woken,
            waker,
            path,
        }
    }

    /// Reads once into 1 KiB of room.
    fn read(&mut self) -> Poll<io::Result<usize>> {
        let mut cx = Context::from_waker(&self.waker);
        self.server
            .poll_read_buf(&mut cx, &mut BytesMut::with_capacity(1024))
    }

    fn readable(&self) -> bool {
        let mut cx = Context::from_waker(&self.waker);
        self.server.poll_read_ready(&mut cx).is_ready()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn read_n(read: Poll<io::Result<usize>>) -> usize {
    match read {
        Poll::Ready(Ok(n)) => n,
        other => panic!("expected a read, got {other:?}"),
    }
}

#[test]
fn a_short_read_waits_for_the_next_event_instead_of_reading_again() {
    let mut pair = Pair::new("again");
    pair.client.write_all(b"0123456789").unwrap();
    pair.woken.wait();
    // Ten bytes into room for 1,024: the socket is empty now.
    assert_eq!(read_n(pair.read()), 10);
    assert!(!pair.readable(), "a short read leaves nothing to read");
    // The next bytes are the next event.
    pair.client.write_all(b"more").unwrap();
    pair.woken.wait();
    assert!(pair.readable());
    assert_eq!(read_n(pair.read()), 4);
}

#[test]
fn the_end_of_stream_behind_a_short_read_is_still_read() {
    let mut pair = Pair::new("eof");
    pair.client.write_all(b"0123456789").unwrap();
    pair.client.shutdown(Shutdown::Write).unwrap();
    pair.woken.wait();
    // The loop has taken every event the bytes and the end of stream make:
    // none is left to come after the read.
    loop_polled();
    assert_eq!(read_n(pair.read()), 10);
    assert!(pair.readable(), "the end of stream is still to be read");
    assert_eq!(read_n(pair.read()), 0);
}
