//! Command-line flags shared by every benchmark server
//! (`docs/bench-protocol.md`).
//!
//! A server binary flattens [`ServerArgs`] into its own clap command (or
//! parses it directly), so every server accepts the same flags with the same
//! defaults and the same error messages.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use castnet_core::frame::{
    ByteOrder, ConfigError, HeaderLen, PacketN, VarintCodec, DEFAULT_MAX_FRAME_LEN,
};
use clap::builder::RangedU64ValueParser;
use clap::{CommandFactory, Parser, ValueEnum};

/// The flags every benchmark server takes, with the defaults of
/// `docs/bench-protocol.md`: where it listens and how its frames look
/// ([`ListenArgs`], which it dereferences to), and which runtime serves.
///
/// ```
/// use castnet_examples::flags::{Endian, Header, RuntimeKind, ServerArgs};
/// use castnet_core::frame::HeaderLen;
/// use clap::Parser;
///
/// let args = ServerArgs::try_parse_from(["echo_server", "--header", "2", "--endian", "le"]).unwrap();
/// assert_eq!(args.header, Header::Fixed(HeaderLen::Two));
/// assert_eq!(args.endian, Endian::Le);
/// assert_eq!(args.runtime, RuntimeKind::Tokio);
/// assert_eq!(args.addr.to_string(), "127.0.0.1:7000");
///
/// let err = ServerArgs::try_parse_from(["echo_server", "--header", "3"]).unwrap_err();
/// assert!(err.to_string().contains("1, 2, 4 or 8"));
///
/// let args = ServerArgs::try_parse_from(["echo_server", "--header", "varint"]).unwrap();
/// assert_eq!(args.header, Header::Varint);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
pub struct ServerArgs {
    /// Where the server listens and the frames it speaks.
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Which runtime crate serves.
    #[arg(long, value_enum, default_value_t = RuntimeKind::Tokio)]
    pub runtime: RuntimeKind,
    /// Worker threads (tokio, smol; event-loop threads for std).
    #[arg(long, value_name = "N", default_value_t = default_workers(), value_parser = workers_parser())]
    pub workers: usize,
}

impl std::ops::Deref for ServerArgs {
    type Target = ListenArgs;

    fn deref(&self) -> &ListenArgs {
        &self.listen
    }
}

impl ServerArgs {
    /// For a server that runs on some runtimes only: unless `--runtime`
    /// names one of them, exits with clap's usage error (status 2) saying
    /// which work. `C` is the server's command, for the usage text.
    pub fn require_runtime<C: CommandFactory>(&self, supported: &[RuntimeKind]) {
        if !supported.contains(&self.runtime) {
            let mut command = C::command();
            let names: Vec<String> = supported
                .iter()
                .map(|r| format!("--runtime {}", r.as_str()))
                .collect();
            let message = format!(
                "{} supports only {}",
                command.get_name(),
                names.join(" or ")
            );
            command
                .error(clap::error::ErrorKind::InvalidValue, message)
                .exit();
        }
    }
}

impl ServerArgs {
    /// For a server that speaks fixed headers only (the baselines, on
    /// tokio-util's `LengthDelimitedCodec`): with `--header varint`, exits
    /// with clap's usage error (status 2) saying so; otherwise returns the
    /// header. `C` is the server's command, for the usage text.
    pub fn require_fixed_header<C: CommandFactory>(&self) -> HeaderLen {
        match self.header {
            Header::Fixed(header) => header,
            Header::Varint => {
                let mut command = C::command();
                let message = format!(
                    "{} supports only --header 1, 2, 4 or 8, not varint \
                     (the baselines frame with tokio-util's LengthDelimitedCodec, \
                     which has no varint prefix)",
                    command.get_name()
                );
                command
                    .error(clap::error::ErrorKind::InvalidValue, message)
                    .exit()
            }
        }
    }
}

/// The flags of a server that picks no runtime and no thread count (the
/// `custom_event_loop` example runs its own single-threaded loop):
/// `--addr`, `--header`, `--endian`, `--max-frame`. [`ServerArgs`] adds
/// `--runtime` and `--workers` to these.
///
/// ```
/// use castnet_examples::flags::ListenArgs;
/// use clap::Parser;
///
/// let args = ListenArgs::try_parse_from(["custom_event_loop", "--max-frame", "1000"]).unwrap();
/// assert_eq!(args.codec().unwrap().max_frame_len(), 1000);
/// assert!(ListenArgs::try_parse_from(["custom_event_loop", "--workers", "2"]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
pub struct ListenArgs {
    /// Listen address (port 0 picks a free port; the bound one is printed).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:7000")]
    pub addr: SocketAddr,
    /// Length header: its size in bytes (PacketN), or `varint` for an
    /// unsigned LEB128 length prefix (protobuf's length-delimited framing).
    #[arg(long, value_name = "1|2|4|8|varint", default_value = "4", value_parser = parse_header)]
    pub header: Header,
    /// Length header byte order (ignored with `--header varint`: LEB128
    /// has one byte order).
    #[arg(long, value_enum, default_value_t = Endian::Be)]
    pub endian: Endian,
    /// Largest accepted payload in bytes (clamped to what the header can express).
    #[arg(long = "max-frame", value_name = "BYTES", default_value_t = DEFAULT_MAX_FRAME_LEN)]
    pub max_frame: u64,
}

