//! The contents of ipsets, read from `ipset save` output, so that `-m set --match-set` and the SET target
//! can be answered instead of assumed. A set's type names its dimensions (`hash:net,port` is an address
//! or network, then a protocol and port); each element gives one value per dimension.

use crate::ruleset::Family;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One set: its name, its dimensions, the options it was created with and its elements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpSet {
    /// The set's name.
    pub name: String,
    /// The type as `ipset` writes it (`hash:net,port`).
    pub kind: String,
    /// What each dimension holds.
    pub dims: Vec<Dim>,
    /// `family inet` or `inet6`; none for the types that have no family (`bitmap:port`, `list:set`), which
    /// a packet of either family is looked up in.
    pub family: Option<Family>,
    /// `netmask N` of `hash:ip` and `bitmap:ip`: addresses are cut to this prefix when stored and looked up.
    pub netmask: Option<u8>,
    /// `counters`: each element counts the packets and bytes of the lookups that found it.
    pub counters: bool,
    /// The elements; `nomatch` elements are excluded from a match.
    pub members: Vec<Member>,
    /// Where the contents came from when chainwalk guessed them rather than read them (lookups in such a
    /// set are assumptions).
    #[serde(default)]
    pub guessed: Option<String>,
}

/// What one dimension of a set holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dim {
    /// An address (`ip`).
    Ip,
    /// A network (`net`): looked up at each prefix length its elements have, the longest first.
    Net,
    /// A protocol and port (`hash:*,port`).
    Port,
    /// A port of TCP or UDP alike (`bitmap:port`).
    BarePort,
    /// An interface name.
    Iface,
    /// A MAC address.
    Mac,
    /// A packet mark.
    Mark,
    /// The name of another set (`list:set`).
    Set,
}

/// One element.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// One value per dimension.
    pub values: Vec<Value>,
    /// Whether it was added with `nomatch`: a packet it covers is not in the set.
    pub nomatch: bool,
    /// Its packet counter (`packets N`, in a set with `counters`).
    #[serde(default)]
    pub packets: u64,
    /// Its byte counter (`bytes N`).
    #[serde(default)]
    pub bytes: u64,
}

/// A value of an element.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Value {
    /// An address with a prefix length (a plain address has the full length).
    Net {
        /// The address.
        addr: IpAddr,
        /// The prefix length.
        prefix: u8,
    },
    /// A protocol number (none: TCP or UDP, in a `bitmap:port` set) and an inclusive port range; for
    /// ICMP and ICMPv6 the "port" is the type times 256 plus the code, as the kernel keys them.
    Port {
        /// The IP protocol.
        proto: Option<u8>,
        /// The lowest port.
        min: u16,
        /// The highest port.
        max: u16,
    },
    /// An interface name; `wildcard` when it was written with a `+` (stored without it), `physdev` when
    /// with `physdev:`.
    Iface {
        /// The name.
        name: String,
        /// Written `NAME+`.
        wildcard: bool,
        /// Written `physdev:NAME`: a bridge port, which iptables' lookups never ask for.
        physdev: bool,
    },
    /// A MAC address; none in a `bitmap:ip,mac` element added without one (the first packet fills it in).
    Mac(Option<[u8; 6]>),
    /// A mark.
    Mark(u32),
    /// Another set's name.
    Set(String),
}

