//! The record of a run: plain data that reports are written from after the run.

use serde::Serialize;

use super::{CancelReason, StepError};
use crate::playbook::{Phase, Scenario};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
            StepError::Failed(_) => ErrorKind::Failed,
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
    pub error: Option<ErrorRecord>,
    /// Start, in milliseconds since the run started.
    pub start_ms: u64,
    pub duration_ms: u64,
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
    pub start_ms: u64,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// RFC 3339.
    pub started_at: String,
    pub duration_ms: u64,
    pub status: RunStatus,
    pub interrupted_by: Option<CancelReason>,
    pub exit_code: i32,
    /// Why nothing ran, when the environment was unusable from the start (no Docker daemon).
    pub error: Option<String>,
    /// Metrics recorded by steps (`record`), by name.
    pub metrics: std::collections::BTreeMap<String, f64>,
    pub steps: Vec<StepRecord>,
    /// Faults reversed automatically, before `[[finally]]`.
    pub undo: Vec<UndoRecord>,
    /// `[[monitors]]` timelines.
    pub monitors: Vec<super::MonitorSeries>,
}

impl RunResult {
    pub fn failures(&self) -> impl Iterator<Item = &StepRecord> {
        self.steps.iter().filter(|s| !s.succeeded())
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
