//! Writing a packet back as a line, so that the packet form and the one-line field stay in sync: the form
//! shows the packet the core read from the line, and a change in the form writes the line again, in the
//! style the user wrote it in (the short form, or the kernel's log syntax with chainwalk's extra keys).
//!
//! Both writers keep everything the core reads from their style: `packet::parse(write(p))` is `p`.

use crate::matches::tcp::FLAG_NAMES;
use crate::packet::{CtDir, CtState, Packet, L4};
use std::fmt::Write;
use std::net::IpAddr;

/// The two ways to write a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0 syn`.
    Short,
    /// `IN=ppp0 OUT= SRC=203.0.113.7 DST=198.51.100.2 ... PROTO=TCP SPT=40000 DPT=7788 SYN`.
    Log,
}

impl Style {
    /// The style `line` is written in (as the core tells them apart: a `KEY=value` word means the log).
    pub fn of(line: &str) -> Style {
        if line.split_whitespace().any(|w| w.contains('=')) {
            Style::Log
        } else {
            Style::Short
        }
    }
}

/// `packet` as a line in `style`. The short form cannot say everything (a MAC address, fragments, the
/// original direction of a reply, UDP-Lite and DCCP ports, an interface named with a `=`); a packet that
/// needs one is written as a log line.
pub fn write(packet: &Packet, style: Style) -> String {
    let needs_log = packet.mac_src.is_some()
        || packet.fragment_offset != 0
        || packet.ct_mark != 0
        || packet.orig.is_some()
        || packet.quoted.is_some()
        // A `=` in an interface's name (Linux allows it) would make the short form read as a log line.
        || [&packet.in_iface, &packet.out_iface, &packet.physin, &packet.physout]
            .iter()
            .any(|i| i.as_deref().is_some_and(|n| n.contains('=')));
    if style == Style::Log || needs_log {
        log_line(packet)
    } else {
        short(packet)
    }
}

fn short(p: &Packet) -> String {
    let endpoint = |addr: IpAddr, port: Option<u16>| match (addr, port) {
        (addr, None) => addr.to_string(),
        (IpAddr::V4(a), Some(port)) => format!("{a}:{port}"),
        (IpAddr::V6(a), Some(port)) => format!("[{a}]:{port}"),
    };
    let (proto, ports) = match p.l4 {
        L4::Tcp { sport, dport, .. } => ("tcp".to_string(), Some((sport, dport))),
        L4::Udp { sport, dport } => ("udp".to_string(), Some((sport, dport))),
        L4::Sctp { sport, dport } => ("sctp".to_string(), Some((sport, dport))),
        L4::Udplite { sport, dport } => ("udplite".to_string(), Some((sport, dport))),
        L4::Dccp { sport, dport } => ("dccp".to_string(), Some((sport, dport))),
        L4::Other { proto: 47 } => ("gre".to_string(), None),
        L4::Icmp { .. } => ("icmp".to_string(), None),
        L4::Icmpv6 { .. } => ("icmpv6".to_string(), None),
        L4::Other { proto: 50 } => ("esp".to_string(), None),
        L4::Other { proto: 51 } => ("ah".to_string(), None),
        L4::Other { .. } => (p.l4.proto().to_string(), None),
    };
    let mut out =
        format!("{proto} {} -> {}", endpoint(p.src, ports.map(|(s, _)| s)), endpoint(p.dst, ports.map(|(_, d)| d)));
    if let Some(i) = &p.in_iface {
        let _ = write!(out, " in {i}");
    }
    if let Some(o) = &p.out_iface {
        let _ = write!(out, " out {o}");
    }
    match p.l4 {
        L4::Tcp { flags, .. } => {
            for (name, bit) in FLAG_NAMES {
                if flags.0 & bit != 0 {
                    let _ = write!(out, " {}", name.to_ascii_lowercase());
                }
            }
        }
        L4::Icmp { icmp_type, code } | L4::Icmpv6 { icmp_type, code } => {
            let default_type = if matches!(p.l4, L4::Icmp { .. }) { 8 } else { 128 };
            if (icmp_type, code) != (default_type, 0) {
                let _ = write!(out, " type {icmp_type} code {code}");
            }
        }
        _ => {}
    }
    if p.ct_state != CtState::New {
        let _ = write!(out, " state {}", p.ct_state.as_str().to_ascii_lowercase());
    }
    if p.ct_dir == CtDir::Reply {
        out.push_str(" dir reply");
    }
    let defaults = Packet::new(p.src, p.dst, p.l4);
    let numbers = [
        ("mark", p.mark != 0, format!("{:#x}", p.mark)),
        ("uid", p.uid.is_some(), p.uid.unwrap_or(0).to_string()),
        ("gid", p.gid.is_some(), p.gid.unwrap_or(0).to_string()),
        ("ttl", p.ttl != defaults.ttl, p.ttl.to_string()),
        ("len", p.len != defaults.len, p.len.to_string()),
        ("tos", p.tos != defaults.tos, format!("{:#x}", p.tos)),
        ("spi", p.spi.is_some(), format!("{:#x}", p.spi.unwrap_or(0))),
    ];
    for (key, present, value) in numbers {
        if present {
            let _ = write!(out, " {key} {value}");
        }
    }
    for (key, value) in [("physin", &p.physin), ("physout", &p.physout)] {
        if let Some(v) = value {
            let _ = write!(out, " {key} {v}");
        }
    }
    if let Some(o) = &p.tcp_options {
        let text = if o.is_empty() { "-".to_string() } else { hex(o).to_ascii_lowercase() };
        let _ = write!(out, " opt {text}");
    }
    if p.dont_fragment {
        out.push_str(" df");
    }
    if p.more_fragments {
        out.push_str(" mf");
    }
    out
}

