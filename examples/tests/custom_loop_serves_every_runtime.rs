//! `custom_event_loop` as a server, with castnet clients of every runtime
//! (tokio, smol, std): frames of every size the header carries come back in
//! order, for every header size and byte order. The other runtime pairs are
//! in castnet-tests (`runtime_pairs.rs`).

mod common;

use bytes::Bytes;
use castnet_core::frame::{ByteOrder, HeaderLen, PacketN};
use castnet_engine::Config;
use common::OWN_LOOP;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// The frames sent: every length up to what a 1-byte header carries.
fn payloads() -> Vec<Bytes> {
    [0usize, 1, 100, 255]
        .iter()
        .enumerate()
        .map(|(i, &len)| Bytes::from(vec![i as u8; len]))
        .collect()
}

#[tokio::test]
async fn clients_of_every_runtime_get_their_frames_back_on_every_header_size_and_byte_order() {
    for (header, flag) in [
        (HeaderLen::One, "1"),
        (HeaderLen::Two, "2"),
        (HeaderLen::Four, "4"),
        (HeaderLen::Eight, "8"),
    ] {
        for (order, endian) in [(ByteOrder::Big, "be"), (ByteOrder::Little, "le")] {
            let running = OWN_LOOP
                .start(&["--header", flag, "--endian", endian])
                .await;
            let addr = running.addr;
            let codec = PacketN::builder()
                .header_len(header)
                .byte_order(order)
                .build()
                .unwrap();
            let what = format!("{flag}/{endian}");

            // Tokio, on this test's runtime.
            let tokio = castnet_tokio::dial(addr, Config::new(codec.clone()))
                .await
                .unwrap();
            for p in payloads() {
                tokio.send(p.clone()).await.unwrap();
                let echo = tokio::time::timeout(WAIT, tokio.recv()).await.unwrap();
                assert_eq!(echo, Some(p), "tokio {what}");
            }

            // smol and std, on threads of their own.
            let smol_codec = codec.clone();
            let smol = std::thread::spawn(move || {
                smol::block_on(async {
                    let client = castnet_smol::dial(addr, Config::new(smol_codec))
                        .await
                        .unwrap();
                    for p in payloads() {
                        client.send(p.clone()).await.unwrap();
                        let echo = smol::future::or(async { client.recv().await }, async {
                            smol::Timer::after(WAIT).await;
                            None
                        })
                        .await;
                        assert_eq!(echo, Some(p));
                    }
                })
            });
            let std_codec = codec.clone();
            let std = std::thread::spawn(move || {
                let client = castnet_std::dial(addr, Config::new(std_codec)).unwrap();
                for p in payloads() {
                    client.send(p.clone()).unwrap();
                    assert_eq!(client.recv_timeout(WAIT).unwrap(), p);
                }
            });
            smol.join().unwrap_or_else(|_| panic!("smol {what}"));
            std.join().unwrap_or_else(|_| panic!("std {what}"));
            let status = running.stop_with("TERM").await;
            assert_eq!(status.code(), Some(0), "{what}: {status}");
        }
    }
}
