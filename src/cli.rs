//! The command line: parses arguments, loads and validates every playbook before running any,
//! wires the engine to the progress display and reporters, and turns outcomes into exit codes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

mod compare;

use crate::engine::{self, Cancel, RunOptions, RunResult, RunStatus, exit};
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
    let code = match cli.command {
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
            exit::PASSED
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "chaosplay",
                &mut std::io::stdout(),
            );
            exit::PASSED
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn steps(name: Option<&str>, format: CatalogueFormat) -> i32 {
    match (name, format) {
        (None, CatalogueFormat::Text) => stdout(&catalogue::list()),
        (None, CatalogueFormat::Markdown) => stdout(&catalogue::markdown()),
        (None, CatalogueFormat::Json) => stdout(&format!("{:#}\n", catalogue::json())),
        (Some(name), _) => match StepKind::from_name(name) {
            Some(kind) => stdout(&catalogue::detail(kind)),
            None => {
                let suggestion =
                    crate::diagnostic::did_you_mean(name, StepKind::ALL.iter().map(|k| k.name()));
                eprintln!(
                    "error: unknown step `{name}`{}",
                    suggestion
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default()
                );
                return exit::INVALID;
            }
        },
    }
    exit::PASSED
}

/// `chaosplay check`: exit 0 when every history is linearizable, 1 when one is not or its
/// check ran out of budget (a check that could not conclude must not pass), 2 when a file
/// cannot be read.
fn check(args: &CheckArgs) -> i32 {
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
    for checked in files::check_files(&args.histories, options) {
        if let Some(diagnostic) = report::history::diagnostic(&checked) {
            eprint!("{diagnostic}");
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
    }
    code
}

fn recover(project: Option<&str>) -> i32 {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::ENVIRONMENT;
        }
    };
    runtime.block_on(async {
        match engine::recover(project).await {
            Ok(report) => {
                stdout(&report.text);
                if report.all_done {
                    exit::PASSED
                } else if report.daemon_unusable {
                    exit::ENVIRONMENT
                } else {
                    exit::CLEANUP_FAILED
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                exit::ENVIRONMENT
            }
        }
    })
}

fn down(project: &str) -> i32 {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::ENVIRONMENT;
        }
    };
    match runtime.block_on(engine::down(project)) {
        Ok(removed) if removed.is_empty() => {
            stdout(&format!("nothing of project {project} on the engine\n"));
            exit::PASSED
        }
        Ok(removed) => {
            stdout(&(removed.join("\n") + "\n"));
            exit::PASSED
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::ENVIRONMENT
        }
    }
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

/// Loads every playbook, printing all problems; `None` if any is invalid.
fn load_all(paths: &[PathBuf], vars: &VarArgs) -> Result<Vec<Playbook>, i32> {
    let overrides = overrides(vars).map_err(|e| {
        eprintln!("error: {e}");
        exit::INVALID
    })?;
    let mut loaded = Vec::new();
    let mut invalid = false;
    for path in paths {
        match playbook::load(path, &overrides) {
            Ok(p) => loaded.push(p),
            Err(e) => {
                eprintln!("{e}");
                invalid = true;
            }
        }
    }
    if invalid {
        return Err(exit::INVALID);
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
            eprintln!(
                "error: --var/--vars-file `{name}`: no playbook given declares it in [vars]; {hint}"
            );
            return Err(exit::INVALID);
        }
    }
    Ok(loaded)
}

fn plan(paths: &[PathBuf], vars: &VarArgs, cells: &[String], seed: Option<u64>) -> i32 {
    let playbooks = match load_all(paths, vars).and_then(|p| matrix_cells(p, cells)) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::ENVIRONMENT;
        }
    };
    let seed = seed.unwrap_or_else(rand::random);
    runtime.block_on(async {
        for playbook in playbooks {
            let plan = engine::plan(Arc::new(playbook), seed).await;
            stdout(&(report::plan::text(&plan) + "\n"));
        }
    });
    exit::PASSED
}

fn validate(paths: &[PathBuf], vars: &VarArgs) -> i32 {
    match load_all(paths, vars) {
        Ok(playbooks) => {
            for p in &playbooks {
                stdout(&format!(
                    "ok: {} ({} steps, {} finally, {} monitors)\n",
                    p.source.path.display(),
                    p.steps.len(),
                    p.finally.len(),
                    p.monitors.len()
                ));
            }
            exit::PASSED
        }
        Err(code) => code,
    }
}

/// `chaosplay list`: invalid playbooks are reported like `validate` does (exit 2), so a CI
/// job that fans out over the list fails early rather than skipping a broken scenario.
fn list(paths: &[PathBuf], format: ListFormat, vars: &VarArgs) -> i32 {
    let files = match playbook::discover(paths) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: cannot search for playbooks: {e}");
            return exit::INVALID;
        }
    };
    let playbooks = match load_all(&files, vars) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let entries: Vec<_> = playbooks.iter().flat_map(listing::entries).collect();
    match format {
        ListFormat::Text => stdout(&listing::text(&entries)),
        ListFormat::Github => stdout(&listing::github(&entries)),
    }
    exit::PASSED
}

