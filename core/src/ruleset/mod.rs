//! The parsed dump: tables, chains, rules, the generic part of each rule, its matches and its target.
//!
//! These types are what `iptables-restore` builds in memory before it commits a table. Every item keeps the
//! [`Span`] it was read from. The types serialize with serde so the web app and the CLI can show them.

pub(crate) mod addr;
mod generic;
mod name;

pub use addr::{Interface, Ip, Network, Protocol};
pub use generic::Generic;
pub use name::{Family, Hook, TableName};

use crate::matches::Match;
use crate::span::Span;
use crate::targets::Target;
use serde::{Deserialize, Serialize};

/// A whole dump: the tables in the order they appeared.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Ruleset {
    /// IPv4 (`iptables-save`) or IPv6 (`ip6tables-save`).
    pub family: Family,
    /// The tables, in the order of their `*table` lines.
    pub tables: Vec<Table>,
}

impl Ruleset {
    /// The table called `name`, if the dump has one.
    pub fn table(&self, name: TableName) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The number of rules in all tables.
    pub fn rule_count(&self) -> usize {
        self.tables.iter().map(Table::rule_count).sum()
    }

    /// The number of chains in all tables.
    pub fn chain_count(&self) -> usize {
        self.tables.iter().map(|t| t.chains.len()).sum()
    }
}

/// The hash a table's chain index keys names by.
fn name_hash(name: &str) -> u64 {
    // FNV-1a: fast on short names, and fixed, so the index does not depend on per-process random state.
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A hasher for keys that are hashes already: it passes the `u64` through.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One `*table` ... `COMMIT` block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Which table.
    pub name: TableName,
    /// The `*table` line.
    pub span: Span,
    /// The built-in chains in hook order, then the user chains in the order the dump declared them.
    pub chains: Vec<Chain>,
    /// The `COMMIT` line, if there was one.
    pub commit: Option<Span>,
    /// The index in `chains` of each chain by a hash of its name, kept by [`Table::push_chain`] and
    /// [`Table::reindex`] so that lookups stay constant-time on dumps with tens of thousands of chains
    /// without a second copy of every name. Names whose hash is taken are in `collisions`.
    #[serde(skip)]
    index: std::collections::HashMap<u64, u32, std::hash::BuildHasherDefault<PassThrough>>,
    #[serde(skip)]
    collisions: Vec<u32>,
}

impl Table {
    /// A table with its built-in chains (not yet declared), in hook order.
    pub fn new(name: TableName, span: Span) -> Table {
        let mut t =
            Table { name, span, chains: Vec::new(), commit: None, index: Default::default(), collisions: Vec::new() };
        for &hook in name.hooks() {
            t.push_chain(Chain {
                name: hook.chain_name().to_string(),
                hook: Some(hook),
                policy: Some(Policy::Accept),
                counters: None,
                span,
                declared: false,
                rules: Vec::new(),
            });
        }
        t
    }

    /// Adds a chain at the end and returns its index.
    pub fn push_chain(&mut self, chain: Chain) -> usize {
        let i = self.chains.len();
        if self.chains.len() == self.chains.capacity() {
            // Grow by half: a table of thousands of chains should not reserve room for as many again.
            self.chains.reserve_exact((self.chains.len() / 2).max(4));
        }
        self.chains.push(chain);
        self.index_chain(i);
        i
    }

