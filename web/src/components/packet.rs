//! The packet: a one-line field that takes the kernel's log syntax or the short form, and a form with the
//! same packet field by field. The line is what is kept; the form shows the packet the core reads from it,
//! and a change in the form writes the line again (in the style it was written in).

use chainwalk_core::matches::tcp::{TcpFlags, FLAG_NAMES};
use chainwalk_core::packet::{self, CtState, Packet, L4};
use chainwalk_core::packet_text::{self, Style};
use chainwalk_core::Diagnostic;
use std::net::IpAddr;
use std::rc::Rc;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

/// Properties of [`PacketInput`].
#[derive(Properties, PartialEq)]
pub struct PacketProps {
    /// The packet line.
    pub line: Rc<str>,
    /// Called with the new line.
    pub onchange: Callback<String>,
    /// Why the worker could not use the packet (a parse error, or a family that does not fit the dump).
    pub error: Option<Diagnostic>,
}

/// The flags the form offers, in the order people say them.
const FORM_FLAGS: [&str; 6] = ["SYN", "ACK", "FIN", "RST", "PSH", "URG"];

/// The conntrack states the form offers.
const STATES: [CtState; 5] =
    [CtState::New, CtState::Established, CtState::Related, CtState::Invalid, CtState::Untracked];

/// The packet line and form.
#[function_component]
pub fn PacketInput(props: &PacketProps) -> Html {
    let parsed = packet::parse(&props.line);
    // The form keeps showing the last packet that could be read while the line is being edited.
    let last_good = use_mut_ref(|| None::<Packet>);
    if let Ok(p) = &parsed {
        *last_good.borrow_mut() = Some(p.clone());
    }
    let form_packet = last_good.borrow().clone();

    let oninput = props.onchange.reform(|e: InputEvent| e.target_unchecked_into::<HtmlInputElement>().value());
    let error = props.error.clone();
    let error_id = "packet-error";
    html! {
        <section class="panel packet" aria-labelledby="packet-label">
            <div class="panel-head">
                <label id="packet-label" for="packet-input">{"Packet"}</label>
            </div>
            <input
                id="packet-input"
                data-testid="packet-input"
                class={classes!("line-input", error.is_some().then_some("invalid"))}
                type="text"
                value={AttrValue::from(props.line.clone())}
                {oninput}
                spellcheck="false"
                autocomplete="off"
                autocapitalize="off"
                aria-invalid={error.is_some().to_string()}
                aria-describedby={if error.is_some() { error_id } else { "packet-help" }}
            />
            if let Some(e) = &error {
                <p id={error_id} class="input-error" role="alert">
                    <span class="position">{format!("column {}", e.span.col)}</span>{" "}{e.message.clone()}
                    if let Some(hint) = &e.hint { <span class="hint">{" — "}{hint.clone()}</span> }
                </p>
            } else {
                <p id="packet-help" class="help">
                    {"A kernel log line ("}<code>{"IN=ppp0 OUT= SRC=… DST=… PROTO=TCP SPT=… DPT=… SYN"}</code>
                    {") or the short form "}<code>{"tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0 syn"}</code>{"."}
                </p>
            }
            if let Some(p) = form_packet {
                { form(&p, &props.line, &props.onchange) }
            }
        </section>
    }
}

