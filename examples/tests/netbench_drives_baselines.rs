//! netbench drives the baseline servers as real processes over 127.0.0.1,
//! with `--verify`, and every frame comes back as it was sent.

mod common;

use common::{
    f64_field, framing, netbench, u64_field, verified, verified_fanout, verified_fanout_with,
    Server, BASELINE_ECHO, BASELINE_FANOUT, BYTE_ECHO,
};

#[tokio::test]
async fn batching_echo_baseline_returns_every_frame_in_order() {
    let server = Server::start(BASELINE_ECHO, &[]).await;
    let pid = server.pid().to_string();
    let flags = ["--conns", "8", "--pipeline", "16", "--server-pid", &pid];
    let report = verified(server.addr, &flags).await;
    assert_eq!(report["mode"], "echo");
    assert_eq!(u64_field(&report, "connected"), 8);
    assert!(f64_field(&report, "frames_per_sec") > 0.0);
    assert!(f64_field(&report, "payload_mb_per_sec") > 0.0);
    let (p50, p99, p999) = (
        f64_field(&report, "latency_p50_us"),
        f64_field(&report, "latency_p99_us"),
        f64_field(&report, "latency_p999_us"),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= p999, "{report}");
    // Both sides' CPU over the window, and per frame.
    for field in [
        "netbench_cpu_s",
        "server_cpu_s",
        "netbench_cpu_us_per_frame",
        "server_cpu_us_per_frame",
    ] {
        assert!(f64_field(&report, field) >= 0.0, "{field}: {report}");
    }
}

#[tokio::test]
async fn echo_baseline_flushing_every_frame_returns_every_frame_in_order() {
    let server = Server::start(BASELINE_ECHO, &["--flush", "every"]).await;
    verified(server.addr, &[]).await;
}

#[tokio::test]
async fn echo_baseline_speaks_two_byte_little_endian_headers() {
    let server = Server::start(BASELINE_ECHO, &["--header", "2", "--endian", "le"]).await;
    let flags = ["--header", "2", "--endian", "le", "--payload", "1000"];
    let report = verified(server.addr, &flags).await;
    assert_eq!(u64_field(&report, "header"), 2);
    assert_eq!(report["endian"], "le");
}

#[tokio::test]
async fn echo_baseline_speaks_one_and_eight_byte_headers() {
    for (header, payload) in [("1", "255"), ("8", "4096")] {
        let server = Server::start(BASELINE_ECHO, &["--header", header]).await;
        verified(server.addr, &["--header", header, "--payload", payload]).await;
    }
}

#[tokio::test]
async fn payloads_too_short_for_a_timestamp_are_still_timed_and_verified() {
    let server = Server::start(BASELINE_ECHO, &[]).await;
    for payload in ["0", "1", "8"] {
        let report = verified(server.addr, &["--payload", payload]).await;
        assert!(f64_field(&report, "latency_p50_us") > 0.0, "{report}");
    }
}

#[tokio::test]
async fn fanout_baseline_delivers_each_frame_to_every_subscriber_in_sender_order() {
    let server = Server::start(BASELINE_FANOUT, &[]).await;
    let report = verified_fanout(server.addr).await;
    assert!(report["lost"].is_u64() && report["publisher_stalls"].is_u64());
}

#[tokio::test]
async fn idle_connections_stay_open_and_server_memory_is_read() {
    for runtime in ["tokio", "std"] {
        let server = Server::start(BASELINE_ECHO, &["--runtime", runtime]).await;
        let pid = server.pid().to_string();
        let flags = [
            "--mode",
            "idle",
            "--conns",
            "50",
            "--server-pid",
            &pid,
            "--json",
        ];
        let run = netbench(server.addr, &flags).await;
        let report = run.report();
        assert!(run.status.success(), "{runtime}: {report}");
        assert_eq!(u64_field(&report, "connected"), 50, "{runtime}");
        assert_eq!(u64_field(&report, "open"), 50, "{runtime}");
        assert_eq!(u64_field(&report, "errors"), 0, "{runtime}");
        assert!(u64_field(&report, "server_rss_before_kib") > 0);
        assert!(u64_field(&report, "server_rss_after_kib") > 0);
        assert!(report["server_rss_per_conn_bytes"].is_f64(), "{report}");
    }
}

