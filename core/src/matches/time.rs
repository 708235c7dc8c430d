//! `-m time`: the time a packet arrives, by date range, time of day, weekday and day of the month
//! (`libxt_time`, the kernel's `xt_time.c`). The answer depends on the clock, so a packet walk states an
//! assumption about it; this module stores the settings as the kernel does (UTC unless `--kerneltz`).
//!
//! iptables 1.8.9 no longer knows the old `ipt_time` option `--days`: it says "unknown option".

use super::u32::c_strtoul;
use crate::diag::Diagnostic;
use crate::ext::{exclusive, find, opt, Args, ExtCtx, Extension, Opt, OptSpec};
use crate::walk::eval::{EvalCtx, Evaluate, Outcome};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// Every weekday, Monday (bit 1) to Sunday (bit 7) (`XT_TIME_ALL_WEEKDAYS`).
pub const ALL_WEEKDAYS: u8 = 0xFE;
/// Every day of the month, 1 (bit 1) to 31 (bit 31) (`XT_TIME_ALL_MONTHDAYS`).
pub const ALL_MONTHDAYS: u32 = 0xFFFF_FFFE;
/// The last second of a day (`XT_TIME_MAX_DAYTIME`).
pub const MAX_DAYTIME: u32 = 86_399;
/// The date stop when none is given: 2038-01-19T03:14:07, the largest signed 32-bit time.
pub const DEFAULT_DATE_STOP: u32 = i32::MAX as u32;

/// The weekday names `iptables` prints, Monday first.
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The options of `-m time`, as the kernel's `xt_time_info` holds them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Time {
    /// `--datestart`: seconds since 1970 (UTC) from which the rule matches; 0 when not given.
    pub date_start: u32,
    /// `--datestop`: seconds since 1970 (UTC) until which the rule matches.
    pub date_stop: u32,
    /// `--timestart`: seconds into the day from which the rule matches.
    pub daytime_start: u32,
    /// `--timestop`: seconds into the day until which the rule matches (a stop before the start wraps
    /// around midnight).
    pub daytime_stop: u32,
    /// `--monthdays`: bit N set for day N of the month.
    pub monthdays: u32,
    /// `--weekdays`: bit N set for weekday N (Monday is 1, Sunday 7).
    pub weekdays: u8,
    /// `--kerneltz` (or the old `--localtz`): times are in the kernel's time zone, not UTC.
    pub kernel_tz: bool,
    /// `--contiguous`: a time range across midnight is one range, not two pieces of the same day.
    pub contiguous: bool,
}

/// C's `strtoul(text, &end, base)` where no digits give 0 and nothing used.
fn strtoul(text: &str, base: u32) -> (u64, &str) {
    match c_strtoul(text, base) {
        Some((v, used)) => (v.unwrap_or(u64::MAX), &text[used..]),
        None => (0, text),
    }
}

/// Days from 1970-01-01 to the given day of the proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year, month and day of a day counted from 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `time_parse_date`: `YYYY[-MM[-DD[Thh[:mm[:ss]]]]]` in UTC, from 1970 to 2038. Like `mktime`, a day or
/// month 0 or a day past the month's end rolls over.
fn parse_date(text: &str) -> Result<u32, String> {
    let bad = || format!("`{text}` is not a date; write YYYY[-MM[-DD[Thh[:mm[:ss]]]]] (1970 to 2038)");
    let limits: [(u64, u8); 6] = [(0, b'-'), (12, b'-'), (31, b'T'), (23, b':'), (59, b':'), (59, 0)];
    let mut fields = [1970u64, 1, 1, 0, 0, 0];
    let mut s = text;
    for (i, &(max, sep)) in limits.iter().enumerate() {
        let (v, rest) = strtoul(s, 10);
        fields[i] = u64::from(v as u32);
        let ok = match i {
            0 => (1970..=2038).contains(&fields[0]),
            _ => fields[i] <= max,
        };
        let next = rest.as_bytes().first().copied();
        if !ok || (next.is_some() && next != Some(sep)) || (sep == 0 && next.is_some()) {
            return Err(bad());
        }
        if next.is_none() {
            break;
        }
        s = &rest[1..];
    }
    let [y, mo, d, h, mi, sec] = fields.map(|f| f as i64);
    let months = y * 12 + mo - 1;
    let days = days_from_civil(months.div_euclid(12), months.rem_euclid(12) + 1, 1) + d - 1;
    let t = days * 86_400 + h * 3600 + mi * 60 + sec;
    if t < 0 {
        return Err(bad());
    }
    Ok(t as u32)
}

