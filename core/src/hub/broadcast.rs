//! Encode-once broadcast bookkeeping: who a frame goes to, and how each of
//! those sends ended (go-libnet's `[]BroadcastWork`).
//!
//! The hub only takes the recipient snapshot. Everything after that lives in
//! a [`BroadcastRecord`] that is owned apart from the hub, so outcomes are
//! recorded without taking the hub's lock once per recipient.

use super::dense::IdHash;
use super::id;
use super::{Hub, SessionId};
use crate::session::{SendFailure, SendOutcome};
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::Hash;
use std::mem::size_of;
use std::sync::atomic::AtomicU64;

/// Identifies one broadcast. Unique within the process, like [`SessionId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BroadcastId(u64);

impl BroadcastId {
    fn allocate() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        BroadcastId(id::next(&NEXT))
    }

    /// The raw number; increasing in the order broadcasts were created.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for BroadcastId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broadcast#{}", self.0)
    }
}

/// Who a broadcast goes to; `K` is the hub's channel key type.
#[derive(Debug)]
#[non_exhaustive]
pub enum Recipients<'a, K> {
    /// Every registered session.
    Everyone,
    /// Every member of this channel (none if the channel does not exist).
    Channel(&'a K),
    /// These sessions. A repeated id is delivered to once; an id that is not
    /// registered gets no delivery and is reported
    /// [`Failed(Closed)`](DeliveryStatus::Failed) at once.
    Sessions(&'a [SessionId]),
}

// Not derived: a derive would require `K: Copy`, and only a reference is held.
impl<K> Clone for Recipients<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Recipients<'_, K> {}

/// Where one recipient's send stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryStatus {
    /// Handed to the session; its outcome is not in yet.
    Pending,
    /// Every byte reached the OS.
    Sent,
    /// The send failed, for this reason.
    Failed(SendFailure),
}

impl From<SendOutcome> for DeliveryStatus {
    fn from(outcome: SendOutcome) -> Self {
        match outcome {
            SendOutcome::Sent => DeliveryStatus::Sent,
            SendOutcome::Failed(reason) => DeliveryStatus::Failed(reason),
        }
    }
}

/// Names one recipient's slot in one broadcast. It travels with the
/// [`Delivery`] to the session and comes back with the send's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeliveryTicket {
    /// The broadcast.
    pub broadcast: BroadcastId,
    /// The recipient's position in the broadcast.
    pub slot: usize,
}

/// One recipient's copy of a broadcast: a shared handle on the one encoded
/// frame (no bytes copied), and the ticket to report its outcome with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The session to hand the frame to.
    pub session: SessionId,
    /// Where to record the outcome.
    pub ticket: DeliveryTicket,
    /// The encoded frame (header + payload), shared by every recipient.
    pub frame: Bytes,
}

/// How many recipients stand where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BroadcastCounts {
    /// Sent: every byte reached the OS.
    pub sent: usize,
    /// Failed: the session was closed (or not registered).
    pub closed: usize,
    /// Failed: the send's deadline passed first.
    pub timed_out: usize,
    /// Failed: the session's queue was full.
    pub queue_full: usize,
    /// No outcome yet.
    pub pending: usize,
}

impl BroadcastCounts {
    fn slot(&mut self, status: DeliveryStatus) -> &mut usize {
        match status {
            DeliveryStatus::Pending => &mut self.pending,
            DeliveryStatus::Sent => &mut self.sent,
            DeliveryStatus::Failed(SendFailure::Closed) => &mut self.closed,
            DeliveryStatus::Failed(SendFailure::TimedOut) => &mut self.timed_out,
            DeliveryStatus::Failed(SendFailure::QueueFull) => &mut self.queue_full,
        }
    }

    /// Every recipient: the sum of all counts.
    pub fn total(&self) -> usize {
        self.sent + self.closed + self.timed_out + self.queue_full + self.pending
    }
}

