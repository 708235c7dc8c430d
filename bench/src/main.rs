//! `chainwalk-bench`: how fast and how lean chainwalk reads big dumps, next to `iptables-legacy-restore --test`.
//!
//! For each kind of dump and each size it writes a generated dump to a temporary file, reads it back, and
//! measures chainwalk's parse (with validation) by time and by peak heap, then times
//! `iptables-legacy-restore --test` on the same file in a fresh network namespace. It prints Markdown
//! tables: the results, time per rule (to see whether reading is linear), what the parser reported, where
//! the retained memory goes, and the sizes of the ruleset types.
//!
//! `--check` instead lists every distinct error chainwalk reports on each dump, with how often it occurs.
//!
//! `--roundtrip` instead restores each dump for real in a namespace and checks that `iptables-legacy-save`
//! prints it back byte for byte (apart from table order and the date comments), which shows the generators
//! write what `iptables-save` writes.

use chainwalk_bench::gen::{self, Kind};
use chainwalk_bench::heap::{self, Breakdown, Counting, HeapUse};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: Counting = Counting;

const USAGE: &str = "\
usage: chainwalk-bench [--sizes N,N,...] [--kinds kube,docker] [--out FILE] [--no-restore] [--check | --roundtrip]

  --sizes       rule counts to generate (default 1000,10000,100000,300000)
  --kinds       kinds of dump (default kube,docker)
  --out FILE    also write the report to FILE
  --no-restore  do not time iptables-legacy-restore
  --check       instead of benchmarking, list every distinct error chainwalk reports on each dump
  --roundtrip   instead of benchmarking, restore each dump in a network namespace and check that
                iptables-legacy-save prints it back unchanged";