impl ListenArgs {
    /// The header byte order as castnet's type.
    pub fn byte_order(&self) -> ByteOrder {
        self.endian.byte_order()
    }

    /// The fixed header size, or `None` for `--header varint`.
    pub fn header_len(&self) -> Option<HeaderLen> {
        match self.header {
            Header::Fixed(header) => Some(header),
            Header::Varint => None,
        }
    }

    /// `--max-frame` clamped to the largest length the header can express, so
    /// that a 1-byte header never claims to accept 8 MiB.
    pub fn max_frame_len(&self) -> u64 {
        self.max_frame.min(self.header.max_len())
    }

    /// The codec these flags configure: [`PacketN`] for a fixed header,
    /// [`VarintCodec`] for `--header varint` (which ignores `--endian`).
    pub fn codec(&self) -> Result<Codec, ConfigError> {
        match self.header {
            Header::Fixed(header) => PacketN::builder()
                .header_len(header)
                .byte_order(self.byte_order())
                .max_frame_len(self.max_frame)
                .build()
                .map(Codec::Packet),
            Header::Varint => Ok(Codec::Varint(
                VarintCodec::builder().max_frame_len(self.max_frame).build(),
            )),
        }
    }
}

/// What `--header` names: a fixed PacketN header, or a varint prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Header {
    /// A 1, 2, 4 or 8-byte length header ([`PacketN`]).
    Fixed(HeaderLen),
    /// An unsigned LEB128 length prefix of 1 to 10 bytes ([`VarintCodec`]).
    Varint,
}

impl Header {
    /// The largest length this header can express.
    pub fn max_len(self) -> u64 {
        match self {
            Header::Fixed(header) => header.max_len(),
            Header::Varint => u64::MAX,
        }
    }

    /// The flag spelling: `1`, `2`, `4`, `8` or `varint`.
    pub fn as_str(self) -> &'static str {
        match self {
            Header::Fixed(HeaderLen::One) => "1",
            Header::Fixed(HeaderLen::Two) => "2",
            Header::Fixed(HeaderLen::Four) => "4",
            Header::Fixed(HeaderLen::Eight) => "8",
            Header::Fixed(_) => "?",
            Header::Varint => "varint",
        }
    }
}

impl From<HeaderLen> for Header {
    fn from(header: HeaderLen) -> Self {
        Header::Fixed(header)
    }
}

/// A bench server's codec, as [`ListenArgs::codec`] builds it. Servers are
/// generic over their codec and instantiated once for each variant, so the
/// fixed-header path is exactly the one a `PacketN`-only server runs.
#[derive(Debug, Clone)]
pub enum Codec {
    /// A fixed-size header.
    Packet(PacketN),
    /// A varint prefix.
    Varint(VarintCodec),
}

impl Codec {
    /// The largest payload the codec accepts.
    pub fn max_frame_len(&self) -> u64 {
        match self {
            Codec::Packet(codec) => codec.max_frame_len(),
            Codec::Varint(codec) => codec.max_frame_len(),
        }
    }
}

/// The runtime crate a server runs on (`--runtime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum RuntimeKind {
    /// `castnet-tokio`.
    Tokio,
    /// `castnet-smol`.
    Smol,
    /// `castnet-std`: blocking calls, on a few event-loop threads.
    Std,
}

impl RuntimeKind {
    /// The flag spelling: `tokio`, `smol` or `std`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Tokio => "tokio",
            RuntimeKind::Smol => "smol",
            RuntimeKind::Std => "std",
        }
    }
}

/// Header byte order on the command line (`--endian be|le`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum Endian {
    /// Big-endian (network order), the default.
    Be,
    /// Little-endian.
    Le,
}

impl Endian {
    /// As castnet's [`ByteOrder`].
    pub fn byte_order(self) -> ByteOrder {
        match self {
            Endian::Be => ByteOrder::Big,
            Endian::Le => ByteOrder::Little,
        }
    }

    /// The flag spelling: `"be"` or `"le"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Endian::Be => "be",
            Endian::Le => "le",
        }
    }
}

