//! What the engine reports while it runs. Listeners (progress display, reporters) decide what
//! to show; the engine itself never prints.

use crate::playbook::{Monitor, Playbook, Step};

use super::{CancelReason, RunResult, Sample, StepRecord, UndoRecord};

#[derive(Debug)]
pub struct RunEvent<'a> {
    /// Time since the run started.
    pub elapsed: std::time::Duration,
    pub kind: EventKind<'a>,
}

#[derive(Debug)]
pub enum EventKind<'a> {
    RunStarted {
        playbook: &'a Playbook,
        seed: u64,
    },
    StepStarted {
        step: &'a Step,
    },
    /// A running step's live status, e.g. "2/3 stores Up".
    StepStatus {
        step: &'a Step,
        message: &'a str,
    },
    /// A message the playbook asked to show (`log`).
    StepLog {
        step: &'a Step,
        message: &'a str,
    },
    StepFinished {
        step: &'a Step,
        record: &'a StepRecord,
    },
    MonitorSampled {
        monitor: &'a Monitor,
        sample: &'a Sample,
    },
    Cancelling {
        reason: CancelReason,
    },
    /// Something the run needs (the Docker daemon) is unusable: the run cannot start, or
    /// cleanup left undos in the ledger for `recover`.
    Unavailable {
        message: &'a str,
    },
    CleanupStarted,
    /// Cleanup is waiting for the Docker daemon, which stopped answering, to come back.
    WaitingForDocker {
        cause: &'a str,
        up_to: std::time::Duration,
    },
    Undone {
        record: &'a UndoRecord,
    },
    RunFinished {
        result: &'a RunResult,
    },
}

pub trait Listener: Send + Sync {
    fn event(&self, event: &RunEvent<'_>);
}
