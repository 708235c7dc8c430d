//! What target extensions do to a packet and the verdict they give: `XT_CONTINUE` for those that only
//! change, mark or log it; `NF_ACCEPT` for NAT targets (the nat chain ends once a translation is set up);
//! `NF_DROP` for REJECT after it sent its answer. Modelled on each target's `*_tg` function in
//! `net/netfilter/xt_*.c` and `net/ipv4/netfilter/ipt_*.c`.

use super::table::TargetResult;
use super::{endpoint, Walker};
use crate::host::RouteDecision;
use crate::packet::{CtState, L4};
use crate::ruleset::{Hook, TableName};
use crate::targets::{Target, TargetKind};
use crate::trace::Assumption;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Runs target `t` (an extension, not a verdict or a chain) on the packet, in a rule of `table` at `hook`.
/// `key` names the rule (`table:chain:number`), for the answers the user gives about it; it is made only
/// for a target that asks.
pub(super) fn apply(
    w: &mut Walker<'_, '_>,
    t: &Target,
    (table, hook): (TableName, Hook),
    key: &dyn Fn() -> String,
    step: Option<usize>,
) -> TargetResult {
    let effect = |w: &mut Walker<'_, '_>, text: String| {
        if let Some(s) = step {
            w.trace.steps[s].effect = Some(text);
        }
    };
    match &t.kind {
        TargetKind::Reject(r) => {
            let with = r.with.name().to_string();
            let reset = matches!(r.with, crate::targets::reject::RejectWith::TcpReset);
            // Recorded on Linux 6.18 (an answered SCTP, a silent DCCP with a correct checksum, from the INPUT
            // and FORWARD chains); IPv6's REJECT answers DCCP.
            let dccp = !reset && matches!(w.pkt.l4, L4::Dccp { .. });
            // IPv6's REJECT checks the packet's checksum first (`reject6_csum_ok`), and NAT no longer fixes
            // a DCCP checksum (Linux 6.16 translates DCCP as a protocol it does not know): once NAT changed
            // the addresses its pseudo-header covers, nothing is sent (recorded, in OUTPUT and in FORWARD).
            let translated = w.pkt.src != w.first.src || w.pkt.dst != w.first.dst;
            let silent = if dccp && w.pkt.src.is_ipv4() {
                Some("the kernel's IPv4 REJECT sends no ICMP error about a DCCP packet")
            } else if dccp && translated {
                Some(
                    "NAT changed the packet's addresses without fixing its DCCP checksum (Linux translates DCCP \
                     as a protocol it does not know), and REJECT answers no packet whose checksum is wrong",
                )
            } else {
                None
            };
            if let Some(why) = silent.or_else(|| nothing_sent_back(&w.pkt, w.host, reset, w.came_in_frame_to_all())) {
                effect(w, format!("REJECT: the packet is dropped, and no {with} is sent: {why}"));
                return TargetResult::Drop;
            }
            // `icmpv4_xrlim_allow`: an ICMP error of a rate-limited type (all of REJECT's are destination
            // unreachables) waits a second after a redirect to the same host (match_diff seed 35257).
            if !reset && w.redirect_tried {
                let src = w.pkt.src;
                effect(
                    w,
                    format!(
                        "REJECT: the packet is dropped, and no {with} is sent: routing tried to send {src} a redirect \
                         a moment before, which leaves the kernel's ICMP rate limit for {src} \
                         (net.ipv4.icmp_ratelimit, a second) no room for it"
                    ),
                );
                return TargetResult::Drop;
            }
            if let Some(why) = answer_of(&w.pkt, r.with).and_then(|answer| answer_lost(w, answer)) {
                effect(
                    w,
                    format!("REJECT: the packet is dropped; the {with} it sends does not reach the sender: {why}"),
                );
                return TargetResult::Drop;
            }
            effect(w, format!("REJECT: the packet is dropped and {with} is sent back"));
            TargetResult::Reject(with)
        }
        TargetKind::Log(l) => {
            effect(w, format!("LOG: logged with prefix \"{}\"; the packet goes on", l.prefix));
            TargetResult::Continue
        }
        TargetKind::Nflog(l) => {
            effect(
                w,
                format!("NFLOG: copied to netlink group {} (prefix \"{}\"); the packet goes on", l.group, l.prefix),
            );
            TargetResult::Continue
        }
        TargetKind::Audit(_) => {
            effect(w, "AUDIT: an audit record is written; the packet goes on".into());
            TargetResult::Continue
        }
        TargetKind::Nfqueue(q) => {
            let num = match q.queues {
                crate::targets::queue::Queues::Single(n) => n,
                crate::targets::queue::Queues::Balance { first, last } => {
                    assume(w, step, format!("NFQUEUE balances over queues {first} to {last} by a flow hash; chainwalk shows queue {first}"));
                    first
                }
            };
            effect(w, format!("NFQUEUE: handed to user space on queue {num}"));
            TargetResult::Queue(num)
        }
        TargetKind::Mark(m) => {
            let before = w.pkt.mark;
            w.pkt.mark = (before & !m.change.mask) ^ m.change.value;
            let after = w.pkt.mark;
            effect(w, format!("MARK: the packet's mark becomes {after:#x}"));
            w.change(
                step,
                "mark",
                format!("{before:#x}"),
                format!("{after:#x}"),
                format!("{} sets the packet mark", t.name),
            );
            TargetResult::Continue
        }
        TargetKind::Connmark(c) => {
            use crate::targets::mark::{ConnmarkAction, ShiftDir};
            // `connmark_tg_shift` does nothing to a packet without a connection: in the raw table, before
            // conntrack has seen it, and when it is INVALID or UNTRACKED (recorded).
            let seen = w.ct_view(table);
            if !crate::matches::conntrack::has_connection(&seen) {
                let why = match seen.state {
                    CtState::Untracked => "the packet is UNTRACKED",
                    _ if table == TableName::Raw && !w.ct_seen => {
                        "conntrack has not seen the packet yet in the raw table"
                    }
                    _ => "the packet is INVALID",
                };
                effect(w, format!("CONNMARK: nothing changes: {why}, so it has no connection to mark"));
                return TargetResult::Continue;
            }
            let shift = |v: u32| match c.shift {
                Some(s) if s.dir == ShiftDir::Left => v << s.bits,
                Some(s) => v >> s.bits,
                None => v,
            };
            match c.action {
                ConnmarkAction::Set(m) => {
                    let before = w.ct.mark;
                    w.ct.mark = shift((before & !m.mask) ^ m.value);
                    let after = w.ct.mark;
                    effect(w, format!("CONNMARK: the connection's mark becomes {after:#x}"));
                    w.change(
                        step,
                        "connmark",
                        format!("{before:#x}"),
                        format!("{after:#x}"),
                        "CONNMARK sets the connection mark".into(),
                    );
                }
                ConnmarkAction::Save(m) => {
                    let before = w.ct.mark;
                    w.ct.mark = (before & !m.ctmask) ^ shift(w.pkt.mark & m.nfmask);
                    let after = w.ct.mark;
                    effect(
                        w,
                        format!("CONNMARK: the packet's mark is saved; the connection's mark becomes {after:#x}"),
                    );
                    w.change(
                        step,
                        "connmark",
                        format!("{before:#x}"),
                        format!("{after:#x}"),
                        "CONNMARK --save-mark copies the packet mark to the connection".into(),
                    );
                }
                ConnmarkAction::Restore(m) => {
                    let before = w.pkt.mark;
                    w.pkt.mark = (before & !m.nfmask) ^ shift(w.ct.mark & m.ctmask);
                    let after = w.pkt.mark;
                    effect(
                        w,
                        format!("CONNMARK: the connection's mark is restored; the packet's mark becomes {after:#x}"),
                    );
                    w.change(
                        step,
                        "mark",
                        format!("{before:#x}"),
                        format!("{after:#x}"),
                        "CONNMARK --restore-mark copies the connection mark to the packet".into(),
                    );
                }
            }
            TargetResult::Continue
        }
        TargetKind::Classify(_) => {
            effect(w, "CLASSIFY: the packet's traffic-control class is set; it goes on".into());
            TargetResult::Continue
        }
        TargetKind::Dnat(d) => {
            let (addr, ports) = (d.to.addrs.map(|a| (a.min, a.max)), d.to.ports);
            nat_to(w, t, step, true, addr, ports, d.random, d.persistent)
        }
        TargetKind::Snat(s) => {
            let (addr, ports) = (s.to.addrs.map(|a| (a.min, a.max)), s.to.ports);
            nat_to(w, t, step, false, addr, ports, s.random || s.random_fully, s.persistent)
        }
        TargetKind::Masquerade(m) => {
            let dev = w.out_iface.clone().unwrap_or_default();
            let via = match w.host.route(w.pkt.dst) {
                RouteDecision::Forward { via, .. } => via,
                _ => None,
            };
            let next_hop = via.unwrap_or(w.pkt.dst);
            match w.host.masquerade_addr(&dev, next_hop, w.pkt.dst) {
                Some(addr) => nat_to(w, t, step, false, Some((addr, addr)), m.ports, m.random || m.random_fully, false),
                None => {
                    effect(w, format!("MASQUERADE: {dev} has no address to masquerade with, so the packet is dropped"));
                    TargetResult::Drop
                }
            }
        }
        TargetKind::Redirect(r) => {
            let addr = match hook {
                Hook::Output => Some(loopback(w.pkt.dst)),
                _ => w
                    .in_iface
                    .as_deref()
                    .and_then(|i| w.host.interface(i))
                    .and_then(|i| i.addrs.iter().find(|a| a.addr.is_ipv4() == w.pkt.dst.is_ipv4()).map(|a| a.addr)),
            };
            match addr {
                Some(a) => nat_to(w, t, step, true, Some((a, a)), r.ports, r.random, false),
                None => {
                    effect(w, "REDIRECT: the input interface has no address, so the packet is dropped".into());
                    TargetResult::Drop
                }
            }
        }
        TargetKind::Netmap(n) => {
            let dst_side = matches!(hook, Hook::Prerouting | Hook::Output);
            let old = if dst_side { w.pkt.dst } else { w.pkt.src };
            let new = netmap(old, n.to.addr, n.to.mask);
            nat_to(w, t, step, dst_side, Some((new, new)), None, false, false)
        }
        TargetKind::Ct(c) => {
            if c.notrack {
                untrack(w, step, t);
            } else {
                let what = c.helper.as_deref().map(|h| format!(" (helper {h})")).unwrap_or_default();
                effect(w, format!("CT: conntrack settings for this connection{what}; the packet goes on"));
            }
            TargetResult::Continue
        }
        TargetKind::Notrack(_) => {
            untrack(w, step, t);
            TargetResult::Continue
        }
        TargetKind::Trace(_) => {
            effect(
                w,
                "TRACE: the packet is marked for tracing; from here on the kernel logs every rule it meets".into(),
            );
            TargetResult::Continue
        }
        TargetKind::Tos(x) => {
            let before = w.pkt.tos;
            w.pkt.tos = (before & !x.mask) ^ x.value;
            let after = w.pkt.tos;
            w.change(
                step,
                "tos",
                format!("{before:#04x}"),
                format!("{after:#04x}"),
                "TOS rewrites the type of service".into(),
            );
            effect(w, format!("TOS: the TOS byte becomes {after:#04x}"));
            TargetResult::Continue
        }
        TargetKind::Dscp(d) => {
            let before = w.pkt.tos;
            w.pkt.tos = (before & 0x03) | (d.value << 2);
            let after = w.pkt.tos;
            w.change(
                step,
                "tos",
                format!("{before:#04x}"),
                format!("{after:#04x}"),
                "DSCP rewrites the DiffServ code point".into(),
            );
            effect(w, format!("DSCP: the code point becomes {:#04x}", d.value));
            TargetResult::Continue
        }
        TargetKind::Ttl(x) => hop(w, step, &x.op, "TTL"),
        TargetKind::Hl(x) => hop(w, step, &x.op, "hop limit"),
        TargetKind::Tcpmss(x) => tcpmss(w, step, &x.mss),
        TargetKind::Checksum(_) => {
            effect(w, "CHECKSUM: the checksum is filled in; the packet goes on".into());
            TargetResult::Continue
        }
        TargetKind::Tproxy(x) => {
            // `tproxy_tg4`/`tproxy_tg6`: the packet goes to a transparent socket (an established one of its
            // own connection, else one listening on the address and port the rule gives), or is dropped
            // when there is none; the mark is set only when there is one.
            let port = if x.port == 0 { w.pkt.l4.ports().map(|p| p.1).unwrap_or(0) } else { x.port };
            let addr = if x.addr.is_unspecified() { w.pkt.dst } else { x.addr };
            let at = endpoint(addr, Some(port));
            let listens = w.switch(&key(), step, format!("a transparent proxy listens on {at}"), |listens| {
                if listens {
                    format!("A transparent socket (IP_TRANSPARENT) listens on {at} (set by hand): the proxy gets the packet.")
                } else {
                    format!(
                        "No transparent socket is assumed to listen on {at}, so TPROXY drops the packet, as the \
                         kernel does when the proxy is not running. If it runs, the packet goes to it instead."
                    )
                }
            });
            if !listens {
                effect(w, format!("TPROXY: no transparent socket listens on {at}, so the kernel drops the packet"));
                return TargetResult::Drop;
            }
            let before = w.pkt.mark;
            w.pkt.mark = (before & !x.mark.mask) ^ x.mark.value;
            if before != w.pkt.mark {
                let after = w.pkt.mark;
                w.change(
                    step,
                    "mark",
                    format!("{before:#x}"),
                    format!("{after:#x}"),
                    "TPROXY sets the packet mark".into(),
                );
            }
            effect(w, format!("TPROXY: the packet is given to the proxy socket at {at}"));
            TargetResult::Accept
        }
        TargetKind::Set(x) => {
            let text = set_target(w, x, hook);
            effect(w, text);
            TargetResult::Continue
        }
        // `synproxy_tg4`/`synproxy_tg6`: a SYN (without ACK, FIN or RST) is answered with a SYN-ACK that
        // carries a cookie and taken (`NF_STOLEN`); a bare ACK must carry a cookie it sent, or it is
        // dropped; anything else goes on (recorded).
        TargetKind::Synproxy(_) => match w.pkt.l4 {
            L4::Tcp { flags, .. } if flags.0 & 0x17 == 0x02 => {
                effect(w, "SYNPROXY: answers the SYN itself with a SYN-ACK that carries a cookie, and takes the SYN (STOLEN): it goes no further".into());
                TargetResult::Stolen
            }
            L4::Tcp { flags, .. } if flags.0 & 0x17 == 0x10 => {
                let k = key();
                let cookie = w.switch(&k, step, "the ACK answers a SYN-ACK SYNPROXY sent (its cookie is valid)".into(), |valid| {
                    if valid {
                        "The ACK answers a SYN-ACK SYNPROXY sent (set by hand): SYNPROXY takes it and opens the connection to the server itself.".into()
                    } else {
                        "SYNPROXY checks a bare ACK against the cookies of the SYN-ACKs it sent; chainwalk assumes this one answers none, so SYNPROXY drops it.".into()
                    }
                });
                if cookie {
                    effect(w, "SYNPROXY: the ACK's cookie is valid: SYNPROXY takes it (STOLEN) and opens the connection to the server".into());
                    TargetResult::Stolen
                } else {
                    effect(w, "SYNPROXY: the ACK carries no cookie SYNPROXY sent, so it is dropped".into());
                    TargetResult::Drop
                }
            }
            _ => {
                effect(w, "SYNPROXY: neither a SYN nor a bare ACK, so it goes on".into());
                TargetResult::Continue
            }
        },
        TargetKind::Tcpoptstrip(x) => {
            let text = tcpoptstrip(w, step, &x.kinds);
            effect(w, format!("TCPOPTSTRIP: {text}; the segment goes on"));
            TargetResult::Continue
        }
        TargetKind::Tee(x) => {
            let copy = w.tee_copy(x.gateway, x.oif.as_deref(), hook, step);
            effect(w, format!("TEE: {copy}; the original goes on"));
            TargetResult::Continue
        }
        TargetKind::Hmark(x) => {
            let before = w.pkt.mark;
            let mark = match hmark_tuple(w, x) {
                Ok(Some(tuple)) => {
                    let mark = x.mark(&tuple);
                    effect(w, format!("HMARK: the hash of the packet's tuple gives mark {mark:#x}; it goes on"));
                    mark
                }
                Ok(None) => {
                    let text = "HMARK: the packet has no connection to hash (`--hmark-tuple ct`), so its mark stays; \
                                it goes on";
                    effect(w, text.into());
                    return TargetResult::Continue;
                }
                Err(why) => {
                    let offset = x.offset.unwrap_or(0);
                    let text = format!(
                        "HMARK hashes {why}, which chainwalk does not know: it takes the hash as 0, so the mark is \
                         {offset:#x}"
                    );
                    assume(w, step, text);
                    let modulus = x.modulus;
                    effect(w, format!("HMARK: the mark becomes {offset:#x} plus a hash chainwalk cannot compute, modulo {modulus}"));
                    offset
                }
            };
            w.pkt.mark = mark;
            w.change(
                step,
                "mark",
                format!("{before:#x}"),
                format!("{mark:#x}"),
                "HMARK sets the mark from a hash".into(),
            );
            TargetResult::Continue
        }
        TargetKind::Rateest(x) => {
            effect(w, format!("RATEEST: the packet is counted in rate estimator {}; it goes on", x.name));
            TargetResult::Continue
        }
        TargetKind::Clusterip(x) => clusterip(w, x, step),
        TargetKind::Secmark(x) => {
            effect(
                w,
                format!("SECMARK: the packet's security mark becomes the SELinux context {}; it goes on", x.context),
            );
            TargetResult::Continue
        }
        TargetKind::Connsecmark(x) => {
            let what = match **x {
                crate::targets::secmark::Connsecmark::Save => "the packet's security mark is copied to its connection",
                crate::targets::secmark::Connsecmark::Restore => {
                    "the connection's security mark is copied to the packet"
                }
            };
            effect(w, format!("CONNSECMARK: {what}; it goes on"));
            TargetResult::Continue
        }
        TargetKind::Led(x) => {
            effect(w, format!("LED: the LED trigger netfilter-{} fires; the packet goes on", x.id));
            TargetResult::Continue
        }
        TargetKind::Idletimer(x) => {
            effect(
                w,
                format!("IDLETIMER: the idle timer {} starts again from {} s; the packet goes on", x.label, x.timeout),
            );
            TargetResult::Continue
        }
        TargetKind::Snpt(x) => npt(w, &x.0, step, false),
        TargetKind::Dnpt(x) => npt(w, &x.0, step, true),
        TargetKind::Ecn(x) => {
            if let Some(v) = x.ip_ect {
                let before = w.pkt.tos;
                w.pkt.tos = (before & !0x03) | v;
                if before != w.pkt.tos {
                    let after = w.pkt.tos;
                    w.change(
                        step,
                        "tos",
                        format!("{before:#04x}"),
                        format!("{after:#04x}"),
                        "ECN rewrites the ECN field".into(),
                    );
                }
            }
            if let L4::Tcp { sport, dport, flags } = w.pkt.l4 {
                let mut bits = flags.0;
                for (set, bit) in [(x.ece, 0x40u8), (x.cwr, 0x80u8)] {
                    match set {
                        Some(true) => bits |= bit,
                        Some(false) => bits &= !bit,
                        None => {}
                    }
                }
                if bits != flags.0 {
                    let after = crate::matches::tcp::TcpFlags(bits);
                    w.pkt.l4 = L4::Tcp { sport, dport, flags: after };
                    w.change(
                        step,
                        "tcp flags",
                        flags.to_string(),
                        after.to_string(),
                        "ECN rewrites the TCP ECN flags".into(),
                    );
                }
            }
            effect(w, "ECN: the ECN bits are rewritten; the packet goes on".into());
            TargetResult::Continue
        }
        TargetKind::Unmodelled(_) => {
            assume(
                w,
                step,
                format!(
                    "chainwalk does not model the {} target; it assumed the target lets the packet continue",
                    t.name
                ),
            );
            TargetResult::Continue
        }
        TargetKind::Standard(_) | TargetKind::Chain => TargetResult::Continue,
    }
}

