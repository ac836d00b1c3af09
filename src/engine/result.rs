//! The record of a run: plain data that reports are written from after the run.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::timing::{self, Timing};
use super::{CancelReason, StepError};
use crate::playbook::{Phase, Scenario};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Passed,
    Failed,
    TimedOut,
    /// Its `if` was false.
    Skipped,
    /// Aborted by a signal, because the run failed, or by the cleanup deadline.
    Cancelled,
    /// A background step ended on purpose by `await` with `cancel = true`.
    Stopped,
}

impl StepStatus {
    pub fn word(self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::TimedOut => "timed out",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
            StepStatus::Stopped => "stopped",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Failed,
    Environment,
    Params,
    Template,
    Timeout,
    Cancelled,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorRecord {
    pub kind: ErrorKind,
    pub message: String,
}

impl From<&StepError> for ErrorRecord {
    fn from(e: &StepError) -> Self {
        let kind = match e {
            StepError::Failed(_) | StepError::FailedWith { .. } => ErrorKind::Failed,
            StepError::Environment(_) | StepError::DockerUnreachable(_) => ErrorKind::Environment,
            StepError::Params(_) => ErrorKind::Params,
            StepError::Template(_) => ErrorKind::Template,
            StepError::Timeout { .. } => ErrorKind::Timeout,
            StepError::Cancelled => ErrorKind::Cancelled,
        };
        ErrorRecord {
            kind,
            message: e.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub phase: Phase,
    pub index: usize,
    pub id: Option<String>,
    pub name: String,
    pub uses: &'static str,
    /// Line of `uses` in the playbook.
    pub line: usize,
    pub background: bool,
    pub status: StepStatus,
    /// Parameters after rendering.
    pub params: Option<serde_json::Value>,
    /// The output (for a failed `until`, the last one observed).
    pub output: Option<serde_json::Value>,
    pub attempts: u32,
    /// Executions of the step by `until`, over all attempts.
    pub polls: u32,
    /// How finely the step's end is known, in microseconds: the step looked every so often
    /// (`until`'s interval, a waiting kind's own `interval`, a retry's delay), so what it waited
    /// for happened up to this long before it noticed. `None` when it did not poll.
    pub resolution_us: Option<u64>,
    pub error: Option<ErrorRecord>,
    /// It failed with `continue_on_error = true`: shown as a failure, but the steps went on
    /// and the run's verdict ignores it.
    pub tolerated: bool,
    /// What the step noticed without failing: a soft assertion that did not hold, or a
    /// tolerated failure.
    pub warnings: Vec<String>,
    #[serde(flatten)]
    pub timing: Timing,
}

impl StepRecord {
    pub fn succeeded(&self) -> bool {
        matches!(
            self.status,
            StepStatus::Passed | StepStatus::Skipped | StepStatus::Stopped
        )
    }
}

/// A fault reversed automatically during cleanup.
#[derive(Debug, Clone, Serialize)]
pub struct UndoRecord {
    /// The undo, e.g. `{"action": "start", "container": "…"}`.
    pub undo: crate::steps::undo::Undo,
    pub description: String,
    pub ok: bool,
    pub error: Option<String>,
    /// Why a successful undo had nothing to do (its container no longer exists).
    pub note: Option<String>,
    /// It failed because the Docker daemon was unusable (gone, broken or silent): it stays in
    /// the ledger for `recover`, and the run is an environment error rather than a failed
    /// cleanup.
    #[serde(skip)]
    pub docker_unusable: bool,
    #[serde(flatten)]
    pub timing: Timing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Passed,
    Failed,
    /// Something the scenario needs was unreachable.
    EnvironmentError,
    Interrupted,
    /// A `finally` step failed: the subject may be left in a faulted state.
    CleanupFailed,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub scenario: Scenario,
    /// The scenario's name with its `[matrix]` cell, e.g. `tikv-node-kill [fault=kill]`; the
    /// scenario's name without a matrix.
    pub name: String,
    /// The cell's values by key; empty without a matrix.
    pub matrix: crate::playbook::Cell,
    pub file: String,
    pub seed: u64,
    pub trial: u32,
    /// How many trials were asked for: a run reads as "trial 2 of 5" even when `--fail-fast`
    /// stopped the others.
    pub trials: u32,
    #[serde(serialize_with = "timing::serialize_rfc3339")]
    pub started_at: SystemTime,
    #[serde(flatten, serialize_with = "timing::duration")]
    pub duration: Duration,
    pub status: RunStatus,
    pub interrupted_by: Option<CancelReason>,
    pub exit_code: i32,
    /// Why nothing ran, when the environment was unusable from the start (no Docker daemon).
    pub error: Option<String>,
    /// Metrics recorded by steps (`record`), by name.
    pub metrics: std::collections::BTreeMap<String, f64>,
    /// How finely each metric is known, in its own unit, where chaosplay knows it: a recorded
    /// duration (ms) is known to its step's `resolution_us`, or to the microsecond the clock
    /// is read to. A value from an expression is absent: its unit is the playbook's.
    pub resolutions: std::collections::BTreeMap<String, f64>,
    pub steps: Vec<StepRecord>,
    /// Faults reversed automatically, before `[[finally]]`.
    pub undo: Vec<UndoRecord>,
    /// `[[monitors]]` timelines.
    pub monitors: Vec<super::MonitorSeries>,
}

impl RunResult {
    /// Steps that failed, tolerated ones (`continue_on_error`) excepted: those are warnings.
    pub fn failures(&self) -> impl Iterator<Item = &StepRecord> {
        self.steps.iter().filter(|s| !s.succeeded() && !s.tolerated)
    }

    /// Every warning of the run, with the step that gave it.
    pub fn warnings(&self) -> impl Iterator<Item = (&StepRecord, &str)> {
        self.steps
            .iter()
            .flat_map(|s| s.warnings.iter().map(move |w| (s, w.as_str())))
    }

    /// The step that made the run fail: the first failure that was not merely cancelled
    /// because of another (background steps are cancelled when a step fails), else the first.
    pub fn failing_step(&self) -> Option<&StepRecord> {
        self.failures()
            .find(|s| s.status != StepStatus::Cancelled)
            .or_else(|| self.failures().next())
    }
}

/// Exit codes, documented in the README.
pub mod exit {
    pub const PASSED: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const INVALID: i32 = 2;
    pub const ENVIRONMENT: i32 = 3;
    pub const CLEANUP_FAILED: i32 = 4;
}

impl RunStatus {
    pub fn exit_code(self, interrupted_by: Option<CancelReason>) -> i32 {
        match self {
            RunStatus::Passed => exit::PASSED,
            RunStatus::Failed => exit::FAILED,
            RunStatus::EnvironmentError => exit::ENVIRONMENT,
            RunStatus::CleanupFailed => exit::CLEANUP_FAILED,
            RunStatus::Interrupted => interrupted_by.map_or(130, CancelReason::exit_code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Sample;

    const DOC: &str = include_str!("../../docs/report.md");

    /// The names in backticks in `text`.
    fn quoted(text: &str) -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    /// The rows of the table under a heading of docs/report.md.
    fn rows(heading: &str) -> impl Iterator<Item = &'static str> {
        let section = DOC
            .split(&format!("\n## {heading}\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("no `## {heading}` in docs/report.md"));
        section
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
    }

    /// The fields a table documents: the names in its first column.
    fn documented(heading: &str) -> Vec<String> {
        let mut names: Vec<String> = rows(heading)
            .flat_map(|row| quoted(row.split('|').nth(1).unwrap()))
            .collect();
        names.sort();
        names
    }

    fn fields(value: impl Serialize) -> Vec<String> {
        let value = serde_json::to_value(value).unwrap();
        let mut names: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        names.sort();
        names
    }

    fn timing() -> Timing {
        Timing {
            start: Duration::from_micros(1_500),
            duration: Duration::from_micros(30_250),
        }
    }

    fn step() -> StepRecord {
        StepRecord {
            phase: Phase::Steps,
            index: 0,
            id: None,
            name: "nap".into(),
            uses: "sleep",
            line: 3,
            background: false,
            status: StepStatus::Passed,
            params: None,
            output: None,
            attempts: 1,
            polls: 0,
            resolution_us: None,
            error: None,
            tolerated: false,
            warnings: Vec::new(),
            timing: timing(),
        }
    }

    #[test]
    fn records_have_exactly_the_documented_fields() {
        assert_eq!(fields(step()), documented("A step"));
        let undo = UndoRecord {
            undo: crate::steps::undo::Undo::Unpause {
                container: "c".into(),
            },
            description: "start c".into(),
            ok: true,
            error: None,
            note: None,
            docker_unusable: false,
            timing: timing(),
        };
        assert_eq!(fields(undo), documented("An undo"));
        let run = RunResult {
            scenario: toml::from_str("name = \"s\"").unwrap(),
            name: "s".into(),
            matrix: Default::default(),
            file: "s.toml".into(),
            seed: 1,
            trial: 1,
            trials: 1,
            started_at: SystemTime::UNIX_EPOCH,
            duration: Duration::from_micros(40_999),
            status: RunStatus::Passed,
            interrupted_by: None,
            exit_code: 0,
            error: None,
            metrics: Default::default(),
            resolutions: Default::default(),
            steps: vec![step()],
            undo: Vec::new(),
            monitors: Vec::new(),
        };
        let value = serde_json::to_value(&run).unwrap();
        assert_eq!(value["started_at"], "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            (&value["duration_ms"], &value["duration_us"]),
            (&40.into(), &40_999.into())
        );
        assert_eq!(fields(run), documented("A run"));
    }

    #[test]
    fn monitor_samples_have_exactly_the_documented_fields() {
        let row = rows("A run")
            .find(|row| row.starts_with("| `monitors`"))
            .unwrap();
        let mut documented = quoted(
            row.split("`samples` (")
                .nth(1)
                .unwrap()
                .split(')')
                .next()
                .unwrap(),
        );
        documented.sort();
        let sample = Sample {
            at: Duration::from_micros(2_001),
            ok: true,
            output: None,
            error: None,
            show: None,
        };
        assert_eq!(fields(sample), documented);
    }
}
