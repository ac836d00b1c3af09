//! The JUnit XML report: what CI systems (GitLab, Jenkins, GitHub test reporters) already know
//! how to show. One test suite per playbook, one test case per trial, so a flaky scenario shows
//! up as a suite with some failing cases, each carrying the seed that replays it.

use std::fmt::Write as _;
use std::path::Path;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::name;
use super::stats::{by_playbook, step_key};
use crate::engine::timing::millis;
use crate::engine::{CancelReason, RunResult, RunStatus};

pub fn write(path: &Path, runs: &[RunResult]) -> std::io::Result<()> {
    let text = report(runs).to_string().map_err(std::io::Error::other)?;
    super::write_file(path, &(text + "\n"))
}

fn report(runs: &[RunResult]) -> Report {
    let mut report = Report::new("chaosplay");
    report.set_time(runs.iter().map(|r| r.duration).sum());
    for trials in by_playbook(runs) {
        let first = trials[0];
        let mut suite = TestSuite::new(first.scenario.name.as_str());
        suite.add_property(Property::new("file", first.file.as_str()));
        suite.set_time(trials.iter().map(|r| r.duration).sum());
        suite.set_timestamp(timestamp(first));
        // Named by trial only when several were asked for, so a single run reads as the
        // scenario, and trial 1 of several keeps its number when --fail-fast stopped the rest.
        let several = first.trials > 1;
        suite.add_test_cases(trials.iter().map(|run| case(run, several)));
        report.add_test_suite(suite);
    }
    report
}

fn case(run: &RunResult, several: bool) -> TestCase {
    let name = if several {
        format!("trial {} (seed {})", run.trial, run.seed)
    } else {
        run.scenario.name.clone()
    };
    let mut case = TestCase::new(name, status(run));
    case.set_classname(run.scenario.name.as_str())
        .set_time(run.duration)
        .set_system_out(summary(run))
        .add_property(Property::new("seed", run.seed.to_string()));
    case.set_timestamp(timestamp(run));
    case
}

/// Failures of the scenario are JUnit failures; runs that could not say anything about the
/// subject (interrupted, or its environment unusable) are errors, as a crashed test is.
fn status(run: &RunResult) -> TestCaseStatus {
    let kind = match run.status {
        RunStatus::Passed => return TestCaseStatus::success(),
        RunStatus::Failed | RunStatus::CleanupFailed => NonSuccessKind::Failure,
        RunStatus::EnvironmentError | RunStatus::Interrupted => NonSuccessKind::Error,
    };
    let mut status = TestCaseStatus::non_success(kind);
    match (run.failing_step(), &run.error, run.interrupted_by) {
        (Some(step), _, _) => {
            let error = step.error.as_ref();
            let message = error.map_or(step.status.word(), |e| e.message.as_str());
            status.set_message(format!(
                "step `{}` {}: {message}",
                step_key(step),
                step.status.word()
            ));
            if let Some(error) = error {
                status.set_type(name(error.kind));
            }
            let all: Vec<String> = run
                .failures()
                .map(|s| {
                    let why = s.error.as_ref().map_or("", |e| e.message.as_str());
                    format!(
                        "{} ({}, line {}): {} {why}",
                        step_key(s),
                        s.uses,
                        s.line,
                        s.status.word()
                    )
                })
                .collect();
            status.set_description(all.join("\n"));
        }
        (None, Some(error), _) => {
            status.set_message(error.as_str()).set_type("environment");
        }
        (None, None, Some(signal)) => {
            let signal = match signal {
                CancelReason::Interrupt => "SIGINT",
                CancelReason::Terminate => "SIGTERM",
            };
            status
                .set_message(format!("interrupted by {signal}"))
                .set_type("cancelled");
        }
        (None, None, None) => {
            status.set_message(name(run.status));
        }
    }
    status
}

/// What the terminal's summary table shows: every step with its status and duration, then
/// the automatic undos, so the CI page alone tells what happened.
fn summary(run: &RunResult) -> String {
    let mut out = format!(
        "{} ({}) seed {} trial {}: {} in {} ms\n",
        run.scenario.name,
        run.file,
        run.seed,
        run.trial,
        name(run.status),
        millis(run.duration)
    );
    if let Some(error) = &run.error {
        let _ = writeln!(out, "error: {error}");
    }
    for step in &run.steps {
        let _ = write!(
            out,
            "{:<32} {:<18} {:<9} {:>7} ms",
            step_key(step),
            step.uses,
            step.status.word(),
            millis(step.timing.duration)
        );
        if let Some(error) = &step.error
            && !step.tolerated
        {
            let _ = write!(out, "  {}", error.message);
        }
        out.push('\n');
        for warning in &step.warnings {
            let _ = writeln!(out, "  warning: {warning}");
        }
    }
    for undo in &run.undo {
        let outcome = match &undo.error {
            None => "ok".to_string(),
            Some(e) => format!("failed: {e}"),
        };
        let _ = writeln!(out, "undo: {} ({outcome})", undo.description);
    }
    out
}

/// quick-junit writes it to the millisecond, like `time`, whatever precision it is given.
fn timestamp(run: &RunResult) -> chrono::DateTime<chrono::Utc> {
    run.started_at.into()
}
