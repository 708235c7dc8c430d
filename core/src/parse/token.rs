//! Splitting a rule line into arguments, the way `iptables-restore` does.
//!
//! `iptables-restore` (`add_param_to_argv` in iptables' `xshared.c`) splits on spaces and tabs, groups text
//! between double quotes into one argument (an empty pair of quotes is an empty argument), and inside quotes
//! takes a backslash to mean "the next character as it is". A closing quote ends the argument, even when
//! text follows it directly. Outside quotes a backslash is an ordinary character.

use crate::diag::Diagnostic;
use crate::span::Span;
use std::borrow::Cow;

/// The longest argument `iptables-restore` takes (its buffer is 1024 bytes with the terminating NUL).
pub const MAX_ARG_LEN: usize = 1023;

/// One argument of a rule line, unquoted, with where it stood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    /// The argument's text with quotes and escapes removed.
    pub text: Cow<'a, str>,
    /// The bytes it was read from, quotes included.
    pub span: Span,
    /// Whether it was written in quotes (which only groups: iptables-restore reads `"--dport"` as the option).
    pub quoted: bool,
}

/// Splits `text`, the part of line `line` that starts at byte `line_start + offset` of the input.
///
/// `line_text` is the whole line (without its newline) and `offset` where `text` starts in it; they are
/// used for columns.
pub fn tokenize<'a>(
    line: u32,
    line_start: usize,
    line_text: &'a str,
    offset: usize,
) -> Result<Vec<Token<'a>>, Diagnostic> {
    let mut tokens = Vec::new();
    tokenize_into(line, line_start, line_text, offset, &mut tokens)?;
    Ok(tokens)
}

/// [`tokenize`] into `tokens` (cleared first), so that a reader can keep one buffer for every line.
pub fn tokenize_into<'a>(
    line: u32,
    line_start: usize,
    line_text: &'a str,
    offset: usize,
    tokens: &mut Vec<Token<'a>>,
) -> Result<(), Diagnostic> {
    tokens.clear();
    let bytes = line_text.as_bytes();
    // Columns count characters; on an ASCII line (nearly every dump) that is the byte offset.
    let ascii = bytes.is_ascii();
    let span = |from: usize, to: usize| {
        if ascii {
            Span { start: (line_start + from) as u32, end: (line_start + to) as u32, line, col: from as u32 + 1 }
        } else {
            Span::within_line(line, line_start, line_text, from, to)
        }
    };
    let mut i = offset;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            b'"' => {
                // The common quoted argument: `"text"` with no escapes, standing alone.
                let c = find_any(bytes, i + 1, [b'"', b'\\', b'"']);
                if bytes.get(c) == Some(&b'"') && bytes.get(c + 1).is_none_or(|&b| b == b' ' || b == b'\t') {
                    let span = span(i, c + 1);
                    let text = &line_text[i + 1..c];
                    check_len(text, span)?;
                    tokens.push(Token { text: Cow::Borrowed(text), span, quoted: true });
                    i = c + 1;
                } else {
                    i = quoted_token(line, line_start, line_text, i, tokens)?;
                }
            }
            _ => {
                // The common case: a bare word, borrowed from the line as it is.
                let end = find_any(bytes, i + 1, [b' ', b'\t', b'"']);
                if end == bytes.len() || bytes[end] != b'"' {
                    let span = span(i, end);
                    let text = &line_text[i..end];
                    check_len(text, span)?;
                    tokens.push(Token { text: Cow::Borrowed(text), span, quoted: false });
                    i = end;
                } else {
                    i = quoted_token(line, line_start, line_text, i, tokens)?;
                }
            }
        }
    }
    Ok(())
}

