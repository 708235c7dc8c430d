//! The walk's TRACE lines as the kernel prints them: the legacy `ip_tables` form that goes to the kernel
//! log, and the form `xtables-monitor --trace` prints for the nf_tables backend.

use crate::ruleset::Family;
use crate::trace::{LineKind, Trace};

/// The legacy lines: `TRACE: raw:PREROUTING:policy:2 IN=ppp0 OUT= SRC=... DST=... PROTO=TCP ...`.
pub fn legacy(trace: &Trace) -> String {
    let mut out = String::new();
    for l in &trace.log {
        out.push_str(&format!("TRACE: {}:{}:{}:{} {}\n", l.table, l.chain, l.kind.as_str(), l.number, l.packet));
    }
    out
}

/// The nf_tables backend's lines as `xtables-monitor --trace` prints them: family, a packet id, the
/// rule's handle (chainwalk gives the rule's position, as a fresh ruleset numbers them in order), the
/// verdict, and the rule in `iptables` syntax.
pub fn nft(trace: &Trace, family: Family) -> String {
    let (fam_num, fam_flag) = match family {
        Family::Ipv4 => (2, "-4"),
        Family::Ipv6 => (10, "-6"),
    };
    let id = packet_id(trace);
    let mut out = String::new();
    for l in &trace.log {
        match l.kind {
            LineKind::Policy if !l.rule_text.starts_with("-A") => {
                out.push_str(&format!("TRACE: {fam_num} {id:08x} {}:{}:policy:{}\n", l.table, l.chain, l.verdict));
            }
            LineKind::Return if !l.rule_text.starts_with("-A") || l.rule_text.ends_with("(end of chain)") => {
                out.push_str(&format!("TRACE: {fam_num} {id:08x} {}:{}:return:\n", l.table, l.chain));
            }
            _ => out.push_str(&format!(
                "TRACE: {fam_num} {id:08x} {}:{}:rule:0x{:x}:{}  {fam_flag} -t {} {}\n",
                l.table, l.chain, l.number, l.verdict, l.table, l.rule_text
            )),
        }
    }
    out
}

/// A stable id for the packet, as the nf_tables trace gives each packet one.
fn packet_id(trace: &Trace) -> u32 {
    let first = trace.log.first().map(|l| l.packet.as_str()).unwrap_or("");
    first.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}
