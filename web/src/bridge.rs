//! The page's side of the worker: it starts the worker, sends it the inputs and hands the answers back.
//!
//! - At most one request is with the worker at a time; while it works, newer inputs wait as the one
//!   pending request, each replacing the last, so a burst of edits costs one more walk, not one per edit.
//! - Each request has a sequence number; an answer is handed on only if no newer request is pending (a
//!   stale answer is dropped, its successor is sent).
//! - The dump is sent only when it changed since the worker last read it.
//! - Work that takes longer than [`BUSY_AFTER_MS`] is announced (the page shows a progress indicator).
//!
//! The worker is `static/worker.js`, which loads the page's own wasm-bindgen module and starts the page's
//! compiled wasm module again, in worker mode (see `worker`). Where no worker can be started, the work runs
//! on the page's thread after a zero timeout (the page then freezes while a big dump is read, but works).

use crate::clock::{mark, measure};
use crate::protocol::{Outcome, Request, Response};
use crate::wire;
use crate::worker::{self, READY};
use gloo::timers::callback::Timeout;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};
use yew::Callback;

/// How long work may take before the page says it is working, in milliseconds.
pub const BUSY_AFTER_MS: u32 = 200;

/// The inputs of one walk, as the page has them.
#[derive(Clone, Debug)]
pub struct Job {
    /// The dump.
    pub rules: Rc<str>,
    /// Changes whenever the dump does.
    pub rules_version: u64,
    /// The rest of the inputs; its `seq` numbers the job (newer jobs have bigger numbers).
    pub request: Request,
}

/// An answer for the page.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The dump the answer is about (its spans are byte offsets into it).
    pub rules: Rc<str>,
    /// The request's sequence number.
    pub seq: u64,
    /// The answer.
    pub outcome: Outcome,
}

/// The connection to the worker.
pub struct Bridge {
    inner: Rc<RefCell<Inner>>,
}

struct Inner {
    engine: Engine,
    in_flight: Option<Job>,
    pending: Option<Job>,
    /// The version of the dump the worker holds.
    worker_rules: Option<u64>,
    on_result: Callback<Delivery>,
    on_busy: Callback<bool>,
    busy_timer: Option<Timeout>,
}

enum Engine {
    /// A dedicated worker, and whether it said it is ready.
    Worker { worker: Worker, ready: bool },
    /// No worker: the work runs on the page's thread.
    Inline,
}

impl Bridge {
    /// Starts the worker. `on_result` gets each answer that is not stale; `on_busy` hears when work has
    /// taken longer than [`BUSY_AFTER_MS`] (true) and when it is done (false).
    pub fn start(on_result: Callback<Delivery>, on_busy: Callback<bool>) -> Bridge {
        let inner = Rc::new(RefCell::new(Inner {
            engine: Engine::Inline,
            in_flight: None,
            pending: None,
            worker_rules: None,
            on_result,
            on_busy,
            busy_timer: None,
        }));
        if let Some(worker) = spawn(&inner) {
            inner.borrow_mut().engine = Engine::Worker { worker, ready: false };
        }
        Bridge { inner }
    }

    /// Asks for a walk of `job`; it replaces any request still waiting to be sent.
    pub fn submit(&self, job: Job) {
        let mut inner = self.inner.borrow_mut();
        inner.pending = Some(job);
        if inner.busy_timer.is_none() {
            let on_busy = inner.on_busy.clone();
            inner.busy_timer = Some(Timeout::new(BUSY_AFTER_MS, move || on_busy.emit(true)));
        }
        drop(inner);
        pump(&self.inner);
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Engine::Worker { worker, .. } = &self.inner.borrow().engine {
            worker.terminate();
        }
    }
}

/// Starts `static/worker.js` as a module worker and hands it this wasm module; `None` if it cannot be.
fn spawn(inner: &Rc<RefCell<Inner>>) -> Option<Worker> {
    let document = web_sys::window()?.document()?;
    let glue = document.query_selector("script[data-chainwalk-js]").ok()??.get_attribute("data-chainwalk-js")?;
    let base = document.base_uri().ok()??;
    let glue = web_sys::Url::new_with_base(&glue, &base).ok()?.href();
    let url = web_sys::Url::new_with_base("static/worker.js", &base).ok()?;
    url.search_params().set("glue", &glue);
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    let worker = Worker::new_with_options(&url.href(), &options).ok()?;

    let weak = Rc::downgrade(inner);
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        if let Some(inner) = weak.upgrade() {
            received(&inner, event.data());
        }
    });
    worker.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    let weak = Rc::downgrade(inner);
    let onerror = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        if let Some(inner) = weak.upgrade() {
            failed(&inner);
        }
    });
    worker.set_onerror(Some(onerror.as_ref().unchecked_ref()));
    onerror.forget();
    worker.post_message(&wasm_bindgen::module()).ok()?;
    Some(worker)
}

