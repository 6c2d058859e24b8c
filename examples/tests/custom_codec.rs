//! `custom_codec`: the text command server (castnet's line codec) and the
//! tagged protocol (a codec of its own) over real sockets on 127.0.0.1,
//! written and read as raw bytes so the wire format is checked too. A
//! malformed frame closes its own connection with a typed error; the other
//! clients go on.

mod common;

use castnet_core::frame::FrameError;
use castnet_core::session::CloseReason;
use castnet_examples::custom_codec::{start_lines, start_tagged, Running, TaggedError, MAX_LINE};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};

const WAIT: Duration = Duration::from_secs(5);

async fn connect(addr: SocketAddr) -> TcpStream {
    timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connects in time")
        .expect("connects")
}

/// Reads exactly `expected.len()` bytes and compares them.
async fn expect_bytes(stream: &mut TcpStream, expected: &[u8]) {
    let mut got = vec![0; expected.len()];
    timeout(WAIT, stream.read_exact(&mut got))
        .await
        .expect("the answer arrives in time")
        .expect("the answer arrives");
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected)
    );
}

/// Reads until the server closes the connection; returns what came first.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut rest = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection in time")
        .expect("a clean end of stream");
    rest
}

/// The server's close reasons once there are `n` of them.
async fn closes<C>(server: &Running<C>, n: usize) -> Vec<CloseReason>
where
    C: castnet_core::Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    castnet_examples::tour::wait_until(WAIT, || server.close_reasons().len() >= n).await;
    server.close_reasons()
}

