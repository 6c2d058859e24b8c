//! `Session` against the reference model of `support/session_model.rs` over
//! random operation sequences: send (encoded by the session, pre-encoded, or
//! untracked, with any deadline; or a burst of untracked sends and replies
//! at one instant, which the session packs into shared runs), reply
//! (untracked, pre-encoded or tracked: never refused for a full queue, so
//! reading pauses instead), write k bytes through a few vectored slices, feed
//! inbound chunks (two read paths), end of stream, advance time by random
//! steps (also backwards), set or clear the heartbeat, close, abort. After
//! every operation the events must be exactly the model's, and after every
//! `handle_timeout(now)` nothing may be due at `now`; at the end every
//! `SendId` has ended exactly once and the wire decodes to exactly the
//! completed frames, in order.

#[path = "support/session_model.rs"]
mod model;

use model::{Cfg, Deadline, Op, ReplyHow, SendHow};
use proptest::prelude::*;

fn deadline() -> impl Strategy<Value = Deadline> {
    prop_oneof![
        4 => Just(Deadline::Default),
        2 => (0u64..4000).prop_map(Deadline::After),
        1 => Just(Deadline::Never),
    ]
}

/// A payload length: mostly small, sometimes around the 1 KiB up to which
/// untracked frames are packed.
fn len() -> impl Strategy<Value = usize> {
    prop_oneof![9 => 0usize..40, 1 => 1000usize..1030]
}

/// One operation, or a burst: untracked sends with one deadline and
/// untracked replies, back to back at one instant, as a handler's replies
/// to one read are (the session packs the small ones into shared runs).
fn ops() -> impl Strategy<Value = Vec<Op>> {
    let burst = (
        prop::collection::vec((len(), any::<bool>(), any::<bool>()), 0..6),
        deadline(),
    )
        .prop_map(|(sends, deadline)| {
            sends
                .into_iter()
                .map(|(len, reply, encoded)| match (reply, encoded) {
                    (false, _) => Op::Send {
                        len,
                        deadline: deadline.clone(),
                        how: SendHow::Untracked,
                    },
                    (true, false) => Op::Reply {
                        len,
                        how: ReplyHow::Untracked,
                    },
                    (true, true) => Op::Reply {
                        len,
                        how: ReplyHow::Encoded,
                    },
                })
                .collect()
        });
    prop_oneof![
        30 => op().prop_map(|op| vec![op]),
        2 => burst,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (len(), deadline(), prop_oneof![Just(SendHow::Codec), Just(SendHow::PreEncoded), Just(SendHow::Untracked)])
            .prop_map(|(len, deadline, how)| Op::Send { len, deadline, how }),
        3 => (len(), prop_oneof![
                Just(ReplyHow::Untracked),
                Just(ReplyHow::Encoded),
                deadline().prop_map(ReplyHow::Tracked),
            ])
            .prop_map(|(len, how)| Op::Reply { len, how }),
        5 => (0usize..120, 1usize..8).prop_map(|(max, slices)| Op::Write { max, slices }),
        4 => (0usize..60, any::<bool>()).prop_map(|(len, into_slice)| Op::Feed { len, into_slice }),
        1 => Just(Op::FeedNothing),
        1 => Just(Op::Eof),
        5 => (0u64..2500).prop_map(Op::Advance),
        1 => (0u64..2000).prop_map(Op::Backwards),
        2 => prop::option::weighted(0.7, 300u64..3000).prop_map(Op::Heartbeat),
        1 => Just(Op::Close),
        1 => Just(Op::Abort),
    ]
}

fn cfg() -> impl Strategy<Value = Cfg> {
    (
        1usize..8,
        1usize..160,
        prop::option::weighted(0.8, 1u64..5000),
        0u64..4000,
        prop::option::weighted(0.4, 1000u64..8000),
        prop_oneof![Just(0u64), 1u64..3000],
        prop::option::weighted(0.3, 1u64..4000),
    )
        .prop_map(
            |(max_frames, max_bytes, send_timeout, linger, peer_timeout, keep_buffers, slow)| Cfg {
                max_frames,
                max_bytes,
                send_timeout,
                linger,
                peer_timeout,
                // Odd: the harness shares its buffers as the engine does.
                share_buffers: keep_buffers % 2 == 1,
                keep_buffers,
                slow_consumer: slow,
            },
        )
}

/// What the peer sends: whole frames, then perhaps a header declaring 4 GiB
/// (always after some frames, whose replies must still drain).
fn peer() -> impl Strategy<Value = (Vec<Vec<u8>>, bool)> {
    let frames = |n: std::ops::Range<usize>| {
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..30), n)
    };
    prop_oneof![
        4 => (frames(0..10), Just(false)),
        1 => (frames(1..10), Just(true)),
    ]
}

proptest! {
    #[test]
    fn session_matches_the_reference_model(
        cfg in cfg(),
        peer in peer(),
        ops in prop::collection::vec(ops(), 1..80),
    ) {
        model::run(cfg, peer, ops.concat());
    }
}