/// Why an outcome could not be recorded. Each means the runtime reported
/// something twice or to the wrong place; the record is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The ticket belongs to another broadcast.
    #[error("ticket of {ticket} given to {record}")]
    WrongBroadcast {
        /// The broadcast the ticket names.
        ticket: BroadcastId,
        /// The broadcast it was given to.
        record: BroadcastId,
    },
    /// No recipient sits at this slot.
    #[error("slot {slot} out of range for a broadcast of {len} recipients")]
    SlotOutOfRange {
        /// The slot asked for.
        slot: usize,
        /// How many recipients the broadcast has.
        len: usize,
    },
    /// This recipient's outcome is already in: every send ends once.
    #[error("slot {slot} already ended as {status:?}")]
    AlreadyRecorded {
        /// The slot.
        slot: usize,
        /// Its recorded status.
        status: DeliveryStatus,
    },
    /// The tracker holds no such broadcast: it completed, or the caller
    /// forgot it. Expected for late outcomes after a `forget`.
    #[error("{0} is not tracked")]
    UnknownBroadcast(BroadcastId),
}

/// Where every recipient of one broadcast stands: counts, per-session
/// statuses (pending ones included), and the list to resend to.
///
/// Memory is two exact-size slices, [`heap_bytes`](Self::heap_bytes): 9
/// bytes per recipient (an 8-byte [`SessionId`] and a 1-byte
/// [`DeliveryStatus`]), plus the fixed size of the struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastReport {
    id: BroadcastId,
    recipients: Box<[SessionId]>,
    statuses: Box<[DeliveryStatus]>,
    counts: BroadcastCounts,
}

impl BroadcastReport {
    /// The broadcast.
    pub fn id(&self) -> BroadcastId {
        self.id
    }

    /// How many recipients it has.
    pub fn len(&self) -> usize {
        self.recipients.len()
    }

    /// True when it had no recipient.
    pub fn is_empty(&self) -> bool {
        self.recipients.is_empty()
    }

    /// Counts by status. O(1): kept up to date as outcomes arrive.
    pub fn counts(&self) -> BroadcastCounts {
        self.counts
    }

    /// True when every recipient's outcome is in.
    pub fn is_complete(&self) -> bool {
        self.counts.pending == 0
    }

    /// The recipient at `slot` and its status.
    pub fn get(&self, slot: usize) -> Option<(SessionId, DeliveryStatus)> {
        Some((*self.recipients.get(slot)?, *self.statuses.get(slot)?))
    }

    /// Every recipient with its status, in slot order.
    pub fn statuses(&self) -> impl ExactSizeIterator<Item = (SessionId, DeliveryStatus)> + '_ {
        self.recipients
            .iter()
            .copied()
            .zip(self.statuses.iter().copied())
    }

    /// The recipients whose status is `status`, in slot order.
    pub fn with_status(&self, status: DeliveryStatus) -> impl Iterator<Item = SessionId> + '_ {
        self.statuses()
            .filter(move |&(_, s)| s == status)
            .map(|(id, _)| id)
    }

    /// The recipients whose send timed out: what a caller resends to with
    /// [`Recipients::Sessions`].
    pub fn timed_out(&self) -> Vec<SessionId> {
        self.with_status(DeliveryStatus::Failed(SendFailure::TimedOut))
            .collect()
    }

    /// Heap bytes held: the recipient and status slices, both exact-size.
    pub fn heap_bytes(&self) -> usize {
        self.recipients.len() * size_of::<SessionId>()
            + self.statuses.len() * size_of::<DeliveryStatus>()
    }
}

/// One broadcast in flight: its recipients, in slot order, and each one's
/// outcome as it comes in.
///
/// Made by [`Hub::broadcast`] (or [`BroadcastRecord::new`] for sessions that
/// have no hub) and owned apart from the hub. The intended use:
///
/// 1. Under the hub lock, `hub.broadcast(to)`: the recipient snapshot.
///    Release the lock.
/// 2. For each of [`deliveries`](Self::deliveries), hand the shared frame to
///    that session's inbox with its [`DeliveryTicket`].
/// 3. As each session reports its send's outcome, [`record`](Self::record) it
///    with the ticket. Recording touches one slot and one counter, so the
///    record needs only its own small lock (or a
///    [`BroadcastTracker`] on an event loop), never the hub's.
/// 4. Read the [`report`](Self::report) at any time; when
///    [`is_complete`](Self::is_complete), every send has ended.
///
/// A session that is removed before sending must still report (its pending
/// sends end [`Closed`](SendFailure::Closed)): that is the session's rule that
/// every send ends exactly once, and it is what completes the record.
///
/// ```
/// use bytes::Bytes;
/// use castnet_core::hub::{BroadcastRecord, DeliveryStatus};
/// use castnet_core::{SendFailure, SendOutcome, SessionId};
///
/// let (a, b) = (SessionId::allocate(), SessionId::allocate());
/// let mut record = BroadcastRecord::new(vec![a, b]);
/// let frame = Bytes::from_static(b"\x00\x02hi");
/// let deliveries: Vec<_> = record.deliveries(&frame).collect();
/// assert_eq!(deliveries.len(), 2);
///
/// record.record(deliveries[0].ticket, SendOutcome::Sent).unwrap();
/// let left = record
///     .record(deliveries[1].ticket, SendOutcome::Failed(SendFailure::TimedOut))
///     .unwrap();
/// assert_eq!(left, 0);
/// assert_eq!(record.report().timed_out(), vec![b]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastRecord {
    report: BroadcastReport,
}

