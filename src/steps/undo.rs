//! Undoing faults. Every fault step registers how to reverse what it did before it does it, so
//! cleanup (after success, failure, timeout or Ctrl-C) restores the subject even when the
//! playbook's own `[[finally]]` forgets something.

use serde::{Deserialize, Serialize};

use crate::clients::docker::{DockerClient, DockerError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Undo {
    /// Start a container that a fault killed or stopped.
    Start { container: String },
    /// Unpause a paused container.
    Unpause { container: String },
}

impl Undo {
    pub fn describe(&self) -> String {
        match self {
            Undo::Start { container } => format!("start {container}"),
            Undo::Unpause { container } => format!("unpause {container}"),
        }
    }

    /// Whether this undo is made unnecessary by an explicit step doing the same.
    pub fn is_done_by(&self, other: &Undo) -> bool {
        self == other
    }

    /// Applies the undo; a subject already in the wanted state is fine.
    pub async fn apply(&self, docker: &DockerClient) -> Result<(), DockerError> {
        match self {
            Undo::Start { container } => {
                let (state, _) = docker.state(container).await?;
                match state.as_str() {
                    "running" | "restarting" => Ok(()),
                    "paused" => docker.unpause(container).await,
                    _ => docker.start(container).await,
                }
            }
            Undo::Unpause { container } => {
                let (state, _) = docker.state(container).await?;
                if state == "paused" {
                    docker.unpause(container).await
                } else {
                    Ok(())
                }
            }
        }
    }
}
