//! Echo mode: every connection keeps `pipeline` frames in flight and checks
//! that each comes back.
//!
//! Echoes come back in order by protocol, so a FIFO of send times gives each
//! echo's latency whatever the payload size (a 1-byte payload cannot carry a
//! timestamp). The stamp in the payload lets `--verify` rebuild the exact
//! bytes sent and catch reordering, loss, corruption and cross-talk between
//! connections.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::BytesMut;

use super::conn::{send_frame, Desync, Traffic};
use super::stats::{Plan, Totals};
use super::wire::{Stamp, Template};

pub(crate) struct Echo {
    id: u32,
    plan: Arc<Plan>,
    template: Template,
    /// Send times of the frames in flight, oldest first.
    in_flight: VecDeque<u64>,
    next_seq: u64,
    expect_seq: u64,
}

impl Echo {
    pub(crate) fn new(id: u32, plan: Arc<Plan>) -> Self {
        Echo {
            id,
            template: Template::new(id, plan.payload),
            in_flight: VecDeque::with_capacity(plan.pipeline),
            plan,
            next_seq: 0,
            expect_seq: 0,
        }
    }
}

impl Traffic for Echo {
    fn refill(&mut self, now_ns: u64, out: &mut BytesMut, totals: &mut Totals) {
        // One timestamp for the batch: it leaves in one write.
        while self.in_flight.len() < self.plan.pipeline {
            let stamp = Stamp {
                seq: self.next_seq,
                sent_ns: now_ns,
                sender: self.id,
            };
            send_frame(&self.plan, &self.template, stamp, out, totals);
            self.in_flight.push_back(now_ns);
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
        let sent_ns = self.in_flight.pop_front().ok_or(Desync)?;
        let expected = Stamp {
            seq: self.expect_seq,
            sent_ns,
            sender: self.id,
        };
        if self.plan.verify && !self.template.matches(payload, expected) {
            totals.verify_failures += 1;
        }
        self.expect_seq += 1;
        if self.plan.in_window(now_ns) {
            totals.frames += 1;
            samples.push(now_ns.saturating_sub(sent_ns));
        }
        Ok(())
    }
}