/// `-j TCPOPTSTRIP` (`tcpoptstrip_mangle_packet` in `xt_TCPOPTSTRIP.c`): every option of one of `kinds`
/// is overwritten with no-ops, byte for byte, as the kernel walks the options (a kind below 2 or a length
/// of 0 is one byte long; the header's last byte starts no option; an option running past the header ends
/// the walk). A later fragment has no TCP header. Says what it did.
fn tcpoptstrip(w: &mut Walker<'_, '_>, step: Option<usize>, kinds: &[u8]) -> String {
    let names: Vec<String> = kinds.iter().map(u8::to_string).collect();
    let what = match names.len() {
        0 => "no TCP option".to_string(),
        1 => format!("TCP option {}", names[0]),
        _ => format!("TCP options {}", names.join(",")),
    };
    if w.pkt.fragment_offset != 0 {
        return "a later fragment has no TCP header".into();
    }
    let Some(mut opts) = w.pkt.known_tcp_options().map(<[u8]>::to_vec) else {
        return format!(
            "{what} would be overwritten with no-ops, but the segment's options are not known (the log's \
             `OPT (...)`)"
        );
    };
    let before = opts.clone();
    let mut i = 0;
    while i + 1 < opts.len() {
        let len = crate::matches::tcp::option_len(&opts, i);
        if i + len > opts.len() {
            break;
        }
        if kinds.contains(&opts[i]) {
            opts[i..i + len].fill(1);
        }
        i += len;
    }
    if opts == before {
        return format!("the segment carries no {what}");
    }
    let hex = crate::packet_text::hex;
    w.change(step, "tcp options", hex(&before), hex(&opts), "TCPOPTSTRIP overwrites options with no-ops".into());
    // An MSS option TCPMSS set earlier is gone with it.
    if crate::matches::tcpmss::mss_option(&opts).is_none() {
        w.pkt.mss = None;
    }
    w.pkt.tcp_options = Some(opts);
    format!("{what} overwritten with no-ops")
}

