//! `-m srh`: the fields of an IPv6 Segment Routing Header (routing header type 4): next header, length,
//! segments left, last entry, tag and the previous, next and last segment IDs (`libip6t_srh`, revision 1
//! of the kernel's `ip6t_srh.c`). IPv6 only.

use super::ipvs::HostPrefix;
use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::{Family, Negatable};
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// Up to three comparisons of one header field with one value (the kernel keeps a single value per field,
/// so the last of `-eq`, `-gt`, `-lt` given sets it for all three).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compare {
    /// The value compared with.
    pub value: u8,
    /// `-eq`, if given: whether it was negated.
    pub eq: Option<bool>,
    /// `-gt`, if given: whether it was negated.
    pub gt: Option<bool>,
    /// `-lt`, if given: whether it was negated.
    pub lt: Option<bool>,
}

/// The options of `-m srh`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Srh {
    /// `[!] --srh-next-hdr N`: the header after the SRH.
    pub next_hdr: Option<Negatable<u8>>,
    /// `[!] --srh-hdr-len-{eq,gt,lt} N`: the header's length field.
    pub hdr_len: Compare,
    /// `[!] --srh-segs-left-{eq,gt,lt} N`: the segments left.
    pub segs_left: Compare,
    /// `[!] --srh-last-entry-{eq,gt,lt} N`: the index of the last segment.
    pub last_entry: Compare,
    /// `[!] --srh-tag N`: the tag.
    pub tag: Option<Negatable<u16>>,
    /// `[!] --srh-psid ADDR[/LEN]`: the previous segment ID.
    pub psid: Option<Negatable<HostPrefix>>,
    /// `[!] --srh-nsid ADDR[/LEN]`: the next segment ID.
    pub nsid: Option<Negatable<HostPrefix>>,
    /// `[!] --srh-lsid ADDR[/LEN]`: the last segment ID.
    pub lsid: Option<Negatable<HostPrefix>>,
}

/// The field names of the three compared fields, as the options spell them.
const FIELDS: [&str; 3] = ["hdr-len", "segs-left", "last-entry"];

impl Srh {
    fn field(&mut self, i: usize) -> &mut Compare {
        match i {
            0 => &mut self.hdr_len,
            1 => &mut self.segs_left,
            _ => &mut self.last_entry,
        }
    }

    fn fields(&self) -> [&Compare; 3] {
        [&self.hdr_len, &self.segs_left, &self.last_entry]
    }
}

impl Extension for Srh {
    const OPTIONS: &'static [OptSpec] = &[
        opt("srh-next-hdr", Args::One),
        opt("srh-hdr-len-eq", Args::One),
        opt("srh-hdr-len-gt", Args::One),
        opt("srh-hdr-len-lt", Args::One),
        opt("srh-segs-left-eq", Args::One),
        opt("srh-segs-left-gt", Args::One),
        opt("srh-segs-left-lt", Args::One),
        opt("srh-last-entry-eq", Args::One),
        opt("srh-last-entry-gt", Args::One),
        opt("srh-last-entry-lt", Args::One),
        opt("srh-tag", Args::One),
        opt("srh-psid", Args::One),
        opt("srh-nsid", Args::One),
        opt("srh-lsid", Args::One),
    ];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Srh, Diagnostic> {
        if ctx.family == Family::Ipv4 {
            return Err(ctx.error("the srh match exists only for IPv6 (ip6tables)"));
        }
        for spec in Self::OPTIONS {
            find(opts, spec.name)?;
        }
        let mut m = Srh::default();
        fn neg<T>(o: &Opt<'_>, value: T) -> Negatable<T> {
            Negatable { value, negated: o.negated, span: o.span }
        }
        for o in opts {
            let name = o.name.strip_prefix("srh-").unwrap_or(o.name);
            match name {
                "next-hdr" => m.next_hdr = Some(neg(o, crate::values::opt_number(o, 0, 255)? as u8)),
                "tag" => m.tag = Some(neg(o, crate::values::opt_number(o, 0, 65535)? as u16)),
                "psid" | "nsid" | "lsid" => {
                    let sid = Some(neg(o, o.parse_arg(|t| HostPrefix::parse(t, Family::Ipv6))?));
                    match name {
                        "psid" => m.psid = sid,
                        "nsid" => m.nsid = sid,
                        _ => m.lsid = sid,
                    }
                }
                _ => {
                    let Some((field, cmp)) = name.rsplit_once('-') else { continue };
                    let Some(i) = FIELDS.iter().position(|f| *f == field) else { continue };
                    let value = crate::values::opt_number(o, 0, 255)? as u8;
                    let f = m.field(i);
                    f.value = value;
                    match cmp {
                        "eq" => f.eq = Some(o.negated),
                        "gt" => f.gt = Some(o.negated),
                        _ => f.lt = Some(o.negated),
                    }
                }
            }
        }
        Ok(m)
    }

    fn save(&self, out: &mut String) {
        if let Some(n) = &self.next_hdr {
            save_opt_value(out, n.negated, "srh-next-hdr", n.value);
        }
        for (name, f) in FIELDS.iter().zip(self.fields()) {
            for (cmp, given) in [("eq", f.eq), ("gt", f.gt), ("lt", f.lt)] {
                if let Some(negated) = given {
                    save_opt_value(out, negated, &format!("srh-{name}-{cmp}"), f.value);
                }
            }
        }
        if let Some(t) = &self.tag {
            save_opt_value(out, t.negated, "srh-tag", t.value);
        }
        for (name, sid) in [("srh-psid", &self.psid), ("srh-nsid", &self.nsid), ("srh-lsid", &self.lsid)] {
            if let Some(s) = sid {
                save_opt_value(out, s.negated, name, s.value);
            }
        }
    }
}

