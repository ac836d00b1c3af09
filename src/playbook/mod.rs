//! Playbooks: the TOML files users write. `load` parses and fully validates one, so nothing
//! runs unless the whole file is sound; the result is the plan the engine executes.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::compose::{ComposeProject, Protocol};
use crate::diagnostic::Source;
use crate::duration::Duration;
use crate::steps::StepKind;

pub mod check;
mod discover;
pub mod node;
pub mod schema;
mod validate;

pub use discover::discover;
pub use validate::{LoadError, load, parse};

/// A validated playbook.
#[derive(Debug)]
pub struct Playbook {
    pub source: Arc<Source>,
    pub scenario: Scenario,
    /// `[vars]` with the command line's `--var` and `--vars-file` applied.
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// The variables the playbook declares (`[vars]` and `[secrets]`): a `--var` naming none
    /// of them is a typo, not a new variable.
    pub declared: Vec<String>,
    /// Values of `[secrets]` (also in `vars`): redacted in every report and log line.
    pub secrets: Vec<String>,
    /// The compose project the run owns (`[subject]`): selectors only see its containers.
    pub project: Option<String>,
    /// The subject's compose file, loaded and resolved at validation.
    pub compose: Option<Arc<ComposeProject>>,
    pub steps: Vec<Step>,
    pub finally: Vec<Step>,
    /// `[[monitors]]`: read-only steps sampled for the whole run.
    pub monitors: Vec<Monitor>,
    /// `[matrix]`: each key with its values, in file order. Empty without a matrix.
    pub matrix: Vec<(String, Vec<serde_json::Value>)>,
    /// The cell this playbook was resolved for (`matrix.<key>` in templates and `[subject]`);
    /// [`Playbook::expand`] gives one playbook per cell.
    pub cell: Cell,
}

/// One combination of `[matrix]` values, by key.
pub type Cell = BTreeMap<String, serde_json::Value>;

/// Most attempts a `retry` may make: every loop the engine runs is bounded.
pub const MAX_ATTEMPTS: u32 = 1_000;

/// Most items a `for_each` step runs for: every loop the engine runs is bounded, and a report
/// of thousands of outputs in one step is more likely a mistake than a plan.
pub const MAX_ITEMS: usize = 1_000;

/// Largest `retry.backoff`: beyond it the second delay already dwarfs any scenario.
pub const MAX_BACKOFF: f64 = 10.0;

/// Shortest step `timeout` (and `step_timeout`): a zero timeout fails every step at once.
pub const MIN_TIMEOUT: Duration = Duration(std::time::Duration::from_millis(1));

/// Shortest `until` polling interval: a zero interval spins on the target.
pub const MIN_INTERVAL: Duration = Duration(std::time::Duration::from_millis(10));

/// Runs of one playbook are bounded: a matrix that multiplies out to thousands of runs is more
/// likely a mistake than a plan.
pub const MAX_CELLS: usize = 256;

impl Playbook {
    /// Relative paths in a playbook (commands' `cwd`, compose files) are relative to it.
    pub fn dir(&self) -> &Path {
        match self.source.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }

    /// Every cell of `[matrix]`, the cartesian product of its values (the last key varies
    /// fastest); one empty cell without a matrix, so every playbook runs at least once.
    pub fn cells(&self) -> Vec<Cell> {
        self.matrix
            .iter()
            .fold(vec![Cell::new()], |cells, (key, values)| {
                cells
                    .iter()
                    .flat_map(|cell| {
                        values.iter().map(move |v| {
                            let mut next = cell.clone();
                            next.insert(key.clone(), v.clone());
                            next
                        })
                    })
                    .collect()
            })
    }

    /// One playbook per cell, each validated again with its cell's values, since `[subject]`
    /// may read `matrix` (a compose file per cell) and must resolve before anything runs.
    pub fn expand(self) -> Result<Vec<Playbook>, LoadError> {
        if self.matrix.is_empty() {
            return Ok(vec![self]);
        }
        self.cells()
            .into_iter()
            .map(|cell| validate::parse_cell(Arc::clone(&self.source), &self.vars, cell, None))
            .collect()
    }

    /// This playbook (one cell of it) resolved for one of several trials run side by side
    /// (`--jobs`): its subject is a compose project of its own, `<project>-t<trial>`, so trials
    /// never touch each other's containers, networks, volumes, ledger or lock, and `run.trial`
    /// in `[subject]` can give each its own host ports.
    pub fn for_parallel_trial(&self, trial: u32) -> Result<Playbook, LoadError> {
        validate::parse_cell(
            Arc::clone(&self.source),
            &self.vars,
            self.cell.clone(),
            Some(trial),
        )
    }

