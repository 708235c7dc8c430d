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

/// The nf_tables backend's trace as `xtables-monitor --trace` prints it: a `PACKET:` line where the packet
/// enters a table at a hook, then one ` TRACE:` line per rule that ran, with the family, a packet id, the
/// rule's handle, the verdict and the rule in `iptables` syntax. A user chain's end prints nothing there.
pub fn nft(trace: &Trace, family: Family) -> String {
    let id = packet_id(trace);
    let lines = nft_lines(trace, family);
    let mut out = String::new();
    for (i, l) in trace.log.iter().enumerate() {
        if l.first_in_stage {
            let packet = l.packet.replace("IN= ", "").replace("OUT= ", "");
            out.push_str(&format!("PACKET: {} {id:08x} {packet}\n", family_number(family)));
        }
        let line = &lines[i];
        if !line.is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// One nf_tables ` TRACE:` line for each of [`Trace::log`] (empty where nf_tables prints none).
pub fn nft_lines(trace: &Trace, family: Family) -> Vec<String> {
    let id = packet_id(trace);
    let fam = family_number(family);
    let flag = match family {
        Family::Ipv4 => "-4",
        Family::Ipv6 => "-6",
    };
    trace
        .log
        .iter()
        .map(|l| {
            let end_of_chain = l.handle == 0;
            match l.kind {
                LineKind::Policy if end_of_chain => {
                    format!(" TRACE: {fam} {id:08x} {}:{}:policy:{} ", l.table, l.chain, l.verdict)
                }
                LineKind::Return if end_of_chain => String::new(),
                _ => format!(
                    " TRACE: {fam} {id:08x} {}:{}:rule:0x{:x}:{}  {flag} -t {} {}",
                    l.table, l.chain, l.handle, l.verdict, l.table, l.rule_text
                ),
            }
        })
        .collect()
}

fn family_number(family: Family) -> u8 {
    match family {
        Family::Ipv4 => 2,
        Family::Ipv6 => 10,
    }
}

/// A stable id for the packet, as the nf_tables trace gives each packet one.
fn packet_id(trace: &Trace) -> u32 {
    let first = trace.log.first().map(|l| l.packet.as_str()).unwrap_or("");
    first.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}
