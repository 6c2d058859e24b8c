//! The machine's ceiling for an echo server, for `compare.sh`: one thread,
//! one `mio::Poll`, and every byte written back as it was read. No framing,
//! no sessions, no queue beyond one read's worth, no castnet.
//!
//! ```text
//! cargo run --release -p castnet-examples --bin byte_echo -- --addr 127.0.0.1:7000
//! ```
//!
//! It is **not** a server to deploy or to copy: it checks nothing, so a
//! malformed or oversized frame is echoed as bytes like any other, and it
//! answers only because a well-formed PacketN frame echoed byte for byte is
//! its own echo. What it measures is what one `recv` and one `send` per
//! wake-up cost on this kernel, a CPU per frame that no framed server
//! making the same calls can undercut (at small payloads it is mostly the
//! loopback TCP path); in frames/s, where the load generator is the limit,
//! servers are level with it within a run's noise. A castnet
//! server's distance from it is castnet's own cost; a ratio against a
//! baseline that this probe itself cannot reach is a limit of the machine.
//!
//! It takes the bench servers' flags (`--header`, `--endian` and
//! `--max-frame` are accepted and ignored), prints `listening on ADDR`, and
//! exits 0 on SIGINT/SIGTERM.
//!
//! Per readable or writable edge it loops: finish the pending write, and
//! read only once nothing is pending (so a peer that does not read is not
//! read from either, and at most one read is ever held); a read shorter
//! than the buffer drained the socket, so the loop waits for the next edge.

use castnet_examples::flags::ListenArgs;
use castnet_examples::server::{announce_listening, wake_on_signal};
use clap::Parser;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::process::ExitCode;

const LISTENER: Token = Token(0);
const SIGNAL: Token = Token(1);
/// Bytes read per `recv`.
const READ_BUF: usize = 64 * 1024;

/// One connection: its socket and the tail of a read it could not write yet.
struct Conn {
    socket: TcpStream,
    pending: Vec<u8>,
}

fn main() -> ExitCode {
    let args = ListenArgs::parse();
    castnet_examples::init_tracing();
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "byte_echo failed");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &ListenArgs) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let _waker = wake_on_signal(poll.registry(), SIGNAL)?;
    let mut listener = TcpListener::bind(args.addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    announce_listening(listener.local_addr()?)?;

    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut next = 2;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; READ_BUF];
    loop {
        match poll.poll(&mut events, None) {
            // A signal landed on this thread: the waker reports it.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            polled => polled?,
        }
        for event in &events {
            match event.token() {
                SIGNAL => return Ok(()),
                LISTENER => loop {
                    let mut socket = match listener.accept() {
                        Ok((socket, _)) => socket,
                        // None left, or out of descriptors, say: the next
                        // edge retries.
                        Err(_) => break,
                    };
                    let token = Token(next);
                    next += 1;
                    if socket.set_nodelay(true).is_err()
                        || poll
                            .registry()
                            .register(&mut socket, token, Interest::READABLE | Interest::WRITABLE)
                            .is_err()
                    {
                        continue;
                    }
                    conns.insert(
                        token,
                        Conn {
                            socket,
                            pending: Vec::new(),
                        },
                    );
                },
                token => {
                    let open = conns.get_mut(&token).is_some_and(|conn| {
                        echo(&mut conn.socket, &mut conn.pending, &mut buf).unwrap_or(false)
                    });
                    if !open {
                        conns.remove(&token);
                    }
                }
            }
        }
    }
}

/// Moves bytes until the socket would block: first the pending tail, then
/// a read written straight back (its unwritten tail becomes the pending
/// one). `Ok(false)` once the peer has ended its stream; an error ends the
/// connection too.
fn echo<S: Read + Write>(
    socket: &mut S,
    pending: &mut Vec<u8>,
    buf: &mut [u8],
) -> io::Result<bool> {
    loop {
        while !pending.is_empty() {
            match socket.write(pending) {
                Ok(n) => drop(pending.drain(..n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            }
        }
        let n = match socket.read(buf) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) => return Err(e),
        };
        match socket.write(&buf[..n]) {
            Ok(written) => pending.extend_from_slice(&buf[written..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => pending.extend_from_slice(&buf[..n]),
            Err(e) => return Err(e),
        }
        if n < buf.len() && pending.is_empty() {
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket whose peer sent `input` and then ended its stream, and
    /// whose send buffer takes `room` more bytes (into `output`) before a
    /// write would block, until the test makes room again.
    struct Script {
        input: Vec<u8>,
        read_at: usize,
        room: usize,
        output: Vec<u8>,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.read_at == self.input.len() {
                return Ok(0);
            }
            let n = buf.len().min(self.input.len() - self.read_at);
            buf[..n].copy_from_slice(&self.input[self.read_at..][..n]);
            self.read_at += n;
            Ok(n)
        }
    }

    impl Write for Script {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = data.len().min(self.room);
            self.output.extend_from_slice(&data[..n]);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn short_writes_keep_every_byte_in_order_and_stop_the_reading() {
        let input: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut socket = Script {
            input: input.clone(),
            read_at: 0,
            room: 700,
            output: Vec::new(),
        };
        let (mut pending, mut buf) = (Vec::new(), vec![0u8; 1024]);
        let mut turns = 0;
        while echo(&mut socket, &mut pending, &mut buf).unwrap() {
            // Blocked on a full send buffer: nothing more was read than
            // one buffer beyond what was written.
            assert!(socket.read_at <= socket.output.len() + buf.len());
            socket.room = 700;
            turns += 1;
        }
        assert!(turns > 10, "the send buffer never filled");
        assert!(pending.is_empty());
        assert!(socket.output == input, "the echo differs from the input");
    }
}