impl IpSet {
    /// Reads `create NAME TYPE [OPTIONS]`; the type decides the dimensions.
    pub fn create(name: &str, kind: &str, options: &[&str]) -> Result<IpSet, String> {
        let (method, dims_text) = kind.split_once(':').ok_or_else(|| format!("`{kind}` is not an ipset type"))?;
        let dims = dims_text
            .split(',')
            .map(|d| match d {
                "ip" => Ok(Dim::Ip),
                "net" => Ok(Dim::Net),
                "port" if method == "bitmap" => Ok(Dim::BarePort),
                "port" => Ok(Dim::Port),
                "iface" => Ok(Dim::Iface),
                "mac" => Ok(Dim::Mac),
                "mark" => Ok(Dim::Mark),
                "set" => Ok(Dim::Set),
                other => Err(format!("`{other}` is not an ipset dimension chainwalk knows")),
            })
            .collect::<Result<Vec<Dim>, String>>()?;
        let option = |key: &str| options.iter().position(|o| *o == key).and_then(|i| options.get(i + 1)).copied();
        let family = match option("family") {
            Some("inet6") => Some(Family::Ipv6),
            Some("inet") => Some(Family::Ipv4),
            Some(other) => return Err(format!("`family {other}`: an ipset family is inet or inet6")),
            // The address types are IPv4 unless told; `bitmap:port` and `list:set` have none.
            None if dims.iter().any(|d| matches!(d, Dim::Ip | Dim::Net)) => Some(Family::Ipv4),
            None => None,
        };
        let netmask = match option("netmask") {
            Some(n) => Some(n.parse::<u8>().map_err(|_| format!("`netmask {n}` is not a prefix length"))?),
            None => None,
        };
        let counters = options.contains(&"counters");
        Ok(IpSet {
            name: name.to_string(),
            kind: kind.to_string(),
            dims,
            family,
            netmask,
            counters,
            members: Vec::new(),
            guessed: None,
        })
    }

    /// Reads the element of an `add NAME ELEMENT [options]` line. A `bitmap:ip,mac` element may leave out
    /// its MAC address.
    pub fn add(&mut self, element: &str, options: &[&str]) -> Result<(), String> {
        let parts: Vec<&str> = element.split(',').collect();
        let macless = parts.len() + 1 == self.dims.len() && self.dims.last() == Some(&Dim::Mac);
        if parts.len() != self.dims.len() && !macless {
            return Err(format!("`{element}` does not fit set {}, of type {}", self.name, self.kind));
        }
        let mut values =
            parts.iter().zip(&self.dims).map(|(p, d)| value(p, *d)).collect::<Result<Vec<Value>, String>>()?;
        if macless {
            values.push(Value::Mac(None));
        }
        if let Some(mask) = self.netmask {
            for v in &mut values {
                if let Value::Net { addr, prefix } = v {
                    *prefix = (*prefix).min(mask);
                    *addr = cut(*addr, *prefix);
                }
            }
        }
        // `hash_ip4_uadt`/`hash_ip6_uadt` refuse an address that is all zeros once cut to the netmask.
        if self.kind == "hash:ip" && matches!(values.first(), Some(Value::Net { addr, .. }) if addr.is_unspecified()) {
            return Err(format!(
                "`{element}`{} is all zeros: a hash set cannot store a null-valued element",
                self.netmask.map(|m| format!(" cut to netmask {m}")).unwrap_or_default()
            ));
        }
        let counter = |key: &str| {
            options.iter().position(|o| *o == key).and_then(|i| options.get(i + 1)).and_then(|n| n.parse().ok())
        };
        self.members.push(Member {
            values,
            nomatch: options.contains(&"nomatch"),
            packets: counter("packets").unwrap_or(0),
            bytes: counter("bytes").unwrap_or(0),
        });
        Ok(())
    }
}

/// `addr` with the bits past `prefix` cleared.
pub fn cut(addr: IpAddr, prefix: u8) -> IpAddr {
    use crate::ruleset::addr::{prefix_mask_v4, prefix_mask_v6};
    match addr {
        IpAddr::V4(a) => IpAddr::V4((u32::from(a) & prefix_mask_v4(u32::from(prefix))).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) & prefix_mask_v6(u32::from(prefix))).into()),
    }
}

