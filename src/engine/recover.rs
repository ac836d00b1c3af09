//! `chaosplay recover`: replays the undo ledgers that interrupted runs left behind.

use std::fmt::Write as _;

use super::ledger::{self, Ledger, LedgerError};
use super::project_lock::ProjectLock;
use crate::clients::docker::DockerClient;
use crate::steps::undo::Undo;

/// What `recover` did, for the CLI to print.
pub struct Recovery {
    pub text: String,
    /// Every outstanding undo was applied.
    pub all_done: bool,
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
    for key in keys {
        all_done &= recover_one(&key, &mut docker, &mut text).await?;
    }
    Ok(Recovery { text, all_done })
}

/// Replays one ledger, holding the same locks a run holds: its lock file and, when an undo
/// needs Docker, the project's lock on the engine, so no live run's faults are reversed under
/// it, whatever state directory or machine that run uses. Returns whether all was undone.
async fn recover_one(
    key: &str,
    docker: &mut Option<DockerClient>,
    text: &mut String,
) -> Result<bool, LedgerError> {
    let ledger = match Ledger::open(key, "recover", true) {
        Ok(l) => l,
        Err(e @ LedgerError::Busy { .. }) => {
            let _ = writeln!(text, "skipped `{key}`: {e}");
            return Ok(false);
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
                    return Ok(false);
                }
            }
        }
        let engine = docker.as_ref().expect("connected above");
        match ProjectLock::acquire(engine, key, "recover").await {
            Ok(held) => lock = Some(held),
            Err(e) => {
                let _ = writeln!(text, "skipped `{key}`: {e}");
                return Ok(false);
            }
        }
    }
    let mut left = Vec::new();
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
                left.insert(0, undo);
            }
        }
    }
    if let Some(lock) = lock
        && let Err(e) = lock.release().await
    {
        let _ = writeln!(text, "the lock of `{key}` stays on the engine: {e}");
    }
    let all_done = left.is_empty();
    ledger.settle(left)?;
    Ok(all_done)
}
