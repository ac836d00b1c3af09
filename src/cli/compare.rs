//! `chaosplay compare` and `chaosplay merge`: reading reports back, for a regression gate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::error::Error;
use crate::report::compare::{self, Options, render};
use crate::report::{json, merge};
use crate::ui::progress::stdout;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The JSON report to compare against (`run --report-json`, or `merge -o`).
    #[arg(value_name = "BASE.json")]
    base: PathBuf,
    /// The JSON report of the version under test, of the same scenarios.
    #[arg(value_name = "NEW.json")]
    new: PathBuf,
    /// The smallest change of a median that counts, e.g. `10%`.
    #[arg(long, default_value = "10%", value_parser = compare::threshold)]
    threshold: f64,
    /// The confidence of the intervals, e.g. `95%`; the pass-rate test is at its complement.
    #[arg(long, default_value = "95%", value_parser = compare::confidence)]
    confidence: f64,
    /// `markdown` suits `$GITHUB_STEP_SUMMARY`; `json` is for programs.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON reports of pieces of one campaign.
    #[arg(required = true, num_args = 2.., value_name = "REPORT.json")]
    reports: Vec<PathBuf>,
    /// Where to write the merged report.
    #[arg(short, long, value_name = "PATH")]
    output: PathBuf,
}

/// Exit 1 when NEW regressed, 0 when it did not, 2 when the reports cannot be compared.
pub fn compare(args: CompareArgs) -> Result<ExitCode, Error> {
    let (base, new) = match (read(&args.base), read(&args.new)) {
        (Ok(base), Ok(new)) => (base, new),
        (Err(base), Err(new)) => return Err(base.and(new)),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let options = Options {
        threshold: args.threshold,
        confidence: args.confidence,
    };
    let comparison =
        compare::compare(&base.trials, &new.trials, options).map_err(Error::invalid)?;
    let labels = render::Labels {
        base: &args.base.display().to_string(),
        new: &args.new.display().to_string(),
    };
    stdout(&match args.format {
        Format::Text => render::text(&comparison, &labels),
        Format::Markdown => render::markdown(&comparison, &labels),
        Format::Json => render::json(&comparison),
    });
    Ok(if comparison.regressed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub fn merge(args: MergeArgs) -> Result<ExitCode, Error> {
    let mut reports = Vec::new();
    for path in args.reports {
        let report = read(&path)?;
        reports.push((path, report));
    }
    let count = reports.len();
    let merged = merge::merge(reports).map_err(Error::invalid)?;
    let written = json::write_runs(
        &args.output,
        &merged.runs,
        &merged.summaries,
        merged.exit_code,
    );
    written.map_err(|e| {
        Error::environment(format_args!("cannot write {}: {e}", args.output.display()))
    })?;
    stdout(&format!(
        "merged {} runs of {count} reports into {}\n",
        merged.runs.len(),
        args.output.display()
    ));
    Ok(ExitCode::SUCCESS)
}

fn read(path: &Path) -> Result<json::Stored, Error> {
    json::read(path).map_err(Error::invalid)
}
