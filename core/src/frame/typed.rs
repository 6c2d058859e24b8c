//! Typed messages: serde values sent as `Json`, `MsgPack` or `Xml`
//! payloads through any codec that encodes `Bytes`, and read back from a
//! frame with `TypedFrame`, or by a `Typed` codec whose items are values.
//!
//! Each format is behind its own cargo feature (`json`, `msgpack`, `xml`);
//! [`Format`] and [`SerializeError`] are always there, so a codec of your own
//! can report a serialisation failure the same way.
//!
//! The encoders are one blanket impl per wrapper: every `C: Encoder<Bytes>`
//! is an `Encoder<Json<T>>` (and so on), built-in or yours. So a codec of
//! yours that encodes `Bytes` gets them for free, and cannot implement
//! `Encoder<Json<T>>` itself; a codec that does not encode `Bytes`
//! (`Utf8LinesCodec` encodes strings only) can, with [`SerializeError`] for
//! its failures.

use super::FrameError;
#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
use super::{EncodedFrame, Encoder};
#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
use bytes::{Bytes, BytesMut};
use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// A serialisation format of typed messages.
///
/// ```
/// use castnet_core::frame::Format;
///
/// assert_eq!(Format::MsgPack.to_string(), "MessagePack");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// JSON (`serde_json`), the `Json` wrapper.
    Json,
    /// MessagePack (`rmp-serde`), the `MsgPack` wrapper.
    MsgPack,
    /// XML (`quick-xml`), the `Xml` wrapper.
    Xml,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Json => "JSON",
            Format::MsgPack => "MessagePack",
            Format::Xml => "XML",
        })
    }
}

/// A typed message could not be serialised, so it was refused before
/// anything was queued or written: the payload of
/// [`FrameError::Serialize`].
///
/// Its [`source`](Error::source) is the serializer's own error
/// (`serde_json::Error`, `rmp_serde::encode::Error`, `quick_xml::SeError`),
/// which [`downcast_ref`](Self::downcast_ref) recovers. It is cheap to clone
/// (the error is shared), as [`FrameError`] is.
///
/// ```
/// use castnet_core::frame::{Format, SerializeError};
/// use std::error::Error;
///
/// // What a codec of your own would return when its serializer fails.
/// let io = std::io::Error::other("no room");
/// let e = SerializeError::new(Format::Json, io);
/// assert_eq!(e.format(), Format::Json);
/// assert!(e.downcast_ref::<std::io::Error>().is_some());
/// assert_eq!(e.source().unwrap().to_string(), "no room");
/// assert_eq!(e.to_string(), "cannot serialise the message as JSON: no room");
/// ```
#[derive(Clone)]
pub struct SerializeError {
    format: Format,
    error: Arc<dyn Error + Send + Sync + 'static>,
}

impl SerializeError {
    /// The error of serialising a message in `format`.
    pub fn new<E>(format: Format, error: E) -> Self
    where
        E: Error + Send + Sync + 'static,
    {
        SerializeError {
            format,
            error: Arc::new(error),
        }
    }

    /// The format the message was being serialised in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The serializer's error.
    pub fn get_ref(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.error
    }

    /// The serializer's error as its concrete type (`serde_json::Error`, for
    /// instance), if it is one.
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        self.error.downcast_ref()
    }
}

impl fmt::Debug for SerializeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SerializeError")
            .field("format", &self.format)
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Display for SerializeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot serialise the message as {}: {}",
            self.format, self.error
        )
    }
}

/// `?` in an encoder turns a serialisation failure into its [`FrameError`].
///
/// ```
/// use castnet_core::frame::{Format, FrameError, SerializeError};
///
/// fn encode() -> Result<(), FrameError> {
///     Err(SerializeError::new(Format::Json, std::fmt::Error))?
/// }
/// assert!(matches!(encode(), Err(FrameError::Serialize(_))));
/// ```
impl From<SerializeError> for FrameError {
    fn from(e: SerializeError) -> Self {
        FrameError::Serialize(e)
    }
}

impl Error for SerializeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.error)
    }
}

