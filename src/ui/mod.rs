//! What the user sees while a scenario runs.

pub mod progress;
