//! The JSON report: a stable, documented format (docs/report.md) for harnesses that measure
//! recovery. Field names only ever get added, never renamed, within one `format` version.

use std::path::Path;

use serde::Serialize;

use super::stats::{Trial, TrialSummary};
use crate::engine::RunResult;

pub const FORMAT: &str = "chaosplay-report/1";

#[derive(Debug, Serialize)]
pub struct Report<'a, R> {
    pub format: &'static str,
    pub tool_version: &'static str,
    /// The exit code of the whole invocation.
    pub exit_code: i32,
    /// One per playbook run more than once (`--trials`): pass rate and distributions.
    pub summaries: &'a [TrialSummary],
    pub runs: &'a [R],
}

pub fn write(
    path: &Path,
    runs: &[RunResult],
    summaries: &[TrialSummary],
    exit_code: i32,
) -> std::io::Result<()> {
    write_runs(path, runs, summaries, exit_code)
}

/// [`write`] for runs of any form: `merge` writes those it read back, as they were.
pub fn write_runs<R: Serialize>(
    path: &Path,
    runs: &[R],
    summaries: &[TrialSummary],
    exit_code: i32,
) -> std::io::Result<()> {
    let report = Report {
        format: FORMAT,
        tool_version: env!("CARGO_PKG_VERSION"),
        exit_code,
        summaries,
        runs,
    };
    let text = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
    super::write_file(path, &(text + "\n"))
}

/// A report read back.
#[derive(Debug)]
pub struct Stored {
    pub exit_code: i32,
    /// Each run as written, kept whole for `merge`.
    pub runs: Vec<serde_json::Value>,
    /// What summaries and `compare` read of each run, in the same order.
    pub trials: Vec<Trial>,
}

/// Reads a JSON report: `Err` says, in a sentence naming the file, why it cannot be used (not
/// there, not JSON, another format, a run missing what a summary needs).
pub fn read(path: &Path) -> Result<Stored, String> {
    let at = path.display();
    // Not `text_file::read`: its 16 MiB cap suits playbooks, and a campaign's report with
    // monitors over thousands of trials outgrows it. A device (a typo for `/dev/zero`) would
    // be read forever, so only files and pipes (`<(…)` in a shell) are read.
    let kind = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {at}: {e}"))?
        .file_type();
    if !(kind.is_file() || std::os::unix::fs::FileTypeExt::is_fifo(&kind)) {
        return Err(format!("cannot read {at}: it is not a file"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {at}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{at} is not JSON: {e}"))?;
    let format = value.get("format").and_then(|f| f.as_str());
    if format != Some(FORMAT) {
        return Err(format!(
            "{at} is not a chaosplay JSON report (its `format` is {}, not `{FORMAT}`)",
            format.map_or("missing".to_string(), |f| format!("`{f}`"))
        ));
    }
    let exit_code = value["exit_code"].as_i64().unwrap_or_default() as i32;
    let runs = match value.get("runs") {
        Some(serde_json::Value::Array(runs)) => runs.clone(),
        _ => return Err(format!("{at} has no `runs` array")),
    };
    let trials = runs
        .iter()
        .enumerate()
        .map(|(i, run)| {
            serde_json::from_value(run.clone()).map_err(|e| format!("{at}: run {}: {e}", i + 1))
        })
        .collect::<Result<_, _>>()?;
    Ok(Stored {
        exit_code,
        runs,
        trials,
    })
}
