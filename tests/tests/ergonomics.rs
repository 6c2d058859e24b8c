//! What a user meets first: the log lines of closed sessions (captured
//! through a `tracing` layer that this test binary installs for the whole
//! process), bind errors that name the address, channels named by
//! reference, and channel members in join order. On every runtime.

use ::std::collections::BTreeMap;
use ::std::sync::{Arc, Mutex, OnceLock};
use castnet_tests::support::{Echo, Recorder, Running};
use castnet_tests::TestRuntime;
use tracing::field::{Field, Visit};
use tracing::{Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

castnet_tests::conformance! {
    logs {
        a_frame_error_close_is_a_warning_and_a_peer_eof_close_stays_at_debug,
        a_peer_timeout_close_is_info,
        a_refused_connection_is_logged_with_its_peer_and_why_at_debug,
    }
    bind {
        binding_a_taken_port_names_the_address_and_keeps_the_error_kind,
    }
    channels {
        a_channel_is_the_same_by_value_by_reference_and_by_str,
        members_come_in_join_order_after_leaves_and_rejoins,
    }
}

/// One captured event: its level and its fields (`message` included).
#[derive(Debug, Clone)]
struct Record {
    level: Level,
    fields: BTreeMap<String, String>,
}

struct Capture(Arc<Mutex<Vec<Record>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn ::std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let record = Record {
            level: *event.metadata().level(),
            fields,
        };
        self.0.lock().unwrap().push(record);
    }
}

/// Every event of the process so far (the layer is installed on first use).
fn captured() -> Vec<Record> {
    static RECORDS: OnceLock<Arc<Mutex<Vec<Record>>>> = OnceLock::new();
    let records = RECORDS.get_or_init(|| {
        let records = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture(records.clone()));
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        records
    });
    records.lock().unwrap().clone()
}

mod logs {
    use super::*;
    use ::std::io::Write;
    use ::std::net::{SocketAddr, TcpStream};
    use ::std::time::Duration;
    use castnet_core::session::SessionConfig;
    use castnet_core::SessionId;
    use castnet_engine::Config;
    use castnet_tests::raw;
    use castnet_tests::support::wait_until;

    /// The event whose message is `message` and whose peer is `peer`.
    fn event_of(message: &str, peer: SocketAddr) -> Option<Record> {
        let peer = peer.to_string();
        captured().into_iter().find(|r| {
            r.fields.get("message").map(String::as_str) == Some(message)
                && r.fields.get("peer") == Some(&peer)
        })
    }

    /// The `session closed` event of the session whose peer is `peer`.
    fn close_of(peer: SocketAddr) -> Option<Record> {
        event_of("session closed", peer)
    }

    /// Waits for the close of `client`'s session `id` to be logged, and
    /// checks its level and that its reason says `reason`.
    async fn logged_close<T: TestRuntime>(
        client: &TcpStream,
        id: SessionId,
        level: Level,
        reason: &str,
    ) {
        let peer = client.local_addr().unwrap();
        wait_until::<T>("the close is logged", || close_of(peer).is_some()).await;
        let record = close_of(peer).unwrap();
        assert_eq!(record.level, level, "{record:?}");
        assert_eq!(record.fields["session"], id.get().to_string(), "{record:?}");
        assert!(record.fields["reason"].contains(reason), "{record:?}");
    }

    pub async fn a_frame_error_close_is_a_warning_and_a_peer_eof_close_stays_at_debug<
        T: TestRuntime,
    >() {
        captured();
        let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
        let running = Running::<T>::start(Config::default(), recorder).await;
        let mut client = raw::connect(running.addr());
        let id = seen.open().await;
        // A header declaring a frame far over the maximum.
        client.write_all(&u32::MAX.to_be_bytes()).unwrap();
        logged_close::<T>(&client, id, Level::WARN, "inbound stream error").await;

        // Hangs up: a routine close.
        let leaving = raw::connect(running.addr());
        let leaving_id = seen.open().await;
        raw::shutdown_write(&leaving);
        logged_close::<T>(&leaving, leaving_id, Level::DEBUG, "peer closed").await;
        running.stop().await;
    }

    pub async fn a_peer_timeout_close_is_info<T: TestRuntime>() {
        captured();
        let session = SessionConfig::builder()
            .peer_timeout(Some(Duration::from_millis(200)))
            .build()
            .unwrap();
        let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
        let running = Running::<T>::start(Config::default().session(session), recorder).await;

        // Silent: closed by the peer timeout.
        let silent = raw::connect(running.addr());
        let silent_id = seen.open().await;
        logged_close::<T>(&silent, silent_id, Level::INFO, "peer timeout").await;
        running.stop().await;
    }

