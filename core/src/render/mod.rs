//! Text renderings of what the core computed.

pub mod log;
pub mod save;
pub mod text;
