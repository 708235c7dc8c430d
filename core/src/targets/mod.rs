//! Targets (`-j NAME ...`, `-g CHAIN`): the standard verdicts, jumps and gotos to user chains, and target
//! extensions, one file per family, with typed options that parse as their `iptables` extension does and
//! print as `iptables-save` prints them.
//!
//! Adding a target: write its file with a type that implements [`Extension`], then add one line to the
//! `targets!` list below.

use crate::diag::Diagnostic;
use crate::ext::{ExtCtx, Extension, Opt, OptSpec};
use crate::span::Span;
use crate::verbatim::Verbatim;
use serde::{Deserialize, Serialize};

pub mod clusterip;
mod common;
pub mod conntrack;
pub mod ecn;
pub mod header;
pub mod hmark;
pub mod idletimer;
pub mod led;
pub mod log;
pub mod mark;
pub mod nat;
pub mod npt;
pub mod queue;
pub mod rateest;
pub mod reject;
pub mod secmark;
pub mod set;
pub mod synproxy;
pub mod tcpoptstrip;
pub mod tee;
pub mod tproxy;

/// The `-j`/`-g` part of a rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// The target's or chain's name as written. Standard verdicts and target extensions have names that
    /// live in the program, so that the rules of a big dump do not each hold a copy of `ACCEPT`.
    pub name: std::borrow::Cow<'static, str>,
    /// `-j NAME` and its options.
    pub span: Span,
    /// Whether it was `-g` (goto): a chain entered this way returns to the caller of the current chain.
    pub goto: bool,
    /// What the target is.
    pub kind: TargetKind,
    /// For a jump or goto, where its chain was in the table's list when the rule was read.
    #[serde(skip)]
    pub chain_hint: ChainHint,
}

/// Where a jump's chain was in its table's list of chains when the rule was read: a hint that spares a
/// lookup by name. It is not part of what a target is: targets compare equal whatever their hints, a
/// deserialized target has none, and [`crate::ruleset::Table::jump_index`] checks it before using it.
#[derive(Clone, Copy, Debug)]
pub struct ChainHint(u32);

impl ChainHint {
    /// A hint that chain `index` is the one.
    pub fn at(index: usize) -> ChainHint {
        ChainHint(u32::try_from(index).unwrap_or(u32::MAX))
    }

    /// The hinted index, if there is one.
    pub fn get(self) -> Option<usize> {
        (self.0 != u32::MAX).then_some(self.0 as usize)
    }
}

impl Default for ChainHint {
    fn default() -> ChainHint {
        ChainHint(u32::MAX)
    }
}

impl PartialEq for ChainHint {
    fn eq(&self, _: &ChainHint) -> bool {
        true
    }
}

impl Target {
    /// Appends ` -j NAME` (or ` -g NAME`) and the options, as `iptables-save` prints them.
    pub fn save(&self, out: &mut String) {
        out.push_str(if self.goto { " -g " } else { " -j " });
        out.push_str(&self.name);
        self.kind.save(out);
    }

    /// The user chain this target enters, if it is a jump or goto.
    pub fn chain(&self) -> Option<&str> {
        matches!(self.kind, TargetKind::Chain).then_some(&*self.name)
    }
}

/// A verdict the standard target gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// `ACCEPT`: the packet leaves this table's chain for the hook and goes on.
    Accept,
    /// `DROP`: the packet is gone.
    Drop,
    /// `RETURN`: back to the calling chain, or the policy in a built-in chain.
    Return,
    /// `QUEUE`: to user space, queue 0.
    Queue,
}

impl Verdict {
    /// The verdict named `name`.
    pub fn from_name(name: &str) -> Option<Verdict> {
        match name {
            "ACCEPT" => Some(Verdict::Accept),
            "DROP" => Some(Verdict::Drop),
            "RETURN" => Some(Verdict::Return),
            "QUEUE" => Some(Verdict::Queue),
            _ => None,
        }
    }

    /// The verdict's name, as a rule writes it after `-j`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Accept => "ACCEPT",
            Verdict::Drop => "DROP",
            Verdict::Return => "RETURN",
            Verdict::Queue => "QUEUE",
        }
    }
}

