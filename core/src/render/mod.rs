//! Text renderings of what the core computed.

pub mod save;
