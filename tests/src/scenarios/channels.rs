//! Channels: join (idempotent), exit, kick (callback called, session stays
//! open), len / members / contains, a closed session leaves every channel,
//! and a channel broadcast reaches each member once and nobody else.

use crate::support::{round_trip, Echo, Recorder, Running};
use crate::TestRuntime;
use castnet_core::frame::PacketN;
use castnet_core::SessionId;
use castnet_engine::{Config, Session};
use std::sync::{Arc, Mutex};

fn ids(sessions: Vec<Session<PacketN>>) -> Vec<SessionId> {
    let mut ids: Vec<_> = sessions.iter().map(|s| s.id()).collect();
    ids.sort();
    ids
}

pub async fn join_exit_kick_and_membership_queries<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let server = running.server.clone();
    let (ca, a) = running.connect(&seen).await;
    let a = server.session(a).unwrap();
    let (_cb, b) = running.connect(&seen).await;
    let b = server.session(b).unwrap();
    let (_cc, c) = running.connect(&seen).await;
    let c = server.session(c).unwrap();

    let room = server.channel("room".to_string());
    assert_eq!(room.key(), "room");
    assert!(room.is_empty());
    let kicked: Arc<Mutex<Vec<(SessionId, String)>>> = Arc::default();
    let k = kicked.clone();
    assert!(room.join(&a, move |s, key| k
        .lock()
        .unwrap()
        .push((s.id(), key.clone()))));
    // Joining again changes nothing and keeps the first callback.
    assert!(!room.join(&a, |_, _| panic!("the second callback must not be kept")));
    assert!(room.join(&b, |_, _| {}));
    assert_eq!(room.len(), 2);
    assert!(room.contains(&a) && room.contains(&b) && !room.contains(&c));
    let mut want = vec![a.id(), b.id()];
    want.sort();
    assert_eq!(ids(room.members()), want);

    assert!(room.exit(&b));
    assert!(!room.exit(&b), "exit of a non-member reports false");
    assert_eq!(room.len(), 1);

    assert!(room.kick(&a));
    assert_eq!(*kicked.lock().unwrap(), [(a.id(), "room".to_string())]);
    assert!(!room.contains(&a));
    assert!(!room.kick(&a), "kick of a non-member reports false");
    assert_eq!(kicked.lock().unwrap().len(), 1);
    // Kicked from the channel, not from the server.
    assert!(!a.is_closed());
    round_trip::<T>(&ca, "still here").await;
    assert!(room.is_empty());
    running.stop().await;
}

pub async fn a_kick_callback_may_use_the_channel_again<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let server = running.server.clone();
    let (_client, a) = running.connect(&seen).await;
    let a = server.session(a).unwrap();
    let room = server.channel("room".to_string());
    let lobby_server = server.clone();
    assert!(room.join(&a, move |s, _| {
        // Called with no server lock held: moving to another channel from
        // the callback does not deadlock.
        assert!(lobby_server.channel("lobby".to_string()).join(s, |_, _| {}));
    }));
    assert!(room.kick(&a));
    assert!(server.channel("lobby".to_string()).contains(&a));
    running.stop().await;
}

pub async fn a_closed_session_leaves_every_channel_and_cannot_join_again<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let server = running.server.clone();
    let (client, id) = running.connect(&seen).await;
    let s = server.session(id).unwrap();
    let (_other, t) = running.connect(&seen).await;
    let t = server.session(t).unwrap();
    for key in ["a", "b", "c"] {
        assert!(server
            .channel(key.to_string())
            .join(&s, |_, _| panic!("not kicked")));
    }
    assert!(server.channel("a".to_string()).join(&t, |_, _| {}));
    client.close();
    seen.close_of(id).await;
    for key in ["a", "b", "c"] {
        assert!(!server.channel(key.to_string()).contains(&s));
    }
    assert_eq!(server.channel("a".to_string()).len(), 1);
    assert_eq!(server.channel("b".to_string()).len(), 0);
    assert!(!server.channel("b".to_string()).join(&s, |_, _| {}));
    assert_eq!(server.channel("b".to_string()).len(), 0);
    running.stop().await;
}

pub async fn channel_broadcast_reaches_each_member_once_and_nobody_else<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let server = running.server.clone();
    let (clients, sessions) = running.connect_many(&seen, 4).await;
    let room = server.channel("room".to_string());
    for s in &sessions[..3] {
        assert!(room.join(s, |_, _| {}));
    }
    let report = room.broadcast("to the room").unwrap().await;
    assert_eq!(report.len(), 3);
    assert_eq!(report.counts().sent, 3);
    assert!(report.is_complete());
    // A marker after the broadcast: each client's next frames show the
    // broadcast arrived once, or not at all for the non-member.
    for s in &sessions {
        s.try_send("marker").unwrap();
    }
    for client in &clients[..3] {
        assert_eq!(&client.recv().await.unwrap()[..], b"to the room");
        assert_eq!(&client.recv().await.unwrap()[..], b"marker");
    }
    assert_eq!(&clients[3].recv().await.unwrap()[..], b"marker");
    running.stop().await;
}