/// The ICMP types and codes `ipset` writes by name (its own table, not iptables').
const ICMP_NAMES: &[(&str, u8, u8)] = &[
    ("echo-reply", 0, 0),
    ("network-unreachable", 3, 0),
    ("host-unreachable", 3, 1),
    ("protocol-unreachable", 3, 2),
    ("port-unreachable", 3, 3),
    ("fragmentation-needed", 3, 4),
    ("source-route-failed", 3, 5),
    ("network-unknown", 3, 6),
    ("host-unknown", 3, 7),
    ("network-prohibited", 3, 9),
    ("host-prohibited", 3, 10),
    ("TOS-network-unreachable", 3, 11),
    ("TOS-host-unreachable", 3, 12),
    ("communication-prohibited", 3, 13),
    ("host-precedence-violation", 3, 14),
    ("precedence-cutoff", 3, 15),
    ("source-quench", 4, 0),
    ("network-redirect", 5, 0),
    ("host-redirect", 5, 1),
    ("TOS-network-redirect", 5, 2),
    ("TOS-host-redirect", 5, 3),
    ("echo-request", 8, 0),
    ("router-advertisement", 9, 0),
    ("router-solicitation", 10, 0),
    ("ttl-zero-during-transit", 11, 0),
    ("ttl-zero-during-reassembly", 11, 1),
    ("ip-header-bad", 12, 0),
    ("required-option-missing", 12, 1),
    ("timestamp-request", 13, 0),
    ("timestamp-reply", 14, 0),
    ("address-mask-request", 17, 0),
    ("address-mask-reply", 18, 0),
];

/// The ICMPv6 types and codes `ipset` writes by name.
const ICMPV6_NAMES: &[(&str, u8, u8)] = &[
    ("no-route", 1, 0),
    ("communication-prohibited", 1, 1),
    ("address-unreachable", 1, 3),
    ("port-unreachable", 1, 4),
    ("packet-too-big", 2, 0),
    ("ttl-zero-during-transit", 3, 0),
    ("ttl-zero-during-reassembly", 3, 1),
    ("bad-header", 4, 0),
    ("unknown-header-type", 4, 1),
    ("unknown-option", 4, 2),
    ("echo-request", 128, 0),
    ("echo-reply", 129, 0),
    ("router-solicitation", 133, 0),
    ("router-advertisement", 134, 0),
    ("neighbour-solicitation", 135, 0),
    ("neighbour-advertisement", 136, 0),
    ("redirect", 137, 0),
];

fn value(text: &str, dim: Dim) -> Result<Value, String> {
    let bad = || format!("`{text}` is not a valid element value");
    let number = |t: &str| t.parse::<u16>().map_err(|_| bad());
    let range = |t: &str| -> Result<(u16, u16), String> {
        match t.split_once('-') {
            Some((a, b)) => Ok((number(a)?, number(b)?)),
            None => number(t).map(|p| (p, p)),
        }
    };
    Ok(match dim {
        Dim::Ip | Dim::Net => {
            let (a, p) = text.split_once('/').map_or((text, None), |(a, p)| (a, Some(p)));
            let addr: IpAddr = a.parse().map_err(|_| bad())?;
            let full = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match p {
                Some(p) => p.parse::<u8>().ok().filter(|&n| n <= full).ok_or_else(bad)?,
                None => full,
            };
            Value::Net { addr, prefix }
        }
        Dim::BarePort => {
            let (min, max) = range(text)?;
            Value::Port { proto: None, min, max }
        }
        Dim::Port => {
            let (proto, ports) = text.split_once(':').map_or(("tcp", text), |(p, r)| (p, r));
            let icmp = match proto {
                "icmp" => Some((1, ICMP_NAMES)),
                "icmpv6" | "ipv6-icmp" => Some((58, ICMPV6_NAMES)),
                _ => None,
            };
            if let Some((proto, names)) = icmp {
                // `TYPE/CODE` or a name of ipset's table.
                let (t, c) = match ports.split_once('/') {
                    Some((t, c)) => (t.parse::<u8>().map_err(|_| bad())?, c.parse::<u8>().map_err(|_| bad())?),
                    None => names.iter().find(|(n, _, _)| *n == ports).map(|&(_, t, c)| (t, c)).ok_or_else(bad)?,
                };
                let key = u16::from(t) << 8 | u16::from(c);
                return Ok(Value::Port { proto: Some(proto), min: key, max: key });
            }
            let proto = match proto.parse::<u8>() {
                Ok(n) => n,
                Err(_) => crate::ruleset::addr::Protocol::parse(proto).map_err(|_| bad())?.0,
            };
            let (min, max) = range(ports)?;
            Value::Port { proto: Some(proto), min, max }
        }
        Dim::Iface => {
            let (physdev, name) = match text.strip_prefix("physdev:") {
                Some(n) => (true, n),
                None => (false, text),
            };
            let (wildcard, name) = match name.strip_suffix('+') {
                Some(n) => (true, n),
                None => (false, name),
            };
            Value::Iface { name: name.to_string(), wildcard, physdev }
        }
        Dim::Mac => {
            let bytes: Vec<u8> =
                text.split(':').map(|b| u8::from_str_radix(b, 16)).collect::<Result<_, _>>().map_err(|_| bad())?;
            Value::Mac(Some(bytes.try_into().map_err(|_| bad())?))
        }
        Dim::Mark => Value::Mark(crate::values::parse_u32(text).ok_or_else(bad)?),
        Dim::Set => Value::Set(text.to_string()),
    })
}

