//! `chaosplay recover`: replays the undo ledgers that interrupted runs left behind.

use std::fmt::Write as _;

use super::ledger::{self, Ledger, LedgerError};
use crate::clients::docker::DockerClient;

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
        let ledger = match Ledger::open(&key, "recover", true) {
            Ok(l) => l,
            Err(e @ LedgerError::Busy { .. }) => {
                let _ = writeln!(text, "skipped `{key}`: {e}");
                all_done = false;
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut left = Vec::new();
        for undo in ledger.pending().into_iter().rev() {
            if undo.needs_docker() && docker.is_none() {
                match DockerClient::connect().await {
                    Ok(d) => docker = Some(d),
                    Err(e) => {
                        let _ = writeln!(text, "✗ {}: {e}", undo.describe());
                        left.insert(0, undo);
                        continue;
                    }
                }
            }
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
        all_done &= left.is_empty();
        ledger.settle(left)?;
    }
    Ok(Recovery { text, all_done })
}
