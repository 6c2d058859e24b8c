//! Backpressure, on every runtime: what a peer that asks faster than it
//! reads gets from a server whose handler replies with `Conn::send` (every
//! reply, in order, at the pace it reads), what a peer that never reads
//! costs (a bounded queue, or a disconnect under `slow_consumer_timeout`),
//! the frames before a fatal decode error (all answered), and a channel
//! relay under a burst.

castnet_tests::conformance! {
    backpressure {
        a_client_pipelining_ten_thousand_small_frames_in_one_write_gets_every_echo_in_order,
        a_client_that_reads_only_long_after_the_send_timeout_still_gets_every_echo,
        a_client_pipelining_twelve_megabytes_of_large_frames_gets_every_echo_intact_with_a_four_byte_header,
        a_client_pipelining_twelve_megabytes_of_large_frames_gets_every_echo_intact_with_an_eight_byte_header,
        a_client_that_never_reads_keeps_its_queue_bounded_and_stays_connected_by_default,
        a_client_that_never_reads_is_disconnected_as_a_slow_consumer_after_the_timeout,
        every_frame_before_an_oversized_header_is_echoed_before_the_server_closes,
        every_frame_before_a_cut_frame_and_end_of_stream_is_echoed,
        every_echo_before_an_oversized_header_arrives_though_the_peer_sent_more_and_reads_late,
        a_peer_that_keeps_writing_after_its_decode_error_is_cut_off_once_the_close_drain_runs_out,
        a_room_burst_relayed_from_the_connection_reaches_a_reading_member_complete_and_in_order,
        a_room_member_that_never_reads_does_not_stop_a_reading_member_or_the_server,
    }
}

mod backpressure {
    use bytes::Bytes;
    use castnet_core::frame::{FrameError, HeaderLen, PacketN};
    use castnet_core::session::{CloseReason, SessionConfig};
    use castnet_engine::{handler_fn, Config, Conn, SocketOptions};
    use castnet_tests::support::{echo, round_trip, wait_until, Echo, Recorder, Running, Server};
    use castnet_tests::TestRuntime;
    use castnet_tests::{peers, raw};
    use std::net::{SocketAddr, TcpStream};
    use std::time::{Duration, Instant};

    pub async fn a_client_pipelining_ten_thousand_small_frames_in_one_write_gets_every_echo_in_order<
        T: TestRuntime,
    >() {
        let running = Running::<T>::start(Config::default(), echo()).await;
        let stream =
            peers::small_frames_pipelined_in_one_write_are_all_echoed(running.addr(), 10_000).await;
        // Counters are published after each turn's write: the last echo may
        // arrive first.
        let server = running.server.clone();
        wait_until::<T>("every frame is counted", || {
            server.stats().frames_in == 10_000
        })
        .await;
        assert_eq!(server.stats().refused_queue_full, 0);
        running.stop().await;
        drop(stream);
    }

    /// Replies made through `Conn` are never dropped for time: a client that
    /// pipelines 1,500 frames of 4 KiB and reads only well after the send timeout
    /// gets every echo, in order, and nothing is counted as timed out.
    pub async fn a_client_that_reads_only_long_after_the_send_timeout_still_gets_every_echo<
        T: TestRuntime,
    >() {
        let session = SessionConfig::builder()
            .send_timeout(Some(Duration::from_millis(100)))
            .build()
            .unwrap();
        let running = Running::<T>::start(Config::default().session(session), echo()).await;
        // 6 MB: more than the kernel's buffers hold towards the client, so
        // echoes wait in the session's queue; less than the server and the
        // kernel take in before the client's write would block.
        let payloads: Vec<Vec<u8>> = (0..1500u32)
            .map(|i| {
                let mut p = vec![(i % 251) as u8; 4096];
                p[..4].copy_from_slice(&i.to_be_bytes());
                p
            })
            .collect();
        let bytes = raw::packets(&payloads);
        let mut stream = raw::connect(running.addr());
        let (got, stream) = raw::thread(move || {
            raw::write(&mut stream, &bytes);
            std::thread::sleep(Duration::from_millis(600));
            let got: Vec<Vec<u8>> = (0..1500)
                .map(|_| raw::read_packet(&mut stream).expect("an echo"))
                .collect();
            (got, stream)
        })
        .join()
        .await;
        assert!(got == payloads, "every echo, in order");
        assert_eq!(running.server.stats().failed_timed_out, 0);
        running.stop().await;
        drop(stream);
    }

