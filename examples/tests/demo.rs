//! The README's first command runs `demo`: it must finish on its own, exit 0,
//! and show each call the README says it shows, with its outcome.

mod common;

#[tokio::test]
async fn demo_runs_every_scene_and_exits_zero() {
    let output = common::run_tour(env!("CARGO_BIN_EXE_demo")).await;
    common::assert_mentions(
        &output,
        &[
            "async_send -> Ok(())",
            // channel(key): join with a kick callback, members, kick, exit,
            // broadcast with its report
            "channel(\"lobby\"): joined, 3 members; members() -> [session#",
            "was kicked from \"lobby\"",
            "the kicked session is still open: true",
            ") -> true: 1 member left, no kick callback",
            "lobby broadcast, encoded once: sent 1, closed 0, timed out 0, queue full 0",
            // sessions by id
            "-> open, peer ",
            "alice got \"a word for alice only\"",
            // fan-out: detached, and detached from a handler
            "broadcast_detached: 3 sessions following the ring; alice, bob and carol got [\"tick for everyone\", \"tick for everyone\", \"tick for everyone\"]",
            "broadcast_detached_from(session#",
            ") relayed to 3 sessions",
            "alice, bob and carol got [\"relay:carol says hi\", \"relay:carol says hi\", \"relay:carol says hi\"]",
            // close_many, then the server no longer has them
            "]) -> 2; server.session of each is now None",
            // broadcast with a report, and a client that never reads
            "the last one's report: sent ",
            "the heartbeating client is open: true",
            "nothing received from the peer within the peer timeout",
            "stopped (state Closed); the send in flight ended Ok(())",
            "stats(): ",
            "done.",
        ],
    );
}
