//! The pieces of the page, each a function component with plain properties.

pub mod diagnostics;
pub mod editor;
pub mod header;
pub mod ruleset;
pub mod summary;
