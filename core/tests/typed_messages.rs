//! Typed messages (`Json`, `MsgPack`, `Xml`): any value of a struct
//! round-trips through a codec and `TypedFrame`, through each encoder entry
//! point (`encode_frame`, `encode`, `encode_to_vec`) alike; a value whose
//! serialisation fails is refused with `FrameError::Serialize` (its source
//! the serializer's error) and leaves nothing in a buffer or a session's
//! queue; a malformed payload is a typed `DecodeError`.
#![cfg(all(feature = "json", feature = "msgpack", feature = "xml"))]

use bytes::{Bytes, BytesMut};
use castnet_core::frame::{
    DecodeError, Decoder, Encoder, Format, FrameError, Json, LinesCodec, MsgPack, PacketN, Typed,
    TypedFrame, Xml,
};
use castnet_core::{SendError, Session, SessionConfig};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Player {
    name: String,
    id: u64,
    score: i32,
    online: bool,
    // XML writes a sequence as one element per item, so an empty one is no
    // element at all; and `None` as an empty element, which reads back as
    // `Some` of an empty value. Both as `Xml`'s docs advise.
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    position: Option<Point>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i16,
    y: i16,
}

/// Strings XML keeps as they are: no control characters (which XML 1.0
/// cannot carry), no surrounding whitespace (which the reader trims), and
/// the characters it must escape among them.
fn text() -> impl Strategy<Value = String> {
    "([a-zA-Z0-9<>&\"'_.-][a-zA-Z0-9 <>&\"'_.-]*[a-zA-Z0-9<>&\"'_.-])?"
}

fn player() -> impl Strategy<Value = Player> {
    (
        text(),
        any::<u64>(),
        any::<i32>(),
        any::<bool>(),
        prop::collection::vec(
            text().prop_filter("a tag is not empty", |t| !t.is_empty()),
            0..4,
        ),
        prop::option::of((any::<i16>(), any::<i16>()).prop_map(|(x, y)| Point { x, y })),
    )
        .prop_map(|(name, id, score, online, tags, position)| Player {
            name,
            id,
            score,
            online,
            tags,
            position,
        })
}

/// Encodes `msg` with each entry point of `codec`'s encoder, checks they
/// agree, and returns what a peer decodes from the wire.
fn through_codec<M: Clone>(codec: &mut PacketN, msg: M) -> Bytes
where
    PacketN: Encoder<M>,
{
    let mut wire = BytesMut::new();
    codec.encode(msg.clone(), &mut wire).unwrap();
    let mut vec = Vec::new();
    codec.encode_to_vec(msg.clone(), &mut vec).unwrap();
    let framed = codec.encode_frame(msg).unwrap().into_contiguous();
    assert_eq!(&wire[..], &vec[..]);
    assert_eq!(&wire[..], &framed[..]);
    let frame = codec.decode(&mut wire).unwrap().expect("a whole frame");
    assert!(wire.is_empty());
    frame
}

proptest! {
    #[test]
    fn json_round_trips(p in player()) {
        let frame = through_codec(&mut PacketN::default(), Json(p.clone()));
        prop_assert_eq!(frame.json::<Player>().unwrap(), p);
    }

    #[test]
    fn msgpack_round_trips(p in player()) {
        let frame = through_codec(&mut PacketN::default(), MsgPack(p.clone()));
        prop_assert_eq!(frame.msgpack::<Player>().unwrap(), p);
    }

    #[test]
    fn xml_round_trips(p in player()) {
        let frame = through_codec(&mut PacketN::default(), Xml(p.clone()));
        prop_assert_eq!(frame.xml::<Player>().unwrap(), p);
    }

    /// Compact JSON escapes line breaks, so a line codec carries it.
    #[test]
    fn json_round_trips_as_lines(p in player(), note in any::<String>()) {
        let mut codec = LinesCodec::new();
        let mut wire = BytesMut::new();
        codec.encode(Json((&p, &note)), &mut wire).unwrap();
        let line = codec.decode(&mut wire).unwrap().expect("a whole line");
        prop_assert_eq!(line.json::<(Player, String)>().unwrap(), (p, note));
    }
}

