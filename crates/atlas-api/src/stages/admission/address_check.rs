//! API access lists of programmatic credentials (semantics §4.3): parsing and matching IPv4/IPv6
//! addresses and CIDR blocks, the stored form of an entry, and the admission check with its usage
//! record.
//!
//! Entries live under the credential they restrict, one document each, keyed by the canonical
//! network (`10.0.0.0%2F16`, `192.0.2.1%2F32`):
//! - API keys: `/orgs/{orgId}/apiKeys/{apiUserId}/accessList`, usage fields `count`, `lastUsed`,
//!   `lastUsedAddress`, creation `created`;
//! - service accounts: `/orgs/{orgId}/serviceAccounts/{clientId}/accessList` (the project paths
//!   address the same list), usage fields `requestCount`, `lastUsedAt`, `lastUsedAddress`,
//!   creation `createdAt`.
//!
//! Rules: a credential with entries is usable only from a covered address (403
//! `IP_ADDRESS_NOT_ON_ACCESS_LIST`); one without entries is usable from anywhere unless its
//! organization sets `apiAccessListRequired` (403 `ORG_REQUIRES_ACCESS_LIST`). Both answers carry
//! the caller's address as their parameter.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use atlas_store::{Page, Record, Tx};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::api_error;
use crate::kernel::clock::atlas_timestamp;
use crate::kernel::error::ApiError;
use crate::kernel::paths::segment;
use crate::kernel::principal::Principal;

/// An address block: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// An address, with IPv4-mapped IPv6 (`::ffff:192.0.2.1`) read as IPv4, as a dual-stack
/// listener reports IPv4 peers.
pub fn parse_address(text: &str) -> Option<IpAddr> {
    let addr: IpAddr = text.trim().parse().ok()?;
    Some(canonical(addr))
}

fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

impl Network {
    /// `192.0.2.1` (a host), `10.0.0.0/16` or `10.0.0.0%2F16` (the slash URL-encoded, as path
    /// parameters carry it).
    pub fn parse(text: &str) -> Option<Network> {
        let text = text.trim();
        let (addr, prefix) = match split_prefix(text) {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max)?
            }
            Some(_) => return None,
            None => max,
        };
        Some(Network { addr, prefix })
    }

    fn max(&self) -> u8 {
        if self.addr.is_ipv4() { 32 } else { 128 }
    }

    /// Whether the block is a single address.
    pub fn is_host(&self) -> bool {
        self.prefix == self.max()
    }

    /// Whether `ip` is inside the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.masked().addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask_v4(ip, self.prefix) == net,
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask_v6(ip, self.prefix) == net,
            _ => false,
        }
    }

    /// The block with its host bits cleared (`10.0.0.7/16` -> `10.0.0.0/16`).
    pub fn masked(&self) -> Network {
        let addr = match self.addr {
            IpAddr::V4(a) => IpAddr::V4(mask_v4(a, self.prefix)),
            IpAddr::V6(a) => IpAddr::V6(mask_v6(a, self.prefix)),
        };
        Network {
            addr,
            prefix: self.prefix,
        }
    }

    /// `address/prefix` of the masked block: the identity of an entry.
    pub fn canonical(&self) -> String {
        let m = self.masked();
        format!("{}/{}", m.addr, m.prefix)
    }
}

fn split_prefix(text: &str) -> Option<(&str, &str)> {
    if let Some(split) = text.split_once('/') {
        return Some(split);
    }
    let lower = text.to_ascii_lowercase();
    let at = lower.find("%2f")?;
    Some((&text[..at], &text[at + 3..]))
}

fn mask_v4(a: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let bits = u32::from(a);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    Ipv4Addr::from(bits & mask)
}

fn mask_v6(a: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let bits = u128::from(a);
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(prefix))
    };
    Ipv6Addr::from(bits & mask)
}

/// Which credential kind a list belongs to: the two kinds name the same facts differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ApiKey,
    ServiceAccount,
}

impl Kind {
    fn created(self) -> &'static str {
        match self {
            Kind::ApiKey => "created",
            Kind::ServiceAccount => "createdAt",
        }
    }
    fn count(self) -> &'static str {
        match self {
            Kind::ApiKey => "count",
            Kind::ServiceAccount => "requestCount",
        }
    }
    fn last_used(self) -> &'static str {
        match self {
            Kind::ApiKey => "lastUsed",
            Kind::ServiceAccount => "lastUsedAt",
        }
    }
}