/// `-j TCPMSS` on a SYN whose options are known, as `tcpmss_mangle_packet` rewrites them: an MSS option
/// above `wanted` is lowered to it; without one, an option is put first (`wanted`, but at most 536 for
/// IPv4 and 1220 for IPv6, the sizes a peer assumes without one) unless the segment carries data or its
/// header is already 60 bytes long.
fn tcpmss_in_options(w: &mut Walker<'_, '_>, step: Option<usize>, mut opts: Vec<u8>, wanted: u16) -> TargetResult {
    let effect = |w: &mut Walker<'_, '_>, text: String| {
        if let Some(s) = step {
            w.trace.steps[s].effect = Some(text);
        }
    };
    let mut i = 0;
    while i + 4 <= opts.len() {
        if opts[i] == 2 && opts[i + 1] == 4 {
            let before = u16::from_be_bytes([opts[i + 2], opts[i + 3]]);
            if before <= wanted {
                effect(
                    w,
                    format!("TCPMSS: the SYN's MSS {before} is not above {wanted}, so it stays; the packet goes on"),
                );
                return TargetResult::Continue;
            }
            opts[i + 2..i + 4].copy_from_slice(&wanted.to_be_bytes());
            w.pkt.tcp_options = Some(opts);
            w.pkt.mss = Some(wanted);
            w.change(step, "mss", before.to_string(), wanted.to_string(), "TCPMSS lowers the SYN's MSS option".into());
            effect(w, format!("TCPMSS: the SYN's MSS becomes {wanted}; the packet goes on"));
            return TargetResult::Continue;
        }
        i += crate::matches::tcp::option_len(&opts, i);
    }
    let v6 = w.pkt.dst.is_ipv6();
    let headers = usize::from(w.pkt.ip_header_len()) + 20 + opts.len();
    if usize::from(w.pkt.len) > headers || 20 + opts.len() >= 60 {
        let why = if usize::from(w.pkt.len) > headers { "it carries data" } else { "its header is full" };
        effect(w, format!("TCPMSS: the SYN has no MSS option, and none is added because {why}; the packet goes on"));
        return TargetResult::Continue;
    }
    let added = wanted.min(if v6 { 1220 } else { 536 });
    let mut with = vec![2, 4];
    with.extend(added.to_be_bytes());
    with.extend(opts);
    w.pkt.tcp_options = Some(with);
    w.pkt.mss = Some(added);
    let len_before = w.pkt.len;
    w.pkt.len += 4;
    w.change(step, "mss", "none".into(), added.to_string(), "TCPMSS adds an MSS option".into());
    w.change(
        step,
        "len",
        len_before.to_string(),
        w.pkt.len.to_string(),
        "the MSS option makes it 4 bytes longer".into(),
    );
    effect(w, format!("TCPMSS: the SYN had no MSS option; one of {added} is added first; the packet goes on"));
    TargetResult::Continue
}