    async fn large_frames_echo_intact<T: TestRuntime>(header: HeaderLen, n: usize) {
        let codec = PacketN::builder().header_len(header).build().unwrap();
        let server = Server::<T>::bind("127.0.0.1:0", Config::new(codec))
            .await
            .unwrap();
        let running = Running::<T>::serve(server, echo());
        let sizes = peers::large_sizes(400, 200_000);
        let total: usize = sizes.iter().sum();
        assert!((8_000_000..16_000_000).contains(&total), "{total}");
        let (writer, reader) =
            peers::large_frames_pipelined_are_echoed_intact(running.addr(), n, &sizes).await;
        let server = running.server.clone();
        wait_until::<T>("every frame is counted", || server.stats().frames_in == 400).await;
        assert_eq!(server.stats().bytes_in as usize, total + 400 * n);
        running.stop().await;
        drop((writer, reader));
    }

    pub async fn a_client_pipelining_twelve_megabytes_of_large_frames_gets_every_echo_intact_with_a_four_byte_header<
        T: TestRuntime,
    >() {
        large_frames_echo_intact::<T>(HeaderLen::Four, 4).await;
    }

    pub async fn a_client_pipelining_twelve_megabytes_of_large_frames_gets_every_echo_intact_with_an_eight_byte_header<
        T: TestRuntime,
    >() {
        large_frames_echo_intact::<T>(HeaderLen::Eight, 8).await;
    }

    /// Socket buffers of a few KiB on the server's side, so a peer that does
    /// not read is felt within a few KiB, not within the kernel's megabytes.
    fn small_buffers(session: SessionConfig) -> Config {
        let mut socket = SocketOptions::default();
        socket.send_buffer_size = Some(4096);
        socket.recv_buffer_size = Some(4096);
        Config::default().session(session).socket(socket)
    }

    pub async fn a_client_that_never_reads_keeps_its_queue_bounded_and_stays_connected_by_default<
        T: TestRuntime,
    >() {
        let bound = 64 * 1024;
        let session = SessionConfig::builder()
            .max_queue_bytes(bound)
            .linger(Duration::from_millis(100))
            .build()
            .unwrap();
        let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
        let running = Running::<T>::start(small_buffers(session), recorder).await;
        let server = running.server.clone();
        let (good, _) = running.connect(&seen).await;
        let flood_frames = 4096; // 4 MiB
        let bad = peers::flood(running.addr(), flood_frames);
        let bad_id = seen.open().await;

        // A few seconds in which the other client keeps being served.
        let started = Instant::now();
        let mut trips = 0u64;
        while started.elapsed() < Duration::from_secs(2) {
            round_trip::<T>(&good, "served").await;
            trips += 1;
        }
        let (written, bad) = bad.join().await;
        assert!(
            written < flood_frames * 1028 / 4,
            "the flood was not held back: {written} bytes written"
        );
        assert!(
            server.session(bad_id).is_some(),
            "the default policy keeps waiting"
        );
        // Everything the server read is echoed or queued: what it read from
        // the flood beyond what it wrote back is its queue, which stays
        // within the bound plus the replies to one read.
        let good_bytes = trips * (4 + "served".len() as u64);
        let stats = server.stats();
        let flood_in = stats.bytes_in - good_bytes;
        let flood_out = stats.bytes_out - good_bytes;
        let queued = flood_in - flood_out;
        assert!(
            queued <= (bound + 256 * 1024 + 8 * 1024) as u64,
            "{queued} bytes queued for a client that never reads: {stats:?}"
        );
        assert!(flood_in as usize <= written);
        assert!(stats.read_buffer_bytes <= 512 * 1024, "{stats:?}");
        running.stop().await;
        drop(bad);
    }

    pub async fn a_client_that_never_reads_is_disconnected_as_a_slow_consumer_after_the_timeout<
        T: TestRuntime,
    >() {
        let timeout = Duration::from_millis(300);
        let session = SessionConfig::builder()
            .max_queue_bytes(64 * 1024)
            .slow_consumer_timeout(Some(timeout))
            .build()
            .unwrap();
        let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
        let running = Running::<T>::start(small_buffers(session), recorder).await;
        let (good, _) = running.connect(&seen).await;
        let started = Instant::now();
        let bad = peers::flood(running.addr(), 4096);
        let bad_id = seen.open().await;
        let reason = seen.close_of(bad_id).await;
        let after = started.elapsed();
        assert!(matches!(reason, CloseReason::SlowConsumer), "{reason:?}");
        assert!(
            after >= timeout && after <= timeout + Duration::from_secs(2),
            "disconnected {after:?} after the flood began"
        );
        round_trip::<T>(&good, "still served").await;
        let (_, bad) = bad.join().await;
        running.stop().await;
        drop(bad);
    }

