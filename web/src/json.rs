//! The little JSON the page keeps and shares: a string (the host text and the packet line in
//! `localStorage`) and an object of strings (a permalink's inputs).
//!
//! Written by hand instead of with a JSON library because that is all the page needs, and a general JSON
//! reader and writer would cost the download several kilobytes. The output is what `serde_json` writes for
//! the same values, so keys and links written by earlier versions of the page read back the same.

/// Appends `s` as a JSON string: quoted, with `"`, `\` and control characters escaped.
pub fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(c as u8 >> 4)]));
                out.push(char::from(HEX[usize::from(c as u8 & 15)]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `s` as a JSON string.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_string(&mut out, s);
    out
}

/// A JSON object with the given keys and string values, in that order.
pub fn object(fields: &[(&str, &str)]) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, key);
        out.push(':');
        push_string(&mut out, value);
    }
    out.push('}');
    out
}

/// The string that `text` (a JSON string and nothing else but blanks) encodes.
pub fn parse_string(text: &str) -> Option<String> {
    let mut reader = Reader { rest: text };
    let s = reader.string()?;
    reader.end()?;
    Some(s)
}

/// The keys and values of `text`, a JSON object whose values are all strings, in the order written.
pub fn parse_object(text: &str) -> Option<Vec<(String, String)>> {
    let mut reader = Reader { rest: text };
    let mut fields = Vec::new();
    reader.punct('{')?;
    if !reader.try_punct('}') {
        loop {
            let key = reader.string()?;
            reader.punct(':')?;
            fields.push((key, reader.string()?));
            if reader.try_punct('}') {
                break;
            }
            reader.punct(',')?;
        }
    }
    reader.end()?;
    Some(fields)
}

/// Reads JSON tokens off the front of a text.
struct Reader<'a> {
    rest: &'a str,
}

impl Reader<'_> {
    fn skip_blanks(&mut self) {
        self.rest = self.rest.trim_start_matches([' ', '\t', '\n', '\r']);
    }

    /// Takes `c` (after blanks) if it comes next.
    fn try_punct(&mut self, c: char) -> bool {
        self.skip_blanks();
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn punct(&mut self, c: char) -> Option<()> {
        self.try_punct(c).then_some(())
    }

    /// Succeeds if only blanks are left.
    fn end(&mut self) -> Option<()> {
        self.skip_blanks();
        self.rest.is_empty().then_some(())
    }

    /// Reads a string, decoding its escapes.
    fn string(&mut self) -> Option<String> {
        self.punct('"')?;
        let mut out = String::new();
        let mut chars = self.rest.char_indices();
        loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => {
                    self.rest = &self.rest[i + 1..];
                    return Some(out);
                }
                '\\' => {
                    let c = match chars.next()?.1 {
                        '"' => '"',
                        '\\' => '\\',
                        '/' => '/',
                        'b' => '\u{8}',
                        'f' => '\u{c}',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        'u' => {
                            let unit = hex4(&mut chars)?;
                            if (0xd800..0xdc00).contains(&unit) {
                                // A high surrogate: the low one must follow as another `\u` escape.
                                if (chars.next()?.1, chars.next()?.1) != ('\\', 'u') {
                                    return None;
                                }
                                let low = hex4(&mut chars)?;
                                if !(0xdc00..0xe000).contains(&low) {
                                    return None;
                                }
                                char::from_u32(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00))?
                            } else {
                                char::from_u32(unit)?
                            }
                        }
                        _ => return None,
                    };
                    out.push(c);
                }
                c if c < ' ' => return None,
                c => out.push(c),
            }
        }
    }
}

/// The value of the four hex digits that come next.
fn hex4(chars: &mut std::str::CharIndices<'_>) -> Option<u32> {
    (0..4).try_fold(0, |n, _| Some(n << 4 | chars.next()?.1.to_digit(16)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        assert_eq!(string("plain"), r#""plain""#);
        assert_eq!(string("a \"b\" \\ /"), r#""a \"b\" \\ /""#);
        assert_eq!(string("\n\r\t\u{8}\u{c}\u{1}\u{1f}"), r#""\n\r\t\b\f\u0001\u001f""#);
        assert_eq!(string("é🔥\u{7f}"), "\"é🔥\u{7f}\"");
        assert_eq!(object(&[("a", "1"), ("b", "")]), r#"{"a":"1","b":""}"#);
        assert_eq!(object(&[]), "{}");
    }

    #[test]
    fn what_is_written_reads_back() {
        for s in ["", "tcp 192.0.2.1:1 -> 192.0.2.2:22", "\"\\\n\r\t\u{0}\u{8}\u{c}\u{1f} é🔥 </script>"] {
            assert_eq!(parse_string(&string(s)).as_deref(), Some(s));
        }
        let fields = [("rules", "*filter\nCOMMIT\n"), ("host", ""), ("packet", "x")];
        let back = parse_object(&object(&fields)).unwrap();
        let back: Vec<(&str, &str)> = back.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(back, fields);
    }

    #[test]
    fn other_writers_json_reads() {
        assert_eq!(parse_string(r#" "\u00e9\ud83d\udd25\/" "#).as_deref(), Some("é🔥/"));
        assert_eq!(parse_string(r#""\uD83D\uDD25""#).as_deref(), Some("🔥"));
        let fields = parse_object(" {\n \"b\" : \"2\" ,\t\"a\":\"1\" } ").unwrap();
        assert_eq!(fields, [("b".to_string(), "2".to_string()), ("a".to_string(), "1".to_string())]);
        assert_eq!(parse_object("{ }"), Some(Vec::new()));
    }

    #[test]
    fn malformed_json_is_refused() {
        for bad in [
            "",
            "plain",
            r#""open"#,
            r#""a" "b""#,
            r#""\x""#,
            r#""\u12""#,
            r#""\ud83d""#,
            r#""\ud83d\u0041""#,
            "\"tab\there\"",
            r#"12"#,
        ] {
            assert_eq!(parse_string(bad), None, "{bad}");
        }
        for bad in [r#"{"a":1}"#, r#"{"a":"1",}"#, r#"{"a""1"}"#, r#"{"a":"1""#, r#"["a"]"#, r#"{"a":"1"} x"#] {
            assert_eq!(parse_object(bad), None, "{bad}");
        }
    }
}