/// The form for `packet`; each change writes a new line to `onchange`.
fn form(packet: &Packet, line: &str, onchange: &Callback<String>) -> Html {
    let style = Style::of(line);
    // Each control gets the packet and its own value and returns the changed packet, or None when the
    // value does not make a packet (a half-typed address): then the line is left as it is.
    let change = |edit: fn(&mut Packet, &str) -> bool| {
        let (packet, onchange) = (packet.clone(), onchange.clone());
        Callback::from(move |value: String| {
            let mut p = packet.clone();
            if edit(&mut p, &value) {
                onchange.emit(packet_text::write(&p, style));
            }
        })
    };
    let text = |id: &'static str, label: &'static str, value: String, edit: fn(&mut Packet, &str) -> bool| {
        let onchange = change(edit).reform(|e: Event| e.target_unchecked_into::<HtmlInputElement>().value());
        html! {
            <div class="field">
                <label for={id}>{label}</label>
                <input id={id} type="text" {value} {onchange} spellcheck="false" autocomplete="off" />
            </div>
        }
    };
    let ports = packet.l4.ports();
    let port_text = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_default();
    let protocol = match packet.l4 {
        L4::Tcp { .. } => "tcp",
        L4::Udp { .. } => "udp",
        L4::Sctp { .. } => "sctp",
        L4::Udplite { .. } => "udplite",
        L4::Dccp { .. } => "dccp",
        L4::Icmp { .. } | L4::Icmpv6 { .. } => "icmp",
        L4::Other { proto: 50 } => "esp",
        L4::Other { proto: 51 } if packet.src.is_ipv4() => "ah",
        L4::Other { proto: 47 } => "gre",
        L4::Other { .. } => "other",
    };
    let protocols: &[&str] = if packet.src.is_ipv4() {
        &["tcp", "udp", "sctp", "icmp", "udplite", "dccp", "esp", "ah", "gre"]
    } else {
        &["tcp", "udp", "sctp", "icmp", "udplite", "dccp", "esp", "gre"]
    };
    let ipsec = matches!(protocol, "esp" | "ah");
    let on_protocol = change(set_protocol).reform(|e: Event| e.target_unchecked_into::<HtmlSelectElement>().value());
    let on_origin = change(set_origin).reform(|e: Event| e.target_unchecked_into::<HtmlSelectElement>().value());
    let on_state = change(set_state).reform(|e: Event| e.target_unchecked_into::<HtmlSelectElement>().value());
    let local = packet.in_iface.is_none();
    let flags = match packet.l4 {
        L4::Tcp { flags, .. } => Some(flags),
        _ => None,
    };
    html! {
        <fieldset class="packet-form">
            <legend class="visually-hidden">{"The packet, field by field"}</legend>
            <div class="field">
                <label for="pf-proto">{"Protocol"}</label>
                <select id="pf-proto" onchange={on_protocol}>
                    { for protocols.iter().map(|p| html! { <option value={*p} selected={*p == protocol}>{p.to_string()}</option> }) }
                    if protocol == "other" {
                        <option value="other" selected=true>{format!("protocol {}", packet.l4.proto())}</option>
                    }
                </select>
            </div>
            { text("pf-src", "Source", packet.src.to_string(), set_src) }
            if ports.is_some() {
                { text("pf-sport", "Port", port_text(ports.map(|p| p.0)), set_sport) }
            }
            { text("pf-dst", "Destination", packet.dst.to_string(), set_dst) }
            if ports.is_some() {
                { text("pf-dport", "Port", port_text(ports.map(|p| p.1)), set_dport) }
            }
            if ipsec {
                { text("pf-spi", "SPI", packet.spi.map(|s| format!("{s:#x}")).unwrap_or_default(), set_spi) }
            }
            <div class="field">
                <label for="pf-origin">{"Arrives"}</label>
                <select id="pf-origin" onchange={on_origin}>
                    <option value="in" selected={!local}>{"on an interface"}</option>
                    <option value="local" selected={local}>{"locally generated"}</option>
                </select>
            </div>
            if local {
                { text("pf-out", "Output interface", packet.out_iface.clone().unwrap_or_default(), set_out) }
            } else {
                { text("pf-in", "Input interface", packet.in_iface.clone().unwrap_or_default(), set_in) }
            }
            <div class="field">
                <label for="pf-state">{"Conntrack state"}</label>
                <select id="pf-state" onchange={on_state}>
                    { for STATES.iter().map(|s| html! { <option value={s.as_str()} selected={*s == packet.ct_state}>{s.as_str()}</option> }) }
                </select>
            </div>
            if let Some(flags) = flags {
                <div class="field flags" role="group" aria-label="TCP flags">
                    <span class="field-label" aria-hidden="true">{"TCP flags"}</span>
                    <div class="flag-boxes">
                        { for FORM_FLAGS.iter().map(|name| flag_box(name, flags, packet, style, onchange)) }
                    </div>
                </div>
            }
        </fieldset>
    }
}