fn run(args: RunArgs) -> i32 {
    if args.dry_run {
        return plan(&args.playbooks, &args.vars, &args.cells, args.seed);
    }
    let playbooks =
        match load_all(&args.playbooks, &args.vars).and_then(|p| matrix_cells(p, &args.cells)) {
            Ok(p) => p,
            Err(code) => return code,
        };
    let verbosity = match (args.quiet, args.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::ENVIRONMENT;
        }
    };
    // Every trial's playbook is resolved before anything runs: trials side by side each get a
    // project of their own, and must not share a host port.
    let parallel = args.jobs > 1 && args.trials > 1;
    let mut plans = Vec::new();
    for playbook in playbooks {
        let trials: Vec<Arc<Playbook>> = if parallel {
            match (1..=args.trials)
                .map(|trial| playbook.for_parallel_trial(trial))
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(trials) => {
                    if let Some(clash) = Playbook::shared_host_port(&trials) {
                        eprintln!("error: {}: {clash}", playbook.source.path.display());
                        return exit::INVALID;
                    }
                    trials.into_iter().map(Arc::new).collect()
                }
                Err(e) => {
                    eprintln!("{e}");
                    return exit::INVALID;
                }
            }
        } else {
            vec![Arc::new(playbook)]
        };
        plans.push(trials);
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let (results, summaries) = runtime.block_on(async {
        let cancel = Cancel::default();
        if let Err(e) = cancel.on_signals() {
            eprintln!("warning: cannot watch for Ctrl-C: {e}");
        }
        let listener = Arc::new(Progress::new(verbosity));
        let mut results = Vec::new();
        for trials in plans {
            let mut pending = (1..=args.trials).map(|trial| {
                // One playbook per trial side by side; one shared by all trials otherwise.
                let playbook = Arc::clone(&trials[(trial as usize - 1).min(trials.len() - 1)]);
                let options = RunOptions {
                    seed: trial_seed(seed, trial),
                    trial,
                    trials: args.trials,
                    cancel: cancel.clone(),
                    adopt_ledger: args.ignore_ledger,
                };
                let listener: Arc<dyn engine::Listener> = match parallel {
                    true => Arc::new(listener.for_trial(trial)),
                    false => listener.clone(),
                };
                engine::run(playbook, options, listener)
            });
            // Up to `jobs` trials at a time, in trial order; none starts after a signal, or
            // after a failure with --fail-fast.
            let mut running = futures_util::stream::FuturesUnordered::new();
            let mut of_playbook = Vec::new();
            // A signal during an earlier playbook stops the later ones too.
            let mut stop = cancel.reason().is_some();
            loop {
                while !stop && running.len() < args.jobs as usize {
                    match pending.next() {
                        Some(run) => running.push(run),
                        None => break,
                    }
                }
                let Some(result) = futures_util::StreamExt::next(&mut running).await else {
                    break;
                };
                stop |= cancel.reason().is_some()
                    || (args.fail_fast && result.status != RunStatus::Passed);
                of_playbook.push(result);
            }
            of_playbook.sort_by_key(|r| r.trial);
            results.extend(of_playbook);
        }
        let summaries = stats::summaries(&results);
        for summary in &summaries {
            listener.trials(summary);
        }
        (results, summaries)
    });
    github_actions(&results, &summaries);
    let code = overall_exit_code(&results);
    let written = [
        args.report_json.as_deref().map(|path| {
            let result = report::json::write(path, &results, &summaries, code);
            ("JSON", path, result)
        }),
        args.report_junit
            .as_deref()
            .map(|path| ("JUnit", path, report::junit::write(path, &results))),
        args.report_html.as_deref().map(|path| {
            let result = report::html::write(path, &results, &summaries, code);
            ("HTML", path, result)
        }),
    ];
    let mut code = code;
    for (format, path, result) in written.into_iter().flatten() {
        if let Err(e) = result {
            eprintln!(
                "error: cannot write the {format} report to {}: {e}",
                path.display()
            );
            code = code.max(exit::ENVIRONMENT);
        }
    }
    code
}

/// One playbook per `[matrix]` cell (each validated for its cell), keeping the cells that
/// match every `--cell KEY=VALUE`. A filter that matches no cell at all is a usage error: a CI
/// job that runs nothing must not pass.
fn matrix_cells(playbooks: Vec<Playbook>, filters: &[String]) -> Result<Vec<Playbook>, i32> {
    let mut filter = Vec::new();
    for pair in filters {
        let Some((key, value)) = pair.split_once('=') else {
            eprintln!("error: --cell `{pair}` must look like KEY=VALUE");
            return Err(exit::INVALID);
        };
        filter.push((key.trim().to_string(), value.trim().to_string()));
    }
    let mut cells = Vec::new();
    let unmatched = playbook::cell_filter::unmatched(&playbooks, &filter);
    for playbook in playbooks {
        match playbook.expand() {
            Ok(expanded) => cells.extend(
                expanded
                    .into_iter()
                    .filter(|p| playbook::cell_matches(&p.cell, &filter)),
            ),
            Err(e) => {
                eprintln!("{e}");
                return Err(exit::INVALID);
            }
        }
    }
    if cells.is_empty() {
        eprintln!(
            "error: no [matrix] cell matches {}",
            filters
                .iter()
                .map(|f| format!("--cell {f}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        for line in unmatched {
            eprintln!("  {line}");
        }
        return Err(exit::INVALID);
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
            eprintln!("warning: cannot write the GitHub step summary: {e}");
        }
    }
}

/// Trial 1 runs with the given seed, so `--seed S` replays a single run; later trials derive
/// theirs from it (and each is reported, so any one trial can be replayed alone).
fn trial_seed(seed: u64, trial: u32) -> u64 {
    if trial == 1 {
        seed
    } else {
        seed.wrapping_add(u64::from(trial - 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

/// The most serious outcome wins: cleanup failures, then interruption, then environment
/// errors, then failures.
fn overall_exit_code(results: &[RunResult]) -> i32 {
    let rank = |status: RunStatus| match status {
        RunStatus::CleanupFailed => 4,
        RunStatus::Interrupted => 3,
        RunStatus::EnvironmentError => 2,
        RunStatus::Failed => 1,
        RunStatus::Passed => 0,
    };
    results
        .iter()
        .max_by_key(|r| rank(r.status))
        .map_or(exit::PASSED, |r| r.exit_code)
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
