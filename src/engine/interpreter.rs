//! The run loop: main steps in order (stopping at the first failure), background steps joined
//! at the end, then every `finally` step under the cleanup deadline, whatever happened before.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::time::Instant as Deadline;
use tokio_util::sync::CancellationToken;

use super::cancel::Cancel;
use super::context::{Background, Frame, GroupScope, Iteration, Join, RunShared, StepContext};
use super::events::{EventKind, Listener, RunEvent};
use super::ledger::Ledger;
use super::monitor;
use super::project_lock::ProjectLock;
use super::timing::{self, Timing};
use super::{ErrorRecord, RunResult, RunStatus, StepError, StepRecord, StepStatus, UndoRecord};
use crate::duration::Duration;
use crate::playbook::{Group, MIN_INTERVAL, MIN_TIMEOUT, Phase, Playbook, Record, Step};
use crate::steps::undo::Undo;

pub struct RunOptions {
    /// Seeds every random choice of the run, so a failing run replays exactly.
    pub seed: u64,
    /// 1-based trial number when a scenario is repeated.
    pub trial: u32,
    /// How many trials were asked for (`--trials`), whether or not all of them run.
    pub trials: u32,
    pub cancel: Cancel,
    /// Take over undos an earlier run left outstanding on the project, instead of refusing.
    pub adopt_ledger: bool,
}

pub async fn run(
    playbook: Arc<Playbook>,
    options: RunOptions,
    listener: Arc<dyn Listener>,
) -> RunResult {
    // One moment for both clocks, so that `started_at` plus a step's `start_us` is when the
    // step started.
    let (started_at, started) = (SystemTime::now(), Instant::now());
    let run_info = serde_json::json!({
        "seed": options.seed,
        "trial": options.trial,
        "started_at": timing::rfc3339(started_at),
        "scenario": playbook.scenario.name,
    });
    // A project is shared by every run that targets it; without one there is nothing to share,
    // so the ledger is this run's own (still found by `chaosplay recover`).
    let ledger = match &playbook.project {
        Some(project) => Ledger::open(project, &playbook.scenario.name, options.adopt_ledger),
        None => {
            // Trials side by side (`--jobs`) are runs of their own.
            let key = format!(
                "run-{}-{}-t{}",
                sanitize(&playbook.scenario.name),
                std::process::id(),
                options.trial
            );
            Ledger::private(&key, &playbook.scenario.name)
        }
    };
    let ledger = match ledger {
        Ok(ledger) => ledger,
        Err(e) => {
            return refuse(
                &playbook,
                &options,
                started_at,
                listener.as_ref(),
                e.to_string(),
            );
        }
    };
    let shared = Arc::new(RunShared::new(
        Arc::clone(&playbook),
        Arc::clone(&listener),
        run_info,
        options.seed,
        ledger,
        started,
    ));
    shared.emit(EventKind::RunStarted {
        playbook: &playbook,
        seed: options.seed,
    });
    let cancel = options.cancel.clone();
    let project_lock = match lock_project(&shared).await {
        Ok(lock) => lock,
        Err(message) => {
            return refuse(&playbook, &options, started_at, listener.as_ref(), message);
        }
    };
    let stop_monitors = CancellationToken::new();
    let monitors = monitor::start(&shared, &stop_monitors);
    let (mut records, main_failed) = run_steps(&shared, cancel.token()).await;
    // Background steps still running are joined after a success and cancelled otherwise.
    let how = if main_failed || cancel.token().is_cancelled() {
        Join::Abort
    } else {
        Join::Wait
    };
    shared.join_background(None, how).await;
    if let Some(reason) = cancel.reason() {
        shared.emit(EventKind::Cancelling { reason });
    }

    let deadline = Deadline::now() + playbook.scenario.finally_timeout.0;
    if !shared.ledger.pending().is_empty() || !playbook.finally.is_empty() {
        shared.emit(EventKind::CleanupStarted);
    }
    let (undo_records, undos_failed) = undo_faults(&shared, deadline).await;
    let finally_failed = run_finally(&shared, deadline, &mut records).await;
    let cleanup_failed = undos_failed || finally_failed;

    if let Some(lock) = project_lock
        && let Err(e) = lock.release().await
    {
        shared.emit(EventKind::Unavailable {
            message: &format!("the project lock stays on the engine: {e}"),
        });
    }

    stop_monitors.cancel();
    let mut series = Vec::new();
    for handle in monitors {
        series.push(handle.await.expect("monitor task panicked"));
    }
    records.extend(
        shared
            .joined
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..),
    );
    records.sort_by_key(|r| (r.phase == Phase::Finally, r.index));
    let status = run_status(
        &records,
        &undo_records,
        cleanup_failed,
        cancel.reason().is_some(),
    );
    if let Some(message) = kept_for_recover(&undo_records) {
        shared.emit(EventKind::Unavailable { message: &message });
    }
    let result = RunResult {
        duration: shared.started.elapsed(),
        status,
        interrupted_by: cancel.reason(),
        exit_code: status.exit_code(cancel.reason()),
        metrics: shared
            .recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
        resolutions: shared
            .resolutions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone(),
        steps: records,
        undo: undo_records,
        monitors: series,
        ..not_run(&playbook, &options, started_at)
    };
    shared.emit(EventKind::RunFinished { result: &result });
    result
}

