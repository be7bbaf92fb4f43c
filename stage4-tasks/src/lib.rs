//! stage4-tasks (under construction).
