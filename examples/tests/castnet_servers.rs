//! castnet's own bench servers (`echo_server`, `fanout_server`, on
//! castnet-tokio, castnet-smol and castnet-std, and `custom_event_loop`,
//! which drives castnet-core from its own loop) follow the bench protocol
//! exactly as the baselines do: netbench drives them as real processes over 127.0.0.1 with
//! `--verify`, every header size and byte order, and they stop with exit 0 on
//! a signal.

mod common;

use common::{refused, u64_field, verified, verified_fanout, Server, FANOUT_SERVER};
use common::{CASTNET_SMOL, CASTNET_STD, CASTNET_TOKIO, CUSTOM_EVENT_LOOP, OWN_LOOP};

#[tokio::test]
async fn echo_servers_return_every_frame_in_order_on_every_header_size_and_byte_order() {
    for (server, header, endian, payload) in [
        (CASTNET_TOKIO, "1", "be", "255"),
        (CASTNET_TOKIO, "2", "le", "1000"),
        (CASTNET_TOKIO, "4", "be", "64"),
        (CASTNET_TOKIO, "4", "le", "0"),
        (CASTNET_TOKIO, "8", "be", "4096"),
        (CASTNET_SMOL, "1", "le", "255"),
        (CASTNET_SMOL, "4", "be", "64"),
        (CASTNET_SMOL, "8", "le", "4096"),
        (CASTNET_STD, "2", "be", "1000"),
        (CASTNET_STD, "4", "le", "64"),
        (CASTNET_STD, "8", "be", "4096"),
        (OWN_LOOP, "1", "be", "255"),
        (OWN_LOOP, "2", "le", "1000"),
        (OWN_LOOP, "4", "be", "64"),
        (OWN_LOOP, "4", "le", "0"),
        (OWN_LOOP, "8", "le", "4096"),
    ] {
        let running = server
            .start(&["--header", header, "--endian", endian])
            .await;
        let flags = [
            "--header",
            header,
            "--endian",
            endian,
            "--payload",
            payload,
            "--conns",
            "8",
        ];
        let report = verified(running.addr, &flags).await;
        assert_eq!(u64_field(&report, "connected"), 8, "{report}");
        let status = running.stop_with("TERM").await;
        assert_eq!(
            status.code(),
            Some(0),
            "{} {header}/{endian}: {status}",
            server.name
        );
    }
}

#[tokio::test]
async fn fanout_server_delivers_each_frame_to_every_subscriber_in_sender_order() {
    for (runtime, signal) in [("tokio", "INT"), ("smol", "TERM"), ("std", "INT")] {
        let server = Server::start(FANOUT_SERVER, &["--runtime", runtime]).await;
        let report = verified_fanout(server.addr).await;
        assert_eq!(u64_field(&report, "lost"), 0, "{runtime}: {report}");
        let status = server.stop_with(signal).await;
        assert_eq!(status.code(), Some(0), "{runtime}: {status}");
    }
}

#[tokio::test]
async fn custom_event_loop_refuses_runtime_and_workers_flags_and_stops_on_sigint() {
    for flag in [["--runtime", "tokio"], ["--workers", "1"]] {
        let stderr = refused(CUSTOM_EVENT_LOOP, &flag).await;
        assert!(stderr.contains("unexpected argument"), "{stderr}");
    }
    let running = OWN_LOOP.start(&[]).await;
    let status = running.stop_with("INT").await;
    assert_eq!(status.code(), Some(0), "{status}");
}

