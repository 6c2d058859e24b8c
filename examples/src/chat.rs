//! A chat server for the `chat` binary: rooms are castnet channels
//! ([`Server::channel`]), the protocol is lines of UTF-8
//! ([`Utf8LinesCodec`]), and each session's nick and room live in the
//! handler's per-session state ([`Member`]), not in a map keyed by session.
//!
//! Commands, one a line:
//!
//! - `/nick NAME`: take a nick (unique on the server); answered `* you are
//!   NAME`.
//! - `/join ROOM`: leave the current room, if any, and join `ROOM`; every
//!   member of `ROOM`, the newcomer included, gets `* NAME joined ROOM`.
//! - `/leave`: answered `* you left ROOM`; those who stay get `* NAME left
//!   ROOM`.
//! - `/kick NAME`: only the room's longest-standing member may kick. The
//!   kicked session leaves the channel and is told why by the channel's kick
//!   callback (`* you were kicked from ROOM by its first member`); the room
//!   gets `* NAME was kicked from ROOM by KICKER`.
//! - `/quit`: answered `* bye`, then the connection closes.
//! - any other line is said in the room: every member gets `NAME: text`, in
//!   the order it was said.
//!
//! Mistakes (an unknown command, talking outside a room, a taken nick) are
//! answered with a line starting `ERR` and the session stays open. A session
//! that closes while in a room leaves it: its `on_close` gets its state and
//! tells the room `* NAME left ROOM (REASON)`.

use crate::server::Serving;
use castnet_core::frame::{LinesCodec, Utf8LinesCodec};
use castnet_core::session::CloseReason;
use castnet_tokio::{Config, Conn, Handler, Server, Session};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

/// The longest line the chat accepts, without its ending.
pub const MAX_LINE: u64 = 4096;

/// The codec both sides speak: UTF-8 lines of at most [`MAX_LINE`] bytes.
pub fn codec() -> Utf8LinesCodec {
    LinesCodec::builder().max_line_len(MAX_LINE).build_utf8()
}

/// One session's own state: made empty when it opens, reached through
/// [`Conn::state`], handed to `on_close`.
#[derive(Debug, Default)]
pub struct Member {
    nick: Option<String>,
    room: Option<Membership>,
}

/// The room a session joined, and whether it was kicked out since: set by
/// the channel's kick callback, which runs on the kicker's connection and
/// so cannot reach this session's state itself.
#[derive(Debug)]
struct Membership {
    room: String,
    kicked: Arc<AtomicBool>,
}

impl Membership {
    /// The room, unless the session was kicked out of it.
    fn current(&self) -> Option<&str> {
        (!self.kicked.load(Relaxed)).then_some(self.room.as_str())
    }
}

/// Who holds which nick: the one thing sessions must share (a nick is
/// unique on the server, and `/kick NAME` finds its session here).
type Nicks = Arc<Mutex<HashMap<String, Session<Utf8LinesCodec>>>>;

/// The chat's handler.
pub struct Chat {
    server: Server<Utf8LinesCodec>,
    nicks: Nicks,
}

type Cx<'a> = Conn<'a, Utf8LinesCodec, Member>;

impl Chat {
    /// Answers only this session.
    fn reply(cx: &mut Cx<'_>, line: impl Into<String>) {
        let _ = cx.send(line.into());
    }

    /// Says `line` to every member of `room`, encoded once.
    fn say(&self, cx: &mut Cx<'_>, room: &str, line: String) {
        let _ = self.server.channel(room).broadcast_detached_from(cx, line);
    }

    /// The session's room: a member kicked by another session finds out
    /// here that it left.
    fn room(&self, cx: &mut Cx<'_>) -> Option<String> {
        let state = cx.state();
        let room = state.room.as_ref()?.current().map(str::to_owned);
        if room.is_none() {
            state.room = None;
        }
        room
    }

    fn nick(&self, cx: &mut Cx<'_>, name: &str) {
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Self::reply(cx, "ERR a nick is one word: /nick NAME");
        }
        {
            let mut nicks = self.nicks.lock().unwrap_or_else(PoisonError::into_inner);
            if nicks.get(name).is_some_and(|s| s.id() != cx.id()) {
                drop(nicks);
                return Self::reply(cx, format!("ERR the nick {name} is taken"));
            }
            if let Some(old) = cx.state().nick.take() {
                nicks.remove(&old);
            }
            nicks.insert(name.to_owned(), cx.session().clone());
        }
        cx.state().nick = Some(name.to_owned());
        tracing::info!(session = %cx.id(), nick = name, "chat: nick taken");
        Self::reply(cx, format!("* you are {name}"));
    }

    fn join(&self, cx: &mut Cx<'_>, nick: &str, room: &str) {
        if room.is_empty() || room.contains(char::is_whitespace) {
            return Self::reply(cx, "ERR a room is one word: /join ROOM");
        }
        if self.room(cx).as_deref() == Some(room) {
            return Self::reply(cx, format!("ERR you are in {room} already"));
        }
        self.leave(cx, nick);
        let kicked = Arc::new(AtomicBool::new(false));
        let flag = kicked.clone();
        let channel = self.server.channel(room);
        let joined = channel.join(cx.session(), move |session, room| {
            // The kick callback: the only way the kicked session hears why.
            flag.store(true, Relaxed);
            let _ = session.try_send(format!("* you were kicked from {room} by its first member"));
        });
        if joined {
            cx.state().room = Some(Membership {
                room: room.to_owned(),
                kicked,
            });
            tracing::info!(nick, room, "chat: joined");
            self.say(cx, room, format!("* {nick} joined {room}"));
        }
    }

    /// Leaves the current room, if any, telling the ones who stay.
    fn leave(&self, cx: &mut Cx<'_>, nick: &str) -> Option<String> {
        let room = self.room(cx)?;
        self.server.channel(&room).exit(cx.session());
        cx.state().room = None;
        tracing::info!(nick, room, "chat: left");
        self.say(cx, &room, format!("* {nick} left {room}"));
        Some(room)
    }

    fn kick(&self, cx: &mut Cx<'_>, nick: &str, target: &str) {
        let Some(room) = self.room(cx) else {
            return Self::reply(cx, "ERR join a room first: /join ROOM");
        };
        let channel = self.server.channel(&room);
        let first = channel.members().first().map(Session::id);
        if first != Some(cx.id()) {
            return Self::reply(cx, format!("ERR only {room}'s first member may kick"));
        }
        let session = self
            .nicks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(target)
            .cloned();
        match session {
            Some(session) if session.id() != cx.id() && channel.kick(&session) => {
                tracing::info!(room, kicked = target, by = nick, "chat: kicked");
                self.say(
                    cx,
                    &room,
                    format!("* {target} was kicked from {room} by {nick}"),
                );
            }
            _ => Self::reply(cx, format!("ERR {target} is not someone else in {room}")),
        }
    }
}

