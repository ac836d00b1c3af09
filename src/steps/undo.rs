//! Undoing faults. Every fault step registers how to reverse what it did before it does it, so
//! cleanup (after success, failure, timeout or Ctrl-C) restores the subject even when the
//! playbook's own `[[finally]]` forgets something.

use serde::{Deserialize, Serialize};

use crate::clients::docker::DockerClient;
use crate::clients::pd::PdClient;
use crate::engine::StepError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Undo {
    /// Start a container that a fault killed or stopped.
    Start { container: String },
    /// Unpause a paused container.
    Unpause { container: String },
    /// Restore PD settings changed by `pd.config`.
    PdConfig {
        pd: String,
        values: serde_json::Map<String, serde_json::Value>,
    },
}

impl Undo {
    pub fn describe(&self) -> String {
        match self {
            Undo::Start { container } => format!("start {container}"),
            Undo::Unpause { container } => format!("unpause {container}"),
            Undo::PdConfig { pd, values } => format!(
                "restore PD settings {} at {pd}",
                values.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }

    pub fn needs_docker(&self) -> bool {
        !matches!(self, Undo::PdConfig { .. })
    }

    /// Whether this undo is made unnecessary by an explicit step doing the same.
    pub fn is_done_by(&self, other: &Undo) -> bool {
        self == other
    }

    /// Applies the undo; a subject already in the wanted state is fine. `docker` is needed
    /// when [`Undo::needs_docker`] says so.
    pub async fn apply(&self, docker: Option<&DockerClient>) -> Result<(), StepError> {
        let docker =
            || docker.ok_or_else(|| StepError::Environment("undo needs the Docker daemon".into()));
        match self {
            Undo::Start { container } => {
                let docker = docker()?;
                let (state, _) = docker.state(container).await?;
                match state.as_str() {
                    "running" | "restarting" => {}
                    "paused" => docker.unpause(container).await?,
                    _ => docker.start(container).await?,
                }
                Ok(())
            }
            Undo::Unpause { container } => {
                let docker = docker()?;
                let (state, _) = docker.state(container).await?;
                if state == "paused" {
                    docker.unpause(container).await?;
                }
                Ok(())
            }
            Undo::PdConfig { pd, values } => Ok(PdClient::new(pd)?.set_config(values).await?),
        }
    }
}
