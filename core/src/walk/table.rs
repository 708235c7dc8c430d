//! One table's traversal at one hook, as `ipt_do_table` in the kernel's `ip_tables.c` does it: rules in
//! order, jumps pushing a return position, gotos not, `RETURN` popping (or falling to the policy), and
//! the TRACE line for each rule whose target runs.

use super::eval::{self, EvalCtx, Outcome};
use super::{matches, target, Walker};
use crate::packet::{CtState, Packet, L4};
use crate::render::save;
use crate::ruleset::{Chain, Hook, Policy, Rule, TableName};
use crate::targets::{TargetKind, Verdict};
use crate::trace::{Assumption, Condition, Insight, LineKind, LogLine, Step, StepKind, Trace};

/// How a table's traversal ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableVerdict {
    /// The packet goes on to the next table or hook.
    Accept,
    /// Dropped, by the step given (a rule or a policy).
    Drop {
        /// The deciding step.
        step: Option<usize>,
    },
    /// Dropped with an error sent back.
    Reject {
        /// What was sent back.
        with: String,
        /// The deciding step.
        step: Option<usize>,
    },
    /// Handed to a user-space queue.
    Queue {
        /// The queue number.
        num: u16,
        /// The deciding step.
        step: Option<usize>,
    },
}

/// What a target did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetResult {
    /// Go on with the next rule (`XT_CONTINUE`).
    Continue,
    /// End the table's traversal and let the packet go on (`NF_ACCEPT`).
    Accept,
    /// Drop the packet.
    Drop,
    /// Drop the packet and send back `with`.
    Reject(String),
    /// Queue the packet to user space.
    Queue(u16),
    /// The target took the packet (`NF_STOLEN`, SYNPROXY): for the walk, the end of it, as a drop.
    Stolen,
}

/// Where a traversal is allowed to record: a real walk records steps and TRACE lines; a probe (what would
/// have happened if one rule had not matched) records nothing and reports the NAT it reached.
#[derive(Clone, Copy)]
struct Mode {
    record: bool,
    skip: Option<(usize, usize)>,
}

/// What a probe found: the NAT step it reached.
struct ProbeHit {
    chain: String,
    number: u32,
    line: u32,
    target: String,
    /// The first chain the probe entered from the starting chain on its way, if the NAT rule is not in it.
    via: Option<String>,
}

/// Walks table `t` (index into the ruleset) at `hook`, recording steps under stage `stage`.
pub(super) fn run(w: &mut Walker<'_, '_>, t: usize, hook: Hook, stage: usize) -> TableVerdict {
    let verdict = traverse(w, t, hook, stage, Mode { record: !w.probe, skip: None }, &mut None);
    if w.probe {
        return verdict;
    }
    // A destination NAT the packet did not get although a rule for it exists: an early ACCEPT, or no jump
    // to the chain that holds it.
    let table = &w.sim.ruleset.tables[t];
    let translated = w.trace.changes.iter().any(|c| c.what == "destination");
    if table.name == TableName::Nat
        && matches!(hook, Hook::Prerouting | Hook::Output)
        && verdict == TableVerdict::Accept
        && !translated
    {
        if let Some(insight) = missed_translation(w, t, hook, stage) {
            w.trace.insights.push(insight);
        }
    }
    verdict
}

