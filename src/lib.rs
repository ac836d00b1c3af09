//! chaosplay: declarative chaos-engineering scenarios for distributed databases.

pub mod clients;