/// `-j TCPMSS` (`tcpmss_mangle_packet` in `xt_TCPMSS.c`): a SYN's MSS option is lowered to the given
/// value, or to what fits the smaller MTU of the way in and out (`--clamp-mss-to-pmtu`), and never raised.
/// Interfaces are taken to have the usual MTU (1500, or 65536 for the loopback).
fn tcpmss(w: &mut Walker<'_, '_>, step: Option<usize>, action: &crate::targets::header::MssAction) -> TargetResult {
    use crate::matches::tcpmss::{mss_for_mtu, usual_mss};
    use crate::targets::header::MssAction;
    let effect = |w: &mut Walker<'_, '_>, text: String| {
        if let Some(s) = step {
            w.trace.steps[s].effect = Some(text);
        }
    };
    let syn = matches!(w.pkt.l4, L4::Tcp { flags, .. } if flags.0 & 0x02 != 0);
    if !syn || w.pkt.fragment_offset != 0 {
        effect(w, "TCPMSS: the segment is not a SYN, so it has no MSS option to rewrite; the packet goes on".into());
        return TargetResult::Continue;
    }
    let v6 = w.pkt.dst.is_ipv6();
    let lo = |i: &Option<String>| i.as_deref() == Some("lo");
    let on_lo = lo(&w.in_iface) || lo(&w.out_iface);
    let (usual, _) = usual_mss(v6, on_lo);
    let wanted = match action {
        MssAction::Set(n) => *n,
        MssAction::ClampToPmtu => mss_for_mtu(v6, if on_lo { 65536 } else { 1500 }),
    };
    if let Some(opts) = w.pkt.known_tcp_options().map(<[u8]>::to_vec) {
        return tcpmss_in_options(w, step, opts, wanted);
    }
    let before = w.pkt.mss.unwrap_or(usual);
    if before <= wanted {
        effect(w, format!("TCPMSS: the SYN's MSS {before} is not above {wanted}, so it stays; the packet goes on"));
        return TargetResult::Continue;
    }
    w.pkt.mss = Some(wanted);
    w.change(step, "mss", before.to_string(), wanted.to_string(), "TCPMSS lowers the SYN's MSS option".into());
    effect(w, format!("TCPMSS: the SYN's MSS becomes {wanted}; the packet goes on"));
    TargetResult::Continue
}

/// Why REJECT sends nothing back for `pkt`, if it does not: no reset answers a reset or a later fragment
/// (`nf_reject_ip_tcphdr_get`), no ICMP error answers an ICMP error (`__icmp_send`, `icmpv6_send`), and
/// nothing answers a packet to a broadcast or multicast address.
pub(super) fn nothing_sent_back(
    pkt: &crate::packet::Packet,
    host: &crate::host::Host,
    reset: bool,
    frame_to_all: bool,
) -> Option<&'static str> {
    if pkt.fragment_offset != 0 {
        return Some("the kernel answers only a packet's first fragment");
    }
    // `__icmp_send` and `icmp6_send` also look at the frame the packet came in: one sent to a broadcast or
    // multicast link address is not answered, though a DNAT made its address unicast (recorded); a reset
    // goes by the route alone.
    if frame_to_all && !reset {
        return Some("the packet came in a broadcast or multicast frame, and the kernel sends no ICMP error about one");
    }
    // `icmp_send` and `nf_send_reset` (and `icmp6_send`, `nf_send_reset6` for these errors) answer only a
    // packet sent to one host.
    if pkt.dst.is_multicast() || host.is_broadcast(pkt.dst) {
        return Some("the kernel answers no packet sent to a broadcast or multicast address");
    }
    match pkt.l4 {
        L4::Tcp { flags, .. } if reset && flags.0 & 0x04 != 0 => Some("the kernel never answers a reset with a reset"),
        // `icmp_pointers` marks types 1 to 7 and 9 to 12 as errors, and `__icmp_send` takes any type
        // past 18 for one: router advertisements and solicitations are answered no more than
        // unreachables (recorded).
        L4::Icmp { icmp_type: 1..=7 | 9..=12 | 19.., .. } if !reset => {
            Some("the kernel sends no ICMP error about an ICMP error (or a type it takes for one)")
        }
        L4::Icmpv6 { icmp_type, .. } if !reset && icmp_type < 128 => {
            Some("the kernel sends no ICMPv6 error about an ICMPv6 error")
        }
        _ => None,
    }
}