/// What a packet offers for each dimension of a lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// An address.
    Addr(IpAddr),
    /// A protocol and port (for ICMP, the type times 256 plus the code).
    Port(u8, u16),
    /// An interface name.
    Iface(String),
    /// A MAC address.
    Mac([u8; 6]),
    /// A mark.
    Mark(u32),
}

impl IpSet {
    /// The elements that cover `key`, in the order the kernel tries them: its `hash:*net*` types look up
    /// the prefix lengths of the first network dimension longest first and, within each, those of the
    /// second; the first element found whose extensions (counters) pass answers, a `nomatch` one included.
    pub fn candidates(&self, key: &[Key]) -> Vec<usize> {
        let prefixes = |m: &Member| -> Vec<u8> {
            m.values
                .iter()
                .filter_map(|v| if let Value::Net { prefix, .. } = v { Some(*prefix) } else { None })
                .collect()
        };
        let mut found: Vec<(Vec<u8>, usize)> = self
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.values.len() == key.len() && m.values.iter().zip(key).all(|(v, k)| covers(v, k)))
            .map(|(i, m)| (prefixes(m), i))
            .collect();
        found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        found.into_iter().map(|(_, i)| i).collect()
    }

    /// `hash:net,iface` answers otherwise ([`IpSet::candidates`] is the rest): its elements are hashed
    /// without their interface, and the kernel stops at the first prefix length (longest first) where an
    /// element has the key's network, whatever its interface (`multi` in `mtype_test_cidrs`); the elements
    /// of that network are tried in turn, and one of the key's interface whose extensions fail (`pass`)
    /// lets the search go on. Returns the element found, or why none was.
    pub fn find_net_iface(&self, key: &[Key], pass: impl Fn(usize) -> bool) -> Result<usize, String> {
        let net_of = |m: &Member| match m.values.first() {
            Some(Value::Net { addr, prefix }) => Some((*addr, *prefix)),
            _ => None,
        };
        let Some(Key::Addr(addr)) = key.first() else { return Err("the key has no address".into()) };
        let mut prefixes: Vec<u8> = self.members.iter().filter_map(|m| net_of(m).map(|(_, p)| p)).collect();
        prefixes.sort_unstable_by(|a, b| b.cmp(a));
        prefixes.dedup();
        for p in prefixes {
            let mut multi = 0;
            for (i, m) in self.members.iter().enumerate() {
                match net_of(m) {
                    Some((net, prefix)) if prefix == p && crate::host::prefix_contains(net, p, *addr) => {}
                    _ => continue,
                }
                multi += 1;
                if m.values.iter().zip(key).all(|(v, k)| covers(v, k)) {
                    if pass(i) {
                        return Ok(i);
                    }
                    multi = 0;
                }
            }
            if multi > 0 {
                return Err(format!(
                    "the kernel's search stops at /{p}, where the set has the key's network for another interface"
                ));
            }
        }
        Err("no element covers it".into())
    }

    /// The prefix length the kernel gives an address the packet adds to or deletes from a `net`
    /// dimension (`-j SET`): the longest its elements have in that dimension, or the whole address in a set
    /// without elements.
    pub fn prefix_for_packet(&self, dim: usize, addr: IpAddr) -> u8 {
        let full = if addr.is_ipv4() { 32 } else { 128 };
        if self.dims.get(dim) != Some(&Dim::Net) {
            return self.netmask.unwrap_or(full);
        }
        self.members
            .iter()
            .filter_map(|m| if let Some(Value::Net { prefix, .. }) = m.values.get(dim) { Some(*prefix) } else { None })
            .max()
            .unwrap_or(full)
    }
}

