//! Addresses, interfaces and protocols of the generic rule part, parsed and printed as `iptables` does.

use super::Family;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address with a mask, as `-s`, `-d` and many modules take it. The address has the mask applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Network {
    /// The address, with host bits cleared.
    pub addr: IpAddr,
    /// The mask; it need not be contiguous (`10.0.0.0/255.0.255.0` is valid).
    pub mask: IpAddr,
}

impl Network {
    /// Parses `ADDR[/MASK]` for `family`. The mask is a prefix length or, for IPv4, a dotted mask.
    pub fn parse(text: &str, family: Family) -> Result<Network, String> {
        // libxtables splits at the last `/` and reads the mask first; a zero mask makes the address text
        // `0.0.0.0` (`::`) whatever it was, "like in any/0" as its source says.
        let (addr_text, mask_text) = match text.bytes().rposition(|b| b == b'/') {
            // An ASCII byte is a character boundary.
            Some(at) => (&text[..at], Some(&text[at + 1..])),
            None => (text, None),
        };
        match family {
            Family::Ipv4 => {
                let mask = match mask_text {
                    None => u32::MAX,
                    Some(m) if m.contains('.') => u32::from(parse_ipv4(m, true).ok_or_else(|| bad_mask(m))?),
                    Some(m) => prefix_mask_v4(parse_uint(m).filter(|&n| n <= 32).ok_or_else(|| bad_mask(m))? as u32),
                };
                // The one host name every system resolves the same way, from /etc/hosts.
                let addr_text = match addr_text {
                    _ if mask == 0 => "0.0.0.0",
                    "localhost" => "127.0.0.1",
                    other => other,
                };
                let addr = parse_ipv4(addr_text, false)
                    .or_else(|| inet_aton(addr_text))
                    .ok_or_else(|| host_not_found(addr_text))?;
                Ok(Network {
                    addr: IpAddr::V4(Ipv4Addr::from(u32::from(addr) & mask)),
                    mask: IpAddr::V4(Ipv4Addr::from(mask)),
                })
            }
            Family::Ipv6 => {
                let mask = match mask_text {
                    None => u128::MAX,
                    Some(m) if m.contains(':') => u128::from(m.parse::<Ipv6Addr>().map_err(|_| bad_mask(m))?),
                    Some(m) => prefix_mask_v6(parse_uint(m).filter(|&n| n <= 128).ok_or_else(|| bad_mask(m))? as u32),
                };
                let addr_text = if mask == 0 { "::" } else { addr_text };
                // The C library's lookup, which iptables falls back to, passes over blanks before it.
                let addr: Ipv6Addr = addr_text
                    .trim_start_matches(crate::values::C_SPACE)
                    .parse()
                    .map_err(|_| host_not_found(addr_text))?;
                Ok(Network {
                    addr: IpAddr::V6(Ipv6Addr::from(u128::from(addr) & mask)),
                    mask: IpAddr::V6(Ipv6Addr::from(mask)),
                })
            }
        }
    }

    /// The prefix length, if the mask is contiguous.
    pub fn prefix_len(&self) -> Option<u8> {
        let (bits, width) = match self.mask {
            IpAddr::V4(m) => (u32::from(m) as u128, 32),
            IpAddr::V6(m) => (u128::from(m), 128),
        };
        let ones = bits.count_ones();
        let expect = if ones == 0 { 0 } else { (u128::MAX >> (128 - width)) & !((1u128 << (width - ones)) - 1) };
        (bits == expect).then_some(ones as u8)
    }

    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, self.mask, ip) {
            (IpAddr::V4(a), IpAddr::V4(m), IpAddr::V4(i)) => u32::from(i) & u32::from(m) == u32::from(a),
            (IpAddr::V6(a), IpAddr::V6(m), IpAddr::V6(i)) => u128::from(i) & u128::from(m) == u128::from(a),
            _ => false,
        }
    }

    /// Whether this is the whole address space (`0.0.0.0/0`), which `iptables-save` leaves out.
    pub fn is_any(&self) -> bool {
        self.prefix_len() == Some(0)
    }
}

impl fmt::Display for Network {
    /// `ADDR/LEN`, or `ADDR/MASK` for a mask that is not contiguous, as `iptables-save` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix_len() {
            Some(len) => write!(f, "{}/{}", Ip(self.addr), len),
            None => write!(f, "{}/{}", Ip(self.addr), Ip(self.mask)),
        }
    }
}