/// The packet a REJECT answers with: a reset (with the ports swapped) or an ICMP or ICMPv6 error; `None`
/// for a reset of a packet that is not TCP.
fn answer_of(pkt: &crate::packet::Packet, with: crate::targets::reject::RejectWith) -> Option<L4> {
    if with != crate::targets::reject::RejectWith::TcpReset {
        return icmp_named(with.name());
    }
    let L4::Tcp { sport, dport, flags } = pkt.l4 else { return None };
    // A reset acknowledges what it answers unless that carried an ACK (`nf_reject_ip_tcphdr_put`).
    let rst = if flags.0 & 0x10 != 0 { 0x04 } else { 0x14 };
    Some(L4::Tcp { sport: dport, dport: sport, flags: crate::matches::tcp::TcpFlags(rst) })
}

/// The ICMP or ICMPv6 error a `--reject-with` name (or routing's `icmp-time-exceeded`, ...) stands for.
pub(super) fn icmp_named(name: &str) -> Option<L4> {
    let (icmp_type, code) = match name {
        "icmp-net-unreachable" => (3, 0),
        "icmp-host-unreachable" => (3, 1),
        "icmp-proto-unreachable" => (3, 2),
        "icmp-port-unreachable" => (3, 3),
        "icmp-net-prohibited" => (3, 9),
        "icmp-host-prohibited" => (3, 10),
        "icmp-admin-prohibited" => (3, 13),
        "icmp-time-exceeded" => (11, 0),
        "icmp-frag-needed" => (3, 4),
        "icmp6-no-route" => (1, 0),
        "icmp6-adm-prohibited" => (1, 1),
        "icmp6-beyond-scope" => (1, 2),
        "icmp6-addr-unreachable" => (1, 3),
        "icmp6-port-unreachable" => (1, 4),
        "icmp6-policy-fail" => (1, 5),
        "icmp6-reject-route" => (1, 6),
        "icmp6-time-exceeded" => (3, 0),
        "icmp6-packet-too-big" => (2, 0),
        _ => return None,
    };
    Some(if name.starts_with("icmp6") { L4::Icmpv6 { icmp_type, code } } else { L4::Icmp { icmp_type, code } })
}

/// The answer a REJECT sends (or routing: an ICMP error, a redirect) is a packet of this host to the packet's
/// source, RELATED to its connection (`nf_send_reset` and `icmp_send` hand it to `ip_local_out`): it meets the OUTPUT and
/// POSTROUTING chains like any other, and leaves where routing sends it. Why it does not get back to the
/// sender, if it does not: a rule stops it, routing has no way there, or it leaves by another interface
/// than the one the packet came in on (a source routed elsewhere). Walked silently, as the kernel does not
/// trace it; not while probing a connection's first packet for its NAT binding.
pub(super) fn answer_lost(w: &Walker<'_, '_>, l4: L4) -> Option<String> {
    if w.probe {
        return None;
    }
    let pkt = &w.pkt;
    let reset = matches!(l4, L4::Tcp { .. });
    // A reset comes from the address it answers for; an ICMP error from that address when it is the host's,
    // else from the host's address on the way back: for a packet the host sent, the sender's own address
    // (`icmp_send` and `icmp6_send` leave the source to the route back: its preferred source, else the
    // interface's address IPv4 picks towards the next hop, or IPv6 source address selection; recorded).
    let src = if reset || w.host.is_local(pkt.dst) {
        pkt.dst
    } else if let (IpAddr::V6(to), Some(came_in)) = (pkt.src, w.first.in_iface.as_deref()) {
        // `icmp6_send` picks the source before the lookup, by source address selection on the interface
        // the packet came in on, unless the route back has a preferred source, so that `from` selectors of
        // the routing policy see it (match_diff seed 50841).
        match w.host.route(pkt.src) {
            RouteDecision::Forward { src: Some(s), .. } => s,
            _ => w.host.ipv6_source(came_in, to).map_or(pkt.dst, IpAddr::V6),
        }
    } else {
        match w.host.route(pkt.src) {
            RouteDecision::Local { .. } => pkt.src,
            RouteDecision::Forward { src: Some(s), .. } => s,
            RouteDecision::Forward { dev, via, .. } => {
                let selected = match pkt.src {
                    IpAddr::V6(to) => w.host.ipv6_source(&dev, to).map(IpAddr::V6),
                    IpAddr::V4(_) => w.host.masquerade_addr(&dev, via.unwrap_or(pkt.src), pkt.src),
                };
                selected.unwrap_or(pkt.dst)
            }
            _ => pkt.dst,
        }
    };
    let mut answer = crate::packet::Packet::new(src, pkt.src, l4);
    // An IPv4 ICMP error has the TOS bits of the packet it answers under the precedence of network control
    // (`__icmp_send`: `RT_TOS(tos) | IPTOS_PREC_INTERNETCONTROL`), which a `tos` selector of the routing
    // policy sees; a reset has none.
    if !reset && !pkt.src.is_ipv6() {
        answer.tos = (pkt.tos & 0x1e) | 0xc0;
    }
    // Its length: a reset is bare headers (`nf_send_reset`, `nf_send_reset6`); an ICMP error quotes as much
    // of the packet as fits in 576 bytes (`icmp_send`), an ICMPv6 one in IPv6's minimum MTU of 1280
    // (`icmp6_send`).
    let v6 = pkt.src.is_ipv6();
    answer.len = match (reset, v6) {
        (true, false) => 40,
        (true, true) => 60,
        (false, false) => 28 + pkt.len.min(548),
        (false, true) => 48 + pkt.len.min(1232),
    };
    // The kernel hands the answer the connection of the packet it answers (`nf_ct_attach`, from
    // `nf_send_reset` and `icmp_glue_bits`), RELATED in the other direction, as it is now: an answer to
    // a first packet has a connection not yet confirmed that has seen no reply, with the packet's
    // connection mark and original tuple. A packet without a connection (not seen by conntrack yet in
    // raw, INVALID, UNTRACKED) gives none: conntrack then finds no connection the answer belongs to, and
    // it is INVALID (recorded).
    let attached = w.ct_seen && crate::matches::conntrack::has_connection(&w.ct);
    // An answer to a link-local IPv6 source goes back out of the interface the packet came in on
    // (`icmp6_send` takes the scope from the packet it answers).
    answer.out_iface = w.first.in_iface.clone();
    // `__icmp_send` looks the way back up from no source address unless the packet was for the host, so
    // `from` selectors of the routing policy do not see the address it then picks (recorded).
    let unspecified_source = !reset && !v6 && !w.host.is_local(pkt.dst);
    kernel_packet_lost(w, answer, attached, unspecified_source)
}