macro_rules! targets {
    ($($variant:ident($ty:ty) = $($name:literal)|+;)*) => {
        /// What a target is: a verdict, a user chain, or an extension with its typed options.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "target", content = "options", rename_all = "snake_case")]
        pub enum TargetKind {
            /// `ACCEPT`, `DROP`, `RETURN`, `QUEUE`.
            Standard(Verdict),
            /// A user chain (the name is the target's).
            Chain,
            // Each target's options live in their own allocation, so a rule pays only for what it uses.
            $(
                #[allow(missing_docs)]
                $variant(Box<$ty>),
            )*
            /// A target chainwalk does not model, kept as written.
            Unmodelled(Box<Verbatim>),
        }

        /// The name of a standard verdict or a target extension, as the program holds it.
        pub(crate) fn static_name(name: &str) -> Option<&'static str> {
            Some(match name {
                "ACCEPT" => "ACCEPT",
                "DROP" => "DROP",
                "RETURN" => "RETURN",
                "QUEUE" => "QUEUE",
                $($($name => $name,)+)*
                _ => return None,
            })
        }

        /// The options of the target extension called `name`, if chainwalk models it.
        pub fn options(name: &str) -> Option<&'static [OptSpec]> {
            match name {
                $($($name)|+ => Some(<$ty as Extension>::OPTIONS),)*
                _ => None,
            }
        }

        /// Builds the target extension called `name` from its options.
        pub fn build(name: &str, opts: &[Opt<'_>], ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<TargetKind, Diagnostic> {
            match name {
                $($($name)|+ => Ok(TargetKind::$variant(Box::new(<$ty as Extension>::build(opts, ctx, warnings)?))),)*
                _ => Ok(TargetKind::Unmodelled(Box::new(Verbatim::from_opts(name, opts)))),
            }
        }

        impl TargetKind {
            /// Appends the options as `iptables-save` prints them.
            pub fn save(&self, out: &mut String) {
                match self {
                    TargetKind::Standard(_) | TargetKind::Chain => {}
                    $(TargetKind::$variant(t) => t.save(out),)*
                    TargetKind::Unmodelled(v) => v.save(out),
                }
            }
        }
    };
}

targets! {
    Reject(reject::Reject) = "REJECT";
    Log(log::Log) = "LOG";
    Nflog(log::Nflog) = "NFLOG";
    Audit(log::Audit) = "AUDIT";
    Nfqueue(queue::Nfqueue) = "NFQUEUE";
    Mark(mark::Mark) = "MARK";
    Connmark(mark::Connmark) = "CONNMARK";
    Classify(mark::Classify) = "CLASSIFY";
    Dnat(nat::Dnat) = "DNAT";
    Snat(nat::Snat) = "SNAT";
    Masquerade(nat::Masquerade) = "MASQUERADE";
    Redirect(nat::Redirect) = "REDIRECT";
    Netmap(nat::Netmap) = "NETMAP";
    Ct(conntrack::Ct) = "CT";
    Notrack(conntrack::Notrack) = "NOTRACK";
    Trace(conntrack::Trace) = "TRACE";
    Tos(header::Tos) = "TOS";
    Ttl(header::Ttl) = "TTL";
    Hl(header::Hl) = "HL";
    Dscp(header::Dscp) = "DSCP";
    Tcpmss(header::Tcpmss) = "TCPMSS";
    Checksum(header::Checksum) = "CHECKSUM";
    Tproxy(tproxy::Tproxy) = "TPROXY";
    Set(set::SetTarget) = "SET";
    Synproxy(synproxy::Synproxy) = "SYNPROXY";
    Tcpoptstrip(tcpoptstrip::Tcpoptstrip) = "TCPOPTSTRIP";
    Tee(tee::Tee) = "TEE";
    Hmark(hmark::Hmark) = "HMARK";
    Rateest(rateest::Rateest) = "RATEEST";
    Clusterip(clusterip::Clusterip) = "CLUSTERIP";
    Secmark(secmark::Secmark) = "SECMARK";
    Connsecmark(secmark::Connsecmark) = "CONNSECMARK";
    Led(led::Led) = "LED";
    Idletimer(idletimer::Idletimer) = "IDLETIMER";
    Snpt(npt::Snpt) = "SNPT";
    Dnpt(npt::Dnpt) = "DNPT";
    Ecn(ecn::Ecn) = "ECN";
}

/// Target extensions that exist in iptables 1.8 but that chainwalk does not model: kept as written, with a
/// warning.
pub const UNMODELLED: &[&str] = &[];

/// Whether a target extension called `name` exists for iptables 1.8 (modelled or not).
pub fn exists(name: &str) -> bool {
    options(name).is_some() || UNMODELLED.contains(&name)
}