/// An address printed as the C library's `inet_ntop` prints it, which is what iptables prints: like
/// Rust's own form, except that an IPv6 address whose first 96 bits are zero and whose seventh group is
/// not ends in dotted IPv4 (`::1.2.3.4`); with the seventh group zero too it stays hexadecimal (`::2`),
/// because glibc takes the embedded-IPv4 form only when the zero run is exactly six groups long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ip(pub IpAddr);

impl fmt::Display for Ip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V6(a) => {
                let w = a.segments();
                let v4_compat = w[..6].iter().all(|&x| x == 0) && w[6] != 0;
                if v4_compat {
                    let [.., a, b, c, d] = a.octets();
                    write!(f, "::{a}.{b}.{c}.{d}")
                } else {
                    write!(f, "{a}")
                }
            }
            v4 => write!(f, "{v4}"),
        }
    }
}

/// An IPv4 address as the C library's `inet_aton` reads it (and so `getaddrinfo`, which iptables falls
/// back to, and which its extensions use for addresses): `a`, `a.b`, `a.b.c` or `a.b.c.d`, the last part
/// filling the bytes the others leave (`24` is 0.0.0.24, `10.1` is 10.0.0.1), each part in C notation
/// (`0x7f`, `010`) and starting with a digit (no blank or sign).
pub(crate) fn inet_aton(text: &str) -> Option<Ipv4Addr> {
    let mut nums = Vec::with_capacity(4);
    for part in text.split('.') {
        if nums.len() == 4 || !part.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        match crate::matches::u32::c_strtoul(part, 0) {
            Some((Some(n), used)) if used == part.len() => nums.push(n),
            _ => return None,
        }
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|&n| n > 255) || *last >= 1u64 << (8 * (4 - head.len())) {
        return None;
    }
    let value = head.iter().enumerate().fold(*last as u32, |v, (i, &n)| v | (n as u32) << (24 - 8 * i));
    Some(Ipv4Addr::from(value))
}

fn host_not_found(text: &str) -> String {
    if text.is_empty() {
        "an address is missing here".to_string()
    } else {
        format!("`{text}` is not an address; iptables would look it up as a host name, which chainwalk does not do")
    }
}

fn bad_mask(text: &str) -> String {
    format!("`{text}` is not a valid mask")
}

/// A contiguous IPv4 mask of `len` bits.
pub(crate) fn prefix_mask_v4(len: u32) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len)
    }
}

/// A contiguous IPv6 mask of `len` bits.
pub(crate) fn prefix_mask_v6(len: u32) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    }
}

/// Where the ASCII character `byte` first is in `text`. Option values are a few bytes long, too short for
/// the searcher that `str::find` with a `char` sets up to pay for itself.
pub(crate) fn find_byte(text: &str, byte: u8) -> Option<usize> {
    debug_assert!(byte.is_ascii());
    text.bytes().position(|b| b == byte)
}

/// The text before and after the first ASCII character `byte` in `text`, as `str::split_once` gives them.
pub(crate) fn split_at_byte(text: &str, byte: u8) -> Option<(&str, &str)> {
    // An ASCII byte is always a character boundary, so both slices are whole characters.
    find_byte(text, byte).map(|i| (&text[..i], &text[i + 1..]))
}

/// A number the way `strtoul(s, _, 0)` reads it in full: decimal, `0x` hex or `0` octal.
pub(crate) fn parse_uint(text: &str) -> Option<u64> {
    // strtoul skips leading blanks and takes a `+` sign.
    let text = text.trim_start_matches([' ', '\t', '\n']);
    let text = text.strip_prefix('+').unwrap_or(text);
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        if hex.is_empty() {
            return None;
        }
        u64::from_str_radix(hex, 16).ok()
    } else if text.len() > 1 && text.starts_with('0') {
        u64::from_str_radix(&text[1..], 8).ok()
    } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

