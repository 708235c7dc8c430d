//! Values that several extensions share: ports and port ranges, marks with masks, numeric ranges.
//! Each parses as the `iptables` extension parsers do and prints as `iptables-save` prints.

use crate::diag::Diagnostic;
use crate::ext::Opt;
use crate::ruleset::addr::{parse_uint, split_at_byte};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A service `/etc/services` lists for TCP.
const TCP: u8 = 1;
/// A service `/etc/services` lists for UDP.
const UDP: u8 = 2;

/// Common service names `iptables` resolves through `/etc/services` (which a browser does not have), with
/// the protocols Debian's `netbase` lists each for. Most options take a name of any protocol
/// (`getaddrinfo`); the tcp match asks for a TCP service and the multiport match for one of the rule's
/// protocol, so that `-p tcp --dport ntp` and `-p udp -m multiport --dports http` are refused (recorded).
const SERVICES: &[(&str, u16, u8)] = &[
    ("ftp-data", 20, TCP),
    ("ftp", 21, TCP),
    ("ssh", 22, TCP),
    ("telnet", 23, TCP),
    ("smtp", 25, TCP),
    ("time", 37, TCP | UDP),
    ("whois", 43, TCP),
    ("tacacs", 49, TCP | UDP),
    ("domain", 53, TCP | UDP),
    ("bootps", 67, UDP),
    ("bootpc", 68, UDP),
    ("tftp", 69, UDP),
    ("gopher", 70, TCP),
    ("finger", 79, TCP),
    ("http", 80, TCP),
    ("www", 80, TCP),
    ("kerberos", 88, TCP | UDP),
    ("pop3", 110, TCP),
    ("sunrpc", 111, TCP | UDP),
    ("auth", 113, TCP),
    ("ident", 113, TCP),
    ("nntp", 119, TCP),
    ("ntp", 123, UDP),
    ("epmap", 135, TCP),
    ("netbios-ns", 137, UDP),
    ("netbios-dgm", 138, UDP),
    ("netbios-ssn", 139, TCP),
    ("imap2", 143, TCP),
    ("imap", 143, TCP),
    ("snmp", 161, TCP | UDP),
    ("snmp-trap", 162, TCP | UDP),
    ("xdmcp", 177, UDP),
    ("bgp", 179, TCP),
    ("ldap", 389, TCP | UDP),
    ("https", 443, TCP | UDP),
    ("microsoft-ds", 445, TCP),
    ("kpasswd", 464, TCP | UDP),
    ("isakmp", 500, UDP),
    ("syslog", 514, TCP | UDP),
    ("printer", 515, TCP),
    ("talk", 517, UDP),
    ("ntalk", 518, UDP),
    ("route", 520, UDP),
    ("submissions", 465, TCP),
    ("submission", 587, TCP),
    ("ipp", 631, TCP),
    ("ldaps", 636, TCP | UDP),
    ("rsync", 873, TCP),
    ("ftps-data", 989, TCP),
    ("ftps", 990, TCP),
    ("telnets", 992, TCP),
    ("imaps", 993, TCP),
    ("pop3s", 995, TCP),
    ("socks", 1080, TCP),
    ("openvpn", 1194, TCP | UDP),
    ("ms-sql-s", 1433, TCP),
    ("ms-sql-m", 1434, UDP),
    ("l2tp", 1701, UDP),
    ("radius", 1812, TCP | UDP),
    ("radius-acct", 1813, TCP | UDP),
    ("nfs", 2049, TCP | UDP),
    ("mysql", 3306, TCP),
    ("ms-wbt-server", 3389, TCP),
    ("svn", 3690, TCP),
    ("sip", 5060, TCP | UDP),
    ("sip-tls", 5061, TCP | UDP),
    ("xmpp-client", 5222, TCP),
    ("xmpp-server", 5269, TCP),
    ("postgresql", 5432, TCP),
    ("x11", 6000, TCP),
    ("ircd", 6667, TCP),
    ("http-alt", 8080, TCP),
    ("mdns", 5353, UDP),
    ("domain-s", 853, TCP | UDP),
    ("kerberos-adm", 749, TCP),
    ("git", 9418, TCP),
    ("zabbix-agent", 10050, TCP),
    ("zabbix-trapper", 10051, TCP),
];