/// Declares a typed message wrapper and its encoder for every codec that
/// encodes `Bytes`: the value is serialised once into the payload, and a
/// serialisation error is refused as [`FrameError::Serialize`] before the
/// codec sees anything.
macro_rules! typed_message {
    (
        $(#[$doc:meta])*
        $name:ident, $feature:literal, $format:expr, |$value:ident| $serialise:expr
    ) => {
        $(#[$doc])*
        #[cfg(feature = $feature)]
        #[cfg_attr(docsrs, doc(cfg(feature = $feature)))]
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name<T>(pub T);

        #[cfg(feature = $feature)]
        impl<T> $name<T> {
            /// The wrapped value.
            ///
            /// ```
            #[doc = concat!("use castnet_core::frame::", stringify!($name), ";")]
            ///
            #[doc = concat!("assert_eq!(", stringify!($name), "(\"hi\").into_inner(), \"hi\");")]
            /// ```
            pub fn into_inner(self) -> T {
                self.0
            }

            /// Serialises the value into a payload (what the encoders put
            /// in a frame, after the codec's header), refusing it with
            /// [`FrameError::Serialize`].
            ///
            /// ```
            #[doc = concat!("use castnet_core::frame::{", stringify!($name), ", FrameError};")]
            ///
            /// #[derive(serde::Serialize)]
            /// struct Ping { seq: u32 }
            ///
            /// struct Broken;
            /// impl serde::Serialize for Broken {
            ///     fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            ///         Err(serde::ser::Error::custom("no"))
            ///     }
            /// }
            ///
            #[doc = concat!("assert!(!", stringify!($name), "(Ping { seq: 1 }).to_payload().unwrap().is_empty());")]
            #[doc = concat!("let refused = ", stringify!($name), "(Broken).to_payload();")]
            /// assert!(matches!(refused, Err(FrameError::Serialize(_))));
            /// ```
            pub fn to_payload(&self) -> Result<Bytes, FrameError>
            where
                T: serde::Serialize,
            {
                let $value = &self.0;
                $serialise
                    .map(Bytes::from)
                    .map_err(|e| SerializeError::new($format, e).into())
            }
        }

        #[cfg(feature = $feature)]
        impl<C, T> Encoder<$name<T>> for C
        where
            C: Encoder<Bytes> + ?Sized,
            T: serde::Serialize,
        {
            fn encode_frame(&mut self, msg: $name<T>) -> Result<EncodedFrame, FrameError> {
                let payload = msg.to_payload()?;
                Encoder::<Bytes>::encode_frame(self, payload)
            }

            fn encode(&mut self, msg: $name<T>, dst: &mut BytesMut) -> Result<(), FrameError> {
                let payload = msg.to_payload()?;
                Encoder::<Bytes>::encode(self, payload, dst)
            }

            fn encode_to_vec(&mut self, msg: $name<T>, dst: &mut Vec<u8>) -> Result<(), FrameError> {
                let payload = msg.to_payload()?;
                Encoder::<Bytes>::encode_to_vec(self, payload, dst)
            }
        }
    };
}

typed_message! {
    /// A value sent as a JSON payload (`serde_json`, compact): go-libnet's
    /// `Json` codec. Feature `json`.
    ///
    /// Every codec that encodes [`Bytes`] (all the built-in byte codecs,
    /// and yours) encodes `Json<T>` for any `T: Serialize`, so a session's
    /// `send`, `try_send`, `async_send`, a handler's `cx.send` and every
    /// broadcast take it as they take bytes. The value is serialised once
    /// per send, and once per broadcast however many sessions get it.
    /// `Json(&value)` sends a borrowed value. A value that cannot be
    /// serialised (a map with non-string keys, a failing `Serialize`) is
    /// refused with [`FrameError::Serialize`] and nothing is queued.
    /// Read it back with [`TypedFrame::json`].
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use castnet_core::frame::{Decoder, Encoder, Json, PacketN, TypedFrame};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Debug, PartialEq, Serialize, Deserialize)]
    /// struct Move { x: i32, y: i32 }
    ///
    /// let mut codec = PacketN::default();
    /// let mut wire = BytesMut::new();
    /// codec.encode(Json(Move { x: 3, y: -1 }), &mut wire).unwrap();
    /// assert_eq!(&wire[4..], br#"{"x":3,"y":-1}"#);
    ///
    /// let frame = codec.decode(&mut wire).unwrap().unwrap();
    /// assert_eq!(frame.json::<Move>().unwrap(), Move { x: 3, y: -1 });
    /// ```
    Json, "json", Format::Json, |value| serde_json::to_vec(value)
}

