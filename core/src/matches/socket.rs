//! `-m socket`: a local socket owns the packet, the test transparent proxies (TPROXY) use to recognise their
//! connections (`libxt_socket`, revision 3 of the kernel's `xt_socket.c`). The kernel allows it from
//! PREROUTING and INPUT.

use crate::diag::Diagnostic;
use crate::ext::{flag, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::packet::{CtState, L4};
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m socket`, all flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Socket {
    /// `--transparent`: only a transparent socket (`IP_TRANSPARENT`, as TPROXY needs) counts.
    pub transparent: bool,
    /// `--nowildcard`: a socket listening on the any-address counts too.
    pub nowildcard: bool,
    /// `--restore-skmark`: a socket that counts also copies its mark to the packet.
    pub restore_skmark: bool,
}

impl Extension for Socket {
    const OPTIONS: &'static [OptSpec] =
        &[opt("transparent", Args::Zero), opt("nowildcard", Args::Zero), opt("restore-skmark", Args::Zero)];

    fn build(opts: &[Opt<'_>], _ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Socket, Diagnostic> {
        opts.iter().try_for_each(Opt::no_negation)?;
        Ok(Socket {
            transparent: flag(opts, "transparent")?,
            nowildcard: flag(opts, "nowildcard")?,
            restore_skmark: flag(opts, "restore-skmark")?,
        })
    }

    fn save(&self, out: &mut String) {
        for (on, name) in [
            (self.transparent, " --transparent"),
            (self.nowildcard, " --nowildcard"),
            (self.restore_skmark, " --restore-skmark"),
        ] {
            if on {
                out.push_str(name);
            }
        }
    }
}

impl Evaluate for Socket {
    /// `socket_mt4_v1_v2_v3` in `xt_socket.c` looks up a TCP or UDP socket for the packet: a connected one, or a
    /// listener (ignored when bound to the any-address, unless `--nowildcard`). chainwalk does not know the
    /// host's sockets: it assumes a packet of an ESTABLISHED connection to a local address has an ordinary
    /// (not transparent) connected socket, and that no other packet has one.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if !matches!(ctx.pkt.l4, L4::Tcp { .. } | L4::Udp { .. }) {
            return Outcome::no("the socket match looks up TCP and UDP sockets only, and the packet is neither");
        }
        let local = ctx.host.is_local(ctx.pkt.dst);
        let established = ctx.ct.state == CtState::Established;
        let mark = if self.restore_skmark { " (and its mark would be copied to the packet)" } else { "" };
        if !(established && local) {
            return Outcome::assumed(
                false,
                format!(
                    "chainwalk assumes no socket owns the packet (it only assumes one for an ESTABLISHED connection \
                     to a local address, and DST={} {} with state {}), so this does not hold",
                    ctx.pkt.dst,
                    if local { "is local" } else { "is not local" },
                    ctx.ct.state.as_str()
                ),
            );
        }
        if self.transparent {
            return Outcome::assumed(
                false,
                "chainwalk assumes the connection's socket is an ordinary, not a transparent one, so with \
                 `--transparent` this does not hold",
            );
        }
        Outcome::assumed(
            true,
            format!("chainwalk assumes the ESTABLISHED connection's socket owns the packet{mark}, so this holds"),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, load, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("", ""),
            (" --transparent", " --transparent"),
            (" --nowildcard", " --nowildcard"),
            (" --restore-skmark", " --restore-skmark"),
            (" --restore-skmark --nowildcard --transparent", " --transparent --nowildcard --restore-skmark"),
        ] {
            let rule = format!("-A INPUT -m socket{given} -j ACCEPT");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A INPUT -m socket{printed} -j ACCEPT"));
        }
        assert_eq!(
            saved(Ipv6, "mangle", "-A PREROUTING -m socket --transparent -j MARK --set-mark 1"),
            "-A PREROUTING -m socket --transparent -j MARK --set-xmark 0x1/0xffffffff"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            error(Ipv4, "filter", "-A INPUT -m socket ! --transparent -j ACCEPT"),
            (20, "`--transparent` cannot be negated with `!`".into())
        );
        assert_eq!(
            error(Ipv4, "filter", "-A INPUT -m socket --nowildcard --nowildcard").1,
            "`--nowildcard` is given more than once"
        );
        assert!(load(Ipv4, "filter", "-A OUTPUT -m socket -j ACCEPT").has_errors());
    }

    #[test]
    fn sockets_are_assumed_for_established_local_connections() {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::Evaluate;
        let host = "lo UP 127.0.0.1/8\neth0 UP 192.0.2.2/24\n";
        let eval = |s: &Scene, o: &str| match first_match(Ipv4, &format!("-m socket{o}")) {
            MatchKind::Socket(m) => m.eval(&s.ctx()),
            other => panic!("{other:?}"),
        };
        let est = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:22 in eth0 ack state established").on(host);
        let o = eval(&est, "");
        assert!(o.holds && o.assumed);
        assert!(!eval(&est, " --transparent").holds);
        let new = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:22 in eth0 syn").on(host);
        assert!(!eval(&new, "").holds);
        let icmp = Scene::new("icmp 192.0.2.1 -> 192.0.2.2 type 8 in eth0").on(host);
        let o = eval(&icmp, "");
        assert!(!o.holds && !o.assumed);
    }
}
