//! Compose file loader (work in progress).
mod dotenv;
mod error;
mod interpolate;
mod yaml;
