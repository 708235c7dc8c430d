//! The result of a packet walk: the one type the web app and the CLI consume.
//!
//! A [`Trace`] says which stages (hook × table) the packet passed or skipped, every rule it met and whether
//! it matched (with the reason), the lines the kernel's TRACE target would print, every change made to the
//! packet, the step that decided its fate, and the fate itself.

use crate::ruleset::{Hook, TableName};
use crate::span::Span;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A walk of one packet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The kernel's name for each TRACE line, in order (`raw:PREROUTING:policy:2`).
    pub trace: Vec<String>,
    /// The TRACE lines with the packet as the kernel prints it at that point.
    pub log: Vec<LogLine>,
    /// Where the dump's own `-j TRACE` rule marked the packet: the index in `log` of the first line the
    /// kernel prints after it (the legacy target logs nothing for the rule that marks; `xtables-monitor`
    /// shows that rule too). `None` when no TRACE rule of the dump met the packet, so the kernel, with the
    /// dump as it is, would log nothing for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marked_by_dump: Option<usize>,
    /// The stages in the order the packet met them.
    pub stages: Vec<Stage>,
    /// Every rule (and chain end) the packet met, in order.
    pub steps: Vec<Step>,
    /// Changes made to the packet, in order.
    pub changes: Vec<Change>,
    /// The step that decided the packet's fate, if a rule or policy did (routing may decide instead).
    pub deciding: Option<usize>,
    /// What happened to the packet in the end.
    pub fate: Fate,
    /// What the walk had to assume (nondeterministic matches, the host, NAT bindings of earlier packets).
    pub assumptions: Vec<Assumption>,
    /// Findings about the walk a reader should see: e.g. a rule that ended a chain before a DNAT it
    /// probably was meant to reach.
    pub insights: Vec<Insight>,
}

/// One TRACE line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The table.
    pub table: TableName,
    /// The chain.
    pub chain: String,
    /// `rule`, `return` or `policy`, as the kernel decides it from the shape of the entry.
    pub kind: LineKind,
    /// The number the kernel prints: rules count from 1 in their chain; the chain's end is one more than
    /// its last rule.
    pub number: u32,
    /// The packet as the kernel's log prints it (`IN=ppp0 OUT= SRC=... DST=... PROTO=TCP SPT=... DPT=... SYN`).
    pub packet: String,
    /// The packet as `xtables-monitor --trace` prints it on a `PACKET:` line (`IN=ppp0 SRC=... DST=...
    /// SPORT=... DPORT=... SYN`), see [`crate::packet::Packet::monitor_text`].
    pub nft_packet: String,
    /// The step this line belongs to.
    pub step: usize,
    /// The rule as `iptables-save` prints it, for the nf_tables rendering (`-A CHAIN ...`); the policy for
    /// a chain's end.
    pub rule_text: String,
    /// The verdict the nf_tables trace prints for this entry (`CONTINUE`, `ACCEPT`, `DROP`, `JUMP:CHAIN`,
    /// `GOTO:CHAIN`; `xtables-monitor` prints RETURN as `0xfffffffb`).
    pub verdict: String,
    /// The rule's handle when the dump is loaded with `iptables-nft-restore`: the table's declared chains
    /// take the first handles, then its rules in the order of the dump. 0 for a chain's end.
    pub handle: u32,
    /// Whether this line starts the packet's traversal of a table at a hook (the nf_tables trace prints
    /// the packet again there).
    pub first_in_stage: bool,
    /// How many TEE copies deep the line is: 0 for the packet walked, 1 for the copy a TEE rule made, which
    /// the kernel traces as it walks OUTPUT and POSTROUTING while the rule runs, 2 for the copy that copy's
    /// own TEE rule made once it came back in through `lo`, and so on. A copy's lines follow the rule's own
    /// in the legacy log and come before it in the nf_tables trace (which reports a rule after its target
    /// ran). `step` is the TEE rule's.
    #[serde(default, skip_serializing_if = "crate::host::is_zero")]
    pub copy: u8,
    /// Whether the line is of such a copy on its way back in through `lo`, which the kernel walks later
    /// than the rule (the nf_tables trace keeps it where it is).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub later: bool,
}

/// The three words the kernel uses in a TRACE line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LineKind {
    /// A rule whose target ran.
    Rule,
    /// The end of a user chain, or an unconditional verdict in one.
    Return,
    /// The policy of a built-in chain, or an unconditional verdict in one.
    Policy,
}

impl LineKind {
    /// The word as the kernel prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Rule => "rule",
            LineKind::Return => "return",
            LineKind::Policy => "policy",
        }
    }
}

/// What a stage is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StageKind {
    /// A table's chain at a hook.
    Table {
        /// The table.
        table: TableName,
    },
    /// Connection tracking looks the packet up (after raw).
    Conntrack,
    /// The routing decision.
    Routing,
    /// Delivery to a local socket.
    Deliver,
    /// The packet leaves through an interface.
    Egress,
    /// A bridge forwards the frame from one of its ports to another, instead of routing it.
    Bridge,
    /// The packet arrives at the IP layer, whose receive path checks it before any hook (IPv6's refuses
    /// a loopback or multicast source, and a few destinations no other node may send to).
    Arrival,
}

