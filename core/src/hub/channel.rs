//! Channels: named groups of sessions, keyed by a user type, with join, exit
//! and kick (go-libnet's `Channel`).

use super::dense::DenseMap;
use super::{Hub, SessionId};
use std::borrow::Borrow;
use std::hash::Hash;

/// The notification a kick produces: `session` was removed from `channel` by
/// the server (go-libnet's kick callback).
///
/// [`Hub::kick`] returns it; the runtime delivers it to the session (its
/// per-join callback, an event on its handle) after releasing the hub lock.
/// Being kicked does not close the session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kicked<K> {
    /// The channel the session was kicked from.
    pub channel: K,
    /// The kicked session.
    pub session: SessionId,
}

/// A channel operation named a session the hub does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not registered")]
pub struct UnknownSession(pub SessionId);

/// A read-only view of one channel; see [`Hub::channel`].
///
/// A channel exists while it has members: the last `exit`, `kick` or
/// `remove` drops it, so a view always has at least one member.
#[derive(Debug)]
pub struct Channel<'a, K> {
    key: &'a K,
    members: &'a DenseMap<u64>,
}

impl<'a, K> Channel<'a, K> {
    /// The channel's key.
    pub fn key(&self) -> &'a K {
        self.key
    }

    /// How many sessions are in the channel.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always false: an empty channel does not exist. Here for the
    /// `len`/`is_empty` pair.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// True when `id` is a member. O(1).
    pub fn contains(&self, id: SessionId) -> bool {
        self.members.contains(id)
    }

    /// Every member, in no particular order (the cheapest walk).
    pub fn members(&self) -> impl ExactSizeIterator<Item = SessionId> + 'a {
        self.members.keys().iter().copied()
    }

    /// Every member in join order: the longest-standing member first. A
    /// session that left and joined again counts from its latest join.
    /// O(members × log members).
    pub fn members_in_join_order(&self) -> Vec<SessionId> {
        let mut joined: Vec<(u64, SessionId)> =
            self.members.iter().map(|(id, &join)| (join, id)).collect();
        joined.sort_unstable();
        joined.into_iter().map(|(_, id)| id).collect()
    }
}

