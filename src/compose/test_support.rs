//! Helpers shared by the unit tests of the compose loader.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "chaosplay-compose-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// Writes `content` to `name` inside the directory and returns its path.
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
