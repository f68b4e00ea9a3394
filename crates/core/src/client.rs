//! Which address a request comes from: the connection's, or, only when the
//! connection is from a trusted proxy, the one that proxy names. One rule for every
//! use of a client's address (throttling failed authentications, and later binding
//! tokens to networks), so that none can be fooled where another is not.

use std::net::IpAddr;

use ipnet::IpNet;

/// The networks whose connections are proxies that tell the truth about their
/// clients (`trusted_proxies` in config). Empty by default: no header is believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses CIDRs (`10.0.0.0/8`) and plain addresses (one host).
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!(
                            "trusted_proxies entry {entry:?} is not an address or a CIDR such as 10.0.0.0/8"
                        )
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client of a request that came over a connection from `peer`, with these
    /// `X-Forwarded-For` and `Forwarded` field values (in the order received). A
    /// peer not trusted is the client, whatever the fields say. Through trusted
    /// proxies, the right-most address that is not a trusted proxy is: each proxy
    /// appends the address it saw, so only the entries our proxies added are
    /// believed, and what the client wrote itself, further left, is not.
    pub fn client<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
        forwarded: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = canonical(peer);
        // Most requests come straight from their client: no list made for them.
        if !self.trusts(peer) {
            return peer;
        }
        let chain = self.believed_chain(peer, forwarded_for, forwarded);
        chain.first().copied().unwrap_or(peer)
    }

    /// The part of a request's path that can be believed, client first and `peer`
    /// last: the client ([`TrustedProxies::client`]) and the trusted proxies it came
    /// through. What a proxy passes on, so that the next one (or the API behind it)
    /// sees the same client, and nothing the client wrote about itself.
    pub fn believed_chain<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
        forwarded: impl IntoIterator<Item = &'a str>,
    ) -> Vec<IpAddr> {
        let peer = canonical(peer);
        let mut believed = vec![peer];
        if !self.trusts(peer) {
            return believed;
        }
        let mut chain: Vec<IpAddr> = forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .filter_map(parse_node)
            .collect();
        if chain.is_empty() {
            chain = forwarded
                .into_iter()
                .flat_map(|value| value.split(','))
                .filter_map(forwarded_for_node)
                .collect();
        }
        for hop in chain.into_iter().rev() {
            believed.push(hop);
            if !self.trusts(hop) {
                break;
            }
        }
        believed.reverse();
        believed
    }
}

/// An IPv4 address written as IPv6 (`::ffff:10.0.0.1`) is the IPv4 address.
pub(crate) fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, perhaps with a port or in brackets.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Some(inner) = text.strip_prefix('[') {
        let (address, _) = inner.split_once(']')?;
        return address.parse().ok().map(canonical);
    }
    let (address, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    address.parse().ok().map(canonical)
}

/// The `for=` node of one `Forwarded` element (RFC 7239), if it is an address.
fn forwarded_for_node(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_node(value))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_proxy_passes_on_the_client_and_the_trusted_hops_only() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8".to_owned()]).unwrap();
        // The client claimed 6.6.6.6 itself; 1.2.3.4 reached the first proxy.
        let chain = trusted.believed_chain(ip("10.0.0.2"), ["6.6.6.6, 1.2.3.4, 10.0.0.1"], []);
        assert_eq!(chain, [ip("1.2.3.4"), ip("10.0.0.1"), ip("10.0.0.2")]);
        let untrusted = trusted.believed_chain(ip("8.8.8.8"), ["1.2.3.4"], []);
        assert_eq!(untrusted, [ip("8.8.8.8")]);
        let forwarded = trusted.believed_chain(ip("10.0.0.2"), [], ["for=1.2.3.4;proto=https"]);
        assert_eq!(forwarded, [ip("1.2.3.4"), ip("10.0.0.2")]);
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.9"), ["1.2.3.4"], []), ip("10.0.0.9"));
        let proxies = TrustedProxies::parse(&["127.0.0.1/32".into()]).unwrap();
        assert_eq!(
            proxies.client(ip("10.0.0.9"), ["1.2.3.4"], ["for=5.6.7.8"]),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn through_trusted_proxies_the_rightmost_untrusted_address_is_the_client() {
        let proxies = TrustedProxies::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        // The client wrote 6.6.6.6 itself; 203.0.113.7 is what our first proxy saw.
        assert_eq!(
            proxies.client(ip("127.0.0.1"), ["6.6.6.6, 203.0.113.7", "10.1.2.3"], []),
            ip("203.0.113.7")
        );
        assert_eq!(
            proxies.client(
                ip("::ffff:127.0.0.1"),
                [],
                ["for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.2"]
            ),
            ip("2001:db8::1")
        );
        // Only proxies in the chain: the left-most is as far as anyone can tell.
        assert_eq!(
            proxies.client(ip("127.0.0.1"), ["10.0.0.5, 10.0.0.6"], []),
            ip("10.0.0.5")
        );
        // Nothing readable: the proxy itself.
        assert_eq!(
            proxies.client(ip("127.0.0.1"), ["unknown"], []),
            ip("127.0.0.1")
        );
        assert_eq!(
            proxies.client(ip("127.0.0.1"), ["198.51.100.4:8080"], []),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn entries_must_be_addresses_or_networks() {
        assert!(TrustedProxies::parse(&["proxy.internal".into()]).is_err());
        assert!(TrustedProxies::parse(&["::1".into(), "fd00::/8".into()]).is_ok());
    }
}