/// Explains a destination NAT that did not happen: a DNAT/REDIRECT rule that matches the packet in a chain
/// this walk never entered, or one that an early ACCEPT kept the packet from reaching.
fn missed_translation(w: &mut Walker<'_, '_>, t: usize, hook: Hook, stage: usize) -> Option<Insight> {
    let last = w.trace.steps.iter().rposition(|s| s.stage == stage)?;
    let ender = &w.trace.steps[last];
    let ended_by_rule = ender.kind == StepKind::Rule && ender.matched && ender.target.as_deref() == Some("ACCEPT");
    let ender_text = match ender.kind {
        StepKind::Rule => {
            let line = ender.span.map(|sp| format!(" (line {})", sp.line)).unwrap_or_default();
            format!("{} {} rule {}{line} accepted the packet", ender.table, ender.chain, ender.number)
        }
        _ => format!("{} {} ended at its policy", ender.table, ender.chain),
    };
    // The chains of the table the packet entered, by index: a stage can hold thousands of steps and a table
    // tens of thousands of chains, so each chain name is looked up once per run of steps in it.
    let table = &w.sim.ruleset.tables[t];
    let mut entered = vec![false; table.chains.len()];
    let mut previous: Option<&std::sync::Arc<str>> = None;
    for step in w.trace.steps.iter().filter(|s| s.stage == stage) {
        if previous.is_some_and(|p| std::sync::Arc::ptr_eq(p, &step.chain)) {
            continue;
        }
        previous = Some(&step.chain);
        if let Some(&c) = w.sim.index.chains[t].get(&*step.chain) {
            entered[c] = true;
        }
    }
    // 1. A matching translation in a chain the packet never entered.
    for (ci, chain) in table.chains.iter().enumerate() {
        if chain.hook.is_some() || entered[ci] {
            continue;
        }
        for (ri, rule) in chain.rules.iter().enumerate() {
            let Some(tg) = &rule.target else { continue };
            if !matches!(&*tg.name, "DNAT" | "REDIRECT") || !tests_destination(rule) {
                continue;
            }
            let key = || format!("{}:{}:{}", table.name, chain.name, ri + 1);
            let (matched, conditions, _) = evaluate(w, rule, hook, table.name, &key, Eval::Look);
            // Only a translation meant for this packet counts: the rule must test its destination address or
            // port, and the test must hold (a bare `-p tcp -j DNAT` of some endpoint chain is not).
            let aimed = conditions.iter().any(|c| {
                c.holds
                    && !c.assumed
                    && (c.text.starts_with("-d ") || c.text.contains("--dport") || c.text.contains("--dst-type"))
            });
            if !matched || !aimed {
                continue;
            }
            let mut spec = String::new();
            tg.kind.save(&mut spec);
            let what = format!(
                "{}{}",
                tg.name,
                spec.replace(" --to-destination ", " to ").replace(" --to-ports ", " to port ")
            );
            let text = format!(
                "{ender_text} before any rule jumped to {}, so the {what} (rule {} of {}, line {}) never ran.",
                chain.name,
                ri + 1,
                chain.name,
                rule.span.line
            );
            return Some(Insight { step: last, text });
        }
    }
    // 2. A translation further on that an early ACCEPT skipped.
    if !ended_by_rule {
        return None;
    }
    let chain = w.sim.index.chains[t].get(&*ender.chain).copied()?;
    let skip = (chain, ender.number as usize - 1);
    let saved = (w.pkt.clone(), w.ct.clone(), w.trace.changes.len(), w.trace.assumptions.len());
    let probe = w.probe;
    w.probe = true;
    let mut hit = None;
    traverse(w, t, hook, stage, Mode { record: false, skip: Some(skip) }, &mut hit);
    w.probe = probe;
    w.pkt = saved.0;
    w.ct = saved.1;
    w.trace.changes.truncate(saved.2);
    w.trace.assumptions.truncate(saved.3);
    let h = hit?;
    let before = match &h.via {
        Some(via) => format!("before any rule jumped to {via}"),
        None => format!("before rule {} of {} (line {})", h.number, h.chain, h.line),
    };
    Some(Insight { step: last, text: format!("{ender_text} {before}, so the {} never ran.", h.target) })
}