impl Evaluate for Srh {
    /// `srh1_mt6` in `ip6t_srh.c` first looks for a routing header of type 4; without one nothing matches,
    /// `!` or not. chainwalk's packets carry no routing header.
    fn eval(&self, _ctx: &EvalCtx<'_>) -> Outcome {
        Outcome::assumed(
            false,
            "chainwalk's packets carry no segment routing header, and without one the srh match fails, `!` or not",
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("--srh-next-hdr 17", "--srh-next-hdr 17"),
            ("--srh-hdr-len-eq 1 --srh-hdr-len-gt 2", "--srh-hdr-len-eq 2 --srh-hdr-len-gt 2"),
            (
                "! --srh-tag 65535 --srh-segs-left-lt 3 --srh-last-entry-gt 4",
                "--srh-segs-left-lt 3 --srh-last-entry-gt 4 ! --srh-tag 65535",
            ),
            (
                "--srh-psid 2001:db8::1/64 ! --srh-nsid ::1 --srh-lsid fe80::/10",
                "--srh-psid 2001:db8::1/64 ! --srh-nsid ::1/128 --srh-lsid fe80::/10",
            ),
            ("--srh-psid 2001:db8::/ffff::", "--srh-psid 2001:db8::/16"),
            ("--srh-psid 2001:db8::/ffff:0:ffff::", "--srh-psid 2001:db8::/128"),
        ] {
            let rule = format!("-A INPUT -m srh {given} -j DROP");
            assert_eq!(saved(Ipv6, "filter", &rule), format!("-A INPUT -m srh {printed} -j DROP"));
        }
        assert_eq!(saved(Ipv6, "filter", "-A INPUT -m srh"), "-A INPUT -m srh");
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv6, "filter", &format!("-A INPUT -m srh {o} -j DROP"));
        assert_eq!(e("--srh-next-hdr 256"), (32, "`--srh-next-hdr` takes a number from 0 to 255, not `256`".into()));
        assert_eq!(e("--srh-tag 65536").1, "`--srh-tag` takes a number from 0 to 65535, not `65536`");
        assert_eq!(e("--srh-psid localhost").1, "`localhost` is not an IPv6 address");
        assert_eq!(e("--srh-next-hdr 1 --srh-next-hdr 2").1, "`--srh-next-hdr` is given more than once");
        assert_eq!(e("--srh-segs-left-eq 1 --srh-segs-left-eq 2").1, "`--srh-segs-left-eq` is given more than once");
        assert_eq!(
            error(Ipv4, "filter", "-A INPUT -m srh"),
            (10, "the srh match exists only for IPv6 (ip6tables)".into())
        );
    }

    #[test]
    fn packets_have_no_segment_routing_header() {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::Evaluate;
        let s = Scene::new("udp [2001:db8::1]:1 -> [2001:db8::2]:2 in eth0");
        let MatchKind::Srh(m) = first_match(Ipv6, "-m srh ! --srh-next-hdr 17") else { panic!() };
        let o = m.eval(&s.ctx());
        assert!(!o.holds && o.assumed);
    }
}