/// The collection of a credential's entries.
pub fn collection(kind: Kind, org_id: &str, credential: &str) -> String {
    match kind {
        Kind::ApiKey => format!("/orgs/{org_id}/apiKeys/{credential}/accessList"),
        Kind::ServiceAccount => {
            format!("/orgs/{org_id}/serviceAccounts/{credential}/accessList")
        }
    }
}

/// The store key of the entry a path parameter (`192.0.2.1`, `10.0.0.0%2F16`) names.
pub fn key_of(text: &str) -> Option<String> {
    Network::parse(text).map(|n| segment(&n.canonical()))
}

/// A new entry from one request item (`{"ipAddress": …}` or `{"cidrBlock": …}`): its key and
/// document. A host address is also shown as its `/32` (`/128`) block.
pub fn new_entry(
    kind: Kind,
    item: &Value,
    now: OffsetDateTime,
) -> Result<(String, Value), ApiError> {
    let text = |name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let (ip, cidr) = (text("ipAddress"), text("cidrBlock"));
    let network = match (ip, cidr) {
        (Some(_), Some(_)) => {
            return Err(api_error!(
                MULTIPLE_VALUES_SPECIFIED_FOR_ONE_NETWORK_PERMISSION_ENTRY
            ));
        }
        (Some(ip), None) => parse_address(ip)
            .map(|addr| Network {
                addr,
                prefix: if addr.is_ipv4() { 32 } else { 128 },
            })
            .ok_or_else(|| api_error!(INVALID_IP_ADDRESS_OR_CIDR_NOTATION, ip))?,
        (None, Some(cidr)) => Network::parse(cidr)
            .ok_or_else(|| api_error!(INVALID_IP_ADDRESS_OR_CIDR_NOTATION, cidr))?,
        (None, None) => {
            return Err(api_error!(
                MISSING_ONE_OF_ATTRIBUTES,
                "ipAddress",
                "cidrBlock"
            ));
        }
    };
    let mut doc = Map::new();
    match ip {
        Some(ip) => {
            doc.insert("ipAddress".into(), json!(ip.trim()));
            doc.insert("cidrBlock".into(), json!(network.canonical()));
        }
        None => {
            let shown = cidr
                .unwrap_or_default()
                .trim()
                .replace("%2F", "/")
                .replace("%2f", "/");
            doc.insert("cidrBlock".into(), json!(shown));
        }
    }
    doc.insert(kind.created().into(), json!(atlas_timestamp(now)));
    if kind == Kind::ServiceAccount {
        doc.insert(kind.count().into(), json!(0));
    }
    Ok((segment(&network.canonical()), Value::Object(doc)))
}

/// The network an entry document covers.
fn entry_network(doc: &Value) -> Option<Network> {
    doc.get("cidrBlock")
        .or_else(|| doc.get("ipAddress"))
        .and_then(Value::as_str)
        .and_then(Network::parse)
}

/// The credential behind a principal that an access list restricts.
fn restricted(principal: &Principal) -> Option<(Kind, &str, &str)> {
    match principal {
        Principal::ApiKey { id, org_id, .. } => Some((Kind::ApiKey, org_id, id)),
        Principal::ServiceAccount { client_id, org_id } => {
            Some((Kind::ServiceAccount, org_id, client_id))
        }
        Principal::User { .. } | Principal::Anonymous => None,
    }
}

/// Whether the organization requires an access list for API access.
pub fn required(tx: &mut dyn Tx, org_id: &str) -> Result<bool, ApiError> {
    Ok(tx
        .get(&format!("/orgs/{org_id}/settings"), "")?
        .and_then(|r| r.doc.get("apiAccessListRequired").and_then(Value::as_bool))
        .unwrap_or(false))
}

/// The entry of an access list that let a request in, whose use is then recorded.
#[derive(Debug, Clone)]
pub struct Admitted {
    kind: Kind,
    collection: String,
    key: String,
}

/// The admission check: may `principal` call from `client_ip`? Returns the entry that let the
/// request in, if an access list applies; [`record_use`] then records the use (in a write
/// transaction of its own, so admission itself can stay read-only).
pub fn admit(
    tx: &mut dyn Tx,
    principal: &Principal,
    client_ip: &str,
) -> Result<Option<Admitted>, ApiError> {
    let Some((kind, org_id, credential)) = restricted(principal) else {
        return Ok(None);
    };
    let collection = collection(kind, org_id, credential);
    let (entries, _) = tx.list(&collection, Page::ALL)?;
    if entries.is_empty() {
        if required(tx, org_id)? {
            return Err(api_error!(ORG_REQUIRES_ACCESS_LIST, client_ip));
        }
        return Ok(None);
    }
    let caller = parse_address(client_ip);
    let matched: Option<Record> = caller.and_then(|ip| {
        entries
            .into_iter()
            .filter_map(|e| {
                let network = entry_network(&e.doc).filter(|n| n.contains(ip))?;
                Some((network.prefix, e))
            })
            // The most specific entry is the one that "let the request in".
            .max_by_key(|(prefix, _)| *prefix)
            .map(|(_, e)| e)
    });
    let Some(entry) = matched else {
        return Err(api_error!(IP_ADDRESS_NOT_ON_ACCESS_LIST, client_ip));
    };
    Ok(Some(Admitted {
        kind,
        collection: entry.collection,
        key: entry.key,
    }))
}

