//! The client halves of the backpressure scenarios, pointed at any address:
//! the suite runs them against its in-process servers (`tests/backpressure.rs`),
//! and castnet-examples against its echo server processes (`echo_server` on
//! each runtime, `custom_event_loop`), which only a client can observe.
//!
//! Each function asserts what the client sees (every echo, intact, in
//! order); the caller adds what it can see of the server.

use crate::raw;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The `i`th of a deterministic run of small payloads (0 to 57 bytes,
/// 29 on average): 10,000 of them framed are about 330 KB.
pub fn small_payload(i: u32) -> Vec<u8> {
    let len = (i.wrapping_mul(2_654_435_761) >> 26) as usize; // 0..64
    let len = len * 58 / 64;
    (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
}

/// Two megabytes of frames (2,000 payloads of 1 KiB, default framing), a
/// header declaring 4,097 bytes (over a `max_frame_len` of 4,096) and 64 KiB
/// the server will never decode: the payloads, and the bytes to write. A
/// peer that writes it all before reading leaves the server, at its decode
/// error, with most echoes still to send and input unread.
pub fn frames_then_an_oversized_header_then_more() -> (Vec<Vec<u8>>, Vec<u8>) {
    let payloads: Vec<Vec<u8>> = (0..2000u32)
        .map(|i| {
            let mut p = vec![(i % 251) as u8; 1024];
            p[..4].copy_from_slice(&i.to_be_bytes());
            p
        })
        .collect();
    let mut bytes = raw::packets(&payloads);
    bytes.extend_from_slice(&4097u32.to_be_bytes());
    bytes.extend_from_slice(&[0xAB; 64 * 1024]);
    (payloads, bytes)
}

/// Writes `count` small frames ([`small_payload`], default framing) in one
/// write before reading anything, then reads and checks every echo, in
/// order. A server that keeps reading while its queue is over its bound, or
/// drops an echo, fails here. Returns the stream, for the caller to close
/// after its own checks.
pub async fn small_frames_pipelined_in_one_write_are_all_echoed(
    addr: SocketAddr,
    count: u32,
) -> TcpStream {
    let payloads: Vec<Vec<u8>> = (0..count).map(small_payload).collect();
    let burst = raw::packets(&payloads);
    let mut stream = raw::connect(addr);
    // Nothing but the kernel's buffers and the server's replies between the
    // write and the first read.
    let (got, stream) = raw::thread(move || {
        raw::write(&mut stream, &burst);
        let got: Vec<Vec<u8>> = (0..count)
            .map(|_| raw::read_packet(&mut stream).expect("an echo"))
            .collect();
        (got, stream)
    })
    .join()
    .await;
    assert_eq!(got.len(), payloads.len());
    for (i, (got, want)) in got.iter().zip(&payloads).enumerate() {
        assert_eq!(got, want, "echo {i}");
    }
    stream
}

/// A deterministic pseudo-random run of `n` frame sizes up to `max`,
/// skewed small (a fifth power of a uniform draw: about a sixth of `max`
/// on average), the first two being `max` and 0.
pub fn large_sizes(n: usize, max: usize) -> Vec<usize> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut sizes = vec![max, 0];
    while sizes.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let u = (x % 1001) as u128;
        sizes.push((u.pow(5) * max as u128 / 1000u128.pow(5)) as usize);
    }
    sizes
}

/// `payload` framed with an `n`-byte big-endian length header.
pub fn frame(n: usize, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u64).to_be_bytes()[8 - n..].to_vec();
    out.extend_from_slice(payload);
    out
}

/// Reads one frame with an `n`-byte big-endian length header.
pub fn read_frame(n: usize, stream: &mut TcpStream) -> Vec<u8> {
    let mut head = [0u8; 8];
    stream.read_exact(&mut head[8 - n..]).expect("a header");
    let mut payload = vec![0u8; u64::from_be_bytes(head) as usize];
    stream.read_exact(&mut payload).expect("a whole frame");
    payload
}

fn large_payload(i: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (i * 7 + j * 13 + (j >> 8)) as u8)
        .collect()
}

/// One thread writes a frame of each size (`n`-byte big-endian headers)
/// without waiting, another reads the echoes as they come and checks each
/// is intact. Returns both halves of the connection, for the caller to
/// close after its own checks.
pub async fn large_frames_pipelined_are_echoed_intact(
    addr: SocketAddr,
    n: usize,
    sizes: &[usize],
) -> (TcpStream, TcpStream) {
    let stream = raw::connect(addr);
    let mut writer = stream.try_clone().unwrap();
    let to_write = sizes.to_vec();
    let write = raw::thread(move || {
        for (i, &len) in to_write.iter().enumerate() {
            writer
                .write_all(&frame(n, &large_payload(i, len)))
                .expect("write");
        }
        writer
    });
    let mut reader = stream;
    let to_read = sizes.to_vec();
    let read = raw::thread(move || {
        for (i, &len) in to_read.iter().enumerate() {
            let got = read_frame(n, &mut reader);
            assert_eq!(got.len(), len, "echo {i}'s length");
            assert!(got == large_payload(i, len), "echo {i} corrupted");
        }
        reader
    });
    (write.join().await, read.join().await)
}

/// A client that writes 1 KiB frames and never reads, with small socket
/// buffers of its own (4 KiB each way); it gives up once a write has
/// been blocked for half a second (the server stopped reading) and returns
/// how many bytes it got written, and its socket.
pub fn flood(addr: SocketAddr, frames: usize) -> raw::PeerThread<(usize, TcpStream)> {
    let mut stream = raw::connect_small(addr, 4096);
    socket2::SockRef::from(&stream)
        .set_send_buffer_size(4096)
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    raw::thread(move || {
        let frame = raw::packet(&[0x5a; 1024]);
        let mut written = 0;
        for _ in 0..frames {
            match stream.write(&frame) {
                Ok(n) if n == frame.len() => written += n,
                Ok(n) => {
                    written += n;
                    break;
                }
                Err(_) => break,
            }
        }
        (written, stream)
    })
}

/// Writes `bytes` in one go (then shuts the write side when `eof`) and
/// reads frames until the server ends the stream, on a thread of its
/// own; gives the stream back so it is closed only afterwards.
pub async fn send_all_then_read_to_end(
    mut stream: TcpStream,
    bytes: Vec<u8>,
    eof: bool,
) -> (Vec<Vec<u8>>, TcpStream) {
    raw::thread(move || {
        raw::write(&mut stream, &bytes);
        if eof {
            raw::shutdown_write(&stream);
        }
        (raw::read_to_end(&mut stream), stream)
    })
    .join()
    .await
}