/// Walks `answer`, a packet the kernel makes about the walked one (a REJECT's answer, a redirect), silently
/// through OUTPUT and POSTROUTING, `attached` to the walked packet's connection (RELATED, the other way)
/// or with none (INVALID). Why it does not get back to the walked packet's sender, if it does not.
pub(super) fn kernel_packet_lost(
    w: &Walker<'_, '_>,
    mut answer: crate::packet::Packet,
    attached: bool,
    unspecified_source: bool,
) -> Option<String> {
    let pkt = &w.pkt;
    answer.ct_state = if attached { CtState::Related } else { CtState::Invalid };
    answer.ct_dir = match w.ct.dir {
        crate::packet::CtDir::Original => crate::packet::CtDir::Reply,
        crate::packet::CtDir::Reply => crate::packet::CtDir::Original,
    };
    let mut p = Walker::new(w.sim, w.host, &answer, w.opts);
    p.probe = true;
    p.traced = false;
    p.kernel_made = true;
    p.unspecified_source = unspecified_source;
    // The answer is made while the packet is still being walked: the counters and buckets its rules
    // used (limit, hashlimit, quota, statistic, connlimit) and the recent lists it filled are where the
    // packet left them (recorded: a connlimit the packet met counts the answer's connection again).
    p.nth_seen = w.nth_seen.clone();
    p.recent = w.recent.clone();
    p.ipsets = w.ipsets.clone();
    if attached {
        p.ct = super::eval::ConnState { state: CtState::Related, dir: answer.ct_dir, ..w.ct.clone() };
        p.attach_connection();
    }
    p.run();
    let fate = p.fate?;
    if fate.verdict != crate::trace::FateVerdict::Accept {
        return Some(match (w.host.route(pkt.src), &p.route_now) {
            (RouteDecision::Unroutable { .. }, _) => format!("the host has no route back to {}", pkt.src),
            // A routing policy that refuses the answer (a rule that sees its source, say).
            (_, Some(RouteDecision::Unroutable { reason, .. })) => format!("routing refuses it: {reason}"),
            _ => "the dump's own rules stop it on its way out (OUTPUT or POSTROUTING)".to_string(),
        });
    }
    // An answer to a source that is an address of this host (one `accept_local` let in) is delivered here.
    if fate.path == crate::trace::Path::Input && w.first.in_iface.is_some() {
        return Some(format!("it is addressed to {}, an address of this host, which takes it in itself", answer.dst));
    }
    match (&w.first.in_iface, &fate.out) {
        (Some(came_in), Some(out)) if came_in != out => {
            Some(format!("routing sends it out of {out}, not back out of {came_in} where the packet came from"))
        }
        _ => None,
    }
}

/// `-j SET` (`set_target_v3`): adds the packet's key to a set, then deletes it from one, as the kernel
/// would, so that later `-m set` rules of the walk see the change; a `list:set` takes the change in the
/// first member set that accepts it. Returns what it did.
fn set_target(w: &mut Walker<'_, '_>, x: &crate::targets::set::SetTarget, hook: Hook) -> String {
    use crate::matches::set::SetDir;
    let out_iface = match hook {
        Hook::Prerouting | Hook::Input => None,
        _ => w.out_iface.clone(),
    };
    let mut done = Vec::new();
    let len = w.pkt.len;
    let ops =
        x.add.as_ref().map(|a| (&a.set, true, a.exist)).into_iter().chain(x.del.as_ref().map(|d| (d, false, false)));
    for (set_ref, add, exist) in ops {
        let dirs: &[SetDir] = &set_ref.dirs;
        let verb = if add { "add to" } else { "delete from" };
        let Some(index) = w.ipsets().iter().position(|s| s.name == set_ref.name) else {
            done.push(format!("would {verb} ipset {}, whose contents chainwalk was not given", set_ref.name));
            continue;
        };
        // A list:set passes the change to its member sets in turn.
        let targets: Vec<usize> = match &w.ipsets()[index] {
            s if s.dims == [crate::ipset::Dim::Set] => s
                .members
                .iter()
                .filter_map(|m| match m.values.first() {
                    Some(crate::ipset::Value::Set(n)) => w.ipsets().iter().position(|t| t.name == *n),
                    _ => None,
                })
                .collect(),
            _ => vec![index],
        };
        let mut outcome = None;
        for t in targets {
            let set = &w.ipsets()[t];
            if set.family.is_some_and(|f| f != w.family()) || dirs.len() < set.dims.len() {
                continue;
            }
            let Ok(key) =
                crate::matches::set::packet_key(set, dirs, &w.pkt, w.in_iface.as_deref(), out_iface.as_deref())
            else {
                continue;
            };
            let element = set.element_of(&key);
            let text: Vec<String> = element.iter().map(ToString::to_string).collect();
            let name = set.name.clone();
            let sets = w.ipsets_mut();
            let changed = if add { sets[t].insert(element) } else { sets[t].remove(&element) };
            // An element the packet adds starts with the packet counted (`IP_SET_INIT_KEXT`: one packet, its
            // length), in a set with counters (recorded, match_diff seed 22199).
            if add && changed && sets[t].counters {
                if let Some(m) = sets[t].members.last_mut() {
                    (m.packets, m.bytes) = (1, u64::from(len));
                }
            }
            outcome = Some(match (add, changed) {
                (true, true) => format!("added {} to set {name}", text.join(",")),
                (true, false) => format!("{} was already in set {name}", text.join(",")),
                (false, true) => format!("deleted {} from set {name}", text.join(",")),
                (false, false) => format!("{} was not in set {name}", text.join(",")),
            });
            // `list_set_kadd` and `list_set_kdel` go on to the next member set while the change fails: an
            // element already there fails an add without `--exist`.
            if changed || (add && exist) {
                break;
            }
        }
        done.push(
            outcome.unwrap_or_else(|| format!("could not {verb} set {}: the packet has no key for it", set_ref.name)),
        );
    }
    format!("SET: {}; the packet goes on", done.join("; "))
}

/// [`assume`] for a NAT target's choice, which the walk of a connection's first packet for its binding
/// keeps for the walk it serves.
fn assume_nat(w: &mut Walker<'_, '_>, step: Option<usize>, text: String) {
    if w.binding_probe {
        w.binding_assumed.push(Assumption { step: None, key: None, text, matched: None, question: None });
    } else {
        assume(w, step, text);
    }
}

fn assume(w: &mut Walker<'_, '_>, step: Option<usize>, text: String) {
    if w.probe {
        return;
    }
    w.trace.assumptions.push(Assumption { step, key: None, text, matched: None, question: None });
}