/// Runs the main steps in order until one fails or the run is cancelled, starting background
/// steps as tasks; returns the records of the steps that ran in the foreground and whether one
/// failed.
async fn run_steps(shared: &Arc<RunShared>, cancel: &CancellationToken) -> (Vec<StepRecord>, bool) {
    let mut records = Vec::new();
    for step in &shared.playbook.steps {
        if cancel.is_cancelled() {
            break;
        }
        if step.background {
            let ready = step
                .kind
                .holds_until_ready()
                .then(|| shared.await_ready(step.index));
            start_background(shared, step, cancel);
            if let Some(ready) = ready {
                tokio::select! {
                    _ = ready.cancelled() => {}
                    _ = cancel.cancelled() => {}
                }
            }
            continue;
        }
        let record = execute(shared, step, cancel, None).await;
        let ok = record.succeeded() || record.tolerated;
        records.push(record);
        if !ok {
            return (records, true);
        }
    }
    (records, false)
}

/// Starts a background step as a task of its own, stopped or aborted through the tokens it is
/// registered with.
fn start_background(shared: &Arc<RunShared>, step: &Step, cancel: &CancellationToken) {
    let abort = cancel.child_token();
    let stop = abort.child_token();
    shared.track_actions(step.index);
    let ended = CancellationToken::new();
    let task = (
        Arc::clone(shared),
        stop.clone(),
        abort.clone(),
        ended.clone(),
    );
    let index = step.index;
    let handle = tokio::spawn(async move {
        let (task_shared, task_stop, task_abort, task_ended) = task;
        // Fired on the way out however the task ends, a panic included: nothing waits forever.
        let _ended = task_ended.drop_guard();
        let step = task_shared.step(Phase::Steps, index);
        let record = execute(&task_shared, step, &task_stop, Some(&task_abort)).await;
        // A step that ended before it was ready (skipped, failed to bind) holds nothing.
        task_shared.mark_ready(Phase::Steps, index);
        record
    });
    let id = step
        .id
        .clone()
        .expect("validation requires an id on background steps");
    shared.add_background(
        id,
        Background {
            handle,
            stop,
            abort,
            ended,
        },
    );
}

/// Reverses the faults still in the ledger, newest first, once every fault action in flight
/// has landed (undoing one still landing would be undone by it). What could not be undone
/// stays on disk for `chaosplay recover`. Returns the records and whether any failed.
async fn undo_faults(shared: &RunShared, deadline: Deadline) -> (Vec<UndoRecord>, bool) {
    shared.settle_faults(deadline).await;
    let undos: Vec<Undo> = shared.ledger.pending().into_iter().rev().collect();
    let mut records = Vec::new();
    let mut not_undone = Vec::new();
    let docker_back = Deadline::now() + crate::clients::docker::patience();
    for undo in undos {
        let record = reverse(shared, undo, deadline, docker_back).await;
        if !record.ok {
            not_undone.insert(0, record.undo.clone());
        }
        shared.emit(EventKind::Undone { record: &record });
        records.push(record);
    }
    let mut failed = !not_undone.is_empty();
    if let Err(e) = shared.ledger.settle(not_undone) {
        failed = true;
        shared.emit(EventKind::Unavailable {
            message: &e.to_string(),
        });
    }
    (records, failed)
}

