//! Every case in `tests/cases/` (rules, host, packet, and the `expected` trace recorded from the kernel by
//! `tests/record.rs`): chainwalk's walk must print the same TRACE lines and reach the same fate, and where
//! the case has an `expected-nft` (what `xtables-monitor --trace` printed on the nf_tables backend), the
//! same nf_tables trace. Needs no root: the recordings are committed.

#[path = "walk_diff/simulate.rs"]
mod simulate;

use chainwalk_core::trace::Trace;
use chainwalk_core::walk::Backend;
use chainwalk_core::Family;
use std::path::{Path as FsPath, PathBuf};

/// The case folders that have the recording `file`.
fn case_dirs(file: &str) -> Vec<PathBuf> {
    let root = FsPath::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.join(file).is_file()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Reads a file of the case.
fn read(dir: &FsPath, name: &str) -> Result<String, String> {
    std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{name}: {e}"))
}

/// chainwalk's walk of the case with the dump loaded on `backend`, and the dump's family.
fn walk_case(dir: &FsPath, backend: Backend) -> Result<(Trace, Family), String> {
    let host = read(dir, "host").ok();
    let assume =
        read(dir, "assume").ok().map(|a| chainwalk_core::walk::read_overrides(&a)).transpose()?.unwrap_or_default();
    simulate::walk_case(&read(dir, "rules")?, host.as_deref(), &read(dir, "packet")?, &assume, backend)
}

fn run_case(dir: &FsPath) -> Result<(), String> {
    let (trace, _) = walk_case(dir, Backend::Legacy)?;
    let got = simulate::legacy_lines(&trace);
    let want = simulate::expected_lines(&read(dir, "expected")?);
    if got != want {
        return Err(simulate::side_by_side(&want, &got));
    }
    Ok(())
}

fn run_nft_case(dir: &FsPath) -> Result<(), String> {
    let (trace, family) = walk_case(dir, Backend::Nft)?;
    let got: Vec<String> =
        chainwalk_core::render::log::nft(&trace, family).lines().map(simulate::without_packet_id).collect();
    let want: Vec<String> =
        read(dir, "expected-nft")?.lines().filter(|l| !l.starts_with('#')).map(|l| l.trim_end().to_string()).collect();
    if got != want {
        return Err(simulate::side_by_side(&want, &got));
    }
    Ok(())
}

/// Runs `check` on every case folder with `file`, and fails listing every case that differs.
fn every_case(file: &str, check: fn(&FsPath) -> Result<(), String>) {
    let dirs = case_dirs(file);
    assert!(!dirs.is_empty(), "no case in tests/cases has `{file}`");
    let mut failures = Vec::new();
    for dir in &dirs {
        if let Err(e) = check(dir) {
            failures.push(format!("{}:\n{e}", dir.file_name().unwrap_or_default().to_string_lossy()));
        }
    }
    eprintln!("{} cases with `{file}`, {} agree with the kernel", dirs.len(), dirs.len() - failures.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from `{file}`:\n\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
}

#[test]
fn every_case_agrees_with_the_kernel_recording() {
    every_case("expected", run_case);
}

#[test]
fn every_case_agrees_with_the_nf_tables_recording() {
    every_case("expected-nft", run_nft_case);
}
