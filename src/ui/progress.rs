//! Live progress: on a terminal, one spinner line per running step with its elapsed time and
//! status; otherwise (CI logs, pipes) plain timestamped lines. Both end with a summary table.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::duration::human;
use crate::engine::{EventKind, Listener, RunEvent, RunResult, Sample, StepRecord, StepStatus};
use crate::playbook::{Monitor, Phase, Step};
use crate::report::number;
use crate::report::stats::TrialSummary;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

const STATUS_EVERY: Duration = Duration::from_secs(2);

pub struct Progress {
    verbosity: Verbosity,
    live: Option<MultiProgress>,
    bars: Mutex<HashMap<(Phase, usize), ProgressBar>>,
    /// Last status printed per step in plain mode, and when.
    last_status: Mutex<HashMap<(Phase, usize), (String, Duration)>>,
    /// Names the trial on every line when trials run side by side (`[t2] `); empty otherwise.
    prefix: String,
}

impl Progress {
    pub fn new(verbosity: Verbosity) -> Self {
        let live = (std::io::stdout().is_terminal() && verbosity != Verbosity::Quiet)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        Progress {
            verbosity,
            live,
            bars: Mutex::default(),
            last_status: Mutex::default(),
            prefix: String::new(),
        }
    }

    /// The display of one of several trials running side by side: the same terminal (its
    /// spinners join this one's), every line and spinner naming the trial.
    pub fn for_trial(&self, trial: u32) -> Progress {
        Progress {
            verbosity: self.verbosity,
            live: self.live.clone(),
            bars: Mutex::default(),
            last_status: Mutex::default(),
            prefix: format!("[t{trial}] "),
        }
    }

    fn line(&self, elapsed: Duration, text: &str) {
        let line = format!("[{:>8.3}s] {}{text}", elapsed.as_secs_f64(), self.prefix);
        match &self.live {
            Some(mp) => {
                let _ = mp.println(line);
            }
            None => stdout(&format!("{line}\n")),
        }
    }

    fn started(&self, step: &Step) {
        let Some(mp) = &self.live else { return };
        let bar = mp.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(format!("{}{}", self.prefix, label(step)));
        bar.enable_steady_tick(Duration::from_millis(120));
        lock(&self.bars).insert((step.phase, step.index), bar);
    }

    fn status(&self, elapsed: Duration, step: &Step, message: &str) {
        if let Some(bar) = lock(&self.bars).get(&(step.phase, step.index)) {
            bar.set_message(message.to_string());
            return;
        }
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        // Polling steps update their status on every poll: a log gets one line per
        // STATUS_EVERY at most, and none for a status that did not change.
        let mut last = lock(&self.last_status);
        let key = (step.phase, step.index);
        let due = match last.get(&key) {
            None => true,
            Some((text, at)) => text != message && elapsed >= *at + STATUS_EVERY,
        };
        if due {
            last.insert(key, (message.to_string(), elapsed));
            drop(last);
            self.line(elapsed, &format!("  {}: {message}", label(step)));
        }
    }

