//! Reports written after a run from its plain result data.

pub mod github;
pub mod json;
pub mod listing;
pub mod stats;
