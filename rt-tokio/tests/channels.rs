//! Channels: join (idempotent), exit, kick (callback called, session stays
//! open), len / members / contains, a closed session leaves every channel,
//! and a channel broadcast reaches each member once and nobody else.

mod common;

use castnet_core::frame::PacketN;
use castnet_core::SessionId;
use castnet_tokio::{dial, Config, Session};
use common::{bounded, close_of, next_open, round_trip, Recorder, Running};
use std::sync::{Arc, Mutex};

fn ids(sessions: Vec<Session<PacketN>>) -> Vec<SessionId> {
    let mut ids: Vec<_> = sessions.iter().map(|s| s.id()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn join_exit_kick_and_membership_queries() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(true);
        let running = Running::<String>::start(Config::default(), recorder).await;
        let server = running.server.clone();
        let ca = dial(running.addr(), Config::default()).await.unwrap();
        let a = server.session(next_open(&mut seen).await).unwrap();
        let _cb = dial(running.addr(), Config::default()).await.unwrap();
        let b = server.session(next_open(&mut seen).await).unwrap();
        let _cc = dial(running.addr(), Config::default()).await.unwrap();
        let c = server.session(next_open(&mut seen).await).unwrap();

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
        round_trip(&ca, "still here").await;
        assert!(room.is_empty());
        running.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_kick_callback_may_use_the_channel_again() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(true);
        let running = Running::<String>::start(Config::default(), recorder).await;
        let server = running.server.clone();
        let _client = dial(running.addr(), Config::default()).await.unwrap();
        let a = server.session(next_open(&mut seen).await).unwrap();
        let room = server.channel("room".to_string());
        let lobby_server = server.clone();
        assert!(room.join(&a, move |s, _| {
            // Called with no server lock held: moving to another channel
            // from the callback does not deadlock.
            assert!(lobby_server.channel("lobby".to_string()).join(s, |_, _| {}));
        }));
        assert!(room.kick(&a));
        assert!(server.channel("lobby".to_string()).contains(&a));
        running.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_closed_session_leaves_every_channel_and_cannot_join_again() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(true);
        let running = Running::<String>::start(Config::default(), recorder).await;
        let server = running.server.clone();
        let (client, id) = running.connect(&mut seen).await;
        let s = server.session(id).unwrap();
        let _other = dial(running.addr(), Config::default()).await.unwrap();
        let t = server.session(next_open(&mut seen).await).unwrap();
        for key in ["a", "b", "c"] {
            assert!(server
                .channel(key.to_string())
                .join(&s, |_, _| panic!("not kicked")));
        }
        assert!(server.channel("a".to_string()).join(&t, |_, _| {}));
        client.close();
        close_of(&mut seen, id).await;
        for key in ["a", "b", "c"] {
            assert!(!server.channel(key.to_string()).contains(&s));
        }
        assert_eq!(server.channel("a".to_string()).len(), 1);
        assert_eq!(server.channel("b".to_string()).len(), 0);
        assert!(!server.channel("b".to_string()).join(&s, |_, _| {}));
        assert_eq!(server.channel("b".to_string()).len(), 0);
        running.stop().await;
    })
    .await;
}

#[tokio::test]
async fn channel_broadcast_reaches_each_member_once_and_nobody_else() {
    bounded(async {
        let (recorder, mut seen) = Recorder::new(false);
        let running = Running::<String>::start(Config::default(), recorder).await;
        let server = running.server.clone();
        let mut clients = Vec::new();
        let mut sessions = Vec::new();
        for _ in 0..4 {
            clients.push(dial(running.addr(), Config::default()).await.unwrap());
            sessions.push(server.session(next_open(&mut seen).await).unwrap());
        }
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
    })
    .await;
}
