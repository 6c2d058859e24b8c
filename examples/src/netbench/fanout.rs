//! Fan-out mode: every connection subscribes (reads everything the server
//! broadcasts); the first `publishers` connections also publish.
//!
//! A publisher keeps `pipeline` of its frames in flight, where "in flight"
//! means sent but not yet seen coming back through the broadcast (a fan-out
//! server sends every frame to its sender too). Every connection counts what
//! it receives, and the latency of a delivery is the time from the publish
//! stamp in the payload to its receipt. With `--verify`, each subscriber
//! checks the payload bytes and that each sender's frames arrive in order;
//! frames a server legitimately dropped (a slow-subscriber policy) show up as
//! `lost`, not as failures.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;

use super::conn::{send_frame, Desync, Traffic};
use super::stats::{nanos, Plan, Totals};
use super::wire::{Stamp, Template};

/// A publisher that has seen none of its own frames back for this long
/// gives up on the ones in flight (the server dropped them) and goes on.
const STALL: Duration = Duration::from_secs(1);

pub(crate) struct Fanout {
    id: u32,
    plan: Arc<Plan>,
    /// One per publisher, indexed by sender id.
    templates: Arc<[Template]>,
    publisher: bool,
    /// Per sender: the sequence number expected next.
    expected: Vec<Option<u64>>,
    next_seq: u64,
    /// Own frames accounted for: every seq below this came back or was lost.
    own_done: u64,
    own_progress_ns: u64,
}

impl Fanout {
    pub(crate) fn new(id: u32, plan: Arc<Plan>, templates: Arc<[Template]>) -> Self {
        Fanout {
            id,
            publisher: (id as usize) < templates.len(),
            expected: vec![None; templates.len()],
            own_progress_ns: plan.clock.now_ns(),
            plan,
            templates,
            next_seq: 0,
            own_done: 0,
        }
    }
}

impl Traffic for Fanout {
    fn refill(&mut self, now_ns: u64, out: &mut BytesMut, totals: &mut Totals) {
        if !self.publisher {
            return;
        }
        let template = &self.templates[self.id as usize];
        while self.next_seq - self.own_done < self.plan.pipeline as u64 {
            let stamp = Stamp {
                seq: self.next_seq,
                sent_ns: now_ns,
                sender: self.id,
            };
            send_frame(&self.plan, template, stamp, out, totals);
            self.next_seq += 1;
        }
    }

    fn receive(
        &mut self,
        payload: &[u8],
        now_ns: u64,
        totals: &mut Totals,
        samples: &mut Vec<u64>,
    ) -> Result<(), Desync> {
        let verify = self.plan.verify;
        // Payloads are at least a stamp long in this mode (validated).
        let stamp = Stamp::read(payload).ok_or(Desync)?;
        let Some(template) = self.templates.get(stamp.sender as usize) else {
            // From no publisher of this run: corrupted or foreign.
            totals.errors += 1;
            totals.verify_failures += u64::from(verify);
            return Ok(());
        };
        let in_window = self.plan.in_window(now_ns);
        let next = &mut self.expected[stamp.sender as usize];
        match *next {
            // A duplicate or an overtaken frame.
            Some(want) if stamp.seq < want => totals.verify_failures += u64::from(verify),
            Some(want) if stamp.seq > want && in_window => totals.lost += stamp.seq - want,
            _ => {}
        }
        *next = Some(next.map_or(stamp.seq + 1, |want| want.max(stamp.seq + 1)));
        if verify && !template.filler_matches(payload) {
            totals.verify_failures += 1;
        }
        if self.publisher && stamp.sender == self.id {
            self.own_done = self.own_done.max(stamp.seq + 1).min(self.next_seq);
            self.own_progress_ns = now_ns;
        }
        if in_window {
            totals.frames += 1;
            samples.push(now_ns.saturating_sub(stamp.sent_ns));
        }
        Ok(())
    }

    fn tick_every(&self) -> Option<Duration> {
        self.publisher.then_some(STALL / 4)
    }

    fn tick(&mut self, now_ns: u64, totals: &mut Totals) {
        let waiting = self.next_seq > self.own_done;
        if waiting && now_ns.saturating_sub(self.own_progress_ns) > nanos(STALL) {
            self.own_done = self.next_seq;
            self.own_progress_ns = now_ns;
            totals.stalls += 1;
        }
    }
}
