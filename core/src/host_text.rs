//! The host text as a small table: `ip -br addr` lines become interface rows, `ip route` lines route rows,
//! and the forwarding sysctls two switches, so that a person can edit a host without knowing the syntax.
//!
//! The text stays the one truth. A [`HostTable`] remembers the line each row was read from and writes an
//! unchanged row back as those bytes, so an unchanged table writes the text back byte for byte and an edit
//! rewrites only its own line. Lines the table cannot show (ipset contents, long `ip addr` output, other
//! sysctls, typed routes such as `blackhole`) are kept as they are and listed by [`HostTable::kept`].
//! Cells are checked by the readers [`crate::host::parse`] uses, so the table accepts what the host reader
//! accepts, and says why it refuses the rest.

use crate::host::{parse_ifaddr, parse_ip, parse_mac, read_route, Host, LINK_STATES, ROUTE_TYPES};
use crate::ruleset::Family;
use crate::span::Span;
use std::ops::Range;

/// What a row of the table is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// An `ip -br addr` line; its cells are the name, the link state and the addresses.
    Interface,
    /// An `ip route` line; its cells are the destination, `via`, `dev` and the other attributes.
    Route,
    /// A forwarding sysctl of one family (`net.ipv4.ip_forward = 1`); its one cell is the value.
    Forwarding(Family),
    /// A comment or a blank line: kept, not shown.
    Note,
    /// A line the table cannot show: kept as it is, and listed.
    Kept,
}

impl RowKind {
    /// The names of the row's cells, in order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            RowKind::Interface => &["name", "state", "addresses"],
            RowKind::Route => &["destination", "via", "dev", "other attributes"],
            RowKind::Forwarding(_) => &["value"],
            RowKind::Note | RowKind::Kept => &[],
        }
    }
}

/// One line of the host text, as the table holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    kind: RowKind,
    cells: Vec<String>,
    /// The bytes of the text it was read from, line end included; `None` for a row added since.
    source: Option<Range<usize>>,
    /// Whether its cells differ from those of its source line.
    edited: bool,
}

impl Row {
    /// What the row is.
    pub fn kind(&self) -> RowKind {
        self.kind
    }

    /// Its cells (see [`RowKind::columns`]).
    pub fn cells(&self) -> &[String] {
        &self.cells
    }

    /// Whether it is a row added but not yet named (no interface name or destination): such a row is not
    /// written.
    pub fn is_draft(&self) -> bool {
        self.source.is_none() && self.cells.first().is_some_and(String::is_empty)
    }
}

/// The host text read into rows, one per line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostTable {
    text: String,
    rows: Vec<Row>,
}

impl HostTable {
    /// Reads `text` into rows. Every line becomes one row; nothing is refused (a cell that does not read
    /// is reported by [`HostTable::error`]).
    pub fn read(text: &str) -> HostTable {
        let mut start = 0;
        // Routes listed under a header of another table than main (`# ip route show table 100`) are kept,
        // not shown with main's.
        let mut other_table = false;
        // Lines under a header of a listing the host does not read (`# ip neigh`) are kept as they are.
        let mut unread = false;
        let rows = text
            .split_inclusive('\n')
            .map(|raw| {
                let (mut kind, mut cells) = classify(body(raw));
                if kind == RowKind::Note && !body(raw).trim().is_empty() {
                    other_table = names_other_table(body(raw));
                    unread = crate::host::names_unread_listing(body(raw).trim().trim_start_matches(['#', '$']));
                }
                let moved = kind == RowKind::Route && (other_table || names_other_table(body(raw)));
                if moved || (unread && kind != RowKind::Note) || body(raw).contains('\x1b') {
                    (kind, cells) = (RowKind::Kept, Vec::new());
                }
                start += raw.len();
                Row { kind, cells, source: Some(start - raw.len()..start), edited: false }
            })
            .collect();
        HostTable { text: text.to_string(), rows }
    }

