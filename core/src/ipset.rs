//! The contents of ipsets, read from `ipset save` output, so that `-m set --match-set` and the SET target
//! can be answered instead of assumed. A set's type names its dimensions (`hash:net,port` is an address
//! or network, then a protocol and port); each element gives one value per dimension.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One set: its name, its dimensions and its elements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpSet {
    /// The set's name.
    pub name: String,
    /// The type as `ipset` writes it (`hash:net,port`).
    pub kind: String,
    /// What each dimension holds.
    pub dims: Vec<Dim>,
    /// The elements; `nomatch` elements are excluded from a match.
    pub members: Vec<Member>,
}

/// What one dimension of a set holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dim {
    /// An address (`ip`) or network (`net`).
    Net,
    /// A protocol and port.
    Port,
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
    /// A protocol number and an inclusive port range.
    Port {
        /// The IP protocol.
        proto: u8,
        /// The lowest port.
        min: u16,
        /// The highest port.
        max: u16,
    },
    /// An interface name.
    Iface(String),
    /// A MAC address.
    Mac([u8; 6]),
    /// A mark.
    Mark(u32),
    /// Another set's name.
    Set(String),
}

impl IpSet {
    /// Reads `create NAME TYPE ...`; the type decides the dimensions.
    pub fn create(name: &str, kind: &str) -> Result<IpSet, String> {
        let (_, dims) = kind.split_once(':').ok_or_else(|| format!("`{kind}` is not an ipset type"))?;
        let dims = dims
            .split(',')
            .map(|d| match d {
                "ip" | "net" => Ok(Dim::Net),
                "port" => Ok(Dim::Port),
                "iface" => Ok(Dim::Iface),
                "mac" => Ok(Dim::Mac),
                "mark" => Ok(Dim::Mark),
                "set" => Ok(Dim::Set),
                other => Err(format!("`{other}` is not an ipset dimension chainwalk knows")),
            })
            .collect::<Result<Vec<Dim>, String>>()?;
        Ok(IpSet { name: name.to_string(), kind: kind.to_string(), dims, members: Vec::new() })
    }

    /// Reads the element of an `add NAME ELEMENT [options]` line.
    pub fn add(&mut self, element: &str, options: &[&str]) -> Result<(), String> {
        let parts: Vec<&str> = element.split(',').collect();
        if parts.len() != self.dims.len() {
            return Err(format!("`{element}` does not fit set {}, of type {}", self.name, self.kind));
        }
        let values = parts.iter().zip(&self.dims).map(|(p, d)| value(p, *d)).collect::<Result<Vec<Value>, String>>()?;
        self.members.push(Member { values, nomatch: options.contains(&"nomatch") });
        Ok(())
    }
}

fn value(text: &str, dim: Dim) -> Result<Value, String> {
    let bad = || format!("`{text}` is not a valid element value");
    Ok(match dim {
        Dim::Net => {
            let (a, p) = text.split_once('/').map_or((text, None), |(a, p)| (a, Some(p)));
            let addr: IpAddr = a.parse().map_err(|_| bad())?;
            let full = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match p {
                Some(p) => p.parse::<u8>().ok().filter(|&n| n <= full).ok_or_else(bad)?,
                None => full,
            };
            Value::Net { addr, prefix }
        }
        Dim::Port => {
            let (proto, ports) = text.split_once(':').map_or(("tcp", text), |(p, r)| (p, r));
            let proto = match proto {
                "tcp" => 6,
                "udp" => 17,
                "sctp" => 132,
                "udplite" => 136,
                "icmp" => 1,
                "icmpv6" => 58,
                other => other.parse().map_err(|_| bad())?,
            };
            let (min, max) = match ports.split_once('-') {
                Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
                None => {
                    let p = ports.parse().map_err(|_| bad())?;
                    (p, p)
                }
            };
            Value::Port { proto, min, max }
        }
        Dim::Iface => Value::Iface(text.to_string()),
        Dim::Mac => {
            let bytes: Vec<u8> =
                text.split(':').map(|b| u8::from_str_radix(b, 16)).collect::<Result<_, _>>().map_err(|_| bad())?;
            Value::Mac(bytes.try_into().map_err(|_| bad())?)
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
    /// A protocol and port.
    Port(u8, u16),
    /// An interface name.
    Iface(String),
    /// A MAC address, if known.
    Mac(Option<[u8; 6]>),
    /// A mark.
    Mark(u32),
}

impl IpSet {
    /// Whether the key is in the set: of the elements that cover every dimension, the most specific
    /// (longest prefixes, as the kernel's `hash:net` types look up) decides, and a `nomatch` one means no.
    pub fn contains(&self, key: &[Key]) -> bool {
        let specificity = |m: &Member| -> u32 {
            m.values.iter().map(|v| if let Value::Net { prefix, .. } = v { u32::from(*prefix) } else { 0 }).sum()
        };
        self.members
            .iter()
            .filter(|m| m.values.iter().zip(key).all(|(v, k)| covers(v, k)))
            .max_by_key(|m| specificity(m))
            .is_some_and(|m| !m.nomatch)
    }
}

fn covers(v: &Value, k: &Key) -> bool {
    match (v, k) {
        (Value::Net { addr, prefix }, Key::Addr(a)) => crate::host::prefix_contains(*addr, *prefix, *a),
        (Value::Port { proto, min, max }, Key::Port(p, port)) => proto == p && (*min..=*max).contains(port),
        (Value::Iface(name), Key::Iface(i)) => match name.strip_suffix('+') {
            Some(prefix) => i.starts_with(prefix),
            None => name == i,
        },
        (Value::Mac(m), Key::Mac(Some(k))) => m == k,
        (Value::Mark(m), Key::Mark(k)) => m == k,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_looks_up() {
        let mut s = IpSet::create("web", "hash:net,port").unwrap();
        s.add("192.0.2.0/24,tcp:80", &[]).unwrap();
        s.add("192.0.2.7,tcp:80", &["nomatch"]).unwrap();
        let key = |a: &str, p| [Key::Addr(a.parse().unwrap()), Key::Port(6, p)];
        assert!(s.contains(&key("192.0.2.1", 80)));
        assert!(!s.contains(&key("192.0.2.1", 443)));
        assert!(!s.contains(&key("192.0.2.7", 80)));
        assert!(s.add("192.0.2.1", &[]).is_err());
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
