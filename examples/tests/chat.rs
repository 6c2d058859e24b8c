//! The `chat` example: rooms as channels, per-session state, a kick told
//! through the channel's kick callback, on 127.0.0.1.

mod common;

use castnet_examples::chat::{start, Client};

/// Asserts the next line `client` gets is `want`.
async fn expect(client: &Client, want: &str) {
    assert_eq!(client.line().await.unwrap(), want);
}

/// Sends `line` and asserts the answer.
async fn ask(client: &Client, line: &str, want: &str) {
    client.send(line).await.unwrap();
    expect(client, want).await;
}

async fn named(addr: std::net::SocketAddr, nick: &str) -> Client {
    let client = Client::connect(addr).await.unwrap();
    ask(
        &client,
        &format!("/nick {nick}"),
        &format!("* you are {nick}"),
    )
    .await;
    client
}

#[tokio::test]
async fn rooms_deliver_to_their_members_in_order_and_members_leave() {
    let server = start("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let stranger = Client::connect(addr).await.unwrap();
    ask(&stranger, "hi", "ERR take a nick first: /nick NAME").await;
    let alice = named(addr, "alice").await;
    let bob = named(addr, "bob").await;
    let carol = named(addr, "carol").await;
    ask(&stranger, "/nick alice", "ERR the nick alice is taken").await;

    ask(&alice, "/join lobby", "* alice joined lobby").await;
    bob.send("/join lobby").await.unwrap();
    expect(&alice, "* bob joined lobby").await;
    expect(&bob, "* bob joined lobby").await;
    ask(&carol, "/join garden", "* carol joined garden").await;
    assert_eq!(
        (server.room_len("lobby"), server.room_len("garden")),
        (2, 1)
    );

    // Said in order by both, heard in that order by both lobby members.
    for i in 0..5 {
        alice.send(&format!("a{i}")).await.unwrap();
        bob.send(&format!("b{i}")).await.unwrap();
    }
    for member in [&alice, &bob] {
        let (mut from_alice, mut from_bob) = (Vec::new(), Vec::new());
        for _ in 0..10 {
            let line = member.line().await.unwrap();
            match line.split_once(": ") {
                Some(("alice", text)) => from_alice.push(text.to_owned()),
                Some(("bob", text)) => from_bob.push(text.to_owned()),
                _ => panic!("unexpected line {line:?}"),
            }
        }
        assert_eq!(from_alice, ["a0", "a1", "a2", "a3", "a4"]);
        assert_eq!(from_bob, ["b0", "b1", "b2", "b3", "b4"]);
    }
    // Nothing of lobby reached carol: her next line is her own.
    ask(&carol, "quiet here", "carol: quiet here").await;
    ask(&carol, "/dance", "ERR unknown command /dance").await;
    ask(&carol, "/leave", "* you left garden").await;
    ask(&carol, "more", "ERR join a room first: /join ROOM").await;
    assert_eq!(server.room_len("garden"), 0);

    // /leave: told, and the others told.
    carol.send("/join lobby").await.unwrap();
    for member in [&alice, &bob, &carol] {
        expect(member, "* carol joined lobby").await;
    }
    ask(&bob, "/leave", "* you left lobby").await;
    expect(&alice, "* bob left lobby").await;
    expect(&carol, "* bob left lobby").await;
    alice.send("bob is out").await.unwrap();
    expect(&alice, "alice: bob is out").await;
    expect(&carol, "alice: bob is out").await;
    ask(&bob, "/leave", "ERR you are in no room").await;

    // A client that disconnects in a room leaves it, and the room is told.
    carol.close();
    expect(
        &alice,
        "* carol left lobby (the peer closed the connection)",
    )
    .await;
    assert_eq!(server.room_len("lobby"), 1);
    ask(&alice, "alone", "alice: alone").await;
    ask(&alice, "/quit", "* bye").await;
    assert_eq!(alice.next().await.unwrap(), None);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn only_the_first_member_kicks_and_the_kicked_is_told_and_out() {
    let server = start("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let alice = named(addr, "alice").await;
    let bob = named(addr, "bob").await;
    let carol = named(addr, "carol").await;
    ask(&alice, "/join den", "* alice joined den").await;
    for (i, joiner) in [(1, &bob), (2, &carol)] {
        joiner.send("/join den").await.unwrap();
        let want = ["", "* bob joined den", "* carol joined den"][i];
        for member in [&alice, &bob, &carol].into_iter().take(i + 1) {
            expect(member, want).await;
        }
    }
    ask(&bob, "/kick carol", "ERR only den's first member may kick").await;
    ask(&alice, "/kick dave", "ERR dave is not someone else in den").await;

    alice.send("/kick bob").await.unwrap();
    expect(&bob, "* you were kicked from den by its first member").await;
    expect(&alice, "* bob was kicked from den by alice").await;
    expect(&carol, "* bob was kicked from den by alice").await;
    assert_eq!(server.room_len("den"), 2);
    alice.send("after the kick").await.unwrap();
    expect(&alice, "alice: after the kick").await;
    expect(&carol, "alice: after the kick").await;
    // Bob, still connected, got none of it and is in no room.
    ask(&bob, "hello?", "ERR join a room first: /join ROOM").await;
    // A kicked session that goes at once, before its handler heard of the
    // kick, is not announced to the room it was put out of.
    alice.send("/kick carol").await.unwrap();
    expect(&carol, "* you were kicked from den by its first member").await;
    expect(&alice, "* carol was kicked from den by alice").await;
    carol.close();
    assert_eq!(carol.next().await.unwrap(), None);
    bob.close();
    assert_eq!(bob.next().await.unwrap(), None);
    ask(&alice, "alone now", "alice: alone now").await;
    assert_eq!(server.room_len("den"), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_tour_shows_rooms_kicks_and_leaving_and_exits_zero() {
    let output = common::run_tour(env!("CARGO_BIN_EXE_chat")).await;
    common::assert_mentions(
        &output,
        &[
            "alice sends \"hello?\" and gets \"ERR take a nick first: /nick NAME\"",
            "bob gets \"* bob joined lobby\"",
            "bob gets \"alice: hi bob\"",
            "alice gets \"bob: hi alice\"",
            "carol sends \"anyone in the garden?\" and gets \"carol: anyone in the garden?\"",
            "carol sends \"/dance\" and gets \"ERR unknown command /dance\"",
            "bob sends \"/kick carol\" and gets \"ERR only lobby's first member may kick\"",
            "carol (kick callback) gets \"* you were kicked from lobby by its first member\"",
            "carol sends \"still here?\" and gets \"ERR join a room first: /join ROOM\"",
            "alice gets \"* bob left lobby (the peer closed the connection)\"",
            "server stopped; done.",
        ],
    );
}

#[tokio::test]
async fn the_server_runs_as_a_process_until_sigterm() {
    let server = common::Server::spawn(env!("CARGO_BIN_EXE_chat"), &["--serve"], &[]).await;
    let alice = named(server.addr, "alice").await;
    ask(&alice, "/join x", "* alice joined x").await;
    ask(&alice, "hey", "alice: hey").await;
    let status = server.stop_with("TERM").await;
    assert!(status.success(), "exit status {status}");
}
