//! chaosplay: declarative chaos-engineering scenarios for distributed databases.
//!
//! Data flows down: `cli` → [`playbook`] (parse and validate) → [`engine`] (interpret) →
//! [`steps`] (the registry) → [`clients`] and [`compose`]. Events flow up from the engine to
//! [`ui`] and [`report`].

pub mod cli;
pub mod clients;
pub mod compose;
pub mod diagnostic;
pub mod durable;
pub mod duration;
pub mod engine;
pub mod history;
pub mod playbook;
pub mod report;
pub mod steps;
pub mod template;
#[cfg(test)]
mod test_support;
pub mod text;
pub mod text_file;
pub mod ui;
