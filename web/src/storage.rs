//! Keeping the dump across reloads, in the browser's `localStorage`.
//!
//! Nothing leaves the browser: the text is stored under one key of this origin's storage.

use gloo::storage::{LocalStorage, Storage};

/// The `localStorage` key the dump is kept under.
const KEY: &str = "chainwalk.rules";

/// The dump the user last had in the editor, if there is one (and storage is available).
pub fn load() -> Option<String> {
    LocalStorage::get(KEY).ok()
}

/// Remembers `text` for the next visit. Storage may be full or disabled (private windows); the page works
/// without it, so a failure is ignored.
pub fn save(text: &str) {
    let _ = LocalStorage::set(KEY, text);
}
