//! What the page and its worker say to each other, and the shape of a result.
//!
//! The page posts a [`Request`] (the inputs) and the worker answers with a [`Response`] (what the core made
//! of them). Both travel as bytes in the encoding of [`crate::wire`]: the whole exchange is a few kilobytes,
//! except the dump itself, which travels beside the request as its UTF-8 bytes and only when it changed
//! (see `bridge`).
//!
//! An [`Outcome`] is the core's answer reshaped for the view: the findings of each input, and the walk with
//! long runs of rules that did not match folded into one [`Run`] each, so that a kube-proxy chain of
//! thousands of rules costs one line.

use chainwalk_core::ruleset::TableName;
use chainwalk_core::trace::{Assumption, Change, Fate, Insight, Stage, Step};
use chainwalk_core::{Diagnostic, Family, Span};
use std::sync::Arc;

/// One piece of work: read the inputs and walk the packet.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Request {
    /// Counts requests; the answer carries it back so that a late answer to an old request is dropped.
    pub seq: u64,
    /// The host text (`ip -br addr`, `ip route`, `sysctl` lines); empty when none is given.
    pub host: String,
    /// The packet line.
    pub packet: String,
    /// Assumptions the user flipped: the rule (`table:chain:number`) and the answer to assume for it.
    pub overrides: Vec<(String, bool)>,
    /// Folded runs the user opened, by the index of their first step.
    pub expand: Vec<usize>,
}

/// The answer to a [`Request`].
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The request's `seq`.
    pub seq: u64,
    /// What the core made of the inputs.
    pub outcome: Outcome,
}

/// Everything the page shows about one set of inputs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// What the core read from the dump.
    pub dump: DumpReading,
    /// What it read from the host text.
    pub host: HostReading,
    /// Why the packet line could not be read, if it could not.
    pub packet_error: Option<Diagnostic>,
    /// The walk, when all three inputs could be read.
    pub walk: Option<Walk>,
    /// How long the worker took, in milliseconds.
    pub timing: Timing,
    /// Set when the worker crashed on these inputs instead of answering.
    pub failure: Option<String>,
}

/// Milliseconds spent in the worker, phase by phase (the browser tests and `scripts/budgets` report them).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timing {
    /// Taking the message in: the dump (when it was sent) and the request, into the worker's memory.
    pub receive_ms: f64,
    /// Reading the dump (0 when it was unchanged).
    pub parse_ms: f64,
    /// Indexing the ruleset for the walk.
    pub index_ms: f64,
    /// Walking the packet.
    pub walk_ms: f64,
    /// Shaping the trace for the view: folding runs, rendering the TRACE logs.
    pub shape_ms: f64,
}

/// The dump's counts and findings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DumpReading {
    /// IPv4 or IPv6, as the dump says.
    pub family: Family,
    /// How many tables.
    pub tables: usize,
    /// How many chains.
    pub chains: usize,
    /// How many rules.
    pub rules: usize,
    /// How many errors in all.
    pub errors: usize,
    /// How many warnings in all.
    pub warnings: usize,
    /// The findings, in line order, at most [`MAX_FINDINGS`].
    pub diagnostics: Vec<Diagnostic>,
}

/// The most findings of one input sent to the page.
pub const MAX_FINDINGS: usize = 200;

/// What the host text said, in short.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostReading {
    /// Whether a host was given (otherwise the walk assumes one and says so).
    pub given: bool,
    /// Why it could not be read.
    pub errors: Vec<Diagnostic>,
    /// Each interface with its addresses (`ppp0 198.51.100.2/24`).
    pub interfaces: Vec<String>,
    /// How many routes it has.
    pub routes: usize,
    /// Whether it forwards packets of the packet's family.
    pub forwarding: bool,
}

/// A walk, ready to show.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Walk {
    /// The stages in the order the packet met them.
    pub stages: Vec<Stage>,
    /// The steps in order, long runs of rules that did not match folded.
    pub entries: Vec<Entry>,
    /// How many steps the walk has in all (folded ones included).
    pub steps: usize,
    /// The step that decided the packet's fate.
    pub deciding: Option<usize>,
    /// What happened to the packet in the end.
    pub fate: Fate,
    /// Changes to the packet, in order.
    pub changes: Vec<Change>,
    /// What the walk assumed.
    pub assumptions: Vec<Assumption>,
    /// Findings about the walk (an ACCEPT that skipped a DNAT, ...).
    pub insights: Vec<Insight>,
    /// The TRACE lines the legacy `ip_tables` TRACE target writes to the kernel log.
    pub log: Vec<LogEntry>,
    /// What `xtables-monitor --trace` prints for the nf_tables backend (its `PACKET:` and `TRACE:` lines).
    pub nft: Vec<LogEntry>,
    /// Where the dump's own TRACE rule marked the packet, if one did: the first line of `log` and of `nft`
    /// that the kernel prints with the dump as it is (the walk itself traces from before the raw table).
    pub marked: Option<(usize, usize)>,
    /// The interface the packet arrived on (`None` for one this host sends).
    pub in_iface: Option<String>,
    /// Whether every rule that did not match says why (false for big dumps, where only the rules whose
    /// addresses and interfaces fit the packet do).
    pub explained: bool,
}

/// One step of the walk, or a run of steps folded into one line.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// A rule or chain end the packet met.
    Step {
        /// Its index among all the steps of the walk.
        index: usize,
        /// The step.
        step: Step,
    },
    /// Consecutive rules of one chain that did not match.
    Run(Run),
}

impl Entry {
    /// The stage (index into [`Walk::stages`]) the entry belongs to.
    pub fn stage(&self) -> usize {
        match self {
            Entry::Step { step, .. } => step.stage,
            Entry::Run(run) => run.stage,
        }
    }

    /// How many jumps deep the entry's chain is.
    pub fn depth(&self) -> u32 {
        match self {
            Entry::Step { step, .. } => step.depth,
            Entry::Run(run) => run.depth,
        }
    }

    /// The table and chain of the entry.
    pub fn chain(&self) -> (TableName, &str) {
        match self {
            Entry::Step { step, .. } => (step.table, &step.chain),
            Entry::Run(run) => (run.table, &run.chain),
        }
    }
}

/// Rules of one chain, one after the other, none of which matched.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// The index of its first step.
    pub first: usize,
    /// The index of its last step.
    pub last: usize,
    /// The stage they belong to.
    pub stage: usize,
    /// Their table.
    pub table: TableName,
    /// Their chain.
    pub chain: Arc<str>,
    /// How many jumps deep the chain is.
    pub depth: u32,
    /// The kernel's number of the first and the last rule.
    pub numbers: (u32, u32),
    /// The dump lines of the first and the last rule.
    pub lines: (u32, u32),
    /// The first rule's place in the dump.
    pub span: Option<Span>,
}

impl Run {
    /// How many rules the run holds.
    pub fn len(&self) -> usize {
        self.last - self.first + 1
    }
}

/// One line of a trace log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The step it belongs to.
    pub step: usize,
    /// The line.
    pub text: String,
    /// Whether the line is of the copy a TEE rule made (the kernel traces its walk too).
    pub copy: bool,
}
