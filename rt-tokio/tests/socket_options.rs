//! `SocketOptions` reach the sockets: `TCP_NODELAY` and keepalive on accepted
//! and dialed connections, `SO_REUSEPORT` on the listener.
//!
//! Neither a server nor a session exposes its socket, so the test finds them
//! among the process's descriptors by their addresses and reads the options
//! with `socket2`. Alone in its file so that it runs in its own process, where
//! no other test opens or closes descriptors meanwhile.

mod common;

use castnet_tokio::{dial, Config, LocalAddr, PeerAddr, Server, SocketOptions};
use common::{bounded, next_open, round_trip, Recorder, Running};
use socket2::SockRef;
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

/// What the test reads off one socket.
#[derive(Debug, PartialEq)]
struct Options {
    nodelay: bool,
    keepalive: Option<Duration>,
    reuse_port: bool,
}

/// The options of the TCP socket of this process whose local and peer
/// addresses are these (`peer` `None`: a listener).
#[allow(unsafe_code)]
fn options_of(local: SocketAddr, peer: Option<SocketAddr>) -> Options {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let mut found = None;
    for fd in fds {
        let is_socket = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        // SAFETY: `fd` is open (listed just now) and stays open while it is
        // borrowed: the sockets under test are held by this test, nothing
        // else runs on this single-threaded runtime meanwhile, and the
        // borrow ends within this iteration.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let sock = SockRef::from(&fd);
        let addr = |a: std::io::Result<socket2::SockAddr>| a.ok().and_then(|a| a.as_socket());
        if addr(sock.local_addr()) != Some(local) || addr(sock.peer_addr()) != peer {
            continue;
        }
        let keepalive = match sock.keepalive().unwrap() {
            true => Some(sock.tcp_keepalive_time().unwrap()),
            false => None,
        };
        let options = Options {
            nodelay: peer.is_some() && sock.tcp_nodelay().unwrap(),
            keepalive,
            reuse_port: sock.reuse_port().unwrap(),
        };
        assert!(found.replace(options).is_none(), "two sockets match");
    }
    found.expect("no socket with these addresses")
}

fn options(nodelay: bool, keepalive: Option<Duration>, reuse_port: bool) -> SocketOptions {
    let mut o = SocketOptions::default();
    o.nodelay = nodelay;
    o.keepalive = keepalive;
    o.reuse_port = reuse_port;
    o
}

async fn options_reach_both_ends(server_opts: SocketOptions, client_opts: SocketOptions) {
    let (recorder, mut seen) = Recorder::new(true);
    let server: Server = Server::bind("127.0.0.1:0", Config::default().socket(server_opts.clone()))
        .await
        .unwrap();
    let running = Running::serve(server, recorder);
    let LocalAddr::Tcp(server_addr) = running.server.local_addr().clone() else {
        unreachable!("bound to TCP")
    };
    let client = dial(server_addr, Config::default().socket(client_opts.clone()))
        .await
        .unwrap();
    let id = next_open(&mut seen).await;
    round_trip(&client, "up").await;
    let PeerAddr::Ip(client_addr) = running.server.session(id).unwrap().peer_addr().clone() else {
        unreachable!("a TCP peer")
    };

    let accepted = options_of(server_addr, Some(client_addr));
    assert_eq!(accepted.nodelay, server_opts.nodelay);
    assert_eq!(accepted.keepalive, server_opts.keepalive);
    let dialed = options_of(client_addr, Some(server_addr));
    assert_eq!(dialed.nodelay, client_opts.nodelay);
    assert_eq!(dialed.keepalive, client_opts.keepalive);
    let listener = options_of(server_addr, None);
    assert_eq!(listener.reuse_port, server_opts.reuse_port);

    client.close();
    client.closed().await;
    running.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn nodelay_keepalive_and_reuse_port_are_applied_to_accepted_dialed_and_listening_sockets() {
    bounded(async {
        let keepalive = Some(Duration::from_secs(30));
        options_reach_both_ends(options(true, None, true), options(false, keepalive, false)).await;
        options_reach_both_ends(options(false, keepalive, false), options(true, None, false)).await;
    })
    .await;
}