/// Reads a port: a number from 0 to 65535 or a service name of any protocol.
pub fn parse_port(text: &str) -> Result<u16, String> {
    parse_port_of(text, None)
}

/// Reads a port: a number from 0 to 65535, or the name of a service of `proto` (`tcp`, `udp`, ...; any
/// protocol when `None`).
pub fn parse_port_of(text: &str, proto: Option<&str>) -> Result<u16, String> {
    if let Some(n) = parse_uint(text) {
        return u16::try_from(n).map_err(|_| format!("port `{text}` is out of range (0 to 65535)"));
    }
    let wanted = match proto {
        None => TCP | UDP,
        Some("tcp") => TCP,
        Some("udp") => UDP,
        Some(_) => 0,
    };
    match SERVICES.iter().find(|(name, _, _)| *name == text) {
        Some(&(_, port, protos)) if protos & wanted != 0 => Ok(port),
        Some(_) => Err(format!(
            "`{text}` is not a service of {}: /etc/services lists it for another protocol",
            proto.unwrap_or("any protocol")
        )),
        None => Err(format!("`{text}` is not a port number or a service name chainwalk knows")),
    }
}

/// An inclusive range of ports (`22`, `1024:65535`, `:1023`, `1024:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortRange {
    /// The lowest port.
    pub min: u16,
    /// The highest port.
    pub max: u16,
}

impl PortRange {
    /// Reads `PORT`, `MIN:MAX`, `:MAX` or `MIN:`. A reversed range is refused, as `iptables` does.
    pub fn parse(text: &str) -> Result<PortRange, String> {
        PortRange::parse_of(text, None)
    }

    /// [`PortRange::parse`] with the service names of `proto` only (see [`parse_port_of`]).
    pub fn parse_of(text: &str, proto: Option<&str>) -> Result<PortRange, String> {
        let (min, max) = match split_at_byte(text, b':') {
            None => {
                let p = parse_port_of(text, proto)?;
                (p, p)
            }
            Some((a, b)) => {
                let min = if a.is_empty() { 0 } else { parse_port_of(a, proto)? };
                let max = if b.is_empty() { u16::MAX } else { parse_port_of(b, proto)? };
                (min, max)
            }
        };
        if min > max {
            return Err(format!("port range `{text}` is reversed: {min} is more than {max}"));
        }
        Ok(PortRange { min, max })
    }

    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.min..=self.max).contains(&port)
    }
}

impl fmt::Display for PortRange {
    /// `PORT` for a single port, otherwise `MIN:MAX`, as `iptables-save` prints port ranges.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}:{}", self.min, self.max)
        }
    }
}

/// A 32-bit value with a mask (`--mark 0x10/0xff`), the shape of marks and connmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MarkMask {
    /// The value.
    pub value: u32,
    /// The mask; all ones when none was given.
    pub mask: u32,
}

impl MarkMask {
    /// Reads `VALUE[/MASK]` in C notation (decimal, `0x` hex, `0` octal).
    pub fn parse(text: &str) -> Result<MarkMask, String> {
        let (v, m) = match text.split_once('/') {
            Some((v, m)) => (v, Some(m)),
            None => (text, None),
        };
        let value = parse_u32(v).ok_or_else(|| format!("`{v}` is not a 32-bit number"))?;
        let mask = match m {
            Some(m) => parse_u32(m).ok_or_else(|| format!("`{m}` is not a 32-bit mask"))?,
            None => u32::MAX,
        };
        Ok(MarkMask { value, mask })
    }

