//! Typed messages (`Json`, `MsgPack`, `Xml`) over a real connection: sent
//! both ways with every send form, read back with `TypedFrame`, broadcast
//! serialised once whatever the number of sessions; a malformed frame is a
//! typed error that leaves the session open; a message that cannot be
//! serialised is refused on every path and nothing reaches the wire; a
//! `Typed` codec hands values (or typed errors) to a handler and to `recv`.

use crate::rt::spawn;
use crate::support::{wait_until, within, Running};
use crate::TestRuntime;
use bytes::Bytes;
use castnet_core::frame::{
    DecodeError, Format, FrameError, Json, MsgPack, PacketN, Typed, TypedFrame, Xml,
};
use castnet_engine::{
    handler_fn, Conn, LocalAddr, SendError, SendWorkError, Session, TrySendError,
};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Request {
    seq: u32,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reply {
    seq: u32,
    text: String,
    format: String,
}

/// Reads a frame as whichever format it is in (their encodings of these
/// types never parse as one another).
fn read_any(frame: &Bytes) -> Result<(Request, Format), DecodeError> {
    frame
        .json()
        .map(|r| (r, Format::Json))
        .or_else(|_| frame.msgpack().map(|r| (r, Format::MsgPack)))
        .or_else(|_| frame.xml().map(|r| (r, Format::Xml)))
}

/// Replies to a request in the format it came in, through `Conn::send`. A
/// frame that is no request gets a JSON reply saying so, and the session
/// stays open (the handler does not choose to close it).
fn typed_server(cx: &mut Conn<'_, PacketN>, frame: Bytes) {
    let (req, format) = match read_any(&frame) {
        Ok(ok) => ok,
        Err(e) => {
            assert_eq!(e.format(), Format::Xml, "the last format tried");
            let _ = cx.send(Json(Reply {
                seq: 0,
                text: "malformed".into(),
                format: e.format().to_string(),
            }));
            return;
        }
    };
    let reply = Reply {
        seq: req.seq * 2,
        text: req.text.to_uppercase(),
        format: format.to_string(),
    };
    let sent = match format {
        Format::Json => cx.send(Json(reply)).map_err(|_| ()),
        Format::MsgPack => cx.send(MsgPack(reply)).map_err(|_| ()),
        _ => cx.send(Xml(reply)).map_err(|_| ()),
    };
    sent.expect("a reply to an open session");
}

fn request(seq: u32) -> Request {
    Request {
        seq,
        text: format!("hello {seq}"),
    }
}

fn expected(seq: u32, format: Format) -> Reply {
    Reply {
        seq: seq * 2,
        text: format!("HELLO {seq}"),
        format: format.to_string(),
    }
}

async fn next(client: &Session<PacketN>) -> Bytes {
    client
        .recv()
        .await
        .expect("a frame before the session closed")
}

/// A value that counts how often it is serialised.
#[derive(Clone)]
struct Counted {
    news: &'static str,
    serialised: Arc<AtomicUsize>,
}

impl Serialize for Counted {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialised.fetch_add(1, Ordering::SeqCst);
        #[derive(Serialize)]
        struct News<'a> {
            news: &'a str,
        }
        News { news: self.news }.serialize(s)
    }
}

#[derive(Debug, PartialEq, Deserialize)]
struct News {
    news: String,
}

pub async fn typed_messages_go_both_ways_with_every_send_form_and_broadcasts_serialise_once<
    T: TestRuntime,