fn traverse(
    w: &mut Walker<'_, '_>,
    t: usize,
    hook: Hook,
    stage: usize,
    mode: Mode,
    hit: &mut Option<ProbeHit>,
) -> TableVerdict {
    let sim = w.sim;
    let table = &sim.ruleset.tables[t];
    let Some(&start) = sim.index.chains[t].get(hook.chain_name()) else {
        return TableVerdict::Accept;
    };
    // Return positions: (chain, next rule, depth).
    let mut stack: Vec<(usize, usize, u32)> = Vec::new();
    let (mut c, mut r, mut depth) = (start, 0usize, 0u32);
    let mut first_entered: Option<String> = None;
    for _ in 0..10_000_000 {
        let chain = &table.chains[c];
        if r >= chain.rules.len() {
            let number = chain.rules.len() as u32 + 1;
            if chain.hook.is_some() {
                let policy = chain.policy.unwrap_or(Policy::Accept);
                let step = record_end(
                    w,
                    mode,
                    stage,
                    table.name,
                    hook,
                    chain,
                    StepKind::Policy,
                    number,
                    depth,
                    policy.as_str(),
                );
                return match policy {
                    Policy::Accept => TableVerdict::Accept,
                    Policy::Drop => TableVerdict::Drop { step },
                };
            }
            record_end(w, mode, stage, table.name, hook, chain, StepKind::Return, number, depth, "RETURN");
            match stack.pop() {
                Some((pc, pr, pd)) => (c, r, depth) = (pc, pr, pd),
                None => (c, r, depth) = (start, table.chains[start].rules.len(), 0),
            }
            continue;
        }
        let rule = &chain.rules[r];
        let forced_miss = mode.skip == Some((c, r));
        let key = || format!("{}:{}:{}", table.name, chain.name, r + 1);
        w.evaluated += 1;
        if w.stopped() {
            return TableVerdict::Drop { step: None };
        }
        let how = if forced_miss { Eval::ForcedMiss } else { Eval::Walk };
        let (matched, conditions, assumed) = evaluate(w, rule, hook, table.name, &key, how);
        w.matched += usize::from(matched);
        let counted = std::mem::take(&mut *w.set_counts.borrow_mut());
        if !counted.is_empty() {
            let sets = w.ipsets_mut();
            for (set, member, bytes) in counted {
                if let Some(m) = sets.get_mut(set).and_then(|s| s.members.get_mut(member)) {
                    m.packets += 1;
                    m.bytes += bytes;
                }
            }
        }
        let step = if mode.record {
            let name = sim.index.chain_names[t][c].clone();
            Some(push_step(w, stage, table.name, name, r, rule, matched, conditions, depth))
        } else {
            None
        };
        if let Some(s) = step {
            for (text, answer) in assumed {
                w.trace.assumptions.push(Assumption {
                    step: Some(s),
                    key: Some(key()),
                    text,
                    matched: Some(answer),
                    question: None,
                });
            }
        } else if w.binding_probe && table.name == TableName::Nat {
            for (text, answer) in assumed {
                let a = Assumption { step: None, key: Some(key()), text, matched: Some(answer), question: None };
                w.binding_assumed.push(a);
            }
        }
        if !matched {
            r += 1;
            continue;
        }
        if let Some(s) = step {
            log_line(w, s, hook, table.name, chain, r, rule);
        }
        let Some(tg) = &rule.target else {
            r += 1;
            continue;
        };
        match &tg.kind {
            TargetKind::Standard(v) => match v {
                Verdict::Accept => {
                    set_effect(w, step, "ACCEPT: this table lets the packet go on".into());
                    return TableVerdict::Accept;
                }
                Verdict::Drop => {
                    set_effect(w, step, "DROP: the packet is gone".into());
                    return TableVerdict::Drop { step };
                }
                Verdict::Queue => return queued(w, key(), step, 0, false),
                Verdict::Return => {
                    set_effect(w, step, "RETURN: back to the calling chain".into());
                    match stack.pop() {
                        Some((pc, pr, pd)) => (c, r, depth) = (pc, pr, pd),
                        None => (c, r, depth) = (start, table.chains[start].rules.len(), 0),
                    }
                }
            },
            TargetKind::Chain => {
                let Some(&next) = sim.index.chains[t].get(&*tg.name) else {
                    r += 1;
                    continue;
                };
                if depth == 0 && first_entered.is_none() {
                    first_entered = Some(tg.name.to_string());
                }
                if tg.goto {
                    set_effect(w, step, format!("goto {}: its end returns to the chain that called this one", tg.name));
                    depth += 1;
                } else {
                    set_effect(w, step, format!("jump to {}", tg.name));
                    stack.push((c, r + 1, depth));
                    depth += 1;
                }
                (c, r) = (next, 0);
            }
            _ => {
                let before = w.pkt.clone();
                let result = target::apply(w, tg, (table.name, hook), &key, step);
                // The nf_tables trace takes the packet for its `PACKET:` line when it sends the chain's first
                // message, after that rule's target ran: with the mark and the header fields (TOS, TTL, the
                // length an added TCP option grows) it set, but with the addresses NAT rewrites only once
                // the chain is done.
                let (mark, tos, ttl, len) = (w.pkt.mark, w.pkt.tos, w.pkt.ttl, w.pkt.len);
                let shown = ((mark, tos, ttl, len) != (before.mark, before.tos, before.ttl, before.len)).then(|| {
                    let p = crate::packet::Packet { mark, tos, ttl, len, ..before.clone() };
                    w.packet_at(hook, &p).monitor_text()
                });
                if let Some(l) = step.and_then(|s| w.trace.steps[s].log).map(|i| &mut w.trace.log[i]) {
                    let bypass = matches!(&tg.kind, TargetKind::Nfqueue(q) if q.bypass);
                    l.verdict = match &result {
                        TargetResult::Continue => "CONTINUE".to_string(),
                        TargetResult::Accept => "ACCEPT".to_string(),
                        TargetResult::Drop | TargetResult::Reject(_) => "DROP".to_string(),
                        TargetResult::Stolen => "STOLEN".to_string(),
                        TargetResult::Queue(num) => queue_verdict(*num, bypass),
                    };
                    if let Some(shown) = shown.filter(|_| l.first_in_stage) {
                        l.nft_packet = shown;
                    }
                }
                if !mode.record && is_nat_target(&tg.name) && w.pkt != before && hit.is_none() {
                    *hit = Some(ProbeHit {
                        chain: chain.name.clone(),
                        number: r as u32 + 1,
                        line: rule.span.line,
                        target: describe_nat(&tg.name, &w.pkt, &before),
                        via: if depth > 0 { first_entered.clone() } else { None },
                    });
                }
                match result {
                    TargetResult::Continue => r += 1,
                    TargetResult::Accept => return TableVerdict::Accept,
                    TargetResult::Drop | TargetResult::Stolen => return TableVerdict::Drop { step },
                    TargetResult::Reject(with) => return TableVerdict::Reject { with, step },
                    TargetResult::Queue(num) => {
                        let bypass = matches!(&tg.kind, TargetKind::Nfqueue(q) if q.bypass);
                        return queued(w, key(), step, num, bypass);
                    }
                }
            }
        }
    }
    TableVerdict::Drop { step: None }
}