/// The index of the first of the bytes `stops` in `bytes` from `i` on, or the length (for the end of a
/// word: a blank, a tab or a double quote). Eight bytes are looked at a time: in a word, a byte equal to
/// the one sought becomes zero when the two are XORed, and `(v - 0x01..) & !v & 0x80..` flags the first
/// zero byte of `v` exactly.
pub(super) fn find_any(bytes: &[u8], mut i: usize, stops: [u8; 3]) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(LO) & !v & HI;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let hit = stops.iter().fold(0, |hit, &stop| hit | zero(v ^ (LO * u64::from(stop))));
        if hit != 0 {
            return i + (hit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && !stops.contains(&bytes[i]) {
        i += 1;
    }
    i
}

/// Reads an argument with double quotes in it, starting at byte `from`; returns where it ended.
fn quoted_token<'a>(
    line: u32,
    line_start: usize,
    line_text: &'a str,
    from: usize,
    tokens: &mut Vec<Token<'a>>,
) -> Result<usize, Diagnostic> {
    let mut buf = String::new();
    let mut quote_open = false;
    let mut escaped = false;
    for (i, ch) in line_text[from..].char_indices() {
        let i = i + from;
        if quote_open {
            if escaped {
                buf.push(ch);
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                // A closing quote ends the argument, even when text follows it directly.
                let span = Span::within_line(line, line_start, line_text, from, i + 1);
                check_len(&buf, span)?;
                tokens.push(Token { text: Cow::Owned(buf), span, quoted: true });
                return Ok(i + 1);
            } else {
                buf.push(ch);
            }
            continue;
        }
        match ch {
            '"' => quote_open = true,
            ' ' | '\t' => {
                let span = Span::within_line(line, line_start, line_text, from, i);
                check_len(&buf, span)?;
                tokens.push(Token { text: Cow::Owned(buf), span, quoted: true });
                return Ok(i);
            }
            _ => buf.push(ch),
        }
    }
    let span = Span::within_line(line, line_start, line_text, from, line_text.len());
    if quote_open {
        return Err(Diagnostic::error(span, "this quoted argument has no closing quote")
            .with_hint("add a `\"` at the end of the argument"));
    }
    check_len(&buf, span)?;
    tokens.push(Token { text: Cow::Owned(buf), span, quoted: true });
    Ok(line_text.len())
}

fn check_len(text: &str, span: Span) -> Result<(), Diagnostic> {
    if text.len() > MAX_ARG_LEN {
        return Err(Diagnostic::error(
            span,
            format!("this argument is {} bytes long; iptables-restore takes at most {MAX_ARG_LEN}", text.len()),
        ));
    }
    Ok(())
}

/// Writes `value` the way `iptables-save` does (`xtables_save_string`): bare when it is only letters,
/// digits, `_` and `-`, otherwise in double quotes with `"`, `\` and `'` escaped by a backslash.
pub fn push_quoted(out: &mut String, value: &str) {
    let plain = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        out.push_str(value);
        return;
    }
    out.push('"');
    for ch in value.chars() {
        if matches!(ch, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        tokenize(1, 0, line, 0).unwrap().into_iter().map(|t| t.text.into_owned()).collect()
    }

    #[test]
    fn splits_on_blanks() {
        assert_eq!(texts("-A INPUT  -p tcp\t-j ACCEPT "), ["-A", "INPUT", "-p", "tcp", "-j", "ACCEPT"]);
    }

    #[test]
    fn quotes_group_and_escape() {
        assert_eq!(
            texts(r#"--log-prefix "DROP IN " --comment "say \"hi\"""#),
            ["--log-prefix", "DROP IN ", "--comment", "say \"hi\""]
        );
        assert_eq!(texts(r#"--comment """#), ["--comment", ""]);
        assert_eq!(texts(r#""a"b"#), ["a", "b"]);
        assert_eq!(texts(r#"ab"c d"e"#), ["abc d", "e"]);
    }

    #[test]
    fn spans_point_at_the_argument() {
        let toks = tokenize(3, 100, r#"-A X -m comment --comment "ns/svc:port""#, 0).unwrap();
        let last = toks.last().unwrap();
        assert_eq!((last.span.line, last.span.col, last.span.start), (3, 27, 126));
        assert!(last.quoted);
    }

    #[test]
    fn words_end_at_blanks_tabs_and_quotes_wherever_they_fall() {
        for len in 0..20 {
            for stop in [b' ', b'\t', b'"'] {
                let mut line = vec![b'x'; len];
                line.push(stop);
                line.extend_from_slice(b"yyyyyyyyyy");
                assert_eq!(find_any(&line, 0, [b' ', b'\t', b'"']), len);
            }
            assert_eq!(find_any(&vec![0x80; len], 0, [b' ', b'\t', b'"']), len);
            assert_eq!(find_any(&vec![b'a'; len], 0, [b'"', b'\\', b'"']), len);
        }
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let err = tokenize(7, 0, r#"-A X --comment "open"#, 0).unwrap_err();
        assert_eq!((err.span.line, err.span.col), (7, 16));
    }

    #[test]
    fn saves_like_iptables_save() {
        let mut s = String::new();
        push_quoted(&mut s, "plain-name_1");
        s.push(' ');
        push_quoted(&mut s, "ns/svc:port \"x\"");
        s.push(' ');
        push_quoted(&mut s, "");
        assert_eq!(s, r#"plain-name_1 "ns/svc:port \"x\"" """#);
    }
}