typed_message! {
    /// A value sent as a MessagePack payload (`rmp-serde`): the compact,
    /// self-describing binary counterpart of go-libnet's `Gob` codec.
    /// Feature `msgpack`.
    ///
    /// Structs are written as maps keyed by field name
    /// (`rmp_serde::to_vec_named`), so a peer may add or reorder fields.
    /// Everything said of `Json` holds: any codec that encodes [`Bytes`]
    /// encodes it, it is serialised once per send or broadcast, and a value
    /// that cannot be serialised is refused with [`FrameError::Serialize`].
    /// Read it back with [`TypedFrame::msgpack`].
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use castnet_core::frame::{Decoder, Encoder, MsgPack, PacketN, TypedFrame};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Debug, PartialEq, Serialize, Deserialize)]
    /// struct Move { x: i32, y: i32 }
    ///
    /// let mut codec = PacketN::default();
    /// let mut wire = BytesMut::new();
    /// codec.encode(MsgPack(Move { x: 3, y: -1 }), &mut wire).unwrap();
    /// let frame = codec.decode(&mut wire).unwrap().unwrap();
    /// assert_eq!(frame.msgpack::<Move>().unwrap(), Move { x: 3, y: -1 });
    /// ```
    MsgPack, "msgpack", Format::MsgPack, |value| rmp_serde::to_vec_named(value)
}

typed_message! {
    /// A value sent as an XML payload (`quick-xml`): go-libnet's `Xml`
    /// codec. Feature `xml`.
    ///
    /// The value is the document's root element, named after its type (a
    /// struct `Move` is `<Move>..</Move>`); a value with no name of its own
    /// (a number, a sequence, a map) cannot be a document and is refused with
    /// [`FrameError::Serialize`], as is any value that cannot be
    /// serialised. Everything else said of `Json` holds. Read it back with
    /// [`TypedFrame::xml`].
    ///
    /// XML has no `null`: an `Option` field that is `None` is written as an
    /// empty element, which reads back as `Some` of an empty value (or fails);
    /// mark such fields `#[serde(default, skip_serializing_if =
    /// "Option::is_none")]`. A sequence is one element per item, so an empty
    /// one is no element at all: mark it `#[serde(default)]`. Text is read back without surrounding
    /// whitespace, and characters XML 1.0 cannot carry (most control
    /// characters) do not come back.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use castnet_core::frame::{Decoder, Encoder, PacketN, TypedFrame, Xml};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Debug, PartialEq, Serialize, Deserialize)]
    /// struct Move { x: i32, y: i32 }
    ///
    /// let mut codec = PacketN::default();
    /// let mut wire = BytesMut::new();
    /// codec.encode(Xml(Move { x: 3, y: -1 }), &mut wire).unwrap();
    /// assert_eq!(&wire[4..], b"<Move><x>3</x><y>-1</y></Move>");
    ///
    /// let frame = codec.decode(&mut wire).unwrap().unwrap();
    /// assert_eq!(frame.xml::<Move>().unwrap(), Move { x: 3, y: -1 });
    /// ```
    Xml, "xml", Format::Xml, |value| quick_xml::se::to_string(value)
}

