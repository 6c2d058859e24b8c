//! The README's first command runs `demo`: it must finish on its own, exit 0,
//! and show each scene's outcome.

use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

#[tokio::test]
async fn demo_runs_every_scene_and_exits_zero() {
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(env!("CARGO_BIN_EXE_demo"))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("demo finished in time")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "async_send -> Ok(())",
        "was kicked from \"lobby\"",
        "the kicked session is still open: true",
        "lobby broadcast, encoded once: sent 2",
        "the heartbeating client is open: true",
        "nothing received from the peer within the peer timeout",
        "stopped (state Closed); the send in flight ended Ok(())",
        "done.",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}
