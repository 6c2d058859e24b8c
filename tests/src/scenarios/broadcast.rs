//! Broadcast: encoded once, delivered once to each recipient, and a report
//! that counts who got it, who was closed, whose queue was full and who timed
//! out; `broadcast_to` resends to the ones that timed out. Detached
//! broadcasts: once each, in order, through the server's and each channel's
//! ring.

use crate::raw;
use crate::support::{
    recorded_with_queue_bound, small_send_buffer, wait_until, Echo, Recorder, Running,
};
use crate::TestRuntime;
use bytes::Bytes;
use castnet_core::hub::DeliveryStatus;
use castnet_core::session::{SendFailure, SessionConfig};
use castnet_engine::Config;
use std::time::Duration;

/// Larger than every socket buffer between the two ends.
const BIG: usize = 256 * 1024;

pub async fn broadcast_to_everyone_arrives_once_at_each_session<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let server = running.server.clone();
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(running.connect(&seen).await.0);
    }
    let report = server.broadcast("everyone").unwrap().await;
    assert_eq!(report.len(), 5);
    assert_eq!(report.counts().sent, 5);
    assert_eq!(report.counts().total(), 5);
    for s in server.sessions() {
        s.try_send("marker").unwrap();
    }
    for client in &clients {
        assert_eq!(&client.recv().await.unwrap()[..], b"everyone");
        assert_eq!(&client.recv().await.unwrap()[..], b"marker");
    }
    running.stop().await;
}

pub async fn report_counts_sent_closed_and_queue_full_per_recipient<T: TestRuntime>() {
    let (running, seen) = recorded_with_queue_bound::<T>(1).await;
    let server = running.server.clone();

    let (r0, id0) = running.connect(&seen).await;
    let (r1, id1) = running.connect(&seen).await;
    let (readers, reader_ids) = ([r0, r1], [id0, id1]);
    let stalled_peer = raw::stalled(running.addr());
    let stalled = seen.open().await;
    let (gone, gone_id) = running.connect(&seen).await;
    gone.close();
    seen.close_of(gone_id).await;

    // The first big frame sticks in the stalled session's queue of one; the
    // readers take theirs, which frees their queues.
    let first = server.broadcast(Bytes::from(vec![1u8; BIG])).unwrap();
    for r in &readers {
        assert_eq!(r.recv().await.unwrap().len(), BIG);
    }
    // A reader's room comes back before its outcome is recorded: once the
    // report says both got it, both queues are empty.
    let first_sent = || {
        let report = first.report();
        reader_ids.iter().all(|id| {
            report
                .statuses()
                .any(|(s, status)| s == *id && status == DeliveryStatus::Sent)
        })
    };
    wait_until::<T>("the readers' deliveries are recorded", first_sent).await;
    let second = server
        .broadcast_to(
            &[reader_ids[0], reader_ids[1], stalled, gone_id],
            Bytes::from_static(b"second"),
        )
        .unwrap()
        .await;
    let counts = second.counts();
    assert_eq!(counts.sent, 2);
    assert_eq!(counts.queue_full, 1);
    assert_eq!(counts.closed, 1);
    assert_eq!(counts.pending, 0);
    assert_eq!(counts.total(), 4);
    let status = |id| second.statuses().find(|(s, _)| *s == id).unwrap().1;
    assert_eq!(
        status(stalled),
        DeliveryStatus::Failed(SendFailure::QueueFull)
    );
    assert_eq!(status(gone_id), DeliveryStatus::Failed(SendFailure::Closed));
    for id in reader_ids {
        assert_eq!(status(id), DeliveryStatus::Sent);
    }
    for r in &readers {
        assert_eq!(&r.recv().await.unwrap()[..], b"second");
    }
    // The first is still pending at the stalled session until it ends.
    assert_eq!(first.report().counts().pending, 1);
    server.session(stalled).unwrap().abort();
    let first = first.wait().await;
    assert_eq!(first.counts().sent, 2);
    assert_eq!(first.counts().closed, 1);
    running.stop().await;
    drop(stalled_peer);
}