    pub async fn every_frame_before_an_oversized_header_is_echoed_before_the_server_closes<
        T: TestRuntime,
    >() {
        let codec = PacketN::builder().max_frame_len(1000).build().unwrap();
        let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
        let running = Running::<T>::start(Config::new(codec), recorder).await;
        let payloads: Vec<Vec<u8>> = (0..100).map(peers::small_payload).collect();
        let mut bytes = raw::packets(&payloads);
        bytes.extend_from_slice(&1001u32.to_be_bytes());
        let stream = raw::connect(running.addr());
        let id = seen.open().await;
        let (got, stream) = peers::send_all_then_read_to_end(stream, bytes, false).await;
        assert_eq!(got, payloads, "every echo, in order, then the end");
        assert!(matches!(
            seen.close_of(id).await,
            CloseReason::Frame(FrameError::FrameTooLarge { max: 1000, .. })
        ),);
        assert_eq!(running.server.stats().frames_in, 100);
        running.stop().await;
        drop(stream);
    }

    /// The peer writes two megabytes of frames, an oversized header and
    /// then more bytes the server will never decode, and reads only once it
    /// has written everything. The server stops reading at the header while
    /// most echoes still wait in its socket's send buffer for the peer's
    /// window: closing then, with the rest unread, would reset the
    /// connection and throw those echoes away. Every one arrives, then the
    /// end of the stream.
    pub async fn every_echo_before_an_oversized_header_arrives_though_the_peer_sent_more_and_reads_late<
        T: TestRuntime,
    >() {
        let codec = PacketN::builder().max_frame_len(4096).build().unwrap();
        let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
        let running = Running::<T>::start(Config::new(codec), recorder).await;
        let (payloads, bytes) = peers::frames_then_an_oversized_header_then_more();
        let stream = raw::connect(running.addr());
        let id = seen.open().await;
        let (got, stream) = peers::send_all_then_read_to_end(stream, bytes, false).await;
        assert_eq!(got.len(), payloads.len(), "every echo arrives");
        assert!(got == payloads, "every echo intact and in order");
        assert!(matches!(
            seen.close_of(id).await,
            CloseReason::Frame(FrameError::FrameTooLarge { max: 4096, .. })
        ));
        running.stop().await;
        drop(stream);
    }

    /// The drain that keeps a closing connection from resetting is bounded:
    /// a peer that goes on writing after its decode error, and never reads,
    /// is cut off once `close_drain` runs out (a slow writer) or once 8 MiB
    /// were thrown away (a fast one), and the server keeps serving.
    pub async fn a_peer_that_keeps_writing_after_its_decode_error_is_cut_off_once_the_close_drain_runs_out<
        T: TestRuntime,
    >() {
        // A slow writer against a short drain, a fast one against a drain
        // long enough that only the byte bound can end it within the test.
        for (pace, drain) in [
            (Some(Duration::from_millis(5)), Duration::from_millis(300)),
            (None, Duration::from_secs(60)),
        ] {
            let mut config = Config::new(PacketN::builder().max_frame_len(1000).build().unwrap());
            config.socket.close_drain = drain;
            let running = Running::<T>::start(config, echo()).await;
            let mut flood = raw::connect(running.addr());
            let writer = raw::thread(move || {
                use std::io::Write;
                flood.write_all(&1001u32.to_be_bytes()).unwrap();
                let began = Instant::now();
                let junk = [0x5A; 4096];
                let mut sent = 0usize;
                // Until the server resets the connection (or the raw
                // socket's write timeout, should it never do so).
                while flood.write_all(&junk).is_ok() {
                    sent += junk.len();
                    if let Some(pace) = pace {
                        std::thread::sleep(pace);
                    }
                }
                (began.elapsed(), sent)
            });
            let (cut_after, sent) = writer.join().await;
            match pace {
                // About 0.8 MB/s: the time runs out long before 8 MiB.
                Some(_) => assert!(
                    cut_after >= Duration::from_millis(300) && cut_after < Duration::from_secs(5),
                    "cut off {cut_after:?} after the bad header"
                ),
                // The server read 8 MiB; the peer wrote that and more.
                None => assert!(sent >= 8 << 20, "cut off after {sent} bytes"),
            }
            let good = running.dial().await;
            round_trip::<T>(&good, "still served").await;
            running.stop().await;
        }
    }

    pub async fn every_frame_before_a_cut_frame_and_end_of_stream_is_echoed<T: TestRuntime>() {
        let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
        let running = Running::<T>::start(Config::default(), recorder).await;
        let payloads: Vec<Vec<u8>> = (0..1000).map(peers::small_payload).collect();
        let mut bytes = raw::packets(&payloads);
        bytes.extend_from_slice(&raw::packet(&[7u8; 100])[..52]);
        let stream = raw::connect(running.addr());
        let id = seen.open().await;
        let (got, stream) = peers::send_all_then_read_to_end(stream, bytes, true).await;
        assert_eq!(got, payloads, "every echo, in order, then the end");
        assert!(matches!(
            seen.close_of(id).await,
            CloseReason::Frame(FrameError::UnexpectedEof { .. })
        ));
        running.stop().await;
        drop(stream);
    }

