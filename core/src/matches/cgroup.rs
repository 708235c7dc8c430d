//! `-m cgroup`: the control group of the socket that sent (or, after early demux, receives) the packet, by
//! cgroup2 path or by net_cls class id (`libxt_cgroup`, the kernel's `xt_cgroup.c`). The kernel allows it
//! from INPUT, OUTPUT and POSTROUTING, looks a path up when the rule is loaded (the path is the machine's),
//! and needs exactly one of the two options.

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_string, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The longest path the kernel takes (`XT_CGROUP_PATH_MAX` - 1).
pub const MAX_PATH_LEN: usize = 511;

/// What `-m cgroup` tests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cgroup {
    /// `[!] --path PATH`: the socket's cgroup is PATH or below it, in the cgroup2 hierarchy.
    Path(Negatable<Box<str>>),
    /// `[!] --cgroup ID`: the socket's net_cls class id (cgroup v1) is ID.
    ClassId(Negatable<u32>),
}

impl Extension for Cgroup {
    const OPTIONS: &'static [OptSpec] = &[opt("path", Args::One), opt("cgroup", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Cgroup, Diagnostic> {
        let (path, class) = (find(opts, "path")?, find(opts, "cgroup")?);
        match (path, class) {
            (Some(p), Some(c)) => {
                let later = if p.span.start > c.span.start { p } else { c };
                Err(Diagnostic::error(later.span, "the kernel refuses `--path` together with `--cgroup`: give one"))
            }
            (None, None) => Err(
                ctx.error("the cgroup match needs `--path PATH` or `--cgroup CLASSID` (the kernel refuses it without)")
            ),
            (None, Some(c)) => {
                let id = crate::values::opt_number(c, 0, u64::from(u32::MAX))? as u32;
                Ok(Cgroup::ClassId(Negatable { value: id, negated: c.negated, span: c.span }))
            }
            (Some(p), None) => {
                let path = super::nfacct::cut_to(p, p.arg(), MAX_PATH_LEN, warnings);
                if !matches!(path, "" | "/") {
                    warnings.push(Diagnostic::warning(
                        p.arg_span(),
                        format!(
                            "iptables-restore needs the cgroup `{path}` to exist in the machine's cgroup2 hierarchy \
                             when it loads the rule; chainwalk cannot check that"
                        ),
                    ));
                }
                Ok(Cgroup::Path(Negatable { value: path.into(), negated: p.negated, span: p.span }))
            }
        }
    }

    fn save(&self, out: &mut String) {
        match self {
            Cgroup::Path(p) => save_opt_string(out, p.negated, "path", &p.value),
            Cgroup::ClassId(c) => save_opt_value(out, c.negated, "cgroup", c.value),
        }
    }
}

impl Evaluate for Cgroup {
    /// `cgroup_mt_v1` in `xt_cgroup.c`: a packet without a full socket never matches (not even with `!`). A
    /// packet this host sends has one; chainwalk does not know its cgroup and assumes the root cgroup and no
    /// net_cls class (0). chainwalk assumes an arriving packet has no socket attached yet.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        if !ctx.pkt.is_local_out() {
            return Outcome::assumed(
                false,
                "chainwalk assumes the arriving packet has no socket attached yet, and without a socket the cgroup \
                 match fails, `!` or not",
            );
        }
        let o = match self {
            Cgroup::Path(p) => {
                let under_root = matches!(&*p.value, "" | "/");
                let fact = format!(
                    "chainwalk assumes the sending socket is in the root cgroup, which is {}under `{}`",
                    if under_root { "" } else { "not " },
                    p.value
                );
                conclude(under_root, p.negated, fact)
            }
            Cgroup::ClassId(c) => {
                let is = c.value == 0;
                let fact = format!(
                    "chainwalk assumes the sending socket has no net_cls class id (0), which is {}{}",
                    if is { "" } else { "not " },
                    c.value
                );
                conclude(is, c.negated, fact)
            }
        };
        Outcome::assumed(o.holds, o.why)
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, load, saved, warnings};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("--cgroup 1", "--cgroup 1"),
            ("! --cgroup 0x10", "! --cgroup 16"),
            ("--cgroup 4294967295", "--cgroup 4294967295"),
            ("--path /", "--path \"/\""),
            ("! --path /", "! --path \"/\""),
            ("--path \"\"", "--path \"\""),
            ("--path /system.slice/x", "--path \"/system.slice/x\""),
        ] {
            let rule = format!("-A OUTPUT -m cgroup {given} -j ACCEPT");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A OUTPUT -m cgroup {printed} -j ACCEPT"));
        }
        assert_eq!(saved(Ipv6, "filter", "-A INPUT -m cgroup --cgroup 1"), "-A INPUT -m cgroup --cgroup 1");
    }

    #[test]
    fn a_path_must_exist_on_the_machine() {
        assert!(warnings(Ipv4, "filter", "-A OUTPUT -m cgroup --path /").is_empty());
        assert_eq!(
            warnings(Ipv4, "filter", "-A OUTPUT -m cgroup --path /no/such/cgroup"),
            ["iptables-restore needs the cgroup `/no/such/cgroup` to exist in the machine's cgroup2 hierarchy when it loads the rule; chainwalk cannot check that"]
        );
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "filter", &format!("-A OUTPUT -m cgroup {o} -j ACCEPT"));
        assert_eq!(
            e(""),
            (11, "the cgroup match needs `--path PATH` or `--cgroup CLASSID` (the kernel refuses it without)".into())
        );
        assert_eq!(
            e("--path / --cgroup 1"),
            (30, "the kernel refuses `--path` together with `--cgroup`: give one".into())
        );
        assert_eq!(e("--cgroup 1 --cgroup 2").1, "`--cgroup` is given more than once");
        assert_eq!(e("--path a --path b").1, "`--path` is given more than once");
        // The kernel's hooks: INPUT, OUTPUT and POSTROUTING.
        assert!(load(Ipv4, "filter", "-A FORWARD -m cgroup --cgroup 1").has_errors());
        assert!(load(Ipv4, "mangle", "-A PREROUTING -m cgroup --cgroup 1").has_errors());
        assert!(!load(Ipv4, "mangle", "-A POSTROUTING -m cgroup --cgroup 1").has_errors());
    }

    #[test]
    fn evaluation_assumes_the_root_cgroup() {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::Evaluate;
        let out = Scene::new("tcp 192.0.2.2:40000 -> 192.0.2.1:443 syn");
        let eval = |s: &Scene, o: &str| match first_match(Ipv4, &format!("-m cgroup {o}")) {
            MatchKind::Cgroup(m) => m.eval(&s.ctx()),
            other => panic!("{other:?}"),
        };
        let o = eval(&out, "--path /");
        assert!(o.holds && o.assumed);
        assert!(!eval(&out, "--path /user.slice").holds);
        assert!(eval(&out, "--cgroup 0").holds);
        assert!(!eval(&out, "--cgroup 1").holds);
        let arriving = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 syn");
        assert!(!eval(&arriving, "! --cgroup 1").holds);
    }
}
