//! Counting what a piece of code does to the heap: a global allocator that wraps the system allocator and,
//! while a measurement runs, counts live bytes, their peak, live blocks and allocation calls; and a walk
//! over a parsed dump that says which parts of the ruleset its retained bytes belong to.
//!
//! Bytes are the sizes Rust asked for; the system allocator adds its own header and rounding to each
//! block (8 to 16 bytes with glibc), which is why the live block count is reported too.

use chainwalk_core::matches::MatchKind;
use chainwalk_core::targets::TargetKind;
use chainwalk_core::verbatim::{RawOpt, Verbatim};
use chainwalk_core::{Diagnostic, Parsed};
use std::alloc::{GlobalAlloc, Layout, System};
use std::mem::size_of;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering::Relaxed};

/// The system allocator, counting while [`measure`] runs. Install it with `#[global_allocator]`.
pub struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static BLOCKS: AtomicIsize = AtomicIsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize, new_block: bool) {
    let live = LIVE.fetch_add(bytes as isize, Relaxed) + bytes as isize;
    PEAK.fetch_max(live, Relaxed);
    CALLS.fetch_add(1, Relaxed);
    if new_block {
        BLOCKS.fetch_add(1, Relaxed);
    }
}

fn shrank(bytes: usize, freed_block: bool) {
    LIVE.fetch_sub(bytes as isize, Relaxed);
    if freed_block {
        BLOCKS.fetch_sub(1, Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && ON.load(Relaxed) {
            grew(layout.size(), true);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() && ON.load(Relaxed) {
            grew(layout.size(), true);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if ON.load(Relaxed) {
            shrank(layout.size(), true);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && ON.load(Relaxed) {
            if new_size >= layout.size() {
                grew(new_size - layout.size(), false);
            } else {
                shrank(layout.size() - new_size, false);
            }
        }
        p
    }
}

/// What the measured code did to the heap, counted from the moment it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeapUse {
    /// The most bytes that were live at once, beyond those live when it started.
    pub peak: usize,
    /// Bytes still live when it returned (what its result holds).
    pub retained: usize,
    /// Blocks still live when it returned.
    pub retained_blocks: usize,
    /// Calls to `alloc`, `alloc_zeroed` and `realloc`.
    pub allocations: usize,
}

/// Runs `f` with counting on. Only meaningful with [`Counting`] installed and one thread allocating.
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, HeapUse) {
    LIVE.store(0, Relaxed);
    PEAK.store(0, Relaxed);
    BLOCKS.store(0, Relaxed);
    CALLS.store(0, Relaxed);
    ON.store(true, Relaxed);
    let out = f();
    ON.store(false, Relaxed);
    let used = HeapUse {
        peak: PEAK.load(Relaxed).max(0) as usize,
        retained: LIVE.load(Relaxed).max(0) as usize,
        retained_blocks: BLOCKS.load(Relaxed).max(0) as usize,
        allocations: CALLS.load(Relaxed),
    };
    (out, used)
}

/// Where the retained bytes of a parsed dump are: each part's heap bytes, by capacity.
#[derive(Clone, Debug, Default)]
pub struct Breakdown {
    /// `(what, bytes)`, in the order they are reported.
    pub parts: Vec<(&'static str, usize)>,
    /// Rules in the ruleset.
    pub rules: usize,
    /// Matches in all rules.
    pub matches: usize,
}

impl Breakdown {
    /// Walks `parsed` and adds up the heap bytes of its parts; `retained` (from [`measure`]) gives the
    /// part that the walk does not know about (the heap of typed options other than comments).
    pub fn of(parsed: &Parsed, retained: usize) -> Breakdown {
        let mut b = Breakdown::default();
        let mut add = |what, bytes| match b.parts.iter_mut().find(|(w, _)| *w == what) {
            Some((_, n)) => *n += bytes,
            None => b.parts.push((what, bytes)),
        };
        let rs = &parsed.ruleset;
        add("tables (Vec<Table>)", rs.tables.capacity() * size_of::<chainwalk_core::ruleset::Table>());
        let mut rules = 0;
        let mut matches = 0;
        for t in &rs.tables {
            add("chains (Vec<Chain>) + chain names", t.chains.capacity() * size_of::<chainwalk_core::ruleset::Chain>());
            for c in &t.chains {
                add("chains (Vec<Chain>) + chain names", c.name.capacity());
                add("Rule structs in use", c.rules.len() * size_of::<chainwalk_core::ruleset::Rule>());
                add(
                    "Vec<Rule> spare capacity",
                    (c.rules.capacity() - c.rules.len()) * size_of::<chainwalk_core::ruleset::Rule>(),
                );
                rules += c.rules.len();
                for r in &c.rules {
                    matches += r.matches.len();
                    let size = size_of::<chainwalk_core::matches::Match>();
                    add("Match structs in use", r.matches.len() * size);
                    for m in &r.matches {
                        match &m.kind {
                            MatchKind::Comment(c) => add("comment texts", c.text.len()),
                            MatchKind::Unmodelled(v) => add("unmodelled options kept verbatim", verbatim_bytes(v)),
                            _ => {}
                        }
                    }
                    if let Some(t) = &r.target {
                        // Names of verdicts and target extensions are the program's own; chain names are copies.
                        if let std::borrow::Cow::Owned(name) = &t.name {
                            add("target names (copies of chain names)", name.capacity());
                        }
                        if let TargetKind::Unmodelled(v) = &t.kind {
                            add("unmodelled options kept verbatim", verbatim_bytes(v));
                        }
                    }
                }
            }
        }
        add("diagnostics (messages, hints)", diagnostics_bytes(&parsed.diagnostics));
        let known: usize = b.parts.iter().map(|(_, n)| n).sum();
        b.parts.push(("other (heap of typed options: not walked)", retained.saturating_sub(known)));
        b.rules = rules;
        b.matches = matches;
        b
    }
}

fn verbatim_bytes(v: &Verbatim) -> usize {
    v.opts.capacity() * size_of::<RawOpt>()
        + v.opts
            .iter()
            .map(|o| {
                o.name.capacity()
                    + o.args.capacity() * size_of::<String>()
                    + o.args.iter().map(String::capacity).sum::<usize>()
            })
            .sum::<usize>()
}

fn diagnostics_bytes(d: &[Diagnostic]) -> usize {
    std::mem::size_of_val(d)
        + d.iter().map(|d| d.message.capacity() + d.hint.as_ref().map_or(0, String::capacity)).sum::<usize>()
}

/// `size_of` of the ruleset's types, the fixed cost of each rule, match and target.
pub fn type_sizes() -> Vec<(&'static str, usize)> {
    use chainwalk_core::ruleset::{Chain, Generic, Negatable, Network, Rule};
    vec![
        ("Rule", size_of::<Rule>()),
        ("Generic", size_of::<Generic>()),
        ("Option<Negatable<Network>>", size_of::<Option<Negatable<Network>>>()),
        ("Match", size_of::<chainwalk_core::matches::Match>()),
        ("MatchKind", size_of::<MatchKind>()),
        ("Tcp (boxed in MatchKind)", size_of::<chainwalk_core::matches::tcp::Tcp>()),
        ("Target", size_of::<chainwalk_core::targets::Target>()),
        ("Option<Target>", size_of::<Option<chainwalk_core::targets::Target>>()),
        ("TargetKind", size_of::<TargetKind>()),
        ("Span", size_of::<chainwalk_core::Span>()),
        ("Chain", size_of::<Chain>()),
        ("Diagnostic", size_of::<Diagnostic>()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_sizes_are_reported_for_every_ruleset_type() {
        let sizes = type_sizes();
        let size = |name: &str| sizes.iter().find(|(n, _)| *n == name).map(|(_, s)| *s).unwrap_or(0);
        assert_eq!(sizes.len(), 12);
        assert_eq!(size("Span"), size_of::<chainwalk_core::Span>());
        // A rule holds its generic part and its target inline; a match holds its kind inline.
        assert!(size("Rule") >= size("Generic") + size("Option<Target>"), "{sizes:?}");
        assert!(size("Match") > size("MatchKind"), "{sizes:?}");
        // A tcp match holds its destination port inline and the rest of its options behind one pointer.
        let port = size_of::<Option<chainwalk_core::ruleset::Negatable<chainwalk_core::values::PortRange>>>();
        assert_eq!(size("Tcp (boxed in MatchKind)"), port + size_of::<usize>(), "{sizes:?}");
    }

    #[test]
    fn breakdown_accounts_for_every_retained_byte() {
        let dump = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m comment --comment \"hello\" -m tcp --dport 22 -j ACCEPT\nCOMMIT\n";
        let parsed = chainwalk_core::parse(dump, None);
        let b = Breakdown::of(&parsed, 1 << 20);
        assert_eq!(b.rules, 1);
        assert_eq!(b.matches, 2);
        assert_eq!(b.parts.iter().map(|(_, n)| n).sum::<usize>(), 1 << 20);
        let comments = b.parts.iter().find(|(w, _)| *w == "comment texts").map(|(_, n)| *n);
        assert_eq!(comments, Some(5));
    }
}