fn untrack(w: &mut Walker<'_, '_>, step: Option<usize>, t: &Target) {
    if w.ct_seen && w.ct.state != CtState::Invalid {
        // A packet that has a connection already (an answer the kernel made and attached to the
        // connection it answers, a packet back in through `lo`) keeps it, and an UNTRACKED one stays so:
        // `xt_ct_target` leaves a packet with any `_nfct` alone; an INVALID one has none (recorded).
        if let Some(s) = step {
            w.trace.steps[s].effect =
                Some(format!("{}: nothing changes: the packet has its connection already", t.name));
        }
        return;
    }
    let before = w.ct.state;
    w.ct.state = CtState::Untracked;
    w.change(
        step,
        "state",
        before.as_str().into(),
        "UNTRACKED".into(),
        format!("{} exempts the packet from connection tracking", t.name),
    );
    if let Some(s) = step {
        w.trace.steps[s].effect =
            Some(format!("{}: the packet will not be tracked: conntrack and NAT leave it alone", t.name));
    }
}

fn hop(w: &mut Walker<'_, '_>, step: Option<usize>, op: &crate::targets::header::HopOp, what: &str) -> TargetResult {
    use crate::targets::header::HopOp;
    let before = w.pkt.ttl;
    w.pkt.ttl = match *op {
        HopOp::Set(v) => v,
        HopOp::Dec(v) => before.saturating_sub(v),
        HopOp::Inc(v) => before.saturating_add(v),
    };
    let after = w.pkt.ttl;
    w.change(step, "ttl", before.to_string(), after.to_string(), format!("the {what} is rewritten"));
    if let Some(s) = step {
        w.trace.steps[s].effect = Some(format!("the {what} becomes {after}"));
    }
    TargetResult::Continue
}

/// `clusterip_tg` in `ipt_CLUSTERIP.c`: an ICMP error goes on; otherwise the node is hashed from the
/// packet, a new connection keeps the hash as its mark, and a packet for another node is dropped.
fn clusterip(w: &mut Walker<'_, '_>, x: &crate::targets::clusterip::Clusterip, step: Option<usize>) -> TargetResult {
    let Some(cfg) = &x.new else {
        assume(w, step, "CLUSTERIP without --new uses the settings of another rule for its address; chainwalk assumes this node answers".into());
        if let Some(s) = step {
            w.trace.steps[s].effect = Some("CLUSTERIP: this node is assumed to answer; the packet goes on".into());
        }
        return TargetResult::Continue;
    };
    let IpAddr::V4(src) = w.pkt.src else { return TargetResult::Continue };
    if w.ct.state == CtState::Related && matches!(w.pkt.l4, L4::Icmp { .. }) {
        if let Some(s) = step {
            w.trace.steps[s].effect = Some("CLUSTERIP: an ICMP error goes on to every node".into());
        }
        return TargetResult::Continue;
    }
    let node = cfg.node_for(src, w.pkt.l4.ports());
    if w.ct.state == CtState::New {
        let before = w.ct.mark;
        w.ct.mark = node;
        w.change(
            step,
            "connmark",
            format!("{before:#x}"),
            format!("{node:#x}"),
            "CLUSTERIP keeps the node in the connection mark".into(),
        );
    }
    let mine = u32::from(cfg.local_node) == node;
    let text = format!(
        "CLUSTERIP: the {} hash picks node {node} of {}, {}",
        cfg.hash_mode.name(),
        cfg.total_nodes,
        if mine { "this one; the packet goes on" } else { "not this one, so the packet is dropped" }
    );
    if let Some(s) = step {
        w.trace.steps[s].effect = Some(text);
    }
    if mine {
        TargetResult::Continue
    } else {
        TargetResult::Drop
    }
}

/// `ip6t_snpt_tg`/`ip6t_dnpt_tg`: the source (SNPT) or destination (DNPT) address gets the other prefix; an
/// address that cannot be mapped makes the kernel drop the packet.
fn npt(w: &mut Walker<'_, '_>, x: &crate::targets::npt::NptPrefixes, step: Option<usize>, dst: bool) -> TargetResult {
    let (name, what) = if dst { ("DNPT", "destination") } else { ("SNPT", "source") };
    let old = if dst { w.pkt.dst } else { w.pkt.src };
    let IpAddr::V6(old6) = old else { return TargetResult::Continue };
    let Some(new) = x.map(old6) else {
        if let Some(s) = step {
            w.trace.steps[s].effect = Some(format!(
                "{name}: the {what} {old6} cannot be mapped, so the packet is dropped with a parameter problem"
            ));
        }
        return TargetResult::Drop;
    };
    if dst {
        w.pkt.dst = IpAddr::V6(new);
    } else {
        w.pkt.src = IpAddr::V6(new);
    }
    w.change(step, what, old6.to_string(), new.to_string(), format!("{name} translates the {what} prefix"));
    if let Some(s) = step {
        w.trace.steps[s].effect = Some(format!("{name}: {what} {old6} → {new}; the packet goes on"));
    }
    TargetResult::Continue
}

fn loopback(like: IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

/// NETMAP's mapping: the network part from `to`, the host part from the packet.
fn netmap(old: IpAddr, to: IpAddr, mask: IpAddr) -> IpAddr {
    match (old, to, mask) {
        (IpAddr::V4(o), IpAddr::V4(t), IpAddr::V4(m)) => {
            let (o, t, m) = (u32::from(o), u32::from(t), u32::from(m));
            IpAddr::V4(Ipv4Addr::from((o & !m) | (t & m)))
        }
        (IpAddr::V6(o), IpAddr::V6(t), IpAddr::V6(m)) => {
            let (o, t, m) = (u128::from(o), u128::from(t), u128::from(m));
            IpAddr::V6(Ipv6Addr::from((o & !m) | (t & m)))
        }
        _ => old,
    }
}

fn in_addr_range(a: IpAddr, min: IpAddr, max: IpAddr) -> bool {
    match (a, min, max) {
        (IpAddr::V4(a), IpAddr::V4(lo), IpAddr::V4(hi)) => (lo..=hi).contains(&a),
        (IpAddr::V6(a), IpAddr::V6(lo), IpAddr::V6(hi)) => (lo..=hi).contains(&a),
        _ => false,
    }
}

/// The address of `min..=max` that `find_best_ips_proto` (`nf_nat_core.c`) gives a connection from `src` to
/// `dst` (its addresses when NAT is decided): a `jhash2` of the source address, seeded with the last word of
/// the destination (0 with `--persistent`), scaled into the range word by word. The words are read from the
/// addresses' bytes in a little-endian CPU's order, as on x86 and most ARM hosts.
fn hashed_nat_addr(src: IpAddr, dst: IpAddr, min: IpAddr, max: IpAddr, persistent: bool) -> IpAddr {
    let words = |a: IpAddr| -> [u32; 4] {
        let mut w = [0u32; 4];
        match a {
            IpAddr::V4(v) => w[0] = u32::from_le_bytes(v.octets()),
            IpAddr::V6(v) => {
                for (i, c) in v.octets().chunks(4).enumerate() {
                    w[i] = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            }
        }
        w
    };
    let host_order = |w: u32| u32::from_be_bytes(w.to_le_bytes());
    let last = if dst.is_ipv4() { 0 } else { 3 };
    let (s, d, lo, hi) = (words(src), words(dst), words(min), words(max));
    let mut j = crate::matches::cluster::jhash2(&s, if persistent { 0 } else { d[last] });
    let mut out = [0u32; 4];
    let mut full_range = false;
    for i in 0..=last {
        let (base, dist) = if full_range {
            (0u32, u32::MAX)
        } else {
            let (a, b) = (host_order(lo[i]), host_order(hi[i]));
            (a, b.wrapping_sub(a).wrapping_add(1))
        };
        let pick = base.wrapping_add(((u64::from(j) * u64::from(dist)) >> 32) as u32);
        out[i] = u32::from_le_bytes(pick.to_be_bytes());
        if out[i] != hi[i] {
            full_range = true;
        }
        if !persistent {
            j ^= d[i];
        }
    }
    let bytes: Vec<u8> = out.iter().flat_map(|w| w.to_le_bytes()).collect();
    match min {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        IpAddr::V6(_) => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&bytes);
            IpAddr::V6(Ipv6Addr::from(b))
        }
    }
}

