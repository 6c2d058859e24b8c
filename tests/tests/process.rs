//! Scenarios that look at the whole process's descriptor table: in a test
//! binary of their own, and one at a time (`support::exclusive`).

use castnet_tests::scenarios::churn;

castnet_tests::conformance! {
    churn { two_thousand_connections_leave_no_session_descriptor_or_task_behind }
    socket_options {
        nodelay_keepalive_and_reuse_port_are_applied_to_accepted_dialed_and_listening_sockets
    }
}

/// `SocketOptions` reach the sockets: `TCP_NODELAY` and keepalive on
/// accepted and dialled connections, `SO_REUSEPORT` on the listener.
///
/// Neither a server nor a session exposes its socket, so the scenario finds
/// them among the process's descriptors by their addresses and reads the
/// options with `socket2`. That takes borrowing a raw descriptor, which is
/// why this scenario lives here rather than in the library (which forbids
/// `unsafe`).
mod socket_options {
    use castnet_engine::{Config, LocalAddr, PeerAddr, SocketOptions};
    use castnet_tests::support::{dial, exclusive, round_trip, Echo, Recorder, Running, Server};
    use castnet_tests::TestRuntime;
    use socket2::SockRef;
    use std::net::SocketAddr;
    use std::os::fd::{BorrowedFd, RawFd};
    use std::time::Duration;

    /// What the scenario reads off one socket.
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
            // SAFETY: `fd` is open (listed just now) and stays open while it
            // is borrowed: the only sockets that come and go meanwhile are
            // this scenario's own, which it holds open while it looks
            // (`exclusive` keeps every other scenario of this binary out),
            // and the borrow ends within this iteration.
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

    async fn options_reach_both_ends<T: TestRuntime>(
        server_opts: SocketOptions,
        client_opts: SocketOptions,
    ) {
        let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
        let config = Config::default().socket(server_opts.clone());
        let server = Server::<T>::bind("127.0.0.1:0", config).await.unwrap();
        let running = Running::<T>::serve(server, recorder);
        let server_addr = match running.server.local_addr() {
            LocalAddr::Tcp(a) => *a,
            other => panic!("not TCP: {other}"),
        };
        let client = dial::<T>(server_addr, Config::default().socket(client_opts.clone())).await;
        let id = seen.open().await;
        round_trip::<T>(&client, "up").await;
        let client_addr = match running.server.session(id).unwrap().peer_addr() {
            PeerAddr::Ip(a) => *a,
            other => panic!("not a TCP peer: {other:?}"),
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

    // The lock keeps this scenario's thread alone with the descriptor table;
    // it is only ever taken by scenario threads, never by a runtime's task.
    #[allow(clippy::await_holding_lock)]
    pub async fn nodelay_keepalive_and_reuse_port_are_applied_to_accepted_dialed_and_listening_sockets<
        T: TestRuntime,
    >() {
        let _alone = exclusive();
        let keepalive = Some(Duration::from_secs(30));
        options_reach_both_ends::<T>(options(true, None, true), options(false, keepalive, false))
            .await;
        options_reach_both_ends::<T>(options(false, keepalive, false), options(true, None, false))
            .await;
    }
}
