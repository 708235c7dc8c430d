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

/// One line of the nf_tables trace, with the walk's TRACE line ([`Trace::log`]) it belongs to: a
/// `PACKET:` line belongs to the TRACE line it comes before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NftLine {
    /// The index in [`Trace::log`].
    pub log: usize,
    /// The line as `xtables-monitor --trace` prints it.
    pub text: String,
}

/// The nf_tables backend's trace as `xtables-monitor --trace` prints it (see [`nft_trace`]), one line each.
pub fn nft(trace: &Trace, family: Family) -> String {
    nft_trace(trace, family).into_iter().map(|l| l.text + "\n").collect()
}

/// The nf_tables backend's trace as `xtables-monitor --trace` prints it: a `PACKET:` line each time the
/// packet enters a table's chain at a hook, then a ` TRACE:` line per rule that decided something (with
/// the family, a packet id, the rule's handle, the verdict and the rule as `iptables-nft-save` prints it)
/// and for a built-in chain's policy. The end of a user chain prints nothing (the kernel sends no trace
/// message when the packet falls off it), and an unconditional verdict is a rule like any other there.
pub fn nft_trace(trace: &Trace, family: Family) -> Vec<NftLine> {
    let id = packet_id(trace);
    let fam = family_number(family);
    let flag = match family {
        Family::Ipv4 => "-4",
        Family::Ipv6 => "-6",
    };
    let mut out = Vec::new();
    let mut packet_due = false;
    for (i, l) in trace.log.iter().enumerate() {
        packet_due |= l.first_in_stage;
        let end_of_chain = l.handle == 0;
        let text = match l.kind {
            LineKind::Policy if end_of_chain => {
                format!(" TRACE: {fam} {id:08x} {}:{}:policy:{} ", l.table, l.chain, l.verdict)
            }
            LineKind::Return if end_of_chain => continue,
            _ => format!(
                " TRACE: {fam} {id:08x} {}:{}:rule:0x{:x}:{}  {flag} -t {} {}",
                l.table, l.chain, l.handle, l.verdict, l.table, l.rule_text
            ),
        };
        // A target that took the packet (STOLEN: SYNPROXY) sends its message without the packet: no
        // `PACKET:` line, and when nothing of the walk came before it, no line at all (recorded).
        if l.verdict == "STOLEN" {
            if out.is_empty() {
                continue;
            }
            packet_due = false;
        }
        if packet_due {
            out.push(NftLine { log: i, text: format!("PACKET: {fam} {id:08x} {} ", l.nft_packet) });
            packet_due = false;
        }
        out.push(NftLine { log: i, text });
    }
    out
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