#[tokio::test]
async fn idle_connections_closed_by_the_server_are_not_counted_open() {
    // A server that accepts and closes at once.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let closer = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let run = netbench(addr, &["--mode", "idle", "--conns", "10", "--json"]).await;
    closer.abort();
    let report = run.report();
    assert_eq!(u64_field(&report, "connected"), 10);
    assert_eq!(u64_field(&report, "open"), 0, "{report}");
}

#[tokio::test]
async fn builtin_echo_measures_netbench_on_its_own() {
    // The address is ignored: netbench drives its own in-process echo.
    let unused = "127.0.0.1:9".parse().unwrap();
    let report = verified(unused, &["--builtin-echo"]).await;
    assert_eq!(report["builtin_echo"], true);
    assert_ne!(report["addr"], "127.0.0.1:9");
}

#[tokio::test]
async fn without_a_terminal_the_report_is_text_and_no_progress_bar_is_drawn() {
    let server = Server::start(BASELINE_ECHO, &[]).await;
    let flags = ["--conns", "2", "--duration", "0.3", "--warmup", "0"];
    let run = netbench(server.addr, &flags).await;
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.stdout.starts_with("netbench echo -> "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("frames") && run.stdout.contains("latency"));
    assert!(run.stderr.is_empty(), "stderr: {:?}", run.stderr);
}

#[tokio::test]
async fn std_echo_baseline_returns_every_frame_on_every_header_size_and_byte_order() {
    for (header, endian, payload) in [
        ("1", "be", "255"),
        ("2", "le", "1000"),
        ("4", "be", "64"),
        ("4", "le", "0"),
        ("8", "be", "4096"),
        ("8", "le", "1000000"),
    ] {
        let args = ["--runtime", "std", "--header", header, "--endian", endian];
        let server = Server::start(BASELINE_ECHO, &args).await;
        let pid = server.pid().to_string();
        let mut flags = framing(header, endian).to_vec();
        flags.extend(["--payload", payload, "--conns", "8", "--pipeline", "16"]);
        flags.extend(["--server-pid", &pid]);
        let report = verified(server.addr, &flags).await;
        assert_eq!(u64_field(&report, "connected"), 8, "{report}");
        assert!(f64_field(&report, "server_cpu_us_per_frame") >= 0.0);
        let status = server.stop_with("TERM").await;
        assert_eq!(status.code(), Some(0), "{header}/{endian}: {status}");
    }
}

#[tokio::test]
async fn std_fanout_baseline_delivers_each_frame_to_every_subscriber_in_sender_order() {
    for (header, endian) in [("4", "be"), ("2", "le")] {
        let args = ["--runtime", "std", "--header", header, "--endian", endian];
        let server = Server::start(BASELINE_FANOUT, &args).await;
        let report = verified_fanout_with(server.addr, &framing(header, endian)).await;
        assert_eq!(u64_field(&report, "lost"), 0, "{report}");
        let status = server.stop_with("INT").await;
        assert_eq!(status.code(), Some(0), "{header}/{endian}: {status}");
    }
}

#[tokio::test]
async fn byte_echo_returns_every_frame_and_stops_on_sigterm() {
    let server = Server::spawn(BYTE_ECHO, &[], &[]).await;
    verified(server.addr, &["--conns", "8", "--pipeline", "16"]).await;
    let flags = ["--conns", "4", "--payload", "65536", "--pipeline", "16"];
    verified(server.addr, &flags).await;
    let status = server.stop_with("TERM").await;
    assert_eq!(status.code(), Some(0), "{status}");
}