    /// Whether `mark` matches: `mark & mask == value`.
    pub fn matches(&self, mark: u32) -> bool {
        mark & self.mask == self.value
    }
}

impl fmt::Display for MarkMask {
    /// `0xVALUE` when the mask is all ones, otherwise `0xVALUE/0xMASK`, as the mark match saves.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mask == u32::MAX {
            write!(f, "{:#x}", self.value)
        } else {
            write!(f, "{:#x}/{:#x}", self.value, self.mask)
        }
    }
}

/// The characters C's `isspace` takes, which `strtoul` and its kin pass over before a number.
pub const C_SPACE: [char; 6] = [' ', '\t', '\n', '\r', '\x0b', '\x0c'];

/// Whether `item` names `name` as iptables' keyword lists read their items (`strncasecmp` over the item's
/// length): `name` or any beginning of it, in any case (`est` is ESTABLISHED, `loc` LOCAL); never empty.
/// A list reads each item as the first of its names it begins.
pub fn abbreviates(item: &str, name: &str) -> bool {
    !item.is_empty() && name.as_bytes().get(..item.len()).is_some_and(|n| n.eq_ignore_ascii_case(item.as_bytes()))
}

/// A number in C notation that fits in 32 bits.
pub fn parse_u32(text: &str) -> Option<u32> {
    parse_uint(text).and_then(|n| u32::try_from(n).ok())
}

/// Reads the option's argument as a whole number from `min` to `max`.
pub fn opt_number(o: &Opt<'_>, min: u64, max: u64) -> Result<u64, Diagnostic> {
    match parse_uint(o.arg()) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(o.bad_arg(format!("`--{}` takes a number from {min} to {max}, not `{}`", o.name, o.arg()))),
    }
}

/// An inclusive range of numbers written `N` or `MIN:MAX` (as `length` and `tcpmss` take them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NumRange {
    /// The lowest value.
    pub min: u32,
    /// The highest value.
    pub max: u32,
}

impl NumRange {
    /// Reads `N`, `MIN:MAX`, `:MAX` or `MIN:` with values up to `limit`.
    pub fn parse(text: &str, limit: u32) -> Result<NumRange, String> {
        let num = |s: &str, default: u32| -> Result<u32, String> {
            if s.is_empty() {
                return Ok(default);
            }
            parse_u32(s).filter(|&n| n <= limit).ok_or_else(|| format!("`{s}` is not a number from 0 to {limit}"))
        };
        let (min, max) = match text.split_once(':') {
            None => {
                let n = num(text, 0)?;
                if text.is_empty() {
                    return Err("a number is missing here".into());
                }
                (n, n)
            }
            Some((a, b)) => (num(a, 0)?, num(b, limit)?),
        };
        if min > max {
            return Err(format!("range `{text}` is reversed"));
        }
        Ok(NumRange { min, max })
    }

    /// Whether `n` is in the range.
    pub fn contains(&self, n: u32) -> bool {
        (self.min..=self.max).contains(&n)
    }
}

impl fmt::Display for NumRange {
    /// `N` for a single value, otherwise `MIN:MAX`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}:{}", self.min, self.max)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges() {
        assert_eq!(PortRange::parse("ssh").unwrap().to_string(), "22");
        assert_eq!(PortRange::parse(":1023").unwrap().to_string(), "0:1023");
        assert_eq!(PortRange::parse("1024:").unwrap().to_string(), "1024:65535");
        assert!(PortRange::parse("2000:1000").is_err());
        assert!(PortRange::parse("70000").is_err());
    }

    #[test]
    fn marks() {
        assert_eq!(MarkMask::parse("0x10/0xff").unwrap().to_string(), "0x10/0xff");
        assert_eq!(MarkMask::parse("16").unwrap().to_string(), "0x10");
        assert!(MarkMask::parse("0x1ffffffff").is_err());
    }
}