    fn index_chain(&mut self, i: usize) {
        match self.index.entry(name_hash(&self.chains[i].name)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i as u32);
            }
            std::collections::hash_map::Entry::Occupied(_) => self.collisions.push(i as u32),
        }
    }

    /// Rebuilds the name index after chains were removed or renamed.
    pub fn reindex(&mut self) {
        self.index.clear();
        self.collisions.clear();
        for i in 0..self.chains.len() {
            self.index_chain(i);
        }
    }

    /// Gives back memory reserved for chains and rules that never came.
    pub fn shrink(&mut self) {
        self.chains.shrink_to_fit();
        for c in &mut self.chains {
            c.rules.shrink_to_fit();
        }
    }

    /// The chain called `name`.
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chain_index(name).map(|i| &self.chains[i])
    }

    /// The index of the chain called `name` in [`Table::chains`].
    pub fn chain_index(&self, name: &str) -> Option<usize> {
        if self.index.is_empty() && !self.chains.is_empty() {
            // A table that was deserialized rather than parsed has no index.
            return self.chains.iter().position(|c| c.name == name);
        }
        match self.index.get(&name_hash(name)) {
            Some(&i) if self.chains[i as usize].name == name => Some(i as usize),
            _ => self.collisions.iter().map(|&i| i as usize).find(|&i| self.chains[i].name == name),
        }
    }

    /// The index of the chain a jump or goto `target` enters, or `None` for other targets and for a chain
    /// that is not in the table. The target's [`ChainHint`](crate::targets::ChainHint) is used when it
    /// still names the right chain, which saves hashing the name.
    pub fn jump_index(&self, target: &crate::targets::Target) -> Option<usize> {
        let name = target.chain()?;
        match target.chain_hint.get() {
            Some(i) if self.chains.get(i).is_some_and(|c| c.name == name) => Some(i),
            _ => self.chain_index(name),
        }
    }

    /// The number of rules in all chains of this table.
    pub fn rule_count(&self) -> usize {
        self.chains.iter().map(|c| c.rules.len()).sum()
    }
}

/// A chain: built-in (with a policy) or user-defined.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chain {
    /// The chain's name as written.
    pub name: String,
    /// The hook this chain is attached to, for a built-in chain.
    pub hook: Option<Hook>,
    /// The policy of a built-in chain (`ACCEPT` unless the dump says otherwise).
    pub policy: Option<Policy>,
    /// The policy's counters, when the dump has them.
    pub counters: Option<Counters>,
    /// The `:CHAIN POLICY [p:b]` line (or the `-N` line); for a built-in chain the dump did not declare,
    /// the `*table` line.
    pub span: Span,
    /// Whether the dump declared the chain (a built-in chain may be left out).
    pub declared: bool,
    /// The rules, numbered from 1 as the kernel counts them.
    pub rules: Vec<Rule>,
}

/// What a built-in chain does with a packet that reaches its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Policy {
    /// Let the packet go on.
    Accept,
    /// Drop the packet.
    Drop,
}

impl Policy {
    /// The name `iptables-save` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Accept => "ACCEPT",
            Policy::Drop => "DROP",
        }
    }
}

/// Packet and byte counters, as `iptables-save -c` prints them (`[packets:bytes]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Counters {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// One rule of a chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The whole rule line (or the part of it after the counters).
    pub span: Span,
    /// The `[packets:bytes]` prefix, when the dump has one (rarely, so it is kept apart).
    pub counters: Option<Box<Counters>>,
    /// The generic part: addresses, interfaces, protocol, fragment.
    pub generic: Generic,
    /// The `-m` matches in the order they were given.
    pub matches: Box<[Match]>,
    /// The `-j` or `-g` target; a rule without one only counts packets.
    pub target: Option<Target>,
}

/// A value that `!` may negate, with the span of the option that set it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Negatable<T> {
    /// The value.
    pub value: T,
    /// Whether the option was negated with `!`.
    pub negated: bool,
    /// The option and its value (and the `!`), as written.
    pub span: Span,
}

/// The part of a rule that every rule has, whatever its matches: `-s -d -i -o -p -f`, one field per
/// option. This is the form to build and to serialize; rules keep the compact [`Generic`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GenericParts {
    /// `-s`.
    pub source: Option<Negatable<Network>>,
    /// `-d`.
    pub destination: Option<Negatable<Network>>,
    /// `-i`.
    pub in_interface: Option<Negatable<Interface>>,
    /// `-o`.
    pub out_interface: Option<Negatable<Interface>>,
    /// `-p`.
    pub protocol: Option<Negatable<Protocol>>,
    /// `-f` (only second and further fragments) or `! -f` (only unfragmented packets and first fragments).
    pub fragment: Option<Negatable<()>>,
}