impl BroadcastRecord {
    /// A record with a fresh id for `recipients`, every one pending. A
    /// repeated id gets one slot (and one delivery) per occurrence.
    pub fn new(recipients: Vec<SessionId>) -> Self {
        let statuses = vec![DeliveryStatus::Pending; recipients.len()];
        let counts = BroadcastCounts {
            pending: recipients.len(),
            ..BroadcastCounts::default()
        };
        BroadcastRecord::from_parts(recipients, statuses, counts)
    }

    /// A record whose `counts` already tally `statuses`.
    fn from_parts(
        recipients: Vec<SessionId>,
        statuses: Vec<DeliveryStatus>,
        counts: BroadcastCounts,
    ) -> Self {
        BroadcastRecord {
            report: BroadcastReport {
                id: BroadcastId::allocate(),
                recipients: recipients.into_boxed_slice(),
                statuses: statuses.into_boxed_slice(),
                counts,
            },
        }
    }

    /// The broadcast's id.
    pub fn id(&self) -> BroadcastId {
        self.report.id
    }

    /// True when every recipient's outcome is in.
    pub fn is_complete(&self) -> bool {
        self.report.is_complete()
    }

    /// One [`Delivery`] per recipient still pending, each holding a clone of
    /// `frame` (a reference-count increment, not a copy). Call it once, right
    /// after the record is made; `report().counts().pending` says how many
    /// it yields.
    pub fn deliveries<'a>(&'a self, frame: &'a Bytes) -> impl Iterator<Item = Delivery> + 'a {
        let broadcast = self.report.id;
        // Slots that ended at creation (unregistered ids) get no delivery.
        self.report
            .statuses()
            .enumerate()
            .filter(|(_, (_, status))| *status == DeliveryStatus::Pending)
            .map(move |(slot, (session, _))| Delivery {
                session,
                ticket: DeliveryTicket { broadcast, slot },
                frame: frame.clone(),
            })
    }

    /// Records how the send behind `ticket` ended, and returns how many
    /// outcomes are still pending (0: the broadcast is complete). Refused,
    /// changing nothing, if the ticket is not this broadcast's, names no
    /// slot, or its outcome is already in.
    pub fn record(
        &mut self,
        ticket: DeliveryTicket,
        outcome: SendOutcome,
    ) -> Result<usize, RecordError> {
        let report = &mut self.report;
        if ticket.broadcast != report.id {
            return Err(RecordError::WrongBroadcast {
                ticket: ticket.broadcast,
                record: report.id,
            });
        }
        let len = report.statuses.len();
        let slot = report
            .statuses
            .get_mut(ticket.slot)
            .ok_or(RecordError::SlotOutOfRange {
                slot: ticket.slot,
                len,
            })?;
        if *slot != DeliveryStatus::Pending {
            return Err(RecordError::AlreadyRecorded {
                slot: ticket.slot,
                status: *slot,
            });
        }
        let status = DeliveryStatus::from(outcome);
        *slot = status;
        report.counts.pending -= 1;
        *report.counts.slot(status) += 1;
        Ok(report.counts.pending)
    }

    /// Where every recipient stands now.
    pub fn report(&self) -> &BroadcastReport {
        &self.report
    }

    /// The report, consuming the record (no copy).
    pub fn into_report(self) -> BroadcastReport {
        self.report
    }
}