    /// A chat room: every session joins "room" when it opens, and every
    /// frame it sends is relayed to the room with `broadcast_detached_from`
    /// (the relaying connection pauses while a reader that keeps up has not
    /// had its turn), except "ping", which is answered to the sender alone.
    async fn room<T: TestRuntime>() -> Running<T> {
        let server = Server::<T>::bind("127.0.0.1:0", Config::default())
            .await
            .unwrap();
        let room = server.channel("room".to_string());
        let relay = handler_fn(move |cx: &mut Conn<'_, PacketN>, frame: Bytes| {
            if &frame[..] == b"ping" {
                let _ = cx.send(frame);
                return;
            }
            if !room.contains(cx.session()) {
                room.join(cx.session(), |_, _| {});
            }
            room.broadcast_detached_from(cx, frame).unwrap();
        });
        Running::<T>::serve(server, relay)
    }

    /// Waits until `members` sessions are in the room (each joins with its
    /// first frame, which is relayed like any other).
    async fn join_room<T: TestRuntime>(running: &Running<T>, members: usize) {
        let room = running.server.channel("room".to_string());
        wait_until::<T>("the members have joined", || room.len() == members).await;
    }

    const BURST: u32 = 10_000;

    fn burst() -> Vec<u8> {
        (0..BURST)
            .flat_map(|i| raw::packet(&i.to_be_bytes()))
            .collect()
    }

    /// The writer: joins, writes the burst in one write, and reads what the
    /// room relays to it until it has its own last frame.
    fn writer(addr: SocketAddr) -> (TcpStream, raw::PeerThread<TcpStream>) {
        let mut stream = raw::connect(addr);
        raw::write(&mut stream, &raw::packet(b"joining the room"));
        let mut reader = stream.try_clone().unwrap();
        let drain = raw::thread(move || {
            while let Some(frame) = raw::read_packet_lenient(&mut reader) {
                if frame[..] == (BURST - 1).to_be_bytes() {
                    break;
                }
            }
            reader
        });
        (stream, drain)
    }

    /// Reads relayed burst frames until the last one; returns their
    /// indices.
    async fn read_burst(member: &castnet_engine::Session<PacketN>) -> Vec<u32> {
        let mut got = Vec::new();
        while got.last() != Some(&(BURST - 1)) {
            let frame = member.recv().await.expect("the room's frames");
            if frame.len() == 4 {
                got.push(u32::from_be_bytes(frame[..].try_into().unwrap()));
            }
        }
        got
    }

    pub async fn a_room_burst_relayed_from_the_connection_reaches_a_reading_member_complete_and_in_order<
        T: TestRuntime,
    >() {
        let running = room::<T>().await;
        let member = running.dial().await;
        member.send("joining the room").await.unwrap();
        let (mut stream, drain) = writer(running.addr());
        join_room(&running, 2).await;
        raw::write(&mut stream, &burst());
        let got = read_burst(&member).await;
        let missed = running.server.stats().broadcast_missed;
        assert_eq!(
            got.len(),
            BURST as usize,
            "the reading member got {} of {BURST} ({missed} missed)",
            got.len()
        );
        assert!(got.iter().enumerate().all(|(i, &g)| g == i as u32));
        drain.join().await;
        running.stop().await;
        drop(stream);
    }

    pub async fn a_room_member_that_never_reads_does_not_stop_a_reading_member_or_the_server<
        T: TestRuntime,
    >() {
        let running = room::<T>().await;
        let member = running.dial().await;
        member.send("joining the room").await.unwrap();
        let mut stalled = raw::stalled(running.addr());
        raw::write(&mut stalled, &raw::packet(b"joining the room"));
        let (mut stream, drain) = writer(running.addr());
        join_room(&running, 3).await;
        raw::write(&mut stream, &burst());
        let got = read_burst(&member).await;
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "in order, nothing twice"
        );
        // The server answers another client at once, the stalled member
        // notwithstanding.
        let other = running.dial().await;
        other.send("ping").await.unwrap();
        assert_eq!(&other.recv().await.unwrap()[..], b"ping");
        round_trip_ping(&member).await;
        drain.join().await;
        running.stop().await;
        drop((stream, stalled));
    }

    /// A reading member is still answered after the burst.
    async fn round_trip_ping(member: &castnet_engine::Session<PacketN>) {
        member.send("ping").await.unwrap();
        while &member.recv().await.unwrap()[..] != b"ping" {}
    }
}