proptest! {
    /// A `Typed` codec hands over each frame as a value, and a frame that
    /// is not one as an `Err` item, after which it goes on decoding.
    #[test]
    fn a_typed_codec_decodes_values_and_malformed_frames_as_items(
        players in prop::collection::vec(player(), 1..5),
        junk_at in any::<prop::sample::Index>(),
    ) {
        let mut codec: Typed<PacketN, MsgPack<Player>> = Typed::default();
        let junk_at = junk_at.index(players.len() + 1);
        let mut wire = BytesMut::new();
        for (i, p) in players.iter().enumerate() {
            if i == junk_at {
                codec.encode(Json(p), &mut wire).unwrap();
            }
            codec.encode(MsgPack(p), &mut wire).unwrap();
        }
        if junk_at == players.len() {
            codec.encode(Bytes::from_static(b"\xc1"), &mut wire).unwrap();
        }
        let mut items = Vec::new();
        while let Some(item) = codec.decode_eof(&mut wire).unwrap() {
            items.push(item);
        }
        prop_assert_eq!(items.len(), players.len() + 1);
        let mut expected = players.iter();
        for (i, item) in items.into_iter().enumerate() {
            if i == junk_at {
                prop_assert!(matches!(item, Err(DecodeError::MsgPack(_))));
            } else {
                prop_assert_eq!(&item.unwrap(), expected.next().unwrap());
            }
        }
    }
}

/// A value whose `Serialize` always fails, as a custom impl may.
#[derive(Debug)]
struct Unserialisable;

impl Serialize for Unserialisable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("refused on purpose"))
    }
}

fn assert_refused(e: FrameError, format: Format) {
    let FrameError::Serialize(ref inner) = e else {
        panic!("expected FrameError::Serialize, got {e:?}");
    };
    assert_eq!(inner.format(), format);
    // The serializer's error is the source, and reachable as its own type.
    let source = std::error::Error::source(&e).expect("a source");
    assert_eq!(source.to_string(), inner.get_ref().to_string());
    match format {
        Format::Json => assert!(inner.downcast_ref::<serde_json::Error>().is_some()),
        Format::MsgPack => assert!(inner.downcast_ref::<rmp_serde::encode::Error>().is_some()),
        Format::Xml => assert!(inner.downcast_ref::<quick_xml::SeError>().is_some()),
        _ => unreachable!(),
    }
}

/// Every encoder entry point refuses, and leaves its buffer as it was.
fn refused_everywhere<M>(msg: impl Fn() -> M, format: Format)
where
    PacketN: Encoder<M>,
{
    let mut codec = PacketN::default();
    assert_refused(codec.encode_frame(msg()).unwrap_err(), format);
    let mut wire = BytesMut::from(&b"before"[..]);
    assert_refused(codec.encode(msg(), &mut wire).unwrap_err(), format);
    assert_eq!(&wire[..], b"before");
    let mut vec = b"before".to_vec();
    assert_refused(codec.encode_to_vec(msg(), &mut vec).unwrap_err(), format);
    assert_eq!(vec, b"before");
}

#[test]
fn a_value_that_cannot_be_serialised_is_refused_by_every_encoder_entry_point() {
    let e = PacketN::default()
        .encode_frame(Json(Unserialisable))
        .unwrap_err();
    assert!(e.to_string().contains("refused on purpose"), "{e}");
    refused_everywhere(|| Json(Unserialisable), Format::Json);
    refused_everywhere(|| MsgPack(Unserialisable), Format::MsgPack);
    refused_everywhere(|| Xml(Unserialisable), Format::Xml);
    // JSON object keys must be strings.
    let by_point = || Json(BTreeMap::from([((1, 2), "a")]));
    refused_everywhere(by_point, Format::Json);
    // An XML document needs a named root element.
    refused_everywhere(|| Xml(7u32), Format::Xml);
}

