//! The command line: parses arguments, loads and validates every playbook before running any,
//! wires the engine to the progress display and reporters, and turns outcomes into exit codes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

mod compare;
mod error;

use error::{Error, exit_code, runtime, warn};

use crate::engine::trials::{self, Trials, TrialsError};
use crate::engine::{self, Cancel, RunResult, exit};
use crate::playbook::{self, Playbook};
use crate::report;
use crate::report::{github, listing, stats};
use crate::steps::{StepKind, catalogue};
use crate::ui::progress::{Progress, Verbosity, stdout};

#[derive(Debug, Parser)]
#[command(name = "chaosplay", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run playbooks (all are validated before the first one starts).
    Run(RunArgs),
    /// Show what a run would do, touching nothing: the resolved steps, the subject's services,
    /// the containers each fault would hit now, and the undo each would register.
    Plan {
        #[arg(required = true, value_name = "PLAYBOOK")]
        playbooks: Vec<PathBuf>,
        #[command(flatten)]
        vars: VarArgs,
        /// Only the `[matrix]` cells with this value.
        #[arg(long = "cell", value_name = "KEY=VALUE")]
        cells: Vec<String>,
        /// The seed a run would use.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Check playbooks without running anything.
    Validate {
        #[arg(required = true, value_name = "PLAYBOOK")]
        playbooks: Vec<PathBuf>,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// List the scenarios (and `[matrix]` cells) of playbooks, searching directories for them.
    List {
        #[arg(required = true, value_name = "DIR_OR_PLAYBOOK")]
        paths: Vec<PathBuf>,
        /// `github`: a GitHub Actions `strategy.matrix` (JSON) with one job per cell.
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// List the step kinds, or show one in full.
    Steps {
        name: Option<String>,
        #[arg(long, value_enum, default_value_t = CatalogueFormat::Text)]
        format: CatalogueFormat,
    },
    /// Reverse the faults an interrupted run left behind (after it was SIGKILLed, or the
    /// machine rebooted), from the undo ledger of each compose project.
    Recover {
        /// Only this compose project (default: every project with outstanding undos).
        #[arg(long)]
        project: Option<String>,
    },
    /// Remove a compose project a run left up: its containers, networks and volumes (and
    /// the project's lock when its holder is dead; a live run's lock is an error).
    Down {
        /// The compose project.
        #[arg(long)]
        project: String,
    },
    /// Check recorded operation histories for linearizability: chaosplay's JSON lines,
    /// Jepsen etcd logs or EDN key-value histories (told apart by their content).
    Check(CheckArgs),
    /// Compare two JSON reports of the same scenarios, BASE then NEW: per metric and step, the
    /// medians, their ratio, a confidence interval for the difference and a verdict. Exits 1
    /// when NEW is significantly slower or fails significantly more often.
    Compare(compare::CompareArgs),
    /// Merge the JSON reports of a campaign run in pieces (e.g. CI jobs) into one trial set.
    Merge(compare::MergeArgs),
    /// Print the playbook JSON Schema (for `#:schema` in TOML editors).
    Schema,
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CatalogueFormat {
    Text,
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ListFormat {
    Text,
    Github,
}

#[derive(Debug, Args)]
struct VarArgs {
    /// Override a variable: ints, floats and true/false are typed, anything else is a string.
    #[arg(long = "var", value_name = "KEY=VALUE")]
    vars: Vec<String>,
    /// Read variables from a TOML file (applied before --var).
    #[arg(long, value_name = "FILE")]
    vars_file: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[arg(required = true, value_name = "HISTORY")]
    histories: Vec<PathBuf>,
    /// The model to check against (default: Jepsen logs `register`, EDN `kv`, JSON lines
    /// whichever its operations belong to).
    #[arg(long, value_enum)]
    model: Option<CheckModel>,
    /// Time budget per file: past it the verdict is `unknown`.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    timeout: crate::duration::Duration,
    /// Memory budget per key of a file, in MiB: past it the verdict is `unknown`.
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    max_memory: usize,
    /// `json`: one JSON object per file, with the operations that explain a failure.
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    format: CheckFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CheckModel {
    Register,
    Kv,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CheckFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[arg(required = true, value_name = "PLAYBOOK")]
    playbooks: Vec<PathBuf>,
    #[command(flatten)]
    vars: VarArgs,
    /// Seed for every random choice (e.g. which container to kill); printed and reported so a
    /// failing run can be replayed.
    #[arg(long)]
    seed: Option<u64>,
    /// Run each playbook this many times (each trial does what the playbook says, e.g. its own
    /// reset) and summarise: pass rate, and p50/p90/max per metric and per step.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    trials: u32,
    /// Stop at the first failing trial.
    #[arg(long)]
    fail_fast: bool,
    /// Run up to this many trials at once, each on a compose project of its own
    /// (`<project>-t<trial>`); `run.trial` in `[subject]` gives each its own host ports.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    jobs: u32,
    /// Show the plan (as `chaosplay plan`) instead of running.
    #[arg(long)]
    dry_run: bool,
    /// Start even though an earlier run left faults unreversed on the project; this run takes
    /// them over and its cleanup reverses them.
    #[arg(long)]
    ignore_ledger: bool,
    /// Run only the `[matrix]` cells with this value (repeatable: cells must match all).
    #[arg(long = "cell", value_name = "KEY=VALUE")]
    cells: Vec<String>,
    /// Write the JSON report here.
    #[arg(long, value_name = "PATH")]
    report_json: Option<PathBuf>,
    /// Write a JUnit XML report here (one suite per playbook, one case per trial), for CI.
    #[arg(long, value_name = "PATH")]
    report_junit: Option<PathBuf>,
    /// Write a self-contained HTML report here: summary, step timeline with faults and
    /// monitors, metrics, undos.
    #[arg(long, value_name = "PATH")]
    report_html: Option<PathBuf>,
    /// Only print failures and the final line.
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
    /// Also print every step's start and output.
    #[arg(short, long)]
    verbose: bool,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(error) => {
            error.print();
            exit_code(error.code())
        }
    }
}

fn dispatch(command: Command) -> Result<ExitCode, Error> {
    match command {
        Command::Run(args) => run(args),
        Command::Validate { playbooks, vars } => validate(&playbooks, &vars),
        Command::Plan {
            playbooks,
            vars,
            cells,
            seed,
        } => plan(&playbooks, &vars, &cells, seed),
        Command::List {
            paths,
            format,
            vars,
        } => list(&paths, format, &vars),
        Command::Steps { name, format } => steps(name.as_deref(), format),
        Command::Recover { project } => recover(project.as_deref()),
        Command::Down { project } => down(&project),
        Command::Check(args) => check(&args),
        Command::Compare(args) => compare::compare(args),
        Command::Merge(args) => compare::merge(args),
        Command::Schema => {
            let schema = playbook::schema::playbook_schema();
            stdout(
                &(serde_json::to_string_pretty(&schema).expect("a JSON value serializes") + "\n"),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "chaosplay",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn steps(name: Option<&str>, format: CatalogueFormat) -> Result<ExitCode, Error> {
    match (name, format) {
        (None, CatalogueFormat::Text) => stdout(&catalogue::list()),
        (None, CatalogueFormat::Markdown) => stdout(&catalogue::markdown()),
        (None, CatalogueFormat::Json) => stdout(&format!("{:#}\n", catalogue::json())),
        (Some(name), _) => match StepKind::from_name(name) {
            Some(kind) => stdout(&catalogue::detail(kind)),
            None => {
                let suggestion =
                    crate::diagnostic::did_you_mean(name, StepKind::ALL.iter().map(|k| k.name()));
                return Err(Error::invalid(format_args!(
                    "unknown step `{name}`{}",
                    suggestion
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default()
                )));
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

/// `chaosplay check`: exit 0 when every history is linearizable, 1 when one is not or its
/// check ran out of budget (a check that could not conclude must not pass), 2 when a file
/// cannot be read.
fn check(args: &CheckArgs) -> Result<ExitCode, Error> {
    use crate::history::{Model, Verdict, files};
    let options = files::Options {
        model: args.model.map(|m| match m {
            CheckModel::Register => Model::Register,
            CheckModel::Kv => Model::Kv,
        }),
        timeout: args.timeout.0,
        max_bytes: args.max_memory.saturating_mul(1 << 20),
    };
    let mut code = exit::PASSED;
    // Printed as each file is checked (the next may take its whole time budget).
    files::check_files(&args.histories, options, |checked| {
        if let Some(diagnostic) = report::history::diagnostic(&checked) {
            Error::rendered(exit::INVALID, diagnostic).print();
        }
        match args.format {
            CheckFormat::Text => stdout(&report::history::text(&checked).unwrap_or_default()),
            CheckFormat::Json => stdout(&report::history::json(&checked)),
        }
        code = code.max(match &checked.result {
            Err(_) => exit::INVALID,
            Ok((_, Verdict::Linearizable)) => exit::PASSED,
            Ok(_) => exit::FAILED,
        });
    });
    Ok(exit_code(code))
}

fn recover(project: Option<&str>) -> Result<ExitCode, Error> {
    let report = runtime()?
        .block_on(engine::recover(project))
        .map_err(Error::environment)?;
    stdout(&report.text);
    Ok(exit_code(if report.all_done {
        exit::PASSED
    } else if report.daemon_unusable {
        exit::ENVIRONMENT
    } else {
        exit::CLEANUP_FAILED
    }))
}

fn down(project: &str) -> Result<ExitCode, Error> {
    let removed = runtime()?
        .block_on(engine::down(project))
        .map_err(Error::environment)?;
    if removed.is_empty() {
        stdout(&format!("nothing of project {project} on the engine\n"));
    } else {
        stdout(&(removed.join("\n") + "\n"));
    }
    Ok(ExitCode::SUCCESS)
}

fn overrides(args: &VarArgs) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut map = serde_json::Map::new();
    for file in &args.vars_file {
        let text = crate::text_file::read(file)
            .map_err(|e| format!("cannot read vars file {}: {e}", file.display()))?;
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| format!("invalid vars file {}: {e}", file.display()))?;
        let json = serde_json::to_value(table).map_err(|e| e.to_string())?;
        if let serde_json::Value::Object(vars) = json {
            playbook::vars::merge(&mut map, &vars);
        }
    }
    for pair in &args.vars {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("--var `{pair}` must look like KEY=VALUE"))?;
        playbook::vars::set(&mut map, key.trim(), typed_value(value));
    }
    Ok(map)
}

/// `--var n=3` is an integer, `--var on=true` a boolean, `--var s=abc` a string.
fn typed_value(text: &str) -> serde_json::Value {
    if let Ok(i) = text.parse::<i64>() {
        return i.into();
    }
    if let Ok(b) = text.parse::<bool>() {
        return b.into();
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => f.into(),
        _ => text.into(),
    }
}

/// Loads every playbook; the error holds the problems of all of them.
fn load_all(paths: &[PathBuf], vars: &VarArgs) -> Result<Vec<Playbook>, Error> {
    let overrides = overrides(vars).map_err(Error::invalid)?;
    let mut loaded = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        match playbook::load(path, &overrides) {
            Ok(p) => loaded.push(p),
            Err(e) => problems.push(e),
        }
    }
    if !problems.is_empty() {
        return Err(Error::diagnostics(problems));
    }
    // A variable no playbook declares would be ignored: most likely a misspelt name.
    let declared = || {
        loaded
            .iter()
            .flat_map(|p| p.declared.iter().map(String::as_str))
    };
    for name in overrides.keys() {
        if !declared().any(|d| d == name) {
            let names: Vec<&str> = declared().collect();
            let hint = match crate::diagnostic::did_you_mean(name, declared()) {
                Some(close) => format!("did you mean `{close}`?"),
                None if names.is_empty() => "they declare no variables".to_string(),
                None => format!("declared: {}", names.join(", ")),
            };
            return Err(Error::invalid(format_args!(
                "--var/--vars-file `{name}`: no playbook given declares it in [vars]; {hint}"
            )));
        }
    }
    Ok(loaded)
}

fn plan(
    paths: &[PathBuf],
    vars: &VarArgs,
    cells: &[String],
    seed: Option<u64>,
) -> Result<ExitCode, Error> {
    let playbooks = matrix_cells(load_all(paths, vars)?, cells)?;
    let runtime = runtime()?;
    let seed = seed.unwrap_or_else(rand::random);
    runtime.block_on(async {
        for playbook in playbooks {
            let plan = engine::plan(Arc::new(playbook), seed).await;
            stdout(&(report::plan::text(&plan) + "\n"));
        }
    });
    Ok(ExitCode::SUCCESS)
}

fn validate(paths: &[PathBuf], vars: &VarArgs) -> Result<ExitCode, Error> {
    for p in &load_all(paths, vars)? {
        stdout(&format!(
            "ok: {} ({} steps, {} finally, {} monitors)\n",
            p.source.path.display(),
            p.steps.len(),
            p.finally.len(),
            p.monitors.len()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// `chaosplay list`: invalid playbooks are reported like `validate` does (exit 2), so a CI
/// job that fans out over the list fails early rather than skipping a broken scenario.
fn list(paths: &[PathBuf], format: ListFormat, vars: &VarArgs) -> Result<ExitCode, Error> {
    let files = playbook::discover(paths)
        .map_err(|e| Error::invalid(format_args!("cannot search for playbooks: {e}")))?;
    let playbooks = load_all(&files, vars)?;
    let entries: Vec<_> = playbooks.iter().flat_map(listing::entries).collect();
    match format {
        ListFormat::Text => stdout(&listing::text(&entries)),
        ListFormat::Github => stdout(&listing::github(&entries)),
    }
    Ok(ExitCode::SUCCESS)
}

fn run(args: RunArgs) -> Result<ExitCode, Error> {
    if args.dry_run {
        return plan(&args.playbooks, &args.vars, &args.cells, args.seed);
    }
    let playbooks = matrix_cells(load_all(&args.playbooks, &args.vars)?, &args.cells)?;
    let verbosity = match (args.quiet, args.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    let trials = Trials {
        count: args.trials,
        jobs: args.jobs,
        fail_fast: args.fail_fast,
        seed: args.seed.unwrap_or_else(rand::random),
        adopt_ledger: args.ignore_ledger,
    };
    let prepared = trials::prepare(playbooks, &trials).map_err(|e| match e {
        TrialsError::Invalid(e) => Error::diagnostics([e]),
        clash @ TrialsError::SharedHostPort { .. } => Error::invalid(clash),
    })?;
    let (results, summaries) = runtime()?.block_on(async {
        let cancel = Cancel::default();
        if let Err(e) = cancel.on_signals() {
            warn(format_args!("cannot watch for Ctrl-C: {e}"));
        }
        let progress = Arc::new(Progress::new(verbosity));
        let listener = |trial| -> Arc<dyn engine::Listener> {
            match trials.side_by_side() {
                true => Arc::new(progress.for_trial(trial)),
                false => progress.clone(),
            }
        };
        let results = trials::run_trials(prepared, &trials, &cancel, listener).await;
        let summaries = stats::summaries(&results);
        for summary in &summaries {
            progress.trials(summary);
        }
        (results, summaries)
    });
    github_actions(&results, &summaries);
    write_reports(&args, &results, &summaries)
}

/// The reports `run` was asked for; the exit code is the runs' own unless a report could not
/// be written (then at least 3: CI must not read a missing report as a pass).
fn write_reports(
    args: &RunArgs,
    results: &[RunResult],
    summaries: &[stats::TrialSummary],
) -> Result<ExitCode, Error> {
    let code = trials::exit_code(results);
    let written = [
        args.report_json.as_deref().map(|path| {
            let result = report::json::write(path, results, summaries, code);
            ("JSON", path, result)
        }),
        args.report_junit
            .as_deref()
            .map(|path| ("JUnit", path, report::junit::write(path, results))),
        args.report_html.as_deref().map(|path| {
            let result = report::html::write(path, results, summaries, code);
            ("HTML", path, result)
        }),
    ];
    let unwritten = written
        .into_iter()
        .flatten()
        .filter_map(|(format, path, result)| {
            let e = result.err()?;
            Some(Error::environment(format_args!(
                "cannot write the {format} report to {}: {e}",
                path.display()
            )))
        })
        .reduce(Error::and);
    match unwritten {
        Some(error) => Err(error.at_least(code)),
        None => Ok(exit_code(code)),
    }
}

/// One playbook per `[matrix]` cell (each validated for its cell), keeping the cells that
/// match every `--cell KEY=VALUE`. A filter that matches no cell at all is a usage error: a CI
/// job that runs nothing must not pass.
fn matrix_cells(playbooks: Vec<Playbook>, filters: &[String]) -> Result<Vec<Playbook>, Error> {
    let mut filter = Vec::new();
    for pair in filters {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(Error::invalid(format_args!(
                "--cell `{pair}` must look like KEY=VALUE"
            )));
        };
        filter.push((key.trim().to_string(), value.trim().to_string()));
    }
    let mut cells = Vec::new();
    let unmatched = playbook::cell_filter::unmatched(&playbooks, &filter);
    for playbook in playbooks {
        let expanded = playbook.expand().map_err(|e| Error::diagnostics([e]))?;
        cells.extend(
            expanded
                .into_iter()
                .filter(|p| playbook::cell_matches(&p.cell, &filter)),
        );
    }
    if cells.is_empty() {
        let mut message = format!(
            "no [matrix] cell matches {}",
            filters
                .iter()
                .map(|f| format!("--cell {f}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        for line in unmatched {
            message.push_str(&format!("\n  {line}"));
        }
        return Err(Error::invalid(message));
    }
    Ok(cells)
}

/// Under GitHub Actions: failed steps as annotations on their playbook lines (stdout, where
/// the runner reads workflow commands), and a job summary when the runner names its file.
fn github_actions(results: &[RunResult], summaries: &[stats::TrialSummary]) {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return;
    }
    stdout(&github::annotations(results));
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, github::summary(results, summaries).as_bytes())
            });
        if let Err(e) = appended {
            warn(format_args!("cannot write the GitHub step summary: {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vars_are_typed() {
        assert_eq!(typed_value("3"), serde_json::json!(3));
        assert_eq!(typed_value("true"), serde_json::json!(true));
        assert_eq!(typed_value("0.5"), serde_json::json!(0.5));
        assert_eq!(typed_value("sim"), serde_json::json!("sim"));
        assert_eq!(typed_value("nan"), serde_json::json!("nan"));
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