/// What the command line asked for.
struct Options {
    sizes: Vec<usize>,
    kinds: Vec<Kind>,
    out: Option<PathBuf>,
    restore: bool,
    check: bool,
    roundtrip: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        sizes: vec![1000, 10_000, 100_000, 300_000],
        kinds: Kind::ALL.to_vec(),
        out: None,
        restore: true,
        check: false,
        roundtrip: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("`{name}` needs a value"));
        match a.as_str() {
            "--sizes" => {
                o.sizes = value("--sizes")?
                    .split(',')
                    .map(|s| s.trim().replace('_', "").parse().map_err(|_| format!("`{s}` is not a rule count")))
                    .collect::<Result<_, _>>()?;
            }
            "--kinds" => {
                o.kinds = value("--kinds")?
                    .split(',')
                    .map(|s| Kind::from_name(s.trim()).ok_or_else(|| format!("`{s}` is not a kind (kube, docker)")))
                    .collect::<Result<_, _>>()?;
            }
            "--out" => o.out = Some(PathBuf::from(value("--out")?)),
            "--no-restore" => o.restore = false,
            "--check" => o.check = true,
            "--roundtrip" => o.roundtrip = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(o)
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("chainwalk-bench: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let report = if o.roundtrip {
        roundtrip(&o)
    } else if o.check {
        check(&o)
    } else {
        bench(&o)
    };
    print!("{report}");
    if let Some(path) = &o.out {
        if let Err(e) = std::fs::write(path, &report) {
            eprintln!("chainwalk-bench: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}

/// One measured dump.
struct Row {
    kind: Kind,
    rules: usize,
    bytes: usize,
    chainwalk: Duration,
    restore: Result<Duration, String>,
    heap: HeapUse,
    breakdown: Breakdown,
    errors: usize,
    warnings: usize,
    first_errors: Vec<String>,
}

fn bench(o: &Options) -> String {
    let restore_tool = if o.restore { restore_available() } else { Err("not asked for (--no-restore)".to_string()) };
    if let Err(why) = &restore_tool {
        eprintln!("iptables-legacy-restore is not timed: {why}");
    }
    let mut rows = Vec::new();
    for &kind in &o.kinds {
        for &size in &o.sizes {
            eprintln!("{kind} {size}: generating");
            let path = temp_path(kind, size);
            if let Err(e) = std::fs::write(&path, gen::generate(kind, size)) {
                eprintln!("chainwalk-bench: cannot write {}: {e}", path.display());
                std::process::exit(1);
            }
            let row = measure_one(kind, &path, restore_tool.is_ok());
            let _ = std::fs::remove_file(&path);
            eprintln!(
                "{kind} {size}: chainwalk {:.1} ms, restore {}",
                ms(row.chainwalk),
                row.restore.as_ref().map_or_else(|e| e.clone(), |d| format!("{:.1} ms", ms(*d)))
            );
            rows.push(row);
        }
    }
    report(&rows, &restore_tool)
}

fn measure_one(kind: Kind, path: &Path, restore: bool) -> Row {
    let input = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("chainwalk-bench: cannot read {}: {e}", path.display());
            std::process::exit(1);
        }
    };
    let rules = gen::rule_count(&input);
    // Memory first, in a run of its own, so that counting does not slow down the timed runs.
    let (parsed, heap) = heap::measure(|| chainwalk_core::parse(&input, None));
    let breakdown = Breakdown::of(&parsed, heap.retained);
    let errors: Vec<_> = parsed.errors().collect();
    let first_errors = errors.iter().take(3).map(|d| d.to_string().replace('\n', " ")).collect();
    let (errors, warnings) = (errors.len(), parsed.warnings().count());
    drop(parsed);

    let mut times: Vec<Duration> = (0..runs(rules))
        .map(|_| {
            let start = Instant::now();
            let parsed = std::hint::black_box(chainwalk_core::parse(std::hint::black_box(&input), None));
            let took = start.elapsed();
            drop(parsed);
            took
        })
        .collect();
    let chainwalk = median(&mut times);
    let restore = if restore { time_restore(path) } else { Err("skipped".to_string()) };
    Row { kind, rules, bytes: input.len(), chainwalk, restore, heap, breakdown, errors, warnings, first_errors }
}

/// How many times chainwalk reads a dump of `rules` rules to take the median.
fn runs(rules: usize) -> usize {
    match rules {
        0..=10_000 => 9,
        10_001..=100_000 => 5,
        _ => 3,
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn temp_path(kind: Kind, size: usize) -> PathBuf {
    std::env::temp_dir().join(format!("cwbench-{}-{kind}-{size}.rules", std::process::id()))
}

/// Why `iptables-legacy-restore` cannot be timed here, if it cannot.
fn restore_available() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|l| l.split_whitespace().next());
    if uid != Some("0") {
        return Err("not running as root (network namespaces need it)".to_string());
    }
    for tool in ["ip", "iptables-legacy-restore", "iptables-legacy-save"] {
        let found = std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p).chain(["/usr/sbin".into(), "/sbin".into()]).any(|d| d.join(tool).is_file())
            })
            .unwrap_or(false);
        if !found {
            return Err(format!("`{tool}` is not installed"));
        }
    }
    Ok(())
}

/// A network namespace that exists as long as this value does.
struct Netns(String);

