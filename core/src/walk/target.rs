//! What target extensions do to a packet and what verdict they give (`XT_CONTINUE` for those that only
//! change or log it).

use super::table::TargetResult;
use super::Walker;
use crate::ruleset::{Hook, TableName};
use crate::targets::{Target, TargetKind};
use crate::trace::Assumption;

/// Runs target `t` (an extension, not a verdict or a chain) on the packet.
pub(super) fn apply(
    w: &mut Walker<'_, '_>,
    t: &Target,
    hook: Hook,
    table: TableName,
    step: Option<usize>,
) -> TargetResult {
    let _ = (hook, table);
    match &t.kind {
        TargetKind::Unmodelled(_) => {
            if let Some(s) = step {
                w.trace.assumptions.push(Assumption {
                    step: Some(s),
                    key: None,
                    text: format!(
                        "chainwalk does not model the {} target; it assumed the target lets the packet continue",
                        t.name
                    ),
                    matched: None,
                });
            }
            TargetResult::Continue
        }
        _ => TargetResult::Continue,
    }
}