/// An IPv4 address as `iptables` reads it: one to four dotted parts (missing parts are zero) of numbers
/// in C notation. A mask must have all four parts.
pub(crate) fn parse_ipv4(text: &str, is_mask: bool) -> Option<Ipv4Addr> {
    if let Some(a) = plain_dotted_quad(text.as_bytes()) {
        return Some(a);
    }
    let mut octets = [0u8; 4];
    let mut count = 0;
    for part in text.split('.') {
        if count == 4 {
            return None;
        }
        octets[count] = u8::try_from(parse_uint(part)?).ok()?;
        count += 1;
    }
    if is_mask && count != 4 {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// The form nearly every dump writes, `a.b.c.d` in plain decimal, read without the general path; `None`
/// for anything else (octal or hex parts, fewer parts), which [`parse_ipv4`] reads the long way.
fn plain_dotted_quad(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut part = 0;
    let mut value: u32 = 0;
    let mut digits = 0;
    for &b in text {
        match b {
            b'0'..=b'9' => {
                // A leading zero makes the part octal in C notation.
                if digits == 3 || (digits == 1 && value == 0) {
                    return None;
                }
                value = value * 10 + u32::from(b - b'0');
                digits += 1;
            }
            b'.' if digits > 0 && part < 3 => {
                octets[part] = u8::try_from(value).ok()?;
                part += 1;
                value = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if part != 3 || digits == 0 {
        return None;
    }
    octets[3] = u8::try_from(value).ok()?;
    Some(Ipv4Addr::from(octets))
}

/// An interface name for `-i`/`-o`, where a trailing `+` matches every name with that prefix. Names are
/// at most 15 bytes, so the name lives inline: no allocation for the thousands of rules that name one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interface {
    bytes: [u8; MAX_IFNAME_LEN],
    len: u8,
}

/// The longest interface name the kernel takes (`IFNAMSIZ` - 1).
pub const MAX_IFNAME_LEN: usize = 15;

impl Interface {
    /// Checks an interface name as `xtables_parse_interface` does.
    pub fn parse(text: &str) -> Result<Interface, String> {
        if text.len() > MAX_IFNAME_LEN {
            return Err(format!("interface name `{text}` is longer than {MAX_IFNAME_LEN} characters"));
        }
        let mut bytes = [0u8; MAX_IFNAME_LEN];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Ok(Interface { bytes, len: text.len() as u8 })
    }

    /// The interface whose name is `name`'s bytes, which came from [`Interface::name`] (so they need no
    /// checking again); more than [`MAX_IFNAME_LEN`] are cut.
    pub(super) fn from_stored(name: &[u8]) -> Interface {
        let len = name.len().min(MAX_IFNAME_LEN);
        let mut bytes = [0u8; MAX_IFNAME_LEN];
        bytes[..len].copy_from_slice(&name[..len]);
        Interface { bytes, len: len as u8 }
    }

    /// The name as written, `+` included.
    pub fn name(&self) -> &str {
        // The bytes are a whole `&str` copied in by `parse`.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }

    /// Whether the name ends in `+`, matching every interface that starts with the rest.
    pub fn is_wildcard(&self) -> bool {
        self.name().ends_with('+')
    }

    /// Whether the interface called `actual` matches this name.
    pub fn matches(&self, actual: &str) -> bool {
        match self.name().strip_suffix('+') {
            Some(prefix) => actual.starts_with(prefix),
            None => self.name() == actual,
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Interface({:?})", self.name())
    }
}

impl Serialize for Interface {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Interface {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Interface, D::Error> {
        let name = String::deserialize(d)?;
        Interface::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// A layer-4 protocol: its number, 0 meaning any (`all`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Protocol(pub u8);

/// Protocol names `iptables` knows without `/etc/protocols` (`xtables_chain_protos`) and the common ones
/// from Debian's `/etc/protocols`, first name first for each number.
const PROTOCOLS: &[(&str, u8)] = &[
    ("tcp", 6),
    ("sctp", 132),
    ("udp", 17),
    ("udplite", 136),
    ("icmp", 1),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("esp", 50),
    ("ah", 51),
    ("mobility-header", 135),
    ("mh", 135),
    ("ipv6-mh", 135),
    ("all", 0),
    ("ip", 0),
    ("hopopt", 0),
    ("igmp", 2),
    ("ggp", 3),
    ("ipencap", 4),
    ("st", 5),
    ("egp", 8),
    ("igp", 9),
    ("pup", 12),
    ("hmp", 20),
    ("xns-idp", 22),
    ("rdp", 27),
    ("iso-tp4", 29),
    ("dccp", 33),
    ("xtp", 36),
    ("ddp", 37),
    ("idpr-cmtp", 38),
    ("ipv6", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("idrp", 45),
    ("rsvp", 46),
    ("gre", 47),
    ("skip", 57),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("rspf", 73),
    ("vmtp", 81),
    ("eigrp", 88),
    ("ospf", 89),
    ("ax.25", 93),
    ("ipip", 94),
    ("etherip", 97),
    ("encap", 98),
    ("pim", 103),
    ("ipcomp", 108),
    ("vrrp", 112),
    ("l2tp", 115),
    ("isis", 124),
    ("fc", 133),
    ("mpls-in-ip", 137),
    ("manet", 138),
    ("hip", 139),
    ("shim6", 140),
    ("wesp", 141),
    ("rohc", 142),
    ("ethernet", 143),
];

/// The aliases Debian's `/etc/protocols` (netbase) gives the protocols, which `getprotobyname` finds as
/// they are spelt.
const PROTOCOL_ALIASES: &[(&str, u8)] = &[
    ("IP", 0),
    ("HOPOPT", 0),
    ("ICMP", 1),
    ("IGMP", 2),
    ("GGP", 3),
    ("IP-ENCAP", 4),
    ("ST", 5),
    ("TCP", 6),
    ("EGP", 8),
    ("IGP", 9),
    ("PUP", 12),
    ("UDP", 17),
    ("HMP", 20),
    ("XNS-IDP", 22),
    ("RDP", 27),
    ("ISO-TP4", 29),
    ("DCCP", 33),
    ("XTP", 36),
    ("DDP", 37),
    ("IDPR-CMTP", 38),
    ("IPv6", 41),
    ("IPv6-Route", 43),
    ("IPv6-Frag", 44),
    ("IDRP", 45),
    ("RSVP", 46),
    ("GRE", 47),
    ("IPSEC-ESP", 50),
    ("IPSEC-AH", 51),
    ("SKIP", 57),
    ("IPv6-ICMP", 58),
    ("IPv6-NoNxt", 59),
    ("IPv6-Opts", 60),
    ("RSPF", 73),
    ("VMTP", 81),
    ("EIGRP", 88),
    ("OSPFIGP", 89),
    ("AX.25", 93),
    ("IPIP", 94),
    ("ETHERIP", 97),
    ("ENCAP", 98),
    ("PIM", 103),
    ("IPCOMP", 108),
    ("VRRP", 112),
    ("L2TP", 115),
    ("ISIS", 124),
    ("SCTP", 132),
    ("FC", 133),
    ("Mobility-Header", 135),
    ("UDPLite", 136),
    ("MPLS-in-IP", 137),
    ("HIP", 139),
    ("Shim6", 140),
    ("WESP", 141),
    ("ROHC", 142),
    ("Ethernet", 143),
];

impl Protocol {
    /// TCP.
    pub const TCP: Protocol = Protocol(6);
    /// UDP.
    pub const UDP: Protocol = Protocol(17);
    /// ICMP.
    pub const ICMP: Protocol = Protocol(1);
    /// ICMPv6.
    pub const ICMPV6: Protocol = Protocol(58);
    /// SCTP.
    pub const SCTP: Protocol = Protocol(132);
    /// UDP-Lite.
    pub const UDPLITE: Protocol = Protocol(136);
    /// DCCP.
    pub const DCCP: Protocol = Protocol(33);

    /// Parses a name (any case) or a number from 0 to 255.
    pub fn parse(text: &str) -> Result<Protocol, String> {
        if let Some(n) = parse_uint(text) {
            return u8::try_from(n)
                .map(Protocol)
                .map_err(|_| format!("protocol number `{text}` is out of range (0 to 255)"));
        }
        PROTOCOLS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|&(_, n)| Protocol(n))
            .ok_or_else(|| format!("unknown protocol `{text}`"))
    }

    /// Reads a protocol as `xtables_parse_protocol` does when nothing lowercased it first (`--ctproto`,
    /// `policy --proto`): a number, or a name or alias of Debian's `/etc/protocols` (or one of iptables'
    /// own) spelt exactly (`tcp`, `TCP`, `IPSEC-ESP`; not `Tcp`).
    pub fn lookup(text: &str) -> Result<Protocol, String> {
        if parse_uint(text).is_some() {
            return Protocol::parse(text);
        }
        PROTOCOLS
            .iter()
            .chain(PROTOCOL_ALIASES)
            .find(|&&(name, _)| name == text)
            .map(|&(_, n)| Protocol(n))
            .ok_or_else(|| format!("unknown protocol `{text}`"))
    }

    /// The name `iptables-save` prints, or `None` where it prints the number.
    pub fn name(self) -> Option<&'static str> {
        PROTOCOLS.iter().find(|&&(_, n)| n == self.0).map(|&(name, _)| name)
    }

    /// Whether this is "any protocol".
    pub fn is_all(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("all");
        }
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_ascii_byte_as_split_once_does() {
        for (text, byte) in
            [("1.2.3.4/24", b'/'), ("a:b:c", b':'), ("é:ü", b':'), ("none", b'='), ("", b':'), (":", b':')]
        {
            assert_eq!(split_at_byte(text, byte), text.split_once(char::from(byte)), "{text}");
            assert_eq!(find_byte(text, byte), text.find(char::from(byte)), "{text}");
        }
    }

    #[test]
    fn a_zero_mask_makes_any_address_text_the_whole_space() {
        let n = |s, f| Network::parse(s, f).map(|n| n.to_string());
        assert_eq!(n("junk/0", Family::Ipv4).as_deref(), Ok("0.0.0.0/0"));
        assert_eq!(n("--source=any/0.0.0.0", Family::Ipv4).as_deref(), Ok("0.0.0.0/0"));
        // The last `/` is the mask's.
        assert_eq!(n("1.2.3.4/24/0", Family::Ipv4).as_deref(), Ok("0.0.0.0/0"));
        assert!(n("1.2.3.4/0/24", Family::Ipv4).is_err());
        assert_eq!(n("junk/0", Family::Ipv6).as_deref(), Ok("::/0"));
        assert_eq!(n("2001:db8::1/::", Family::Ipv6).as_deref(), Ok("::/0"));
        // The mask is read first: a bad one is the error, whatever the address.
        assert!(n("junk/33", Family::Ipv4).is_err_and(|e| e.contains("33")));
    }

    #[test]
    fn networks_parse_and_print_like_iptables() {
        let n = |s| Network::parse(s, Family::Ipv4).unwrap().to_string();
        assert_eq!(n("10.1.2.3/8"), "10.0.0.0/8");
        assert_eq!(n("192.0.2.7"), "192.0.2.7/32");
        assert_eq!(n("10"), "10.0.0.0/32");
        assert_eq!(n("0/0"), "0.0.0.0/0");
        assert_eq!(n("10.0.0.0/255.0.255.0"), "10.0.0.0/255.0.255.0");
        assert_eq!(n("10.0.0.0/255.255.0.0"), "10.0.0.0/16");
        assert_eq!(n("0x0a000001"), "10.0.0.1/32");
        assert_eq!(n("010.1.2.3"), "8.1.2.3/32");
        let v6 = |s| Network::parse(s, Family::Ipv6).unwrap().to_string();
        assert_eq!(v6("2001:db8::1/64"), "2001:db8::/64");
        assert_eq!(v6("::ffff:127.0.0.1"), "::ffff:127.0.0.1/128");
        assert_eq!(v6("::1.2.3.4"), "::1.2.3.4/128");
        assert_eq!(v6("::2"), "::2/128");
        assert_eq!(v6("::1"), "::1/128");
        assert_eq!(v6("::"), "::/128");
        assert!(Network::parse("example.org", Family::Ipv4).is_err());
        assert!(Network::parse("10.0.0.0/33", Family::Ipv4).is_err());
        assert!(Network::parse("256.0.0.0", Family::Ipv4).is_err());
    }

    #[test]
    fn protocols() {
        assert_eq!(Protocol::parse("TCP"), Ok(Protocol::TCP));
        assert_eq!(Protocol::parse("icmpv6"), Ok(Protocol::ICMPV6));
        assert_eq!(Protocol::parse("47").unwrap().to_string(), "gre");
        assert_eq!(Protocol::parse("253").unwrap().to_string(), "253");
        assert!(Protocol::parse("nope").is_err());
        assert_eq!(Protocol::lookup("IPSEC-ESP"), Ok(Protocol(50)));
        assert_eq!(Protocol::lookup("TCP"), Ok(Protocol::TCP));
        assert_eq!(Protocol::lookup("all"), Ok(Protocol(0)));
        assert!(Protocol::lookup("Tcp").is_err() && Protocol::lookup("ALL").is_err());
    }

    #[test]
    fn interfaces() {
        let i = Interface::parse("eth+").unwrap();
        assert!(i.matches("eth0") && !i.matches("wlan0"));
        assert!(Interface::parse("averyveryverylongname").is_err());
    }
}
