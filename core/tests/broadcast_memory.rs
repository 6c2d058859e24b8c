//! Memory per broadcast, measured with a counting global allocator rather than
//! computed: a broadcast to N recipients holds exactly 9·N heap bytes
//! (`BroadcastReport::heap_bytes`), allocates nothing per recorded outcome,
//! and gives everything back when its record is dropped or its tracker frees
//! it.
//!
//! One test in this binary on purpose: the allocator counts every thread, so
//! a second test running in parallel would disturb the figures.

// The counting allocator needs `unsafe impl GlobalAlloc`; it only forwards
// to `System`. castnet-core itself stays `forbid(unsafe_code)`.
#![allow(unsafe_code)]

use bytes::Bytes;
use castnet_core::hub::{BroadcastTracker, Hub, Recipients, ServerState};
use castnet_core::limits::ConnectionLimits;
use castnet_core::SendOutcome;
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Resets the peak to the current live count and returns that count.
fn mark() -> usize {
    let now = live();
    PEAK.store(now, Ordering::Relaxed);
    now
}

fn running_hub_with_channel(n: usize) -> Hub<u8> {
    let mut hub = Hub::new(ConnectionLimits::unlimited());
    hub.set_state(ServerState::Starting).unwrap();
    hub.set_state(ServerState::Running).unwrap();
    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9000);
    for _ in 0..n {
        let id = hub.register(peer, ()).unwrap();
        hub.join(0, id).unwrap();
    }
    hub
}

#[test]
fn a_broadcast_holds_nine_bytes_per_recipient_and_frees_them() {
    for n in [10usize, 1_000, 100_000] {
        let hub = running_hub_with_channel(n);
        let frame = Bytes::from(vec![7u8; 64]);
        // The first clone of a `Bytes` made from a `Vec` moves it to a shared
        // allocation; do that before measuring, so only the record counts.
        drop(frame.clone());

        let before = mark();
        let mut record = hub.broadcast(Recipients::Channel(&0));
        let held = live() - before;
        assert_eq!(held, 9 * n, "{n} recipients: bytes held by the record");
        assert_eq!(held, record.report().heap_bytes());
        assert_eq!(
            PEAK.load(Ordering::Relaxed) - before,
            held,
            "no temporary copy while planning"
        );

        let tickets: Vec<_> = record.deliveries(&frame).map(|d| d.ticket).collect();
        let with_tickets = live();
        for ticket in tickets.iter().copied() {
            record.record(ticket, SendOutcome::Sent).unwrap();
        }
        assert_eq!(
            live(),
            with_tickets,
            "recording an outcome allocates nothing"
        );
        drop(tickets);
        drop(record);
        assert_eq!(live(), before, "a dropped record frees everything");

        let mut tracker = BroadcastTracker::new();
        let record = hub.broadcast(Recipients::Channel(&0));
        let tickets: Vec<_> = record.deliveries(&frame).map(|d| d.ticket).collect();
        assert!(tracker.track(record).is_none());
        let mut last = None;
        for ticket in tickets.iter().copied() {
            last = tracker.record(ticket, SendOutcome::Sent).unwrap();
        }
        let report = last.expect("the last outcome completes the broadcast");
        assert!(tracker.is_empty());
        drop(report);
        drop(tickets);
        drop(tracker);
        assert_eq!(
            live(),
            before,
            "a completed broadcast leaves nothing behind"
        );
    }
}
