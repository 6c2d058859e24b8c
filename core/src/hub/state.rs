//! The server's lifecycle: closed, starting, running, stopping.

use std::fmt;

/// Where a server is in its lifecycle, as cbufftcpserver exposes it.
///
/// ```text
/// Closed ──▶ Starting ──▶ Running ──▶ Stopping ──▶ Closed
///                └──────────────────────▲
/// ```
///
/// Only a `Running` hub admits sessions. `Starting → Stopping` covers a bind
/// that failed or a stop requested before the server came up. `Stopping →
/// Closed` requires every session to have been removed, so a stop that
/// completes has accounted for every connection. A closed hub may start
/// again; session ids are still never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ServerState {
    /// Not serving; the initial state.
    #[default]
    Closed,
    /// Binding its listeners; not admitting sessions yet.
    Starting,
    /// Accepting and serving sessions.
    Running,
    /// No longer accepting; open sessions are draining.
    Stopping,
}

impl ServerState {
    /// True when `self → to` is a step of the lifecycle.
    pub fn can_become(self, to: ServerState) -> bool {
        use ServerState::*;
        matches!(
            (self, to),
            (Closed, Starting)
                | (Starting, Running)
                | (Starting, Stopping)
                | (Running, Stopping)
                | (Stopping, Closed)
        )
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerState::Closed => "closed",
            ServerState::Starting => "starting",
            ServerState::Running => "running",
            ServerState::Stopping => "stopping",
        })
    }
}

/// A lifecycle step the hub refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// `from → to` is not a step of the lifecycle.
    #[error("a {from} server cannot become {to}")]
    InvalidTransition {
        /// The current state.
        from: ServerState,
        /// The state asked for.
        to: ServerState,
    },
    /// A stopping server cannot close while sessions remain registered.
    #[error("cannot close: {count} sessions are still registered")]
    SessionsRemain {
        /// How many sessions remain.
        count: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::test_support::{peer, running_hub};
    use crate::hub::{Hub, RegisterError};
    use crate::limits::ConnectionLimits;

    const ALL: [ServerState; 4] = [
        ServerState::Closed,
        ServerState::Starting,
        ServerState::Running,
        ServerState::Stopping,
    ];

    #[test]
    fn lifecycle_runs_closed_starting_running_stopping_closed() {
        let mut hub: Hub<u32> = Hub::new(ConnectionLimits::unlimited());
        assert_eq!(hub.state(), ServerState::Closed);
        for to in [
            ServerState::Starting,
            ServerState::Running,
            ServerState::Stopping,
            ServerState::Closed,
        ] {
            let from = hub.state();
            assert_eq!(hub.set_state(to), Ok(from));
            assert_eq!(hub.state(), to);
        }
    }

    #[test]
    fn every_step_off_the_lifecycle_is_refused_and_changes_nothing() {
        let allowed = [
            (ServerState::Closed, ServerState::Starting),
            (ServerState::Starting, ServerState::Running),
            (ServerState::Starting, ServerState::Stopping),
            (ServerState::Running, ServerState::Stopping),
            (ServerState::Stopping, ServerState::Closed),
        ];
        for from in ALL {
            for to in ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from} → {to}"
                );
            }
        }
        let mut hub: Hub<u32> = running_hub(ConnectionLimits::unlimited());
        assert_eq!(
            hub.set_state(ServerState::Starting),
            Err(StateError::InvalidTransition {
                from: ServerState::Running,
                to: ServerState::Starting
            })
        );
        assert_eq!(hub.state(), ServerState::Running);
    }

    #[test]
    fn stopping_hub_cannot_close_while_sessions_remain() {
        let mut hub: Hub<u32> = running_hub(ConnectionLimits::unlimited());
        let id = hub.register(peer(1), ()).unwrap();
        hub.set_state(ServerState::Stopping).unwrap();
        assert_eq!(
            hub.set_state(ServerState::Closed),
            Err(StateError::SessionsRemain { count: 1 })
        );
        hub.remove(id);
        assert_eq!(
            hub.set_state(ServerState::Closed),
            Ok(ServerState::Stopping)
        );
    }

    #[test]
    fn only_a_running_hub_admits_sessions() {
        let mut hub: Hub<u32> = Hub::new(ConnectionLimits::unlimited());
        for state in [ServerState::Closed, ServerState::Starting] {
            assert_eq!(hub.state(), state);
            assert_eq!(
                hub.register(peer(1), ()),
                Err(RegisterError::NotRunning { state })
            );
            hub.set_state(if state == ServerState::Closed {
                ServerState::Starting
            } else {
                ServerState::Running
            })
            .unwrap();
        }
        assert!(hub.register(peer(1), ()).is_ok());
        hub.set_state(ServerState::Stopping).unwrap();
        assert_eq!(
            hub.register(peer(1), ()),
            Err(RegisterError::NotRunning {
                state: ServerState::Stopping
            })
        );
        assert_eq!(hub.len(), 1);
    }

    #[test]
    fn restarted_hub_never_reuses_a_session_id() {
        let mut hub: Hub<u32> = running_hub(ConnectionLimits::unlimited());
        let first = hub.register(peer(1), ()).unwrap();
        hub.remove(first);
        hub.set_state(ServerState::Stopping).unwrap();
        hub.set_state(ServerState::Closed).unwrap();
        hub.set_state(ServerState::Starting).unwrap();
        hub.set_state(ServerState::Running).unwrap();
        let second = hub.register(peer(1), ()).unwrap();
        assert!(second > first);
    }
}