/// A frame's payload could not be read as the typed message asked for:
/// what [`TypedFrame`]'s methods return. The source is the deserializer's
/// own error.
///
/// It concerns one frame only: the session stays open, and the handler
/// decides what a malformed message means (reply with an error, skip it, or
/// close the session).
///
/// ```
/// # #[cfg(feature = "json")] {
/// use bytes::Bytes;
/// use castnet_core::frame::{DecodeError, Format, TypedFrame};
///
/// let frame = Bytes::from_static(b"{\"x\": 3,");
/// let err = frame.json::<serde_json::Value>().unwrap_err();
/// assert!(matches!(err, DecodeError::Json(_)));
/// assert_eq!(err.format(), Format::Json);
/// # }
/// ```
#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "json", feature = "msgpack", feature = "xml")))
)]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The payload is not the JSON of the type asked for.
    #[cfg(feature = "json")]
    #[error("malformed JSON message: {0}")]
    Json(#[source] serde_json::Error),
    /// The payload is not the MessagePack of the type asked for.
    #[cfg(feature = "msgpack")]
    #[error("malformed MessagePack message: {0}")]
    MsgPack(#[source] rmp_serde::decode::Error),
    /// The payload is not the XML of the type asked for.
    #[cfg(feature = "xml")]
    #[error("malformed XML message: {0}")]
    Xml(#[source] quick_xml::DeError),
    /// The payload of an XML message is not UTF-8.
    #[cfg(feature = "xml")]
    #[error("XML message is not UTF-8 after its first {} bytes", .0.valid_up_to())]
    XmlNotUtf8(#[source] std::str::Utf8Error),
}

#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
impl DecodeError {
    /// The format the payload was read as.
    pub fn format(&self) -> Format {
        match self {
            #[cfg(feature = "json")]
            DecodeError::Json(_) => Format::Json,
            #[cfg(feature = "msgpack")]
            DecodeError::MsgPack(_) => Format::MsgPack,
            #[cfg(feature = "xml")]
            DecodeError::Xml(_) | DecodeError::XmlNotUtf8(_) => Format::Xml,
        }
    }
}

/// Reads a received frame as a typed message: `frame.json::<T>()`,
/// `frame.msgpack::<T>()`, `frame.xml::<T>()` on a `Bytes` frame (or any
/// byte slice, and on a `String` line of [`Utf8LinesCodec`](super::Utf8LinesCodec)).
///
/// A payload that is not the message asked for returns a [`DecodeError`]
/// and nothing else happens: the session is not closed, and the handler
/// chooses what to do. `T` may borrow from the frame (`&str` fields).
/// Each method is there with its format's feature.
///
/// ```
/// # #[cfg(feature = "json")] {
/// use bytes::Bytes;
/// use castnet_core::frame::TypedFrame;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Hello<'a> { name: &'a str }
///
/// let frame = Bytes::from_static(br#"{"name":"ada"}"#);
/// let hello: Hello = frame.json().unwrap();
/// assert_eq!(hello.name, "ada");
/// assert!(Bytes::from_static(b"not json").json::<Hello>().is_err());
/// # }
/// ```
#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "json", feature = "msgpack", feature = "xml")))
)]
pub trait TypedFrame {
    /// The payload as the JSON of a `T`.
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    fn json<'de, T: serde::Deserialize<'de>>(&'de self) -> Result<T, DecodeError>;

    /// The payload as the MessagePack of a `T`.
    #[cfg(feature = "msgpack")]
    #[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
    fn msgpack<'de, T: serde::Deserialize<'de>>(&'de self) -> Result<T, DecodeError>;

    /// The payload as the XML of a `T` (its root element).
    #[cfg(feature = "xml")]
    #[cfg_attr(docsrs, doc(cfg(feature = "xml")))]
    fn xml<'de, T: serde::Deserialize<'de>>(&'de self) -> Result<T, DecodeError>;
}

#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
impl TypedFrame for [u8] {
    #[cfg(feature = "json")]
    fn json<'de, T: serde::Deserialize<'de>>(&'de self) -> Result<T, DecodeError> {
        serde_json::from_slice(self).map_err(DecodeError::Json)
    }

    #[cfg(feature = "msgpack")]
    fn msgpack<'de, T: serde::Deserialize<'de>>(&'de self) -> Result<T, DecodeError> {
        rmp_serde::from_slice(self).map_err(DecodeError::MsgPack)
    }

    #[cfg(feature = "xml")]
    fn xml<'de, T: serde::Deserialize<'de>>(&'de self) -> Result<T, DecodeError> {
        std::str::from_utf8(self)
            .map_err(DecodeError::XmlNotUtf8)?
            .xml()
    }
}

#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
impl TypedFrame for str {
    #[cfg(feature = "json")]
    fn json<'de, T: serde::Deserialize<'de>>(&'de self) -> Result<T, DecodeError> {
        self.as_bytes().json()
    }

    #[cfg(feature = "msgpack")]
    fn msgpack<'de, T: serde::Deserialize<'de>>(&'de self) -> Result<T, DecodeError> {
        self.as_bytes().msgpack()
    }

    #[cfg(feature = "xml")]
    fn xml<'de, T: serde::Deserialize<'de>>(&'de self) -> Result<T, DecodeError> {
        quick_xml::de::from_str(self).map_err(DecodeError::Xml)
    }
}

/// A message format a [`Typed`] codec reads frames as: `Json<T>`,
/// `MsgPack<T>` or `Xml<T>` (with their features), for any `T` that
/// deserialises without borrowing.
///
/// ```
/// # #[cfg(feature = "json")] {
/// use castnet_core::frame::{Format, Json, TypedMessage};
///
/// assert_eq!(<Json<u32> as TypedMessage>::FORMAT, Format::Json);
/// assert_eq!(Json::<u32>::read(b"42").unwrap(), 42);
/// # }
/// ```
#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "json", feature = "msgpack", feature = "xml")))
)]
pub trait TypedMessage {
    /// The value a frame holds.
    type Value;
    /// The format it is read in.
    const FORMAT: Format;
    /// Reads one frame's payload.
    fn read(payload: &[u8]) -> Result<Self::Value, DecodeError>;
}

/// Implements [`TypedMessage`] for a wrapper, reading with its
/// [`TypedFrame`] method.
macro_rules! typed_message_reader {
    ($name:ident, $feature:literal, $format:expr, $method:ident) => {
        #[cfg(feature = $feature)]
        impl<T: serde::de::DeserializeOwned> TypedMessage for $name<T> {
            type Value = T;
            const FORMAT: Format = $format;
            fn read(payload: &[u8]) -> Result<T, DecodeError> {
                payload.$method()
            }
        }
    };
}

typed_message_reader!(Json, "json", Format::Json, json);
typed_message_reader!(MsgPack, "msgpack", Format::MsgPack, msgpack);
typed_message_reader!(Xml, "xml", Format::Xml, xml);

/// A codec whose frames are typed messages: `Typed<PacketN, Json<Move>>`
/// frames like [`PacketN`](super::PacketN) and hands over each frame as a
/// `Result<Move, DecodeError>`, so a handler or `recv` gets values.
///
/// A frame that is not a `Move` is an `Err` item, not a decode error of the
/// stream: the session stays open and the handler decides (reply, skip, or
/// close). Framing errors of the inner codec are what they always are.
/// It encodes `Bytes` as the inner codec does, and with it every typed
/// message (`Json`, `MsgPack`, `Xml`, of any type and either format).
///
/// ```
/// # #[cfg(feature = "json")] {
/// use bytes::BytesMut;
/// use castnet_core::frame::{Decoder, Encoder, Json, PacketN, Typed};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct Move { x: i32, y: i32 }
///
/// let mut codec: Typed<PacketN, Json<Move>> = Typed::new(PacketN::default());
/// let mut wire = BytesMut::new();
/// codec.encode(Json(Move { x: 1, y: 2 }), &mut wire).unwrap();
/// codec.encode(Json("not a move"), &mut wire).unwrap();
/// assert_eq!(codec.decode(&mut wire).unwrap().unwrap().unwrap(), Move { x: 1, y: 2 });
/// assert!(codec.decode(&mut wire).unwrap().unwrap().is_err()); // and decoding goes on
/// assert!(codec.decode(&mut wire).unwrap().is_none());
/// # }
/// ```
#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "json", feature = "msgpack", feature = "xml")))
)]
pub struct Typed<C, M> {
    inner: C,
    message: std::marker::PhantomData<fn() -> M>,
}

