//! The thread-per-connection flavour of the baselines (`--runtime std`):
//! blocking `std::net`, written the way a plain std user writes a server, so
//! that castnet-std's design is measured against it.
//!
//! Per connection, a reader thread reads length-prefixed frames through a
//! `BufReader` and hands each to a writer thread over a bounded
//! `std::sync::mpsc::sync_channel`; the writer writes them through a
//! `BufWriter` and flushes whenever the channel is momentarily empty, so
//! pipelined frames leave in batches. The bound is the backpressure: a
//! writer stuck on a client that does not read leaves the channel full, and
//! the reader blocks instead of reading more from that client.
//!
//! Both threads share the socket through an `Arc<TcpStream>` (`&TcpStream`
//! reads and writes) rather than a `try_clone`d second descriptor, so 10,000
//! connections need 10,000 descriptors, not 20,000. Their stacks are
//! [`STACK_SIZE`], not the 2 MiB default: neither loop recurses or keeps
//! large buffers on the stack, and idle memory per connection is one of the
//! things measured.

use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown as SocketShutdown, TcpListener, TcpStream};
use std::ops::Deref;
use std::sync::mpsc::Receiver;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::flags::{Endian, ServerArgs};
use crate::server::{announce_listening, Shutdown};

/// Stack size of every connection thread. Each loop needs a few KiB (the
/// deepest path is a read or write through the buffered socket); 64 KiB
/// leaves room for a debug build.
pub const STACK_SIZE: usize = 64 * 1024;

/// Spawns a connection thread with a [`STACK_SIZE`] stack.
pub fn spawn<F>(f: F) -> io::Result<JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
{
    thread::Builder::new().stack_size(STACK_SIZE).spawn(f)
}

/// PacketN as the flags configure it, read and written with blocking calls:
/// an N-byte length header in the given byte order, then the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    header: usize,
    endian: Endian,
    /// The largest payload accepted from a peer.
    max: u64,
    /// The largest length the header can express.
    expressible: u64,
}

impl Framing {
    /// The framing of `--header`, `--endian` and `--max-frame` (clamped to
    /// what the header can express).
    ///
    /// # Panics
    ///
    /// With `--header varint`, which the baselines refuse at start-up
    /// ([`ServerArgs::require_fixed_header`]).
    pub fn new(args: &ServerArgs) -> Self {
        let header = args
            .header_len()
            .expect("the baselines refuse --header varint at start-up");
        Framing {
            header: header.bytes(),
            endian: args.endian,
            max: args.max_frame_len(),
            expressible: header.max_len(),
        }
    }

    /// Reads one frame's payload. `Ok(None)` when the stream ends cleanly,
    /// before a header; a stream that ends inside a frame, or a declared
    /// length over the maximum, is an error, and the length is checked
    /// before anything is allocated for it.
    pub fn read_frame(&self, r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
        let mut head = [0u8; 8];
        let head = &mut head[..self.header];
        let mut filled = 0;
        while filled < head.len() {
            match r.read(&mut head[filled..]) {
                Ok(0) if filled == 0 => return Ok(None),
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let len = self.decode_len(head);
        if len > self.max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("frame of {len} bytes is over the {} byte limit", self.max),
            ));
        }
        // At most `max`, which fits in memory's address space by the check
        // above (a 64-bit length only passes it on a 64-bit `max`).
        let len = usize::try_from(len).map_err(|_| io::ErrorKind::InvalidData)?;
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload)?;
        Ok(Some(payload))
    }

    /// Writes `payload` as one frame. A payload the header cannot express
    /// is refused before anything is written.
    pub fn write_frame(&self, w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
        let len = payload.len() as u64;
        if len > self.expressible {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a {}-byte header cannot express {len} bytes", self.header),
            ));
        }
        let n = self.header;
        match self.endian {
            Endian::Be => w.write_all(&len.to_be_bytes()[8 - n..])?,
            Endian::Le => w.write_all(&len.to_le_bytes()[..n])?,
        }
        w.write_all(payload)
    }

    fn decode_len(&self, head: &[u8]) -> u64 {
        let mut wide = [0u8; 8];
        match self.endian {
            Endian::Be => {
                wide[8 - head.len()..].copy_from_slice(head);
                u64::from_be_bytes(wide)
            }
            Endian::Le => {
                wide[..head.len()].copy_from_slice(head);
                u64::from_le_bytes(wide)
            }
        }
    }
}

/// The writer thread's loop: writes every frame that arrives on `frames`
/// through a `BufWriter`, flushing whenever no further frame is waiting,
/// until the channel closes (then what was queued is still written). On a
/// write error the socket is shut down both ways, so the reader thread
/// blocked on it wakes up and ends too.
pub fn write_frames<T>(socket: &TcpStream, framing: Framing, frames: Receiver<T>)
where
    T: Deref,
    T::Target: AsRef<[u8]>,
{
    let mut out = BufWriter::new(socket);
    let mut written = || -> io::Result<()> {
        while let Ok(frame) = frames.recv() {
            framing.write_frame(&mut out, (*frame).as_ref())?;
            // Empty or closed: either way, time to flush.
            while let Ok(frame) = frames.try_recv() {
                framing.write_frame(&mut out, (*frame).as_ref())?;
            }
            out.flush()?;
        }
        Ok(())
    };
    if written().is_err() {
        hang_up(socket);
    }
}

