//! Any input: the reader must not panic, and a dump it accepts must print back to text that it reads the
//! same way and prints back identically.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = chainwalk_core::parse(&text, None);
    if parsed.has_errors() {
        return;
    }
    let printed = chainwalk_core::canonical(&parsed);
    let again = chainwalk_core::parse(&printed, Some(parsed.ruleset.family));
    assert!(!again.has_errors(), "canonical output does not read back:\n{printed}\n{:?}", again.diagnostics);
    assert_eq!(chainwalk_core::canonical(&again), printed);
});
