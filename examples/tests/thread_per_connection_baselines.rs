//! The thread-per-connection baselines (`--runtime std`) keep the bench
//! protocol's promises under pressure: a client that pipelines a burst
//! before reading gets every echo (the server slows its reading instead), a
//! frame over `--max-frame` ends only its own connection, and a fan-out
//! subscriber that never reads stalls nobody else.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Server, BASELINE_ECHO, BASELINE_FANOUT};

const LIMIT: Duration = Duration::from_secs(30);

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    stream
}

/// `payload` with a 4-byte big-endian length header.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).expect("a header");
    let mut payload = vec![0u8; u32::from_be_bytes(head) as usize];
    stream.read_exact(&mut payload).expect("a whole frame");
    payload
}

#[tokio::test]
async fn a_client_writing_a_burst_before_reading_gets_every_echo_in_order() {
    let server = Server::start(BASELINE_ECHO, &["--runtime", "std"]).await;
    let mut stream = connect(&server);
    // 10,000 frames, about 1 MB, far more than the reader-to-writer channel
    // holds: the rest waits in the kernel's buffers while the reader waits.
    let payloads: Vec<Vec<u8>> = (0..10_000u32)
        .map(|i| {
            (0..(i % 97) as usize)
                .map(|j| (i as usize + j) as u8)
                .collect()
        })
        .collect();
    let burst: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
    let got = tokio::task::spawn_blocking(move || {
        stream.write_all(&burst).unwrap();
        (0..10_000)
            .map(|_| read_frame(&mut stream))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (i, (got, want)) in got.iter().zip(&payloads).enumerate() {
        assert_eq!(got, want, "echo {i}");
    }
    assert_eq!(server.stop_with("TERM").await.code(), Some(0));
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_its_connection_and_no_other() {
    let server = Server::start(BASELINE_ECHO, &["--runtime", "std", "--max-frame", "100"]).await;
    let (mut bad, mut good) = (connect(&server), connect(&server));
    tokio::task::spawn_blocking(move || {
        good.write_all(&frame(&[1u8; 100])).unwrap();
        assert_eq!(read_frame(&mut good), vec![1u8; 100]);
        // Declares 4 GiB - 1 and sends none of it.
        bad.write_all(b"\xff\xff\xff\xff").unwrap();
        let mut rest = Vec::new();
        // Closed by the server: end of stream, or a reset.
        let end = bad.read_to_end(&mut rest);
        assert!(end.is_err() || rest.is_empty(), "{end:?}");
        good.write_all(&frame(b"still here")).unwrap();
        assert_eq!(read_frame(&mut good), b"still here");
    })
    .await
    .unwrap();
    assert_eq!(server.stop_with("TERM").await.code(), Some(0));
}

#[tokio::test]
async fn a_fanout_subscriber_that_never_reads_stalls_nobody() {
    // A small per-subscriber channel, so the stalled one's fills early and
    // it skips messages from then on.
    let args = ["--runtime", "std", "--capacity", "8"];
    let server = Server::start(BASELINE_FANOUT, &args).await;
    let stalled = connect(&server);
    let mut good = connect(&server);
    tokio::task::spawn_blocking(move || {
        // Far more than the stalled client's socket buffers and its channel
        // hold: each must come back to its sender while the other client
        // takes nothing.
        for i in 0..300u32 {
            let mut payload = vec![7u8; 32 * 1024];
            payload[..4].copy_from_slice(&i.to_be_bytes());
            good.write_all(&frame(&payload)).unwrap();
            assert!(read_frame(&mut good) == payload, "frame {i} changed");
        }
        drop(stalled);
    })
    .await
    .unwrap();
    assert_eq!(server.stop_with("TERM").await.code(), Some(0));
}