/// What becomes of a packet that a rule (`key`) hands to user space on queue `num`. Whether a program
/// listens there is not in the dump: chainwalk assumes none does unless told (`--assume KEY=match`), and
/// then does what the kernel does when `nf_queue` finds no listener: it drops the packet, or, with
/// `--queue-bypass`, lets it go on as ACCEPT would (on to the next table). With a listener, the program's
/// verdict decides, and the walk ends there.
fn queued(w: &mut Walker<'_, '_>, key: String, step: Option<usize>, num: u16, bypass: bool) -> TableVerdict {
    let listens = w.switch(&key, step, format!("a program listens on queue {num}"), |listens| {
        if listens {
            format!("A program listens on queue {num} (set by hand): it decides the packet's fate, which the dump cannot tell.")
        } else {
            format!(
                "No program is assumed to listen on queue {num}, so {}. If one does (Suricata, a userspace \
                 firewall), its verdict decides instead.",
                if bypass { "with --queue-bypass the rule acts as ACCEPT" } else { "the kernel drops the packet there" }
            )
        }
    });
    if listens {
        set_effect(w, step, format!("to user space on queue {num}: the program listening there decides"));
        TableVerdict::Queue { num, step }
    } else if bypass {
        set_effect(
            w,
            step,
            format!("no program listens on queue {num}, and with --queue-bypass the rule acts as ACCEPT: on to the next table"),
        );
        TableVerdict::Accept
    } else {
        set_effect(w, step, format!("no program listens on queue {num}, so the kernel drops the packet"));
        TableVerdict::Drop { step }
    }
}

fn is_nat_target(name: &str) -> bool {
    matches!(name, "DNAT" | "REDIRECT" | "SNAT" | "MASQUERADE" | "NETMAP")
}

fn describe_nat(name: &str, after: &Packet, before: &Packet) -> String {
    let ports = |p: &Packet| p.l4.ports();
    if after.dst != before.dst || ports(after).map(|p| p.1) != ports(before).map(|p| p.1) {
        format!("{name} to {}", super::endpoint(after.dst, ports(after).map(|p| p.1)))
    } else {
        format!("{name} to {}", super::endpoint(after.src, ports(after).map(|p| p.0)))
    }
}

