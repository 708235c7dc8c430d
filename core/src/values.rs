//! Values that several extensions share: ports and port ranges, marks with masks, numeric ranges.
//! Each parses as the `iptables` extension parsers do and prints as `iptables-save` prints.

use crate::diag::Diagnostic;
use crate::ext::Opt;
use crate::ruleset::addr::{parse_uint, split_at_byte};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Common service names `iptables` resolves through `/etc/services` (which a browser does not have).
const SERVICES: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("time", 37),
    ("whois", 43),
    ("tacacs", 49),
    ("domain", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("tftp", 69),
    ("gopher", 70),
    ("finger", 79),
    ("http", 80),
    ("www", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("auth", 113),
    ("ident", 113),
    ("nntp", 119),
    ("ntp", 123),
    ("epmap", 135),
    ("netbios-ns", 137),
    ("netbios-dgm", 138),
    ("netbios-ssn", 139),
    ("imap2", 143),
    ("imap", 143),
    ("snmp", 161),
    ("snmp-trap", 162),
    ("xdmcp", 177),
    ("bgp", 179),
    ("irc", 194),
    ("ldap", 389),
    ("https", 443),
    ("microsoft-ds", 445),
    ("kpasswd", 464),
    ("isakmp", 500),
    ("syslog", 514),
    ("printer", 515),
    ("talk", 517),
    ("ntalk", 518),
    ("route", 520),
    ("submissions", 465),
    ("submission", 587),
    ("ipp", 631),
    ("ldaps", 636),
    ("rsync", 873),
    ("ftps-data", 989),
    ("ftps", 990),
    ("telnets", 992),
    ("imaps", 993),
    ("pop3s", 995),
    ("socks", 1080),
    ("openvpn", 1194),
    ("ms-sql-s", 1433),
    ("ms-sql-m", 1434),
    ("l2tp", 1701),
    ("pptp", 1723),
    ("radius", 1812),
    ("radius-acct", 1813),
    ("nfs", 2049),
    ("mysql", 3306),
    ("ms-wbt-server", 3389),
    ("svn", 3690),
    ("sip", 5060),
    ("sip-tls", 5061),
    ("xmpp-client", 5222),
    ("xmpp-server", 5269),
    ("postgresql", 5432),
    ("x11", 6000),
    ("ircd", 6667),
    ("http-alt", 8080),
    ("mdns", 5353),
    ("domain-s", 853),
    ("kerberos-adm", 749),
    ("git", 9418),
    ("zabbix-agent", 10050),
    ("zabbix-trapper", 10051),
];

/// Reads a port: a number from 0 to 65535 or a service name.
pub fn parse_port(text: &str) -> Result<u16, String> {
    if let Some(n) = parse_uint(text) {
        return u16::try_from(n).map_err(|_| format!("port `{text}` is out of range (0 to 65535)"));
    }
    SERVICES
        .iter()
        .find(|(name, _)| *name == text)
        .map(|&(_, p)| p)
        .ok_or_else(|| format!("`{text}` is not a port number or a service name chainwalk knows"))
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
        let (min, max) = match split_at_byte(text, b':') {
            None => {
                let p = parse_port(text)?;
                (p, p)
            }
            Some((a, b)) => {
                let min = if a.is_empty() { 0 } else { parse_port(a)? };
                let max = if b.is_empty() { u16::MAX } else { parse_port(b)? };
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
