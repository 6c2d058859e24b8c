//! Typed messages, for the `json_messages` binary: a request/response
//! protocol of serde types over castnet's default framing ([`PacketN`]),
//! each payload the JSON of one message (castnet-tokio's `json` feature).
//!
//! - Clients send a [`Request`]; the server ([`Calculator`]) decodes it with
//!   [`TypedFrame::json`] and answers with a [`Response`] sent as
//!   [`Json`]`(response)`, serialised straight into the session's queue.
//! - A payload that is not the JSON of a [`Request`] is answered with
//!   [`Response::Error`], saying what was wrong; the session stays open.
//! - [`Running::notify`] broadcasts a [`Notice`] to every session with one
//!   [`Server::broadcast`]: serialised once, whatever the number of
//!   sessions.
//!
//! A client tells a response from a notice by their shape ([`Incoming`]).

use crate::server::Serving;
use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::CloseReason;
use castnet_tokio::{Config, Conn, Handler, Json, Server, Session, TypedFrame};
use serde::{Deserialize, Serialize};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Add two numbers: answered [`Response::Sum`].
    Add {
        /// The first term.
        a: i64,
        /// The second term.
        b: i64,
    },
    /// Send the text back: answered [`Response::Echo`].
    Echo(String),
}

/// What the server answers, one per request, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// `a + b`.
    Sum(i64),
    /// The text of an [`Request::Echo`].
    Echo(String),
    /// The request was refused: malformed, or a sum out of range.
    Error(String),
}

/// What the server tells every session at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Numbered from 1, per server.
    pub seq: u64,
    /// What it says.
    pub text: String,
}

/// A message from the server, as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Incoming {
    /// The answer to a request.
    Response(Response),
    /// A broadcast.
    Notice(Notice),
}

/// The server's handler: answers requests, counts what it refused.
#[derive(Debug, Default)]
pub struct Calculator {
    malformed: Arc<AtomicU64>,
}

impl Calculator {
    fn answer(request: Request) -> Response {
        match request {
            Request::Add { a, b } => a.checked_add(b).map_or_else(
                || Response::Error(format!("{a} + {b} overflows")),
                Response::Sum,
            ),
            Request::Echo(text) => Response::Echo(text),
        }
    }
}

impl Handler<PacketN> for Calculator {
    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        let response = match frame.json::<Request>() {
            Ok(request) => {
                let response = Self::answer(request.clone());
                tracing::info!(session = %cx.id(), ?request, ?response, "json: answered");
                response
            }
            Err(e) => {
                self.malformed.fetch_add(1, Relaxed);
                tracing::info!(session = %cx.id(), error = %e, "json: malformed request");
                Response::Error(e.to_string())
            }
        };
        let _ = cx.send(Json(response));
    }

    fn on_close(&self, session: &Session<PacketN>, _: (), reason: &CloseReason) {
        tracing::info!(session = %session.id(), %reason, "json: connection closed");
    }
}

/// A [`Calculator`] server running on a Tokio task.
pub struct Running {
    serving: Serving<PacketN>,
    malformed: Arc<AtomicU64>,
    notices: AtomicU64,
}

impl Running {
    /// Where it listens.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.serving.local_addr()
    }

    /// How many malformed requests it answered.
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Relaxed)
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.serving.server().session_count()
    }

    /// Broadcasts a [`Notice`] saying `text` to every session, serialised
    /// once, and returns how many sessions it was written to.
    pub async fn notify(&self, text: &str) -> io::Result<usize> {
        let notice = Notice {
            seq: self.notices.fetch_add(1, Relaxed) + 1,
            text: text.to_owned(),
        };
        let work = self
            .serving
            .server()
            .broadcast(Json(notice))
            .map_err(io::Error::other)?;
        Ok(work.wait().await.counts().sent)
    }

    /// Stops gracefully and waits for the serving task.
    pub async fn stop(self) -> io::Result<()> {
        self.serving.stop().await
    }

    /// The server and its serving task alone.
    pub fn into_serving(self) -> Serving<PacketN> {
        self.serving
    }
}

/// Starts a [`Calculator`] server on `addr`.
pub async fn start(addr: &str) -> io::Result<Running> {
    let server: Server = Server::bind(addr, Config::default()).await?;
    let calculator = Calculator::default();
    let malformed = calculator.malformed.clone();
    Ok(Running {
        serving: Serving::start(server, calculator),
        malformed,
        notices: AtomicU64::new(0),
    })
}

/// A client of the protocol.
pub struct Client {
    session: Session<PacketN>,
}

impl Client {
    /// Connects to the server at `addr`.
    pub async fn connect(addr: SocketAddr) -> io::Result<Client> {
        let session = castnet_tokio::dial(addr, Config::default()).await?;
        Ok(Client { session })
    }

    /// Sends `request` and returns the response (the next message, which
    /// must be one).
    pub async fn request(&self, request: &Request) -> io::Result<Response> {
        self.send(Json(request)).await?;
        self.response().await
    }

    /// Sends a frame of `payload` as it is, JSON or not, and returns the
    /// response.
    pub async fn send_raw(&self, payload: &'static [u8]) -> io::Result<Response> {
        self.send(Bytes::from_static(payload)).await?;
        self.response().await
    }

    async fn send<M>(&self, msg: M) -> io::Result<()>
    where
        PacketN: castnet_core::Encoder<M>,
    {
        self.session
            .send(msg)
            .await
            .map_err(|e| io::Error::new(io::ErrorKind::BrokenPipe, e.to_string()))
    }

    async fn response(&self) -> io::Result<Response> {
        match self.next().await? {
            Incoming::Response(response) => Ok(response),
            other => Err(io::Error::other(format!(
                "expected a response, got {other:?}"
            ))),
        }
    }

    /// The next message from the server, within 10 s.
    pub async fn next(&self) -> io::Result<Incoming> {
        let frame = tokio::time::timeout(Duration::from_secs(10), self.session.recv())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "nothing within 10 s"))?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed"))?;
        frame.json().map_err(io::Error::other)
    }

    /// True once the connection closed.
    pub fn is_closed(&self) -> bool {
        self.session.is_closed()
    }
}