fn set_effect(w: &mut Walker<'_, '_>, step: Option<usize>, effect: String) {
    if let Some(s) = step {
        w.trace.steps[s].effect = Some(effect);
    }
}

/// Why a rule is evaluated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Eval {
    /// The walk reaches it.
    Walk,
    /// The walk reaches it, but it must not match (the user said so).
    ForcedMiss,
    /// Only to explain the walk: nothing it does is kept (an nth counter does not go on).
    Look,
}

/// Evaluates a rule: the generic part, then each match in order, stopping at the first that fails.
/// Returns whether it matched, its conditions, and the assumptions made (with the answer used).
fn evaluate(
    w: &Walker<'_, '_>,
    rule: &Rule,
    hook: Hook,
    table: TableName,
    key: &dyn Fn() -> String,
    how: Eval,
) -> (bool, Vec<Condition>, Vec<(String, bool)>) {
    let forced_miss = how == Eval::ForcedMiss;
    let out_iface = match hook {
        Hook::Prerouting | Hook::Input => None,
        _ => w.out_iface.as_deref(),
    };
    let ct = w.ct_view(table);
    let ctx = EvalCtx {
        pkt: &w.pkt,
        ct: &ct,
        host: w.host,
        hook,
        table,
        in_iface: w.in_iface.as_deref(),
        out_iface,
        recent: &w.recent,
        effects: how != Eval::Look,
        ipsets: w.ipsets(),
        set_counts: if how == Eval::Look { None } else { Some(&w.set_counts) },
        now: w.opts.now,
        socket: w.pkt.is_local_out() && !w.kernel_made,
        kernel_socket: w.kernel_made && !w.duplicate && matches!(w.pkt.l4, L4::Icmp { .. } | L4::Icmpv6 { .. }),
        backend: w.opts.backend,
    };
    // Nobody reads why a rule's addresses or interfaces did not fit when explanations are off.
    if (w.probe || !w.opts.explain_unmatched) && !eval::generic_matches(&rule.generic, &ctx) {
        return (false, Vec::new(), Vec::new());
    }
    let mut conditions = Vec::with_capacity(1 + rule.matches.len());
    let mut assumed = Vec::new();
    if !eval::generic(&rule.generic, &ctx, &mut conditions) {
        return (false, conditions, assumed);
    }
    let mut ok = true;
    for m in &rule.matches {
        let mut o: Outcome = matches::eval(m, &ctx);
        // A match with a counter or a bucket (statistic nth, limit, hashlimit, quota, connlimit) the packet meets again in this walk
        // (a user chain entered twice) finds it where its first run left it.
        if how != Eval::Look {
            use crate::matches::MatchKind;
            // What the match says on a later run, for the kinds that keep a count; `None` for the others.
            let again = |runs: u32| -> Option<Option<Outcome>> {
                Some(match &m.kind {
                    MatchKind::Statistic(st) => st.nth_again(runs),
                    MatchKind::Limit(l) => l.again(runs),
                    MatchKind::Hashlimit(h) => h.again(runs),
                    MatchKind::Quota(q) => q.again(runs, w.pkt.len),
                    MatchKind::Connlimit(c) => c.again(&ctx, runs),
                    _ => return None,
                })
            };
            // The counter of this rule's match, or the bucket of its table the packet takes now (its
            // addresses may have changed since, or it is an answer the kernel made to the walk's packet).
            let key = match &m.kind {
                MatchKind::Hashlimit(h) => (0, h.bucket(&w.pkt)),
                MatchKind::Connlimit(c) => (m as *const crate::matches::Match as usize, c.bucket(&w.pkt)),
                _ => (m as *const crate::matches::Match as usize, 0),
            };
            let runs = w.nth_seen.borrow().get(&key).copied().unwrap_or(0);
            if let Some(later) = again(runs) {
                if let Some(later) = later {
                    o = later;
                }
                w.nth_seen.borrow_mut().insert(key, runs + 1);
            }
        }
        if o.assumed {
            if let Some(answer) = w.opts.overrides.get(&key()).copied() {
                o.holds = answer;
                o.why = format!("{} (set by hand to {})", o.why, if answer { "match" } else { "not match" });
            }
            assumed.push((format!("{}: {}", condition_text(m), o.why), o.holds));
        }
        let holds = o.holds;
        conditions.push(Condition {
            text: condition_text(m),
            holds,
            why: o.why,
            assumed: o.assumed,
            span: Some(m.span),
        });
        if !holds {
            ok = false;
            break;
        }
    }
    if forced_miss {
        ok = false;
    }
    (ok, conditions, assumed)
}

