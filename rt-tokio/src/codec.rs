//! Interop with tokio-util's codec traits.

use bytes::BytesMut;
use castnet_core::frame::{Decoder, Encoder, FrameError};
use std::io;

/// Wraps any castnet codec so it implements
/// [`tokio_util::codec::Decoder`] and [`tokio_util::codec::Encoder`], for use
/// with `Framed`, `FramedRead` and `FramedWrite`.
///
/// Errors surface as [`io::Error`]s of kind `InvalidData` (or
/// `UnexpectedEof`) whose inner error is the [`FrameError`]; recover it with
/// [`frame_error`].
///
/// ```
/// use bytes::Bytes;
/// use castnet_core::frame::PacketN;
/// use castnet_tokio::codec::Compat;
/// use futures_util::{SinkExt, StreamExt};
/// use tokio_util::codec::Framed;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (a, b) = tokio::io::duplex(64);
/// let mut left = Framed::new(a, Compat::new(PacketN::default()));
/// let mut right = Framed::new(b, Compat::new(PacketN::default()));
/// left.send(Bytes::from_static(b"hello")).await.unwrap();
/// let frame = right.next().await.unwrap().unwrap();
/// assert_eq!(&frame[..], b"hello");
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Compat<C>(pub C);

impl<C> Compat<C> {
    /// Wraps `codec`.
    pub fn new(codec: C) -> Self {
        Compat(codec)
    }

    /// The wrapped codec.
    pub fn into_inner(self) -> C {
        self.0
    }
}

/// The [`FrameError`] inside an [`io::Error`] produced by [`Compat`], if any.
pub fn frame_error(error: &io::Error) -> Option<&FrameError> {
    error.get_ref()?.downcast_ref::<FrameError>()
}

fn to_io(error: FrameError) -> io::Error {
    let kind = match error {
        FrameError::UnexpectedEof { .. } => io::ErrorKind::UnexpectedEof,
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, error)
}

impl<C: Decoder> tokio_util::codec::Decoder for Compat<C> {
    type Item = C::Item;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<C::Item>, io::Error> {
        self.0.decode(src).map_err(to_io)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<C::Item>, io::Error> {
        self.0.decode_eof(src).map_err(to_io)
    }
}

impl<C: Encoder<I>, I> tokio_util::codec::Encoder<I> for Compat<C> {
    type Error = io::Error;

    fn encode(&mut self, item: I, dst: &mut BytesMut) -> Result<(), io::Error> {
        self.0.encode(item, dst).map_err(to_io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use castnet_core::frame::{HeaderLen, PacketN};
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::AsyncWriteExt;
    use tokio_util::codec::{Framed, FramedRead};

    #[tokio::test]
    async fn framed_round_trips_frames_including_empty_ones() {
        let (a, b) = tokio::io::duplex(16);
        let mut tx = Framed::new(a, Compat::new(PacketN::default()));
        let mut rx = FramedRead::new(b, Compat::new(PacketN::default()));
        let frames: Vec<Bytes> = vec![
            Bytes::from_static(b"one"),
            Bytes::new(),
            Bytes::from(vec![7u8; 100]),
        ];
        let sent = frames.clone();
        let writer = tokio::spawn(async move {
            for f in sent {
                tx.send(f).await.unwrap();
            }
        });
        for expected in frames {
            assert_eq!(rx.next().await.unwrap().unwrap(), expected);
        }
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn oversized_header_surfaces_as_invalid_data_with_the_frame_error_inside() {
        let (mut a, b) = tokio::io::duplex(16);
        let codec = PacketN::builder()
            .header_len(HeaderLen::Two)
            .max_frame_len(10)
            .build()
            .unwrap();
        let mut rx = FramedRead::new(b, Compat::new(codec));
        a.write_all(&[0, 11]).await.unwrap();
        let err = rx.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(matches!(
            frame_error(&err),
            Some(FrameError::FrameTooLarge {
                declared: 11,
                max: 10
            })
        ));
    }

    #[tokio::test]
    async fn eof_inside_a_frame_is_unexpected_eof() {
        let (mut a, b) = tokio::io::duplex(16);
        let mut rx = FramedRead::new(b, Compat::new(PacketN::default()));
        a.write_all(&[0, 0, 0, 5, b'a']).await.unwrap();
        drop(a);
        let err = rx.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