/// The live broadcasts of one event loop, keyed by id: a record is freed the
/// moment its last outcome is recorded (its final report is handed back) or
/// when the caller [`forget`](Self::forget)s it.
///
/// For drivers that keep broadcast state on one thread (a custom event loop,
/// a dispatcher thread). A runtime that shares each record between tasks can
/// instead wrap each [`BroadcastRecord`] in its own lock; either way the hub
/// lock is not involved.
///
/// Memory: for each live broadcast, its record (see [`BroadcastReport`]) and
/// one map entry. Nothing is kept for a completed or forgotten broadcast; the
/// map's spare capacity is returned once it is mostly empty.
#[derive(Debug, Default)]
pub struct BroadcastTracker {
    live: HashMap<BroadcastId, BroadcastRecord>,
}

impl BroadcastTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        BroadcastTracker::default()
    }

    /// Tracks `record` until its outcomes are in. A record that is already
    /// complete (no pending recipient) is not kept: its report comes back at
    /// once.
    #[must_use = "a complete broadcast's report is returned, not kept"]
    pub fn track(&mut self, record: BroadcastRecord) -> Option<BroadcastReport> {
        if record.is_complete() {
            return Some(record.into_report());
        }
        // Ids are process-unique and a record is made only with a fresh one,
        // so nothing is displaced here.
        self.live.insert(record.id(), record);
        None
    }

    /// Records an outcome. When it was the last one, the broadcast is freed
    /// and its final report returned.
    pub fn record(
        &mut self,
        ticket: DeliveryTicket,
        outcome: SendOutcome,
    ) -> Result<Option<BroadcastReport>, RecordError> {
        let record = self
            .live
            .get_mut(&ticket.broadcast)
            .ok_or(RecordError::UnknownBroadcast(ticket.broadcast))?;
        if record.record(ticket, outcome)? > 0 {
            return Ok(None);
        }
        Ok(self.free(ticket.broadcast))
    }

    /// Where a live broadcast stands.
    pub fn report(&self, id: BroadcastId) -> Option<&BroadcastReport> {
        self.live.get(&id).map(BroadcastRecord::report)
    }

    /// Drops interest in a broadcast: it is freed now, its report as it stands
    /// is returned, and outcomes that arrive later are refused with
    /// [`RecordError::UnknownBroadcast`].
    pub fn forget(&mut self, id: BroadcastId) -> Option<BroadcastReport> {
        self.free(id)
    }

    fn free(&mut self, id: BroadcastId) -> Option<BroadcastReport> {
        let record = self.live.remove(&id)?;
        // A map keeps its high-water capacity; give most of it back once the
        // burst is over, so a past spike of broadcasts does not pin memory.
        if self.live.capacity() > 64 && self.live.len() < self.live.capacity() / 4 {
            self.live.shrink_to(self.live.len() * 2);
        }
        Some(record.into_report())
    }

    /// How many broadcasts are live.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// True when no broadcast is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

