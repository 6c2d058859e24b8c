//! Every runtime pair talks: a server on one runtime (tokio, smol, std),
//! clients on another, in one process, for every PacketN header size and
//! byte order and for the varint codec: echoes, a channel broadcast that
//! reaches every member, and a kick whose callback closes the kicked session
//! on the server's runtime while the other member goes on receiving. With
//! varint framing, echoes straddle the 1/2/3-byte prefix edges (127/128,
//! 16383/16384), and a frame one byte over the server's maximum ends that
//! client's connection while one of exactly the maximum is echoed.
//!
//! `custom_event_loop` as a server is covered where its binary is built
//! (castnet-examples' `custom_loop_serves_every_runtime.rs`).

use bytes::Bytes;
use castnet_core::frame::{ByteOrder, Decoder, Encoder, HeaderLen, PacketN, VarintCodec};
use castnet_engine::{Config, Conn, Handler, LocalAddr, Runtime, Session};
use castnet_tests::support::{within, LIMIT};
use castnet_tests::{Smol, Std, TestRuntime, Tokio};
use std::net::SocketAddr;

/// Runs `body` for the pair `S` (server) × `C` (client) on a thread of its
/// own within [`LIMIT`]. Tokio is live throughout (entered on the thread),
/// whichever side uses it: its sockets register with its reactor, and its
/// tasks spawn onto it, from any runtime's task.
fn pair<S: TestRuntime, C: TestRuntime>() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a Tokio runtime");
        let _entered = tokio.enter();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let body = every_codec::<S, C>();
            if C::NAME == Tokio::NAME {
                tokio.block_on(body)
            } else {
                C::block_on(body)
            }
        }));
        let _ = tx.send(result);
    });
    match rx.recv_timeout(LIMIT) {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{} × {} did not finish within {LIMIT:?}", S::NAME, C::NAME),
    }
}

/// Echoes, except `kick me`: the session is kicked from the room, and the
/// kick callback closes it.
struct Room<R: Runtime, K: Codec> {
    server: castnet_engine::Server<R, K>,
}

/// What the exchange needs of a codec: byte frames both ways.
trait Codec: Decoder<Item = Bytes> + Encoder<Bytes> + Clone + Send + Sync + 'static {}

impl<K> Codec for K where K: Decoder<Item = Bytes> + Encoder<Bytes> + Clone + Send + Sync + 'static {}

impl<R: Runtime, K: Codec> Handler<K> for Room<R, K> {
    fn on_open(&self, cx: &mut Conn<'_, K>) {
        self.server
            .channel("room".to_string())
            .join(cx.session(), |session, _| session.close());
    }

    fn on_frame(&self, cx: &mut Conn<'_, K>, frame: Bytes) {
        if &frame[..] == b"kick me" {
            self.server.channel("room".to_string()).kick(cx.session());
        } else {
            let _ = cx.send(frame);
        }
    }
}

async fn every_codec<S: TestRuntime, C: TestRuntime>() {
    for header in [
        HeaderLen::One,
        HeaderLen::Two,
        HeaderLen::Four,
        HeaderLen::Eight,
    ] {
        for order in [ByteOrder::Big, ByteOrder::Little] {
            let codec = PacketN::builder()
                .header_len(header)
                .byte_order(order)
                .build()
                .expect("a codec");
            // Echoes of every size the header can carry (up to 255 for one byte).
            exchange::<S, C, _>(codec.clone(), codec, &[0, 1, 100, 255], None)
                .await
                .unwrap_or_else(|e| panic!("{header:?}/{order:?}: {e}"));
        }
    }
    // Varint: lengths on both sides of the one-, two- and three-byte prefix
    // edges; the server's maximum is 20,000, the client's the default.
    let server = VarintCodec::builder().max_frame_len(VARINT_MAX).build();
    let lens = [0, 1, 127, 128, 16_383, 16_384];
    exchange::<S, C, _>(server, VarintCodec::new(), &lens, Some(VARINT_MAX as usize))
        .await
        .unwrap_or_else(|e| panic!("varint: {e}"));
}

/// The varint server's maximum frame length.
const VARINT_MAX: u64 = 20_000;