pub async fn timed_out_recipients_are_resent_to_with_broadcast_to<T: TestRuntime>() {
    let session = SessionConfig::builder()
        .send_timeout(Some(Duration::from_millis(100)))
        .build()
        .unwrap();
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(small_send_buffer(session), recorder).await;
    let server = running.server.clone();
    let (reader, _) = running.connect(&seen).await;
    let mut stalled = raw::stalled(running.addr());
    let stalled_id = seen.open().await;

    // A big frame partly written (never cut), then one queued behind it that
    // times out at the stalled session only.
    let first = server.broadcast(Bytes::from(vec![1u8; BIG])).unwrap();
    let report = server.broadcast("news").unwrap().await;
    assert_eq!(report.counts().sent, 1);
    assert_eq!(report.counts().timed_out, 1);
    assert_eq!(report.timed_out(), [stalled_id]);
    assert_eq!(reader.recv().await.unwrap().len(), BIG);
    assert_eq!(&reader.recv().await.unwrap()[..], b"news");

    // The stalled client catches up; resend what it missed.
    let catch_up = raw::thread(move || {
        let big = raw::read_packet(&mut stalled).unwrap();
        (big.len(), stalled)
    });
    let (len, mut stalled) = catch_up.join().await;
    assert_eq!(len, BIG);
    assert_eq!(first.await.counts().sent, 2);
    let resent = server
        .broadcast_to(&report.timed_out(), "news")
        .unwrap()
        .await;
    assert_eq!(resent.len(), 1);
    assert_eq!(resent.counts().sent, 1);
    let news = raw::thread(move || raw::read_packet(&mut stalled).unwrap())
        .join()
        .await;
    assert_eq!(news, b"news");
    running.stop().await;
}

pub async fn detached_broadcast_arrives_once_at_each_session_and_keeps_no_report<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let server = running.server.clone();
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(running.connect(&seen).await.0);
    }
    assert_eq!(server.broadcast_detached("first").unwrap(), 4);
    assert_eq!(server.broadcast_detached("second").unwrap(), 4);
    for client in &clients {
        assert_eq!(&client.recv().await.unwrap()[..], b"first");
        assert_eq!(&client.recv().await.unwrap()[..], b"second");
    }
    running.stop().await;
}

pub async fn detached_channel_broadcast_reaches_members_only<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let server = running.server.clone();
    let (member, member_id) = running.connect(&seen).await;
    let (outsider, _) = running.connect(&seen).await;
    let room = server.channel("room".to_string());
    assert!(room.join(&server.session(member_id).unwrap(), |_, _| {}));
    assert_eq!(room.broadcast_detached("to the room").unwrap(), 1);
    for s in server.sessions() {
        s.try_send("marker").unwrap();
    }
    // A detached broadcast and a send through the handle travel apart, so
    // the member gets both in either order.
    let mut got = vec![member.recv().await.unwrap(), member.recv().await.unwrap()];
    got.sort();
    assert_eq!(got, [&b"marker"[..], &b"to the room"[..]]);
    // The outsider's first frame is the marker: the room's frame never came.
    assert_eq!(&outsider.recv().await.unwrap()[..], b"marker");
    running.stop().await;
}

pub async fn a_session_that_falls_behind_the_broadcast_ring_misses_the_oldest_and_the_others_get_every_frame<
    T: TestRuntime,
>() {
    let session = SessionConfig::builder()
        .max_queue_frames(2)
        .build()
        .unwrap();
    // A ring of 4 frames: the stalled session, stuck behind one big frame,
    // falls behind it for good.
    let config = small_send_buffer(session).broadcast_ring(4, 1 << 20);
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(config, recorder).await;
    let server = running.server.clone();
    let (reader, _) = running.connect(&seen).await;
    let mut stalled = raw::stalled(running.addr());
    seen.open().await;

    assert_eq!(
        server
            .broadcast_detached(Bytes::from(vec![0u8; BIG]))
            .unwrap(),
        2
    );
    assert_eq!(reader.recv().await.unwrap().len(), BIG);
    // One at a time, each taken by the reader before the next: the reader
    // never falls behind, whatever the stalled session does.
    for i in 1..=50u32 {
        server.broadcast_detached(i.to_be_bytes().to_vec()).unwrap();
        assert_eq!(reader.recv().await.unwrap()[..], i.to_be_bytes());
    }
    // Now the stalled client reads: the big frame, then what its session
    // still had queued or kept in the ring, the newest last.
    let (got, stalled) = raw::thread(move || {
        assert_eq!(raw::read_packet(&mut stalled).unwrap().len(), BIG);
        let mut got = Vec::new();
        while got.last() != Some(&50) {
            let frame = raw::read_packet(&mut stalled).unwrap();
            got.push(u32::from_be_bytes(frame[..].try_into().unwrap()));
        }
        (got, stalled)
    })
    .join()
    .await;
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order: {got:?}");
    // At most one frame beside the big one in its queue of two, and the
    // ring's eight at its hard bound (twice its four: within its grace the
    // stalled session is still waited for, and a plain `broadcast_detached`,
    // which never pauses, drops the oldest beyond that). Everything else was
    // skipped, and counted.
    assert!(got.len() <= 9, "{got:?}");
    let missed = server.stats().broadcast_missed;
    assert_eq!(missed + got.len() as u64, 50, "{got:?}");
    assert_eq!(server.session_count(), 2, "falling behind is not a close");
    running.stop().await;
    drop(stalled);
}

