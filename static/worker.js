// The playground's worker: it reads the rules and walks the packet off the page's thread, so that a
// 100k-rule dump does not freeze the page. It runs the page's own wasm (one binary for both): the page
// passes the URL of its wasm-bindgen module in `?glue=` and posts the compiled WebAssembly.Module as the
// first message; started without a window, the binary's `main` serves requests instead of rendering
// (web/src/worker.rs). The page waits for the worker's "ready" before it sends any.
const glue = new URL(self.location.href).searchParams.get("glue");
self.onmessage = async (event) => {
  self.onmessage = null;
  const { default: init } = await import(glue);
  await init({ module_or_path: event.data });
};
