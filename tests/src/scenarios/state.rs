//! Per-session state (`Handler<C, S>`, `Conn::state`): set in `on_open`,
//! read and changed in every `on_frame`, handed to `on_close` by value, one
//! per session, with no lock in the handler.

use crate::rt::spawn;
use crate::support::{within, Running};
use crate::TestRuntime;
use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::CloseReason;
use castnet_core::SessionId;
use castnet_engine::{Config, Conn, Handler, Session};

/// One session's tally.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
struct Tally {
    /// Set in `on_open`: whose state this is.
    owner: Option<SessionId>,
    frames: u32,
    bytes: usize,
}

/// Counts each session's frames in its state, and answers every frame with
/// the session's count so far; reports each state at close.
struct Counting {
    closed: async_channel::Sender<(SessionId, Tally)>,
}

impl Handler<PacketN, Tally> for Counting {
    fn on_open(&self, cx: &mut Conn<'_, PacketN, Tally>) {
        assert_eq!(*cx.state(), Tally::default(), "a fresh state per session");
        let owner = Some(cx.id());
        cx.set_state(Tally {
            owner,
            ..Tally::default()
        });
    }

    fn on_frame(&self, cx: &mut Conn<'_, PacketN, Tally>, frame: Bytes) {
        let id = cx.id();
        let tally = cx.state();
        assert_eq!(
            tally.owner,
            Some(id),
            "the state set in this session's on_open"
        );
        tally.frames += 1;
        tally.bytes += frame.len();
        let count = tally.frames;
        let _ = cx.send(count.to_be_bytes().to_vec());
    }

    fn on_close(&self, session: &Session<PacketN>, state: Tally, _: &CloseReason) {
        let _ = self.closed.try_send((session.id(), state));
    }
}

pub async fn state_set_in_on_open_is_each_session_s_own_in_every_frame_and_at_close<
    T: TestRuntime,
>() {
    const FRAMES: u32 = 300;
    let (closed, at_close) = async_channel::unbounded();
    // No annotation: `serve` infers the state type from the handler's impl.
    let running = Running::<T>::start(Config::default(), Counting { closed }).await;
    let a = running.dial().await;
    let b = running.dial().await;
    // Both sessions at once, with frames of different lengths: each gets
    // its own count, 1 to FRAMES, in order.
    let talk = |client: Session<PacketN>, len: usize| {
        spawn::<T, _>(async move {
            for i in 1..=FRAMES {
                client.send(vec![7u8; len]).await.unwrap();
                let reply = client.recv().await.expect("a count");
                assert_eq!(reply[..], i.to_be_bytes(), "this session's own count");
            }
            client
        })
    };
    let (a, b) = (talk(a, 3), talk(b, 5));
    let (a, b) = within::<T, _>("both sessions' frames", async {
        (a.join().await, b.join().await)
    })
    .await;
    a.close();
    b.close();
    let mut states = Vec::new();
    for _ in 0..2 {
        states.push(within::<T, _>("on_close", at_close.recv()).await.unwrap());
    }
    states.sort_by_key(|(_, tally)| tally.bytes);
    for ((id, tally), len) in states.iter().zip([3, 5]) {
        assert_eq!(
            tally.owner,
            Some(*id),
            "on_close gets the session's own state"
        );
        assert_eq!(tally.frames, FRAMES);
        assert_eq!(tally.bytes, FRAMES as usize * len);
    }
    assert_ne!(states[0].0, states[1].0);
    running.stop().await;
}

pub async fn a_closure_handler_keeps_state_too<T: TestRuntime>() {
    let handler = castnet_engine::handler_fn(|cx: &mut Conn<'_, PacketN, Vec<u8>>, f: Bytes| {
        cx.state().extend_from_slice(&f);
        let so_far = cx.state().clone();
        let _ = cx.send(so_far);
    });
    let running = Running::<T>::start(Config::default(), handler).await;
    let client = running.dial().await;
    for (word, expect) in [("ab", "ab"), ("cd", "abcd"), ("e", "abcde")] {
        client.send(word).await.unwrap();
        assert_eq!(&client.recv().await.unwrap()[..], expect.as_bytes());
    }
    // A second session starts from the default again.
    let other = running.dial().await;
    other.send("x").await.unwrap();
    assert_eq!(&other.recv().await.unwrap()[..], b"x");
    running.stop().await;
}