impl IpSet {
    /// The element a packet's key makes for `-j SET --add-set` or `--del-set`: an address of a `net`
    /// dimension cut to the prefix the kernel gives it ([`IpSet::prefix_for_packet`]), of an `ip` one to
    /// the set's netmask.
    pub fn element_of(&self, key: &[Key]) -> Vec<Value> {
        key.iter()
            .zip(&self.dims)
            .enumerate()
            .map(|(i, (k, d))| match k {
                Key::Addr(a) => {
                    let prefix = self.prefix_for_packet(i, *a);
                    Value::Net { addr: cut(*a, prefix), prefix }
                }
                Key::Port(p, port) => {
                    Value::Port { proto: if *d == Dim::BarePort { None } else { Some(*p) }, min: *port, max: *port }
                }
                Key::Iface(name) => Value::Iface { name: name.clone(), wildcard: false, physdev: false },
                Key::Mac(m) => Value::Mac(Some(*m)),
                Key::Mark(m) => Value::Mark(*m),
            })
            .collect()
    }

    /// Adds the element (`-j SET --add-set`); false when it was already there.
    pub fn insert(&mut self, values: Vec<Value>) -> bool {
        if self.members.iter().any(|m| m.values == values) {
            return false;
        }
        self.members.push(Member { values, nomatch: false, packets: 0, bytes: 0 });
        true
    }

    /// Deletes the element (`-j SET --del-set`); false when it was not there.
    pub fn remove(&mut self, values: &[Value]) -> bool {
        let before = self.members.len();
        self.members.retain(|m| m.values != values);
        self.members.len() != before
    }
}

impl std::fmt::Display for Value {
    /// The value as `ipset save` writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Net { addr, prefix } if *prefix == if addr.is_ipv4() { 32 } else { 128 } => write!(f, "{addr}"),
            Value::Net { addr, prefix } => write!(f, "{addr}/{prefix}"),
            Value::Port { proto, min, max } => {
                let icmp = match proto {
                    Some(1) => Some(("icmp", ICMP_NAMES)),
                    Some(58) => Some(("ipv6-icmp", ICMPV6_NAMES)),
                    _ => None,
                };
                if let Some((label, names)) = icmp {
                    let (t, c) = ((min >> 8) as u8, (min & 0xff) as u8);
                    return match names.iter().find(|&&(_, nt, nc)| nt == t && nc == c) {
                        Some((name, _, _)) => write!(f, "{label}:{name}"),
                        None => write!(f, "{label}:{t}/{c}"),
                    };
                }
                if let Some(p) = proto {
                    let p = crate::ruleset::addr::Protocol(*p);
                    write!(f, "{p}:")?;
                }
                if min == max {
                    write!(f, "{min}")
                } else {
                    write!(f, "{min}-{max}")
                }
            }
            Value::Iface { name, wildcard, physdev } => {
                write!(f, "{}{name}{}", if *physdev { "physdev:" } else { "" }, if *wildcard { "+" } else { "" })
            }
            Value::Mac(Some(m)) => {
                write!(f, "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}", m[0], m[1], m[2], m[3], m[4], m[5])
            }
            Value::Mac(None) => f.write_str("(no MAC yet)"),
            Value::Mark(m) => write!(f, "{m:#x}"),
            Value::Set(name) => f.write_str(name),
        }
    }
}