/// One stage of the walk: a table at a hook, conntrack, or routing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// The hook, for stages that belong to one.
    pub hook: Option<Hook>,
    /// What the stage is.
    pub kind: StageKind,
    /// Whether the packet passed it, skipped it, or stopped in it.
    pub status: StageStatus,
    /// One sentence about what happened (or why it was skipped).
    pub note: String,
}

/// What happened at a stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    /// The packet went through and on.
    Passed,
    /// The stage did not run for this packet (e.g. nat for an ESTABLISHED packet).
    Skipped,
    /// The packet's walk ended here.
    Stopped,
    /// The dump has no such table, so the kernel has nothing registered here.
    Absent,
}

/// One rule, or one chain end, that the packet met.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The stage (index into [`Trace::stages`]).
    pub stage: usize,
    /// The table.
    pub table: TableName,
    /// The chain (shared with every other step in it).
    pub chain: Arc<str>,
    /// The rule's number as the kernel counts it; for a chain end, one more than the last rule.
    pub number: u32,
    /// Whether this is a rule or the chain's end (policy or implicit return).
    pub kind: StepKind,
    /// Whether the rule matched (a chain end always does).
    pub matched: bool,
    /// The rule's conditions the kernel evaluated, in order, each with whether it held: all of them for a
    /// rule that matched, up to the first that failed for one that did not. Empty for a rule that failed in
    /// its generic part when the walk was asked not to explain those (see `WalkOptions::explain_unmatched`).
    pub conditions: Vec<Condition>,
    /// The target (`ACCEPT`, `DOCKER`, `DNAT`), if the rule has one.
    pub target: Option<Arc<str>>,
    /// What the target did, in words, when it ran.
    pub effect: Option<String>,
    /// How many jumps deep the chain is (0 for the hook's built-in chain).
    pub depth: u32,
    /// The rule's text in the dump, or the chain's declaration for a chain end.
    pub span: Option<Span>,
    /// The TRACE line the kernel prints for this step, if it prints one (index into [`Trace::log`]).
    pub log: Option<usize>,
}

/// Whether a step is a rule or a chain's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// A rule of the dump.
    Rule,
    /// The end of a built-in chain: its policy.
    Policy,
    /// The end of a user chain: back to the caller.
    Return,
}

/// One condition of a rule and whether it held for the packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// The condition as written in canonical form (`! -i p1p1`, `-m tcp --dport 22`).
    pub text: String,
    /// Whether it held.
    pub holds: bool,
    /// Why, in a sentence (`IN=ppp0 is not p1p1, so this holds`).
    pub why: String,
    /// Whether the answer rests on an assumption (history, chance, data chainwalk does not have).
    pub assumed: bool,
    /// Where the condition is written.
    pub span: Option<Span>,
}

/// A change made to the packet or its connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The step that made it, if a rule did (NAT bindings of earlier packets have none).
    pub step: Option<usize>,
    /// What changed (`destination`, `source`, `mark`, `connmark`, `state`, `tos`, `ttl`).
    pub what: String,
    /// The value before.
    pub from: String,
    /// The value after.
    pub to: String,
    /// A sentence for people.
    pub note: String,
}

/// What the walk assumed, and how to change the assumption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assumption {
    /// The step it concerns, if one.
    pub step: Option<usize>,
    /// The rule it concerns, as `table:chain:number`, usable as a key for overriding it.
    pub key: Option<String>,
    /// What was assumed.
    pub text: String,
    /// The answer assumed for a match (true: it matched).
    pub matched: Option<bool>,
    /// What `matched` answers, for a switch that flips it, when it is not whether a match holds (an
    /// NFQUEUE rule's: "a program listens on queue 5").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
}

/// A finding about the walk worth pointing out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Insight {
    /// The step it is about.
    pub step: usize,
    /// What a reader should know.
    pub text: String,
}

/// What finally happened to the packet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fate {
    /// Accepted, dropped, rejected or queued.
    pub verdict: FateVerdict,
    /// Which path it took: to this host, through it, or out of it.
    pub path: Path,
    /// The interface it leaves by, if it leaves.
    pub out: Option<String>,
    /// Its source in the end (`ADDR[:PORT]`, IPv6 as `[ADDR]:PORT`).
    pub src: String,
    /// Its destination in the end.
    pub dst: String,
    /// What a REJECT sent back (`tcp-reset`, `icmp-port-unreachable`), or the ICMP error routing sent.
    pub reject_with: Option<String>,
    /// The queue number, for a queued packet.
    pub queue: Option<u16>,
    /// One sentence saying what happened, for people.
    pub summary: String,
    /// The bridge port it leaves by, when `out` is a bridge whose port is known (`PHYSOUT=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physout: Option<String>,
}

/// The final verdict on a packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FateVerdict {
    /// It went through.
    #[default]
    Accept,
    /// It was dropped silently.
    Drop,
    /// It was dropped and an error was sent back.
    Reject,
    /// It was handed to a user-space queue.
    Queue,
    /// chainwalk stopped before the packet's fate was decided (see [`crate::walk::evaluation_budget`]).
    Undecided,
}

/// The path a packet takes through the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Path {
    /// To a local socket (PREROUTING, INPUT).
    #[default]
    Input,
    /// Through the host (PREROUTING, FORWARD, POSTROUTING).
    Forward,
    /// From this host (OUTPUT, POSTROUTING).
    Output,
}