>() {
    let running = Running::<T>::start(Default::default(), handler_fn(typed_server)).await;
    let server = running.server.clone();
    let client = running.dial().await;

    // Client to server with each send form, server to client with
    // `Conn::send`, in each format.
    client.send(Json(request(1))).await.unwrap();
    assert_eq!(
        next(&client).await.json::<Reply>().unwrap(),
        expected(1, Format::Json)
    );
    client.try_send(MsgPack(request(2))).unwrap();
    let reply = next(&client).await;
    assert_eq!(
        reply.msgpack::<Reply>().unwrap(),
        expected(2, Format::MsgPack)
    );
    client.async_send(Xml(&request(3))).await.unwrap();
    assert_eq!(
        next(&client).await.xml::<Reply>().unwrap(),
        expected(3, Format::Xml)
    );

    // A malformed frame is a typed error for the handler; the session stays
    // open and the next message is answered.
    client
        .send(Bytes::from_static(b"no message"))
        .await
        .unwrap();
    let reply: Reply = next(&client).await.json().unwrap();
    assert_eq!(
        (reply.text.as_str(), reply.format.as_str()),
        ("malformed", "XML")
    );
    client.send(Json(request(4))).await.unwrap();
    assert_eq!(
        next(&client).await.json::<Reply>().unwrap(),
        expected(4, Format::Json)
    );
    assert!(!client.is_closed());

    // Server to client through the server's handle of the session.
    let handle = server.sessions().pop().expect("the client's session");
    handle.send(Xml(request(5))).await.unwrap();
    assert_eq!(next(&client).await.xml::<Request>().unwrap(), request(5));

    // Broadcasts to several sessions serialise the value once each.
    let mut clients = vec![client];
    for _ in 0..3 {
        clients.push(running.dial().await);
    }
    wait_until::<T>("every session open", || server.session_count() == 4).await;
    let serialised = Arc::new(AtomicUsize::new(0));
    let counted = |news| Counted {
        news,
        serialised: serialised.clone(),
    };
    let report = server.broadcast(Json(counted("json"))).unwrap().await;
    assert_eq!(report.counts().sent, 4);
    assert_eq!(serialised.load(Ordering::SeqCst), 1);
    let room = server.channel("room".to_string());
    for session in server.sessions() {
        assert!(room.join(&session, |_, _| {}));
    }
    let report = room.broadcast(MsgPack(counted("msgpack"))).unwrap().await;
    assert_eq!(report.counts().sent, 4);
    assert_eq!(serialised.load(Ordering::SeqCst), 2);
    assert_eq!(server.broadcast_detached(Xml(counted("xml"))).unwrap(), 4);
    assert_eq!(serialised.load(Ordering::SeqCst), 3);
    for client in &clients {
        let news = |s: &str| News { news: s.into() };
        assert_eq!(next(client).await.json::<News>().unwrap(), news("json"));
        assert_eq!(
            next(client).await.msgpack::<News>().unwrap(),
            news("msgpack")
        );
        assert_eq!(next(client).await.xml::<News>().unwrap(), news("xml"));
    }
    running.stop().await;
}

/// A value whose `Serialize` always fails.
#[derive(Debug)]
struct Unserialisable;

impl Serialize for Unserialisable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refused on purpose"))
    }
}

fn is_serialize(e: &FrameError, format: Format) -> bool {
    matches!(e, FrameError::Serialize(s) if s.format() == format)
}

pub async fn a_typed_message_that_cannot_be_serialised_is_refused_on_every_path_and_nothing_is_sent<
    T: TestRuntime,
