//! Where a token may be used from: its `allowed_cidrs`. Empty means anywhere; a
//! request from an address outside every listed network is `FORBIDDEN` (reason
//! `network`), as with Stripe's and Cloudflare's IP-restricted keys, so that a stolen
//! secret is worthless away from the machines it was made for.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::client::canonical;
use crate::record::InputError;

/// The most networks one token lists: far beyond a real allow-list, and a bound on
/// what a check walks.
pub const MAX_NETWORKS: usize = 64;

/// A token's networks, each with its host bits cleared (`10.1.2.3/8` is kept as
/// `10.0.0.0/8`) and listed once, in the order given. Empty: usable from anywhere.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Networks(Box<[IpNet]>);

impl Networks {
    /// Anywhere: no network is listed.
    pub fn anywhere() -> Self {
        Self::default()
    }

    /// Parses CIDRs (`10.0.0.0/8`, `2001:db8::/32`) and plain addresses (one host),
    /// as a request writes them in `allowed_cidrs`.
    pub fn parse(entries: &[impl AsRef<str>]) -> Result<Self, InputError> {
        if entries.len() > MAX_NETWORKS {
            return Err(InputError::new(
                "allowed_cidrs",
                "invalid_cidr",
                format!(
                    "allowed_cidrs lists at most {MAX_NETWORKS} networks: join neighbours into a wider one"
                ),
            ));
        }
        let mut networks: Vec<IpNet> = Vec::with_capacity(entries.len());
        for entry in entries {
            let network = parse_one(entry.as_ref())?;
            if !networks.contains(&network) {
                networks.push(network);
            }
        }
        Ok(Self(networks.into_boxed_slice()))
    }

    /// Whether the list is empty, so that the token may be used from anywhere.
    pub fn is_anywhere(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a request from `client` may use the token. A request whose client is
    /// not known (`None`) may not, unless the token may be used from anywhere: any
    /// doubt is a deny.
    pub fn allows(&self, client: Option<IpAddr>) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let Some(client) = client.map(canonical) else {
            return false;
        };
        self.0.iter().any(|network| network.contains(&client))
    }

    /// Whether every address `other` allows, `self` allows too: a token made through
    /// one bound to networks is bound at least as tightly.
    pub fn covers(&self, other: &Networks) -> bool {
        if self.0.is_empty() {
            return true;
        }
        !other.0.is_empty()
            && other
                .0
                .iter()
                .all(|inner| self.0.iter().any(|outer| outer.contains(inner)))
    }

    /// The networks as requests and answers write them.
    pub fn texts(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

/// Space-separated, as the store keeps them.
impl fmt::Display for Networks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, network) in self.0.iter().enumerate() {
            if at > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{network}")?;
        }
        Ok(())
    }
}

fn parse_one(entry: &str) -> Result<IpNet, InputError> {
    let text = entry.trim();
    let network = text
        .parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            InputError::new(
                "allowed_cidrs",
                "invalid_cidr",
                format!(
                    "allowed_cidrs entry {entry:?} is not a CIDR such as 203.0.113.0/24 or \
                     2001:db8::/32, nor an address"
                ),
            )
        })?;
    // An IPv4 network written as IPv6 (`::ffff:10.0.0.0/104`) is the IPv4 network, as
    // the addresses it is compared with are.
    let network = match network {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(IpNet::V4)
                .unwrap_or(network),
            None => network,
        },
        other => other,
    };
    Ok(network.trunc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nets(entries: &[&str]) -> Networks {
        Networks::parse(entries).expect("valid networks")
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("an address"))
    }

    #[test]
    fn empty_allows_anywhere_and_anyone() {
        let anywhere = Networks::anywhere();
        assert!(anywhere.allows(ip("203.0.113.9")));
        assert!(anywhere.allows(None));
    }

    #[test]
    fn a_listed_network_allows_only_its_addresses() {
        let office = nets(&["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]);
        assert!(office.allows(ip("10.200.3.4")));
        assert!(office.allows(ip("2001:db8:1::5")));
        assert!(office.allows(ip("192.0.2.7")));
        assert!(office.allows(ip("::ffff:10.1.1.1")), "IPv4 written as IPv6");
        assert!(!office.allows(ip("192.0.2.8")));
        assert!(!office.allows(ip("11.0.0.1")));
        assert!(!office.allows(ip("2001:db9::1")));
        assert!(!office.allows(None), "an unknown client is refused");
    }

    #[test]
    fn host_bits_are_cleared_and_duplicates_dropped() {
        let parsed = nets(&["10.1.2.3/8", "10.0.0.0/8", "::ffff:192.0.2.0/120"]);
        assert_eq!(parsed.texts(), ["10.0.0.0/8", "192.0.2.0/24"]);
        assert_eq!(parsed.to_string(), "10.0.0.0/8 192.0.2.0/24");
    }

    #[test]
    fn what_is_not_a_network_is_named() {
        for bad in ["10.0.0.0/33", "office", "10.0.0", "", "2001:db8::/129"] {
            let error = Networks::parse(&[bad]).expect_err(bad);
            assert_eq!(error.field, "allowed_cidrs");
            assert_eq!(error.code, "invalid_cidr");
        }
        let too_many: Vec<String> = (0..=MAX_NETWORKS)
            .map(|i| format!("10.0.{i}.0/24"))
            .collect();
        assert_eq!(
            Networks::parse(&too_many).expect_err("too many").code,
            "invalid_cidr"
        );
    }

    #[test]
    fn a_child_may_only_narrow() {
        let parent = nets(&["10.0.0.0/8"]);
        assert!(parent.covers(&nets(&["10.1.0.0/16", "10.2.3.4"])));
        assert!(!parent.covers(&nets(&["10.0.0.0/7"])));
        assert!(!parent.covers(&nets(&["10.1.0.0/16", "11.0.0.0/16"])));
        assert!(!parent.covers(&Networks::anywhere()), "anywhere is wider");
        assert!(Networks::anywhere().covers(&parent));
        assert!(Networks::anywhere().covers(&Networks::anywhere()));
    }

    proptest! {
        /// Whatever a child lists within its parent's networks allows no address the
        /// parent refuses.
        #[test]
        fn covered_networks_allow_nothing_more(
            parent in prop::collection::vec((any::<u32>(), 0u8..=32), 1..4),
            child in prop::collection::vec((any::<u32>(), 0u8..=32), 1..4),
            probe in any::<u32>(),
        ) {
            let text = |list: &[(u32, u8)]| -> Vec<String> {
                list.iter().map(|(a, len)| format!("{}/{len}", std::net::Ipv4Addr::from(*a))).collect()
            };
            let parent = Networks::parse(&text(&parent)).expect("valid");
            let child = Networks::parse(&text(&child)).expect("valid");
            let probe = Some(IpAddr::from(std::net::Ipv4Addr::from(probe)));
            if parent.covers(&child) && child.allows(probe) {
                prop_assert!(parent.allows(probe));
            }
        }
    }
}