impl Netns {
    fn new() -> Result<Netns, String> {
        let name = format!("cwbench-{}", std::process::id());
        let out =
            Command::new("ip").args(["netns", "add", &name]).output().map_err(|e| format!("ip netns add: {e}"))?;
        if !out.status.success() {
            return Err(format!("ip netns add {name}: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Netns(name))
    }

    /// Runs `args` inside the namespace with `stdin` from `input`, returning how long it took and its output.
    fn run(&self, args: &[&str], input: Option<&Path>) -> Result<(Duration, String), String> {
        let stdin = match input {
            Some(p) => Stdio::from(std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?),
            None => Stdio::null(),
        };
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0]).args(args).stdin(stdin);
        let start = Instant::now();
        let out = cmd.output().map_err(|e| format!("{}: {e}", args[0]))?;
        let took = start.elapsed();
        if !out.status.success() {
            return Err(format!("{} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok((took, String::from_utf8_lossy(&out.stdout).into_owned()))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// The median of 3 runs of `iptables-legacy-restore --test` on `path` in a fresh namespace, less the cost
/// of entering the namespace (the median of 3 runs of `true` there).
fn time_restore(path: &Path) -> Result<Duration, String> {
    let ns = Netns::new()?;
    let mut overhead = Vec::new();
    for _ in 0..3 {
        overhead.push(ns.run(&["true"], None)?.0);
    }
    let overhead = median(&mut overhead);
    let mut times = Vec::new();
    for _ in 0..3 {
        let mut attempt = 0;
        let took = loop {
            match ns.run(&["iptables-legacy-restore", "--test"], Some(path)) {
                Ok((d, _)) => break d,
                // Another process may hold the xtables lock for a moment.
                Err(e) if e.contains("xtables lock") && attempt < 20 => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(e),
            }
        };
        times.push(took);
    }
    Ok(median(&mut times).saturating_sub(overhead))
}

fn report(rows: &[Row], restore_tool: &Result<(), String>) -> String {
    let mut r = String::new();
    let _ = writeln!(r, "## chainwalk-bench\n");
    let _ = writeln!(
        r,
        "chainwalk: `chainwalk_core::parse` (read + validate; dropping the result is not timed), median of {} runs \
         up to 10k rules, {} up to 100k, {} above; peak heap from a separate counted run, the input string excluded (bytes as requested from the allocator: \
         glibc adds 8 to 16 bytes per live block on top).\n\
         iptables-restore: `iptables-legacy-restore --test < FILE` in a fresh network namespace, median of 3, \
         less the cost of `ip netns exec NS true`.\n",
        runs(1),
        runs(100_000),
        runs(100_001)
    );
    if let Err(why) = restore_tool {
        let _ = writeln!(r, "iptables-legacy-restore not timed: {why}.\n");
    }
    let _ = writeln!(
        r,
        "| kind | rules | bytes | chainwalk ms | iptables-restore ms | ratio | peak heap MB | peak/input |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for row in rows {
        let (restore, ratio) = match &row.restore {
            Ok(d) => (format!("{:.1}", ms(*d)), ratio(d.as_secs_f64() / row.chainwalk.as_secs_f64())),
            Err(_) => ("—".to_string(), "—".to_string()),
        };
        let _ = writeln!(
            r,
            "| {} | {} | {} | {:.1} | {restore} | {ratio} | {:.1} | {:.2} |",
            row.kind,
            row.rules,
            row.bytes,
            ms(row.chainwalk),
            mb(row.heap.peak),
            row.heap.peak as f64 / row.bytes as f64
        );
    }
    for row in rows {
        if let Err(e) = &row.restore {
            if e != "skipped" {
                let _ = writeln!(r, "\n{} {}: iptables-legacy-restore: {e}", row.kind, row.rules);
            }
        }
    }

    let _ = writeln!(
        r,
        "\n### Linearity\n\n\
         | kind | rules | chainwalk µs/rule | iptables-restore µs/rule | peak heap B/rule | retained B/rule | \
         retained blocks/rule | allocations/rule |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for row in rows {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / row.rules.max(1) as f64;
        let restore = row.restore.as_ref().map_or("—".to_string(), |d| format!("{:.2}", per(*d)));
        let _ = writeln!(
            r,
            "| {} | {} | {:.2} | {restore} | {} | {} | {:.1} | {:.1} |",
            row.kind,
            row.rules,
            per(row.chainwalk),
            row.heap.peak / row.rules.max(1),
            row.heap.retained / row.rules.max(1),
            row.heap.retained_blocks as f64 / row.rules.max(1) as f64,
            row.heap.allocations as f64 / row.rules.max(1) as f64
        );
    }

    let _ = writeln!(r, "\n### Goals\n");
    for &kind in Kind::ALL.iter() {
        let mine: Vec<&Row> = rows.iter().filter(|row| row.kind == kind).collect();
        let (Some(first), Some(last)) = (mine.first(), mine.last()) else { continue };
        if let Some(row) = mine.iter().find(|row| row.rules == 100_000) {
            match &row.restore {
                Ok(d) => {
                    let x = d.as_secs_f64() / row.chainwalk.as_secs_f64();
                    let verdict = if x >= 20.0 { "met" } else { "MISSED" };
                    let _ = writeln!(
                        r,
                        "- {kind}: at 100k rules chainwalk is {} faster than iptables-restore (goal 20x): {verdict}",
                        ratio(x)
                    );
                }
                Err(_) => {
                    let _ = writeln!(r, "- {kind}: at 100k rules iptables-restore was not timed");
                }
            }
        }
        if mine.len() > 1 {
            let per = |row: &Row| row.chainwalk.as_secs_f64() / row.rules.max(1) as f64;
            let growth = per(last) / per(first);
            let verdict = if growth <= 2.0 { "met" } else { "MISSED" };
            let _ = writeln!(
                r,
                "- {kind}: time per rule grows {growth:.1}x from {} to {} rules (linear: at most 2x): {verdict}",
                first.rules, last.rules
            );
        }
        let worst = mine.iter().map(|row| row.heap.peak as f64 / row.bytes as f64).fold(0.0, f64::max);
        let verdict = if worst < 3.0 { "met" } else { "MISSED" };
        let _ = writeln!(r, "- {kind}: peak heap is at most {worst:.2}x the input (goal under 3x): {verdict}");
    }

    let _ = writeln!(
        r,
        "\n### What the parser reported\n\n\
         Lines with errors are left out of the ruleset, so a dump with errors is read faster and in less memory \
         than it will be once every module is modelled.\n\n\
         | kind | rules | rules kept | errors | warnings | first errors |\n|---|---:|---:|---:|---:|---|"
    );
    for row in rows {
        let first =
            row.first_errors.iter().map(|e| format!("`{}`", e.replace('|', "\\|"))).collect::<Vec<_>>().join("<br>");
        let _ = writeln!(
            r,
            "| {} | {} | {} | {} | {} | {first} |",
            row.kind, row.rules, row.breakdown.rules, row.errors, row.warnings
        );
    }

    if let Some(biggest) = rows.iter().max_by_key(|row| (row.rules, row.kind == Kind::Kube)) {
        let b = &biggest.breakdown;
        let _ = writeln!(
            r,
            "\n### Where the retained heap goes ({} {} rules: {} rules kept, {} matches; {:.1} MB retained in {} blocks, peak {:.1} MB, {} allocations)\n\n\
             | part | MB | bytes/rule |\n|---|---:|---:|",
            biggest.kind,
            biggest.rules,
            b.rules,
            b.matches,
            mb(biggest.heap.retained),
            biggest.heap.retained_blocks,
            mb(biggest.heap.peak),
            biggest.heap.allocations
        );
        for (what, bytes) in &b.parts {
            let _ = writeln!(r, "| {what} | {:.2} | {:.0} |", mb(*bytes), *bytes as f64 / b.rules.max(1) as f64);
        }
    }

    let _ = writeln!(r, "\n### Sizes of the ruleset types (bytes)\n\n| type | size |\n|---|---:|");
    for (name, size) in heap::type_sizes() {
        let _ = writeln!(r, "| `{name}` | {size} |");
    }
    r
}

/// A speed ratio, with two decimals below 1.
fn ratio(x: f64) -> String {
    if x < 1.0 {
        format!("{x:.2}x")
    } else {
        format!("{x:.1}x")
    }
}

/// Every distinct error message chainwalk gives on each dump, with its count and first line. chainwalk
/// reports at most 100 errors per read, so the lines in error are commented out and the dump read again
/// until no error is left.
fn check(o: &Options) -> String {
    let mut r = String::from("## Errors chainwalk reports on the generated dumps\n");
    for &kind in &o.kinds {
        for &size in &o.sizes {
            let mut lines: Vec<String> = gen::generate(kind, size).lines().map(str::to_string).collect();
            let original = lines.join("\n") + "\n";
            let canonical = chainwalk_core::canonical(&chainwalk_core::parse(&original, None));
            let same = compare(&original, &canonical).map_or("identical".to_string(), |d| format!("DIFFERENT: {d}"));
            let mut found: Vec<(String, usize, u32)> = Vec::new();
            let mut warnings: Vec<(String, usize, u32)> = Vec::new();
            let mut first = true;
            loop {
                let mut dump = lines.join("\n");
                dump.push('\n');
                let parsed = chainwalk_core::parse(&dump, None);
                if first {
                    for w in parsed.warnings() {
                        match warnings.iter_mut().find(|(m, _, _)| *m == w.message) {
                            Some((_, n, _)) => *n += 1,
                            None => warnings.push((w.message.clone(), 1, w.span.line)),
                        }
                    }
                    first = false;
                }
                let errors: Vec<_> = parsed.errors().collect();
                if errors.is_empty() {
                    break;
                }
                let mut silenced = 0;
                for e in errors {
                    match found.iter_mut().find(|(m, _, _)| *m == e.message) {
                        Some((_, n, _)) => *n += 1,
                        None => found.push((e.message.clone(), 1, e.span.line)),
                    }
                    if let Some(line) = lines.get_mut(e.span.line.saturating_sub(1) as usize) {
                        if !line.starts_with('#') {
                            line.insert(0, '#');
                            silenced += 1;
                        }
                    }
                }
                if silenced == 0 {
                    break;
                }
            }
            let _ = writeln!(r, "\n### {kind} {size}: {} distinct errors\n", found.len());
            let _ = writeln!(r, "Printed back by `chainwalk_core::canonical`: {same}\n");
            for (message, count, line) in &found {
                let _ = writeln!(r, "- {count} × (first on line {line}) {message}");
            }
            let _ = writeln!(r, "\nWarnings among the first 100 that chainwalk reports:\n");
            for (message, count, line) in &warnings {
                let _ = writeln!(r, "- {count} × (first on line {line}) {message}");
            }
        }
    }
    r
}

/// Restores each dump in a namespace and compares what `iptables-legacy-save` prints with it.
fn roundtrip(o: &Options) -> String {
    let mut r = String::from("## Round trip through iptables-legacy-restore and iptables-legacy-save\n\n");
    if let Err(why) = restore_available() {
        let _ = writeln!(r, "not possible here: {why}");
        return r;
    }
    for &kind in &o.kinds {
        for &size in &o.sizes {
            let dump = gen::generate(kind, size);
            let path = temp_path(kind, size);
            let outcome = std::fs::write(&path, &dump).map_err(|e| e.to_string()).and_then(|()| {
                let ns = Netns::new()?;
                ns.run(&["iptables-legacy-restore"], Some(&path))?;
                let saved = ns.run(&["iptables-legacy-save"], None)?.1;
                Ok(compare(&dump, &saved))
            });
            let _ = std::fs::remove_file(&path);
            let _ = match outcome {
                Ok(None) => {
                    writeln!(r, "- {kind} {size}: identical ({} rules, {} bytes)", gen::rule_count(&dump), dump.len())
                }
                Ok(Some(diff)) => writeln!(r, "- {kind} {size}: DIFFERENT: {diff}"),
                Err(e) => writeln!(r, "- {kind} {size}: could not check: {e}"),
            };
        }
    }
    r
}

/// The first difference between two dumps, comparing tables in any order and ignoring `#` lines.
fn compare(ours: &str, saved: &str) -> Option<String> {
    fn tables(dump: &str) -> Vec<Vec<&str>> {
        let mut out: Vec<Vec<&str>> = Vec::new();
        for line in dump.lines().filter(|l| !l.starts_with('#')) {
            if line.starts_with('*') {
                out.push(Vec::new());
            }
            if let Some(t) = out.last_mut() {
                t.push(line);
            }
        }
        out.sort();
        out
    }
    let (a, b) = (tables(ours), tables(saved));
    if a.len() != b.len() {
        return Some(format!("{} tables written, {} saved", a.len(), b.len()));
    }
    for (ta, tb) in a.iter().zip(&b) {
        if let Some((la, lb)) = ta.iter().zip(tb).find(|(la, lb)| la != lb) {
            return Some(format!("written `{la}`, saved `{lb}`"));
        }
        if ta.len() != tb.len() {
            return Some(format!("table {} has {} lines written, {} saved", ta[0], ta.len(), tb.len()));
        }
    }
    None
}
