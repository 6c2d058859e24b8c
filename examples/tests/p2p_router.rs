//! `p2p_router`: a router process and nodes (a process and nodes in the
//! test) route envelopes by endpoint over TCP on 127.0.0.1; the tour run
//! with no arguments shows every step and exits 0.

mod common;

use bytes::Bytes;
use castnet_core::route::{Endpoint, Envelope, EnvelopeCodec};
use castnet_examples::p2p::{Control, Incoming, JoinError, Liveness, Refusal, Service, ROUTER};
use castnet_tokio::{dial, Config};
use common::{Announced, Server, P2P_ROUTER};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::{timeout, Instant};

const GATE: Endpoint = Endpoint::new(1, 1);
const ECHO: Endpoint = Endpoint::new(2, 1);
const SILENT: Endpoint = Endpoint::new(3, 1);
const LIVENESS: Liveness = Liveness {
    ping_interval: Duration::from_millis(200),
    peer_timeout: Duration::from_millis(1000),
};
const LIVENESS_FLAGS: [&str; 4] = ["--ping-ms", "200", "--peer-timeout-ms", "1000"];

/// The next thing `node` receives, within `within`; `None` if nothing came.
async fn next_within(node: &mut Service, within: Duration) -> Option<Incoming> {
    timeout(within, node.recv())
        .await
        .ok()
        .map(|got| got.expect("the node's link is open"))
}

async fn next(node: &mut Service) -> Incoming {
    next_within(node, Duration::from_secs(5))
        .await
        .expect("something arrives within 5 s")
}

/// Sends from `node` to `dst` until the router answers that no node holds
/// `dst` (it may take a moment to notice a node is gone), then reads what
/// is still on its way, so that nothing stale is left for the next check.
async fn until_unknown(node: &mut Service, dst: Endpoint) {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{dst} was never released"
        );
        node.send(dst, "still there?").await.expect("link open");
        if let Some(Incoming::Refused(Refusal::UnknownDestination(e))) =
            next_within(node, Duration::from_millis(500)).await
        {
            assert_eq!(e, dst);
            break;
        }
    }
    while next_within(node, Duration::from_millis(300))
        .await
        .is_some()
    {}
}

/// Sends `payload` from `from` to `to` and checks it arrives intact, with
/// its source and destination.
async fn reaches(from: &Service, to: &mut Service, payload: &'static str) {
    from.send(to.endpoint(), payload).await.expect("link open");
    assert_eq!(
        next(to).await,
        Incoming::Message(Envelope::new(
            from.endpoint(),
            to.endpoint(),
            Bytes::from(payload)
        ))
    );
}