fn flag_box(name: &'static str, flags: TcpFlags, packet: &Packet, style: Style, onchange: &Callback<String>) -> Html {
    let bit = FLAG_NAMES.iter().find(|(n, _)| *n == name).map_or(0, |&(_, b)| b);
    let (packet, onchange) = (packet.clone(), onchange.clone());
    let onclick = Callback::from(move |e: MouseEvent| {
        let on = e.target_unchecked_into::<HtmlInputElement>().checked();
        let mut p = packet.clone();
        if let L4::Tcp { flags, .. } = &mut p.l4 {
            flags.0 = if on { flags.0 | bit } else { flags.0 & !bit };
        }
        onchange.emit(packet_text::write(&p, style));
    });
    let id = format!("pf-flag-{}", name.to_ascii_lowercase());
    html! {
        <label class="flag" for={id.clone()}>
            <input type="checkbox" id={id} checked={flags.0 & bit != 0} {onclick} />
            {name}
        </label>
    }
}

fn set_protocol(p: &mut Packet, value: &str) -> bool {
    let (sport, dport) = p.l4.ports().unwrap_or((40000, 80));
    p.l4 = match value {
        "tcp" => L4::Tcp { sport, dport, flags: TcpFlags(0x02) },
        "udp" => L4::Udp { sport, dport },
        "sctp" => L4::Sctp { sport, dport },
        "udplite" => L4::Udplite { sport, dport },
        "dccp" => L4::Dccp { sport, dport },
        "gre" => L4::Other { proto: 47 },
        "icmp" if p.src.is_ipv6() => L4::Icmpv6 { icmp_type: 128, code: 0 },
        "icmp" => L4::Icmp { icmp_type: 8, code: 0 },
        "esp" => L4::Other { proto: 50 },
        "ah" if p.src.is_ipv4() => L4::Other { proto: 51 },
        _ => return false,
    };
    if !matches!(value, "esp" | "ah") {
        p.spi = None;
    }
    true
}

/// An ESP or AH packet's SPI, written as the short form reads numbers; empty for an unknown one.
fn set_spi(p: &mut Packet, value: &str) -> bool {
    let v = value.trim();
    if v.is_empty() {
        p.spi = None;
        return true;
    }
    packet::number_up_to(v, u64::from(u32::MAX)).map(|s| p.spi = Some(s as u32)).is_some()
}

fn set_addr(addr: &mut IpAddr, other: IpAddr, value: &str) -> bool {
    match value.trim().parse::<IpAddr>() {
        Ok(a) if a.is_ipv6() == other.is_ipv6() => {
            *addr = a;
            true
        }
        _ => false,
    }
}

fn set_src(p: &mut Packet, value: &str) -> bool {
    let dst = p.dst;
    set_addr(&mut p.src, dst, value)
}

fn set_dst(p: &mut Packet, value: &str) -> bool {
    let src = p.src;
    set_addr(&mut p.dst, src, value)
}

fn set_port(p: &mut Packet, value: &str, source: bool) -> bool {
    let (Ok(port), Some((sport, dport))) = (value.trim().parse::<u16>(), p.l4.ports()) else { return false };
    p.l4 = if source { p.l4.with_ports(port, dport) } else { p.l4.with_ports(sport, port) };
    true
}

fn set_sport(p: &mut Packet, value: &str) -> bool {
    set_port(p, value, true)
}

fn set_dport(p: &mut Packet, value: &str) -> bool {
    set_port(p, value, false)
}

fn interface(value: &str) -> Option<String> {
    let v = value.trim();
    (!v.is_empty() && !v.contains(char::is_whitespace) && !v.contains('=')).then(|| v.to_string())
}

fn set_in(p: &mut Packet, value: &str) -> bool {
    interface(value).map(|i| p.in_iface = Some(i)).is_some()
}

