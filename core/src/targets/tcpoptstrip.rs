//! `-j TCPOPTSTRIP --strip-options LIST`: overwrites the listed TCP options with no-ops in the segments it
//! sees (`libxt_TCPOPTSTRIP`, the kernel's `xt_TCPOPTSTRIP.c`). The kernel allows it in the mangle table
//! only, for rules that say `-p tcp`.

use super::common::refuse_negation;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use serde::{Deserialize, Serialize};

/// The option names `libxt_TCPOPTSTRIP` knows, with their kinds.
const OPTION_NAMES: &[(&str, u8)] =
    &[("wscale", 3), ("mss", 2), ("sack-permitted", 4), ("sack", 5), ("timestamp", 8), ("md5", 19)];

/// The options of `-j TCPOPTSTRIP`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tcpoptstrip {
    /// `--strip-options`: the TCP option kinds removed, in ascending order (2 to 255); none without the option.
    pub kinds: Vec<u8>,
}

/// Reads `--strip-options` as `parse_list` does: comma-separated names (exactly as listed) or numbers in C
/// notation, each once, none below 2.
fn parse_list(text: &str) -> Result<Vec<u8>, String> {
    let mut kinds = Vec::new();
    for item in text.split(',') {
        let kind = match OPTION_NAMES.iter().find(|(n, _)| *n == item) {
            Some(&(_, k)) => k,
            None => crate::ruleset::addr::parse_uint(item).and_then(|n| u8::try_from(n).ok()).ok_or_else(|| {
                format!("`{item}` is not a TCP option: give its number or one of wscale, mss, sack-permitted, sack, timestamp, md5")
            })?,
        };
        if kind < 2 {
            return Err(format!("TCP options 0 and 1 (end of list, no-op) cannot be stripped, and `{item}` is {kind}"));
        }
        // Kept in order as they come.
        match kinds.binary_search(&kind) {
            Ok(_) => return Err(format!("`{item}` names TCP option {kind}, which is already in the list")),
            Err(at) => kinds.insert(at, kind),
        }
    }
    Ok(kinds)
}

impl Extension for Tcpoptstrip {
    const OPTIONS: &'static [OptSpec] = &[opt("strip-options", Args::One)];

