//! `chaosplay down --project P`: removes a cluster a run left up (`compose.up` without a
//! `compose.down`, or a scenario that keeps its subject for inspection) — its containers,
//! networks and volumes — with the same code a `compose.down` step runs. It takes the
//! project's lock first, as a run does, so it never pulls a cluster from under a live run;
//! a lock whose holder is proven dead is taken over, and removed with the rest.

use std::sync::Mutex;

use super::project_lock::{LockError, ProjectLock};
use crate::clients::docker::DockerClient;
use crate::clients::project::{Down, ProjectClient, ProjectError};
use crate::compose::ComposeProject;

#[derive(Debug, thiserror::Error)]
pub enum DownError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Project(#[from] ProjectError),
}

/// Removes everything of `project` on the engine; returns what was removed, one line each.
pub async fn down(project: &str) -> Result<Vec<String>, DownError> {
    let docker = DockerClient::connect().await.map_err(LockError::from)?;
    let lock = ProjectLock::acquire(&docker, project, "chaosplay down").await?;
    // Only the name is needed: containers, networks and volumes are found by their label.
    let subject = ComposeProject {
        name: project.to_string(),
        file: Default::default(),
        dir: Default::default(),
        services: Vec::new(),
        networks: Default::default(),
        volumes: Default::default(),
        warnings: Vec::new(),
    };
    let removed = Mutex::new(Vec::new());
    let note = |line: String| removed.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    let everything = Down {
        volumes: true,
        networks: true,
        kill: true,
    };
    let result = ProjectClient::new(&docker, &subject)
        .down(everything, &note)
        .await;
    // Released whatever happened: a failed removal must not leave the project locked.
    let released = lock.release().await;
    result?;
    released.map_err(LockError::from)?;
    Ok(removed.into_inner().unwrap_or_else(|e| e.into_inner()))
}
