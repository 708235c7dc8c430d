//! The worker's side: the same wasm binary as the page, started by `static/worker.js` in a dedicated
//! worker, where `main` finds no window and calls [`serve`] instead of rendering.
//!
//! It keeps the last dump it read, so that a change to the packet, the host or an assumption does not read
//! a 100k-rule dump again: the page sends the dump only when it changed.

use crate::analysis::{self, Inputs};
use crate::protocol::{Request, Response, Timing};
use chainwalk_core::Parsed;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

/// The message a worker posts once it can take requests.
pub const READY: &str = "ready";

thread_local! {
    /// The dump last read, with what the core made of it.
    static DUMP: RefCell<Parsed> = RefCell::new(chainwalk_core::parse("", None));
}

/// Answers `request`; `rules` is the dump when it changed since the last request, `None` otherwise.
pub fn answer(rules: Option<&str>, request: &Request) -> Response {
    let start = now();
    DUMP.with(|dump| {
        if let Some(rules) = rules {
            *dump.borrow_mut() = chainwalk_core::parse(rules, None);
        }
        let parsed = now();
        let inputs = Inputs {
            host: &request.host,
            packet: &request.packet,
            overrides: &request.overrides,
            expand: &request.expand,
        };
        let mut outcome = analysis::run(&dump.borrow(), inputs);
        outcome.timing = Timing { parse_ms: parsed - start, walk_ms: now() - parsed };
        Response { seq: request.seq, outcome }
    })
}

/// Takes requests from the page until the worker is ended. A message is `[REQUEST, DUMP_OR_NULL]`; the
/// answer is the response (both as `serde-wasm-bindgen` writes them).
pub fn serve() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let reply = scope.clone();
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let message: js_sys::Array = event.data().unchecked_into();
        let rules = message.get(1).as_string();
        let Some(request) = serde_wasm_bindgen::from_value::<Request>(message.get(0)).ok() else {
            return;
        };
        let response = answer(rules.as_deref(), &request);
        if let Ok(value) = serde_wasm_bindgen::to_value(&response) {
            let _ = reply.post_message(&value);
        }
    });
    scope.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    onmessage.forget();
    let _ = scope.post_message(&JsValue::from_str(READY));
}

/// `performance.now()` in the page or the worker.
#[cfg(target_arch = "wasm32")]
pub fn now() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance"))
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map_or(0.0, |p| p.now())
}

/// No clock on the host, where only the tests run this code.
#[cfg(not(target_arch = "wasm32"))]
pub fn now() -> f64 {
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dump_is_kept_between_requests() {
        let dump = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n";
        let packet = "tcp 192.0.2.1:40000 -> 192.0.2.2:22 in eth0 syn".to_string();
        let first = answer(Some(dump), &Request { seq: 1, packet: packet.clone(), ..Request::default() });
        assert_eq!((first.seq, first.outcome.dump.rules), (1, 1));
        let second = answer(None, &Request { seq: 2, packet, ..Request::default() });
        assert_eq!((second.seq, second.outcome.dump.rules), (2, 1));
        assert_eq!(second.outcome.walk.map(|w| w.fate.summary), first.outcome.walk.map(|w| w.fate.summary));
    }
}