/// Whether `rule` tests a packet's destination address (`-d`), port (`--dport`, `--dports`) or address type
/// (`--dst-type`), as a translation meant for one packet does: a look at the rule alone, so that the
/// thousands of endpoint translations of a kube-proxy dump (`-p tcp -j DNAT`) are passed over without
/// explaining each of their conditions. A comment only mentions.
fn tests_destination(rule: &Rule) -> bool {
    rule.generic.destination().is_some_and(|d| !d.negated)
        || rule.matches.iter().filter(|m| m.name() != "comment").any(|m| {
            let text = condition_text(m);
            text.contains("--dport") || text.contains("--dst-type")
        })
}

fn condition_text(m: &crate::matches::Match) -> String {
    let mut s = String::new();
    m.save(&mut s);
    s.trim_start().to_string()
}

#[allow(clippy::too_many_arguments)]
fn push_step(
    w: &mut Walker<'_, '_>,
    stage: usize,
    table: TableName,
    chain: std::sync::Arc<str>,
    r: usize,
    rule: &Rule,
    matched: bool,
    conditions: Vec<Condition>,
    depth: u32,
) -> usize {
    let target = rule.target.as_ref().map(|t| w.sim.target_name(table, t));
    w.trace.steps.push(Step {
        stage,
        table,
        chain,
        number: r as u32 + 1,
        kind: StepKind::Rule,
        matched,
        conditions,
        target,
        effect: None,
        depth,
        span: Some(rule.span),
        log: None,
    });
    w.trace.steps.len() - 1
}

/// Records a chain's end (policy or return) and its TRACE line.
#[allow(clippy::too_many_arguments)]
fn record_end(
    w: &mut Walker<'_, '_>,
    mode: Mode,
    stage: usize,
    table: TableName,
    hook: Hook,
    chain: &Chain,
    kind: StepKind,
    number: u32,
    depth: u32,
    verdict: &str,
) -> Option<usize> {
    if !mode.record {
        return None;
    }
    let effect = match kind {
        StepKind::Policy => format!("policy {verdict}"),
        _ => "end of chain: back to the caller".to_string(),
    };
    w.trace.steps.push(Step {
        stage,
        table,
        chain: w.sim.chain_name(table, &chain.name),
        number,
        kind,
        matched: true,
        conditions: Vec::new(),
        target: None,
        effect: Some(effect),
        depth,
        span: Some(chain.span),
        log: None,
    });
    let s = w.trace.steps.len() - 1;
    if w.traced {
        let line_kind = if kind == StepKind::Policy { LineKind::Policy } else { LineKind::Return };
        let rule_text = match kind {
            StepKind::Policy => format!(":{} {}", chain.name, verdict),
            _ => format!("-A {} (end of chain)", chain.name),
        };
        let nft_verdict = if kind == StepKind::Policy { verdict.to_string() } else { "RETURN".to_string() };
        push_log(w, s, hook, table, &chain.name, line_kind, number, rule_text, nft_verdict);
    }
    Some(s)
}

/// The rule as iptables-nft loaded it, where that differs from the dump's: a tcp match's test of no
/// flags is left out (and the match with it when it tests nothing else), so the monitor prints it without;
/// but `--tcp-flags NONE NONE` without `!` leaves an empty expression that iptables-nft prints back as a bare
/// `-m tcp` (observed with `iptables-nft-save`, and in the monitor's trace: match_diff seed 21505).
fn nft_loaded(rule: &Rule, backend: super::Backend) -> Option<Rule> {
    use crate::matches::{tcp, MatchKind};
    let dropped = |m: &crate::matches::Match| match &m.kind {
        MatchKind::Tcp(t) => t.flags().as_ref().is_some_and(|f| tcp::nft_drops_flags(t, f.value, backend)),
        _ => false,
    };
    if !rule.matches.iter().any(dropped) {
        return None;
    }
    let every_port = |p: &Option<crate::ruleset::Negatable<crate::values::PortRange>>| {
        p.as_ref().is_none_or(|p| !p.negated && p.value.min == 0 && p.value.max == u16::MAX)
    };
    let mut loaded = rule.clone();
    let mut matches = Vec::with_capacity(rule.matches.len());
    for m in rule.matches.iter() {
        match &m.kind {
            MatchKind::Tcp(t) if dropped(m) && every_port(t.sport()) && every_port(t.dport()) => {
                let empty = t.flags().as_ref().is_some_and(|f| !f.negated && f.value.comp.0 == 0);
                if empty {
                    let kind = MatchKind::Tcp(Box::new(tcp::Tcp::new(None, None, None, None)));
                    matches.push(crate::matches::Match { kind, ..m.clone() });
                }
            }
            MatchKind::Tcp(t) if dropped(m) => {
                let kind = MatchKind::Tcp(Box::new(tcp::Tcp::new(t.sport().clone(), t.dport().clone(), None, None)));
                matches.push(crate::matches::Match { kind, ..m.clone() });
            }
            _ => matches.push(m.clone()),
        }
    }
    loaded.matches = matches.into();
    Some(loaded)
}

