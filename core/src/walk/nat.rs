//! NAT for packets of connections that already exist: the nat table is consulted only for a
//! connection's first packet (`nf_nat_inet_fn` in `nf_nat_core.c`), and every later packet gets the
//! binding that first packet got, in both directions. chainwalk finds the binding by walking the first
//! packet (same addresses and ports, state NEW) through the rules without recording it.

use super::{endpoint, Walker};
use crate::packet::{CtDir, CtState, Packet, L4};
use crate::trace::Assumption;
use std::net::IpAddr;

/// The translation a connection got on its first packet, as it applies to the packet being walked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    /// The new destination (address, port) to set where destination NAT runs (PREROUTING/OUTPUT).
    pub dst: Option<(IpAddr, Option<u16>)>,
    /// The new source to set where source NAT runs (POSTROUTING/INPUT).
    pub src: Option<(IpAddr, Option<u16>)>,
}

fn ports(p: &Packet) -> (Option<u16>, Option<u16>) {
    match p.l4.ports() {
        Some((s, d)) => (Some(s), Some(d)),
        None => (None, None),
    }
}

/// Walks the connection's first packet silently: the packet as it left, the connection's mark, and what
/// the walk assumed in the nat chains.
fn probe(w: &Walker<'_, '_>, first: &Packet) -> (Packet, u32, Vec<Assumption>) {
    let mut p = Walker::new(w.sim, w.host, first, w.opts);
    p.probe = true;
    p.binding_probe = true;
    p.traced = false;
    p.run();
    (p.pkt, p.ct.mark, p.binding_assumed)
}

/// Where a connection's first packet from `src` came in: nowhere for this host's own (it sent it), else
/// where the way back to `src` goes out.
fn arrival_of(w: &Walker<'_, '_>, src: IpAddr) -> Option<String> {
    if w.host.is_local(src) {
        return None;
    }
    match w.host.route(src) {
        crate::host::RouteDecision::Forward { dev, .. } => Some(dev),
        _ => w.first.out_iface.clone(),
    }
}

