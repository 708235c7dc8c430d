//! The permalink: the three inputs, deflated and written in base64url into the URL's fragment
//! (`#s=...`). Browsers never send the fragment to a server, so a shared link carries the dump without
//! the dump ever leaving the browsers that open it.

use crate::json;

/// What a permalink holds: a JSON object with these three strings, deflated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shared {
    /// The dump.
    pub rules: String,
    /// The host text.
    pub host: String,
    /// The packet line.
    pub packet: String,
}

/// The fragment's prefix, which also marks the format's version.
const PREFIX: &str = "s=";

/// The most bytes a permalink may inflate to: more than any real dump, less than a browser tab can hold.
const MAX_INFLATED: usize = 256 << 20;

/// The fragment (without `#`) that holds `shared`.
pub fn encode(shared: &Shared) -> String {
    let json = json::object(&[("rules", &shared.rules), ("host", &shared.host), ("packet", &shared.packet)]);
    let deflated = miniz_oxide::deflate::compress_to_vec(json.as_bytes(), 6);
    format!("{PREFIX}{}", base64url_encode(&deflated))
}

/// The inputs in `fragment` (with or without its `#`), if it is a permalink.
pub fn decode(fragment: &str) -> Option<Shared> {
    let data = fragment.strip_prefix('#').unwrap_or(fragment).strip_prefix(PREFIX)?;
    let deflated = base64url_decode(data)?;
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&deflated, MAX_INFLATED).ok()?;
    let (mut rules, mut host, mut packet) = (None, None, None);
    for (key, value) in json::parse_object(std::str::from_utf8(&json).ok()?)? {
        match key.as_str() {
            "rules" => rules = Some(value),
            "host" => host = Some(value),
            "packet" => packet = Some(value),
            _ => {}
        }
    }
    Some(Shared { rules: rules?, host: host?, packet: packet? })
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 with the URL-safe alphabet and no padding (RFC 4648, section 5).
fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let (mut n, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        n = n << 6 | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((n >> bits) as u8);
            n &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc_4648() {
        // The test vectors of RFC 4648, section 10, without padding.
        let vectors = [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE")];
        for (plain, encoded) in vectors {
            assert_eq!(base64url_encode(plain.as_bytes()), encoded);
            assert_eq!(base64url_decode(encoded).as_deref(), Some(plain.as_bytes()));
        }
        assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url_decode("+/8"), None);
    }

    #[test]
    fn inputs_come_back_exactly() {
        let e = crate::examples::FIRST;
        let shared = Shared { rules: e.rules.into(), host: e.host.into(), packet: format!("{} é🔥\r\n", e.packet) };
        let fragment = encode(&shared);
        assert!(fragment.starts_with("s="));
        assert!(fragment.bytes().all(|b| b.is_ascii_alphanumeric() || b"=-_".contains(&b)), "{fragment}");
        assert!(fragment.len() < e.rules.len(), "it is compressed");
        assert_eq!(decode(&format!("#{fragment}")), Some(shared));
    }

    #[test]
    fn other_fragments_are_not_permalinks() {
        assert_eq!(decode(""), None);
        assert_eq!(decode("#top"), None);
        assert_eq!(decode("#s=!!!"), None);
        assert_eq!(decode("#s=AAAA"), None);
    }
}
