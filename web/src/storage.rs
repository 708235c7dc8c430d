//! Keeping the inputs across reloads, in the browser's `localStorage`.
//!
//! Nothing leaves the browser: each input is stored under one key of this origin's storage. A dump too big
//! for the storage (browsers allow about 5 million characters per origin) is not kept; its size is, so that
//! the next visit can say why the dump is gone.

use crate::json;
use gloo::storage::{LocalStorage, Storage};

const RULES: &str = "chainwalk.rules";
const HOST: &str = "chainwalk.host";
const PACKET: &str = "chainwalk.packet";
const TOO_BIG: &str = "chainwalk.rules-too-big";

/// The inputs a visit starts with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kept {
    /// The dump, if one was kept.
    pub rules: Option<String>,
    /// The host text.
    pub host: Option<String>,
    /// The packet line.
    pub packet: Option<String>,
    /// The size in bytes of a dump that was too big to keep.
    pub too_big: Option<usize>,
}

/// What the last visit left.
pub fn load() -> Kept {
    Kept {
        rules: raw(RULES),
        host: stored(HOST).and_then(|value| json::parse_string(&value)),
        packet: stored(PACKET).and_then(|value| json::parse_string(&value)),
        too_big: stored(TOO_BIG).and_then(|value| value.parse().ok()),
    }
}

/// Remembers the dump for the next visit. Storage may be full or disabled (private windows); the page works
/// without it.
pub fn save_rules(text: &str) {
    // Stored as it is (not as JSON like the other keys): a big dump is not copied once more to escape it.
    if LocalStorage::raw().set_item(RULES, text).is_ok() {
        LocalStorage::delete(TOO_BIG);
    } else {
        LocalStorage::delete(RULES);
        store(TOO_BIG, &text.len().to_string());
    }
}

/// The text under `key` as it is. The first version of the page stored the dump as a JSON string; such a
/// value is read back as the text it encodes (a dump never starts with a quote).
fn raw(key: &str) -> Option<String> {
    let value = stored(key)?;
    if value.starts_with('"') {
        if let Some(text) = json::parse_string(&value) {
            return Some(text);
        }
    }
    Some(value)
}

/// Remembers the host text and the packet line (each as a JSON string).
pub fn save_host_and_packet(host: &str, packet: &str) {
    store(HOST, &json::string(host));
    store(PACKET, &json::string(packet));
}

/// The value stored under `key`.
fn stored(key: &str) -> Option<String> {
    LocalStorage::raw().get_item(key).ok()?
}

/// Stores `value` under `key`, if the storage takes it.
fn store(key: &str, value: &str) {
    let _ = LocalStorage::raw().set_item(key, value);
}