    /// Trials run side by side each have their own project, but host ports are the machine's:
    /// the first port two of `trials` would both publish, as the reason they cannot run
    /// together.
    pub fn shared_host_port(trials: &[Playbook]) -> Option<String> {
        type Published<'a> = (u32, Option<std::net::IpAddr>, u16, Protocol, &'a str);
        let mut seen: Vec<Published<'_>> = Vec::new();
        for (trial, playbook) in (1..).zip(trials) {
            let services = playbook.compose.iter().flat_map(|c| &c.services);
            for service in services {
                for port in &service.ports {
                    let Some(published) = port.published else {
                        continue;
                    };
                    let clash = seen.iter().find(|(t, ip, p, protocol, _)| {
                        *t != trial
                            && *p == published
                            && *protocol == port.protocol
                            && (ip == &port.host_ip || ip.is_none() || port.host_ip.is_none())
                    });
                    if let Some((other, _, _, _, other_service)) = clash {
                        let address = match port.host_ip {
                            Some(ip) => format!("{ip}:{published}"),
                            None => published.to_string(),
                        };
                        return Some(format!(
                            "trials {other} and {trial} would both publish host port {address} (service `{other_service}`, then `{}`): trials run side by side need ports of their own: take the port from a variable in the compose file (`${{PORT:-{published}}}`) and set it per trial in [subject] env, e.g. `PORT = \"{{{{ {published} + run.trial }}}}\"`",
                            service.name
                        ));
                    }
                    seen.push((
                        trial,
                        port.host_ip,
                        published,
                        port.protocol,
                        service.name.as_str(),
                    ));
                }
            }
        }
        None
    }

    /// Whether any step, `[[finally]]` step or monitor talks to the Docker daemon: only then
    /// does a run (or a plan) need one.
    pub fn needs_docker(&self) -> bool {
        self.steps
            .iter()
            .chain(&self.finally)
            .chain(self.monitors.iter().map(|m| &m.step))
            .any(Step::needs_docker)
    }

    /// The scenario's name with its cell, e.g. `tikv-node-kill [fault=kill]`: what progress,
    /// reports and trial summaries call one run of one cell.
    pub fn run_name(&self) -> String {
        match cell_label(&self.cell) {
            label if label.is_empty() => self.scenario.name.clone(),
            label => format!("{} [{label}]", self.scenario.name),
        }
    }
}