/// The number of cores, the default of every `--workers` flag.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// Parses `--header`: 1, 2, 4, 8 or `varint`, anything else refused with a
/// message that says so.
pub fn parse_header(s: &str) -> Result<Header, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("varint") {
        return Ok(Header::Varint);
    }
    s.parse::<usize>()
        .ok()
        .and_then(|n| HeaderLen::try_from(n).ok())
        .map(Header::Fixed)
        .ok_or_else(|| format!("header must be 1, 2, 4 or 8 bytes, or `varint`, not `{s}`"))
}

/// Parses a number of seconds, fractions allowed (`10`, `0.5`), up to a day.
pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    const DAY: f64 = 86_400.0;
    match s.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && (0.0..=DAY).contains(&secs) => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err(format!(
            "expected a number of seconds between 0 and {DAY}, not `{s}`"
        )),
    }
}

/// A `--workers` parser: a positive count.
pub(crate) fn workers_parser() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(1..=4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ServerArgs, clap::Error> {
        ServerArgs::try_parse_from(std::iter::once("server").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_those_of_the_bench_protocol() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.addr, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(args.runtime, RuntimeKind::Tokio);
        assert_eq!(args.header, Header::Fixed(HeaderLen::Four));
        assert_eq!(args.endian, Endian::Be);
        assert_eq!(args.max_frame, 8_388_608);
        assert_eq!(args.workers, default_workers());
    }

    #[test]
    fn every_flag_is_accepted_in_its_protocol_spelling() {
        let args = parse(&[
            "--addr",
            "127.0.0.1:0",
            "--runtime",
            "std",
            "--header",
            "8",
            "--endian",
            "le",
            "--max-frame",
            "1024",
            "--workers",
            "3",
        ])
        .unwrap();
        assert_eq!(args.addr.port(), 0);
        assert_eq!(args.runtime, RuntimeKind::Std);
        assert_eq!(args.header, Header::Fixed(HeaderLen::Eight));
        assert_eq!(args.byte_order(), ByteOrder::Little);
        assert_eq!(args.max_frame_len(), 1024);
        assert_eq!(args.workers, 3);
        assert_eq!(
            parse(&["--runtime", "smol"]).unwrap().runtime,
            RuntimeKind::Smol
        );
    }

    #[test]
    fn unsupported_header_sizes_are_refused_with_the_allowed_ones_named() {
        for bad in ["0", "3", "16", "four", "-1", "var", "leb128"] {
            let err = parse(&[&format!("--header={bad}")]).unwrap_err();
            assert!(
                err.to_string()
                    .contains("header must be 1, 2, 4 or 8 bytes, or `varint`"),
                "{err}"
            );
        }
    }

    #[test]
    fn varint_header_builds_a_varint_codec_and_ignores_the_byte_order() {
        for endian in ["be", "le"] {
            let args = parse(&[
                "--header",
                "varint",
                "--endian",
                endian,
                "--max-frame",
                "300",
            ]);
            let args = args.unwrap();
            assert_eq!(args.header, Header::Varint);
            assert_eq!(args.header.as_str(), "varint");
            assert_eq!(args.max_frame_len(), 300);
            match args.codec().unwrap() {
                Codec::Varint(codec) => assert_eq!(codec.max_frame_len(), 300),
                other => panic!("expected a varint codec, got {other:?}"),
            }
        }
        let args = parse(&["--header", "varint"]).unwrap();
        assert_eq!(args.max_frame_len(), DEFAULT_MAX_FRAME_LEN);
        assert!(matches!(args.codec().unwrap(), Codec::Varint(_)));
        assert!(matches!(
            parse(&[]).unwrap().codec().unwrap(),
            Codec::Packet(_)
        ));
    }

    #[test]
    fn zero_workers_and_unknown_runtimes_are_refused() {
        assert!(parse(&["--workers", "0"]).is_err());
        assert!(parse(&["--runtime", "async-std"]).is_err());
        assert!(parse(&["--endian", "middle"]).is_err());
    }

    #[test]
    fn max_frame_is_clamped_to_what_the_header_can_express() {
        let args = parse(&["--header", "1"]).unwrap();
        assert_eq!(args.max_frame_len(), 255);
        assert_eq!(args.codec().unwrap().max_frame_len(), 255);
        let args = parse(&["--header", "2", "--max-frame", "100"]).unwrap();
        assert_eq!(args.max_frame_len(), 100);
    }

    #[test]
    fn seconds_accept_fractions_and_refuse_nonsense() {
        assert_eq!(parse_seconds("0.25").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_seconds("10").unwrap(), Duration::from_secs(10));
        for bad in ["-1", "NaN", "inf", "1e9", "ten"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