fn log_line(w: &mut Walker<'_, '_>, s: usize, hook: Hook, table: TableName, chain: &Chain, r: usize, rule: &Rule) {
    // The TRACE target marks the packet when it runs; the line for its own rule is printed before that.
    let is_trace_target = rule.target.as_ref().is_some_and(|t| t.name == "TRACE");
    if w.traced {
        let kind = if unconditional_verdict(rule) {
            if chain.hook.is_some() {
                LineKind::Policy
            } else {
                LineKind::Return
            }
        } else {
            LineKind::Rule
        };
        let mut text = String::new();
        match nft_loaded(rule, w.opts.backend) {
            Some(loaded) => save::rule(&chain.name, &loaded, save::SaveOptions::default(), &mut text),
            None => save::rule(&chain.name, rule, save::SaveOptions::default(), &mut text),
        }
        // The nf_tables trace's verdict; an extension's is set once it has run.
        let verdict = match rule.target.as_ref().map(|t| (&t.kind, t.goto, &t.name)) {
            None => "CONTINUE".to_string(),
            Some((TargetKind::Standard(crate::targets::Verdict::Return), _, _)) => "0xfffffffb".to_string(),
            Some((TargetKind::Standard(v), _, _)) => v.name().to_string(),
            Some((TargetKind::Chain, true, name)) => format!("GOTO:{name}"),
            Some((TargetKind::Chain, false, name)) => format!("JUMP:{name}"),
            Some(_) => "CONTINUE".to_string(),
        };
        push_log(w, s, hook, table, &chain.name, kind, r as u32 + 1, text, verdict);
        let t = w.sim.index.tables[table as usize].unwrap_or(0);
        let c = w.sim.index.chains[t].get(chain.name.as_str()).copied().unwrap_or(0);
        if let Some(l) = w.trace.log.last_mut() {
            l.handle = w.sim.handle(t, c, r);
        }
    }
    if is_trace_target {
        if w.trace.marked_by_dump.is_none() {
            w.trace.marked_by_dump = Some(w.trace.log.len());
        }
        w.traced = true;
    }
}

#[allow(clippy::too_many_arguments)]
fn push_log(
    w: &mut Walker<'_, '_>,
    s: usize,
    hook: Hook,
    table: TableName,
    chain: &str,
    kind: LineKind,
    number: u32,
    rule_text: String,
    verdict: String,
) {
    let at_hook = w.packet_at(hook, &w.pkt);
    let (packet, nft_packet) = (at_hook.to_string(), at_hook.monitor_text());
    w.trace.trace.push(format!("{table}:{chain}:{}:{number}", kind.as_str()));
    let first_in_stage = w.trace.log.last().is_none_or(|l| w.trace.steps[l.step].stage != w.trace.steps[s].stage);
    w.trace.log.push(LogLine {
        table,
        chain: chain.to_string(),
        kind,
        number,
        packet,
        nft_packet,
        step: s,
        rule_text,
        verdict,
        handle: 0,
        first_in_stage,
        copy: 0,
        later: false,
    });
    w.trace.steps[s].log = Some(w.trace.log.len() - 1);
}

