//! One comparison with the kernel on the legacy backend, shared by `tests/walk_diff.rs` and
//! `tests/match_diff.rs`: the case is recorded, walked by chainwalk, both written next to the case's
//! files (`expected`, `chainwalk`), and a difference is reported only when three more recordings agree
//! with the first.

use crate::simulate;
use crate::support::recorder::{self, Case};
use std::path::Path;

/// What the comparison found.
pub enum Legacy {
    Agrees,
    Differs {
        kernel: Vec<String>,
        chainwalk: Vec<String>,
    },
    /// Two recordings of the kernel disagreed.
    Unstable,
    /// The recorder could not set it up.
    NotRecorded(String),
    /// chainwalk could not read it.
    NotWalked(String),
}

/// Records `case` on the legacy backend and walks it, writing both to `dir`.
pub fn compare(case: &Case, dir: &Path) -> Legacy {
    let write = |name: &str, text: &str| {
        let _ = std::fs::write(dir.join(name), text);
    };
    case.write_to(dir);
    let kernel = match recorder::record(case) {
        Ok(t) => t,
        Err(e) => return Legacy::NotRecorded(e),
    };
    write("expected", &kernel);
    let ours = match simulate::walk(&case.rules, &case.host, &case.packet) {
        Ok(lines) => lines,
        Err(e) => return Legacy::NotWalked(e),
    };
    write("chainwalk", &(ours.join("\n") + "\n"));
    let kernel = simulate::expected_lines(&kernel);
    if kernel == ours {
        return Legacy::Agrees;
    }
    // Recorded again, three times: a choice the kernel makes at random (a NAT port out of two) agrees
    // with itself twice in a row half the time, four times in an eighth.
    for _ in 0..3 {
        match recorder::record(case) {
            Ok(again) if simulate::expected_lines(&again) == kernel => {}
            Ok(_) => return Legacy::Unstable,
            Err(e) => return Legacy::NotRecorded(format!("another recording: {e}")),
        }
    }
    Legacy::Differs { kernel, chainwalk: ours }
}
