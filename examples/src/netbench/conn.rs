//! The loop every measuring connection runs, whatever its traffic.
//!
//! Per round: let the traffic append what it may send now (one clock read),
//! then wait for whichever comes first: the stop time, the socket taking the
//! pending bytes (one `write` for the whole batch), or bytes arriving (one
//! `read`, then every complete frame handed to the traffic and its latencies
//! recorded under one lock). Writes are polled before reads so a batch is
//! not held back behind parsing.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::stats::{Plan, Totals};
use super::wire::{Stamp, Template};

/// How much a connection reads at most per `read`.
const READ_CHUNK: usize = 64 * 1024;

/// A received frame that leaves the stream untrustworthy: a length other
/// than the payload size sent, or an echo of something never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Desync;

/// What a connection sends and how it judges what it receives.
pub(crate) trait Traffic {
    /// Appends the frames to send now (maybe none) to `out`.
    fn refill(&mut self, now_ns: u64, out: &mut BytesMut, totals: &mut Totals);

    /// Takes one received payload of the expected length; pushes its latency
    /// to `samples` if it is to be counted.
    fn receive(
        &mut self,
        payload: &[u8],
        now_ns: u64,
        totals: &mut Totals,
        samples: &mut Vec<u64>,
    ) -> Result<(), Desync>;

    /// How often [`Traffic::tick`] wants to run, if at all.
    fn tick_every(&self) -> Option<Duration> {
        None
    }

    /// Periodic housekeeping (a publisher's stall check).
    fn tick(&mut self, _now_ns: u64, _totals: &mut Totals) {}
}

/// Appends frame `seq` of `sender`, stamped `now_ns`, to `out`, and counts
/// it as sent if that is inside the window.
pub(crate) fn send_frame(
    plan: &Plan,
    template: &Template,
    stamp: Stamp,
    out: &mut BytesMut,
    totals: &mut Totals,
) {
    template.put_frame(plan.framing, stamp, out);
    totals.sent += u64::from(plan.in_window(stamp.sent_ns));
}

pub(crate) async fn drive<T: Traffic>(
    id: u32,
    mut stream: TcpStream,
    plan: Arc<Plan>,
    mut traffic: T,
) -> Totals {
    let mut totals = Totals {
        connected: 1,
        ..Totals::default()
    };
    let framing = plan.framing;
    let frame_len = plan.frame_len();
    let (mut rd, mut wr) = stream.split();
    let mut wbuf = BytesMut::new();
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK.max(frame_len));
    let mut samples = Vec::with_capacity(plan.pipeline);
    let stop = tokio::time::sleep_until(plan.stop_at);
    tokio::pin!(stop);
    let ticks = traffic.tick_every();
    let mut ticker = tokio::time::interval(ticks.unwrap_or(Duration::from_secs(3600)));

    loop {
        traffic.refill(plan.clock.now_ns(), &mut wbuf, &mut totals);
        if rbuf.capacity() - rbuf.len() < READ_CHUNK / 4 {
            rbuf.reserve(READ_CHUNK);
        }
        tokio::select! {
            biased;
            () = &mut stop => break,
            written = wr.write_buf(&mut wbuf), if !wbuf.is_empty() => {
                if !matches!(written, Ok(n) if n > 0) {
                    totals.errors += 1;
                    break;
                }
            }
            read = rd.read_buf(&mut rbuf) => {
                if !matches!(read, Ok(n) if n > 0) {
                    // The server closed or failed the connection mid-run.
                    totals.errors += 1;
                    break;
                }
                // One receipt time for everything this read returned.
                let now = plan.clock.now_ns();
                let mut received = 0;
                let mut outcome = Ok(());
                while let Some((len, head_len)) = framing.peek_len(&rbuf) {
                    if len != plan.payload as u64 {
                        outcome = Err(Desync);
                        break;
                    }
                    // A varint prefix may be padded: its own length counts.
                    let frame_end = head_len + plan.payload;
                    if rbuf.len() < frame_end {
                        break;
                    }
                    outcome = traffic.receive(&rbuf[head_len..frame_end], now, &mut totals, &mut samples);
                    if outcome.is_err() {
                        break;
                    }
                    received += 1;
                    rbuf.advance(frame_end);
                }
                plan.add_live(received);
                plan.latency.record(id, &samples);
                samples.clear();
                if outcome.is_err() {
                    totals.errors += 1;
                    totals.verify_failures += u64::from(plan.verify);
                    break;
                }
            }
            _ = ticker.tick(), if ticks.is_some() => traffic.tick(plan.clock.now_ns(), &mut totals),
        }
    }
    totals
}
