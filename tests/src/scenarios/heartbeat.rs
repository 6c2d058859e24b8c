//! Heartbeat and liveness, on real time with short intervals and generous
//! bounds: a heartbeat keeps an idle link alive past the peer timeout,
//! `peer_timeout` closes a silent one, and a server's heartbeat reaches its
//! client and is counted.

use crate::raw;
use crate::support::{wait_until, Echo, Recorder, Running, Seen};
use crate::TestRuntime;
use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::{CloseReason, SessionConfig};
use castnet_engine::{Config, Conn, Handler};
use std::time::{Duration, Instant};

const BEAT: Duration = Duration::from_millis(100);

pub(crate) fn peer_timeout(timeout: Duration) -> Config {
    Config::default().session(
        SessionConfig::builder()
            .peer_timeout(Some(timeout))
            .build()
            .unwrap(),
    )
}

pub async fn heartbeat_keeps_an_idle_link_alive_and_peer_timeout_closes_it_once_stopped<
    T: TestRuntime,
>() {
    let timeout = Duration::from_millis(600);
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(peer_timeout(timeout), recorder).await;
    let (client, id) = running.connect(&seen).await;
    client.set_heartbeat(Some((BEAT, "hb"))).unwrap();

    // Twelve beats, about two peer timeouts of otherwise idle time: each
    // arrives as a frame and keeps the session open.
    let started = Instant::now();
    let mut beats = 0;
    while beats < 12 {
        match seen.next().await {
            Seen::Frame(who, frame) if who == id => {
                assert_eq!(&frame[..], b"hb");
                beats += 1;
            }
            Seen::Close(_, reason) => panic!("closed while beating: {reason:?}"),
            _ => {}
        }
    }
    assert!(
        started.elapsed() > timeout,
        "the beats outlasted a peer timeout"
    );
    assert!(running.server.session(id).is_some());

    // Silence: the server gives up after its peer timeout, not before the
    // last beat's timeout could have run out.
    client.set_heartbeat(None::<(Duration, &str)>).unwrap();
    let stopped_at = Instant::now();
    assert!(matches!(seen.close_of(id).await, CloseReason::PeerTimeout));
    let waited = stopped_at.elapsed();
    assert!(
        waited >= timeout / 2 && waited <= timeout + Duration::from_secs(3),
        "closed {waited:?} after the heartbeat stopped"
    );
    assert_eq!(client.recv().await, None);
    running.stop().await;
}

pub async fn peer_timeout_closes_a_silent_link_and_spares_a_beating_one<T: TestRuntime>() {
    let timeout = Duration::from_millis(400);
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let mut config = peer_timeout(timeout);
    // A timeout is no orderly close: the socket closes at once, with no
    // drain of the peer's input (which this long one would show).
    config.socket.close_drain = Duration::from_secs(60);
    let running = Running::<T>::start(config, recorder).await;
    let (beating, beating_id) = running.connect(&seen).await;
    beating.set_heartbeat(Some((BEAT, "hb"))).unwrap();
    let silent = raw::connect(running.addr());
    let silent_id = seen.open().await;
    let opened = Instant::now();
    // Count the beater's beats while waiting for the silent one's close.
    let mut beats = 0;
    loop {
        match seen.next().await {
            Seen::Frame(who, _) if who == beating_id => beats += 1,
            Seen::Close(who, reason) if who == silent_id => {
                assert!(matches!(reason, CloseReason::PeerTimeout), "{reason:?}");
                break;
            }
            Seen::Close(_, reason) => panic!("the beating link closed: {reason:?}"),
            _ => {}
        }
    }
    assert!(opened.elapsed() >= timeout / 2);
    let mut silent_end = silent.try_clone().unwrap();
    silent_end
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let ended = raw::thread(move || {
        let mut byte = [0u8; 1];
        let start = Instant::now();
        let read = std::io::Read::read(&mut silent_end, &mut byte);
        (read.map_err(|e| e.kind()), start.elapsed())
    });
    // Another two peer timeouts of beats: the beating link stays.
    let target = beats + 8;
    while beats < target {
        match seen.next().await {
            Seen::Frame(who, _) if who == beating_id => beats += 1,
            Seen::Close(_, reason) => panic!("the beating link closed: {reason:?}"),
            _ => {}
        }
    }
    assert!(running.server.session(beating_id).is_some());
    assert_eq!(running.server.stats().connections_open, 1);
    // The silent peer saw its connection end (EOF or reset) long before a
    // read timeout or the drain would have ended it.
    let (read, after) = ended.join().await;
    assert!(
        matches!(read, Ok(0) | Err(std::io::ErrorKind::ConnectionReset)),
        "{read:?}"
    );
    assert!(after < Duration::from_secs(10), "ended after {after:?}");
    running.stop().await;
    drop(silent);
}

/// Starts a heartbeat on every session it serves, from `on_open`.
struct BeatOnOpen;

impl Handler<PacketN> for BeatOnOpen {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        cx.set_heartbeat(Some((BEAT, "server hb"))).unwrap();
    }
    fn on_frame(&self, _: &mut Conn<'_, PacketN>, _: Bytes) {}
}

pub async fn server_heartbeat_reaches_the_client_and_is_counted<T: TestRuntime>() {
    let running = Running::<T>::start(Config::default(), BeatOnOpen).await;
    let client = running.dial().await;
    for _ in 0..5 {
        assert_eq!(&client.recv().await.unwrap()[..], b"server hb");
    }
    // Counters are published after each turn's write: the last beat may
    // arrive first.
    let server = running.server.clone();
    wait_until::<T>("the beats are counted", || {
        server.stats().heartbeats_sent >= 5
    })
    .await;
    let stats = server.stats();
    // Heartbeats are frames on the wire, not sends: no outcome is counted.
    assert_eq!(stats.sent, 0);
    assert!(stats.frames_out >= 5);
    running.stop().await;
}

/// A heartbeat set through the session handle, from outside any callback.
pub async fn server_heartbeat_set_through_the_handle_reaches_the_client<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let (client, id) = running.connect(&seen).await;
    let session = running.server.session(id).unwrap();
    session.set_heartbeat(Some((BEAT, "hb"))).unwrap();
    for _ in 0..3 {
        assert_eq!(&client.recv().await.unwrap()[..], b"hb");
    }
    session.set_heartbeat(None::<(Duration, &str)>).unwrap();
    // A marker through the handle after the stop: whatever beat was already
    // due comes before it, then nothing more.
    session.try_send("marker").unwrap();
    while &client.recv().await.unwrap()[..] != b"marker" {}
    let beats = running.server.stats().heartbeats_sent;
    assert!(beats >= 3);
    running.stop().await;
}
