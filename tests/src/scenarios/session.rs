//! The client-side session handle: receiving (`recv`, `process`,
//! `process_once`), what happens to frames and the connection when the peer
//! or the handles go away, and handles used from many tasks.

use crate::raw;
use crate::rt::spawn;
use crate::support::{dial, echo, wait_until, Echo, Recorder, Running, Seen};
use crate::TestRuntime;
use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::CloseReason;
use castnet_engine::{Config, Conn, Handler, Runtime};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub async fn process_once_handles_one_frame_and_process_runs_until_the_session_closes<
    T: TestRuntime,
>() {
    let running = Running::<T>::start(Config::default(), echo()).await;
    let client = running.dial().await;
    for i in 0..10u8 {
        client.send(vec![i]).await.unwrap();
    }
    let mut first = None;
    assert!(
        client
            .process_once(|s, frame| {
                assert_eq!(s.id(), client.id());
                first = Some(frame);
            })
            .await
    );
    assert_eq!(first.as_deref(), Some(&[0u8][..]));

    let handled = Arc::new(AtomicUsize::new(0));
    let rest = {
        let (client, handled) = (client.clone(), handled.clone());
        spawn::<T, _>(async move {
            let mut got = Vec::new();
            let n = client
                .process(|_, frame| {
                    got.push(frame[0]);
                    handled.fetch_add(1, Ordering::Relaxed);
                })
                .await;
            (n, got)
        })
    };
    // Once `process` has handled the nine other echoes, close: it returns.
    wait_until::<T>("the echoes are handled", || {
        handled.load(Ordering::Relaxed) == 9
    })
    .await;
    client.close();
    let (n, got) = rest.join().await;
    assert_eq!(n, 9);
    assert_eq!(got, (1..10).collect::<Vec<u8>>());
    assert!(
        !client
            .process_once(|_, _| panic!("no frame after close"))
            .await
    );
    running.stop().await;
}

/// Reports whether `recv` on a handler-served session returns at once, from
/// a task spawned on the runtime under test.
struct RecvOnServed<T> {
    tx: async_channel::Sender<Option<Bytes>>,
    rt: PhantomData<fn() -> T>,
}

impl<T: TestRuntime> Handler<PacketN> for RecvOnServed<T> {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        let (session, tx) = (cx.session().clone(), self.tx.clone());
        T::Rt::default().spawn(async move {
            let _ = tx.send(session.recv().await).await;
        });
    }
    fn on_frame(&self, _: &mut Conn<'_, PacketN>, _: Bytes) {}
}

pub async fn recv_on_a_handler_served_session_returns_none_at_once<T: TestRuntime>() {
    let (tx, rx) = async_channel::unbounded();
    let handler = RecvOnServed::<T> {
        tx,
        rt: PhantomData,
    };
    let running = Running::<T>::start(Config::default(), handler).await;
    let client = running.dial().await;
    client.send("for the handler").await.unwrap();
    assert_eq!(rx.recv().await.ok(), Some(None));
    running.stop().await;
}

pub async fn frames_read_before_the_peer_closed_all_reach_recv<T: TestRuntime>() {
    let (listener, addr) = raw::stalled_listener();
    let client = dial::<T>(addr, Config::default().recv_buffer(4)).await;
    let mut peer = raw::accept(&listener);
    // The whole burst and the end of stream, far past the client's receive
    // buffer of 4 frames, written at once: the client stops reading at 4
    // waiting frames and resumes as they are taken, and the end of stream
    // comes after every frame.
    let burst: Vec<u8> = (0..500u32)
        .flat_map(|i| raw::packet(&i.to_be_bytes()))
        .collect();
    raw::write(&mut peer, &burst);
    raw::shutdown_write(&peer);
    for i in 0..500u32 {
        let frame = client.recv().await.expect("a frame was lost at close");
        assert_eq!(frame[..], i.to_be_bytes());
    }
    assert_eq!(client.recv().await, None);
    client.closed().await;
    drop(peer);
}

pub async fn dropping_every_client_handle_closes_the_connection_after_its_sends<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let (client, id) = running.connect(&seen).await;
    let other = client.clone();
    client.try_send("one").unwrap();
    other.try_send("two").unwrap();
    drop(client);
    drop(other);
    let mut frames = Vec::new();
    let reason = loop {
        match seen.next().await {
            Seen::Frame(_, f) => frames.push(f),
            Seen::Close(who, reason) if who == id => break reason,
            _ => {}
        }
    };
    assert_eq!(frames, [Bytes::from("one"), Bytes::from("two")]);
    assert!(matches!(reason, CloseReason::PeerEof), "{reason:?}");
    running.stop().await;
}

pub async fn handles_send_from_many_tasks_and_every_frame_arrives_once<T: TestRuntime>() {
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(Config::default(), recorder).await;
    let (client, id) = running.connect(&seen).await;
    let mut tasks = Vec::new();
    for t in 0..8u8 {
        let client = client.clone();
        tasks.push(spawn::<T, _>(async move {
            for i in 0..250u8 {
                client.send(vec![t, i]).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.join().await;
    }
    client.close();
    let mut next = [0u8; 8];
    let mut total = 0;
    loop {
        match seen.next().await {
            Seen::Frame(_, f) => {
                // Each task's frames arrive in its own order.
                assert_eq!(f[1], next[f[0] as usize]);
                next[f[0] as usize] += 1;
                total += 1;
            }
            Seen::Close(who, _) if who == id => break,
            _ => {}
        }
    }
    assert_eq!(total, 2000);
    running.stop().await;
}