/// Counts a use of the entry that admitted a request from `client_ip`, and when it was.
pub fn record_use(
    tx: &mut dyn Tx,
    admitted: &Admitted,
    client_ip: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let Admitted {
        kind,
        collection,
        key,
    } = admitted;
    // Re-read: another request may have counted since admission read the entry.
    let Some(mut entry) = tx.get(collection, key)? else {
        return Ok(());
    };
    if let Value::Object(doc) = &mut entry.doc {
        let count = doc.get(kind.count()).and_then(Value::as_u64).unwrap_or(0) + 1;
        doc.insert(kind.count().into(), json!(count));
        doc.insert(kind.last_used().into(), json!(atlas_timestamp(now)));
        doc.insert("lastUsedAddress".into(), json!(client_ip));
    }
    tx.update(&entry.collection, &entry.key, &entry.doc)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        parse_address(s).unwrap()
    }

    #[test]
    fn hosts_and_blocks_match_their_addresses() {
        let host = Network::parse("192.0.2.1").unwrap();
        assert!(host.is_host());
        assert!(host.contains(ip("192.0.2.1")));
        assert!(!host.contains(ip("192.0.2.2")));
        let block = Network::parse("10.1.2.3%2F16").unwrap();
        assert_eq!(block.canonical(), "10.1.0.0/16");
        assert!(block.contains(ip("10.1.255.7")));
        assert!(!block.contains(ip("10.2.0.1")));
        let all = Network::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        assert!(!all.contains(ip("2001:db8::1")));
    }

    #[test]
    fn ipv6_and_mapped_ipv4() {
        let block = Network::parse("2001:db8::/32").unwrap();
        assert!(block.contains(ip("2001:db8:1::5")));
        assert!(!block.contains(ip("2001:db9::5")));
        assert_eq!(block.canonical(), "2001:db8::/32");
        let v4 = Network::parse("192.0.2.0/24").unwrap();
        assert!(v4.contains(ip("::ffff:192.0.2.77")));
    }

    #[test]
    fn malformed_entries_are_rejected() {
        for bad in [
            "",
            "192.0.2",
            "192.0.2.1/33",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "x/8",
            "::/129",
        ] {
            assert!(Network::parse(bad).is_none(), "{bad}");
        }
        let now = OffsetDateTime::UNIX_EPOCH;
        let both = json!({"ipAddress": "192.0.2.1", "cidrBlock": "192.0.2.0/24"});
        assert_eq!(
            new_entry(Kind::ApiKey, &both, now).unwrap_err().code(),
            "MULTIPLE_VALUES_SPECIFIED_FOR_ONE_NETWORK_PERMISSION_ENTRY"
        );
        let bad = json!({"ipAddress": "192.0.2.1dfdfd5"});
        let e = new_entry(Kind::ApiKey, &bad, now).unwrap_err();
        // [F] "The address 192.0.2.1dfdfd5 must be in valid IP address or CIDR notation."
        assert_eq!(
            e.detail(),
            "The address 192.0.2.1dfdfd5 must be in valid IP address or CIDR notation."
        );
    }

    #[test]
    fn entries_show_hosts_as_blocks_too() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let (key, doc) = new_entry(Kind::ApiKey, &json!({"ipAddress": "192.0.2.1"}), now).unwrap();
        assert_eq!(key, "192.0.2.1%2F32");
        assert_eq!(doc["cidrBlock"], "192.0.2.1/32");
        assert_eq!(doc["created"], "1970-01-01T00:00:00Z");
        let (key, doc) = new_entry(
            Kind::ServiceAccount,
            &json!({"cidrBlock": "10.0.0.0/8"}),
            now,
        )
        .unwrap();
        assert_eq!(key, "10.0.0.0%2F8");
        assert_eq!(doc["requestCount"], 0);
        assert_eq!(key_of("10.0.0.0%2F8").as_deref(), Some("10.0.0.0%2F8"));
        assert_eq!(key_of("192.0.2.1").as_deref(), Some("192.0.2.1%2F32"));
    }
}
