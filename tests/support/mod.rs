//! Shared pieces of the integration tests: where the shared test data lives, and throwaway network
//! namespaces for running the real `iptables-restore` and kernel.

#![allow(dead_code)]

pub mod recorder;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The folder shared with the project (`../shared` beside the repository), or `CHAINWALK_SHARED`.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("CHAINWALK_SHARED") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("shared"),
    }
}

/// Whether the environment variable `var` (names separated by commas, `prefix*` for a prefix) selects
/// `name`; everything is selected when it is unset or empty.
#[allow(dead_code)] // not every test binary that uses `support` filters
pub fn selected_by(var: &str, name: &str) -> bool {
    match std::env::var(var) {
        Ok(filter) if !filter.trim().is_empty() => {
            filter.split(',').map(str::trim).any(|f| match f.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == f,
            })
        }
        _ => true,
    }
}

/// Whether this process runs as root (and so may create namespaces).
pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Whether `tool` can be found on the PATH (or in /usr/sbin, /sbin).
pub fn have(tool: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].iter().any(|d| std::path::Path::new(d).join(tool).exists())
        || Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Why tests that need root and the real tools cannot run here, or `None` when they can. In CI
/// (`CI=true`) a missing requirement is a failure, not a skip.
pub fn kernel_unavailable() -> Option<String> {
    let why = if !is_root() {
        Some("not running as root".to_string())
    } else {
        ["ip", "iptables-legacy-restore", "ip6tables-legacy-restore", "iptables-legacy-save"]
            .iter()
            .find(|t| !have(t))
            .map(|t| format!("`{t}` is not installed"))
    };
    if let Some(w) = &why {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("kernel tests must run in CI, but {w}");
        }
    }
    why
}

/// A network namespace that exists as long as this value does.
pub struct Netns {
    /// Its name, for `ip netns exec`.
    pub name: String,
}

impl Netns {
    /// Creates a fresh namespace whose name starts with `prefix`.
    pub fn new(prefix: &str) -> Netns {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("{prefix}-{}-{}", std::process::id(), COUNT.fetch_add(1, Ordering::Relaxed));
        let _ = Command::new("ip").args(["netns", "del", &name]).stderr(Stdio::null()).status();
        let ok = Command::new("ip").args(["netns", "add", &name]).status().is_ok_and(|s| s.success());
        assert!(ok, "could not create network namespace {name}");
        Netns { name }
    }

    /// Runs `program args` inside the namespace with `stdin` as its input.
    pub fn run(&self, program: &str, args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(stdin);
        }
        child.wait_with_output().unwrap_or_else(|e| panic!("{program} failed: {e}"))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}