impl<K, M> Hub<K, M>
where
    K: Hash + Eq + Clone,
{
    /// Plans a broadcast: snapshots the recipients and returns a fresh
    /// [`BroadcastRecord`] for them, to be driven outside the hub lock. Costs
    /// one copy of the recipient ids (a `memcpy` for a channel or everyone),
    /// and needs only shared access (a read lock is enough).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use castnet_core::hub::{Hub, Recipients, ServerState};
    /// use castnet_core::limits::ConnectionLimits;
    /// use std::net::SocketAddr;
    ///
    /// let mut hub: Hub<&str> = Hub::new(ConnectionLimits::unlimited());
    /// hub.set_state(ServerState::Starting).unwrap();
    /// hub.set_state(ServerState::Running).unwrap();
    /// let peer: SocketAddr = "192.0.2.1:4000".parse().unwrap();
    /// let (a, b) = (hub.register(peer, ()).unwrap(), hub.register(peer, ()).unwrap());
    /// hub.join("room", a).unwrap();
    ///
    /// let record = hub.broadcast(Recipients::Channel(&"room"));
    /// let frame = Bytes::from_static(b"\x00\x00\x00\x02hi"); // encoded once
    /// let sessions: Vec<_> = record.deliveries(&frame).map(|d| d.session).collect();
    /// assert_eq!(sessions, vec![a]);
    /// # let _ = b;
    /// ```
    pub fn broadcast(&self, to: Recipients<'_, K>) -> BroadcastRecord {
        match to {
            Recipients::Everyone => BroadcastRecord::new(self.sessions.keys().to_vec()),
            Recipients::Channel(key) => BroadcastRecord::new(
                self.channels
                    .get(key)
                    .map(|members| members.keys().to_vec())
                    .unwrap_or_default(),
            ),
            Recipients::Sessions(list) => {
                let mut seen = HashSet::with_capacity_and_hasher(list.len(), IdHash::default());
                let mut recipients = Vec::with_capacity(list.len());
                let mut statuses = Vec::with_capacity(list.len());
                let mut counts = BroadcastCounts::default();
                for &id in list {
                    if seen.insert(id) {
                        let status = if self.sessions.contains(id) {
                            DeliveryStatus::Pending
                        } else {
                            DeliveryStatus::Failed(SendFailure::Closed)
                        };
                        recipients.push(id);
                        statuses.push(status);
                        *counts.slot(status) += 1;
                    }
                }
                BroadcastRecord::from_parts(recipients, statuses, counts)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::test_support::{peer, running_hub};
    use crate::limits::ConnectionLimits;

    fn hub_with(n: u8) -> (Hub<&'static str>, Vec<SessionId>) {
        let mut hub = running_hub(ConnectionLimits::unlimited());
        let ids = (0..n).map(|i| hub.register(peer(i), ()).unwrap()).collect();
        (hub, ids)
    }

    fn sorted(mut ids: Vec<SessionId>) -> Vec<SessionId> {
        ids.sort();
        ids
    }

    const FAILED_TIMEOUT: SendOutcome = SendOutcome::Failed(SendFailure::TimedOut);

    #[test]
    fn broadcast_to_a_channel_goes_to_its_members_only() {
        let (mut hub, ids) = hub_with(4);
        hub.join("room", ids[1]).unwrap();
        hub.join("room", ids[3]).unwrap();
        let record = hub.broadcast(Recipients::Channel(&"room"));
        let frame = Bytes::from_static(b"x");
        let to: Vec<_> = record.deliveries(&frame).map(|d| d.session).collect();
        assert_eq!(sorted(to), vec![ids[1], ids[3]]);
        assert_eq!(record.report().counts().pending, 2);
    }

    #[test]
    fn broadcast_to_everyone_goes_to_every_registered_session() {
        let (mut hub, ids) = hub_with(5);
        hub.remove(ids[2]);
        let record = hub.broadcast(Recipients::Everyone);
        let mut expected = ids.clone();
        expected.remove(2);
        assert_eq!(
            sorted(record.report().statuses().map(|(id, _)| id).collect()),
            expected
        );
    }

    #[test]
    fn broadcast_to_a_missing_channel_is_complete_at_once() {
        let (hub, _) = hub_with(2);
        let record = hub.broadcast(Recipients::Channel(&"nobody"));
        assert!(record.is_complete());
        assert!(record.report().is_empty());
        let mut tracker = BroadcastTracker::new();
        assert!(tracker.track(record).is_some(), "nothing to wait for");
        assert!(tracker.is_empty());
    }

    #[test]
    fn explicit_list_delivers_once_per_session_and_reports_unknown_ones_closed() {
        let (mut hub, ids) = hub_with(3);
        hub.remove(ids[1]);
        let list = [ids[0], ids[1], ids[0], ids[2]];
        let record = hub.broadcast(Recipients::Sessions(&list));
        let report = record.report();
        assert_eq!(
            report.statuses().collect::<Vec<_>>(),
            vec![
                (ids[0], DeliveryStatus::Pending),
                (ids[1], DeliveryStatus::Failed(SendFailure::Closed)),
                (ids[2], DeliveryStatus::Pending),
            ]
        );
        let frame = Bytes::from_static(b"x");
        let to: Vec<_> = record.deliveries(&frame).map(|d| d.session).collect();
        assert_eq!(to, vec![ids[0], ids[2]]);
        assert_eq!(report.counts().closed, 1);
    }

    #[test]
    fn every_delivery_shares_the_one_encoded_frame() {
        let (hub, _) = hub_with(3);
        let record = hub.broadcast(Recipients::Everyone);
        let frame = Bytes::from(vec![0u8, 0, 0, 3, b'a', b'b', b'c']);
        for delivery in record.deliveries(&frame) {
            assert_eq!(
                delivery.frame.as_ptr(),
                frame.as_ptr(),
                "no copy per recipient"
            );
            assert_eq!(delivery.frame.len(), frame.len());
            assert_eq!(delivery.ticket.broadcast, record.id());
        }
    }

    #[test]
    fn snapshot_keeps_a_session_removed_after_the_broadcast_was_planned() {
        let (mut hub, ids) = hub_with(2);
        let mut record = hub.broadcast(Recipients::Everyone);
        hub.remove(ids[0]);
        let frame = Bytes::new();
        let tickets: Vec<_> = record
            .deliveries(&frame)
            .map(|d| (d.session, d.ticket))
            .collect();
        assert_eq!(tickets.len(), 2);
        for (session, ticket) in tickets {
            let outcome = if session == ids[0] {
                SendOutcome::Failed(SendFailure::Closed)
            } else {
                SendOutcome::Sent
            };
            record.record(ticket, outcome).unwrap();
        }
        assert_eq!(
            record.report().counts(),
            BroadcastCounts {
                sent: 1,
                closed: 1,
                ..BroadcastCounts::default()
            }
        );
    }

    #[test]
    fn counts_follow_each_recorded_outcome_and_pending_ones_are_listed() {
        let ids: Vec<SessionId> = (0..5).map(SessionId::from_raw).collect();
        let mut record = BroadcastRecord::new(ids.clone());
        let frame = Bytes::new();
        let tickets: Vec<DeliveryTicket> = record.deliveries(&frame).map(|d| d.ticket).collect();
        let outcomes = [
            SendOutcome::Sent,
            SendOutcome::Failed(SendFailure::Closed),
            FAILED_TIMEOUT,
            SendOutcome::Failed(SendFailure::QueueFull),
        ];
        for (left, (&ticket, outcome)) in (1..=4).rev().zip(tickets.iter().zip(outcomes)) {
            assert_eq!(record.record(ticket, outcome), Ok(left));
        }
        let report = record.report();
        assert_eq!(
            report.counts(),
            BroadcastCounts {
                sent: 1,
                closed: 1,
                timed_out: 1,
                queue_full: 1,
                pending: 1
            }
        );
        assert!(!report.is_complete());
        assert_eq!(
            report
                .with_status(DeliveryStatus::Pending)
                .collect::<Vec<_>>(),
            vec![ids[4]]
        );
        assert_eq!(
            report.get(2),
            Some((ids[2], DeliveryStatus::Failed(SendFailure::TimedOut)))
        );
        assert_eq!(report.counts().total(), 5);
    }

    #[test]
    fn timed_out_lists_exactly_the_sessions_to_resend_to() {
        let (hub, ids) = hub_with(4);
        let mut record = hub.broadcast(Recipients::Everyone);
        let frame = Bytes::new();
        let deliveries: Vec<Delivery> = record.deliveries(&frame).collect();
        let mut expected = Vec::new();
        for d in &deliveries {
            let outcome = if d.session == ids[1] || d.session == ids[2] {
                expected.push(d.session);
                FAILED_TIMEOUT
            } else {
                SendOutcome::Sent
            };
            record.record(d.ticket, outcome).unwrap();
        }
        let resend = record.report().timed_out();
        assert_eq!(resend, expected);
        let again = hub.broadcast(Recipients::Sessions(&resend));
        assert_eq!(
            sorted(again.report().statuses().map(|(id, _)| id).collect()),
            vec![ids[1], ids[2]]
        );
    }

    #[test]
    fn a_second_outcome_for_one_recipient_is_refused() {
        let mut record = BroadcastRecord::new(vec![SessionId::from_raw(1)]);
        let ticket = DeliveryTicket {
            broadcast: record.id(),
            slot: 0,
        };
        assert_eq!(record.record(ticket, SendOutcome::Sent), Ok(0));
        assert_eq!(
            record.record(ticket, FAILED_TIMEOUT),
            Err(RecordError::AlreadyRecorded {
                slot: 0,
                status: DeliveryStatus::Sent
            })
        );
        assert_eq!(record.report().counts().sent, 1);
        assert_eq!(record.report().counts().timed_out, 0);
    }

    #[test]
    fn a_ticket_of_another_broadcast_or_slot_is_refused() {
        let mut a = BroadcastRecord::new(vec![SessionId::from_raw(1)]);
        let b = BroadcastRecord::new(vec![SessionId::from_raw(1)]);
        assert_ne!(a.id(), b.id());
        let foreign = DeliveryTicket {
            broadcast: b.id(),
            slot: 0,
        };
        assert_eq!(
            a.record(foreign, SendOutcome::Sent),
            Err(RecordError::WrongBroadcast {
                ticket: b.id(),
                record: a.id()
            })
        );
        let past_end = DeliveryTicket {
            broadcast: a.id(),
            slot: 1,
        };
        assert_eq!(
            a.record(past_end, SendOutcome::Sent),
            Err(RecordError::SlotOutOfRange { slot: 1, len: 1 })
        );
        assert_eq!(a.report().counts().pending, 1);
    }

    /// A tracker following one broadcast to two sessions, with its tickets.
    fn tracked_pair() -> (BroadcastTracker, BroadcastId, Vec<DeliveryTicket>) {
        let mut tracker = BroadcastTracker::new();
        let record = BroadcastRecord::new(vec![SessionId::from_raw(1), SessionId::from_raw(2)]);
        let frame = Bytes::new();
        let tickets: Vec<_> = record.deliveries(&frame).map(|d| d.ticket).collect();
        let id = record.id();
        assert!(tracker.track(record).is_none());
        (tracker, id, tickets)
    }

    #[test]
    fn tracker_frees_a_record_when_its_last_outcome_arrives() {
        let (mut tracker, id, tickets) = tracked_pair();
        assert_eq!(tracker.record(tickets[0], SendOutcome::Sent), Ok(None));
        assert_eq!(tracker.report(id).unwrap().counts().pending, 1);
        let done = tracker.record(tickets[1], FAILED_TIMEOUT).unwrap().unwrap();
        assert_eq!(done.counts().timed_out, 1);
        assert!(tracker.is_empty(), "a complete broadcast holds no memory");
        assert_eq!(
            tracker.record(tickets[1], SendOutcome::Sent),
            Err(RecordError::UnknownBroadcast(id))
        );
    }

    #[test]
    fn tracker_frees_a_forgotten_record_and_refuses_late_outcomes() {
        let (mut tracker, id, tickets) = tracked_pair();
        tracker.record(tickets[0], SendOutcome::Sent).unwrap();
        let partial = tracker.forget(id).unwrap();
        assert_eq!(partial.counts().pending, 1, "the report as it stood");
        assert_eq!(tracker.len(), 0);
        assert_eq!(
            tracker.record(tickets[1], SendOutcome::Sent),
            Err(RecordError::UnknownBroadcast(id))
        );
        assert!(tracker.forget(id).is_none());
    }

    #[test]
    fn tracker_gives_back_its_capacity_after_a_burst() {
        let mut tracker = BroadcastTracker::new();
        let frame = Bytes::new();
        let mut tickets = Vec::new();
        for n in 0..1000 {
            let record = BroadcastRecord::new(vec![SessionId::from_raw(n)]);
            tickets.extend(record.deliveries(&frame).map(|d| d.ticket));
            assert!(tracker.track(record).is_none());
        }
        let burst = tracker.live.capacity();
        for ticket in tickets {
            tracker.record(ticket, SendOutcome::Sent).unwrap();
        }
        assert!(tracker.is_empty());
        assert!(
            tracker.live.capacity() <= 64,
            "kept {} of {burst} slots",
            tracker.live.capacity()
        );
    }

    #[test]
    fn a_record_holds_nine_heap_bytes_per_recipient() {
        assert_eq!(size_of::<SessionId>(), 8);
        assert_eq!(size_of::<DeliveryStatus>(), 1);
        // The fixed part: id, two slice pointers with lengths, five counts.
        assert_eq!(
            size_of::<BroadcastRecord>(),
            8 + 4 * size_of::<usize>() + 5 * size_of::<usize>()
        );
        for n in [0usize, 10, 1000, 100_000] {
            let ids: Vec<SessionId> = (0..n as u64).map(SessionId::from_raw).collect();
            let record = BroadcastRecord::new(ids);
            assert_eq!(record.report().heap_bytes(), 9 * n);
        }
    }

    #[test]
    fn delivery_status_mirrors_the_send_outcome() {
        assert_eq!(
            DeliveryStatus::from(SendOutcome::Sent),
            DeliveryStatus::Sent
        );
        for reason in [
            SendFailure::Closed,
            SendFailure::TimedOut,
            SendFailure::QueueFull,
        ] {
            assert_eq!(
                DeliveryStatus::from(SendOutcome::Failed(reason)),
                DeliveryStatus::Failed(reason)
            );
        }
    }
}