    /// The rows, in the order of the text.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// Why cell `col` of row `row` does not read, if it does not (an unnamed draft's cells are not judged).
    pub fn error(&self, row: usize, col: usize) -> Option<String> {
        let r = self.rows.get(row)?;
        let value = r.cells.get(col)?;
        if r.is_draft() && value.is_empty() {
            return None;
        }
        check(r.kind, col, value).err()
    }

    /// Sets cell `col` of row `row` to `value` (spaces collapsed), or says why it refuses: the value does
    /// not read, or it would make the line read as something else.
    pub fn set(&mut self, row: usize, col: usize, value: &str) -> Result<(), String> {
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        let r = self.rows.get(row).filter(|r| col < r.cells.len()).ok_or("no such cell")?;
        check(r.kind, col, &value)?;
        let mut cells = r.cells.clone();
        cells[col] = value;
        if !cells[0].is_empty() && classify(&self.line(row, &cells)) != (r.kind, cells.clone()) {
            return Err(format!(
                "`{}` would make this line read as something else than {}",
                cells[col],
                match r.kind {
                    RowKind::Interface => "an interface",
                    _ => "a route",
                }
            ));
        }
        let edited = r.source.clone().is_none_or(|s| classify(body(&self.text[s])).1 != cells);
        let r = &mut self.rows[row];
        r.cells = cells;
        r.edited = edited;
        Ok(())
    }

    /// Adds an empty row of `kind` (an interface, up, or a route) after the last row of its kind, and
    /// returns its index. It is written once its first cell is set.
    pub fn add(&mut self, kind: RowKind) -> usize {
        let at = self.rows.iter().rposition(|r| r.kind == kind).map_or(self.rows.len(), |i| i + 1);
        let mut cells = vec![String::new(); kind.columns().len()];
        if kind == RowKind::Interface {
            cells[1] = "UP".into();
        }
        self.rows.insert(at, Row { kind, cells, source: None, edited: true });
        at
    }

    /// Removes row `row` (its line).
    pub fn remove(&mut self, row: usize) {
        if row < self.rows.len() {
            self.rows.remove(row);
        }
    }

    /// Whether the host forwards packets of `family`: the last valid forwarding line says, as in
    /// [`crate::host::parse`]; off without one.
    pub fn forwarding(&self, family: Family) -> bool {
        let valid = |r: &&Row| r.kind == RowKind::Forwarding(family) && check(r.kind, 0, &r.cells[0]).is_ok();
        self.rows.iter().rev().find(valid).is_some_and(|r| r.cells[0] == "1")
    }

    /// Turns forwarding of `family` on or off: sets its last forwarding line, or adds one at the end.
    pub fn set_forwarding(&mut self, family: Family, on: bool) {
        let value = if on { "1" } else { "0" };
        match self.rows.iter().rposition(|r| r.kind == RowKind::Forwarding(family)) {
            Some(i) => {
                let source = self.rows[i].source.clone();
                let r = &mut self.rows[i];
                r.cells[0] = value.into();
                r.edited = source.is_none_or(|s| classify(body(&self.text[s])).1 != r.cells);
            }
            None => self.rows.push(Row {
                kind: RowKind::Forwarding(family),
                cells: vec![value.into()],
                source: None,
                edited: true,
            }),
        }
    }

    /// The lines the table cannot show, with their line numbers in the text [`HostTable::write`] writes.
    pub fn kept(&self) -> impl Iterator<Item = (usize, &str)> {
        self.rows
            .iter()
            .filter(|r| !r.is_draft())
            .enumerate()
            .filter(|(_, r)| r.kind == RowKind::Kept)
            .map(|(i, r)| (i + 1, r.source.clone().map_or("", |s| body(&self.text[s]))))
    }

