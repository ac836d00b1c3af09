//! The compose loader: a user's compose file turned into a fully resolved,
//! typed [`ComposeProject`] that the Docker backend creates containers from.
//!
//! chaosplay talks to the Docker Engine API itself instead of shelling out to
//! `docker compose`, so it needs its own reading of the compose format. This
//! module implements the subset that matters for database clusters and
//! rejects everything else by name (e.g. `service "db": unsupported key
//! "deploy"`), because silently ignoring a key would run a cluster different
//! from the one the user described.
//!
//! What [`ComposeProject::load`] does, in order:
//! 1. gathers variables: the playbook's extra variables, then the process
//!    environment, then a `.env` file beside the compose file;
//! 2. parses YAML with anchors, aliases and `<<` merge keys; `x-*` keys are
//!    ignored at the top level, in services, networks and volumes;
//! 3. interpolates `$VAR`, `${VAR:-default}`, `${VAR:?message}`, `$$`, ... in
//!    every string value it reads;
//! 4. resolves relative paths against the compose file's directory, names
//!    Docker objects like Compose (`<project>_<network>`,
//!    `<project>-<service>-1`), adds the implicit `default` network, and
//!    checks `depends_on` for unknown services and cycles.
//!
//! Why hand-written rather than a crate: the `docker-compose-types` style crates deserialize
//! with serde after the fact, so they cannot interpolate a value *before* typing it
//! (`retries: ${N:-3}`), lose the line and column an error must point at, and accept unknown
//! keys silently. No crate implements Compose's interpolation (`${A:?msg}`, `${A:+x}`, `$$`,
//! nested defaults) with positions either; `shellexpand`-like crates implement a shell's
//! rules, which differ. YAML parsing itself is a crate (`saphyr`, see `yaml`); so is nothing
//! else here, and `values` says why for durations and shell words.
//!
//! Deliberately left out (each is an "unsupported key" error or documented
//! behaviour, not a silent difference): `build` (images must be prebuilt),
//! `scale`/`deploy` (one container per service), `include`/`extends`,
//! `configs`/`secrets`, compose v2's `!reset`/`!override` tags, and
//! interpolation inside `.env`/`env_file` values, which are taken literally.

mod dotenv;
mod error;
mod interpolate;
mod model;
mod order;
mod project;
mod read;
mod service;
#[cfg(test)]
pub(crate) mod test_support;
mod values;
mod yaml;

use std::collections::BTreeMap;
use std::path::Path;

pub use error::{ComposeError, ComposeErrorKind, Location};
pub use model::{
    ComposeProject, Dependency, DependencyCondition, ExtraHost, HealthTest, Healthcheck, Mount,
    Network, Port, Protocol, RestartPolicy, Service, ServiceNetwork, Subnet, Ulimit, Volume,
};

impl ComposeProject {
    /// Loads and resolves the compose file at `file`.
    ///
    /// `project_name` overrides the file's top-level `name:` (like
    /// `docker compose -p`); without either, the directory name is used.
    /// `extra_vars` (from the playbook) take precedence over the process
    /// environment, which takes precedence over the `.env` file.
    pub fn load(
        file: &Path,
        project_name: Option<&str>,
        extra_vars: &BTreeMap<String, String>,
    ) -> Result<Self, ComposeError> {
        project::load(file, project_name, extra_vars)
    }

    /// The service called `name`.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }
}
