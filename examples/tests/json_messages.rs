//! The `json_messages` example: typed requests and responses, a malformed
//! request answered with a typed error, a typed broadcast; on 127.0.0.1.

mod common;

use castnet_examples::json_messages::{start, Client, Incoming, Notice, Request, Response};

#[tokio::test]
async fn requests_are_answered_with_typed_responses_and_bad_ones_with_errors() {
    let server = start("127.0.0.1:0").await.unwrap();
    let client = Client::connect(server.local_addr().unwrap()).await.unwrap();
    let cases = [
        (Request::Add { a: 2, b: 40 }, Response::Sum(42)),
        (Request::Add { a: -7, b: 3 }, Response::Sum(-4)),
        (
            Request::Echo("héllo".into()),
            Response::Echo("héllo".into()),
        ),
        (
            Request::Add { a: i64::MAX, b: 1 },
            Response::Error(format!("{} + 1 overflows", i64::MAX)),
        ),
    ];
    for (request, want) in cases {
        assert_eq!(client.request(&request).await.unwrap(), want, "{request:?}");
    }

    let malformed: [(&[u8], &str); 3] = [
        (br#"{"Add":{"a":1}}"#, "missing field `b`"),
        (br#"{"Echo":5}"#, "invalid type: integer `5`"),
        (b"not json", "expected value"),
    ];
    for (payload, why) in malformed {
        match client.send_raw(payload).await.unwrap() {
            Response::Error(e) => {
                assert!(e.starts_with("malformed JSON message: "), "{e}");
                assert!(e.contains(why), "{e}");
            }
            other => panic!("{payload:?} answered {other:?}"),
        }
    }
    assert_eq!(server.malformed(), 3);
    // The session stayed open and still answers.
    assert!(!client.is_closed());
    let echo = Request::Echo("still here".into());
    assert_eq!(
        client.request(&echo).await.unwrap(),
        Response::Echo("still here".into())
    );
    assert_eq!(server.session_count(), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_typed_notice_reaches_every_session_in_order() {
    let server = start("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let mut clients = Vec::new();
    for _ in 0..3 {
        let client = Client::connect(addr).await.unwrap();
        // Answered, so the server has the session before the broadcast.
        let ping = Request::Echo("ping".into());
        assert_eq!(
            client.request(&ping).await.unwrap(),
            Response::Echo("ping".into())
        );
        clients.push(client);
    }
    assert_eq!(server.notify("first").await.unwrap(), 3);
    assert_eq!(server.notify("second").await.unwrap(), 3);
    for client in &clients {
        for (seq, text) in [(1, "first"), (2, "second")] {
            let want = Incoming::Notice(Notice {
                seq,
                text: text.into(),
            });
            assert_eq!(client.next().await.unwrap(), want);
        }
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_tour_shows_round_trips_errors_and_a_notice_and_exits_zero() {
    let output = common::run_tour(env!("CARGO_BIN_EXE_json_messages")).await;
    common::assert_mentions(
        &output,
        &[
            "alice: Add { a: 2, b: 40 } -> Sum(42)",
            "alice: Echo(\"hello, typed world\") -> Echo(\"hello, typed world\")",
            "overflows",
            "-> Error(\"malformed JSON message: missing field `b`",
            "-> Error(\"malformed JSON message: expected value",
            "bob's session stays open: Add { a: 1, b: 2 } -> Sum(3)",
            "written to 3 sessions",
            "carol gets Notice(Notice { seq: 1, text: \"maintenance at noon\" })",
            "server stopped; done.",
        ],
    );
}

#[tokio::test]
async fn the_server_runs_as_a_process_until_sigterm() {
    let server =
        common::Server::spawn(env!("CARGO_BIN_EXE_json_messages"), &["--serve"], &[]).await;
    let client = Client::connect(server.addr).await.unwrap();
    let add = Request::Add { a: 20, b: 22 };
    assert_eq!(client.request(&add).await.unwrap(), Response::Sum(42));
    let status = server.stop_with("TERM").await;
    assert!(status.success(), "exit status {status}");
}