#[tokio::test]
async fn text_commands_are_answered_and_a_bad_line_closes_only_its_connection() {
    let server = start_lines("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let mut alice = connect(addr).await;
    let mut bad_utf8 = connect(addr).await;
    let mut too_long = connect(addr).await;

    // CRLF or LF, split anywhere: each command answered in order.
    alice
        .write_all(b"SET colour blue\r\nGET col")
        .await
        .unwrap();
    alice.write_all(b"our\nGET size\nFLY\n").await.unwrap();
    expect_bytes(
        &mut alice,
        b"OK\nVALUE blue\nNIL\nERR expected SET key value, GET key or QUIT\n",
    )
    .await;

    // A command, then invalid UTF-8: the command is answered, then the
    // connection closes with the decoder's typed error.
    bad_utf8
        .write_all(b"SET size 9\n\xff\xfe\nGET size\n")
        .await
        .unwrap();
    assert_eq!(until_closed(&mut bad_utf8).await, b"OK\n");
    let reasons = closes(&server, 1).await;
    assert!(
        matches!(
            reasons.as_slice(),
            [CloseReason::Frame(FrameError::InvalidUtf8(_))]
        ),
        "{reasons:?}"
    );

    // A line over the maximum without an end: closed, typed.
    let line = vec![b'x'; MAX_LINE as usize + 10];
    too_long.write_all(&line).await.unwrap();
    assert_eq!(until_closed(&mut too_long).await, b"");
    let reasons = closes(&server, 2).await;
    assert!(
        matches!(
            reasons[1],
            CloseReason::Frame(FrameError::DelimiterNotFound { max })
                if max as u64 == MAX_LINE
        ),
        "{reasons:?}"
    );

    // The first client goes on, sees the other's SET, and QUIT ends it.
    alice.write_all(b"GET size\nQUIT\n").await.unwrap();
    assert_eq!(until_closed(&mut alice).await, b"VALUE 9\nBYE\n");
    let reasons = closes(&server, 3).await;
    assert!(matches!(reasons[2], CloseReason::Local), "{reasons:?}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn tagged_requests_are_answered_by_id_and_bad_frames_are_typed_errors() {
    let server = start_tagged("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let mut client = connect(addr).await;

    // Pipelined, the second split inside its header and its payload.
    client
        .write_all(b"\x01\x00\x07\x00\x04ping\x02\x01")
        .await
        .unwrap();
    sleep(Duration::from_millis(20)).await;
    client.write_all(b"\x00\x00\x05lo").await.unwrap();
    sleep(Duration::from_millis(20)).await;
    client
        .write_all(b"ud!\x80\xbe\xef\x00\x00\x01\x00\x02\x00\x00")
        .await
        .unwrap();
    let mut want = Vec::new();
    want.extend_from_slice(b"\x80\x00\x07\x00\x04ping"); // Echo #7
    want.extend_from_slice(b"\x80\x01\x00\x00\x05LOUD!"); // Upper #256
    want.extend_from_slice(b"\xff\xbe\xef\x00\x0dnot a request"); // Reply sent to the server, #0xbeef
    want.extend_from_slice(b"\x80\x00\x02\x00\x00"); // empty Echo #2
    expect_bytes(&mut client, &want).await;

    // Malformed frames, each on its own connection: closed, typed; the
    // frames before the bad one are still answered.
    let mut unknown_kind = connect(addr).await;
    unknown_kind
        .write_all(b"\x01\x00\x03\x00\x01a\x07\x00\x04\x00\x00")
        .await
        .unwrap();
    assert_eq!(
        until_closed(&mut unknown_kind).await,
        b"\x80\x00\x03\x00\x01a"
    );
    let mut oversized = connect(addr).await;
    oversized.write_all(b"\x01\x00\x05\xff\xff").await.unwrap();
    assert_eq!(until_closed(&mut oversized).await, b"");
    let reasons = closes(&server, 2).await;
    match &reasons[..] {
        [CloseReason::Frame(FrameError::Other(first)), CloseReason::Frame(FrameError::FrameTooLarge {
            declared: 0xffff,
            max: 4096,
        })] => assert_eq!(
            first.downcast_ref::<TaggedError>(),
            Some(&TaggedError::UnknownKind(7))
        ),
        other => panic!("unexpected close reasons {other:?}"),
    }

    // The first client is still served.
    client.write_all(b"\x02\x00\x09\x00\x02ok").await.unwrap();
    expect_bytes(&mut client, b"\x80\x00\x09\x00\x02OK").await;
    assert_eq!(server.session_count(), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_tour_shows_both_protocols_and_exits_zero() {
    let output = common::run_tour(env!("CARGO_BIN_EXE_custom_codec")).await;
    common::assert_mentions(
        &output,
        &[
            "lines: \"SET colour blue\" -> \"OK\"",
            "lines: \"GET colour\" -> \"VALUE blue\"",
            "lines: \"GET size\" -> \"NIL\"",
            "it got \"VALUE blue\\n\", then the server closed it",
            "line is not valid UTF-8",
            "\"QUIT\" -> \"BYE\"",
            "tagged: Echo #7 \"ping\" -> Reply #7 \"ping\"",
            "tagged: Upper #8 \"make me loud\" -> Reply #8 \"MAKE ME LOUD\"",
            "tagged: Reply #9 \"a reply is no request\" -> Error #9 \"not a request\"",
            "unknown frame kind 0x07",
            "declared frame length 65535 exceeds the maximum of 4096 bytes",
            "the other client goes on: #10 \"still here?\"",
            "servers stopped; done.",
        ],
    );
}

#[tokio::test]
async fn each_server_runs_as_a_process_until_sigterm() {
    const BIN: &str = env!("CARGO_BIN_EXE_custom_codec");
    let lines = common::Server::spawn(BIN, &["--serve", "lines"], &[]).await;
    let mut client = connect(lines.addr).await;
    client.write_all(b"SET a 1\nGET a\n").await.unwrap();
    expect_bytes(&mut client, b"OK\nVALUE 1\n").await;
    let tagged = common::Server::spawn(BIN, &["--serve", "tagged"], &[]).await;
    let mut client = connect(tagged.addr).await;
    client.write_all(b"\x02\x00\x01\x00\x01a").await.unwrap();
    expect_bytes(&mut client, b"\x80\x00\x01\x00\x01A").await;
    for server in [lines, tagged] {
        let status = server.stop_with("TERM").await;
        assert!(status.success(), "exit status {status}");
    }
}