/// Bytes as the kernel's log prints options: two upper-case hex digits each.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn log_line(p: &Packet) -> String {
    let mut out = format!("IN={} OUT=", p.in_iface.as_deref().unwrap_or(""));
    out.push_str(p.out_iface.as_deref().unwrap_or(""));
    if let Some(mac) = p.mac_src {
        // The kernel prints destination MAC, source MAC and EtherType; only the source matters here.
        let _ = write!(
            out,
            " MAC=00:00:00:00:00:00:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:08:00",
            mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
        );
    }
    let _ = write!(out, " SRC={} DST={} LEN={}", p.src, p.dst, p.len);
    if p.src.is_ipv6() {
        let _ = write!(out, " TC={} HOPLIMIT={}", p.tos, p.ttl);
    } else {
        // As the kernel logs it, the precedence apart (its `TOS=` leaves out the ECN bit 0x01, kept here).
        let _ = write!(out, " TOS=0x{:02X} PREC=0x{:02X} TTL={}", p.tos & 0x1f, p.tos & 0xe0, p.ttl);
    }
    if p.dont_fragment {
        out.push_str(" DF");
    }
    if p.more_fragments {
        out.push_str(" MF");
    }
    if p.fragment_offset != 0 {
        let _ = write!(out, " FRAG:{}", p.fragment_offset);
    }
    match p.l4 {
        L4::Tcp { sport, dport, flags } => {
            let _ = write!(out, " PROTO=TCP SPT={sport} DPT={dport}");
            for (name, bit) in FLAG_NAMES.iter().rev() {
                if flags.0 & bit != 0 {
                    let _ = write!(out, " {name}");
                }
            }
            if let Some(o) = &p.tcp_options {
                let _ = write!(out, " OPT ({})", hex(o));
            }
        }
        L4::Udp { sport, dport } => {
            let _ = write!(out, " PROTO=UDP SPT={sport} DPT={dport}");
        }
        L4::Udplite { sport, dport } => {
            let _ = write!(out, " PROTO=UDPLITE SPT={sport} DPT={dport}");
        }
        L4::Sctp { sport, dport } => {
            let _ = write!(out, " PROTO=SCTP SPT={sport} DPT={dport}");
        }
        L4::Dccp { sport, dport } => {
            let _ = write!(out, " PROTO=DCCP SPT={sport} DPT={dport}");
        }
        L4::Icmp { icmp_type, code } => {
            let _ = write!(out, " PROTO=ICMP TYPE={icmp_type} CODE={code}");
        }
        L4::Icmpv6 { icmp_type, code } => {
            let _ = write!(out, " PROTO=ICMPv6 TYPE={icmp_type} CODE={code}");
        }
        L4::Other { proto: 50 } => out.push_str(" PROTO=ESP"),
        L4::Other { proto: 51 } => out.push_str(" PROTO=AH"),
        L4::Other { proto } => {
            let _ = write!(out, " PROTO={proto}");
        }
    }
    if let Some(spi) = p.spi {
        let _ = write!(out, " SPI={spi:#x}");
    }
    if let Some(q) = p.quoted {
        // As the kernel's log names them; the others by number, as it prints SCTP and DCCP.
        let proto = match q.proto {
            6 => "TCP".to_string(),
            17 => "UDP".to_string(),
            136 => "UDPLITE".to_string(),
            1 => "ICMP".to_string(),
            58 => "ICMPv6".to_string(),
            n => n.to_string(),
        };
        let _ = write!(out, " [SRC={} DST={} PROTO={proto}", q.src, q.dst);
        if let Some((sport, dport)) = q.ports {
            let _ = write!(out, " SPT={sport} DPT={dport}");
        }
        out.push_str(" ]");
    }
    if p.ct_state != CtState::New {
        let _ = write!(out, " CTSTATE={}", p.ct_state.as_str());
    }
    if p.ct_dir == CtDir::Reply {
        out.push_str(" CTDIR=REPLY");
    }
    if p.mark != 0 {
        let _ = write!(out, " MARK={:#x}", p.mark);
    }
    if p.ct_mark != 0 {
        let _ = write!(out, " CTMARK={:#x}", p.ct_mark);
    }
    for (key, value) in [("UID", p.uid), ("GID", p.gid)] {
        if let Some(v) = value {
            let _ = write!(out, " {key}={v}");
        }
    }
    for (key, value) in [("PHYSIN", &p.physin), ("PHYSOUT", &p.physout)] {
        if let Some(v) = value {
            let _ = write!(out, " {key}={v}");
        }
    }
    if let Some(o) = p.orig {
        for (key, addr) in [("ORIGSRC", o.src), ("ORIGDST", o.dst)] {
            if let Some(a) = addr {
                let _ = write!(out, " {key}={a}");
            }
        }
        for (key, port) in [("ORIGSPT", o.sport), ("ORIGDPT", o.dport)] {
            if let Some(n) = port {
                let _ = write!(out, " {key}={n}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::parse;

    fn round_trip(line: &str) {
        let packet = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        for style in [Style::Short, Style::Log] {
            let written = write(&packet, style);
            let again = parse(&written).unwrap_or_else(|e| panic!("{written}: {e}"));
            assert_eq!(again, packet, "{line} written as {written}");
        }
    }

    #[test]
    fn packets_of_every_kind_survive_both_styles() {
        for line in [
            "tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0 syn",
            "tcp 192.0.2.1:1 -> 192.0.2.2:2 out eth0 ack psh fin state established dir reply mark 0x10 uid 1000 gid 5",
            "udp [2001:db8::1]:5353 -> [2001:db8::2]:53 in eth0 ttl 3 len 100 tos 0x10",
            "icmp 192.0.2.1 -> 192.0.2.2 in eth0 type 3 code 1 state related",
            "icmpv6 2001:db8::1 -> 2001:db8::2 in eth0",
            "sctp 192.0.2.1:1 -> 192.0.2.2:2 in br0 physin veth1 physout veth2 df mf",
            "47 192.0.2.1 -> 192.0.2.2 in eth0",
            "gre 192.0.2.1 -> 192.0.2.2 in eth0",
            "udplite 192.0.2.1:1 -> 192.0.2.2:2 in eth0",
            "dccp [2001:db8::1]:1 -> [2001:db8::2]:2 out eth0",
            "33 192.0.2.1 -> 192.0.2.2 in eth0",
            "IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=192.0.2.1 DST=192.0.2.2 LEN=40 TTL=9 PROTO=TCP SPT=1 DPT=2 RST",
            "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=40 FRAG:3 PROTO=UDPLITE SPT=1 DPT=2 CTMARK=0x5",
            "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=UDP SPT=1 DPT=2 CTSTATE=ESTABLISHED CTDIR=REPLY ORIGSRC=10.0.0.1 ORIGDPT=53",
            "IN= OUT=eth0 SRC=192.0.2.1 DST=192.0.2.2 PROTO=DCCP SPT=1 DPT=2 UID=0",
            "IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=548 FRAG:185 PROTO=UDP",
            "IN=eth0 OUT= SRC=198.51.100.9 DST=192.0.2.2 LEN=84 TOS=0x00 PREC=0xC0 TTL=64 ID=1 PROTO=ICMP TYPE=3 CODE=3 \
             [SRC=192.0.2.2 DST=198.51.100.9 LEN=56 TOS=0x00 PREC=0x00 TTL=63 ID=5 DF PROTO=UDP SPT=41234 DPT=33434 LEN=36 ] \
             CTSTATE=RELATED",
            "IN=eth0 OUT= SRC=2001:db8::9 DST=2001:db8::2 PROTO=ICMPv6 TYPE=1 CODE=4 [SRC=2001:db8::2 DST=2001:db8::9 \
             LEN=60 TC=0 HOPLIMIT=63 FLOWLBL=0 PROTO=TCP SPT=1 DPT=2 SYN ]",
            "tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 syn opt 020405b4010303",
            "tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 ack opt -",
            // Found by fuzzing: Linux allows `=` in an interface's name.
            "IN=a=b OUT= SRC=192.0.2.1 DST=192.0.2.2 PROTO=UDP SPT=1 DPT=2",
        ] {
            round_trip(line);
        }
    }

    #[test]
    fn the_style_follows_the_line() {
        assert_eq!(Style::of("tcp 1.2.3.4:1 -> 5.6.7.8:2"), Style::Short);
        assert_eq!(Style::of("IN=eth0 OUT= SRC=1.2.3.4"), Style::Log);
        let p = parse("tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0 syn").unwrap();
        assert_eq!(write(&p, Style::Short), "tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0 syn");
        assert_eq!(
            write(&p, Style::Log),
            "IN=ppp0 OUT= SRC=203.0.113.7 DST=198.51.100.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 PROTO=TCP SPT=40000 DPT=7788 SYN"
        );
        // UDP-Lite and DCCP keep their ports in the short form.
        let p = parse("IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2 LEN=40 PROTO=UDPLITE SPT=1 DPT=2").unwrap();
        assert_eq!(write(&p, Style::Short), "udplite 192.0.2.1:1 -> 192.0.2.2:2 in eth0 len 40");
    }
}
