//! `--verify` can fail: against echo servers that corrupt, reorder or
//! mis-frame what they return, netbench counts failures, keeps measuring,
//! and exits non-zero.

mod common;

use std::net::SocketAddr;

use common::{netbench, u64_field};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Clone, Copy)]
enum Fault {
    /// Flip one bit of the last payload byte of every 5th frame.
    FlipByte,
    /// Return frames two by two in swapped order.
    SwapPairs,
    /// Announce one byte more than the payload of every 50th frame.
    WrongLength,
}

/// An echo server for 4-byte big-endian headers that applies `fault`.
async fn faulty_echo(fault: Fault) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, fault));
        }
    });
    (addr, task)
}

async fn serve(socket: TcpStream, fault: Fault) -> std::io::Result<()> {
    let (rd, wr) = socket.into_split();
    let (mut rd, mut wr) = (BufReader::new(rd), BufWriter::new(wr));
    let mut held: Option<Vec<u8>> = None;
    for n in 1u64.. {
        let len = rd.read_u32().await?;
        let mut payload = vec![0u8; len as usize];
        rd.read_exact(&mut payload).await?;
        let mut head = len;
        match fault {
            Fault::FlipByte if n % 5 == 0 => {
                if let Some(last) = payload.last_mut() {
                    *last ^= 0x01;
                }
            }
            Fault::SwapPairs => match held.take() {
                None => {
                    held = Some(payload);
                    continue;
                }
                Some(first) => {
                    wr.write_u32(len).await?;
                    wr.write_all(&payload).await?;
                    payload = first;
                }
            },
            Fault::WrongLength if n % 50 == 0 => head += 1,
            _ => {}
        }
        wr.write_u32(head).await?;
        wr.write_all(&payload).await?;
        if rd.buffer().is_empty() {
            wr.flush().await?;
        }
    }
    Ok(())
}

/// Runs netbench briefly against a server with `fault`.
async fn against(fault: Fault, verify: bool) -> (common::Run, serde_json::Value) {
    let (addr, server) = faulty_echo(fault).await;
    let mut args = vec![
        "--conns",
        "2",
        "--pipeline",
        "4",
        "--duration",
        "0.5",
        "--json",
    ];
    if verify {
        args.push("--verify");
    }
    let run = netbench(addr, &args).await;
    server.abort();
    let report = run.report();
    (run, report)
}

#[tokio::test]
async fn a_flipped_payload_byte_is_a_verification_failure_and_the_run_goes_on() {
    let (run, report) = against(Fault::FlipByte, true).await;
    let failures = u64_field(&report, "verify_failures");
    let frames = u64_field(&report, "frames");
    assert!(failures > 0, "{report}");
    // Every 5th frame is bad and the others are still counted.
    assert!(frames > failures, "{report}");
    assert_eq!(u64_field(&report, "errors"), 0, "{report}");
    assert!(!run.status.success());
}

#[tokio::test]
async fn frames_returned_out_of_order_are_verification_failures() {
    let (run, report) = against(Fault::SwapPairs, true).await;
    assert!(u64_field(&report, "verify_failures") > 0, "{report}");
    assert!(!run.status.success());
}

#[tokio::test]
async fn a_wrong_length_header_ends_the_connection_as_an_error() {
    let (run, report) = against(Fault::WrongLength, true).await;
    assert!(u64_field(&report, "errors") > 0, "{report}");
    assert!(u64_field(&report, "verify_failures") > 0, "{report}");
    assert!(!run.status.success());
}

#[tokio::test]
async fn without_verify_a_corrupting_server_is_measured_but_not_judged() {
    let (run, report) = against(Fault::FlipByte, false).await;
    assert!(u64_field(&report, "frames") > 0);
    assert_eq!(u64_field(&report, "verify_failures"), 0);
    assert_eq!(report["verify"], false);
    assert!(run.status.success());
}
