//! `-m cpu --cpu N`: the CPU that processes the packet, for spreading work over CPUs (`libxt_cpu`, the
//! kernel's `xt_cpu.c`).

use crate::diag::Diagnostic;
use crate::ext::{find, opt, save_opt_value, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::ruleset::Negatable;
use crate::walk::eval::{conclude, EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};

/// The options of `-m cpu`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    /// `[!] --cpu N`: the number of the CPU.
    pub cpu: Negatable<u32>,
}

impl Extension for Cpu {
    const OPTIONS: &'static [OptSpec] = &[opt("cpu", Args::One)];

    fn build(opts: &[Opt<'_>], ctx: &ExtCtx<'_>, _warnings: &mut Vec<Diagnostic>) -> Result<Cpu, Diagnostic> {
        let o = find(opts, "cpu")?.ok_or_else(|| ctx.error("the cpu match needs `--cpu N`"))?;
        let n = crate::values::opt_number(o, 0, u64::from(u32::MAX))? as u32;
        Ok(Cpu { cpu: Negatable { value: n, negated: o.negated, span: o.span } })
    }

    fn save(&self, out: &mut String) {
        save_opt_value(out, self.cpu.negated, "cpu", self.cpu.value);
    }
}

impl Evaluate for Cpu {
    /// `cpu_mt` in `xt_cpu.c` compares the number of the CPU running the hook. Which CPU that is depends on
    /// the NIC's queues and the scheduler; chainwalk assumes CPU 0, the one every machine has.
    fn eval(&self, _ctx: &EvalCtx<'_>) -> Outcome {
        let is = self.cpu.value == 0;
        let fact = format!(
            "chainwalk does not know which CPU handles the packet and assumes CPU 0, which is {}{}",
            if is { "" } else { "not " },
            self.cpu.value
        );
        let o = conclude(is, self.cpu.negated, fact);
        Outcome::assumed(o.holds, o.why)
    }
}

#[cfg(test)]
mod tests {
    use crate::matches::testing::{error, saved};
    use crate::ruleset::Family::{Ipv4, Ipv6};

    #[test]
    fn prints_back_as_iptables_save() {
        for (given, printed) in [
            ("--cpu 0", "--cpu 0"),
            ("! --cpu 1", "! --cpu 1"),
            ("--cpu 0x10", "--cpu 16"),
            ("--cpu 4294967295", "--cpu 4294967295"),
        ] {
            let rule = format!("-A INPUT -m cpu {given} -j ACCEPT");
            assert_eq!(saved(Ipv4, "filter", &rule), format!("-A INPUT -m cpu {printed} -j ACCEPT"));
        }
        assert_eq!(saved(Ipv6, "filter", "-A INPUT -m cpu --cpu 1"), "-A INPUT -m cpu --cpu 1");
    }

    #[test]
    fn errors() {
        let e = |o: &str| error(Ipv4, "filter", &format!("-A INPUT -m cpu {o} -j ACCEPT"));
        assert_eq!(e(""), (10, "the cpu match needs `--cpu N`".into()));
        assert_eq!(e("--cpu -1"), (23, "`--cpu` takes a number from 0 to 4294967295, not `-1`".into()));
        assert_eq!(e("--cpu 4294967296").1, "`--cpu` takes a number from 0 to 4294967295, not `4294967296`");
        assert_eq!(e("--cpu \"\"").1, "`--cpu` takes a number from 0 to 4294967295, not ``");
        assert_eq!(e("--cpu 1 --cpu 2").1, "`--cpu` is given more than once");
    }

    #[test]
    fn the_packet_is_assumed_on_cpu_zero() {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::walk::eval::Evaluate;
        let s = Scene::new("tcp 192.0.2.1:1 -> 192.0.2.2:2 in eth0 syn");
        let eval = |o: &str| match first_match(Ipv4, &format!("-m cpu {o}")) {
            MatchKind::Cpu(m) => m.eval(&s.ctx()),
            other => panic!("{other:?}"),
        };
        let o = eval("--cpu 0");
        assert!(o.holds && o.assumed);
        assert_eq!(
            o.why,
            "chainwalk does not know which CPU handles the packet and assumes CPU 0, which is 0, so this holds"
        );
        assert!(!eval("--cpu 1").holds);
        assert!(eval("! --cpu 1").holds);
    }
}
