//! stage3-futures (under construction).