pub async fn detached_broadcasts_from_one_caller_arrive_in_order_at_every_session<
    T: TestRuntime,
>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let server = running.server.clone();
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(running.connect(&seen).await.0);
    }
    // Fewer than the ring keeps.
    for i in 0..1000u32 {
        server.broadcast_detached(i.to_be_bytes().to_vec()).unwrap();
    }
    for client in &clients {
        for i in 0..1000u32 {
            assert_eq!(client.recv().await.unwrap()[..], i.to_be_bytes());
        }
    }
    assert_eq!(server.stats().broadcast_missed, 0);
    running.stop().await;
}

pub async fn a_channel_member_gets_detached_broadcasts_from_join_until_exit_in_order<
    T: TestRuntime,
>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let server = running.server.clone();
    let (client, id) = running.connect(&seen).await;
    let session = server.session(id).unwrap();
    let room = server.channel("room".to_string());
    assert_eq!(room.broadcast_detached("before join").unwrap(), 0);
    assert!(room.join(&session, |_, _| {}));
    // Published right after join and right before exit: all arrive, in
    // order, whether or not the session's task ran in between.
    for i in 0..100u32 {
        room.broadcast_detached(i.to_be_bytes().to_vec()).unwrap();
    }
    assert!(room.exit(&session));
    assert_eq!(room.broadcast_detached("after exit").unwrap(), 0);
    session.try_send("end").unwrap();
    let mut got = Vec::new();
    loop {
        let frame = client.recv().await.unwrap();
        if &frame[..] == b"end" {
            break;
        }
        got.push(frame);
    }
    // "end" went through the inbox, apart from the lane: wait for the lane's
    // frames if "end" overtook them.
    while got.len() < 100 {
        got.push(client.recv().await.unwrap());
    }
    let expected: Vec<Vec<u8>> = (0..100u32).map(|i| i.to_be_bytes().to_vec()).collect();
    assert_eq!(got, expected);
    // Nothing else arrives: a last marker comes next.
    session.try_send("last").unwrap();
    assert_eq!(&client.recv().await.unwrap()[..], b"last");
    running.stop().await;
}

pub async fn a_kicked_member_stops_getting_the_channel_s_detached_broadcasts<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let server = running.server.clone();
    let (stays, stays_id) = running.connect(&seen).await;
    let (kicked, kicked_id) = running.connect(&seen).await;
    let room = server.channel("room".to_string());
    assert!(room.join(&server.session(stays_id).unwrap(), |_, _| {}));
    assert!(room.join(&server.session(kicked_id).unwrap(), |_, _| {}));
    assert_eq!(room.broadcast_detached("both").unwrap(), 2);
    assert!(room.kick(&server.session(kicked_id).unwrap()));
    room.broadcast_detached("one").unwrap();
    assert_eq!(&stays.recv().await.unwrap()[..], b"both");
    assert_eq!(&stays.recv().await.unwrap()[..], b"one");
    assert_eq!(&kicked.recv().await.unwrap()[..], b"both");
    server
        .session(kicked_id)
        .unwrap()
        .try_send("marker")
        .unwrap();
    assert_eq!(&kicked.recv().await.unwrap()[..], b"marker");
    running.stop().await;
}

pub async fn rejoining_a_channel_gets_exactly_what_was_broadcast_while_a_member<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let server = running.server.clone();
    let (keeper, keeper_id) = running.connect(&seen).await;
    let (hopper, hopper_id) = running.connect(&seen).await;
    let room = server.channel("room".to_string());
    let hop = server.session(hopper_id).unwrap();
    // The keeper keeps the channel (and its ring) alive throughout.
    assert!(room.join(&server.session(keeper_id).unwrap(), |_, _| {}));
    room.broadcast_detached("1").unwrap();
    assert!(room.join(&hop, |_, _| {}));
    room.broadcast_detached("2").unwrap();
    assert!(room.exit(&hop));
    room.broadcast_detached("3").unwrap();
    assert!(room.join(&hop, |_, _| {}));
    room.broadcast_detached("4").unwrap();
    assert!(room.exit(&hop));
    room.broadcast_detached("5").unwrap();
    for expected in ["1", "2", "3", "4", "5"] {
        assert_eq!(&keeper.recv().await.unwrap()[..], expected.as_bytes());
    }
    assert_eq!(&hopper.recv().await.unwrap()[..], b"2");
    assert_eq!(&hopper.recv().await.unwrap()[..], b"4");
    // Lanes are pulled every turn, so anything still due would come before
    // the marker.
    hop.try_send("marker").unwrap();
    assert_eq!(&hopper.recv().await.unwrap()[..], b"marker");
    hop.try_send("marker 2").unwrap();
    assert_eq!(&hopper.recv().await.unwrap()[..], b"marker 2");
    running.stop().await;
}
