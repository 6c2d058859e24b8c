//! Shared configuration of the baseline servers (`baseline_echo`,
//! `baseline_fanout`): the tokio-util codec built from [`ServerArgs`], the
//! flush policy, and the smol flavour of the accept loop. The
//! thread-per-connection flavour (`--runtime std`) is in [`threads`].

use std::future::Future;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use async_io::Async;
use clap::ValueEnum;
use tokio_util::codec::LengthDelimitedCodec;

use crate::flags::{Endian, ServerArgs};
use crate::server::{announce_listening, Shutdown};

pub mod threads;

/// When a baseline flushes what it has written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum FlushMode {
    /// `feed` each frame and `flush` once nothing more is ready to read: one
    /// write per batch. The default, so castnet is compared with a strong
    /// baseline.
    Batch,
    /// `send` each frame, which flushes it: one write per frame, what the
    /// textbook `while let Some(f) = framed.next().await { framed.send(f) }`
    /// does.
    Every,
}

/// A `LengthDelimitedCodec` speaking PacketN as configured by the flags:
/// `--header` bytes of length, `--endian`, payload-only length, and
/// `--max-frame` clamped to what the header can express (tokio-util would
/// otherwise truncate the length of an over-long frame silently when
/// encoding).
///
/// # Panics
///
/// With `--header varint`, which the baselines refuse at start-up
/// ([`ServerArgs::require_fixed_header`]).
pub fn length_delimited(args: &ServerArgs) -> LengthDelimitedCodec {
    let max = usize::try_from(args.max_frame_len()).unwrap_or(usize::MAX);
    let header = args
        .header_len()
        .expect("the baselines refuse --header varint at start-up");
    let mut builder = LengthDelimitedCodec::builder();
    builder
        .length_field_length(header.bytes())
        .max_frame_length(max);
    match args.endian {
        Endian::Be => builder.big_endian(),
        Endian::Le => builder.little_endian(),
    };
    builder.new_codec()
}

/// Runs a baseline server on smol, as a plain smol user would with the
/// same tokio-util codecs (`tokio_util::compat` adapts async-io's sockets to
/// them): smol's global executor with `--workers` threads, the listener
/// bound and announced, `conn` spawned for every accepted connection
/// (TCP_NODELAY set), until SIGINT or SIGTERM. The process runs the way the
/// castnet-smol bench servers do, so the two compare like for like.
pub fn serve_smol<F, Fut>(args: &ServerArgs, name: &'static str, conn: F) -> io::Result<()>
where
    F: Fn(Async<TcpStream>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    // The global executor reads its thread count once, at its first spawn;
    // nothing else runs yet.
    std::env::set_var("SMOL_THREADS", args.workers.max(1).to_string());
    let shutdown = Shutdown::install_blocking()?;
    smol::block_on(async {
        let listener = Async::<TcpListener>::bind(args.addr)?;
        announce_listening(listener.get_ref().local_addr()?)?;
        let accept = smol::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((socket, _)) => {
                        // A client leaving is the normal end of a connection.
                        let _ = socket.get_ref().set_nodelay(true);
                        smol::spawn(conn(socket)).detach();
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off
                        // briefly rather than spin.
                        tracing::warn!(error = %e, "{name}: accept failed");
                        async_io::Timer::after(Duration::from_millis(10)).await;
                    }
                }
            }
        });
        smol::unblock(move || shutdown.wait()).await;
        accept.cancel().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use clap::Parser;
    use tokio_util::codec::{Decoder, Encoder};

    fn codec(flags: &[&str]) -> LengthDelimitedCodec {
        let args =
            ServerArgs::try_parse_from(std::iter::once("b").chain(flags.iter().copied())).unwrap();
        length_delimited(&args)
    }

    #[test]
    fn codec_writes_payload_only_length_in_the_configured_order() {
        let mut out = BytesMut::new();
        codec(&["--header", "2", "--endian", "le"])
            .encode(Bytes::from_static(b"abc"), &mut out)
            .unwrap();
        assert_eq!(&out[..], b"\x03\x00abc");

        let mut out = BytesMut::new();
        codec(&["--header", "8"])
            .encode(Bytes::from_static(b"x"), &mut out)
            .unwrap();
        assert_eq!(&out[..], b"\0\0\0\0\0\0\0\x01x");
    }

    #[test]
    fn one_byte_header_refuses_what_it_cannot_express() {
        let mut out = BytesMut::new();
        let mut c = codec(&["--header", "1"]);
        assert!(c.encode(Bytes::from(vec![0u8; 256]), &mut out).is_err());
        c.encode(Bytes::from(vec![7u8; 255]), &mut out).unwrap();
        assert_eq!(out[0], 255);
        assert_eq!(c.decode(&mut out).unwrap().unwrap().len(), 255);
    }
}