/// Runs `[[finally]]` under the cleanup deadline, appending its records; returns whether a
/// step of it failed. The first signal does not cancel it; a second one exits the process.
async fn run_finally(
    shared: &Arc<RunShared>,
    deadline: Deadline,
    records: &mut Vec<StepRecord>,
) -> bool {
    let playbook = &shared.playbook;
    let cleanup = CancellationToken::new();
    let mut failed = false;
    for step in &playbook.finally {
        let record =
            match tokio::time::timeout_at(deadline, execute(shared, step, &cleanup, None)).await {
                Ok(record) => record,
                Err(_) => cancelled_record(
                    shared,
                    step,
                    format!(
                        "cleanup deadline reached (finally_timeout = {})",
                        playbook.scenario.finally_timeout
                    ),
                ),
            };
        failed |= !record.succeeded();
        records.push(record);
    }
    failed
}

/// Connects to the Docker daemon if the playbook (or an undo it adopted) needs it and, when it
/// has a subject, takes the subject's lock on the engine, so that no other run anywhere faults the same project.
async fn lock_project(shared: &RunShared) -> Result<Option<ProjectLock>, String> {
    let playbook = &shared.playbook;
    // Undos adopted with --ignore-ledger touch containers even when no step does.
    let adopted = shared.ledger.pending().iter().any(Undo::needs_docker);
    if !playbook.needs_docker() && !adopted {
        return Ok(None);
    }
    let docker = shared.docker().await.map_err(|e| e.to_string())?;
    match &playbook.project {
        Some(project) => ProjectLock::acquire(docker, project, &playbook.scenario.name)
            .await
            .map(Some)
            .map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

/// The run's outcome, most serious first: a cleanup that failed for its own reasons (the
/// subject may be left faulted), an interruption, an unusable environment (during the steps,
/// or the only reason cleanup failed), a failed step, else passed.
fn run_status(
    records: &[StepRecord],
    undos: &[UndoRecord],
    cleanup_failed: bool,
    interrupted: bool,
) -> RunStatus {
    let in_steps = |r: &&StepRecord| r.phase == Phase::Steps;
    let environment_error = records.iter().filter(in_steps).any(|r| {
        r.error
            .as_ref()
            .is_some_and(|e| e.kind == super::ErrorKind::Environment)
    });
    let any_failed = records
        .iter()
        .filter(in_steps)
        .any(|r| !r.succeeded() && !r.tolerated);
    let environment_cleanup = cleanup_failed && cleanup_failed_for_the_environment(records, undos);
    if cleanup_failed && !environment_cleanup {
        RunStatus::CleanupFailed
    } else if interrupted {
        RunStatus::Interrupted
    } else if environment_error || environment_cleanup {
        RunStatus::EnvironmentError
    } else if any_failed {
        RunStatus::Failed
    } else {
        RunStatus::Passed
    }
}

/// Whether every part of cleanup that failed did so because the environment was unusable:
/// undos the Docker daemon could not apply (they stay in the ledger for `recover`) and
/// `[[finally]]` steps that failed for the environment. The run is then an environment error,
/// which is what needs fixing first; a failure of cleanup for any other reason is still a
/// failed cleanup.
fn cleanup_failed_for_the_environment(records: &[StepRecord], undos: &[UndoRecord]) -> bool {
    let failed_undos = undos.iter().filter(|r| !r.ok);
    let failed_finally = records
        .iter()
        .filter(|r| r.phase == Phase::Finally && !r.succeeded());
    let undos_kept = undos.iter().any(|r| r.docker_unusable);
    let all_environment = failed_undos.clone().all(|r| r.docker_unusable)
        && failed_finally.clone().all(|r| {
            r.error
                .as_ref()
                .is_some_and(|e| e.kind == super::ErrorKind::Environment)
        });
    (undos_kept || failed_finally.count() > 0) && all_environment
}

/// The sentence that ends a run whose undos the Docker daemon could not apply: why, and what
/// to do about them.
fn kept_for_recover(undos: &[UndoRecord]) -> Option<String> {
    let kept: Vec<&UndoRecord> = undos.iter().filter(|r| r.docker_unusable).collect();
    let cause = kept.first()?.error.as_deref().unwrap_or_default();
    let n = kept.len();
    Some(format!(
        "{cause}; {n} undo{} left in the ledger: run `chaosplay recover` when the daemon is back",
        if n == 1 { "" } else { "s" }
    ))
}

/// The result of a run that could not start: something it needs is unavailable (the Docker
/// daemon), or its project is busy or left faulted by an earlier run. Nothing was touched.
fn refuse(
    playbook: &Playbook,
    options: &RunOptions,
    started_at: SystemTime,
    listener: &dyn Listener,
    message: String,
) -> RunResult {
    listener.event(&RunEvent {
        elapsed: std::time::Duration::ZERO,
        kind: EventKind::Unavailable { message: &message },
    });
    let result = RunResult {
        error: Some(message),
        ..not_run(playbook, options, started_at)
    };
    listener.event(&RunEvent {
        elapsed: std::time::Duration::ZERO,
        kind: EventKind::RunFinished { result: &result },
    });
    result
}

/// The result of a run that did not get to start: which run it was (said here only, for
/// refused and finished runs alike), nothing run, an environment error.
fn not_run(playbook: &Playbook, options: &RunOptions, started_at: SystemTime) -> RunResult {
    RunResult {
        scenario: playbook.scenario.clone(),
        name: playbook.run_name(),
        matrix: playbook.cell.clone(),
        file: playbook.source.path.display().to_string(),
        seed: options.seed,
        trial: options.trial,
        trials: options.trials,
        started_at,
        duration: std::time::Duration::ZERO,
        status: RunStatus::EnvironmentError,
        interrupted_by: None,
        exit_code: RunStatus::EnvironmentError.exit_code(None),
        error: None,
        metrics: Default::default(),
        resolutions: Default::default(),
        steps: Vec::new(),
        undo: Vec::new(),
        monitors: Vec::new(),
    }
}

/// A scenario name as a file name.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Applies one automatic undo under the cleanup deadline, waiting for the Docker daemon until
/// `docker_back` if it is unusable. Cleanup waits as long as one call may wait for an answer
/// ([`crate::clients::docker::patience`], 30 s by default): a restart takes seconds, and an
/// undo applied then leaves nothing for `chaosplay recover`. One budget for all undos, so a
/// daemon that is gone for good, or that takes requests and never answers, costs it once.
async fn reverse(
    shared: &RunShared,
    undo: Undo,
    deadline: Deadline,
    docker_back: Deadline,
) -> UndoRecord {
    let start = Instant::now();
    // A wait for the daemon that the cleanup deadline cuts short still ends for the daemon.
    let wait = apply_waiting(shared, &undo, docker_back.min(deadline));
    let outcome = tokio::time::timeout_at(deadline, wait)
        .await
        .unwrap_or_else(|_| Err(StepError::Failed("cleanup deadline reached".into())));
    UndoRecord {
        description: undo.describe(),
        docker_unusable: matches!(outcome, Err(StepError::DockerUnreachable(_))),
        undo,
        ok: outcome.is_ok(),
        note: outcome.as_ref().ok().cloned().flatten(),
        error: outcome.err().map(|e| e.to_string()),
        timing: Timing {
            start: start.duration_since(shared.started),
            duration: start.elapsed(),
        },
    }
}

/// [`Undo::apply`], retried while the Docker daemon is unusable and `docker_back` is ahead.
/// An attempt made while waiting is part of the wait, so a daemon that takes the request and
/// never answers is not waited for beyond `docker_back` either.
async fn apply_waiting(
    shared: &RunShared,
    undo: &Undo,
    docker_back: Deadline,
) -> Result<Option<String>, StepError> {
    let mut waiting_since: Option<String> = None;
    loop {
        if undo.needs_docker()
            && let Some(cause) = shared.docker_given_up.get()
        {
            return Err(StepError::DockerUnreachable(cause.clone()));
        }
        let applied = match &waiting_since {
            None => shared.apply_undo(undo).await,
            Some(cause) => tokio::time::timeout_at(docker_back, shared.apply_undo(undo))
                .await
                .unwrap_or_else(|_| Err(StepError::DockerUnreachable(cause.clone()))),
        };
        match applied {
            Err(StepError::DockerUnreachable(cause)) if Deadline::now() < docker_back => {
                if waiting_since.is_none() {
                    shared.emit(EventKind::WaitingForDocker {
                        cause: &cause,
                        up_to: docker_back.saturating_duration_since(Deadline::now()),
                    });
                }
                waiting_since = Some(cause);
                tokio::time::sleep(DOCKER_POLL).await;
            }
            Err(StepError::DockerUnreachable(cause)) => {
                let _ = shared.docker_given_up.set(cause.clone());
                return Err(StepError::DockerUnreachable(cause));
            }
            other => return other,
        }
    }
}

/// How often cleanup asks whether the Docker daemon is back.
const DOCKER_POLL: std::time::Duration = std::time::Duration::from_millis(250);

fn base_record(shared: &RunShared, step: &Step, start: Instant) -> StepRecord {
    StepRecord {
        phase: step.phase,
        index: step.index,
        id: step.id.clone(),
        name: step.display_name().to_string(),
        uses: step.kind.name(),
        line: shared.playbook.source.line_col(step.span.start).0,
        background: step.background,
        status: StepStatus::Passed,
        params: None,
        output: None,
        attempts: 0,
        polls: 0,
        resolution_us: None,
        error: None,
        tolerated: false,
        warnings: Vec::new(),
        timing: Timing {
            start: start.duration_since(shared.started),
            duration: std::time::Duration::ZERO,
        },
    }
}

fn cancelled_record(shared: &RunShared, step: &Step, message: String) -> StepRecord {
    let mut record = base_record(shared, step, Instant::now());
    record.status = StepStatus::Cancelled;
    record.error = Some(ErrorRecord {
        kind: super::ErrorKind::Cancelled,
        message,
    });
    shared.emit(EventKind::StepFinished {
        step,
        record: &record,
    });
    record
}

/// Runs one step to completion: condition, rendering, retries, `until`, timeout, cancellation.
/// For a background step, `abort` tells a deliberate stop (`await` with `cancel = true`) from
/// an abort.
async fn execute(
    shared: &Arc<RunShared>,
    step: &Step,
    cancel: &CancellationToken,
    abort: Option<&CancellationToken>,
) -> StepRecord {
    let start = Instant::now();
    let mut record = base_record(shared, step, start);
    shared.emit(EventKind::StepStarted { step });
    // A kind that stops gracefully hears a stop through its context and returns its output so
    // far: a deliberate stop (`await` with `cancel = true`) and an abort alike (its stop token
    // is the abort's child), so a failed or interrupted run keeps the figures it measured. With
    // `until` there is no single run to end early, so such a step is dropped like any other.
    let graceful = abort.is_some() && step.kind.stops_gracefully() && step.until.is_none();
    let (cancel, stop) = match abort {
        Some(abort) if graceful => (abort, cancel.clone()),
        _ => (cancel, CancellationToken::new()),
    };
    let outcome = attempt_all(
        shared,
        step,
        &Frame::default(),
        cancel,
        stop.clone(),
        graceful,
        &mut record,
    )
    .await;
    match outcome {
        Ok(Some(output)) if graceful && cancel.is_cancelled() => {
            // Aborted: cancelled like every background step, its figures kept as evidence.
            record.status = StepStatus::Cancelled;
            record.error = Some(ErrorRecord::from(&StepError::Cancelled));
            if let Some(id) = &step.id {
                shared.set_output(id, &output);
            }
            record.output = Some(output);
        }
        Ok(Some(output)) => {
            if stop.is_cancelled() {
                record.status = StepStatus::Stopped;
            }
            if let Some(id) = &step.id {
                shared.set_output(id, &output);
            }
            for metric in &step.record {
                match metric_value(shared, metric, &output, start) {
                    Ok(value) => {
                        let resolution =
                            metric.value.is_none().then(|| duration_resolution(&record));
                        shared.set_metric(&metric.name, value, resolution)
                    }
                    Err(e) => {
                        record.status = StepStatus::Failed;
                        record.error = Some(ErrorRecord::from(&e));
                        break;
                    }
                }
            }
            record.output = Some(output);
        }
        Ok(None) => record.status = StepStatus::Skipped,
        Err(StepError::Cancelled) if abort.is_some_and(|a| !a.is_cancelled()) => {
            record.status = StepStatus::Stopped;
        }
        Err(e) => {
            record.status = match e {
                StepError::Timeout { .. } => StepStatus::TimedOut,
                StepError::Cancelled => StepStatus::Cancelled,
                _ => StepStatus::Failed,
            };
            if let StepError::FailedWith { output, .. } = &e {
                record.output = Some((**output).clone());
            }
            record.error = Some(ErrorRecord::from(&e));
        }
    }
    record.timing.duration = start.elapsed();
    tolerate(step, &mut record);
    for value in [&mut record.params, &mut record.output]
        .into_iter()
        .flatten()
    {
        shared.redact_json(value);
    }
    if let Some(error) = &mut record.error {
        error.message = shared.redact(&error.message);
    }
    for warning in &mut record.warnings {
        *warning = shared.redact(warning);
    }
    shared.emit(EventKind::StepFinished {
        step,
        record: &record,
    });
    record
}

/// `continue_on_error`: a step that failed or timed out is tolerated — still shown as it
/// ended, with its error as a warning — so the steps go on and the run's verdict ignores it.
/// Not a cancellation (the run is ending anyway) nor an environment error (the environment is
/// unusable, so what follows could not say anything either).
fn tolerate(step: &Step, record: &mut StepRecord) {
    let environment = record
        .error
        .as_ref()
        .is_some_and(|e| e.kind == super::ErrorKind::Environment);
    if step.continue_on_error
        && matches!(record.status, StepStatus::Failed | StepStatus::TimedOut)
        && !environment
    {
        record.tolerated = true;
        let why = record.error.as_ref().map_or("", |e| e.message.as_str());
        record.warnings.push(format!(
            "{} (continue_on_error): {why}",
            record.status.word()
        ));
    }
}

/// The value a step's `record` asks for: its duration so far, or an expression over its output.
fn metric_value(
    shared: &RunShared,
    metric: &Record,
    output: &serde_json::Value,
    start: Instant,
) -> Result<f64, StepError> {
    let Some(expr) = &metric.value else {
        return Ok(start.elapsed().as_secs_f64() * 1000.0);
    };
    let value = shared.evaluate(expr, Some(output))?;
    f64::try_from(value.clone()).map_err(|_| {
        StepError::Failed(format!(
            "metric `{}`: `{expr}` is {value:?}, not a number",
            metric.name
        ))
    })
}

/// How finely a duration the step records is known, in milliseconds: its polling resolution,
/// or the microsecond the reports count in when it did not poll.
fn duration_resolution(record: &StepRecord) -> f64 {
    record.resolution_us.unwrap_or(1) as f64 / 1000.0
}

/// `Ok(None)` when the step's `if` is false. A `for_each` step runs its attempts once per item,
/// in order, its output the list of theirs; the first item that fails fails the step, and a
/// deliberate stop (`await` with `cancel = true`) ends it after the item under way.
async fn attempt_all(
    shared: &Arc<RunShared>,
    step: &Step,
    frame: &Frame,
    cancel: &CancellationToken,
    stop: CancellationToken,
    graceful: bool,
    record: &mut StepRecord,
) -> Result<Option<serde_json::Value>, StepError> {
    if let Some(condition) = &step.condition
        && !shared.evaluate_in(condition, None, frame)?.is_true()
    {
        return Ok(None);
    }
    let Some(for_each) = &step.for_each else {
        return attempts(shared, step, frame.clone(), cancel, stop, graceful, record)
            .await
            .map(Some);
    };
    let items = shared.items(for_each, frame)?;
    let mut outputs = Vec::with_capacity(items.len());
    let mut params = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        if stop.is_cancelled() {
            break;
        }
        let shown = item.to_string();
        let frame = Frame {
            iteration: Some(Iteration { item, index }),
            ..frame.clone()
        };
        let output = attempts(shared, step, frame, cancel, stop.clone(), graceful, record)
            .await
            .map_err(|e| {
                within(
                    e,
                    format!("item {index} ({})", crate::text::clip(&shown, 80)),
                )
            })?;
        params.extend(record.params.take());
        outputs.push(output);
    }
    record.params = Some(params.into());
    Ok(Some(outputs.into()))
}

/// An error of one item of a `for_each` step, or of one step of a group, saying which (`at`),
/// of the same kind.
fn within(e: StepError, at: String) -> StepError {
    match e {
        StepError::Failed(m) => StepError::Failed(format!("{at}: {m}")),
        StepError::FailedWith { message, output } => StepError::FailedWith {
            message: format!("{at}: {message}"),
            output,
        },
        StepError::Environment(m) => StepError::Environment(format!("{at}: {m}")),
        StepError::DockerUnreachable(m) => StepError::DockerUnreachable(format!("{at}: {m}")),
        StepError::Params(m) => StepError::Params(format!("{at}: {m}")),
        StepError::Template(m) => StepError::Template(format!("{at}: {m}")),
        StepError::Timeout { after, last } => StepError::Timeout {
            after,
            last: Some(match last {
                Some(last) => format!("{at}: {last}"),
                None => at,
            }),
        },
        StepError::Cancelled => StepError::Cancelled,
    }
}

/// Runs a step group's steps in order for the step `cx` runs, each with the retries, `until`
/// and loop of its own; the first that fails fails the calling step, saying which. Returns the
/// group's `[outputs]`.
pub(super) async fn run_group(
    cx: &StepContext,
    group: Arc<Group>,
    inputs: serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Value, StepError> {
    let mut vars = group.vars.clone();
    vars.extend(inputs);
    let scope = Arc::new(GroupScope::new(&vars));
    let frame = Frame {
        iteration: None,
        group: Some(Arc::clone(&scope)),
        at: Some((cx.phase, cx.index)),
    };
    // The calling step's own cancellation drops this future, and the steps with it.
    let cancel = CancellationToken::new();
    for step in &group.steps {
        let mut scratch = base_record(&cx.shared, step, Instant::now());
        let output = attempt_all(
            &cx.shared,
            step,
            &frame,
            &cancel,
            cx.stop.clone(),
            false,
            &mut scratch,
        )
        .await
        .map_err(|e| {
            let (line, _) = group.source.line_col(step.span.start);
            let at = format!(
                "{}:{line} `{}`",
                group.source.path.display(),
                step.display_name()
            );
            within(e, at)
        })?;
        if let (Some(id), Some(output)) = (&step.id, output) {
            scope.set_output(id, &output);
        }
    }
    let mut outputs = serde_json::Map::new();
    for (name, template) in &group.outputs {
        let value = cx.shared.render_template(template, &frame)?;
        outputs.insert(name.clone(), value);
    }
    Ok(outputs.into())
}

/// One execution of a step (one item's, in a `for_each` step): its parameters rendered, then
/// its attempts under `retry`.
async fn attempts(
    shared: &Arc<RunShared>,
    step: &Step,
    frame: Frame,
    cancel: &CancellationToken,
    stop: CancellationToken,
    graceful: bool,
    record: &mut StepRecord,
) -> Result<serde_json::Value, StepError> {
    let params = shared.render_in(&step.with, step.kind, &frame)?;
    record.params = Some(params.clone());
    let timings = timings(shared, step, &frame)?;
    let (phase, index) = frame.at.unwrap_or((step.phase, step.index));
    let cx = StepContext {
        shared: Arc::clone(shared),
        phase,
        index,
        last_status: Default::default(),
        warnings: Default::default(),
        stop,
        seen: Default::default(),
        frame,
        group: step.group.clone(),
    };
    // `until`'s interval and retry delays add to the step's own resolution: its polling
    // interval, or how late it says it saw the change (`StepContext::seen_within`).
    let mut outer = step.until.as_ref().map(|_| timings.interval.0);
    record.resolution_us = outer
        .into_iter()
        .chain(step.kind.poll_interval(&params))
        .max()
        .map(timing::micros);
    let mut delay = step.retry.delay.0;
    loop {
        record.attempts += 1;
        let attempt = run_attempt(&cx, step, params.clone(), &timings, record);
        // A step that stops gracefully hears `cancel` through `cx.stop` and ends with its
        // output so far, within its request timeout: it is not dropped.
        let result = match graceful {
            true => attempt.await,
            false => tokio::select! {
                _ = cancel.cancelled() => Err(StepError::Cancelled),
                r = attempt => r,
            },
        };
        record.warnings.extend(cx.take_warnings());
        match result {
            Ok(output) if graceful => return Ok(output),
            // An abort also stops a step that stops gracefully, which then returns its output
            // at once — possibly between the select's two polls, on another thread. That output
            // must not count as a pass. (A token is cancelled before its children are seen to
            // be, so this check cannot miss it.)
            Ok(_) if cancel.is_cancelled() => return Err(StepError::Cancelled),
            Ok(output) => {
                if let Some(seen) = cx.seen() {
                    record.resolution_us =
                        Some(timing::micros(outer.map_or(seen, |o| o.max(seen))));
                }
                return Ok(output);
            }
            Err(
                e @ (StepError::Cancelled | StepError::Params(_) | StepError::DockerUnreachable(_)),
            ) => return Err(e),
            Err(e) if record.attempts >= step.retry.attempts || cx.stop.is_cancelled() => {
                return Err(e);
            }
            Err(e) => {
                cx.status(format!(
                    "attempt {} failed: {e}; retrying in {}",
                    record.attempts,
                    crate::duration::human(delay)
                ));
                tokio::select! {
                    _ = cancel.cancelled() => return Err(StepError::Cancelled),
                    _ = tokio::time::sleep(delay) => {}
                }
                // A retry is a poll too: what it waits for may have come just after a failure.
                record.resolution_us = record.resolution_us.max(Some(timing::micros(delay)));
                outer = outer.max(Some(delay));
                // Saturating: `delay × backoff^n` leaves Duration's range after enough attempts.
                delay = std::time::Duration::try_from_secs_f64(
                    delay.as_secs_f64() * step.retry.backoff,
                )
                .map_or(crate::duration::MAX, |d| d.min(crate::duration::MAX));
            }
        }
    }
}

/// A step's durations, rendered.
struct Timings {
    timeout: Duration,
    /// `until`'s polling interval and `stable_for`; without `until`, unused.
    interval: Duration,
    stable_for: Option<Duration>,
}

/// The step's `timeout` (the scenario's `step_timeout` if it sets none) and `until` timings,
/// rendered with its parameters, before its first attempt.
fn timings(shared: &RunShared, step: &Step, frame: &Frame) -> Result<Timings, StepError> {
    let timeout = match &step.timeout {
        Some(timeout) => shared.duration("timeout", timeout, MIN_TIMEOUT, frame)?,
        None => shared.playbook.scenario.step_timeout,
    };
    let Some(until) = &step.until else {
        return Ok(Timings {
            timeout,
            interval: Duration::default(),
            stable_for: None,
        });
    };
    let stable_for = until.stable_for.as_ref();
    Ok(Timings {
        timeout,
        interval: shared.duration("interval", &until.interval, MIN_INTERVAL, frame)?,
        stable_for: stable_for
            .map(|d| shared.duration("stable_for", d, Duration::default(), frame))
            .transpose()?,
    })
}

/// One attempt: a single execution under the timeout, or `until` polling to the deadline.
async fn run_attempt(
    cx: &StepContext,
    step: &Step,
    params: serde_json::Value,
    timings: &Timings,
    record: &mut StepRecord,
) -> Result<serde_json::Value, StepError> {
    let timeout = timings.timeout;
    let deadline = Deadline::now() + timeout.0;
    let Some(until) = &step.until else {
        return match tokio::time::timeout_at(deadline, step.kind.run(params, cx)).await {
            Ok(result) => result,
            Err(_) => Err(StepError::Timeout {
                after: timeout,
                last: cx.last_status().map(|s| format!("last status: {s}")),
            }),
        };
    };
    let mut last: Option<String> = None;
    let mut holding_since: Option<Instant> = None;
    loop {
        record.polls += 1;
        let poll = tokio::time::timeout_at(deadline, step.kind.run(params.clone(), cx)).await;
        match poll {
            Ok(Ok(output)) => match cx.evaluate_output(&until.condition, &output) {
                Ok(v) if v.is_true() => {
                    let since = *holding_since.get_or_insert_with(Instant::now);
                    let stable = timings.stable_for.is_none_or(|d| since.elapsed() >= d.0);
                    if stable {
                        return Ok(output);
                    }
                    cx.status(format!("`{}` holds, waiting until stable", until.condition));
                    record.output = Some(output);
                }
                Ok(_) => {
                    holding_since = None;
                    last = Some(format!(
                        "`{}` was false; last output: {}",
                        until.condition,
                        crate::text::clip(&output.to_string(), 400).into_owned()
                    ));
                    record.output = Some(output);
                }
                Err(e) => {
                    holding_since = None;
                    last = Some(e.to_string());
                    record.output = Some(output);
                }
            },
            Ok(Err(e @ (StepError::Params(_) | StepError::DockerUnreachable(_)))) => return Err(e),
            Ok(Err(e)) => {
                holding_since = None;
                cx.status(format!("not yet: {e}"));
                last = Some(format!("last error: {e}"));
            }
            Err(_) => {}
        }
        let now = Deadline::now();
        if now >= deadline {
            return Err(StepError::Timeout {
                after: timeout,
                last,
            });
        }
        tokio::time::sleep_until((now + timings.interval.0).min(deadline)).await;
    }
}