    pub async fn a_refused_connection_is_logged_with_its_peer_and_why_at_debug<T: TestRuntime>() {
        captured();
        let limits = castnet_core::limits::ConnectionLimits::new(1, 100).unwrap();
        let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
        let running = Running::<T>::start(Config::default().limits(limits), recorder).await;
        let _admitted = raw::connect(running.addr());
        seen.open().await;
        // Over `max_connections`: refused, counted, and logged at DEBUG (a
        // flood of refusals must not flood the log at a higher level).
        let refused = raw::connect(running.addr());
        let peer = refused.local_addr().unwrap();
        let refusal = || event_of("connection refused", peer);
        wait_until::<T>("the refusal is logged", || refusal().is_some()).await;
        let record = refusal().unwrap();
        assert_eq!(record.level, Level::DEBUG, "{record:?}");
        assert_eq!(
            record.fields["error"], "connection limit reached (1 open)",
            "{record:?}"
        );
        assert_eq!(running.server.stats().connections_refused, 1);
        running.stop().await;
    }
}

mod bind {
    use super::*;
    use ::std::io::ErrorKind;
    use castnet_core::frame::PacketN;
    use castnet_engine::{Config, LocalAddr};
    use castnet_tests::support::Server;

    pub async fn binding_a_taken_port_names_the_address_and_keeps_the_error_kind<T: TestRuntime>() {
        // Bound, not served: the port is taken all the same.
        let first = Server::<T>::bind("127.0.0.1:0", Config::default())
            .await
            .unwrap();
        let LocalAddr::Tcp(addr) = *first.local_addr() else {
            panic!("not TCP")
        };
        let check = |e: ::std::io::Error| {
            assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e}");
            let text = e.to_string();
            assert!(text.starts_with(&format!("bind {addr}: ")), "{text}");
        };
        let again = Server::<T>::bind(addr, Config::default()).await;
        check(again.err().expect("the port is taken"));
        if T::NAME == "std" {
            // castnet-std's own server type says the same.
            let again = castnet_std::Server::bind(addr, Config::default());
            check(again.err().expect("the port is taken"));
            // Keyed by another type: converted from an engine server.
            let engine = castnet_engine::Server::<castnet_std::Std, PacketN, u64>::bind_with(
                castnet_std::Std,
                "127.0.0.1:0",
                Config::default(),
            );
            let keyed = castnet_std::Server::from(engine.unwrap());
            assert_eq!(*keyed.channel(7).key(), 7);
            keyed.stop();
        }
        // A Unix path that cannot be bound is named too.
        let path = ::std::path::Path::new("/nonexistent-castnet-dir/s.sock");
        let err = Server::<T>::bind_unix(path, Config::default())
            .await
            .err()
            .expect("no such directory");
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(
            err.to_string()
                .starts_with(&format!("bind {}: ", LocalAddr::Unix(path.into()))),
            "{err}"
        );
        first.stop().await;
    }
}

mod channels {
    use super::*;
    use castnet_engine::Config;

    pub async fn a_channel_is_the_same_by_value_by_reference_and_by_str<T: TestRuntime>() {
        let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
        let running = Running::<T>::start(Config::default(), recorder).await;
        let server = running.server.clone();
        let (_client, id) = running.connect(&seen).await;
        let session = server.session(id).unwrap();
        let key = String::from("room");
        assert!(server.channel(&key).join(&session, |_, _| {}));
        assert!(server.channel("room").contains(&session));
        assert!(server.channel(key.clone()).contains(&session));
        assert!(!server.channel("other").contains(&session));
        assert!(server.channel(&key).exit(&session));
        assert!(server.channel("room").is_empty());
        running.stop().await;
    }

    pub async fn members_come_in_join_order_after_leaves_and_rejoins<T: TestRuntime>() {
        let (recorder, seen) = Recorder::new::<T>(Echo::Conn);
        let running = Running::<T>::start(Config::default(), recorder).await;
        let server = running.server.clone();
        let (_clients, sessions) = running.connect_many(&seen, 4).await;
        let room = server.channel("room");
        // Joined in another order than they connected.
        for i in [2, 0, 3, 1] {
            assert!(room.join(&sessions[i], |_, _| {}));
        }
        let order =
            |room: &castnet_engine::Channel<T::Rt, castnet_core::frame::PacketN, String>| {
                room.members().iter().map(|s| s.id()).collect::<Vec<_>>()
            };
        let ids = |idx: &[usize]| idx.iter().map(|&i| sessions[i].id()).collect::<Vec<_>>();
        assert_eq!(order(&room), ids(&[2, 0, 3, 1]));
        // The first to join leaves, and comes back last.
        assert!(room.exit(&sessions[2]));
        assert_eq!(order(&room), ids(&[0, 3, 1]));
        assert!(room.join(&sessions[2], |_, _| {}));
        assert!(room.kick(&sessions[3]));
        assert_eq!(order(&room), ids(&[0, 1, 2]));
        running.stop().await;
    }
}