/// `fault=kill,stores=3`: a cell as `--cell` arguments spell it.
pub fn cell_label(cell: &Cell) -> String {
    cell.iter()
        .map(|(k, v)| format!("{k}={}", scalar_text(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether a cell has every `key=value` of `--cell` (values compared as [`scalar_text`]).
pub fn cell_matches(cell: &Cell, filter: &[(String, String)]) -> bool {
    filter
        .iter()
        .all(|(k, v)| cell.get(k).is_some_and(|value| scalar_text(value) == *v))
}

/// A matrix value as written on the command line: strings without quotes.
pub fn scalar_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Shown in progress output and reports; also the JUnit suite name.
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Timeout of a step that sets none.
    #[serde(default = "default_step_timeout")]
    pub step_timeout: Duration,
    /// Deadline for all `[[finally]]` steps together, counted from when cleanup starts.
    #[serde(default = "default_finally_timeout")]
    pub finally_timeout: Duration,
}

fn default_step_timeout() -> Duration {
    Duration::from_secs(300)
}

fn default_finally_timeout() -> Duration {
    Duration::from_secs(120)
}

/// `[subject]`: what the run owns, the compose project its selectors are scoped to. Values may
/// be templates over `vars` and `env`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// Path of the compose file, relative to the playbook.
    #[serde(default)]
    pub compose: Option<String>,
    /// Compose project name; defaults to the compose file's `name:`, else its directory name,
    /// as Docker Compose does.
    #[serde(default)]
    pub project: Option<String>,
    /// Variables for `${VAR}` interpolation in the compose file (before the process
    /// environment and the `.env` file).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Steps,
    Finally,
    Monitors,
}

#[derive(Debug)]
pub struct Step {
    pub phase: Phase,
    /// Position within its phase, from 0.
    pub index: usize,
    pub id: Option<String>,
    pub name: Option<String>,
    pub kind: StepKind,
    /// Parameters as written; rendered right before the step runs.
    pub with: node::Node,
    pub timeout: Option<StepDuration>,
    pub retry: Retry,
    /// The `if` expression.
    pub condition: Option<String>,
    pub until: Option<Until>,
    pub background: bool,
    /// `continue_on_error`: a failure of this step is reported but does not stop the steps,
    /// nor fail the run.
    pub continue_on_error: bool,
    /// Metrics recorded when the step passes, in the order written.
    pub record: Vec<Record>,
    /// `for_each`: the items (a list, or a template giving one) the step runs once for each.
    pub for_each: Option<node::Node>,
    /// The step group a `uses = "./file.toml"` step runs (its kind is then `group`).
    pub group: Option<Arc<Group>>,
    /// Where `uses` is written: what annotations and runtime errors point at.
    pub span: Range<usize>,
}

/// A file of steps run by one step (`uses = "./lib/etcd-leader.toml"`): its `[vars]` are its
/// inputs, set by the calling step's `with`; its `[outputs]` are the calling step's output.
#[derive(Debug)]
pub struct Group {
    pub source: Arc<Source>,
    /// Inputs with their defaults, read as `vars.<name>` by the group's steps.
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// Output name and the template giving it, rendered after the group's steps.
    pub outputs: Vec<(String, String)>,
    pub steps: Vec<Step>,
}

/// Top-level keys of a step group file.
pub const GROUP_KEYS: &[&str] = &["description", "vars", "outputs", "steps"];

impl Step {
    /// Whether the step, or a step of the group it runs, talks to the Docker daemon.
    pub fn needs_docker(&self) -> bool {
        self.kind.doc().needs_docker
            || self
                .group
                .as_ref()
                .is_some_and(|g| g.steps.iter().any(Step::needs_docker))
    }

    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .or(self.id.as_deref())
            .unwrap_or(self.kind.name())
    }
}

/// A read-only step sampled every `interval` from the start of the run to the end of cleanup,
/// building a timeline (e.g. each store's state over time) for the live display and reports.
#[derive(Debug)]
pub struct Monitor {
    pub step: Step,
    pub interval: Duration,
    /// Template over `output` for the one-line live status; the output itself by default.
    pub show: Option<String>,
}

/// Keys a `[[monitors]]` table may have.
pub const MONITOR_KEYS: &[&str] = &["id", "name", "uses", "with", "interval", "show"];

/// `retry = { attempts = 3, delay = "1s", backoff = 2.0 }`
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Total attempts, the first included.
    #[serde(default = "one")]
    pub attempts: u32,
    /// Pause before the second attempt.
    #[serde(default = "default_retry_delay")]
    pub delay: Duration,
    /// Each further pause is the previous one times this factor.
    #[serde(default = "one_f64")]
    pub backoff: f64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 1,
            delay: default_retry_delay(),
            backoff: 1.0,
        }
    }
}

fn one() -> u32 {
    1
}

fn one_f64() -> f64 {
    1.0
}

fn default_retry_delay() -> Duration {
    Duration::from_secs(1)
}

/// `record`: a named metric from a step that passed: its duration in milliseconds, or the
/// value of an expression over its output. Metrics are read as `metrics.<name>` and summarised
/// across trials.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub name: String,
    /// Expression over `output`; `None` records the step's duration.
    pub value: Option<String>,
}

/// `record = { name = "regions", value = "output.region_count" }`; several metrics are a table
/// of name → expression instead (`record = { regions = "output.region_count", … }`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    /// The metric's name, read as `metrics.<name>`.
    pub name: String,
    /// Expression over the step's `output`; without it the step's duration (ms) is recorded.
    #[serde(default)]
    pub value: Option<String>,
}

/// `until`: run the step again every `interval` until the condition holds (for `stable_for`).
#[derive(Debug, Clone)]
pub struct Until {
    pub condition: String,
    pub interval: StepDuration,
    pub stable_for: Option<StepDuration>,
}

/// A step's `timeout`, `interval` or `stable_for`: a duration, or a template rendered into one
/// right before the step runs, as its `with` is. Its syntax and names are checked at
/// validation; its value, once rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum StepDuration {
    Fixed(Duration),
    Template(String),
}

/// Keys a step table may have, in the order the docs list them.
pub const STEP_KEYS: &[&str] = &[
    "id",
    "name",
    "uses",
    "with",
    "if",
    "timeout",
    "retry",
    "until",
    "interval",
    "stable_for",
    "background",
    "record",
    "continue_on_error",
    "for_each",
];

/// Top-level tables of a playbook.
pub const TOP_KEYS: &[&str] = &[
    "scenario", "vars", "matrix", "subject", "steps", "finally", "monitors", "secrets",
];

/// Names a template or expression may start with; `output` only inside `until`.
pub const CONTEXT_ROOTS: &[&str] = &["vars", "matrix", "steps", "metrics", "env", "run", "output"];

/// Fields of `run` in templates.
pub const RUN_FIELDS: &[&str] = &["seed", "trial", "started_at", "scenario"];
