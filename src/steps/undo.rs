//! Undoing faults. Every fault step registers how to reverse what it did before it does it, so
//! cleanup (after success, failure, timeout or Ctrl-C) restores the subject even when the
//! playbook's own `[[finally]]` forgets something.
//!
//! Undos name containers, not ids or processes: whatever is found under that name at undo time
//! is restored, and a container that is gone (or, for faults living in its network namespace,
//! no longer running, so the namespace went with it) needs nothing.

use serde::{Deserialize, Serialize};

use super::network;
use crate::clients::docker::{DockerClient, DockerError};
use crate::clients::pd::PdClient;
use crate::engine::StepError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Undo {
    /// Start a container that a fault killed or stopped.
    Start { container: String },
    /// Unpause a paused container.
    Unpause { container: String },
    /// Attach a container that `network.partition` disconnected to its network again, with
    /// the same aliases and, when it was static, the same address.
    Reconnect {
        container: String,
        network: String,
        aliases: Vec<String>,
        ipv4: Option<String>,
    },
    /// Remove an iptables chain a network fault added in the container's namespace, with the
    /// rules that jump to it.
    FlushIptables { container: String, chain: String },
    /// Remove the root qdisc (tbf or netem) a network fault set on one of the container's
    /// interfaces.
    ClearQdisc { container: String, device: String },
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
            Undo::Reconnect {
                container, network, ..
            } => format!("reconnect {container} to {network}"),
            Undo::FlushIptables { container, chain } => {
                format!("remove iptables chain {chain} in {container}")
            }
            Undo::ClearQdisc { container, device } => {
                format!("remove the qdisc on {device} in {container}")
            }
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

    /// The container the undo acts on; `None` for undos that act on something else.
    fn container(&self) -> Option<&str> {
        match self {
            Undo::Start { container }
            | Undo::Unpause { container }
            | Undo::Reconnect { container, .. }
            | Undo::FlushIptables { container, .. }
            | Undo::ClearQdisc { container, .. } => Some(container),
            Undo::PdConfig { .. } => None,
        }
    }

    /// Applies the undo; a subject already in the wanted state is fine. `docker` is needed
    /// when [`Undo::needs_docker`] says so. A container removed meanwhile (by someone else, or
    /// a `compose.down`) has nothing left to restore: that is a success, with the note
    /// returned so cleanup and `recover` can say so, and the ledger drops the undo.
    pub async fn apply(&self, docker: Option<&DockerClient>) -> Result<Option<String>, StepError> {
        if let Some(container) = self.container() {
            match required(docker)?.state(container).await {
                Err(DockerError::NoSuchContainer(_)) => {
                    return Ok(Some(format!(
                        "nothing to undo: container {container} no longer exists"
                    )));
                }
                other => drop(other?),
            }
        }
        self.reverse(docker).await.map(|()| None)
    }

    async fn reverse(&self, docker: Option<&DockerClient>) -> Result<(), StepError> {
        let docker = || required(docker);
        match self {
            Undo::Start { container } => {
                let docker = docker()?;
                let (state, _) = docker.state(container).await?;
                Ok(docker.ensure_running(container, &state).await?)
            }
            Undo::Unpause { container } => {
                let docker = docker()?;
                let (state, _) = docker.state(container).await?;
                if state == "paused" {
                    docker.unpause(container).await?;
                }
                Ok(())
            }
            Undo::Reconnect {
                container,
                network,
                aliases,
                ipv4,
            } => network::reconnect(docker()?, container, network, aliases, ipv4.as_deref()).await,
            Undo::FlushIptables { container, chain } => {
                network::remove_chain(docker()?, container, chain).await
            }
            Undo::ClearQdisc { container, device } => {
                network::clear_qdisc(docker()?, container, device).await
            }
            Undo::PdConfig { pd, values } => Ok(PdClient::new(pd)?.set_config(values).await?),
        }
    }
}

fn required(docker: Option<&DockerClient>) -> Result<&DockerClient, StepError> {
    docker.ok_or_else(|| StepError::Environment("undo needs the Docker daemon".into()))
}