/// Runs a thread-per-connection baseline server: signal handlers installed,
/// the listener bound and announced, an accept thread that sets TCP_NODELAY
/// on each connection and hands it to `conn` (which starts that connection's
/// threads), until SIGINT or SIGTERM. `--workers` does not apply: every
/// connection has threads of its own.
pub fn serve_threads<F>(args: &ServerArgs, name: &'static str, conn: F) -> io::Result<()>
where
    F: Fn(TcpStream) -> io::Result<()> + Send + 'static,
{
    let shutdown = Shutdown::install_blocking()?;
    let listener = TcpListener::bind(args.addr)?;
    announce_listening(listener.local_addr()?)?;
    thread::Builder::new()
        .name(format!("{name}-accept"))
        .spawn(move || accept_loop(&listener, name, &conn))?;
    shutdown.wait();
    // Returning ends the process, and with it every connection thread.
    Ok(())
}

fn accept_loop<F>(listener: &TcpListener, name: &str, conn: &F)
where
    F: Fn(TcpStream) -> io::Result<()>,
{
    loop {
        match listener.accept() {
            Ok((socket, _)) => {
                // A client leaving is the normal end of a connection.
                if socket.set_nodelay(true).is_err() {
                    continue;
                }
                if let Err(e) = conn(socket) {
                    // Out of threads or memory: this connection is dropped,
                    // the others go on.
                    report(name, "cannot start a connection's threads", &e);
                    thread::sleep(Duration::from_millis(10));
                }
            }
            Err(e) => {
                // Out of file descriptors and the like: back off briefly
                // rather than spin, and keep serving the connections we have.
                report(name, "accept failed", &e);
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

// A server's last words about a connection it could not serve.
#[allow(clippy::print_stderr)]
fn report(name: &str, what: &str, e: &io::Error) {
    eprintln!("{name}: {what}: {e}");
}

/// Shuts `socket` down both ways, ignoring errors: the connection is over
/// and the other thread blocked on it should see that at once.
pub fn hang_up(socket: &TcpStream) {
    let _ = socket.shutdown(SocketShutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::io::Cursor;

    fn framing(flags: &[&str]) -> Framing {
        let args =
            ServerArgs::try_parse_from(std::iter::once("b").chain(flags.iter().copied())).unwrap();
        Framing::new(&args)
    }

    fn written(f: Framing, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        f.write_frame(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn frames_carry_a_payload_only_length_in_the_configured_size_and_order() {
        assert_eq!(
            written(framing(&["--header", "2", "--endian", "le"]), b"abc"),
            b"\x03\x00abc"
        );
        assert_eq!(written(framing(&["--header", "1"]), b"ab"), b"\x02ab");
        assert_eq!(written(framing(&[]), b""), b"\0\0\0\0");
        assert_eq!(
            written(framing(&["--header", "8"]), b"x"),
            b"\0\0\0\0\0\0\0\x01x"
        );
    }

    #[test]
    fn every_header_size_and_order_reads_back_what_it_wrote() {
        for header in ["1", "2", "4", "8"] {
            for endian in ["be", "le"] {
                let f = framing(&["--header", header, "--endian", endian]);
                let mut wire = written(f, b"");
                wire.extend(written(f, &[9u8; 200]));
                let mut r = Cursor::new(wire);
                assert_eq!(f.read_frame(&mut r).unwrap(), Some(vec![]));
                assert_eq!(f.read_frame(&mut r).unwrap(), Some(vec![9u8; 200]));
                assert_eq!(f.read_frame(&mut r).unwrap(), None, "{header}/{endian}");
            }
        }
    }

    #[test]
    fn a_length_over_the_limit_is_refused_before_anything_is_allocated() {
        let f = framing(&["--header", "8", "--max-frame", "16"]);
        // Declares 2^63 bytes and carries none of them.
        let mut r = Cursor::new(b"\x80\0\0\0\0\0\0\0".to_vec());
        let err = f.read_frame(&mut r).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut r = Cursor::new(b"\0\0\0\x11".to_vec());
        assert!(framing(&["--max-frame", "16"]).read_frame(&mut r).is_err());
    }

    #[test]
    fn a_stream_ending_inside_a_frame_is_an_error_not_a_clean_end() {
        let f = framing(&[]);
        for cut in [b"\0\0".to_vec(), b"\0\0\0\x03ab".to_vec()] {
            let err = f.read_frame(&mut Cursor::new(cut)).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        }
    }

    #[test]
    fn a_payload_the_header_cannot_express_writes_nothing() {
        let f = framing(&["--header", "1"]);
        let mut out = Vec::new();
        let err = f.write_frame(&mut out, &[0u8; 256]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(out.is_empty());
        f.write_frame(&mut out, &[0u8; 255]).unwrap();
        assert_eq!(out[0], 255);
    }
}