/// An echo node process holding `endpoint`, announced once registered.
async fn echo_node(router: SocketAddr, endpoint: Endpoint) -> Announced {
    let (router, ty, no) = (
        router.to_string(),
        endpoint.ty.to_string(),
        endpoint.no.to_string(),
    );
    let mut args = vec!["--role", "node", "--router", &router, "--type", &ty];
    args.extend_from_slice(&["--no", &no]);
    args.extend_from_slice(&LIVENESS_FLAGS);
    let node = Announced::start(P2P_ROUTER, &args).await;
    assert_eq!(node.line, format!("registered {endpoint}"));
    node
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_are_routed_by_endpoint_and_dead_nodes_release_theirs() {
    timeout(Duration::from_secs(90), scenario())
        .await
        .expect("the scenario ends in time");
}

async fn scenario() {
    let router = Server::spawn(P2P_ROUTER, &["--role", "router"], &LIVENESS_FLAGS).await;
    let mut echo = echo_node(router.addr, ECHO).await;
    let mut gate = Service::join(router.addr, GATE, LIVENESS).await.unwrap();
    let mut other = Service::join(router.addr, SILENT, LIVENESS).await.unwrap();

    // Routed both ways, intact: gate -> echo process -> gate.
    let payloads: Vec<Bytes> = vec![
        Bytes::from_static(b"hello"),
        (0..=255u8).collect::<Vec<u8>>().into(),
        Bytes::from(vec![0xa5; 100_000]),
        Bytes::new(),
    ];
    for payload in &payloads {
        gate.send(ECHO, payload.clone()).await.unwrap();
    }
    for payload in &payloads {
        match next(&mut gate).await {
            Incoming::Message(env) => {
                assert_eq!((env.src(), env.dst()), (ECHO, GATE));
                assert_eq!(&env.payload, payload);
            }
            refused => panic!("expected the echo, got {refused:?}"),
        }
    }
    // Between two nodes in this process: each side sees who sent it.
    reaches(&gate, &mut other, "to silent").await;
    reaches(&other, &mut gate, "to gate").await;

    // An unknown destination is refused, with the destination named.
    let nowhere = Endpoint::new(9, 9);
    gate.send(nowhere, "anyone?").await.unwrap();
    assert_eq!(
        next(&mut gate).await,
        Incoming::Refused(Refusal::UnknownDestination(nowhere))
    );
    // Taken endpoints, the router's own included, are refused.
    for taken in [ECHO, GATE, ROUTER] {
        match Service::join(router.addr, taken, LIVENESS).await {
            Err(JoinError::Refused(Refusal::EndpointTaken(e))) => assert_eq!(e, taken),
            Err(e) => panic!("joining as {taken}: {e}"),
            Ok(_) => panic!("{taken} was given twice"),
        }
    }
    // A connection cannot send from an endpoint it has not registered.
    let spoofer = dial(router.addr, Config::new(EnvelopeCodec::default()))
        .await
        .unwrap();
    let mine = Endpoint::new(4, 1);
    spoofer
        .send(Control::Register.envelope(mine, ROUTER))
        .await
        .unwrap();
    spoofer
        .send(Envelope::new(GATE, ECHO, Bytes::from("from someone else")))
        .await
        .unwrap();
    let mut answers = Vec::new();
    while answers.len() < 2 {
        let env = timeout(Duration::from_secs(5), spoofer.recv())
            .await
            .expect("an answer in time")
            .expect("open");
        match Control::parse(&env.payload) {
            Some(Control::Ping(_)) => {}
            Some(answer) => answers.push((env.dst(), answer)),
            None => panic!("the spoofed envelope was forwarded: {env:?}"),
        }
    }
    assert_eq!(
        answers,
        [
            (mine, Control::Ack),
            (GATE, Control::Refused(Refusal::NotRegistered(GATE)))
        ]
    );
    spoofer.close();

    // A killed node is released, and a new node can take its endpoint.
    echo.child.kill().await.unwrap();
    until_unknown(&mut gate, ECHO).await;
    let mut newcomer = Service::join(router.addr, ECHO, LIVENESS).await.unwrap();
    reaches(&gate, &mut newcomer, "welcome").await;

    // A node that stops answering pings is closed after the peer timeout
    // (not before), and its endpoint released.
    let silent_since = Instant::now();
    other.stop_answering_pings();
    let last = timeout(Duration::from_secs(5), other.recv())
        .await
        .expect("the silent node's link closes within 5 s");
    assert_eq!(last, None, "nothing but pings arrive, then the link closes");
    let waited = silent_since.elapsed();
    assert!(
        // Its last pong went out at most a ping interval before.
        waited >= LIVENESS.peer_timeout - LIVENESS.ping_interval - Duration::from_millis(50),
        "closed after {waited:?}"
    );
    until_unknown(&mut gate, SILENT).await;
    let mut again = Service::join(router.addr, SILENT, LIVENESS).await.unwrap();
    reaches(&gate, &mut again, "back").await;

    // The gate answers pings: two more peer timeouts later it is still
    // registered and routing.
    tokio::time::sleep(LIVENESS.peer_timeout * 2).await;
    reaches(&newcomer, &mut gate, "still here").await;

    let status = router.stop_with("TERM").await;
    assert!(status.success(), "router exit status {status}");
}

#[tokio::test]
async fn the_tour_routes_refuses_releases_and_exits_zero() {
    let output = common::run_tour(P2P_ROUTER).await;
    common::assert_mentions(
        &output,
        &[
            "three nodes registered (1, 1), (2, 1) and (2, 2)",
            "a fourth node asking for (2, 1) was refused: endpoint (2, 1) is already taken",
            "(2, 1) got \"join room 7\" from (1, 1) to (2, 1)",
            "(1, 1) got \"welcome to room 7\" from (2, 1) to (1, 1)",
            "an envelope to (9, 9) came back refused: no node holds endpoint (9, 9)",
            "router: node closed, released (2, 2)",
            "nothing received from the peer within the peer timeout",
            "a new node took (2, 2) and got \"hello, newcomer\" from (1, 1)",
            "router stopped; done.",
        ],
    );
}