/// The first packet of the connection `w`'s packet belongs to, in the original direction.
fn first_packet(w: &Walker<'_, '_>) -> Packet {
    let pkt = &w.first;
    let mut first = pkt.clone();
    first.ct_state = CtState::New;
    first.ct_dir = CtDir::Original;
    first.quoted = None;
    if let (CtState::Related, Some(q)) = (pkt.ct_state, pkt.quoted) {
        // An ICMP error belongs to the connection of the packet it quotes. Going the reply way, it quotes a
        // packet of the original direction as it left (after its NAT); going the original way, one of the
        // reply direction.
        let reply = pkt.ct_dir == CtDir::Reply;
        let orig = pkt.orig.unwrap_or_default();
        let (qs, qd, qports) =
            if reply { (q.src, q.dst, q.ports) } else { (q.dst, q.src, q.ports.map(|(s, d)| (d, s))) };
        first.src = orig.src.unwrap_or(qs);
        first.dst = orig.dst.unwrap_or(qd);
        let (sport, dport) = qports.unwrap_or((0, 0));
        let ports = (orig.sport.unwrap_or(sport), orig.dport.unwrap_or(dport));
        let v6 = first.dst.is_ipv6();
        // (A TCP connection's first packet is made its SYN below.)
        first.l4 = L4::of_protocol(q.proto, ports, v6);
        first.tcp_options = None;
        first.spi = None;
        first.len = (if v6 { 40 } else { 20 }) + 8;
        first.in_iface = if reply { arrival_of(w, first.src) } else { pkt.in_iface.clone() };
    } else if pkt.ct_dir == CtDir::Reply {
        let orig = pkt.orig.unwrap_or_default();
        let (sport, dport) = ports(pkt);
        first.src = orig.src.unwrap_or(pkt.dst);
        first.dst = orig.dst.unwrap_or(pkt.src);
        if let (Some(s), Some(d)) = (dport, sport) {
            first.l4 = pkt.l4.with_ports(orig.sport.unwrap_or(s), orig.dport.unwrap_or(d));
        }
        // An ICMP reply's connection was opened by the matching request (`invmap` in
        // `nf_conntrack_proto_icmp.c`/`icmpv6.c`).
        first.l4 = match first.l4 {
            L4::Icmp { icmp_type: t @ (0 | 14 | 16 | 18), code } => {
                L4::Icmp { icmp_type: if t == 0 { 8 } else { t - 1 }, code }
            }
            L4::Icmpv6 { icmp_type: t @ (129 | 140), code } => L4::Icmpv6 { icmp_type: t - 1, code },
            other => other,
        };
        // It came in where the reply goes out, or from this host.
        first.in_iface = arrival_of(w, first.src);
    }
    if let L4::Tcp { sport, dport, .. } = first.l4 {
        first.l4 = L4::Tcp { sport, dport, flags: crate::matches::tcp::TcpFlags(0x02) };
        // The SYN that opened it, as Linux sends one: no data, a 40-byte TCP header (options: MSS for a
        // 1500-byte MTU, SACK permitted, timestamps, window scale), whatever the length of the packet walked
        // (recorded: a nat rule on the length saw the SYN's, not the segment's).
        let v4 = first.dst.is_ipv4();
        let mss: u16 = if v4 { 1460 } else { 1440 };
        let [hi, lo] = mss.to_be_bytes();
        first.tcp_options = Some(vec![2, 4, hi, lo, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);
        first.len = (if v4 { 20 } else { 40 }) + 40;
    }
    first
}

/// Finds the binding of `w`'s connection.
pub(super) fn find_binding(w: &mut Walker<'_, '_>) -> Binding {
    let first = first_packet(w);
    let (after, ct_mark, assumed) = probe(w, &first);
    // The connection keeps the mark its first packet gave it, unless the packet says otherwise.
    if w.first.ct_mark == 0 && ct_mark != 0 {
        w.ct.mark = ct_mark;
        w.trace.assumptions.push(Assumption {
            step: None,
            key: None,
            text: format!(
                "The connection's mark is {ct_mark:#x}, as its first packet left it (give CTMARK= to say otherwise)."
            ),
            matched: None,
            question: None,
        });
    }
    // The connection's tuples are its first packet's: the original as it arrived, the reply as the
    // reverse of how it left (after every translation), whichever way this packet goes.
    w.ct.original = super::tuple_of(&first);
    w.ct.reply = super::reply_tuple(&after);
    let (fs, fd) = ports(&first);
    let (as_, ad) = ports(&after);
    let dst_changed = after.dst != first.dst || ad != fd;
    let src_changed = after.src != first.src || as_ != fs;
    // `--ctstate DNAT`/`SNAT` are the connection's: they hold for its packets in both directions.
    w.ct.dnat = dst_changed;
    w.ct.snat = src_changed;
    let binding = if w.first.ct_dir == CtDir::Original {
        Binding { dst: dst_changed.then_some((after.dst, ad)), src: src_changed.then_some((after.src, as_)) }
    } else {
        // A reply: the original's destination NAT is undone on the reply's source, and its source NAT on
        // the reply's destination.
        Binding { src: dst_changed.then_some((first.dst, fd)), dst: src_changed.then_some((first.src, fs)) }
    };
    let dir = if w.first.ct_dir == CtDir::Original { "first" } else { "original" };
    let described = endpoint(first.src, fs) + " -> " + &endpoint(first.dst, fd);
    let text = if binding == Binding::default() {
        format!("The connection's {dir} packet ({described}, NEW) was walked through the nat chains to find its binding: it was not translated.")
    } else {
        let mut parts = Vec::new();
        if dst_changed {
            parts.push(format!("destination to {}", endpoint(after.dst, ad)));
        }
        if src_changed {
            parts.push(format!("source to {}", endpoint(after.src, as_)));
        }
        format!(
            "The connection's {dir} packet ({described}, NEW) was walked through the nat chains to find its binding: {}; this packet gets the same translation without any nat rule running.",
            parts.join(" and ")
        )
    };
    let mut text = text;
    if w.first.ct_dir == CtDir::Reply && w.first.orig.is_none() {
        text.push_str(" (For a reply, give ORIGSRC=/ORIGDST= if the connection's first packet had other addresses.)");
    }
    w.trace.assumptions.push(Assumption { step: None, key: None, text, matched: None, question: None });
    // What the binding rests on: a nat rule's nondeterministic match (which endpoint a kube-proxy service
    // picked), a port out of a range. A rule's answer can be flipped by its key as for this packet's own.
    for a in assumed {
        let text = format!("For the binding, the connection's {dir} packet: {}", a.text);
        w.trace.assumptions.push(Assumption { text, ..a });
    }
    binding
}

/// Applies the binding's rewrite for this NAT point (destination or source) without any rule.
pub(super) fn apply_binding(w: &mut Walker<'_, '_>, is_dst: bool) {
    let Some(b) = w.binding.clone() else { return };
    let target = if is_dst { b.dst } else { b.src };
    let Some((addr, port)) = target else { return };
    let before_pkt = w.pkt.clone();
    let (sp, dp) = ports(&w.pkt);
    if is_dst {
        w.pkt.dst = addr;
        if let (Some(p), Some(s)) = (port, sp) {
            w.pkt.l4 = w.pkt.l4.with_ports(s, p);
        }
    } else {
        w.pkt.src = addr;
        if let (Some(p), Some(d)) = (port, dp) {
            w.pkt.l4 = w.pkt.l4.with_ports(p, d);
        }
    }
    let (what, from, to) = if is_dst {
        ("destination", endpoint(before_pkt.dst, dp), endpoint(w.pkt.dst, ports(&w.pkt).1))
    } else {
        ("source", endpoint(before_pkt.src, sp), endpoint(w.pkt.src, ports(&w.pkt).0))
    };
    let note = format!("the connection's existing NAT binding rewrites the {what} from {from} to {to}");
    w.change(None, what, from, to, note);
}