    fn build(opts: &[Opt<'_>], _ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Tcpoptstrip, Diagnostic> {
        refuse_negation(opts)?;
        let kinds = match find(opts, "strip-options")? {
            Some(o) => o.parse_arg(parse_list)?,
            None => Vec::new(),
        };
        Ok(Tcpoptstrip { kinds })
    }

    /// The kinds as numbers, ascending; nothing when there are none.
    fn save(&self, out: &mut String) {
        if self.kinds.is_empty() {
            return;
        }
        let list: Vec<String> = self.kinds.iter().map(u8::to_string).collect();
        out.push_str(" --strip-options ");
        out.push_str(&list.join(","));
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, load, saved, walk};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("--strip-options timestamp", "--strip-options 8"),
            ("--strip-options mss,wscale,sack,md5", "--strip-options 2,3,5,19"),
            ("--strip-options 255,2", "--strip-options 2,255"),
            ("--strip-options 0x8", "--strip-options 8"),
            ("", ""),
        ] {
            let rule = format!("-A PREROUTING -p tcp -j TCPOPTSTRIP {given}");
            assert_eq!(
                saved(Ipv4, "mangle", &rule).trim_end(),
                format!("-A PREROUTING -p tcp -j TCPOPTSTRIP {printed}").trim_end()
            );
        }
        assert_eq!(
            saved(Ipv6, "mangle", "-A POSTROUTING -p tcp -j TCPOPTSTRIP --strip-options sack-permitted"),
            "-A POSTROUTING -p tcp -j TCPOPTSTRIP --strip-options 4"
        );
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "mangle", &format!("-A PREROUTING -p tcp -j TCPOPTSTRIP {o}"));
        assert_eq!(
            e("--strip-options sack-permitted,timestamp,8"),
            (53, "`8` names TCP option 8, which is already in the list".into())
        );
        assert_eq!(
            e("--strip-options bogus").1,
            "`bogus` is not a TCP option: give its number or one of wscale, mss, sack-permitted, sack, timestamp, md5"
        );
        assert_eq!(
            e("--strip-options MSS").1,
            "`MSS` is not a TCP option: give its number or one of wscale, mss, sack-permitted, sack, timestamp, md5"
        );
        assert_eq!(
            e("--strip-options 1").1,
            "TCP options 0 and 1 (end of list, no-op) cannot be stripped, and `1` is 1"
        );
        assert_eq!(
            e("--strip-options 256").1,
            "`256` is not a TCP option: give its number or one of wscale, mss, sack-permitted, sack, timestamp, md5"
        );
        assert_eq!(
            e("--strip-options 2,").1,
            "`` is not a TCP option: give its number or one of wscale, mss, sack-permitted, sack, timestamp, md5"
        );
        assert_eq!(e("! --strip-options 2").1, "`--strip-options` cannot be negated with `!`");
        assert_eq!(e("--strip-options 2 --strip-options 3").1, "`--strip-options` is given more than once");
        // The kernel's table and protocol checks.
        assert!(load(Ipv4, "mangle", "-A PREROUTING -j TCPOPTSTRIP --strip-options 8").has_errors());
        assert!(load(Ipv4, "filter", "-A INPUT -p tcp -j TCPOPTSTRIP --strip-options 8").has_errors());
    }

    #[test]
    fn the_segment_goes_on() {
        let t = walk(
            "*mangle\n-A PREROUTING -p tcp -j TCPOPTSTRIP --strip-options timestamp\nCOMMIT\n",
            "lo UP 127.0.0.1/8\neth0 UP 192.0.2.2/24\n",
            "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn",
        );
        let step = t.steps.iter().find(|s| s.target.as_deref() == Some("TCPOPTSTRIP")).expect("the rule's step");
        assert_eq!(
            step.effect.as_deref(),
            Some(
                "TCPOPTSTRIP: TCP option 8 would be overwritten with no-ops, but the segment's options are not \
                 known (the log's `OPT (...)`); the segment goes on"
            )
        );
        assert_eq!(t.fate.verdict, crate::trace::FateVerdict::Accept);
    }

    #[test]
    fn options_are_overwritten_as_the_kernel_walks_them() {
        let rules = "*mangle\n-A PREROUTING -p tcp -j TCPOPTSTRIP --strip-options wscale,timestamp\nCOMMIT\n\
                     *filter\n-A INPUT -p tcp -m tcp --tcp-option 3 -j DROP\n-A INPUT -p tcp -m tcp --tcp-option 2 -j ACCEPT\n\
                     COMMIT\n";
        let host = "lo UP 127.0.0.1/8\neth0 UP 192.0.2.2/24\n";
        // MSS 1460, SACK permitted, a timestamp, a no-op, window scale 7.
        let t = walk(
            rules,
            host,
            "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn opt 020405b40402080a000000010000000001030307",
        );
        let change = t.changes.iter().find(|c| c.what == "tcp options").expect("the options change");
        assert_eq!(change.to, "020405B404020101010101010101010101010101");
        // The window scale is gone, the MSS is not: the second rule accepts.
        assert_eq!(t.fate.verdict, crate::trace::FateVerdict::Accept);
        // Nothing to strip.
        let t = walk(rules, host, "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn opt 020405b4");
        let step = t.steps.iter().find(|s| s.target.as_deref() == Some("TCPOPTSTRIP")).expect("the rule's step");
        assert_eq!(
            step.effect.as_deref(),
            Some("TCPOPTSTRIP: the segment carries no TCP options 3,8; the segment goes on")
        );
        // An option whose length runs past the header ends the walk.
        let t = walk(rules, host, "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn opt 030307080a000000");
        let change = t.changes.iter().find(|c| c.what == "tcp options").expect("the options change");
        assert_eq!(change.to, "010101080A000000");
        // The header's last byte starts no option.
        let t = walk(rules, host, "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn opt 01010103");
        assert!(t.changes.iter().all(|c| c.what != "tcp options"));
    }
}