#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
impl<C, M> Typed<C, M> {
    /// Reads the frames of `inner` as `M`.
    ///
    /// ```
    /// # #[cfg(feature = "msgpack")] {
    /// use castnet_core::frame::{FixedLengthCodec, MsgPack, Typed};
    ///
    /// let codec = Typed::<_, MsgPack<[u8; 2]>>::new(FixedLengthCodec::new(3).unwrap());
    /// assert_eq!(codec.inner().frame_len(), 3);
    /// assert_eq!(codec.into_inner(), FixedLengthCodec::new(3).unwrap());
    /// # }
    /// ```
    pub fn new(inner: C) -> Self {
        Typed {
            inner,
            message: std::marker::PhantomData,
        }
    }

    /// The inner codec.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// The inner codec, unwrapped.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
impl<C: Clone, M> Clone for Typed<C, M> {
    fn clone(&self) -> Self {
        Typed::new(self.inner.clone())
    }
}

#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
impl<C: Default, M> Default for Typed<C, M> {
    fn default() -> Self {
        Typed::new(C::default())
    }
}

#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
impl<C: fmt::Debug, M> fmt::Debug for Typed<C, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Typed")
            .field("inner", &self.inner)
            .field("message", &std::any::type_name::<M>())
            .finish()
    }
}

#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
impl<C, M> super::Decoder for Typed<C, M>
where
    C: super::Decoder,
    C::Item: AsRef<[u8]>,
    M: TypedMessage,
{
    type Item = Result<M::Value, DecodeError>;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, FrameError> {
        Ok(self.inner.decode(src)?.map(|f| M::read(f.as_ref())))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, FrameError> {
        Ok(self.inner.decode_eof(src)?.map(|f| M::read(f.as_ref())))
    }
}

#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
impl<C: Encoder<Bytes>, M> Encoder<Bytes> for Typed<C, M> {
    fn encode_frame(&mut self, payload: Bytes) -> Result<EncodedFrame, FrameError> {
        self.inner.encode_frame(payload)
    }

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.inner.encode(payload, dst)
    }

    fn encoded_len(&self, payload: &Bytes) -> Option<usize> {
        self.inner.encoded_len(payload)
    }

    fn encode_to_vec(&mut self, payload: Bytes, dst: &mut Vec<u8>) -> Result<(), FrameError> {
        self.inner.encode_to_vec(payload, dst)
    }
}
