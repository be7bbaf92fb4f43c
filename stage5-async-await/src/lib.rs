//! stage5-async-await (under construction).

pub mod blocking;
pub mod combinators;
pub mod sync;