/// When a packet arrives, for [`crate::walk::WalkOptions::now`]: a date as `--datestart` takes it
/// (`YYYY[-MM[-DD[Thh[:mm[:ss]]]]]`, UTC) or `@SECONDS` since 1970.
pub fn parse_arrival(text: &str) -> Result<u64, String> {
    match text.strip_prefix('@') {
        Some(secs) => secs.parse().map_err(|_| format!("`{text}` is not a number of seconds since 1970")),
        None => parse_date(text).map(u64::from),
    }
}

/// `time_parse_minutes`: `hh:mm[:ss]` as seconds into the day.
fn parse_daytime(text: &str) -> Result<u32, String> {
    let bad = || format!("`{text}` is not a time of day; write hh:mm[:ss] from 00:00:00 to 23:59:59");
    let (h, rest) = strtoul(text, 10);
    let Some(rest) = rest.strip_prefix(':').filter(|_| h <= 23) else { return Err(bad()) };
    let (m, rest) = strtoul(rest, 10);
    if m > 59 {
        return Err(bad());
    }
    let s = match rest.strip_prefix(':') {
        None if rest.is_empty() => 0,
        None => return Err(bad()),
        Some(rest) => match strtoul(rest, 10) {
            (s, "") if s <= 59 => s,
            _ => return Err(bad()),
        },
    };
    Ok((h * 3600 + m * 60 + s) as u32)
}

/// The comma-separated pieces `my_strseg` hands out, each cut to `keep` bytes as its small buffer does.
fn segments(text: &str, keep: usize) -> impl Iterator<Item = &str> {
    let pieces: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        let mut v: Vec<&str> = text.split(',').collect();
        if text.ends_with(',') {
            v.pop();
        }
        v
    };
    pieces.into_iter().map(move |p| {
        let mut cut = p.len().min(keep);
        while !p.is_char_boundary(cut) {
            cut -= 1;
        }
        &p[..cut]
    })
}

/// `time_parse_monthdays`: numbers (C notation, at most two characters each) from 0 to 31.
fn parse_monthdays(text: &str) -> Result<u32, String> {
    let mut bits = 0u32;
    for day in segments(text, 2) {
        let (n, rest) = strtoul(day, 0);
        if !rest.is_empty() || n > 31 {
            return Err(format!("`{day}` is not a day of the month (1 to 31)"));
        }
        bits |= 1 << n;
    }
    Ok(bits)
}

/// `time_parse_weekdays`: numbers 1 to 7 or names told apart by their first two letters (`Mo`, `Tue`,
/// `Wednesday`), at most three characters of each being read.
fn parse_weekdays(text: &str) -> Result<u8, String> {
    let mut bits = 0u32;
    for day in segments(text, 3) {
        let (n, rest) = strtoul(day, 0);
        if rest.is_empty() {
            if n == 0 {
                return Err("weekdays count from 1 (Monday) to 7 (Sunday); 0 is not one".into());
            }
            // A C `1 << n` on x86 uses the low five bits of n; bits above 7 fall off the 8-bit field.
            bits |= 1 << (n % 32);
            continue;
        }
        let i = WEEKDAYS
            .iter()
            .position(|w| day.len() >= 2 && day.as_bytes()[..2] == w.as_bytes()[..2])
            .ok_or_else(|| format!("`{day}` is not a weekday (Mon, Tue, Wed, Thu, Fri, Sat, Sun or 1 to 7)"))?;
        bits |= 1 << (i + 1);
    }
    Ok(bits as u8)
}