/// The verdict an NFQUEUE rule gives in the nf_tables trace: the target's return value as it is
/// (`NF_QUEUE_NR(num)`, with `NF_VERDICT_FLAG_QUEUE_BYPASS`), which `xtables-monitor` names only when it is
/// a bare `NF_QUEUE` and prints in hex otherwise (`0x58003` for `--queue-num 5 --queue-bypass`, seen).
fn queue_verdict(num: u16, bypass: bool) -> String {
    const NF_QUEUE: u32 = 3;
    const QUEUE_BYPASS: u32 = 0x8000;
    let code = (u32::from(num) << 16) | if bypass { QUEUE_BYPASS } else { 0 } | NF_QUEUE;
    if code == NF_QUEUE {
        "QUEUE".to_string()
    } else {
        format!("0x{code:x}")
    }
}

/// Whether the kernel takes this rule for a chain's tail: no match of any kind, and a standard target
/// with a verdict (ACCEPT, DROP, QUEUE, RETURN) rather than a jump (`get_chainname_rulenum` in ip_tables.c).
fn unconditional_verdict(rule: &Rule) -> bool {
    let g = &rule.generic;
    let zero_addr = |n: Option<&crate::ruleset::Negatable<crate::ruleset::Network>>| {
        n.is_none_or(|n| !n.negated && n.value.is_any())
    };
    let generic_zero = zero_addr(g.source().as_ref())
        && zero_addr(g.destination().as_ref())
        && g.in_interface().is_none()
        && g.out_interface().is_none()
        && g.protocol().is_none_or(|p| !p.negated && p.value.is_all())
        && g.fragment().is_none();
    generic_zero
        && rule.matches.is_empty()
        && rule.target.as_ref().is_some_and(|t| matches!(t.kind, TargetKind::Standard(_)) && !t.goto)
}

/// After the walk: nothing more to add for now beyond what the table runs found.
pub(super) fn analyse(_w: &mut Walker<'_, '_>) {}

/// For an accepted packet with no other deciding step: the step of an insight, else the last step that
/// accepted it in the filter table, else in any table.
pub(super) fn accepting_step(trace: &Trace) -> Option<usize> {
    if let Some(i) = trace.insights.first() {
        return Some(i.step);
    }
    let accepts = |s: &Step| {
        s.matched
            && match s.kind {
                StepKind::Rule => s.target.as_deref() == Some("ACCEPT"),
                StepKind::Policy => s.effect.as_deref() == Some("policy ACCEPT"),
                StepKind::Return => false,
            }
    };
    trace
        .steps
        .iter()
        .rposition(|s| s.table == TableName::Filter && accepts(s))
        .or_else(|| trace.steps.iter().rposition(accepts))
}

impl Walker<'_, '_> {
    /// The connection as a rule in `table` sees it: in raw, conntrack has not run yet.
    pub(super) fn ct_view(&self, table: TableName) -> super::eval::ConnState {
        let mut ct = self.ct.clone();
        if !self.ct_seen && table == TableName::Raw && ct.state != CtState::Untracked {
            ct.state = CtState::Invalid;
        }
        ct
    }

    /// `pkt` as a TRACE line at `hook` shows it (with the interfaces known there). `PHYSIN=` is shown for a
    /// packet that came in on a bridge port, `PHYSOUT=` once the bridge has chosen the port (FORWARD,
    /// POSTROUTING); `br_netfilter` runs POSTROUTING for a bridged packet without an input device, so that
    /// line has `IN=` empty.
    fn packet_at(&self, hook: Hook, pkt: &Packet) -> Packet {
        let mut p = pkt.clone();
        p.in_iface = match hook {
            Hook::Postrouting if self.bridged => None,
            _ => self.in_iface.clone(),
        };
        p.out_iface = match hook {
            Hook::Prerouting | Hook::Input => None,
            _ => self.out_iface.clone(),
        };
        if self.crossing.is_none() {
            p.physin = None;
        }
        if !(self.bridged && matches!(hook, Hook::Forward | Hook::Postrouting)) {
            p.physout = None;
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::queue_verdict;

    #[test]
    fn queue_verdicts_print_as_the_monitor_does() {
        assert_eq!(queue_verdict(0, false), "QUEUE");
        assert_eq!(queue_verdict(5, true), "0x58003");
        assert_eq!(queue_verdict(5, false), "0x50003");
        assert_eq!(queue_verdict(0, true), "0x8003");
    }
}
