//! Names netfilter gives to things: address families, tables and hooks.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The address family of a dump: `iptables-save` writes IPv4, `ip6tables-save` IPv6.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4 (`iptables`).
    #[default]
    Ipv4,
    /// IPv6 (`ip6tables`).
    Ipv6,
}

/// The five tables of `ip_tables` and `ip6_tables`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableName {
    /// `raw`: before connection tracking (NOTRACK, CT).
    Raw,
    /// `mangle`: changing packets and marks.
    Mangle,
    /// `nat`: address translation, consulted for the first packet of a connection.
    Nat,
    /// `filter`: accepting and dropping.
    Filter,
    /// `security`: SELinux labels.
    Security,
}

impl TableName {
    /// All tables.
    pub const ALL: [TableName; 5] =
        [TableName::Raw, TableName::Mangle, TableName::Nat, TableName::Filter, TableName::Security];

    /// The table's name as `iptables` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TableName::Raw => "raw",
            TableName::Mangle => "mangle",
            TableName::Nat => "nat",
            TableName::Filter => "filter",
            TableName::Security => "security",
        }
    }

    /// The table called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<TableName> {
        TableName::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The hooks this table has built-in chains on, in the order `iptables-save` prints them.
    pub fn hooks(self) -> &'static [Hook] {
        use Hook::*;
        match self {
            TableName::Raw => &[Prerouting, Output],
            TableName::Mangle => &[Prerouting, Input, Forward, Output, Postrouting],
            TableName::Nat => &[Prerouting, Input, Output, Postrouting],
            TableName::Filter | TableName::Security => &[Input, Forward, Output],
        }
    }

    /// The hook whose built-in chain in this table is called `chain`.
    pub fn builtin(self, chain: &str) -> Option<Hook> {
        self.hooks().iter().copied().find(|h| h.chain_name() == chain)
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The five netfilter hooks of the IP stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Hook {
    /// Every packet that arrives, before routing.
    Prerouting,
    /// Packets routed to this host.
    Input,
    /// Packets routed through this host.
    Forward,
    /// Packets this host sends.
    Output,
    /// Every packet that leaves, after routing.
    Postrouting,
}

impl Hook {
    /// All hooks, in the order the kernel numbers them.
    pub const ALL: [Hook; 5] = [Hook::Prerouting, Hook::Input, Hook::Forward, Hook::Output, Hook::Postrouting];

    /// The name of the hook's built-in chain.
    pub fn chain_name(self) -> &'static str {
        match self {
            Hook::Prerouting => "PREROUTING",
            Hook::Input => "INPUT",
            Hook::Forward => "FORWARD",
            Hook::Output => "OUTPUT",
            Hook::Postrouting => "POSTROUTING",
        }
    }

    /// The hook whose chains are called `name` in any table.
    pub fn from_chain_name(name: &str) -> Option<Hook> {
        Hook::ALL.into_iter().find(|h| h.chain_name() == name)
    }

    /// A bit for this hook, for sets of hooks.
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.chain_name())
    }
}