#[test]
fn a_session_refuses_a_message_it_cannot_serialise_and_queues_nothing() {
    #[allow(clippy::disallowed_methods)] // an arbitrary origin: the clock is never read again
    let now = Instant::now();
    let mut session = Session::new(PacketN::default(), SessionConfig::default(), now);
    match session.send(Json(Unserialisable), now) {
        Err(SendError::Frame(e)) => assert_refused(e, Format::Json),
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    match session.reply(MsgPack(Unserialisable), now) {
        Err(SendError::Frame(e)) => assert_refused(e, Format::MsgPack),
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    assert_eq!(session.queued_bytes(), 0);
    assert_eq!(session.queued_frames(), 0);
    // The session goes on: the next message is queued whole.
    session.reply(Json("next"), now).unwrap();
    assert_eq!(session.queued_bytes(), 4 + br#""next""#.len());
}

#[test]
fn a_malformed_payload_is_a_typed_decode_error() {
    let not_json = Bytes::from_static(b"{\"name\":");
    let e = not_json.json::<Player>().unwrap_err();
    assert!(matches!(e, DecodeError::Json(_)));
    assert_eq!(e.format(), Format::Json);
    assert!(std::error::Error::source(&e).is_some());

    // A map where a struct's fields are expected, but missing them.
    let e = Bytes::from(rmp_serde::to_vec_named(&Point { x: 1, y: 2 }).unwrap())
        .msgpack::<Player>()
        .unwrap_err();
    assert!(matches!(e, DecodeError::MsgPack(_)));

    let e = Bytes::from_static(b"<Player><name>x</nam")
        .xml::<Player>()
        .unwrap_err();
    assert!(matches!(e, DecodeError::Xml(_)));
    let e = Bytes::from_static(b"<Point><x>\xff</x></Point>")
        .xml::<Point>()
        .unwrap_err();
    assert!(matches!(e, DecodeError::XmlNotUtf8(_)));
    assert_eq!(e.format(), Format::Xml);
}

#[test]
fn a_borrowed_value_is_sent_and_read_back_borrowing_from_the_frame() {
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Hello<'a> {
        name: &'a str,
    }
    let name = String::from("ada");
    let frame = through_codec(&mut PacketN::default(), Json(&Hello { name: &name }));
    let hello: Hello<'_> = frame.json().unwrap();
    assert_eq!(hello, Hello { name: "ada" });
}

#[test]
fn a_typed_codec_reports_its_inner_codec_s_lengths_and_both_errors_show_what_they_are() {
    let payload = Bytes::from_static(b"{\"x\":1}");
    let typed: Typed<PacketN, Json<Player>> = Typed::default();
    // The session packs small frames by this length, as for the inner codec.
    assert_eq!(
        typed.encoded_len(&payload),
        PacketN::default().encoded_len(&payload)
    );
    assert_eq!(typed.encoded_len(&payload), Some(4 + payload.len()));
    let mut typed = typed;
    let mut packed = b"run:".to_vec();
    typed.encode_to_vec(payload.clone(), &mut packed).unwrap();
    let mut expected = b"run:".to_vec();
    PacketN::default()
        .encode_to_vec(payload.clone(), &mut expected)
        .unwrap();
    assert_eq!(packed, expected);
    let shown = format!("{typed:?}");
    assert!(
        shown.contains("Typed") && shown.contains("Player"),
        "{shown}"
    );
    let FrameError::Serialize(e) = PacketN::default()
        .encode_frame(Json(Unserialisable))
        .unwrap_err()
    else {
        panic!("expected a serialise error");
    };
    let shown = format!("{e:?}");
    assert!(
        shown.contains("Json") && shown.contains("refused on purpose"),
        "{shown}"
    );
}