fn covers(v: &Value, k: &Key) -> bool {
    match (v, k) {
        (Value::Net { addr, prefix }, Key::Addr(a)) => crate::host::prefix_contains(*addr, *prefix, *a),
        (Value::Port { proto: Some(proto), min, max }, Key::Port(p, port)) => {
            proto == p && (*min..=*max).contains(port)
        }
        // `bitmap:port` keys TCP and UDP ports alike, and nothing else.
        (Value::Port { proto: None, min, max }, Key::Port(p, port)) => {
            matches!(p, 6 | 17) && (*min..=*max).contains(port)
        }
        // The kernel hashes the whole element, the name included, so a wildcard element (stored as its
        // prefix) is found only by a lookup of exactly that name with the wildcard flag, which a packet's
        // interface never has; a `physdev:` element only by a lookup of bridge ports, which iptables'
        // `set` match never makes.
        (Value::Iface { name, wildcard, physdev }, Key::Iface(i)) => !wildcard && !physdev && name == i,
        (Value::Mac(None), Key::Mac(_)) => true,
        (Value::Mac(Some(m)), Key::Mac(k)) => m == k,
        (Value::Mark(m), Key::Mark(k)) => m == k,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_looks_up_longest_prefix_first() {
        let mut s = IpSet::create("web", "hash:net,port", &["family", "inet"]).unwrap();
        s.add("192.0.2.0/24,tcp:80", &[]).unwrap();
        s.add("192.0.2.7,tcp:80", &["nomatch"]).unwrap();
        let key = |a: &str, p| [Key::Addr(a.parse().unwrap()), Key::Port(6, p)];
        assert_eq!(s.candidates(&key("192.0.2.1", 80)), [0]);
        assert!(s.candidates(&key("192.0.2.1", 443)).is_empty());
        assert_eq!(s.candidates(&key("192.0.2.7", 80)), [1, 0]);
        assert!(s.add("192.0.2.1", &[]).is_err());
    }

    #[test]
    fn reads_what_ipset_save_writes() {
        let mut s = IpSet::create("p", "hash:ip,port", &["family", "inet6", "hashsize", "1024"]).unwrap();
        assert_eq!(s.family, Some(Family::Ipv6));
        for e in
            ["2001:db8::1,ipv6-icmp:echo-request", "2001:db8::1,icmpv6:1/3", "2001:db8::1,gre:0", "2001:db8::1,udp:53"]
        {
            s.add(e, &[]).unwrap();
        }
        let shown: Vec<String> = s.members.iter().map(|m| m.values[1].to_string()).collect();
        assert_eq!(shown, ["ipv6-icmp:echo-request", "ipv6-icmp:address-unreachable", "gre:0", "udp:53"]);
        assert!(s.add("2001:db8::1,icmp:no-such-type", &[]).is_err());
        // An element that is all zeros once cut is refused, as ipset refuses it.
        let mut z = IpSet::create("z", "hash:ip", &["family", "inet6", "netmask", "64"]).unwrap();
        assert!(z.add("::ffff:198.51.100.9", &[]).unwrap_err().contains("null-valued"));
        assert!(z.add("2001:db8::9", &[]).is_ok());
        assert!(IpSet::create("z", "hash:ip", &[]).unwrap().add("0.0.0.0", &[]).is_err());
        // A netmask cuts what is stored; counters are read.
        let mut m = IpSet::create("m", "hash:ip", &["netmask", "24", "counters"]).unwrap();
        m.add("192.0.2.77", &["packets", "3", "bytes", "180"]).unwrap();
        assert_eq!(m.members[0].values[0].to_string(), "192.0.2.0/24");
        assert_eq!((m.members[0].packets, m.members[0].bytes), (3, 180));
        // bitmap:port has no protocol and no family; a bitmap:ip,mac element may wait for its MAC.
        let b = IpSet::create("b", "bitmap:port", &["range", "1-1024"]).unwrap();
        assert_eq!((b.dims.as_slice(), b.family), ([Dim::BarePort].as_slice(), None));
        let mut bm = IpSet::create("bm", "bitmap:ip,mac", &["range", "192.0.2.0-192.0.2.255"]).unwrap();
        bm.add("192.0.2.6", &[]).unwrap();
        assert_eq!(bm.members[0].values[1], Value::Mac(None));
        // Interface elements: wildcards and bridge ports are kept as written.
        let mut i = IpSet::create("i", "hash:net,iface", &[]).unwrap();
        i.add("192.0.2.0/24,physdev:eth1", &[]).unwrap();
        i.add("192.0.2.0/24,veth+", &[]).unwrap();
        let shown: Vec<String> = i.members.iter().map(|m| m.values[1].to_string()).collect();
        assert_eq!(shown, ["physdev:eth1", "veth+"]);
    }

    #[test]
    fn a_packet_adds_at_the_longest_prefix_of_the_set() {
        let mut s = IpSet::create("n", "hash:net", &[]).unwrap();
        let key = [Key::Addr("198.51.100.7".parse().unwrap())];
        assert_eq!(s.element_of(&key)[0].to_string(), "198.51.100.7");
        s.add("10.0.0.0/8", &[]).unwrap();
        s.add("10.1.2.0/30", &[]).unwrap();
        let e = s.element_of(&key);
        assert_eq!(e[0].to_string(), "198.51.100.4/30");
        assert!(s.insert(e.clone()) && !s.insert(e.clone()));
        assert!(s.remove(&e) && !s.remove(&e));
    }

    #[test]
    fn the_host_reads_ipset_list_output_too() {
        let host = "\
eth0 UP 198.51.100.2/24
# ipset list
Name: f2b-sshd
Type: hash:ip
Revision: 6
Header: family inet hashsize 1024 maxelem 65536 timeout 600 bucketsize 12 initval 0x6f3c9a7e
Size in memory: 440
References: 1
Number of entries: 2
Members:
203.0.113.7 timeout 512
203.0.113.9 timeout 45

Name: both
Type: list:set
Revision: 3
Header: size 8
Size in memory: 168
References: 0
Number of entries: 1
Members:
f2b-sshd
# ip route
default via 198.51.100.1 dev eth0
";
        let host = crate::host::parse(host).unwrap();
        let names: Vec<&str> = host.ipsets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["f2b-sshd", "both"]);
        assert_eq!(host.ipsets[0].members.len(), 2);
        assert_eq!(host.ipsets[0].family, Some(Family::Ipv4));
        assert_eq!(host.ipsets[1].members[0].values, [Value::Set("f2b-sshd".into())]);
        assert_eq!(host.routes.len(), 2, "{:?}", host.routes);
        let bad = crate::host::parse("Name: x\nMembers:\n1.2.3.4\n").unwrap_err();
        assert_eq!((bad[0].span.line, bad[0].message.as_str()), (2, "ipset x is listed without its `Type:`"));
    }

    #[test]
    fn the_set_match_uses_contents_given_with_the_host() {
        let rules = "*filter\n:INPUT DROP [0:0]\n-A INPUT -m set --match-set allowed src,dst -j ACCEPT\nCOMMIT\n";
        let host =
            "eth0 UP 198.51.100.2/24\ncreate allowed hash:net,port family inet\nadd allowed 203.0.113.0/24,tcp:22\n";
        let parsed = crate::parse(rules, None);
        let host = crate::host::parse(host).unwrap();
        let sim = crate::walk::Simulation::new(&parsed.ruleset);
        let walk = |p: &str| sim.walk(Some(&host), &crate::packet::parse(p).unwrap(), &Default::default());
        let t = walk("tcp 203.0.113.7:40000 -> 198.51.100.2:22 in eth0 syn");
        assert_eq!(t.fate.verdict, crate::trace::FateVerdict::Accept);
        assert!(t.assumptions.iter().all(|a| !a.text.contains("ipset")));
        let t = walk("tcp 203.0.113.7:40000 -> 198.51.100.2:80 in eth0 syn");
        assert_eq!(t.fate.verdict, crate::trace::FateVerdict::Drop);
        let why = &t.steps[0].conditions[0].why;
        assert!(why.contains("is not in set allowed"), "{why}");
    }
}
