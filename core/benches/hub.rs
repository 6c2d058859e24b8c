//! Hub benchmarks: channel join/exit, and broadcast bookkeeping per
//! recipient, at 10, 1,000 and 100,000 channel members.
//!
//! Each group runs castnet beside a naive baseline in the same run, so the
//! figures read as ratios:
//!
//! - `channel_join_exit`: one session joins and exits a channel of N members.
//!   Baseline `std_maps`: the same two indexes (channel → members, session →
//!   channels) as std `HashMap`/`HashSet` with SipHash.
//! - `broadcast_snapshot`: what the runtime does under the hub lock — take
//!   the recipient list and make the record. Baseline: collecting the ids
//!   from the std member set.
//! - `broadcast_bookkeeping`: the whole life of one broadcast's bookkeeping —
//!   snapshot, one `Delivery` (with a shared `Bytes`) per recipient, every
//!   outcome recorded, the counts and the resend list read from the report. Baseline: the same flow with outcomes
//!   kept in a `HashMap<SessionId, DeliveryStatus>`, the obvious design.
//!   Throughput is per recipient.

use bytes::Bytes;
use castnet_core::hub::{DeliveryStatus, Hub, Recipients, ServerState};
use castnet_core::limits::ConnectionLimits;
use castnet_core::{SendFailure, SendOutcome, SessionId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

const SIZES: [usize; 3] = [10, 1_000, 100_000];
const CHANNEL: u32 = 7;

/// The obvious std design of the same bookkeeping: channel → member set and
/// session → channel set, both `HashMap`/`HashSet` with SipHash.
#[derive(Default)]
struct StdMaps {
    channels: HashMap<u32, HashSet<SessionId>>,
    sessions: HashMap<SessionId, HashSet<u32>>,
}

impl StdMaps {
    fn join(&mut self, ch: u32, id: SessionId) -> bool {
        let new = self.sessions.entry(id).or_default().insert(ch);
        if new {
            self.channels.entry(ch).or_default().insert(id);
        }
        new
    }

    fn exit(&mut self, ch: u32, id: SessionId) -> bool {
        let was = self
            .sessions
            .get_mut(&id)
            .is_some_and(|chs| chs.remove(&ch));
        if was {
            if let Some(members) = self.channels.get_mut(&ch) {
                members.remove(&id);
                if members.is_empty() {
                    self.channels.remove(&ch);
                }
            }
        }
        was
    }
}

/// A running hub whose channel `CHANNEL` has `n` members, plus one more
/// registered session outside it, and the same state in [`StdMaps`].
fn setup(n: usize) -> (Hub<u32>, SessionId, StdMaps) {
    let mut hub = Hub::new(ConnectionLimits::unlimited());
    hub.set_state(ServerState::Starting).unwrap();
    hub.set_state(ServerState::Running).unwrap();
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9000);
    let mut baseline = StdMaps::default();
    for _ in 0..n {
        let id = hub.register(peer, ()).unwrap();
        hub.join(CHANNEL, id).unwrap();
        baseline.join(CHANNEL, id);
    }
    let outsider = hub.register(peer, ()).unwrap();
    baseline.sessions.insert(outsider, HashSet::new());
    (hub, outsider, baseline)
}

fn channel_join_exit(c: &mut Criterion) {
    let mut group = c.benchmark_group("channel_join_exit");
    for n in SIZES {
        let (mut hub, outsider, mut baseline) = setup(n);
        group.bench_function(BenchmarkId::new("castnet", n), |b| {
            b.iter(|| {
                black_box(hub.join(CHANNEL, black_box(outsider)).unwrap());
                black_box(hub.exit(&CHANNEL, black_box(outsider)));
            })
        });
        group.bench_function(BenchmarkId::new("std_maps", n), |b| {
            b.iter(|| {
                black_box(baseline.join(CHANNEL, black_box(outsider)));
                black_box(baseline.exit(CHANNEL, black_box(outsider)));
            })
        });
    }
    group.finish();
}

fn broadcast_snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("broadcast_snapshot");
    for n in SIZES {
        let (hub, _, baseline) = setup(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("castnet", n), |b| {
            b.iter(|| black_box(hub.broadcast(Recipients::Channel(&CHANNEL))))
        });
        let members = &baseline.channels[&CHANNEL];
        group.bench_function(BenchmarkId::new("std_maps_collect", n), |b| {
            b.iter(|| black_box(members.iter().copied().collect::<Vec<_>>()))
        });
    }
    group.finish();
}

fn broadcast_bookkeeping(c: &mut Criterion) {
    let mut group = c.benchmark_group("broadcast_bookkeeping");
    let frame = Bytes::from(vec![0u8; 68]);
    for n in SIZES {
        let (hub, _, baseline) = setup(n);
        let members = &baseline.channels[&CHANNEL];
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("castnet", n), |b| {
            b.iter(|| {
                let mut record = hub.broadcast(Recipients::Channel(&CHANNEL));
                // The runtime pushes each delivery into a session's inbox; the
                // outcome comes back later with the ticket.
                let inboxes: Vec<_> = record.deliveries(&frame).collect();
                for delivery in inboxes {
                    record.record(delivery.ticket, SendOutcome::Sent).unwrap();
                }
                let report = record.report();
                black_box((report.counts(), report.timed_out()))
            })
        });
        group.bench_function(BenchmarkId::new("hashmap_outcomes", n), |b| {
            b.iter(|| {
                let recipients: Vec<SessionId> = members.iter().copied().collect();
                let mut outcomes: HashMap<SessionId, DeliveryStatus> = recipients
                    .iter()
                    .map(|&id| (id, DeliveryStatus::Pending))
                    .collect();
                let inboxes: Vec<_> = recipients.iter().map(|&id| (id, frame.clone())).collect();
                for (id, _frame) in inboxes {
                    outcomes.insert(id, DeliveryStatus::Sent);
                }
                let sent = outcomes
                    .values()
                    .filter(|&&s| s == DeliveryStatus::Sent)
                    .count();
                let timed_out: Vec<SessionId> = outcomes
                    .iter()
                    .filter(|(_, &s)| s == DeliveryStatus::Failed(SendFailure::TimedOut))
                    .map(|(&id, _)| id)
                    .collect();
                black_box((sent, timed_out))
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = channel_join_exit, broadcast_snapshot, broadcast_bookkeeping
}
criterion_main!(benches);
