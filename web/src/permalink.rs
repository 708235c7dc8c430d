//! The permalink: the three inputs, deflated and written in base64url into the URL's fragment
//! (`#s=...`). Browsers never send the fragment to a server, so a shared link carries the dump without
//! the dump ever leaving the browsers that open it.
//!
//! The browser's own `CompressionStream` and `DecompressionStream` (raw deflate, RFC 1951) do the
//! deflating, so the page carries no deflate code of its own; links written before, with a Rust deflater,
//! are the same format and read the same.

use crate::json;
use wasm_bindgen::JsCast;

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

/// The fragment (without `#`) that holds `shared`; `None` where the browser cannot deflate.
pub async fn encode(shared: &Shared) -> Option<String> {
    let json = json::object(&[("rules", &shared.rules), ("host", &shared.host), ("packet", &shared.packet)]);
    let deflated = deflate(json.as_bytes()).await?;
    Some(format!("{PREFIX}{}", base64url_encode(&deflated)))
}

/// The inputs in `fragment` (with or without its `#`), if it is a permalink.
pub async fn decode(fragment: &str) -> Option<Shared> {
    let deflated = deflated_of(fragment)?;
    let json = inflate(&deflated).await?;
    shared_of(std::str::from_utf8(&json).ok()?)
}

/// `bytes` deflated (raw deflate) by the browser; `None` where it cannot.
pub async fn deflate(bytes: &[u8]) -> Option<Vec<u8>> {
    through(bytes, &stream("CompressionStream")?, usize::MAX).await
}

/// `deflated` inflated by the browser, up to the most a permalink may hold; `None` if it is not deflate.
pub async fn inflate(deflated: &[u8]) -> Option<Vec<u8>> {
    through(deflated, &stream("DecompressionStream")?, MAX_INFLATED).await
}

/// The deflated bytes in `fragment`, if it is a permalink.
fn deflated_of(fragment: &str) -> Option<Vec<u8>> {
    base64url_decode(fragment.strip_prefix('#').unwrap_or(fragment).strip_prefix(PREFIX)?)
}

/// The inputs a permalink's JSON holds, if it holds all three.
fn shared_of(json: &str) -> Option<Shared> {
    let (mut rules, mut host, mut packet) = (None, None, None);
    for (key, value) in json::parse_object(json)? {
        match key.as_str() {
            "rules" => rules = Some(value),
            "host" => host = Some(value),
            "packet" => packet = Some(value),
            _ => {}
        }
    }
    Some(Shared { rules: rules?, host: host?, packet: packet? })
}

/// A new `CompressionStream` or `DecompressionStream` (`class`) for raw deflate: an object with a
/// `readable` and a `writable` side, which is what `pipeThrough` takes. `None` where the browser has none.
fn stream(class: &str) -> Option<web_sys::ReadableWritablePair> {
    let class: js_sys::Function = js_sys::Reflect::get(&js_sys::global(), &class.into()).ok()?.dyn_into().ok()?;
    let stream = js_sys::Reflect::construct(&class, &js_sys::Array::of1(&"deflate-raw".into())).ok()?;
    Some(stream.unchecked_into())
}

/// How many bytes go into a (de)compression stream at a time: each piece is a short task of its own, so
/// typing and rendering go on while a big dump is deflated.
const PIECE: u32 = 256 * 1024;

/// `bytes` run through a (de)compression stream's two sides, `pair`; `None` if the stream fails (the
/// bytes are not deflate) or its output grows past `limit` bytes.
async fn through(bytes: &[u8], pair: &web_sys::ReadableWritablePair, limit: usize) -> Option<Vec<u8>> {
    let writer = pair.get_writable().get_writer().ok()?;
    let reader: web_sys::ReadableStreamDefaultReader = pair.get_readable().get_reader().dyn_into().ok()?;
    // Written piece by piece while the other side is read.
    let input = js_sys::Uint8Array::from(bytes);
    js_sys::futures::spawn_local(async move {
        let mut at = 0;
        while at < input.length() {
            let end = input.length().min(at + PIECE);
            if writer.write_with_chunk(&input.subarray(at, end)).await.is_err() {
                return;
            }
            at = end;
        }
        let _ = writer.close().await;
    });
    let mut out = Vec::new();
    loop {
        let chunk = reader.read().await.ok()?;
        if js_sys::Reflect::get(&chunk, &"done".into()).ok()?.is_truthy() {
            return Some(out);
        }
        let value: js_sys::Uint8Array = js_sys::Reflect::get(&chunk, &"value".into()).ok()?.dyn_into().ok()?;
        if out.len() + value.length() as usize > limit {
            let _ = reader.cancel();
            return None;
        }
        let start = out.len();
        out.resize(start + value.length() as usize, 0);
        value.copy_to(&mut out[start..]);
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 with the URL-safe alphabet and no padding (RFC 4648, section 5).
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
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
    fn the_json_holds_the_three_inputs() {
        let json = json::object(&[("rules", "*filter\nCOMMIT\n"), ("host", ""), ("packet", "tcp é🔥\r\n")]);
        let shared = Shared { rules: "*filter\nCOMMIT\n".into(), host: String::new(), packet: "tcp é🔥\r\n".into() };
        assert_eq!(shared_of(&json), Some(shared));
        assert_eq!(shared_of(r#"{"rules":"x","host":""}"#), None);
        assert_eq!(shared_of("[]"), None);
    }

    #[test]
    fn other_fragments_are_not_permalinks() {
        assert_eq!(deflated_of(""), None);
        assert_eq!(deflated_of("#top"), None);
        assert_eq!(deflated_of("#s=!!!"), None);
        assert_eq!(deflated_of("#s=AAAA"), Some(vec![0, 0, 0]));
    }
}
