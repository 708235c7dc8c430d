//! The worker's side: the same wasm binary as the page, started by `static/worker.js` in a dedicated
//! worker, where `main` finds no window and calls [`serve`] instead of rendering.
//!
//! It keeps the last dump it read, and the index of its rules once a walk has made it, so that a change to
//! the packet, the host or an assumption neither reads nor indexes a 100k-rule dump again: the page sends
//! the dump only when it changed.

use crate::analysis::{self, Inputs};
use crate::clock::now;
use crate::protocol::{Request, Response};
use crate::wire;
use chainwalk_core::walk::Index;
use chainwalk_core::Parsed;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

/// The message a worker posts once it can take requests.
pub const READY: &str = "ready";

thread_local! {
    /// The dump last read, with what the core made of it, and the index of its rules once a walk made it
    /// (so that a change to the packet, the host or an assumption walks at once).
    static DUMP: RefCell<(Parsed, Option<Index>)> = RefCell::new((chainwalk_core::parse("", None), None));
    /// The dump the last answer replaced, until [`release`] frees it.
    static REPLACED: RefCell<Option<(Parsed, Option<Index>)>> = const { RefCell::new(None) };
}

/// Answers `request`; `rules` is the dump when it changed since the last request, `None` otherwise. The
/// dump it replaces is kept until [`release`], so that freeing a big dump does not delay the answer.
pub fn answer(rules: Option<&str>, request: &Request) -> Response {
    DUMP.with(|dump| {
        let start = now();
        if let Some(rules) = rules {
            let parsed = chainwalk_core::parse(rules, None);
            let replaced = std::mem::replace(&mut *dump.borrow_mut(), (parsed, None));
            REPLACED.with(|r| *r.borrow_mut() = Some(replaced));
        }
        let parse_ms = now() - start;
        let inputs = Inputs {
            host: &request.host,
            packet: &request.packet,
            overrides: &request.overrides,
            expand: &request.expand,
        };
        let (parsed, index) = &mut *dump.borrow_mut();
        let mut outcome = analysis::run_indexed(parsed, index, inputs);
        outcome.timing.parse_ms = parse_ms;
        Response { seq: request.seq, outcome }
    })
}

/// Frees the dump the last answer replaced, once that answer is on its way.
pub fn release() {
    // Taken out first, so that the dump is dropped outside the borrow.
    drop(REPLACED.with(|r| r.borrow_mut().take()));
}

/// Takes requests from the page until the worker is ended. A message is `[REQUEST, DUMP_OR_NULL]`, the
/// request's bytes (see [`crate::wire`]) and the dump's UTF-8, each a `Uint8Array`; the answer is the
/// response's bytes, whose buffer is moved to the page.
pub fn serve() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let reply = scope.clone();
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let start = now();
        let message: js_sys::Array = event.data().unchecked_into();
        // The dump's UTF-8 bytes (see `bridge`), when it changed.
        let rules = message.get(1).dyn_into::<js_sys::Uint8Array>().ok().map(|bytes| {
            String::from_utf8(bytes.to_vec()).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        });
        let request = message.get(0).dyn_into::<js_sys::Uint8Array>().ok().map(|bytes| bytes.to_vec());
        let Some(request) = request.and_then(|bytes| wire::decode::<Request>(&bytes)) else {
            return;
        };
        let receive_ms = now() - start;
        let mut response = answer(rules.as_deref(), &request);
        response.outcome.timing.receive_ms = receive_ms;
        let bytes = js_sys::Uint8Array::from(wire::encode(&response).as_slice());
        let _ = reply.post_message_with_transfer(&bytes, &js_sys::Array::of1(&bytes.buffer()));
        drop((rules, response));
        release();
    });
    scope.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    onmessage.forget();
    let _ = scope.post_message(&JsValue::from_str(READY));
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

    /// Where the worker's time goes with a 100k-rule kube-proxy dump, natively (the page's worker runs the
    /// same code as wasm, some times slower): `cargo test --release -p chainwalk-web -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a test"]
    fn the_phases_of_a_100k_rule_walk() {
        let dump = chainwalk_bench::gen::generate(chainwalk_bench::gen::Kind::Kube, 100_000);
        let host = "eth0 UP 192.168.0.10/24\ncni0 UP 10.244.1.1/24\ndefault via 192.168.0.1 dev eth0\nnet.ipv4.ip_forward = 1\n";
        let request = |seq| Request {
            seq,
            host: host.into(),
            packet: "tcp 10.244.1.5:40000 -> 10.104.70.99:80 in cni0 syn".into(),
            ..Request::default()
        };
        answer(Some(""), &request(0));
        release();
        for (seq, rules) in [(1, Some(dump.as_str())), (2, None), (3, Some(dump.as_str())), (4, None)] {
            let start = now();
            let response = answer(rules, &request(seq));
            let answered = now() - start;
            let start = now();
            release();
            let released = now() - start;
            let t = response.outcome.timing;
            let walk = response.outcome.walk.expect("a walk");
            assert!(walk.fate.summary.starts_with("Rejected"), "{}", walk.fate.summary);
            eprintln!(
                "{} dump: answered in {answered:.1} ms: read {:.1}, indexed {:.1}, walked {:.1} ({} steps), shaped {:.1} \
                 ({} entries); then freed the replaced dump in {released:.1} ms",
                if rules.is_some() { "new" } else { "same" },
                t.parse_ms,
                t.index_ms,
                t.walk_ms,
                walk.steps,
                t.shape_ms,
                walk.entries.len()
            );
        }
    }
}