impl<K, M> Hub<K, M>
where
    K: Hash + Eq + Clone,
{
    /// Puts session `id` in `channel`, creating the channel if needed.
    /// Idempotent: returns true when the session was not a member yet, false
    /// when it already was. O(1) expected.
    pub fn join(&mut self, channel: K, id: SessionId) -> Result<bool, UnknownSession> {
        let entry = self.sessions.get_mut(id).ok_or(UnknownSession(id))?;
        if !entry.channels.insert(channel.clone()) {
            return Ok(false);
        }
        self.joins += 1;
        let join = self.joins;
        self.channels.entry(channel).or_default().insert(id, join);
        Ok(true)
    }

    /// Takes session `id` out of `channel`; true when it was a member. The
    /// session is not notified (see [`kick`](Hub::kick) for that). O(1)
    /// expected.
    pub fn exit<Q>(&mut self, channel: &Q, id: SessionId) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(entry) = self.sessions.get_mut(id) else {
            return false;
        };
        if !entry.channels.remove(channel) {
            return false;
        }
        self.leave_channel_index(channel, id);
        true
    }

    /// Takes session `id` out of `channel` and returns the [`Kicked`]
    /// notification for the runtime to deliver; `None` when it was not a
    /// member. The session stays open.
    #[must_use = "the kicked session learns of the kick only if the notification is delivered"]
    pub fn kick<Q>(&mut self, channel: &Q, id: SessionId) -> Option<Kicked<K>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entry = self.sessions.get_mut(id)?;
        let key = entry.channels.take(channel)?;
        self.leave_channel_index(channel, id);
        Some(Kicked {
            channel: key,
            session: id,
        })
    }

    /// A view of `channel`, or `None` when it has no members.
    pub fn channel<Q>(&self, channel: &Q) -> Option<Channel<'_, K>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (key, members) = self.channels.get_key_value(channel)?;
        Some(Channel { key, members })
    }

    /// Every channel with at least one member, in no particular order.
    pub fn channels(&self) -> impl ExactSizeIterator<Item = Channel<'_, K>> + '_ {
        self.channels
            .iter()
            .map(|(key, members)| Channel { key, members })
    }

    /// The channels session `id` is in (none for an unknown id), in no
    /// particular order.
    pub fn channels_of(&self, id: SessionId) -> impl Iterator<Item = &K> + '_ {
        self.sessions
            .get(id)
            .into_iter()
            .flat_map(|entry| entry.channels.iter())
    }

    /// Removes `id` from the member set of `channel`, dropping the channel when
    /// it empties. The caller has already updated the session's own index.
    pub(super) fn leave_channel_index<Q>(&mut self, channel: &Q, id: SessionId)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(members) = self.channels.get_mut(channel) {
            members.remove(id);
            if members.is_empty() {
                self.channels.remove(channel);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::test_support::{peer, running_hub};
    use crate::limits::ConnectionLimits;

    fn hub_with(n: u8) -> (Hub<String>, Vec<SessionId>) {
        let mut hub = running_hub(ConnectionLimits::unlimited());
        let ids = (0..n).map(|i| hub.register(peer(i), ()).unwrap()).collect();
        (hub, ids)
    }

    #[test]
    fn join_is_idempotent_and_says_whether_it_was_new() {
        let (mut hub, ids) = hub_with(1);
        assert_eq!(hub.join("room".to_owned(), ids[0]), Ok(true));
        assert_eq!(hub.join("room".to_owned(), ids[0]), Ok(false));
        assert_eq!(hub.channel("room").unwrap().len(), 1);
        assert_eq!(hub.channels_of(ids[0]).count(), 1);
    }

    #[test]
    fn join_of_an_unregistered_session_is_refused() {
        let (mut hub, ids) = hub_with(1);
        hub.remove(ids[0]);
        assert_eq!(
            hub.join("room".to_owned(), ids[0]),
            Err(UnknownSession(ids[0]))
        );
        assert!(hub.channel("room").is_none());
    }

    #[test]
    fn exit_says_whether_the_session_was_a_member() {
        let (mut hub, ids) = hub_with(2);
        hub.join("room".to_owned(), ids[0]).unwrap();
        hub.join("room".to_owned(), ids[1]).unwrap();
        assert!(hub.exit("room", ids[0]));
        assert!(!hub.exit("room", ids[0]));
        assert!(!hub.exit("elsewhere", ids[1]));
        let room = hub.channel("room").unwrap();
        assert_eq!(room.members().collect::<Vec<_>>(), vec![ids[1]]);
        assert_eq!(room.key(), "room");
    }

    #[test]
    fn kick_notifies_and_keeps_the_session_registered() {
        let (mut hub, ids) = hub_with(2);
        hub.join("room".to_owned(), ids[0]).unwrap();
        hub.join("room".to_owned(), ids[1]).unwrap();
        let kicked = hub.kick("room", ids[0]);
        assert_eq!(
            kicked,
            Some(Kicked {
                channel: "room".to_owned(),
                session: ids[0]
            })
        );
        assert!(hub.contains(ids[0]), "kicking does not close the session");
        assert!(!hub.channel("room").unwrap().contains(ids[0]));
        assert_eq!(hub.channels_of(ids[0]).count(), 0);
    }

    #[test]
    fn kick_of_a_non_member_produces_no_notification() {
        let (mut hub, ids) = hub_with(2);
        hub.join("room".to_owned(), ids[1]).unwrap();
        assert_eq!(hub.kick("room", ids[0]), None);
        assert_eq!(hub.kick("nowhere", ids[1]), None);
        assert_eq!(hub.channel("room").unwrap().len(), 1);
    }

    #[test]
    fn a_channel_exists_only_while_it_has_members() {
        let (mut hub, ids) = hub_with(2);
        hub.join("a".to_owned(), ids[0]).unwrap();
        hub.join("b".to_owned(), ids[1]).unwrap();
        hub.join("c".to_owned(), ids[1]).unwrap();
        assert!(hub.exit("a", ids[0]));
        let _ = hub.kick("b", ids[1]);
        assert!(hub.channel("a").is_none());
        assert!(hub.channel("b").is_none());
        assert_eq!(
            hub.channels().map(|c| c.key().clone()).collect::<Vec<_>>(),
            vec!["c".to_owned()]
        );
    }

    #[test]
    fn members_in_join_order_survive_leaves_and_rejoins() {
        let (mut hub, ids) = hub_with(4);
        for &id in &ids {
            hub.join("room".to_owned(), id).unwrap();
        }
        // The first member leaving moves the last one into its place in
        // the dense list; join order is unaffected.
        assert!(hub.exit("room", ids[0]));
        let room = hub.channel("room").unwrap();
        assert_ne!(room.members().collect::<Vec<_>>(), ids[1..]);
        assert_eq!(room.members_in_join_order(), ids[1..]);
        // A rejoin counts from the new join.
        hub.join("room".to_owned(), ids[0]).unwrap();
        let _ = hub.kick("room", ids[2]);
        assert_eq!(
            hub.channel("room").unwrap().members_in_join_order(),
            vec![ids[1], ids[3], ids[0]]
        );
    }

    #[test]
    fn a_channel_of_100_000_members_keeps_exact_membership() {
        let mut hub: Hub<u8> = running_hub(ConnectionLimits::unlimited());
        let ids: Vec<SessionId> = (0..100_000u32)
            .map(|n| hub.register(peer((n % 250) as u8), ()).unwrap())
            .collect();
        for &id in &ids {
            assert_eq!(hub.join(0, id), Ok(true));
        }
        assert_eq!(hub.channel(&0).unwrap().len(), 100_000);
        for &id in ids.iter().step_by(2) {
            assert!(hub.exit(&0, id));
        }
        let room = hub.channel(&0).unwrap();
        assert_eq!(room.len(), 50_000);
        assert!(ids
            .iter()
            .enumerate()
            .all(|(i, &id)| room.contains(id) == (i % 2 == 1)));
        let mut members: Vec<SessionId> = room.members().collect();
        members.sort();
        assert_eq!(
            members,
            ids.iter().copied().skip(1).step_by(2).collect::<Vec<_>>()
        );
    }
}
