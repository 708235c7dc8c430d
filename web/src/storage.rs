//! Keeping the inputs across reloads, in the browser's `localStorage`.
//!
//! Nothing leaves the browser: each input is stored under one key of this origin's storage. A dump too big
//! for the storage (browsers allow about 5 million characters per origin) is not kept; its size is, so that
//! the next visit can say why the dump is gone.

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
        host: LocalStorage::get(HOST).ok(),
        packet: LocalStorage::get(PACKET).ok(),
        too_big: LocalStorage::get(TOO_BIG).ok(),
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
        let _ = LocalStorage::set(TOO_BIG, text.len());
    }
}

/// The text under `key` as it is. The first version of the page stored the dump as a JSON string; such a
/// value is read back as the text it encodes (a dump never starts with a quote).
fn raw(key: &str) -> Option<String> {
    let value = LocalStorage::raw().get_item(key).ok()??;
    if value.starts_with('"') {
        if let Ok(text) = serde_json::from_str(&value) {
            return Some(text);
        }
    }
    Some(value)
}

/// Remembers the host text and the packet line.
pub fn save_host_and_packet(host: &str, packet: &str) {
    let _ = LocalStorage::set(HOST, host);
    let _ = LocalStorage::set(PACKET, packet);
}
