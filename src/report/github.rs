//! GitHub Actions conveniences: workflow-command annotations that put each failed step on the
//! playbook line of its `uses` in the pull request, and a markdown job summary. Pure
//! functions from results to text; the command line decides when to use them.

use std::fmt::Write as _;
use std::time::Duration;

use super::stats::TrialSummary;
use crate::duration::human;
use crate::engine::RunResult;

/// One `::error` line per failed step of every run, one `::warning` per warning. Without a failed step (nothing ran: no
/// Docker daemon), the run's own error is annotated on the playbook.
pub fn annotations(results: &[RunResult]) -> String {
    let mut out = String::new();
    for result in results {
        let mut failed = false;
        for step in result.failures() {
            failed = true;
            let message = step
                .error
                .as_ref()
                .map_or_else(|| step.status.word().to_string(), |e| e.message.clone());
            let title = format!("{}: {}", result.name, step.name);
            let _ = writeln!(
                out,
                "::error file={},line={},title={}::{}",
                property(&result.file),
                step.line,
                property(&title),
                data(&message)
            );
        }
        for (step, warning) in result.warnings() {
            let title = format!("{}: {}", result.name, step.name);
            let _ = writeln!(
                out,
                "::warning file={},line={},title={}::{}",
                property(&result.file),
                step.line,
                property(&title),
                data(warning)
            );
        }
        if let (false, Some(error)) = (failed, &result.error) {
            let _ = writeln!(
                out,
                "::error file={},title={}::{}",
                property(&result.file),
                property(&result.name),
                data(error)
            );
        }
    }
    out
}

/// A markdown job summary (for `$GITHUB_STEP_SUMMARY`): one row per run, then the trial
/// statistics of every cell that ran more than once.
pub fn summary(results: &[RunResult], summaries: &[TrialSummary]) -> String {
    let mut out = String::from(
        "## chaosplay\n\n| scenario | status | duration | seed | failing step |\n|---|---|---|---|---|\n",
    );
    for r in results {
        let status = serde_json::to_value(r.status)
            .ok()
            .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
            .unwrap_or_default();
        let icon = if r.exit_code == 0 { "✅" } else { "❌" };
        let failing = r
            .failures()
            .next()
            .map(|s| {
                let why = s.error.as_ref().map_or("", |e| e.message.as_str());
                format!("{} (line {}): {}", s.name, s.line, why)
            })
            .or_else(|| r.error.clone())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {icon} {status} | {} | {} | {} |",
            cell(&r.name),
            human(r.duration),
            r.seed,
            cell(&failing)
        );
    }
    for s in summaries {
        let _ = write!(
            out,
            "\n### {} — {}/{} trials passed ({:.0}%)\n\n",
            s.scenario,
            s.passed,
            s.trials,
            s.pass_rate * 100.0
        );
        if s.metrics.is_empty() && s.steps.is_empty() {
            continue;
        }
        out.push_str("| | p50 | p90 | max |\n|---|---|---|---|\n");
        for (name, d) in &s.metrics {
            let _ = writeln!(
                out,
                "| metric `{name}` | {} | {} | {} |",
                d.p50, d.p90, d.max
            );
        }
        for (name, d) in &s.steps {
            let ms = |v: f64| human(Duration::from_millis(v as u64));
            let _ = writeln!(
                out,
                "| step {} | {} | {} | {} |",
                cell(name),
                ms(d.p50),
                ms(d.p90),
                ms(d.max)
            );
        }
    }
    out
}

/// A workflow command's message: GitHub reads `%`, CR and LF as escapes.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value, where `:` and `,` also delimit.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Text inside a markdown table cell: one line, no column breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_properties_are_escaped() {
        assert_eq!(data("50% lost\nline 2\r"), "50%25 lost%0Aline 2%0D");
        assert_eq!(property("grid [a=1,b=2]: kill"), "grid [a=1%2Cb=2]%3A kill");
        assert_eq!(cell("a | b\nc"), "a \\| b c");
    }
}
