//! Time, for the measurements the browser tests read (see `tests/e2e` and `scripts/budgets`): a clock that
//! works in the page, in the worker and on the host, and `performance` marks and measures in the page.

/// Milliseconds since the page or the worker started (`performance.now()`).
#[cfg(target_arch = "wasm32")]
pub fn now() -> f64 {
    use wasm_bindgen::{JsCast, JsValue};
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance"))
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map_or(0.0, |p| p.now())
}

/// Milliseconds since the first call, on the host, where the tests and the native measurements run.
#[cfg(not(target_arch = "wasm32"))]
pub fn now() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_secs_f64() * 1e3
}

/// Seconds since 1970 (UTC) by the wall clock: when a packet walked now arrives, for `-m time`.
#[cfg(target_arch = "wasm32")]
pub fn seconds_since_1970() -> Option<u64> {
    let ms = js_sys::Date::now();
    (ms.is_finite() && ms >= 0.0).then(|| (ms / 1e3) as u64)
}

/// Seconds since 1970 (UTC) by the host's clock.
#[cfg(not(target_arch = "wasm32"))]
pub fn seconds_since_1970() -> Option<u64> {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).ok()
}

fn performance() -> Option<web_sys::Performance> {
    web_sys::window().and_then(|w| w.performance())
}

/// A `performance` mark in the page.
pub fn mark(name: &str) {
    if let Some(p) = performance() {
        let _ = p.mark(name);
    }
}

/// A `performance` measure in the page, from the mark `start` to now.
pub fn measure(name: &str, start: &str) {
    if let Some(p) = performance() {
        let _ = p.measure_with_start_mark(name, start);
    }
}
