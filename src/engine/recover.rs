//! `chaosplay recover`: replays the undo ledgers that interrupted runs left behind.

use std::fmt::Write as _;

use super::StepError;
use super::ledger::{self, Ledger, LedgerError};
use super::project_lock::LockError;
use super::project_lock::ProjectLock;
use crate::clients::docker::DockerClient;
use crate::steps::undo::Undo;

/// What `recover` did, for the CLI to print.
pub struct Recovery {
    pub text: String,
    /// Every outstanding undo was applied.
    pub all_done: bool,
    /// Something was left only because the Docker daemon could not be used: the environment
    /// needs fixing (exit 3), not the undos.
    pub daemon_unusable: bool,
}

/// How one ledger's recovery ended.
#[derive(PartialEq)]
enum Outcome {
    Done,
    Left,
    /// Left because the Docker daemon is unreachable or not working.
    DaemonUnusable,
}

/// Applies every outstanding undo (newest first) of one project or of all of them. A ledger
/// whose project a live run is using is left alone: that run's own cleanup owns it.
pub async fn recover(project: Option<&str>) -> Result<Recovery, LedgerError> {
    let keys = ledger::outstanding(project)?;
    let mut text = String::new();
    let mut all_done = true;
    if keys.is_empty() {
        text.push_str("nothing to recover\n");
    }
    let mut docker: Option<DockerClient> = None;
    let mut daemon_unusable = false;
    for key in keys {
        match recover_one(&key, &mut docker, &mut text).await? {
            Outcome::Done => {}
            Outcome::Left => all_done = false,
            Outcome::DaemonUnusable => (all_done, daemon_unusable) = (false, true),
        }
    }
    Ok(Recovery {
        text,
        all_done,
        daemon_unusable,
    })
}

/// Replays one ledger, holding the same locks a run holds: its lock file and, when an undo
/// needs Docker, the project's lock on the engine, so no live run's faults are reversed under
/// it, whatever state directory or machine that run uses.
async fn recover_one(
    key: &str,
    docker: &mut Option<DockerClient>,
    text: &mut String,
) -> Result<Outcome, LedgerError> {
    let ledger = match Ledger::open(key, "recover", true) {
        Ok(l) => l,
        Err(e @ LedgerError::Busy { .. }) => {
            let _ = writeln!(text, "skipped `{key}`: {e}");
            return Ok(Outcome::Left);
        }
        Err(e) => return Err(e),
    };
    let pending = ledger.pending();
    let mut lock = None;
    if pending.iter().any(Undo::needs_docker) {
        if docker.is_none() {
            match DockerClient::connect().await {
                Ok(d) => *docker = Some(d),
                Err(e) => {
                    let _ = writeln!(text, "✗ {key}: {e}");
                    return Ok(Outcome::DaemonUnusable);
                }
            }
        }
        let engine = docker.as_ref().expect("connected above");
        match ProjectLock::acquire(engine, key, "recover").await {
            Ok(held) => lock = Some(held),
            Err(e) => {
                let _ = writeln!(text, "skipped `{key}`: {e}");
                return Ok(match e {
                    LockError::Busy { .. } => Outcome::Left,
                    LockError::Docker(_) => Outcome::DaemonUnusable,
                });
            }
        }
    }
    let mut left = Vec::new();
    let mut daemon_unusable = false;
    for undo in pending.into_iter().rev() {
        match undo.apply(docker.as_ref()).await {
            Ok(None) => {
                let _ = writeln!(text, "↺ {key}: {}", undo.describe());
            }
            Ok(Some(note)) => {
                let _ = writeln!(text, "↺ {key}: {}: {note}", undo.describe());
            }
            Err(e) => {
                let _ = writeln!(text, "✗ {key}: {}: {e}", undo.describe());
                daemon_unusable |= matches!(e, StepError::DockerUnreachable(_));
                left.insert(0, undo);
            }
        }
    }
    if let Some(lock) = lock
        && let Err(e) = lock.release().await
    {
        let _ = writeln!(text, "the lock of `{key}` stays on the engine: {e}");
    }
    let outcome = match (left.is_empty(), daemon_unusable) {
        (true, _) => Outcome::Done,
        (false, true) => Outcome::DaemonUnusable,
        (false, false) => Outcome::Left,
    };
    ledger.settle(left)?;
    Ok(outcome)
}