#[tokio::test]
async fn fanout_server_keeps_every_other_client_served_while_one_never_reads() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start(FANOUT_SERVER, &[]).await;
    // Connects and never reads, with a small receive buffer: its queue on
    // the server fills after a few frames.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stalled = socket.connect(server.addr).await.unwrap();
    let mut good = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Far more than the stalled client's socket buffers and its 1 MiB send
    // queue on the server hold: one at a time, each must come back to its
    // sender while the other client takes nothing.
    let payload = vec![7u8; 32 * 1024];
    let deadline = std::time::Duration::from_secs(30);
    tokio::time::timeout(deadline, async {
        for i in 0..300u32 {
            let mut frame = Vec::with_capacity(4 + payload.len());
            frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            frame.extend_from_slice(&i.to_be_bytes());
            frame.extend_from_slice(&payload[4..]);
            good.write_all(&frame).await.unwrap();
            let mut back = vec![0u8; frame.len()];
            good.read_exact(&mut back).await.unwrap();
            assert_eq!(back, frame, "frame {i} came back changed");
        }
    })
    .await
    .expect("the reading client was stalled by the one that does not read");
    drop(stalled);
    let status = server.stop_with("TERM").await;
    assert_eq!(status.code(), Some(0), "{status}");
}

/// `len` as an unsigned LEB128 varint, written apart from castnet's codec.
fn leb128(mut len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while len >= 0x80 {
        out.push((len % 0x80) as u8 | 0x80);
        len /= 0x80;
    }
    out.push(len as u8);
    out
}

#[tokio::test]
async fn echo_servers_echo_varint_frames_over_a_real_socket_and_refuse_one_over_the_max() {
    use common::ECHO_SERVERS;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limit = std::time::Duration::from_secs(30);
    for server in ECHO_SERVERS {
        // `--endian le` is ignored for varint: the prefix is LEB128 either way.
        let flags = [
            "--header",
            "varint",
            "--endian",
            "le",
            "--max-frame",
            "20000",
        ];
        let running = server.start(&flags).await;
        let mut socket = tokio::net::TcpStream::connect(running.addr).await.unwrap();
        tokio::time::timeout(limit, async {
            for len in [0usize, 1, 127, 128, 16_383, 16_384, 20_000] {
                let mut frame = leb128(len);
                frame.extend((0..len).map(|i| (i * 7 + len) as u8));
                socket.write_all(&frame).await.unwrap();
                let mut back = vec![0u8; frame.len()];
                socket.read_exact(&mut back).await.unwrap();
                assert_eq!(back, frame, "{}: a {len}-byte frame", server.name);
            }
            // A padded prefix is accepted; the echo carries the shortest one.
            socket
                .write_all(&[0x83, 0x80, 0x00, b'a', b'b', b'c'])
                .await
                .unwrap();
            let mut back = [0u8; 4];
            socket.read_exact(&mut back).await.unwrap();
            assert_eq!(&back, b"\x03abc", "{}", server.name);
            // One byte over the maximum: the server closes the connection
            // without echoing anything more.
            socket.write_all(&leb128(20_001)).await.unwrap();
            let mut rest = Vec::new();
            let _ = socket.read_to_end(&mut rest).await;
            assert!(
                rest.is_empty(),
                "{}: {} bytes after an oversized prefix",
                server.name,
                rest.len()
            );
        })
        .await
        .unwrap_or_else(|_| panic!("{}: varint echoes did not finish in time", server.name));
        // And netbench, which frames on its own, verifies echoes byte for byte.
        let report = verified(running.addr, &["--header", "varint", "--payload", "300"]).await;
        assert_eq!(report["header"], "varint", "{report}");
        let status = running.stop_with("TERM").await;
        assert_eq!(status.code(), Some(0), "{}: {status}", server.name);
    }
}

#[tokio::test]
async fn fanout_server_delivers_varint_frames_to_every_subscriber() {
    let server = Server::start(FANOUT_SERVER, &["--header", "varint"]).await;
    let report = common::verified_fanout_with(server.addr, &["--header", "varint"]).await;
    assert_eq!(u64_field(&report, "lost"), 0, "{report}");
    let status = server.stop_with("INT").await;
    assert_eq!(status.code(), Some(0), "{status}");
}

#[tokio::test]
async fn baselines_refuse_a_varint_header_with_a_usage_error_that_says_why() {
    for bin in [common::BASELINE_ECHO, common::BASELINE_FANOUT] {
        for runtime in ["tokio", "smol", "std"] {
            let stderr = refused(bin, &["--header", "varint", "--runtime", runtime]).await;
            assert!(stderr.contains("not varint"), "{bin}: {stderr}");
        }
    }
}
