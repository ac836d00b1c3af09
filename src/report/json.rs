//! The JSON report: a stable, documented format (docs/report.md) for harnesses that measure
//! recovery. Field names only ever get added, never renamed, within one `format` version.

use std::path::Path;

use serde::Serialize;

use super::stats::TrialSummary;
use crate::engine::RunResult;

pub const FORMAT: &str = "chaosplay-report/1";

#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub format: &'static str,
    pub tool_version: &'static str,
    /// The exit code of the whole invocation.
    pub exit_code: i32,
    /// One per playbook run more than once (`--trials`): pass rate and distributions.
    pub summaries: &'a [TrialSummary],
    pub runs: &'a [RunResult],
}

pub fn write(
    path: &Path,
    runs: &[RunResult],
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