    /// A monitor's latest sample as one status line: a bar that stays on a terminal, a line
    /// when it changes (at most every STATUS_EVERY) in a log.
    fn monitor(&self, elapsed: Duration, monitor: &Monitor, sample: &Sample) {
        let text = match (&sample.show, &sample.error) {
            (Some(show), _) => show.clone(),
            (None, Some(error)) => format!("error: {error}"),
            (None, None) => String::new(),
        };
        let step = &monitor.step;
        if let Some(mp) = &self.live {
            let mut bars = lock(&self.bars);
            let bar = bars.entry((step.phase, step.index)).or_insert_with(|| {
                let bar = mp.insert(0, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("◉ {prefix}: {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(format!("{}{}", self.prefix, step.display_name()));
                bar
            });
            bar.set_message(text);
            return;
        }
        self.status(elapsed, step, &text);
    }

    fn finished(&self, elapsed: Duration, step: &Step, record: &StepRecord) {
        if let Some(bar) = lock(&self.bars).remove(&(step.phase, step.index)) {
            bar.finish_and_clear();
        }
        let show = match self.verbosity {
            Verbosity::Quiet => !record.succeeded() || !record.warnings.is_empty(),
            _ => true,
        };
        if !show {
            return;
        }
        let mut text = format!(
            "{} {} {}",
            symbol(record.status),
            label(step),
            human(record.timing.duration)
        );
        if record.attempts > 1 {
            text.push_str(&format!(" ({} attempts)", record.attempts));
        }
        if let Some(error) = &record.error
            && !record.tolerated
        {
            text.push_str(&format!("\n{}", indent(&error.message)));
        }
        for warning in &record.warnings {
            text.push_str(&format!("\n{}", indent(&format!("warning: {warning}"))));
        }
        if self.verbosity == Verbosity::Verbose
            && let Some(output) = &record.output
        {
            text.push_str(&format!("\n{}", indent(&format!("output: {output}"))));
        }
        self.line(elapsed, &text);
    }

    fn summary(&self, result: &RunResult) {
        for (_, bar) in lock(&self.bars).drain() {
            bar.finish_and_clear();
        }
        if result.error.is_some() {
            // Said once already, as the reason nothing ran.
            return;
        }
        let mut out = String::new();
        if self.verbosity != Verbosity::Quiet {
            out.push_str(&format!("\n{:<10} {:>9}  step\n", "result", "duration"));
            for r in &result.steps {
                out.push_str(&format!(
                    "{:<10} {:>9}  {}{} ({})\n",
                    status_word(r.status),
                    human(r.timing.duration),
                    if r.phase == Phase::Finally {
                        "finally: "
                    } else {
                        ""
                    },
                    r.name,
                    r.uses
                ));
            }
        }
        let passed = result
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Passed)
            .count();
        let failed = result.steps.iter().filter(|s| !s.succeeded()).count();
        let mut counts = format!("{passed} passed, {failed} failed");
        let tolerated = result.steps.iter().filter(|s| s.tolerated).count();
        if tolerated > 0 {
            counts.push_str(&format!(" ({tolerated} tolerated by continue_on_error)"));
        }
        let warnings = result.warnings().count();
        if warnings > 0 {
            counts.push_str(&format!(
                ", {warnings} warning{}",
                if warnings == 1 { "" } else { "s" }
            ));
        }
        out.push_str(&format!(
            "{}{}: {} in {} (seed {}) — {counts}\n",
            self.prefix,
            serde_json::to_value(result.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
                .replace('_', " "),
            result.name,
            human(result.duration),
            result.seed,
        ));
        match &self.live {
            Some(mp) => {
                let _ = mp.println(out.trim_end());
            }
            None => stdout(&out),
        }
    }
}

impl Progress {
    /// The end of `--trials`: pass rate and distributions, one line per metric and step.
    pub fn trials(&self, summary: &TrialSummary) {
        let mut out = format!(
            "\ntrials: {} — {}/{} passed ({:.0}%)\n{:<40} {:>9} {:>9} {:>9}\n",
            summary.scenario,
            summary.passed,
            summary.trials,
            summary.pass_rate * 100.0,
            "metric / step",
            "p50",
            "p90",
            "max"
        );
        let ms = |v: f64| human(Duration::from_secs_f64(v.max(0.0) / 1000.0));
        for (name, d) in &summary.metrics {
            out.push_str(&format!(
                "{:<40} {:>9} {:>9} {:>9}\n",
                format!("metric {name}"),
                number(d.p50),
                number(d.p90),
                number(d.max)
            ));
        }
        for (name, d) in &summary.steps {
            out.push_str(&format!(
                "{:<40} {:>9} {:>9} {:>9}\n",
                format!("step {name}"),
                ms(d.p50),
                ms(d.p90),
                ms(d.max)
            ));
        }
        match &self.live {
            Some(mp) => {
                let _ = mp.println(out.trim_end());
            }
            None => stdout(&out),
        }
    }
}

impl Listener for Progress {
    fn event(&self, event: &RunEvent<'_>) {
        let at = event.elapsed;
        match &event.kind {
            EventKind::RunStarted { playbook, seed } => {
                if self.verbosity != Verbosity::Quiet {
                    self.line(at, &format!("▶ {} (seed {seed})", playbook.run_name()));
                }
            }
            EventKind::StepStarted { step } => {
                if self.live.is_some() {
                    self.started(step);
                } else if self.verbosity == Verbosity::Verbose {
                    self.line(at, &format!("· {}", label(step)));
                }
            }
            // A monitor's own step statuses are noise: its samples are what it shows.
            EventKind::StepStatus { step, .. } if step.phase == Phase::Monitors => {}
            EventKind::StepStatus { step, message } => self.status(at, step, message),
            EventKind::MonitorSampled { monitor, sample } => self.monitor(at, monitor, sample),
            EventKind::StepLog { step: _, message } => self.line(at, &format!("  {message}")),
            EventKind::StepFinished { step, record } => self.finished(at, step, record),
            EventKind::Cancelling { reason } => {
                self.line(at, &format!("! cancelled ({reason:?}); running cleanup"));
            }
            EventKind::Unavailable { message } => {
                eprintln!("error: {message}");
            }
            EventKind::Undone { record } => {
                let mut text = format!(
                    "{} undo: {}",
                    if record.ok { "↺" } else { "✗" },
                    record.description
                );
                if let Some(e) = record.error.as_ref().or(record.note.as_ref()) {
                    text.push_str(&format!("\n{}", indent(e)));
                }
                self.line(at, &text);
            }
            EventKind::WaitingForDocker { cause, up_to } => {
                self.line(
                    at,
                    &format!(
                        "… waiting up to {} for the Docker daemon to come back\n{}",
                        human(*up_to),
                        indent(cause)
                    ),
                );
            }
            EventKind::CleanupStarted => {
                if self.verbosity != Verbosity::Quiet {
                    self.line(at, "▶ finally");
                }
            }
            EventKind::RunFinished { result } => self.summary(result),
        }
    }
}

/// Writes to stdout, ignoring a closed pipe (`chaosplay run … | head`).
pub fn stdout(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn label(step: &Step) -> String {
    if step.display_name() == step.kind.name() {
        step.kind.name().to_string()
    } else {
        format!("{} ({})", step.display_name(), step.kind)
    }
}

fn symbol(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Passed => "✓",
        StepStatus::Skipped => "-",
        StepStatus::Failed | StepStatus::TimedOut => "✗",
        StepStatus::Cancelled => "!",
        StepStatus::Stopped => "■",
    }
}

fn status_word(status: StepStatus) -> String {
    match status {
        StepStatus::Failed | StepStatus::TimedOut => status.word().to_uppercase(),
        _ => status.word().to_string(),
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("             {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
