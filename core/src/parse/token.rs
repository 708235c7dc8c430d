//! Splitting a rule line into arguments, the way `iptables-restore` does.
//!
//! `iptables-restore` (`add_param_to_argv` in iptables' `xshared.c`) splits on spaces and tabs, groups text
//! between double quotes into one argument (an empty pair of quotes is an empty argument), and inside quotes
//! takes a backslash to mean "the next character as it is". A closing quote ends the argument, even when
//! text follows it directly. Outside quotes a backslash is an ordinary character.

use crate::diag::Diagnostic;
use crate::span::Span;

/// The longest argument `iptables-restore` takes (its buffer is 1024 bytes with the terminating NUL).
pub const MAX_ARG_LEN: usize = 1023;

/// One argument of a rule line, unquoted, with where it stood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    /// The argument's text with quotes and escapes removed.
    pub text: std::borrow::Cow<'a, str>,
    /// The bytes it was read from, quotes included.
    pub span: Span,
    /// Whether it was written in quotes (a quoted argument is always a value, never an option).
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
    // The argument being read: where it started, its text so far, whether a quote was seen.
    let mut start: Option<usize> = None;
    let mut buf = String::new();
    let mut quoted = false;
    let mut quote_open = false;
    let mut escaped = false;
    let mut emit =
        |start: &mut Option<usize>, end: usize, buf: &mut String, quoted: &mut bool| -> Result<(), Diagnostic> {
            let from = start.take().unwrap_or(end);
            let span = Span::within_line(line, line_start, line_text, from, end);
            check_len(buf, span)?;
            let raw = &line_text[from..end];
            let text = if !*quoted && raw == buf.as_str() {
                std::borrow::Cow::Borrowed(raw)
            } else {
                std::borrow::Cow::Owned(buf.clone())
            };
            tokens.push(Token { text, span, quoted: *quoted });
            buf.clear();
            *quoted = false;
            Ok(())
        };
    for (i, ch) in line_text[offset..].char_indices() {
        let i = i + offset;
        if quote_open {
            if escaped {
                buf.push(ch);
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                quote_open = false;
                emit(&mut start, i + 1, &mut buf, &mut quoted)?;
            } else {
                buf.push(ch);
            }
            continue;
        }
        match ch {
            '"' => {
                start.get_or_insert(i);
                quote_open = true;
                quoted = true;
            }
            ' ' | '\t' => {
                if start.is_some() {
                    emit(&mut start, i, &mut buf, &mut quoted)?;
                }
            }
            _ => {
                start.get_or_insert(i);
                buf.push(ch);
            }
        }
    }
    if quote_open {
        let span = Span::within_line(line, line_start, line_text, start.unwrap_or(offset), line_text.len());
        return Err(Diagnostic::error(span, "this quoted argument has no closing quote")
            .with_hint("add a `\"` at the end of the argument"));
    }
    if start.is_some() {
        emit(&mut start, line_text.len(), &mut buf, &mut quoted)?;
    }
    Ok(tokens)
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
