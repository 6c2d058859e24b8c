//! The chat room: a handler relays every frame it gets to a channel with
//! `Channel::broadcast_detached_from`. One client writes 10,000 short frames
//! in one write; a member that reads continuously gets every one, in order,
//! although one owner turn reads far more frames than the channel's ring
//! holds: the publishing connection pauses until the readers have run. A
//! member that never reads does not hold the room back beyond the
//! slow-reader grace: it misses frames (counted), and memory stays bounded.

mod common;

use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::SessionConfig;
use castnet_core::SessionId;
use castnet_tokio::{dial, Config, Conn, Handler, Server};
use common::{bounded, read_packet, small_send_buffer, stalled_client, Running};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Frames in the burst.
const BURST: u32 = 10_000;
/// The payload that ends the test's traffic.
const END: u32 = u32::MAX;

/// Joins every session to "room" and relays every frame to it.
struct Room {
    server: Server<PacketN>,
    opened: mpsc::UnboundedSender<SessionId>,
}

impl Handler<PacketN> for Room {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        let room = self.server.channel("room".to_string());
        assert!(room.join(cx.session(), |_, _| {}));
        let _ = self.opened.send(cx.id());
    }

    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        let room = self.server.channel("room".to_string());
        room.broadcast_detached_from(cx, frame).unwrap();
    }
}

async fn room(config: Config) -> (Running, mpsc::UnboundedReceiver<SessionId>) {
    let server = Server::bind("127.0.0.1:0", config).await.unwrap();
    let (opened, rx) = mpsc::unbounded_channel();
    let handler = Room {
        server: server.clone(),
        opened,
    };
    (Running::serve(server, handler), rx)
}

async fn opened(rx: &mut mpsc::UnboundedReceiver<SessionId>) -> SessionId {
    bounded(rx.recv()).await.expect("server gone")
}

/// Frame `i`: its index, then four bytes of text.
fn payload(i: u32) -> Vec<u8> {
    let mut p = i.to_be_bytes().to_vec();
    p.extend_from_slice(b"chat");
    p
}

fn index(frame: &[u8]) -> u32 {
    u32::from_be_bytes(frame[..4].try_into().unwrap())
}

/// The whole burst, framed, for one write.
fn burst() -> Vec<u8> {
    (0..BURST)
        .flat_map(|i| common::packet(&payload(i)))
        .collect()
}

/// The writer: a member whose peer drains everything it is sent, and writes
/// what the test asks for.
async fn writer(addr: std::net::SocketAddr) -> tokio::net::tcp::OwnedWriteHalf {
    let (mut rd, wr) = TcpStream::connect(addr).await.unwrap().into_split();
    tokio::spawn(async move { tokio::io::copy(&mut rd, &mut tokio::io::sink()).await });
    wr
}

/// Resident set size of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test]
async fn a_member_that_reads_gets_every_frame_of_a_burst_in_order() {
    bounded(async {
        let (running, mut rx) = room(Config::default()).await;
        let reader = dial(running.addr(), Config::default()).await.unwrap();
        opened(&mut rx).await;
        let mut wr = writer(running.addr()).await;
        opened(&mut rx).await;

        wr.write_all(&burst()).await.unwrap();
        for i in 0..BURST {
            let frame = reader.recv().await.expect("connection ended");
            assert_eq!(index(&frame), i, "frames arrive once each, in order");
        }
        assert_eq!(running.server.stats().broadcast_missed, 0);
        running.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_member_that_never_reads_misses_frames_and_holds_nobody_back() {
    bounded(async {
        // Small socket buffers: the member that does not read is full after
        // its queue and a few KiB.
        let (running, mut rx) = room(small_send_buffer(SessionConfig::default())).await;
        let reader = dial(running.addr(), Config::default()).await.unwrap();
        opened(&mut rx).await;
        let mut silent = stalled_client(running.addr()).await;
        opened(&mut rx).await;
        let mut wr = writer(running.addr()).await;
        opened(&mut rx).await;
        let before = rss();

        // Every frame reaches the member that reads: the publisher waited
        // for it, and stopped waiting for the silent one after its grace.
        wr.write_all(&burst()).await.unwrap();
        for i in 0..BURST {
            let frame = reader.recv().await.expect("connection ended");
            assert_eq!(index(&frame), i, "frames arrive once each, in order");
        }
        wr.write_all(&common::packet(&payload(END))).await.unwrap();
        assert_eq!(index(&reader.recv().await.unwrap()), END);
        let grown = rss().saturating_sub(before);
        assert!(grown < 64 << 20, "memory grew by {grown} bytes");

        // The silent member, reading at last: a gap, counted.
        let mut got = Vec::new();
        loop {
            let frame = read_packet(&mut silent).await.expect("session ended");
            let i = index(&frame);
            if i == END {
                break;
            }
            assert!(got.last().is_none_or(|&last| last < i), "in order");
            got.push(i);
        }
        let missed = running.server.stats().broadcast_missed;
        assert!(missed > 0 && (got.len() as u64) < u64::from(BURST));
        assert_eq!(got.len() as u64 + missed, u64::from(BURST));
        running.stop().await;
    })
    .await;
}