/// Sends the pending request if the worker is free.
fn pump(cell: &Rc<RefCell<Inner>>) {
    let mut inner = cell.borrow_mut();
    if inner.in_flight.is_some() {
        return;
    }
    let ready = match &inner.engine {
        Engine::Worker { ready, .. } => *ready,
        Engine::Inline => true,
    };
    if !ready {
        return;
    }
    let Some(job) = inner.pending.take() else { return };
    let rules_changed = inner.worker_rules != Some(job.rules_version);
    inner.worker_rules = Some(job.rules_version);
    mark(&format!("chainwalk:post:{}", job.request.seq));
    match &inner.engine {
        Engine::Worker { worker, .. } => {
            let request = js_sys::Uint8Array::from(wire::encode(&job.request).as_slice());
            // The dump goes as its UTF-8 bytes, moved to the worker: a JavaScript string would be decoded
            // here and encoded again there, which for a 100k-rule dump costs more than the copies.
            let (rules, transfer) = if rules_changed {
                let bytes = js_sys::Uint8Array::from(job.rules.as_bytes());
                let transfer = js_sys::Array::of1(&bytes.buffer());
                (JsValue::from(bytes), transfer)
            } else {
                (JsValue::NULL, js_sys::Array::new())
            };
            let message = js_sys::Array::of2(&request, &rules);
            if worker.post_message_with_transfer(&message, &transfer).is_err() {
                return;
            }
        }
        Engine::Inline => {
            let weak = Rc::downgrade(cell);
            let (rules, request) = (rules_changed.then(|| job.rules.clone()), job.request.clone());
            Timeout::new(0, move || {
                let response = worker::answer(rules.as_deref(), &request);
                if let Some(inner) = weak.upgrade() {
                    delivered(&inner, response);
                }
                // After the answer is shown, as the worker does after it is sent.
                Timeout::new(0, worker::release).forget();
            })
            .forget();
        }
    }
    inner.in_flight = Some(job);
}

/// A message from the worker: that it is ready, or an answer.
fn received(cell: &Rc<RefCell<Inner>>, data: JsValue) {
    if data.as_string().as_deref() == Some(READY) {
        if let Engine::Worker { ready, .. } = &mut cell.borrow_mut().engine {
            *ready = true;
        }
        pump(cell);
        return;
    }
    mark("chainwalk:received");
    let bytes = data.dyn_into::<js_sys::Uint8Array>().ok().map(|bytes| bytes.to_vec());
    let response = bytes.and_then(|bytes| wire::decode::<Response>(&bytes));
    measure("chainwalk:deserialize", "chainwalk:received");
    match response {
        Some(response) => delivered(cell, response),
        None => failed(cell),
    }
}

fn delivered(cell: &Rc<RefCell<Inner>>, response: Response) {
    let mut inner = cell.borrow_mut();
    let Some(job) = inner.in_flight.take() else { return };
    let current = inner.pending.is_none() && job.request.seq == response.seq;
    if current {
        measure("chainwalk:roundtrip", &format!("chainwalk:post:{}", response.seq));
        mark(&format!("chainwalk:answer:{}", response.seq));
    }
    let done = current.then(|| {
        inner.busy_timer = None;
        let delivery = Delivery { rules: job.rules, seq: response.seq, outcome: response.outcome };
        (inner.on_result.clone(), inner.on_busy.clone(), delivery)
    });
    drop(inner);
    if let Some((on_result, on_busy, delivery)) = done {
        on_result.emit(delivery);
        on_busy.emit(false);
    }
    pump(cell);
}

/// The worker stopped: it could not load (the page goes on without one), or the core crashed on the
/// request it had (that request is answered with the failure, and a fresh worker takes the next ones).
fn failed(cell: &Rc<RefCell<Inner>>) {
    let mut inner = cell.borrow_mut();
    let was_ready = matches!(inner.engine, Engine::Worker { ready: true, .. });
    if let Engine::Worker { worker, .. } = &inner.engine {
        worker.terminate();
    }
    inner.engine = Engine::Inline;
    inner.worker_rules = None;
    let crashed = if was_ready { inner.in_flight.take() } else { None };
    if let Some(job) = inner.in_flight.take() {
        // It never reached a worker that could answer: send it again, unless a newer one waits.
        inner.pending.get_or_insert(job);
    }
    drop(inner);
    if let Some(job) = crashed {
        if let Some(worker) = spawn(cell) {
            cell.borrow_mut().engine = Engine::Worker { worker, ready: false };
        }
        let outcome = Outcome {
            failure: Some("chainwalk stopped with an internal error on these inputs; please report them.".into()),
            ..Outcome::default()
        };
        let seq = job.request.seq;
        delivered_failure(cell, Delivery { rules: job.rules, seq, outcome });
    }
    pump(cell);
}

fn delivered_failure(cell: &Rc<RefCell<Inner>>, delivery: Delivery) {
    let mut inner = cell.borrow_mut();
    if inner.pending.is_some() {
        return;
    }
    inner.busy_timer = None;
    let (on_result, on_busy) = (inner.on_result.clone(), inner.on_busy.clone());
    drop(inner);
    on_result.emit(delivery);
    on_busy.emit(false);
}