>() {
    // The handler's reply that cannot be serialised is refused at once with
    // the typed error; it then says so with a message that can.
    let running = Running::<T>::start(
        Default::default(),
        handler_fn(|cx: &mut Conn<'_, PacketN>, _frame: Bytes| {
            let refused = match cx.send(Json(Unserialisable)) {
                Err(SendError::Frame(e)) => is_serialize(&e, Format::Json),
                _ => false,
            };
            let _ = cx.send(Json(refused));
        }),
    )
    .await;
    let server = running.server.clone();
    let client = running.dial().await;

    assert!(matches!(
        client.try_send(Json(Unserialisable)),
        Err(TrySendError::Frame(e)) if is_serialize(&e, Format::Json)
    ));
    assert!(matches!(
        client.send(MsgPack(Unserialisable)).await,
        Err(SendError::Frame(e)) if is_serialize(&e, Format::MsgPack)
    ));
    assert!(matches!(
        client.async_send(Xml(Unserialisable)).await,
        Err(SendWorkError::Frame(e)) if is_serialize(&e, Format::Xml)
    ));
    // Nothing reached the server: its first frame is this one, and the
    // handler's refused reply left only the reply after it on the wire.
    client.send("go").await.unwrap();
    assert!(next(&client).await.json::<bool>().unwrap());
    wait_until::<T>("the frame is counted", || server.stats().frames_in >= 1).await;
    assert_eq!(server.stats().frames_in, 1);

    // Broadcasts refuse it before any session is handed anything.
    let room = server.channel("room".to_string());
    for session in server.sessions() {
        assert!(room.join(&session, |_, _| {}));
    }
    assert!(
        matches!(server.broadcast(Json(Unserialisable)), Err(e) if is_serialize(&e, Format::Json))
    );
    assert!(
        matches!(room.broadcast(MsgPack(Unserialisable)), Err(e) if is_serialize(&e, Format::MsgPack))
    );
    assert!(
        matches!(server.broadcast_detached(Xml(Unserialisable)), Err(e) if is_serialize(&e, Format::Xml))
    );
    assert!(
        matches!(room.broadcast_detached(Json(Unserialisable)), Err(e) if is_serialize(&e, Format::Json))
    );
    // The next frame the client gets is the one after them.
    server.broadcast(Json("after")).unwrap().await;
    assert_eq!(next(&client).await.json::<String>().unwrap(), "after");
    wait_until::<T>("the frames are counted", || server.stats().frames_out >= 2).await;
    assert_eq!(server.stats().frames_out, 2);
    running.stop().await;
}

pub async fn a_typed_codec_hands_values_to_handler_and_recv_and_malformed_frames_as_errors<
    T: TestRuntime,
>() {
    type Requests = Typed<PacketN, Json<Request>>;
    type Replies = Typed<PacketN, Json<Reply>>;
    let server = castnet_engine::Server::<T::Rt, Requests>::bind(
        "127.0.0.1:0",
        castnet_engine::Config::new(Requests::default()),
    )
    .await
    .unwrap();
    let handler = handler_fn(
        |cx: &mut Conn<'_, Requests>, req: Result<Request, DecodeError>| {
            let reply = match req {
                Ok(req) => Reply {
                    seq: req.seq * 2,
                    text: req.text.to_uppercase(),
                    format: "JSON".into(),
                },
                Err(e) => Reply {
                    seq: 0,
                    text: "malformed".into(),
                    format: e.format().to_string(),
                },
            };
            cx.send(Json(reply)).expect("a reply to an open session");
        },
    );
    let serving = server.clone();
    let serve = spawn::<T, _>(async move { serving.serve(handler).await });
    let LocalAddr::Tcp(addr) = *server.local_addr() else {
        panic!("a TCP server")
    };
    let client = castnet_engine::dial_with(
        &T::Rt::default(),
        addr,
        castnet_engine::Config::new(Replies::default()),
    )
    .await
    .unwrap();

    client.send(Json(request(1))).await.unwrap();
    let reply = client.recv().await.expect("a reply");
    assert_eq!(reply.unwrap(), expected(1, Format::Json));
    // A frame that is no request reaches the handler as a typed error; the
    // session stays open and the next request is answered.
    client.send(Bytes::from_static(b"[1, 2")).await.unwrap();
    let reply = client.recv().await.expect("a reply").unwrap();
    assert_eq!(
        (reply.text.as_str(), reply.format.as_str()),
        ("malformed", "JSON")
    );
    client.send(Json(request(2))).await.unwrap();
    assert_eq!(
        client.recv().await.expect("a reply").unwrap(),
        expected(2, Format::Json)
    );
    // The client's codec hands over what is not a reply as an error too.
    let handle = server.sessions().pop().expect("the client's session");
    handle.send(Json("not a reply")).await.unwrap();
    assert!(matches!(
        client.recv().await.expect("a frame"),
        Err(DecodeError::Json(_))
    ));
    assert!(!client.is_closed() && !handle.is_closed());

    server.stop().await;
    within::<T, _>("serve to return after stop", serve.join())
        .await
        .expect("serve failed");
}
