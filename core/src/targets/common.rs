//! Argument readers that several target extensions share: refusing `!`, reading a number the way C's
//! `strtoul` reads the start of a string, and reading a host address the way `getaddrinfo` does.

use crate::diag::Diagnostic;
use crate::ext::Opt;
use crate::ruleset::addr::inet_aton;
use crate::ruleset::Family;
use std::net::{IpAddr, Ipv6Addr};

/// Fails at the first negated option: no option of these targets can be negated (iptables says "cannot be
/// inverted").
pub(crate) fn refuse_negation(opts: &[Opt<'_>]) -> Result<(), Diagnostic> {
    opts.iter().try_for_each(Opt::no_negation)
}

/// Finds the one option of `names` that says what a target does, refusing a second one (iptables says
/// "cannot be used together", or "can only be used once" for the same option twice).
pub(crate) fn one_of<'o, 'a>(opts: &'o [Opt<'a>], names: &[&str]) -> Result<Option<&'o Opt<'a>>, Diagnostic> {
    let mut found: Option<&Opt<'_>> = None;
    for o in opts.iter().filter(|o| names.contains(&o.name)) {
        if let Some(first) = found {
            let msg = if first.name == o.name {
                format!("`--{}` is given more than once", o.name)
            } else {
                format!("`--{}` and `--{}` cannot be used together", first.name, o.name)
            };
            return Err(Diagnostic::error(o.span, msg));
        }
        found = Some(o);
    }
    Ok(found)
}

/// Reads the number at the start of `text` as `strtoul(text, &end, 0)` does (blanks and a `+` may come
/// first; `0x` starts hex, `0` octal) and returns it with the rest of the text. A value too big for 64 bits
/// saturates, as `strtoul` does. `None` when no digit comes first, or for a `-` sign, which `xtables_strtoul`
/// refuses.
pub(crate) fn number_prefix(text: &str) -> Option<(u64, &str)> {
    let t = text.trim_start_matches(crate::values::C_SPACE);
    let t = t.strip_prefix('+').unwrap_or(t);
    let (radix, digits) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) if hex.starts_with(|c: char| c.is_ascii_hexdigit()) => (16, hex),
        _ if t.starts_with('0') => (8, t),
        _ => (10, t),
    };
    let len = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    if len == 0 {
        return None;
    }
    let value = digits[..len]
        .chars()
        .try_fold(0u64, |acc, c| acc.checked_mul(radix as u64)?.checked_add(c.to_digit(radix)? as u64))
        .unwrap_or(u64::MAX);
    Some((value, &digits[len..]))
}

/// Reads an address the way `getaddrinfo` does for a numeric host: for IPv4 the `inet_aton` forms (`10.1`
/// is 10.0.0.1, parts may be hex or octal, `0x0a000001` is one 32-bit number), for IPv6 the usual text form.
pub(crate) fn parse_host(text: &str, family: Family) -> Option<IpAddr> {
    match family {
        Family::Ipv4 => inet_aton(text).map(IpAddr::V4),
        Family::Ipv6 => text.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
    }
}

/// Whether a mask (of either family) has its one bits first, and how many.
pub(crate) fn prefix_of(mask: IpAddr) -> Option<u8> {
    let (bits, width) = match mask {
        IpAddr::V4(m) => (u128::from(u32::from(m)) << 96, 32),
        IpAddr::V6(m) => (u128::from(m), 128),
    };
    let ones = bits.leading_ones();
    (bits.count_ones() == ones && ones <= width).then_some(ones as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_strtoul() {
        assert_eq!(number_prefix("80-90"), Some((80, "-90")));
        assert_eq!(number_prefix("0x50"), Some((80, "")));
        assert_eq!(number_prefix("080"), Some((0, "80")));
        assert_eq!(number_prefix("0x"), Some((0, "x")));
        assert_eq!(number_prefix(" +7x"), Some((7, "x")));
        assert_eq!(number_prefix("99999999999999999999"), Some((u64::MAX, "")));
        assert_eq!(number_prefix("-1"), None);
        assert_eq!(number_prefix("http"), None);
    }

    #[test]
    fn hosts_read_like_getaddrinfo() {
        let v4 = |s| parse_host(s, Family::Ipv4).map(|a| a.to_string());
        assert_eq!(v4("10.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(v4("010.0.0.1").as_deref(), Some("8.0.0.1"));
        assert_eq!(v4("0x0a000001").as_deref(), Some("10.0.0.1"));
        assert_eq!(v4("4294967040").as_deref(), Some("255.255.255.0"));
        assert_eq!(v4("10.0.0.256"), None);
        assert_eq!(v4("10.1.2.3.4"), None);
        assert_eq!(v4(""), None);
        assert_eq!(parse_host("2001:DB8::1", Family::Ipv6).map(|a| a.to_string()).as_deref(), Some("2001:db8::1"));
        assert_eq!(parse_host("10.0.0.1", Family::Ipv6), None);
    }

    #[test]
    fn prefixes() {
        assert_eq!(prefix_of("255.255.255.0".parse().unwrap()), Some(24));
        assert_eq!(prefix_of("0.0.0.0".parse().unwrap()), Some(0));
        assert_eq!(prefix_of("255.0.255.0".parse().unwrap()), None);
        assert_eq!(prefix_of("ffff:ffff::".parse().unwrap()), Some(32));
        assert_eq!(prefix_of("ffff:0:ffff::".parse().unwrap()), None);
    }
}