fn set_out(p: &mut Packet, value: &str) -> bool {
    p.out_iface = interface(value);
    true
}

fn set_origin(p: &mut Packet, value: &str) -> bool {
    match value {
        "local" => p.in_iface = None,
        _ => p.in_iface = Some(p.out_iface.take().unwrap_or_else(|| "eth0".into())),
    }
    true
}

fn set_state(p: &mut Packet, value: &str) -> bool {
    match STATES.iter().find(|s| s.as_str() == value) {
        Some(s) => {
            p.ct_state = *s;
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edited(line: &str, edit: fn(&mut Packet, &str) -> bool, value: &str) -> Option<String> {
        let mut p = packet::parse(line).ok()?;
        edit(&mut p, value).then(|| packet_text::write(&p, Style::of(line)))
    }

    #[test]
    fn form_changes_write_the_line_in_its_style() {
        let short = "tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0 syn";
        assert_eq!(
            edited(short, set_dport, "80").as_deref(),
            Some("tcp 203.0.113.7:40000 -> 198.51.100.2:80 in ppp0 syn")
        );
        assert_eq!(
            edited(short, set_origin, "local").as_deref(),
            Some("tcp 203.0.113.7:40000 -> 198.51.100.2:7788 syn")
        );
        assert_eq!(
            edited(short, set_state, "ESTABLISHED").as_deref(),
            Some("tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0 syn state established")
        );
        assert_eq!(
            edited(short, set_protocol, "udp").as_deref(),
            Some("udp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0")
        );
        let log = "IN=ppp0 OUT= SRC=203.0.113.7 DST=198.51.100.2 LEN=64 TTL=41 DF PROTO=TCP SPT=19327 DPT=7788 SYN";
        assert_eq!(
            edited(log, set_in, "eth1").as_deref(),
            Some("IN=eth1 OUT= SRC=203.0.113.7 DST=198.51.100.2 LEN=64 TOS=0x00 PREC=0x00 TTL=41 DF PROTO=TCP SPT=19327 DPT=7788 SYN")
        );
    }

    #[test]
    fn values_that_make_no_packet_leave_the_line_alone() {
        let short = "tcp 203.0.113.7:40000 -> 198.51.100.2:7788 in ppp0 syn";
        assert_eq!(edited(short, set_src, "203.0.113."), None);
        assert_eq!(edited(short, set_src, "2001:db8::1"), None);
        assert_eq!(edited(short, set_dport, "70000"), None);
        assert_eq!(edited(short, set_in, "two words"), None);
        assert_eq!(edited("esp 192.0.2.1 -> 192.0.2.2 in eth0", set_spi, "0x1g"), None);
    }

    #[test]
    fn esp_and_ah_have_an_spi() {
        let short = "udp 203.0.113.7:40000 -> 198.51.100.2:500 in ppp0";
        assert_eq!(edited(short, set_protocol, "esp").as_deref(), Some("esp 203.0.113.7 -> 198.51.100.2 in ppp0"));
        let esp = "esp 203.0.113.7 -> 198.51.100.2 in ppp0";
        assert_eq!(edited(esp, set_spi, "0x64").as_deref(), Some("esp 203.0.113.7 -> 198.51.100.2 in ppp0 spi 0x64"));
        assert_eq!(edited(esp, set_spi, "300").as_deref(), Some("esp 203.0.113.7 -> 198.51.100.2 in ppp0 spi 0x12c"));
        let log = "IN=ppp0 OUT= SRC=203.0.113.7 DST=198.51.100.2 PROTO=AH SPI=0x65";
        assert_eq!(
            edited(log, set_protocol, "tcp").as_deref(),
            Some("IN=ppp0 OUT= SRC=203.0.113.7 DST=198.51.100.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 PROTO=TCP SPT=40000 DPT=80 SYN")
        );
        // IPv6 has no AH packets in chainwalk (an extension header).
        assert_eq!(edited("esp 2001:db8::1 -> 2001:db8::2 in eth0", set_protocol, "ah"), None);
    }
}
