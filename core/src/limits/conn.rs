//! Connection admission: a cap on open connections in total and per peer IP.

use crate::frame::ConfigError;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

/// How many connections a server accepts: in total, and from one peer IP.
///
/// The default is no limit at all, so that a benchmark opening thousands of
/// connections from `127.0.0.1` is not refused by surprise; a public server
/// sets both.
///
/// IPv6 peers can be grouped by network prefix ([`ipv6_prefix`]): a host
/// usually owns a whole /64, so a cap on single IPv6 addresses alone is easy
/// to walk around. The default prefix is 128 (one address, as for IPv4). An
/// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack listener
/// reports) counts as the IPv4 address it carries.
///
/// [`ipv6_prefix`]: ConnectionLimits::ipv6_prefix
///
/// ```
/// use castnet_core::limits::ConnectionLimits;
///
/// let limits = ConnectionLimits::new(10_000, 16).unwrap().ipv6_prefix(64).unwrap();
/// assert_eq!(limits.max_connections(), 10_000);
/// assert_eq!(limits.max_per_ip(), 16);
/// assert!(ConnectionLimits::new(0, 16).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    max_connections: usize,
    max_per_ip: usize,
    ipv6_prefix: u8,
}

impl Default for ConnectionLimits {
    /// No limit.
    fn default() -> Self {
        ConnectionLimits::unlimited()
    }
}

impl ConnectionLimits {
    /// No limit on either count.
    pub const fn unlimited() -> Self {
        ConnectionLimits {
            max_connections: usize::MAX,
            max_per_ip: usize::MAX,
            ipv6_prefix: 128,
        }
    }

    /// At most `max_connections` open connections, and at most `max_per_ip`
    /// from one peer IP. Zero for either is a configuration error: a server
    /// that refuses everyone is a mistake, not a policy.
    pub fn new(max_connections: usize, max_per_ip: usize) -> Result<Self, ConfigError> {
        if max_connections == 0 {
            return Err(out_of_range("max_connections", "must be at least 1"));
        }
        if max_per_ip == 0 {
            return Err(out_of_range("max_per_ip", "must be at least 1"));
        }
        Ok(ConnectionLimits {
            max_connections,
            max_per_ip,
            ..ConnectionLimits::unlimited()
        })
    }

    /// Counts IPv6 peers per network of this prefix length (0 to 128; default
    /// 128, one address). A prefix over 128 is a configuration error.
    pub fn ipv6_prefix(mut self, bits: u8) -> Result<Self, ConfigError> {
        if bits > 128 {
            return Err(out_of_range("ipv6_prefix", "must be 0 to 128 bits"));
        }
        self.ipv6_prefix = bits;
        Ok(self)
    }

    /// The cap on open connections.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The cap on open connections from one peer IP (or IPv6 network).
    pub fn max_per_ip(&self) -> usize {
        self.max_per_ip
    }

    /// The prefix length IPv6 peers are grouped by.
    pub fn ipv6_prefix_len(&self) -> u8 {
        self.ipv6_prefix
    }

    /// The key a peer is counted under: its IPv4 address (mapped addresses
    /// unwrapped), or its IPv6 address with the bits past the prefix cleared.
    fn key(&self, ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.ipv6_prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(v6.to_bits() & mask))
            }
            v4 => v4,
        }
    }
}

fn out_of_range(what: &'static str, detail: &str) -> ConfigError {
    ConfigError::OutOfRange {
        what,
        detail: detail.to_owned(),
    }
}

/// Why a connection was refused at admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdmitError {
    /// The server already holds its maximum number of connections.
    #[error("connection limit reached ({max} open)")]
    TooManyConnections {
        /// The configured maximum.
        max: usize,
    },
    /// This peer IP (or IPv6 network) already holds its maximum number of
    /// connections.
    #[error("per-IP connection limit reached for {ip} ({max} open)")]
    TooManyFromIp {
        /// The address the peer is counted under (an IPv6 network address
        /// when IPv6 peers are grouped by prefix).
        ip: IpAddr,
        /// The configured maximum per IP.
        max: usize,
    },
}

/// Proof that a connection was admitted; give it back to
/// [`ConnectionCounter::release`] when the connection closes.
///
/// A permit is neither `Clone` nor `Copy`, so one admission is released at
/// most once. It holds no reference to its counter (core has no shared
/// state): dropping it without releasing leaks one slot of the count.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a permit must be released when its connection closes"]
pub struct ConnectionPermit {
    /// The key the connection is counted under; `None` for a peer without an
    /// IP (a Unix socket), which counts only toward the total.
    key: Option<IpAddr>,
}

impl ConnectionPermit {
    /// The address this connection is counted under, if it has one.
    pub fn counted_as(&self) -> Option<IpAddr> {
        self.key
    }
}