    /// The host text: unchanged rows as they were read, changed and added ones written anew (each ending
    /// like the line it replaces, or with `\n`); unnamed drafts left out. Linear in the size of the text.
    pub fn write(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 64);
        for (i, r) in self.rows.iter().enumerate() {
            match (&r.source, r.edited) {
                (Some(s), false) => out.push_str(&self.text[s.clone()]),
                _ if r.is_draft() => {}
                (source, _) => {
                    // A line added after a last line without its line end starts on a line of its own.
                    if !out.is_empty() && !out.ends_with('\n') {
                        out.push('\n');
                    }
                    out.push_str(&self.line(i, &r.cells));
                    let raw = source.clone().map_or("\n", |s| &self.text[s]);
                    out.push_str(&raw[body(raw).len()..]);
                }
            }
        }
        out
    }

    /// Row `row` written with `cells`, without its line end.
    fn line(&self, row: usize, cells: &[String]) -> String {
        let r = &self.rows[row];
        let own = r.source.clone().map(|s| body(&self.text[s]));
        match r.kind {
            RowKind::Interface => {
                // In the columns of its own line, or of the interface line before it (`ip -br` aligns them).
                let template = own.or_else(|| {
                    self.rows[..row]
                        .iter()
                        .rev()
                        .find_map(|r| r.source.clone().filter(|_| r.kind == RowKind::Interface))
                        .map(|s| body(&self.text[s]))
                });
                let starts: Vec<usize> = template.map_or(Vec::new(), |t| {
                    t.char_indices()
                        .filter(|&(i, c)| !c.is_whitespace() && (i == 0 || t[..i].ends_with(char::is_whitespace)))
                        .map(|(i, _)| i)
                        .collect()
                });
                let mut out = String::new();
                for (i, cell) in cells.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                        let at = starts.get(i).copied().unwrap_or(0);
                        while out.len() < at {
                            out.push(' ');
                        }
                    }
                    out.push_str(cell);
                }
                out.trim_end().to_string()
            }
            RowKind::Route => {
                let mut out = cells[0].clone();
                for (key, cell) in [(" via ", &cells[1]), (" dev ", &cells[2]), (" ", &cells[3])] {
                    if !cell.is_empty() {
                        out.push_str(key);
                        out.push_str(cell);
                    }
                }
                out
            }
            RowKind::Forwarding(family) => match own.and_then(|l| Some((l, l.find('=')?))) {
                Some((l, eq)) => {
                    let value = l[eq + 1..].trim();
                    let at = eq + 1 + l[eq + 1..].find(value).unwrap_or(0);
                    format!("{}{}{}", &l[..at], cells[0], &l[at + value.len()..])
                }
                None => match family {
                    Family::Ipv4 => format!("net.ipv4.ip_forward = {}", cells[0]),
                    Family::Ipv6 => format!("net.ipv6.conf.all.forwarding = {}", cells[0]),
                },
            },
            RowKind::Note | RowKind::Kept => own.unwrap_or_default().to_string(),
        }
    }
}

/// A line without its line end.
/// Whether a line names a routing table other than main (`table 100`, `table vpn`; not `table all`).
fn names_other_table(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.windows(2).any(|w| w[0] == "table" && !matches!(w[1], "main" | "254" | "all"))
}

fn body(raw: &str) -> &str {
    raw.trim_end_matches(['\n', '\r'])
}