impl Handler<Utf8LinesCodec, Member> for Chat {
    fn on_frame(&self, cx: &mut Cx<'_>, line: String) {
        let (command, arg) = match line.split_once(' ') {
            Some((command, arg)) => (command, arg.trim()),
            None => (line.as_str(), ""),
        };
        if command == "/nick" {
            return self.nick(cx, arg);
        }
        if command == "/quit" {
            Self::reply(cx, "* bye");
            return cx.close(); // graceful: the bye is written first
        }
        let Some(nick) = cx.state().nick.clone() else {
            return Self::reply(cx, "ERR take a nick first: /nick NAME");
        };
        match command {
            "/join" => self.join(cx, &nick, arg),
            "/leave" => match self.leave(cx, &nick) {
                Some(room) => Self::reply(cx, format!("* you left {room}")),
                None => Self::reply(cx, "ERR you are in no room"),
            },
            "/kick" => self.kick(cx, &nick, arg),
            _ if command.starts_with('/') => {
                Self::reply(cx, format!("ERR unknown command {command}"));
            }
            _ => match self.room(cx) {
                Some(room) => self.say(cx, &room, format!("{nick}: {line}")),
                None => Self::reply(cx, "ERR join a room first: /join ROOM"),
            },
        }
    }

    fn on_close(&self, session: &Session<Utf8LinesCodec>, member: Member, reason: &CloseReason) {
        let Some(nick) = member.nick else { return };
        self.nicks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&nick);
        tracing::info!(session = %session.id(), nick, %reason, "chat: connection closed");
        // The server has taken the session out of its channels already.
        if let Some(room) = member.room.as_ref().and_then(Membership::current) {
            let _ = self
                .server
                .channel(room)
                .broadcast_detached(format!("* {nick} left {room} ({reason})"));
        }
    }
}

/// A chat server running on a Tokio task.
pub struct Running {
    serving: Serving<Utf8LinesCodec>,
}

impl Running {
    /// Where it listens.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.serving.local_addr()
    }

    /// How many sessions are in `room` now.
    pub fn room_len(&self, room: &str) -> usize {
        self.serving.server().channel(room).len()
    }

    /// Stops gracefully and waits for the serving task.
    pub async fn stop(self) -> io::Result<()> {
        self.serving.stop().await
    }

    /// The server and its serving task alone.
    pub fn into_serving(self) -> Serving<Utf8LinesCodec> {
        self.serving
    }
}

/// Starts a chat server on `addr`.
pub async fn start(addr: &str) -> io::Result<Running> {
    let server: Server<Utf8LinesCodec> = Server::bind(addr, Config::new(codec())).await?;
    let chat = Chat {
        server: server.clone(),
        nicks: Nicks::default(),
    };
    Ok(Running {
        serving: Serving::start(server, chat),
    })
}

/// A chat client: a castnet session on [`codec`], read line by line.
pub struct Client {
    session: Session<Utf8LinesCodec>,
}

impl Client {
    /// Connects to the chat at `addr`.
    pub async fn connect(addr: SocketAddr) -> io::Result<Client> {
        let session = castnet_tokio::dial(addr, Config::new(codec())).await?;
        Ok(Client { session })
    }

    /// Sends one line.
    pub async fn send(&self, line: &str) -> io::Result<()> {
        self.session
            .send(line.to_owned())
            .await
            .map_err(|e| io::Error::new(io::ErrorKind::BrokenPipe, e.to_string()))
    }

    /// The next line from the server, within 10 s; `None` once the
    /// connection closed.
    pub async fn next(&self) -> io::Result<Option<String>> {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.session.recv())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no line within 10 s"))
    }

    /// The next line, which must come.
    pub async fn line(&self) -> io::Result<String> {
        self.next().await?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the chat closed the connection",
            )
        })
    }

    /// Closes the connection (as a client that goes away does).
    pub fn close(&self) {
        self.session.close();
    }
}
