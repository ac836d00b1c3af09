//! The interpreter: runs a validated [`Playbook`](crate::playbook::Playbook) step by step with
//! timeouts, retries, `until` polling, background steps and `finally` cleanup, and reports what
//! happens as [`RunEvent`]s. It never prints; listeners (the progress UI, reporters) do.

mod cancel;
mod context;
mod down;
mod events;
mod interpreter;
pub mod ledger;
mod monitor;
mod plan;
pub mod project_lock;
mod recover;
mod result;
mod secrets;
pub mod timing;
pub mod trials;

pub use cancel::{Cancel, CancelReason};
pub use context::{Lifted, StepContext};
pub use down::{DownError, down};
pub use events::{EventKind, Listener, RunEvent};
pub use interpreter::{RunOptions, run};
pub use monitor::{MonitorSeries, Sample};
pub use plan::{Plan, PlannedService, PlannedStep, plan};
pub use recover::{Recovery, recover};
pub use result::{
    ErrorKind, ErrorRecord, RunResult, RunStatus, StepRecord, StepStatus, UndoRecord, exit,
};

use crate::duration::Duration;

/// Why a step did not succeed. The variant decides the run's exit code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StepError {
    /// The step ran and its expectation did not hold (an assertion, an exit code, a status).
    #[error("{0}")]
    Failed(String),
    /// [`StepError::Failed`], with what the step found: the report keeps it as the step's
    /// output, as it keeps a failed `until`'s last output (a failed check's anomaly).
    #[error("{message}")]
    FailedWith {
        message: String,
        output: Box<serde_json::Value>,
    },
    /// Something the scenario depends on could not be reached (an endpoint, the Docker daemon).
    #[error("{0}")]
    Environment(String),
    /// The Docker daemon is unusable: gone, answering with something that is not the Engine
    /// API's, or not answering at all. Unlike an unreachable target, neither `until` nor
    /// `retry` waits it out: every container step would fail the same way, and a daemon that
    /// restarts has stopped the subject's containers anyway.
    #[error("{0}")]
    DockerUnreachable(String),
    /// The rendered parameters do not fit the step (only templates can cause this at run time).
    #[error("invalid parameters: {0}")]
    Params(String),
    #[error("{0}")]
    Template(String),
    #[error("timed out after {after}{}", last.as_ref().map(|l| format!(": {l}")).unwrap_or_default())]
    Timeout {
        after: Duration,
        /// What the step last saw, so a failed wait explains itself.
        last: Option<String>,
    },
    #[error("cancelled")]
    Cancelled,
}

impl From<crate::clients::command::CommandError> for StepError {
    fn from(e: crate::clients::command::CommandError) -> Self {
        use crate::clients::command::CommandError as C;
        match e {
            C::Spawn { .. } | C::Timeout { .. } => StepError::Failed(e.to_string()),
            C::Docker(e) => e.into(),
        }
    }
}

impl From<crate::clients::netns::NetnsError> for StepError {
    fn from(e: crate::clients::netns::NetnsError) -> Self {
        use crate::clients::netns::NetnsError as N;
        match e {
            N::Environment(message) => StepError::Environment(message),
            N::Failed(message) => StepError::Failed(message),
            N::Docker(e) => e.into(),
        }
    }
}

impl From<crate::clients::docker::DockerError> for StepError {
    fn from(e: crate::clients::docker::DockerError) -> Self {
        use crate::clients::docker::DockerError as D;
        match e {
            D::Unreachable { .. } | D::NotWorking { .. } | D::NoAnswer { .. } => {
                StepError::DockerUnreachable(e.to_string())
            }
            D::NoSuchContainer(_) | D::Api { .. } => StepError::Failed(e.to_string()),
        }
    }
}