/// Echoes of `lens` bytes, broadcasts and a kick between a server with
/// `server_codec` and clients with `client_codec`; then, with `max`, a
/// frame of `max` bytes echoed and one of `max + 1` refused by the server,
/// which ends that client's connection.
async fn exchange<S: TestRuntime, C: TestRuntime, K: Codec>(
    server_codec: K,
    codec: K,
    lens: &[usize],
    max: Option<usize>,
) -> Result<(), String> {
    let server = castnet_engine::Server::<S::Rt, K>::bind_with(
        S::Rt::default(),
        "127.0.0.1:0",
        Config::new(server_codec),
    )
    .map_err(|e| format!("bind: {e}"))?;
    let addr: SocketAddr = match server.local_addr() {
        LocalAddr::Tcp(addr) => *addr,
        other => return Err(format!("not TCP: {other}")),
    };
    let serving = server.clone();
    let handler = Room {
        server: server.clone(),
    };
    S::Rt::default().spawn(async move {
        let _ = serving.serve(handler).await;
    });

    let client_rt = C::Rt::default();
    let dial = || castnet_engine::dial_with(&client_rt, addr, Config::new(codec.clone()));
    let stays: Session<K> = dial().await.map_err(|e| format!("dial: {e}"))?;
    let kicked: Session<K> = dial().await.map_err(|e| format!("dial: {e}"))?;
    for (i, &len) in lens.iter().enumerate() {
        let payload = Bytes::from(vec![i as u8; len]);
        for client in [&stays, &kicked] {
            client
                .send(payload.clone())
                .await
                .map_err(|e| e.to_string())?;
            let echo = within::<C, _>("an echo", client.recv()).await;
            if echo.as_ref() != Some(&payload) {
                return Err(format!("echo of {len} bytes: {echo:?}"));
            }
        }
    }
    // Both members (joined on open, which the echoes followed).
    let room = server.channel("room".to_string());
    let report = room
        .broadcast(Bytes::from_static(b"to the room"))
        .map_err(|e| e.to_string())?
        .wait()
        .await;
    if report.counts().sent != 2 {
        return Err(format!("broadcast: {:?}", report.counts()));
    }
    for client in [&stays, &kicked] {
        let got = within::<C, _>("the broadcast", client.recv()).await;
        if got.as_deref() != Some(&b"to the room"[..]) {
            return Err(format!("broadcast received: {got:?}"));
        }
    }
    // The kick callback closes the kicked session: its client sees the end.
    kicked
        .send(Bytes::from_static(b"kick me"))
        .await
        .map_err(|e| e.to_string())?;
    let end = within::<C, _>("the kicked session's end", kicked.recv()).await;
    if end.is_some() {
        return Err(format!("the kicked client got {end:?} instead of the end"));
    }
    let report = room
        .broadcast(Bytes::from_static(b"after the kick"))
        .map_err(|e| e.to_string())?
        .wait()
        .await;
    if report.len() != 1 || report.counts().sent != 1 {
        return Err(format!("broadcast after the kick: {:?}", report.counts()));
    }
    let got = within::<C, _>("the second broadcast", stays.recv()).await;
    if got.as_deref() != Some(&b"after the kick"[..]) {
        return Err(format!("second broadcast: {got:?}"));
    }
    if let Some(max) = max {
        let oversized: Session<K> = dial().await.map_err(|e| format!("dial: {e}"))?;
        let at_max = Bytes::from(vec![0x6d; max]);
        oversized
            .send(at_max.clone())
            .await
            .map_err(|e| e.to_string())?;
        let echo = within::<C, _>("the echo of a maximal frame", oversized.recv()).await;
        if echo.as_ref() != Some(&at_max) {
            return Err(format!("echo of {max} bytes: {:?}", echo.map(|e| e.len())));
        }
        // The client's own limit is higher: the server refuses it on arrival.
        let over = Bytes::from(vec![0x6f; max + 1]);
        oversized.send(over).await.map_err(|e| e.to_string())?;
        let end = within::<C, _>("the end after an oversized frame", oversized.recv()).await;
        if let Some(frame) = end {
            return Err(format!(
                "a frame over the max got {} bytes back",
                frame.len()
            ));
        }
        // Nobody else was affected.
        stays
            .send(Bytes::from_static(b"still here"))
            .await
            .map_err(|e| e.to_string())?;
        let echo = within::<C, _>("an echo after the refusal", stays.recv()).await;
        if echo.as_deref() != Some(&b"still here"[..]) {
            return Err(format!("echo after the refusal: {echo:?}"));
        }
    }
    within::<C, _>("the server to stop", server.stop()).await;
    Ok(())
}

macro_rules! pairs {
    ($($name:ident: $server:ty => $client:ty,)*) => {
        $(
            #[test]
            fn $name() {
                pair::<$server, $client>();
            }
        )*
    };
}

pairs! {
    tokio_server_tokio_clients: Tokio => Tokio,
    tokio_server_smol_clients: Tokio => Smol,
    tokio_server_std_clients: Tokio => Std,
    smol_server_tokio_clients: Smol => Tokio,
    smol_server_smol_clients: Smol => Smol,
    smol_server_std_clients: Smol => Std,
    std_server_tokio_clients: Std => Tokio,
    std_server_smol_clients: Std => Smol,
    std_server_std_clients: Std => Std,
}