/// Sets up a translation of the destination (`dst`) or source to an address of `addrs` and a port of
/// `ports`, as `nf_nat_setup_info` picks them for a connection's first packet, and ends the nat chain.
#[allow(clippy::too_many_arguments)]
fn nat_to(
    w: &mut Walker<'_, '_>,
    t: &Target,
    step: Option<usize>,
    dst: bool,
    addrs: Option<(IpAddr, IpAddr)>,
    ports: Option<crate::targets::nat::NatPorts>,
    random: bool,
    persistent: bool,
) -> TargetResult {
    let before = w.pkt.clone();
    // DCCP lost its conntrack and NAT in Linux 6.16: it is translated as a protocol without ports, the
    // ports a rule names are left alone (recorded on 6.18).
    let translated_ports = if matches!(before.l4, L4::Dccp { .. }) { None } else { before.l4.ports() };
    let (old_addr, old_port) = match (dst, translated_ports) {
        (true, p) => (before.dst, p.map(|p| p.1)),
        (false, p) => (before.src, p.map(|p| p.0)),
    };
    let new_addr = match addrs {
        Some((min, max)) if min != max => {
            // A source already in the range (address, and port when the range has ports) stays as it is,
            // unless the ports are to be random (`get_unique_tuple` in `nf_nat_core.c`).
            let port_fits = match (old_port, ports) {
                (Some(p), Some(r)) => (r.min..=r.max).contains(&p),
                _ => true,
            };
            if !dst && !random && in_addr_range(old_addr, min, max) && port_fits {
                old_addr
            } else {
                hashed_nat_addr(before.src, before.dst, min, max, persistent)
            }
        }
        Some((min, _)) => min,
        None => old_addr,
    };
    let new_port = match (old_port, ports) {
        (Some(p), Some(r)) => Some(match r.base {
            Some(base) => r.min.wrapping_add(p.wrapping_sub(base)),
            // A port already in the range is kept; otherwise a destination gets the first port of the range
            // and a source a free one (chainwalk shows the first).
            None if (r.min..=r.max).contains(&p) && !random => p,
            None => {
                if !dst || random {
                    assume_nat(
                        w,
                        step,
                        format!("{} picks a port from {}-{}; chainwalk shows the first", t.name, r.min, r.max),
                    );
                }
                r.min
            }
        }),
        (Some(p), None) if random && !dst => {
            // `--random` with no ports given: the source port is drawn at random from its class
            // (`nf_nat_l4proto_unique_tuple`: 1-511, 600-1023 or 1024-65535), even when it is free
            // (recorded: two recordings give two ports); a destination port is never changed.
            let (lo, hi) = match p {
                0..=511 => (1, 511),
                512..=1023 => (600, 1023),
                _ => (1024, 65535),
            };
            assume_nat(
                w,
                step,
                format!("{} picks a random source port in {lo}-{hi}; chainwalk shows the packet's own, {p}", t.name),
            );
            Some(p)
        }
        (p, _) => p,
    };
    if dst {
        w.pkt.dst = new_addr;
        if let (Some(np), Some((sp, _))) = (new_port, before.l4.ports()) {
            w.pkt.l4 = before.l4.with_ports(sp, np);
        }
        w.ct.dnat = w.pkt.dst != before.dst || new_port != old_port || w.ct.dnat;
    } else {
        w.pkt.src = new_addr;
        if let (Some(np), Some((_, dp))) = (new_port, before.l4.ports()) {
            w.pkt.l4 = before.l4.with_ports(np, dp);
        }
        w.ct.snat = w.pkt.src != before.src || new_port != old_port || w.ct.snat;
    }
    // The reply direction now expects the translated addresses.
    let now = super::tuple_of(&w.pkt);
    w.ct.reply = super::eval::Tuple { src: now.dst, dst: now.src, sport: now.dport, dport: now.sport };
    let (what, from, to) = if dst {
        ("destination", endpoint(before.dst, old_port), endpoint(w.pkt.dst, new_port))
    } else {
        ("source", endpoint(before.src, old_port), endpoint(w.pkt.src, new_port))
    };
    let note = format!("{} rewrites the {what} from {from} to {to}", t.name);
    w.change(step, what, from.clone(), to.clone(), note);
    if let Some(s) = step {
        w.trace.steps[s].effect = Some(format!("{}: {what} {from} → {to}; the nat chain ends here", t.name));
    }
    TargetResult::Accept
}

/// What `-j HMARK` hashes for the packet as it is (`hmark_pkt_set_htuple_ipv4`/`_ipv6`) or, with
/// `--hmark-tuple ct`, for its connection (`hmark_ct_set_htuple`: the original source and the reply's
/// source, and their ports, for any protocol but IPv4's ICMP). `Ok(None)`: the packet has no connection,
/// and the kernel leaves its mark. `Err`: what the hash needs that the packet does not say (the packet an
/// ICMP error quotes, which the kernel hashes instead; an SPI; an ICMPv6 connection's identifier).
fn hmark_tuple(
    w: &Walker<'_, '_>,
    x: &crate::targets::hmark::Hmark,
) -> Result<Option<crate::targets::hmark::HmarkTuple>, String> {
    use crate::targets::hmark::HmarkTuple;
    let pkt = &w.pkt;
    let proto = pkt.l4.proto();
    if x.ct {
        if !w.ct_seen || !crate::matches::conntrack::has_connection(&w.ct) {
            return Ok(None);
        }
        let (o, r) = (w.ct.original, w.ct.reply);
        let ports = match pkt.l4 {
            L4::Icmp { .. } => None,
            L4::Icmpv6 { .. } => return Err("the ICMPv6 identifier of the connection".into()),
            _ => Some((o.sport, r.sport)),
        };
        return Ok(Some(HmarkTuple { src: o.src, dst: r.src, proto, ports }));
    }
    let ports = match pkt.l4 {
        L4::Icmp { icmp_type: 3 | 4 | 5 | 11 | 12, .. } => return Err("the packet the ICMP error quotes".into()),
        L4::Icmpv6 { icmp_type: 1..=127, .. } => return Err("the packet the ICMPv6 error quotes".into()),
        L4::Icmp { .. } | L4::Icmpv6 { .. } => None,
        _ if crate::packet::ports_unknown(pkt.l4) => return Err("the packet's ports".into()),
        L4::Other { proto: 50 | 51 } => match pkt.spi {
            Some(spi) => Some(((spi >> 16) as u16, spi as u16)),
            None => return Err("the packet's SPI".into()),
        },
        L4::Other { .. } => None,
        l4 => l4.ports(),
    };
    Ok(Some(HmarkTuple { src: pkt.src, dst: pkt.dst, proto, ports }))
}
