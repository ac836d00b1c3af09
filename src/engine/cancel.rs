//! Cancellation. The first SIGINT/SIGTERM cancels the run gracefully: the current step is
//! aborted and `finally` runs under its deadline. A second signal ends the process at once.

use std::sync::{Arc, OnceLock};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CancelReason {
    /// SIGINT (Ctrl-C)
    Interrupt,
    /// SIGTERM
    Terminate,
}

impl CancelReason {
    /// The conventional exit status of a process ended by this signal.
    pub fn exit_code(self) -> i32 {
        match self {
            CancelReason::Interrupt => 130,
            CancelReason::Terminate => 143,
        }
    }
}

/// A cancellation token that remembers why it was cancelled.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    token: CancellationToken,
    reason: Arc<OnceLock<CancelReason>>,
}

impl Cancel {
    pub fn cancel(&self, reason: CancelReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    pub fn reason(&self) -> Option<CancelReason> {
        self.reason.get().copied()
    }

    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Cancels on the first SIGINT/SIGTERM and exits the process on the second.
    pub fn on_signals(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let cancel = self.clone();
        tokio::spawn(async move {
            loop {
                let reason = tokio::select! {
                    _ = int.recv() => CancelReason::Interrupt,
                    _ = term.recv() => CancelReason::Terminate,
                };
                if cancel.reason().is_some() {
                    // Second signal: the user wants out now; cleanup is abandoned.
                    std::process::exit(reason.exit_code());
                }
                cancel.cancel(reason);
            }
        });
        Ok(())
    }
}