/// Admits or refuses connections against [`ConnectionLimits`] and counts the
/// open ones. Pure: no clock, no IO.
///
/// A runtime can use it on its own, to refuse a connection right after
/// `accept` before doing anything else; the [`Hub`](crate::hub::Hub) holds one
/// and does the same in [`register`](crate::hub::Hub::register).
///
/// Memory is one map entry per peer IP with an open connection; an entry goes
/// when its last connection is released.
///
/// ```
/// use castnet_core::limits::{AdmitError, ConnectionCounter, ConnectionLimits};
/// use std::net::{IpAddr, Ipv4Addr};
///
/// let mut counter = ConnectionCounter::new(ConnectionLimits::new(100, 1).unwrap());
/// let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
/// let permit = counter.admit(ip).unwrap();
/// assert!(matches!(counter.admit(ip), Err(AdmitError::TooManyFromIp { .. })));
/// counter.release(permit);
/// assert!(counter.admit(ip).is_ok());
/// ```
#[derive(Debug, Clone, Default)]
pub struct ConnectionCounter {
    limits: ConnectionLimits,
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl ConnectionCounter {
    /// A counter with no open connections.
    pub fn new(limits: ConnectionLimits) -> Self {
        ConnectionCounter {
            limits,
            total: 0,
            per_ip: HashMap::new(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> ConnectionLimits {
        self.limits
    }

    /// Replaces the limits. Open connections stay open even if they are now
    /// over a cap; new ones are refused until the counts drop below it.
    /// (Permits carry the key they were counted under, so releasing one
    /// admitted under an older IPv6 grouping still finds its entry.)
    pub fn set_limits(&mut self, limits: ConnectionLimits) {
        self.limits = limits;
    }

    /// Admits one connection from `ip` (`None` for a peer without an IP,
    /// such as a Unix socket, which counts only toward the total), or says
    /// which cap refuses it. A refusal changes nothing.
    pub fn admit(&mut self, ip: impl Into<Option<IpAddr>>) -> Result<ConnectionPermit, AdmitError> {
        if self.total >= self.limits.max_connections {
            return Err(AdmitError::TooManyConnections {
                max: self.limits.max_connections,
            });
        }
        let key = ip.into().map(|ip| self.limits.key(ip));
        if let Some(key) = key {
            // Checked before inserting, so a refusal leaves no empty entry.
            if self.per_ip.get(&key).copied().unwrap_or(0) >= self.limits.max_per_ip {
                return Err(AdmitError::TooManyFromIp {
                    ip: key,
                    max: self.limits.max_per_ip,
                });
            }
            *self.per_ip.entry(key).or_insert(0) += 1;
        }
        self.total += 1;
        Ok(ConnectionPermit { key })
    }

    /// Releases the slot `permit` holds.
    pub fn release(&mut self, permit: ConnectionPermit) {
        self.total = self.total.saturating_sub(1);
        if let Some(key) = permit.key {
            if let Some(open) = self.per_ip.get_mut(&key) {
                *open -= 1;
                if *open == 0 {
                    self.per_ip.remove(&key);
                }
            }
        }
    }

    /// Open connections in total.
    pub fn open(&self) -> usize {
        self.total
    }

    /// Open connections counted under `ip` (grouped as admission groups it).
    pub fn open_from(&self, ip: IpAddr) -> usize {
        self.per_ip.get(&self.limits.key(ip)).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn v6(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn connection_over_the_total_cap_is_refused() {
        let mut counter = ConnectionCounter::new(ConnectionLimits::new(2, 10).unwrap());
        let _a = counter.admit(v4(1)).unwrap();
        let _b = counter.admit(v4(2)).unwrap();
        assert_eq!(
            counter.admit(v4(3)),
            Err(AdmitError::TooManyConnections { max: 2 })
        );
        assert_eq!(counter.open(), 2);
    }

    #[test]
    fn per_ip_cap_refuses_only_that_ip() {
        let mut counter = ConnectionCounter::new(ConnectionLimits::new(100, 2).unwrap());
        let _a = counter.admit(v4(1)).unwrap();
        let _b = counter.admit(v4(1)).unwrap();
        assert_eq!(
            counter.admit(v4(1)),
            Err(AdmitError::TooManyFromIp { ip: v4(1), max: 2 })
        );
        assert!(counter.admit(v4(2)).is_ok());
    }

    #[test]
    fn refusal_changes_no_count() {
        let mut counter = ConnectionCounter::new(ConnectionLimits::new(100, 1).unwrap());
        let _a = counter.admit(v4(1)).unwrap();
        assert!(counter.admit(v4(1)).is_err());
        assert_eq!(counter.open(), 1);
        assert_eq!(counter.open_from(v4(1)), 1);
    }

    #[test]
    fn release_frees_the_slot_for_the_same_ip() {
        let mut counter = ConnectionCounter::new(ConnectionLimits::new(1, 1).unwrap());
        let permit = counter.admit(v4(1)).unwrap();
        assert!(counter.admit(v4(1)).is_err());
        counter.release(permit);
        assert_eq!(counter.open(), 0);
        assert!(counter.admit(v4(1)).is_ok());
    }

    #[test]
    fn per_ip_entry_is_freed_with_its_last_connection() {
        let mut counter = ConnectionCounter::new(ConnectionLimits::unlimited());
        let permits: Vec<_> = (0..50).map(|n| counter.admit(v4(n)).unwrap()).collect();
        assert_eq!(counter.per_ip.len(), 50);
        for permit in permits {
            counter.release(permit);
        }
        assert!(
            counter.per_ip.is_empty(),
            "memory is bounded by open connections"
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_peer_counts_as_its_ipv4_address() {
        let mut counter = ConnectionCounter::new(ConnectionLimits::new(100, 1).unwrap());
        let permit = counter.admit(v6("::ffff:192.0.2.1")).unwrap();
        assert_eq!(permit.counted_as(), Some(v4(1)));
        assert!(matches!(
            counter.admit(v4(1)),
            Err(AdmitError::TooManyFromIp { .. })
        ));
    }

    #[test]
    fn ipv6_peers_are_grouped_by_the_configured_prefix() {
        let limits = ConnectionLimits::new(100, 1)
            .unwrap()
            .ipv6_prefix(64)
            .unwrap();
        let mut counter = ConnectionCounter::new(limits);
        let permit = counter.admit(v6("2001:db8:1:2::1")).unwrap();
        assert_eq!(permit.counted_as(), Some(v6("2001:db8:1:2::")));
        assert_eq!(
            counter.admit(v6("2001:db8:1:2:ffff::9")),
            Err(AdmitError::TooManyFromIp {
                ip: v6("2001:db8:1:2::"),
                max: 1
            })
        );
        assert!(counter.admit(v6("2001:db8:1:3::1")).is_ok(), "another /64");
    }

    #[test]
    fn ipv6_prefix_zero_groups_every_ipv6_peer_and_128_none() {
        let all = ConnectionLimits::new(100, 1)
            .unwrap()
            .ipv6_prefix(0)
            .unwrap();
        let mut counter = ConnectionCounter::new(all);
        let _a = counter.admit(v6("2001:db8::1")).unwrap();
        assert!(counter.admit(v6("fe80::1")).is_err());

        let mut exact = ConnectionCounter::new(ConnectionLimits::new(100, 1).unwrap());
        let _a = exact.admit(v6("2001:db8::1")).unwrap();
        assert!(exact.admit(v6("2001:db8::2")).is_ok());
    }

    #[test]
    fn peer_without_ip_counts_only_toward_the_total() {
        let mut counter = ConnectionCounter::new(ConnectionLimits::new(2, 1).unwrap());
        let a = counter.admit(None).unwrap();
        let _b = counter.admit(None).unwrap();
        assert_eq!(a.counted_as(), None);
        assert_eq!(
            counter.admit(None),
            Err(AdmitError::TooManyConnections { max: 2 })
        );
        assert!(counter.per_ip.is_empty());
    }

    #[test]
    fn lowered_limits_keep_open_connections_and_refuse_new_ones() {
        let mut counter = ConnectionCounter::new(ConnectionLimits::unlimited());
        let permits: Vec<_> = (0..3).map(|_| counter.admit(v4(1)).unwrap()).collect();
        counter.set_limits(ConnectionLimits::new(2, 2).unwrap());
        assert_eq!(counter.open(), 3);
        assert!(counter.admit(v4(2)).is_err());
        for permit in permits {
            counter.release(permit);
        }
        assert!(counter.admit(v4(2)).is_ok());
    }

    #[test]
    fn permit_from_an_older_ipv6_grouping_releases_its_own_entry() {
        let mut counter = ConnectionCounter::new(ConnectionLimits::unlimited());
        let permit = counter.admit(v6("2001:db8::1")).unwrap();
        counter.set_limits(ConnectionLimits::unlimited().ipv6_prefix(64).unwrap());
        counter.release(permit);
        assert!(counter.per_ip.is_empty());
        assert_eq!(counter.open(), 0);
    }

    #[test]
    fn zero_caps_and_long_prefixes_are_configuration_errors() {
        assert!(ConnectionLimits::new(0, 1).is_err());
        assert!(ConnectionLimits::new(1, 0).is_err());
        assert!(ConnectionLimits::unlimited().ipv6_prefix(129).is_err());
        assert!(ConnectionLimits::unlimited().ipv6_prefix(128).is_ok());
    }
}
