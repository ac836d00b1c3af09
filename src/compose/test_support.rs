//! Helpers shared by the unit tests of the compose loader.

use std::collections::BTreeMap;
use std::path::Path;

use super::error::ComposeError;
use super::model::{ComposeProject, Service};
use super::project::resolve;

/// The compose file path tests pretend to load from.
pub const FILE: &str = "/p/compose.yaml";

/// Builds a variables map.
pub fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Resolves `src` as if it were `/p/compose.yaml` of project `proj`.
pub fn resolve_with(src: &str, pairs: &[(&str, &str)]) -> Result<ComposeProject, ComposeError> {
    resolve(
        src,
        Path::new(FILE),
        Path::new("/p"),
        Some("proj"),
        &vars(pairs),
    )
}

/// [`resolve_with`] without variables, unwrapped.
pub fn project(src: &str) -> ComposeProject {
    resolve_with(src, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// The error message [`resolve_with`] gives for `src` without variables.
pub fn error(src: &str) -> String {
    match resolve_with(src, &[]) {
        Ok(p) => panic!("expected an error, got {p:#?}"),
        Err(e) => e.to_string(),
    }
}

/// The single service `s` of a file whose `services:` body is `body`
/// (indented by 4 spaces below `s:`), plus optional extra top-level YAML.
pub fn service(body: &str, top: &str) -> Service {
    project(&service_file(body, top)).services.remove(0)
}

/// The error message for a file like [`service`] builds.
pub fn service_error(body: &str, top: &str) -> String {
    error(&service_file(body, top))
}

fn service_file(body: &str, top: &str) -> String {
    let body: String = body.lines().map(|l| format!("    {l}\n")).collect();
    format!("services:\n  s:\n{body}{top}")
}
