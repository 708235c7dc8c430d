//! Keeping the inputs across reloads, in the browser's `localStorage`.
//!
//! Nothing leaves the browser: each input is stored under one key of this origin's storage. A dump too big
//! for the storage as it is (browsers allow about 5 million characters per origin) is kept deflated by the
//! browser, in base64 (a 100k-rule kube-proxy dump of 15 MB takes 3.4 million characters); one too big
//! even so is not kept, but its size is, so that the next visit can say why the dump is gone.

use crate::{json, permalink};
use gloo::storage::{LocalStorage, Storage};
use std::cell::Cell;

const RULES: &str = "chainwalk.rules";
const DEFLATED: &str = "chainwalk.rules-deflated";
const HOST: &str = "chainwalk.host";
const PACKET: &str = "chainwalk.packet";
const TOO_BIG: &str = "chainwalk.rules-too-big";

thread_local! {
    /// How many dumps were saved: a deflated one is stored only if no other was saved since.
    static SAVES: Cell<u64> = const { Cell::new(0) };
}

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
    let save = SAVES.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    // Stored as it is (not as JSON like the other keys): a big dump is not copied once more to escape it.
    if LocalStorage::raw().set_item(RULES, text).is_ok() {
        LocalStorage::delete(DEFLATED);
        LocalStorage::delete(TOO_BIG);
        return;
    }
    // Too big: deflated (the browser answers asynchronously) and kept if it fits. Until then the dump
    // kept deflated before stays (a page left right after a keystroke keeps all but that keystroke),
    // else its size says why none is kept.
    LocalStorage::delete(RULES);
    store(TOO_BIG, &text.len().to_string());
    let text = text.to_string();
    js_sys::futures::spawn_local(async move {
        let Some(deflated) = permalink::deflate(text.as_bytes()).await else { return };
        drop(text);
        if SAVES.with(Cell::get) != save {
            return;
        }
        if LocalStorage::raw().set_item(DEFLATED, &permalink::base64url_encode(&deflated)).is_ok() {
            LocalStorage::delete(TOO_BIG);
        } else {
            // Not an older dump instead: the next visit says this one was too big.
            LocalStorage::delete(DEFLATED);
        }
    });
}

/// The dump kept deflated by the last visit (when it was too big to keep as it is), inflated.
pub async fn deflated_rules() -> Option<String> {
    if stored(RULES).is_some() {
        return None;
    }
    let deflated = permalink::base64url_decode(&stored(DEFLATED)?)?;
    String::from_utf8(permalink::inflate(&deflated).await?).ok()
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
