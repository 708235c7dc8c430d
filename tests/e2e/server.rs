//! A tiny static file server over `dist/` that records every request, so a test can check that the page
//! asked for nothing but its own files.
//!
//! One thread accepts, one thread per connection answers a single `GET` and closes (`Connection: close`);
//! that is all a page load needs and keeps the code obvious.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

/// One request the server answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The request path, without the query.
    pub path: String,
    /// The status it got.
    pub status: u16,
}

/// A running server; it stops when the test process ends. Clones share the request log.
#[derive(Clone)]
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    log: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    /// Serves the files under `root` on a free port of 127.0.0.1.
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the static server");
        let origin = format!("http://{}", listener.local_addr().expect("server address"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (root, shared) = (root.to_path_buf(), log.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, log) = (root.clone(), shared.clone());
                thread::spawn(move || answer(stream, &root, &log));
            }
        });
        Server { origin, log }
    }

    /// The requests answered so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn answer(mut stream: TcpStream, root: &Path, log: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Read (and ignore) the headers up to the blank line.
    let mut header = String::new();
    while reader.read_line(&mut header).map(|n| n > 2).unwrap_or(false) {
        header.clear();
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split(['?', '#']).next().unwrap_or("").to_string();
    let file = resolve(root, &path);
    let (status, body, content_type) = match (method, file.and_then(|f| std::fs::read(&f).ok().map(|b| (f, b)))) {
        ("GET", Some((file, body))) => (200, body, content_type(&file)),
        ("GET", None) => (404, b"not found".to_vec(), "text/plain"),
        _ => (405, b"method not allowed".to_vec(), "text/plain"),
    };
    log.lock().unwrap_or_else(|e| e.into_inner()).push(Request { path, status });
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
}

/// The file under `root` that `path` names (`/` is `index.html`); nothing outside `root`.
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = path.strip_prefix('/')?;
    if relative.split('/').any(|part| part == ".." || part.starts_with('.')) {
        return None;
    }
    let file = if relative.is_empty() { root.join("index.html") } else { root.join(relative) };
    file.is_file().then_some(file)
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        _ => "text/plain; charset=utf-8",
    }
}
