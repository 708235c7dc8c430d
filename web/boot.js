// Starts the playground. The page's Content-Security-Policy allows no inline script, so this file replaces
// the inline loader trunk would write: trunk puts the hashed names of the wasm-bindgen JS and of the wasm
// into this script tag's data attributes (`pattern_script` in Trunk.toml).
const tag = document.querySelector("script[data-chainwalk-js]");
const { default: init } = await import(tag.dataset.chainwalkJs);
await init({ module_or_path: tag.dataset.chainwalkWasm });