/// What a line is and its cells, by its shape, in the order [`crate::host::parse`] tries the shapes.
fn classify(line: &str) -> (RowKind, Vec<String>) {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with(['#', '$']) {
        return (RowKind::Note, Vec::new());
    }
    let kept = (RowKind::Kept, Vec::new());
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    if crate::host::is_neighbour_line(&words) {
        return kept;
    }
    match words.as_slice() {
        ["create" | "add", _, _, ..] => return kept,
        [w, ..] if w.starts_with("net.") => {
            let Some((key, value)) = trimmed.split_once('=') else { return kept };
            let family = match key.trim() {
                "net.ipv4.ip_forward" | "net.ipv4.conf.all.forwarding" => Family::Ipv4,
                "net.ipv6.conf.all.forwarding" => Family::Ipv6,
                _ => return kept,
            };
            return (RowKind::Forwarding(family), vec![value.trim().to_string()]);
        }
        // The long `ip addr` form: `2: eth0: <...>` and the lines under it.
        [w, _, ..] if w.strip_suffix(':').is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())) => return kept,
        [w, ..]
            if line.starts_with(char::is_whitespace)
                || matches!(*w, "inet" | "inet6" | "valid_lft" | "altname")
                || w.starts_with("link/") =>
        {
            return kept
        }
        [name, state, rest @ ..] if LINK_STATES.contains(state) => {
            return (RowKind::Interface, vec![name.to_string(), state.to_string(), rest.join(" ")])
        }
        _ => {}
    }
    // A route, when it starts with a destination: a typed route (`blackhole ...`) is kept.
    let dst = words[0];
    if ROUTE_TYPES.iter().any(|(t, _)| *t == dst)
        || (dst != "default" && parse_ip(dst.split('/').next().unwrap_or(dst)).is_err())
    {
        return kept;
    }
    let mut cells = vec![dst.to_string(), String::new(), String::new(), String::new()];
    let mut other = Vec::new();
    let mut i = 1;
    while i < words.len() {
        match (words[i], words.get(i + 1)) {
            ("via", Some(v)) => cells[1] = v.to_string(),
            ("dev", Some(v)) => cells[2] = v.to_string(),
            (w, _) => {
                other.push(w);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    cells[3] = other.join(" ");
    (RowKind::Route, cells)
}

/// Whether `value` reads as cell `col` of a row of `kind`.
fn check(kind: RowKind, col: usize, value: &str) -> Result<(), String> {
    let name = |v: &str, what: &str| {
        let bare = v.split('@').next().unwrap_or(v);
        if v.is_empty() {
            Err(format!("{what} needs a name"))
        } else if bare.len() > 15 || v.contains(['/', ':']) || v.contains(char::is_whitespace) {
            Err(format!("`{v}` is not an interface name (1 to 15 characters, without `/`, `:` or spaces)"))
        } else {
            Ok(())
        }
    };
    match (kind, col) {
        (RowKind::Interface, 0) => name(value, "an interface"),
        (RowKind::Interface, 1) if !LINK_STATES.contains(&value) => {
            Err(format!("`{value}` is not a link state ({})", LINK_STATES.join(", ")))
        }
        (RowKind::Interface, 2) => {
            for w in value.split_whitespace().take_while(|w| !w.starts_with('<')) {
                if parse_mac(w).is_none() {
                    parse_ifaddr(w)?;
                }
            }
            Ok(())
        }
        (RowKind::Route, 0) if value.is_empty() => Err("a route needs a destination".into()),
        (RowKind::Route, 0) if value != "default" => parse_ifaddr(value).map(drop),
        (RowKind::Route, 1) if !value.is_empty() => parse_ip(value).map(drop),
        (RowKind::Route, 2) if !value.is_empty() => name(value, "`dev`"),
        (RowKind::Route, 3) if !value.is_empty() => {
            let words: Vec<&str> = std::iter::once("default").chain(value.split_whitespace()).collect();
            read_route(&mut Host::loopback_only(), &words, Span::default())
        }
        (RowKind::Forwarding(_), 0) if !matches!(value, "0" | "1") => Err(format!("`{value}` is not 0 or 1")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{parse, RouteDecision};

    const DOCKER: &str = include_str!("../../static/examples/docker-7788.host");

    /// Every row of `kind`, by index.
    fn rows_of(t: &HostTable, kind: RowKind) -> Vec<(usize, Vec<&str>)> {
        let rows = t.rows().iter().enumerate().filter(|(_, r)| r.kind() == kind);
        rows.map(|(i, r)| (i, r.cells().iter().map(String::as_str).collect())).collect()
    }

    fn index_of(t: &HostTable, kind: RowKind, first: &str) -> usize {
        rows_of(t, kind).into_iter().find(|(_, c)| c[0] == first).expect("the row").0
    }

    #[test]
    fn an_unchanged_table_writes_the_text_back_byte_for_byte() {
        let mut texts: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../static/examples"))
            .expect("the examples")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "host"))
            .map(|p| std::fs::read_to_string(p).expect("an example host"))
            .collect();
        assert!(texts.len() >= 8);
        texts.extend(
            [
                "",
                "\n",
                "eth0 UP 192.0.2.1/24",
                "eth0\tUP\t192.0.2.1/24 \r\ndefault  via 192.0.2.1   dev eth0\r\n\r\n",
                "1: lo: <LOOPBACK,UP> mtu 65536 state UNKNOWN\n    inet 127.0.0.1/8 scope host lo\n",
                "create s hash:ip family inet\nadd s 192.0.2.7\nnet.ipv4.ip_forward=1\nblackhole 198.51.100.0/24\n",
                "eth0 UP 192.0.2.1/99\nthis is nonsense\n  indented\n$ ip route\nnet.ipv4.ip_forward = 2",
            ]
            .map(String::from),
        );
        for text in texts {
            assert_eq!(HostTable::read(&text).write(), text);
        }
    }

    #[test]
    fn reads_interfaces_routes_and_forwarding() {
        let t = HostTable::read(DOCKER);
        assert_eq!(
            rows_of(&t, RowKind::Interface).into_iter().map(|(_, c)| c).collect::<Vec<_>>(),
            [
                ["lo", "UNKNOWN", "127.0.0.1/8"],
                ["ppp0", "UP", "198.51.100.2/24"],
                ["p1p1", "UP", "192.168.200.1/30"],
                ["docker0", "UP", "172.17.0.1/16"],
            ]
        );
        assert_eq!(
            rows_of(&t, RowKind::Route).into_iter().map(|(_, c)| c).collect::<Vec<_>>(),
            [
                ["default", "198.51.100.1", "ppp0", ""],
                ["192.168.200.0/30", "", "p1p1", "proto kernel scope link src 192.168.200.1"],
                ["172.17.0.0/16", "", "docker0", "proto kernel scope link src 172.17.0.1"],
            ]
        );
        assert!(t.forwarding(Family::Ipv4));
        assert!(!t.forwarding(Family::Ipv6));
        assert_eq!(t.kept().count(), 0, "comments are not listed");
    }

    #[test]
    fn an_edit_rewrites_only_its_line_and_the_host_reads_it() {
        let mut t = HostTable::read(DOCKER);
        let route = index_of(&t, RowKind::Route, "172.17.0.0/16");
        t.set(route, 2, "p1p1").unwrap();
        let text = t.write();
        assert_eq!(
            text,
            DOCKER.replace("172.17.0.0/16 dev docker0 proto kernel", "172.17.0.0/16 dev p1p1 proto kernel")
        );
        let host = parse(&text).unwrap();
        assert!(
            matches!(host.route("172.17.0.2".parse().unwrap()), RouteDecision::Forward { dev, .. } if dev == "p1p1")
        );
        // Setting it back writes the line as it was.
        t.set(route, 2, "docker0").unwrap();
        assert_eq!(t.write(), DOCKER);
    }

    #[test]
    fn an_edited_interface_keeps_its_columns() {
        let mut t = HostTable::read(DOCKER);
        let docker0 = index_of(&t, RowKind::Interface, "docker0");
        t.set(docker0, 2, " 172.18.0.1/16   fe80::1/64 ").unwrap();
        t.set(docker0, 0, "br0").unwrap();
        assert!(t.write().contains("\nbr0       UP       172.18.0.1/16 fe80::1/64\n# ip route\n"), "{}", t.write());
    }

    #[test]
    fn an_invalid_cell_is_refused_and_says_why() {
        let mut t = HostTable::read(DOCKER);
        let docker0 = index_of(&t, RowKind::Interface, "docker0");
        let e = t.set(docker0, 2, "172.17.0.1/99").unwrap_err();
        assert_eq!(e, "`/99` is not a prefix length from 0 to 32");
        let route = index_of(&t, RowKind::Route, "default");
        assert_eq!(t.set(route, 1, "198.51.100.300").unwrap_err(), "`198.51.100.300` is not an IP address");
        assert!(t.set(route, 3, "metric").unwrap_err().contains("`metric` needs a number"));
        assert!(t.set(route, 3, "colour blue").unwrap_err().contains("`colour` is not a route attribute"));
        assert!(t.set(route, 0, "").unwrap_err().contains("needs a destination"));
        assert!(t.set(docker0, 1, "up").unwrap_err().starts_with("`up` is not a link state"));
        assert!(t.set(docker0, 0, "a/b").unwrap_err().contains("not an interface name"));
        // Values that read alone but would change what the line is.
        assert!(t.set(docker0, 0, "net.x").unwrap_err().contains("something else than an interface"));
        assert!(t.set(route, 3, "dev eth0").unwrap_err().contains("something else than a route"));
        assert_eq!(t.write(), DOCKER, "nothing refused was written");
    }

    #[test]
    fn invalid_cells_in_the_text_are_reported_per_cell() {
        let t = HostTable::read("eth0 UP 192.0.2.1/99\n10.0.0.0/8 via 10.0.0.300 metric x\nnet.ipv4.ip_forward = 2\n");
        assert_eq!(t.error(0, 0), None);
        assert_eq!(t.error(0, 2).as_deref(), Some("`/99` is not a prefix length from 0 to 32"));
        assert_eq!(t.error(1, 0), None);
        assert_eq!(t.error(1, 1).as_deref(), Some("`10.0.0.300` is not an IP address"));
        assert!(t.error(1, 3).is_some_and(|e| e.contains("`metric` needs a number")));
        assert_eq!(t.error(2, 0).as_deref(), Some("`2` is not 0 or 1"));
        assert!(!t.forwarding(Family::Ipv4));
    }

    #[test]
    fn routes_of_other_tables_and_policy_rules_are_kept() {
        let text = "eth0 UP 192.0.2.1/24\n# ip rule\n100:\tfrom all fwmark 0x1 lookup 100\n# ip route\n\
                    default via 192.0.2.254 dev eth0\n10.0.0.0/8 via 192.0.2.253 dev eth0 table 7\n\
                    # ip route show table 100\ndefault via 192.0.2.9 dev eth0\n";
        let t = HostTable::read(text);
        let kinds: Vec<RowKind> = t.rows().iter().map(Row::kind).collect();
        use RowKind::*;
        assert_eq!(kinds, [Interface, Note, Kept, Note, Route, Kept, Note, Kept]);
        assert_eq!(t.write(), text);
    }

    #[test]
    fn lines_the_table_cannot_show_are_kept_and_listed() {
        let text = "# sets\ncreate s hash:ip family inet\nadd s 192.0.2.7\n2: eth0: <UP> mtu 1500 state UP\n    inet 192.0.2.1/24 scope global eth0\nnet.ipv4.conf.all.rp_filter = 1\nblackhole 198.51.100.0/24\nthis is nonsense\ndefault via 192.0.2.254\n";
        let mut t = HostTable::read(text);
        let kept: Vec<(usize, &str)> = t.kept().collect();
        assert_eq!(
            kept,
            [
                (2, "create s hash:ip family inet"),
                (3, "add s 192.0.2.7"),
                (4, "2: eth0: <UP> mtu 1500 state UP"),
                (5, "    inet 192.0.2.1/24 scope global eth0"),
                (6, "net.ipv4.conf.all.rp_filter = 1"),
                (7, "blackhole 198.51.100.0/24"),
                (8, "this is nonsense"),
            ]
        );
        let route = index_of(&t, RowKind::Route, "default");
        t.set(route, 2, "eth0").unwrap();
        assert_eq!(t.write(), text.replace("via 192.0.2.254\n", "via 192.0.2.254 dev eth0\n"));
    }

    #[test]
    fn unread_listings_neighbours_and_coloured_lines_are_kept() {
        let text = "eth0 UP 192.0.2.2/24\n# ip neigh\n192.0.2.1 dev eth0 lladdr 02:fc:00:00:00:05 STALE\n\
                    # ip route\n192.0.2.9 dev eth0 INCOMPLETE\ndefault via \x1b[35m192.0.2.1\x1b[0m dev eth0\n\
                    default via 192.0.2.1 dev eth0\n";
        let t = HostTable::read(text);
        let kinds: Vec<RowKind> = t.rows().iter().map(Row::kind).collect();
        use RowKind::*;
        assert_eq!(kinds, [Interface, Note, Kept, Note, Kept, Kept, Route]);
        assert_eq!(t.write(), text);
        assert!(parse(text).is_ok());
    }

    #[test]
    fn rows_are_added_after_their_kind_and_removed() {
        let mut t = HostTable::read(DOCKER);
        let row = t.add(RowKind::Interface);
        assert_eq!(t.write(), DOCKER, "an unnamed row is not written");
        t.set(row, 0, "eth9").unwrap();
        t.set(row, 2, "10.9.0.1/24").unwrap();
        assert!(t.write().contains("172.17.0.1/16\neth9      UP       10.9.0.1/24\n# ip route\n"), "{}", t.write());
        let route = t.add(RowKind::Route);
        t.set(route, 2, "eth9").unwrap();
        assert_eq!(t.error(route, 0), None, "a draft's empty destination is not judged yet");
        t.set(route, 0, "10.99.0.0/16").unwrap();
        t.set(route, 1, "10.9.0.254").unwrap();
        let text = t.write();
        assert!(text.contains("src 172.17.0.1\n10.99.0.0/16 via 10.9.0.254 dev eth9\n# sysctl\n"), "{text}");
        let host = parse(&text).unwrap();
        assert!(
            matches!(host.route("10.99.1.1".parse().unwrap()), RouteDecision::Forward { dev, .. } if dev == "eth9")
        );
        t.remove(route);
        t.remove(row);
        assert_eq!(t.write(), DOCKER);
    }

    #[test]
    fn a_row_added_after_a_last_line_without_its_end_gets_a_line_of_its_own() {
        let mut t = HostTable::read("eth0 UP 192.0.2.1/24");
        let row = t.add(RowKind::Interface);
        t.set(row, 0, "eth1").unwrap();
        assert_eq!(t.write(), "eth0 UP 192.0.2.1/24\neth1 UP\n");
    }

    #[test]
    fn forwarding_is_switched_where_it_is_written_or_added() {
        let mut t = HostTable::read(DOCKER);
        t.set_forwarding(Family::Ipv4, false);
        t.set_forwarding(Family::Ipv6, true);
        let text = t.write();
        assert_eq!(
            text,
            DOCKER.replace("net.ipv4.ip_forward = 1\n", "net.ipv4.ip_forward = 0\nnet.ipv6.conf.all.forwarding = 1\n")
        );
        let host = parse(&text).unwrap();
        assert!(!host.ip_forward && host.ipv6_forward);
        let mut t = HostTable::read("net.ipv4.ip_forward=0\r\n");
        t.set_forwarding(Family::Ipv4, true);
        assert_eq!(t.write(), "net.ipv4.ip_forward=1\r\n");
        assert!(t.forwarding(Family::Ipv4));
    }

    #[test]
    fn a_big_host_is_read_and_written_whole() {
        let mut text = String::from("eth0 UP 10.0.0.1/8\ncreate big hash:ip family inet\n");
        for i in 0..200_000u32 {
            text.push_str(&format!("add big 10.{}.{}.{}\n", i >> 16, (i >> 8) & 255, i & 255));
        }
        let mut t = HostTable::read(&text);
        assert_eq!(t.write(), text);
        assert_eq!(t.kept().count(), 200_001);
        t.set(0, 2, "10.0.0.2/8").unwrap();
        assert_eq!(t.write(), text.replacen("10.0.0.1/8", "10.0.0.2/8", 1));
    }
}