/// Appends `YYYY-MM-DDThh:mm:ss` for seconds since 1970.
fn push_date(out: &mut String, t: u32) {
    let t = i64::from(t);
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

fn push_daytime(out: &mut String, s: u32) {
    let _ = write!(out, "{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

impl Extension for Time {
    const OPTIONS: &'static [OptSpec] = &[
        opt("datestart", Args::One),
        opt("datestop", Args::One),
        opt("timestart", Args::One),
        opt("timestop", Args::One),
        opt("contiguous", Args::Zero),
        opt("weekdays", Args::One),
        opt("monthdays", Args::One),
        opt("localtz", Args::Zero),
        opt("utc", Args::Zero),
        opt("kerneltz", Args::Zero),
    ];

    fn build(opts: &[Opt<'_>], _ctx: &ExtCtx<'_>, warnings: &mut Vec<Diagnostic>) -> Result<Time, Diagnostic> {
        let mut m = Time {
            date_start: 0,
            date_stop: DEFAULT_DATE_STOP,
            daytime_start: 0,
            daytime_stop: MAX_DAYTIME,
            monthdays: ALL_MONTHDAYS,
            weekdays: ALL_WEEKDAYS,
            kernel_tz: false,
            contiguous: false,
        };
        for o in opts {
            find(opts, o.name)?;
            if o.name != "weekdays" && o.name != "monthdays" {
                o.no_negation()?;
            }
            match o.name {
                "datestart" => m.date_start = o.parse_arg(parse_date)?,
                "datestop" => m.date_stop = o.parse_arg(parse_date)?,
                "timestart" => m.daytime_start = o.parse_arg(parse_daytime)?,
                "timestop" => m.daytime_stop = o.parse_arg(parse_daytime)?,
                "contiguous" => m.contiguous = true,
                "monthdays" => m.monthdays = o.parse_arg(parse_monthdays)? ^ if o.negated { ALL_MONTHDAYS } else { 0 },
                "weekdays" => m.weekdays = o.parse_arg(parse_weekdays)? ^ if o.negated { ALL_WEEKDAYS } else { 0 },
                "localtz" | "kerneltz" => {
                    if o.name == "localtz" {
                        warnings.push(
                            Diagnostic::warning(o.span, "`--localtz` is the old name of `--kerneltz`").with_hint(
                                "write `--kerneltz`; the kernel's time zone has caveats (see iptables-extensions)",
                            ),
                        );
                    }
                    m.kernel_tz = true;
                }
                _ => {}
            }
        }
        exclusive(opts, &["utc", "localtz"])?;
        exclusive(opts, &["utc", "kerneltz"])?;
        if let Some(o) = find(opts, "contiguous")? {
            if m.daytime_start < m.daytime_stop {
                return Err(Diagnostic::error(
                    o.span,
                    "`--contiguous` only makes sense when `--timestop` is earlier than `--timestart`",
                ));
            }
        }
        Ok(m)
    }

    /// `time_save`: times of day (both, when either differs from the whole day), month days, weekdays,
    /// then the dates (each unless it is 0; the default stop is printed), `--kerneltz`, `--contiguous`.
    fn save(&self, out: &mut String) {
        if self.daytime_start != 0 || self.daytime_stop != MAX_DAYTIME {
            out.push_str(" --timestart ");
            push_daytime(out, self.daytime_start);
            out.push_str(" --timestop ");
            push_daytime(out, self.daytime_stop);
        }
        if self.monthdays != ALL_MONTHDAYS {
            let days: Vec<String> =
                (1..=31).filter(|d| self.monthdays & (1 << d) != 0).map(|d| d.to_string()).collect();
            let _ = write!(out, " --monthdays {}", days.join(","));
        }
        if self.weekdays != ALL_WEEKDAYS {
            let days: Vec<&str> = (1..=7).filter(|d| self.weekdays & (1 << d) != 0).map(|d| WEEKDAYS[d - 1]).collect();
            let _ = write!(out, " --weekdays {}", days.join(","));
        }
        for (t, name) in [(self.date_start, " --datestart "), (self.date_stop, " --datestop ")] {
            if t != 0 {
                out.push_str(name);
                push_date(out, t);
            }
        }
        if self.kernel_tz {
            out.push_str(" --kerneltz");
        }
        if self.contiguous {
            out.push_str(" --contiguous");
        }
    }
}

/// `2026-12-05T03:26:20`.
fn date_text(t: u64) -> String {
    let mut s = String::new();
    push_date(&mut s, t.min(u64::from(u32::MAX)) as u32);
    s
}

impl Time {
    /// Why a packet arriving at `stamp` (seconds since 1970, UTC) is outside the window, as `time_mt` in
    /// `xt_time.c` decides it, or `None` when it is inside.
    fn outside(&self, stamp: u64) -> Option<&'static str> {
        const DAY: u64 = 86_400;
        if stamp < u64::from(self.date_start) || stamp > u64::from(self.date_stop) {
            return Some("outside the dates");
        }
        let mut stamp = stamp;
        let daytime = stamp % DAY;
        let (start, stop) = (u64::from(self.daytime_start), u64::from(self.daytime_stop));
        if start < stop {
            if daytime < start || daytime > stop {
                return Some("outside the time of day");
            }
        } else {
            if daytime < start && daytime > stop {
                return Some("outside the time of day");
            }
            // A range across midnight is one range: its morning part belongs to the day before.
            if self.contiguous && daytime <= stop {
                stamp -= DAY;
            }
        }
        let days = stamp / DAY;
        // 1970-01-01 was a Thursday; Monday is 1 and Sunday 7.
        let weekday = (4 + days + 6) % 7 + 1;
        if self.weekdays & (1 << weekday) == 0 {
            return Some("on another weekday than those");
        }
        if self.monthdays != ALL_MONTHDAYS {
            let (_, _, monthday) = civil_from_days(days as i64);
            if self.monthdays & (1 << monthday) == 0 {
                return Some("on another day of the month than those");
            }
        }
        None
    }
}

impl Evaluate for Time {
    /// `time_mt` in `xt_time.c` compares the packet's arrival time with the dates, times of day, month days
    /// and weekdays. Given the walk's clock (and UTC, not `--kerneltz`) it does the same; without one the
    /// packet is assumed to arrive inside the window, unless the window is empty (a `--datestart` after the
    /// `--datestop`), which no time is in.
    fn eval(&self, ctx: &EvalCtx<'_>) -> Outcome {
        let mut window = String::new();
        self.save(&mut window);
        let window = window.trim_start();
        if self.date_start > self.date_stop {
            return Outcome::no(format!(
                "the window `{window}` starts after it stops, so no packet is inside it, so this does not hold"
            ));
        }
        // The walk's clock (the time it was made, unless the user said when) decides, as the kernel's does;
        // it stays an assumption the user can flip, to see the packet arrive at another time.
        if let (Some(now), false) = (ctx.now, self.kernel_tz) {
            let (holds, place) = match self.outside(now) {
                None => (true, "inside".to_string()),
                Some(why) => (false, format!("{why} of")),
            };
            let so = if holds { "so this holds" } else { "so this does not hold" };
            let at = date_text(now);
            return Outcome::assumed(
                holds,
                format!("chainwalk takes the packet as arriving at {at} UTC, {place} `{window}`, {so}"),
            );
        }
        Outcome::assumed(
            true,
            format!(
                "a walk has no clock, and chainwalk assumes the packet arrives inside `{window}` (set it by hand to see \
                 it arrive outside), so this holds"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ruleset::Family;

    fn parsed(line: &str) -> crate::Parsed {
        crate::parse(&format!("*filter\n{line}\nCOMMIT\n"), Some(Family::Ipv4))
    }

    /// `-m time OPTIONS` printed back, without the `-A INPUT -m time` before it.
    fn saved(options: &str) -> String {
        let line = format!("-A INPUT -m time {options} -j ACCEPT");
        let p = parsed(&line);
        assert!(!p.has_errors(), "{line}: {:?}", p.diagnostics);
        let mut out = String::new();
        crate::render::save::rule_spec(&p.ruleset.tables[0].chain("INPUT").unwrap().rules[0], &mut out);
        out.trim_end_matches(" -j ACCEPT").trim_start_matches(" -m time").trim_start().to_string()
    }

    /// The first error's column (on line 2) and message.
    fn error(options: &str) -> (u32, String) {
        let line = format!("-A INPUT -m time {options} -j ACCEPT");
        let p = parsed(&line);
        let d = p.errors().next().unwrap_or_else(|| panic!("no error for {line}"));
        assert_eq!(d.span.line, 2);
        (d.span.col, d.message.clone())
    }

    #[test]
    fn prints_back_as_iptables_save() {
        let stop = "--datestop 2038-01-19T03:14:07";
        // Options and what iptables-save 1.8.9 printed for them.
        for (input, out) in [
            ("--timestart 08:00 --timestop 17:00", format!("--timestart 08:00:00 --timestop 17:00:00 {stop}")),
            ("--timestop 17:00 --timestart 08:00", format!("--timestart 08:00:00 --timestop 17:00:00 {stop}")),
            ("--timestart 8:00 --timestop 17:00:30", format!("--timestart 08:00:00 --timestop 17:00:30 {stop}")),
            ("--timestart 08:00:00", format!("--timestart 08:00:00 --timestop 23:59:59 {stop}")),
            ("--timestop 17:00", format!("--timestart 00:00:00 --timestop 17:00:00 {stop}")),
            ("--timestart 23:59:59", format!("--timestart 23:59:59 --timestop 23:59:59 {stop}")),
            (
                "--timestart 22:00 --timestop 06:00 --contiguous",
                format!("--timestart 22:00:00 --timestop 06:00:00 {stop} --contiguous"),
            ),
            ("--weekdays Mon,Tue,Wed", format!("--weekdays Mon,Tue,Wed {stop}")),
            ("--weekdays 1,2,3", format!("--weekdays Mon,Tue,Wed {stop}")),
            ("--weekdays Monday,Sat", format!("--weekdays Mon,Sat {stop}")),
            ("--weekdays Sun,Mon", format!("--weekdays Mon,Sun {stop}")),
            ("--weekdays 7", format!("--weekdays Sun {stop}")),
            ("--weekdays 8", format!("--weekdays  {stop}")),
            ("--weekdays Mon,Tue,Wed,Thu,Fri,Sat,Sun", stop.to_string()),
            ("! --weekdays Sat,Sun", format!("--weekdays Mon,Tue,Wed,Thu,Fri {stop}")),
            ("--monthdays 1,15,31", format!("--monthdays 1,15,31 {stop}")),
            ("--monthdays 31,1", format!("--monthdays 1,31 {stop}")),
            ("--monthdays 0", format!("--monthdays  {stop}")),
            (
                "! --monthdays 1",
                format!("--monthdays 2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31 {stop}"),
            ),
            ("--datestart 2024-01-01", format!("--datestart 2024-01-01T00:00:00 {stop}")),
            (
                "--datestart 2024-01-01T10:00:00 --datestop 2024-12-31T23:59:59",
                "--datestart 2024-01-01T10:00:00 --datestop 2024-12-31T23:59:59".into(),
            ),
            ("--datestart 2024-01-01T10", format!("--datestart 2024-01-01T10:00:00 {stop}")),
            ("--datestart 2024-01", format!("--datestart 2024-01-01T00:00:00 {stop}")),
            ("--datestart 2024", format!("--datestart 2024-01-01T00:00:00 {stop}")),
            ("--datestop 2038-01-19T03:14:08", "--datestop 2038-01-19T03:14:08".into()),
            ("--datestart 1970-01-01", stop.to_string()),
            (
                "--datestart 2024-12-31 --datestop 2024-01-01",
                "--datestart 2024-12-31T00:00:00 --datestop 2024-01-01T00:00:00".into(),
            ),
            ("--kerneltz --timestart 08:00", format!("--timestart 08:00:00 --timestop 23:59:59 {stop} --kerneltz")),
            ("--utc --timestart 08:00", format!("--timestart 08:00:00 --timestop 23:59:59 {stop}")),
            ("", stop.to_string()),
            (
                "--timestop 17:00 --timestart 08:00 --weekdays Fri --monthdays 13 --datestart 2024-01-01 --datestop 2025-01-01 --kerneltz",
                "--timestart 08:00:00 --timestop 17:00:00 --monthdays 13 --weekdays Fri --datestart 2024-01-01T00:00:00 --datestop 2025-01-01T00:00:00 --kerneltz".into(),
            ),
        ] {
            assert_eq!(saved(input), out, "{input}");
        }
    }

    #[test]
    fn quirks_of_the_parsers() {
        let stop = "--datestop 2038-01-19T03:14:07";
        // Names are told apart by two letters, of which three are read; month days are read two
        // characters at a time; mktime rolls impossible dates over.
        assert_eq!(saved("--weekdays Thursday,Mox"), format!("--weekdays Mon,Thu {stop}"));
        assert_eq!(saved("--monthdays 100"), format!("--monthdays 10 {stop}"));
        assert_eq!(saved("--datestart 2024-02-31"), format!("--datestart 2024-03-02T00:00:00 {stop}"));
        assert_eq!(saved("--datestart 2024-03-00"), format!("--datestart 2024-02-29T00:00:00 {stop}"));
        assert_eq!(saved("--timestart :30"), format!("--timestart 00:30:00 --timestop 23:59:59 {stop}"));
        assert_eq!(saved("--weekdays 33"), format!("--weekdays Mon {stop}"));
        assert_eq!(saved("--monthdays 1,,2"), format!("--monthdays 1,2 {stop}"));
        assert_eq!(saved("--datestart 2024-00-10"), format!("--datestart 2023-12-10T00:00:00 {stop}"));
        // A stop at 0 is not printed, so the rule reads back with the default stop.
        assert_eq!(saved("--datestop 1970-01-01"), "");
        let p = parsed("-A INPUT -m time --localtz --timestart 08:00");
        assert!(!p.has_errors());
        assert_eq!(p.warnings().next().map(|w| w.span.col), Some(18));
        assert!(crate::canonical(&p).contains("--kerneltz"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            error("--contiguous"),
            (18, "`--contiguous` only makes sense when `--timestop` is earlier than `--timestart`".into())
        );
        assert_eq!(
            error("--weekdays mon"),
            (29, "`mon` is not a weekday (Mon, Tue, Wed, Thu, Fri, Sat, Sun or 1 to 7)".into())
        );
        assert_eq!(error("--weekdays 0").1, "weekdays count from 1 (Monday) to 7 (Sunday); 0 is not one");
        assert_eq!(error("--weekdays ,Mon").1, "weekdays count from 1 (Monday) to 7 (Sunday); 0 is not one");
        assert_eq!(error("--monthdays 32"), (30, "`32` is not a day of the month (1 to 31)".into()));
        assert_eq!(error("--monthdays 08").1, "`08` is not a day of the month (1 to 31)");
        for bad in ["1969-12-31", "2024-13-01", "2024/01/01", "2039", "2024-01-01T24"] {
            let (col, msg) = error(&format!("--datestart {bad}"));
            assert_eq!(col, 30, "{bad}");
            assert!(msg.starts_with(&format!("`{bad}` is not a date")), "{msg}");
        }
        for bad in ["25:00", "08:60", "8", "24:00", "08:00:60", "08:00x"] {
            let (col, msg) = error(&format!("--timestart {bad}"));
            assert_eq!(col, 30, "{bad}");
            assert!(msg.starts_with(&format!("`{bad}` is not a time of day")), "{msg}");
        }
        assert_eq!(error("! --timestart 08:00").1, "`--timestart` cannot be negated with `!`");
        assert_eq!(error("--days Mon").1, "unknown option `--days`");
        assert_eq!(error("--kerneltz --utc").1, "only one of `--utc`, `--kerneltz` may be given");
        assert_eq!(error("--timestart 08:00 --timestart 09:00").0, 36);
    }

    #[test]
    fn dates_are_utc_seconds() {
        assert_eq!(parse_date("2038-01-19T03:14:07"), Ok(i32::MAX as u32));
        assert_eq!(parse_date("1970-01-02"), Ok(86_400));
        let mut s = String::new();
        push_date(&mut s, 1_704_067_200);
        assert_eq!(s, "2024-01-01T00:00:00");
    }

    mod eval {
        use crate::matches::conntrack::fixture::{first_match, Scene};
        use crate::matches::MatchKind;
        use crate::ruleset::Family;
        use crate::walk::eval::{Evaluate, Outcome};

        fn eval(options: &str) -> Outcome {
            let s = Scene::new("tcp 203.0.113.7:40000 -> 192.0.2.2:80 in eth0 syn");
            match first_match(Family::Ipv4, &format!("-m time {options}")) {
                MatchKind::Time(m) => m.eval(&s.ctx()),
                other => panic!("{other:?}"),
            }
        }

        #[test]
        fn with_a_clock_the_window_is_decided_as_the_kernel_does() {
            let time = |options: &str| match first_match(Family::Ipv4, &format!("-m time {options}")) {
                MatchKind::Time(m) => m,
                other => panic!("{other:?}"),
            };
            // 2024-03-04T10:00:00 UTC, a Monday, the 4th.
            let monday = 1_709_546_400;
            assert_eq!(time("--timestart 08:00 --timestop 17:00 --weekdays Mon").outside(monday), None);
            assert_eq!(time("--timestart 10:00:01").outside(monday), Some("outside the time of day"));
            assert_eq!(time("--weekdays Tue").outside(monday), Some("on another weekday than those"));
            assert_eq!(time("--monthdays 4").outside(monday), None);
            assert_eq!(time("--monthdays 5").outside(monday), Some("on another day of the month than those"));
            assert_eq!(time("--datestop 2024-03-04T09:59:59").outside(monday), Some("outside the dates"));
            // Tuesday 00:30: inside 23:00 to 01:00 on Monday only when the range is contiguous.
            let tuesday_night = monday + 14 * 3600 + 1800;
            let night = "--timestart 23:00 --timestop 01:00 --weekdays Mon";
            assert_eq!(time(&format!("{night} --contiguous")).outside(tuesday_night), None);
            assert_eq!(time(night).outside(tuesday_night), Some("on another weekday than those"));
        }

        #[test]
        fn assumed_inside_the_window() {
            let o = eval("--timestart 08:00 --timestop 17:00 --weekdays Mon,Tue");
            assert!(o.holds && o.assumed);
            assert_eq!(
                o.why,
                "a walk has no clock, and chainwalk assumes the packet arrives inside `--timestart 08:00:00 --timestop \
                 17:00:00 --weekdays Mon,Tue --datestop 2038-01-19T03:14:07` (set it by hand to see it arrive \
                 outside), so this holds"
            );
        }

        #[test]
        fn an_empty_window_holds_no_packet() {
            let o = eval("--datestart 2030-01-01 --datestop 2020-01-01");
            assert!(!o.holds && !o.assumed);
            assert_eq!(
                o.why,
                "the window `--datestart 2030-01-01T00:00:00 --datestop 2020-01-01T00:00:00` starts after it stops, so \
                 no packet is inside it, so this does not hold"
            );
        }
    }
}
