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
    // A packet line is due for the walked packet and for each TEE copy (a copy's copy too) apart.
    let mut packet_due = vec![false; trace.log.iter().map(|l| usize::from(l.copy) + 1).max().unwrap_or(1)];
    for i in nft_order(trace) {
        let l = &trace.log[i];
        let id = if l.copy > 0 { !id.wrapping_add(u32::from(l.copy) - 1) } else { id };
        let packet_due = &mut packet_due[usize::from(l.copy)];
        *packet_due |= l.first_in_stage;
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
            *packet_due = false;
        }
        if *packet_due {
            out.push(NftLine { log: i, text: format!("PACKET: {fam} {id:08x} {} ", l.nft_packet) });
            *packet_due = false;
        }
        out.push(NftLine { log: i, text });
    }
    out
}

/// The order of [`Trace::log`] in the nf_tables trace: a TEE rule's copy walks while the rule runs, and the
/// kernel reports a rule once its target is done, so the copy's lines come before the rule's own (recorded),
/// and so do those of a copy's copy before the line of the rule that made it (recorded: match_diff seed
/// 60023). A copy's way back in, walked later than the rule (`later`), keeps its place.
fn nft_order(trace: &Trace) -> Vec<usize> {
    let mut order = Vec::with_capacity(trace.log.len());
    nft_order_of(&trace.log, 0, &mut order);
    order
}

/// [`nft_order`] for `log`, whose first line is at `start` in the whole log.
fn nft_order_of(log: &[crate::trace::LogLine], start: usize, order: &mut Vec<usize>) {
    let mut i = 0;
    while i < log.len() {
        let (depth, later) = (log[i].copy, log[i].later);
        let copies = log[i + 1..].iter().take_while(|l| l.copy > depth && l.later == later).count();
        nft_order_of(&log[i + 1..=i + copies], start + i + 1, order);
        order.push(start + i);
        i += copies + 1;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::TableName;
    use crate::trace::LogLine;

    fn line(table: TableName, chain: &str, kind: LineKind, number: u32, handle: u32, copy: u8) -> LogLine {
        LogLine {
            table,
            chain: chain.to_string(),
            kind,
            number,
            packet: format!("IN= OUT=eth{} SRC=192.0.2.7 DST=198.51.100.2", copy),
            nft_packet: format!("OUT=eth{} SRC=192.0.2.7 DST=198.51.100.2", copy),
            step: 0,
            rule_text: format!("-A {chain} -j TEE --gateway 192.0.2.5"),
            verdict: if kind == LineKind::Rule { "CONTINUE" } else { "ACCEPT" }.to_string(),
            handle,
            first_in_stage: false,
            copy,
            later: false,
        }
    }

    #[test]
    fn a_tee_copys_lines_come_before_the_rule_in_the_nf_tables_trace() {
        use LineKind::{Policy, Rule};
        use TableName::{Filter, Mangle};
        let mut log = vec![
            line(Mangle, "PREROUTING", Rule, 1, 6, 0),
            line(Mangle, "OUTPUT", Policy, 1, 0, 1),
            line(Filter, "OUTPUT", Rule, 1, 4, 1),
            line(Mangle, "PREROUTING", Policy, 2, 0, 0),
        ];
        for i in [0, 1, 2] {
            log[i].first_in_stage = true;
        }
        let mut trace = Trace { log, ..Trace::default() };
        assert_eq!(nft_order(&trace), [1, 2, 0, 3]);
        // A copy's way back in, walked later than the rule, keeps its place.
        trace.log[2].later = true;
        assert_eq!(nft_order(&trace), [1, 0, 2, 3]);
        trace.log[2].later = false;
        let text = legacy(&trace);
        assert!(text.starts_with("TRACE: mangle:PREROUTING:rule:1 "), "{text}");
        let nft: Vec<String> = nft_trace(&trace, Family::Ipv4).into_iter().map(|l| l.text).collect();
        let id = packet_id(&trace);
        assert_eq!(
            nft,
            [
                format!("PACKET: 2 {:08x} OUT=eth1 SRC=192.0.2.7 DST=198.51.100.2 ", !id),
                format!(" TRACE: 2 {:08x} mangle:OUTPUT:policy:ACCEPT ", !id),
                format!("PACKET: 2 {:08x} OUT=eth1 SRC=192.0.2.7 DST=198.51.100.2 ", !id),
                format!(" TRACE: 2 {:08x} filter:OUTPUT:rule:0x4:CONTINUE  -4 -t filter -A OUTPUT -j TEE --gateway 192.0.2.5", !id),
                format!("PACKET: 2 {id:08x} OUT=eth0 SRC=192.0.2.7 DST=198.51.100.2 "),
                format!(" TRACE: 2 {id:08x} mangle:PREROUTING:rule:0x6:CONTINUE  -4 -t mangle -A PREROUTING -j TEE --gateway 192.0.2.5"),
                format!(" TRACE: 2 {id:08x} mangle:PREROUTING:policy:ACCEPT "),
            ]
        );
    }

    #[test]
    fn a_copys_copy_comes_before_the_rule_that_made_it_in_the_nf_tables_trace() {
        use LineKind::{Policy, Rule};
        use TableName::{Filter, Mangle};
        // The packet's TEE rule in filter INPUT; its copy back in through lo meets the same rule, whose copy
        // (the copy's copy) walks OUTPUT while that rule runs.
        let log = vec![
            line(Filter, "INPUT", Rule, 1, 12, 0),
            line(Mangle, "OUTPUT", Policy, 1, 0, 1),
            line(Filter, "INPUT", Rule, 1, 12, 1),
            line(Mangle, "OUTPUT", Policy, 1, 0, 2),
            line(Filter, "INPUT", Policy, 2, 0, 1),
            line(Filter, "INPUT", Policy, 2, 0, 0),
        ];
        let trace = Trace { log, ..Trace::default() };
        assert_eq!(nft_order(&trace), [1, 3, 2, 4, 0, 5]);
    }
}
