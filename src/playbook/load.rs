//! From text to a validated [`Playbook`], collecting every problem in one pass.
//!
//! Parsing keeps the spanned TOML tree ([`Node`]); each part is then checked on its own so one
//! mistake never hides the next: top-level keys, `[scenario]`, `[subject]`, every step's keys,
//! its `uses`, its parameters against that step kind's types, its templates and expressions,
//! and the step ids those reference.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::check::{CheckError, check_key};
use super::node::{Key, Node, Value};
use super::{
    CONTEXT_ROOTS, Cell, MAX_ATTEMPTS, MAX_BACKOFF, MAX_CELLS, MIN_INTERVAL, MIN_TIMEOUT,
    MONITOR_KEYS, Monitor, Phase, Playbook, RUN_FIELDS, Retry, STEP_KEYS, Scenario, Step,
    StepDuration, Subject, TOP_KEYS, Until,
};
use crate::compose::ComposeProject;
use crate::diagnostic::{Diagnostic, Source, did_you_mean};
use crate::duration::Duration;
use crate::steps::StepKind;
use crate::template;
use crate::text_file::NotUtf8;

mod hints;
mod record;
mod services;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("error: cannot read playbook {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render(file, diagnostics))]
    Invalid {
        file: Arc<Source>,
        diagnostics: Vec<Diagnostic>,
    },
}

/// Most diagnostics printed for one file. Past a screenful the rest are mostly the same
/// mistake repeated (a generated line with thousands of bad values); they are counted instead.
const MAX_SHOWN: usize = 20;

fn render(source: &Source, diagnostics: &[Diagnostic]) -> String {
    let mut out: String = diagnostics
        .iter()
        .take(MAX_SHOWN)
        .map(|d| d.render(source) + "\n")
        .collect();
    let n = diagnostics.len();
    if n > MAX_SHOWN {
        let more = n - MAX_SHOWN;
        out.push_str(&format!(
            "... and {more} more error{}\n\n",
            if more == 1 { "" } else { "s" }
        ));
    }
    out.push_str(&format!(
        "error: {} is invalid: {n} error{}; nothing was run",
        source.path.display(),
        if n == 1 { "" } else { "s" }
    ));
    out
}

/// Reads and validates a playbook; `overrides` are `--var`/`--vars-file` values.
pub fn load(
    path: &Path,
    overrides: &serde_json::Map<String, serde_json::Value>,
) -> Result<Playbook, LoadError> {
    let source = Source::read(path).map_err(|e| read_error(path, e))?;
    parse(source, overrides)
}

/// A playbook that is not UTF-8 is shown like any other error in it, at the first bad byte;
/// other read errors have no position.
fn read_error(path: &Path, e: std::io::Error) -> LoadError {
    let Some(bad) = e.get_ref().and_then(|e| e.downcast_ref::<NotUtf8>()) else {
        return LoadError::Read {
            path: path.to_path_buf(),
            source: e,
        };
    };
    let replacement = char::REPLACEMENT_CHARACTER.len_utf8();
    let diagnostic = Diagnostic::new(
        "the playbook is not valid UTF-8",
        Some(bad.offset..bad.offset + replacement),
    )
    .with_label(format!("byte 0x{:02x}", bad.byte))
    .with_help("playbooks are UTF-8 text: save the file as UTF-8");
    LoadError::Invalid {
        file: Arc::new(Source::new(path, bad.lossy.clone())),
        diagnostics: vec![diagnostic],
    }
}

/// Validates a playbook already in memory, resolved for its first `[matrix]` cell.
pub fn parse(
    source: Source,
    overrides: &serde_json::Map<String, serde_json::Value>,
) -> Result<Playbook, LoadError> {
    validate(Arc::new(source), overrides, None, None)
}

/// Validates a playbook again for one cell of its matrix (see [`Playbook::expand`]), and, for
/// trials run side by side, for one of them (see [`Playbook::for_parallel_trial`]).
pub(super) fn parse_cell(
    source: Arc<Source>,
    overrides: &serde_json::Map<String, serde_json::Value>,
    cell: Cell,
    parallel_trial: Option<u32>,
) -> Result<Playbook, LoadError> {
    validate(source, overrides, Some(cell), parallel_trial)
}

fn validate(
    source: Arc<Source>,
    overrides: &serde_json::Map<String, serde_json::Value>,
    cell: Option<Cell>,
    parallel_trial: Option<u32>,
) -> Result<Playbook, LoadError> {
    let (table, errors) = toml::de::DeTable::parse_recoverable(&source.text);
    if !errors.is_empty() {
        return Err(LoadError::Invalid {
            diagnostics: toml_errors(&source.text, &errors),
            file: source,
        });
    }
    let root = match Node::from_table(&table) {
        Ok(root) => root,
        Err(spans) => {
            let diagnostics = spans
                .into_iter()
                .map(|span| {
                    Diagnostic::new("invalid TOML: integer out of range", Some(span))
                        .with_label("beyond 64 bits")
                        .with_help(format!(
                            "TOML integers are from {} to {}; write a larger number as a string",
                            i64::MIN,
                            i64::MAX
                        ))
                })
                .collect();
            return Err(LoadError::Invalid {
                file: source,
                diagnostics,
            });
        }
    };
    drop(table);
    let mut env = template::environment();
    // `[subject]` is rendered here, before anything runs: a template that would loop for hours
    // must fail validation, not hang it.
    env.set_fuel(Some(SUBJECT_FUEL));
    let mut v = Validator {
        source: Arc::clone(&source),
        env,
        diagnostics: Vec::new(),
    };
    let playbook = v.playbook(&root, overrides, cell, parallel_trial);
    // In file order, whatever order the checks ran in.
    v.diagnostics
        .sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
    match playbook {
        Some(p) if v.diagnostics.is_empty() => Ok(p),
        _ => Err(LoadError::Invalid {
            file: source,
            diagnostics: v.diagnostics,
        }),
    }
}

/// TOML syntax errors as diagnostics. toml gives some without a position (a key of too many
/// dotted parts, its "recursion limit"): those are placed at the line where they first occur,
/// and reworded.
fn toml_errors(text: &str, errors: &[toml::de::Error]) -> Vec<Diagnostic> {
    let mut unplaced = 0;
    errors
        .iter()
        .map(|e| {
            let message = e.message().trim();
            let span = e.span().or_else(|| {
                unplaced += 1;
                (unplaced <= MAX_SHOWN).then(|| first_line_with(text, message, unplaced))?
            });
            let message = match message {
                "recursion limit" => format!(
                    "invalid TOML: a key of more than {TOML_MAX_KEY_PARTS} dotted parts is nested too deeply"
                ),
                other => format!("invalid TOML: {other}"),
            };
            Diagnostic::new(message, span)
        })
        .collect()
}

/// The most dotted parts toml takes in one key (`a.b.c`, `[a.b.c]`): its parser's recursion
/// limit.
const TOML_MAX_KEY_PARTS: usize = 80;

/// The line of the `nth` position-less TOML error `message`: the `nth` line that has it when
/// parsed alone. Only lines with [`TOML_MAX_KEY_PARTS`] dots or more can hold a key that
/// deep (a key never spans lines), so this stays linear in the file; bisecting over prefixes
/// instead parses a large file dozens of times.
fn first_line_with(text: &str, message: &str, nth: usize) -> Option<Range<usize>> {
    let mut start = 0;
    let lines = text.split_inclusive('\n').map(|line| {
        let span = start..start + line.trim_end_matches(['\r', '\n']).len();
        start += line.len();
        span
    });
    lines
        .filter(|span| text[span.clone()].matches('.').count() >= TOML_MAX_KEY_PARTS)
        .filter(|span| {
            let (_, errors) = toml::de::DeTable::parse_recoverable(&text[span.clone()]);
            errors.iter().any(|e| e.message().trim() == message)
        })
        .nth(nth - 1)
}

/// minijinja's budget (about one unit per instruction) for rendering one `[subject]` value: a
/// path or a name takes tens.
const SUBJECT_FUEL: u64 = 100_000;

struct Validator {
    source: Arc<Source>,
    env: minijinja::Environment<'static>,
    diagnostics: Vec<Diagnostic>,
}

/// What templates of one step may read.
struct Scope<'a> {
    vars: &'a serde_json::Map<String, serde_json::Value>,
    /// Step ids defined before this step, with their kinds.
    earlier: &'a HashMap<String, StepKind>,
    /// All ids in the file, to tell "defined later" from "not defined".
    all: &'a HashMap<String, StepKind>,
    /// The kind whose output `output` names, inside `until` and `record` only.
    output: Option<StepKind>,
    /// Metrics recorded by steps before this one.
    metrics: &'a [String],
    /// Keys of `[matrix]`, read as `matrix.<key>`.
    matrix: &'a [String],
}

impl Validator {
    fn error(&mut self, message: impl Into<String>, span: Range<usize>) -> &mut Diagnostic {
        self.diagnostics.push(Diagnostic::new(message, Some(span)));
        self.diagnostics.last_mut().expect("just pushed")
    }

    fn typed<T: DeserializeOwned>(&mut self, node: &Node, what: &str) -> Option<T> {
        match check_key::<T>(node) {
            Ok(v) => Some(v),
            Err(CheckError { message, span }) => {
                let mut d = Diagnostic::new(
                    format!("{what}: {message}"),
                    span.or(Some(node.span.clone())),
                );
                d.label = unknown_field_suggestion(&message);
                self.diagnostics.push(d);
                None
            }
        }
    }

    /// Refuses a duration too short to work with: a zero timeout fails every step at once, a
    /// zero poll interval spins.
    fn at_least(&mut self, node: &Node, what: &str, value: Duration, min: Duration) {
        if value < min {
            self.error(
                format!("{what} must be at least {min}, not {value}"),
                node.span.clone(),
            );
        }
    }

    fn unknown_key(&mut self, key: &Key, known: &[&str], what: &str) {
        let suggestion = did_you_mean(&key.name, known.iter().copied());
        let d = self.error(
            format!("unknown key `{}` in {what}", key.name),
            key.span.clone(),
        );
        match suggestion {
            Some(s) => d.label = Some(format!("did you mean `{s}`?")),
            None => d.help = Some(format!("expected one of: {}", known.join(", "))),
        }
    }

    fn playbook(
        &mut self,
        root: &Node,
        overrides: &serde_json::Map<String, serde_json::Value>,
        cell: Option<Cell>,
        parallel_trial: Option<u32>,
    ) -> Option<Playbook> {
        let entries = root.as_table().unwrap_or_default();
        for (key, _) in entries {
            if !TOP_KEYS.contains(&key.name.as_str()) {
                self.unknown_key(key, TOP_KEYS, "the playbook");
            }
        }
        let scenario = match root.get("scenario") {
            Some(node) => self
                .typed::<Scenario>(node, "invalid [scenario]")
                .inspect(|s| {
                    if let Some(n) = node.get("step_timeout") {
                        self.at_least(n, "`step_timeout`", s.step_timeout, MIN_TIMEOUT);
                    }
                }),
            None => {
                self.diagnostics.push(
                    Diagnostic::new("missing [scenario] table", Some(0..0))
                        .with_help("every playbook starts with [scenario] and a `name`"),
                );
                None
            }
        };
        let mut vars = serde_json::Map::new();
        if let Some(node) = root.get("vars") {
            match node.to_json() {
                serde_json::Value::Object(map) => vars = map,
                _ => {
                    self.error("`vars` must be a table", node.span.clone());
                }
            }
        }
        let mut declared: Vec<String> = vars.keys().cloned().collect();
        if let Some(entries) = root.get("secrets").and_then(Node::as_table) {
            declared.extend(entries.iter().map(|(k, _)| k.name.clone()));
        }
        super::vars::merge(&mut vars, overrides);
        let secrets = root
            .get("secrets")
            .map(|n| self.secrets(n, &mut vars))
            .unwrap_or_default();
        let matrix = root
            .get("matrix")
            .map(|n| self.matrix(n))
            .unwrap_or_default();
        let matrix_keys: Vec<String> = matrix.iter().map(|(k, _)| k.clone()).collect();
        let cell = cell.unwrap_or_else(|| {
            matrix
                .iter()
                .filter_map(|(k, values)| Some((k.clone(), values.first()?.clone())))
                .collect()
        });
        let (project, compose) = match root.get("subject") {
            Some(node) => self.subject(node, &vars, &cell, parallel_trial),
            None => (None, None),
        };

        let step_nodes = |name: &str, v: &mut Validator| -> &[Node] {
            match root.get(name) {
                None => &[],
                Some(Node {
                    value: Value::Array(items),
                    ..
                }) => items,
                Some(other) => {
                    v.error(
                        format!("`{name}` must be an array of tables: write [[{name}]]"),
                        other.span.clone(),
                    );
                    &[]
                }
            }
        };
        let main_nodes = step_nodes("steps", self);
        let finally_nodes = step_nodes("finally", self);
        let monitor_nodes = step_nodes("monitors", self);
        if main_nodes.is_empty() && root.get("steps").is_none() {
            self.diagnostics.push(
                Diagnostic::new("the playbook has no [[steps]]", Some(0..0))
                    .with_help("add at least one [[steps]] table with a `uses` key"),
            );
        }

        // Ids first, so a reference to a step defined later gets a precise message.
        let mut all_ids: HashMap<String, StepKind> = HashMap::new();
        for node in main_nodes.iter().chain(finally_nodes) {
            if let (Some(id), Some(kind)) = (
                node.get("id").and_then(Node::as_str),
                node.get("uses")
                    .and_then(Node::as_str)
                    .and_then(StepKind::from_name),
            ) {
                all_ids.entry(id.to_string()).or_insert(kind);
            }
        }

        let mut earlier: HashMap<String, StepKind> = HashMap::new();
        let mut id_spans: HashMap<String, Range<usize>> = HashMap::new();
        let mut background_ids: Vec<String> = Vec::new();
        let mut metrics: Vec<String> = Vec::new();
        let mut steps = Vec::new();
        let mut finally = Vec::new();
        for (phase, nodes, out) in [
            (Phase::Steps, main_nodes, &mut steps),
            (Phase::Finally, finally_nodes, &mut finally),
        ] {
            for (index, node) in nodes.iter().enumerate() {
                let step = self.step(
                    node,
                    phase,
                    index,
                    &vars,
                    &earlier,
                    &all_ids,
                    &background_ids,
                    &metrics,
                    &matrix_keys,
                );
                if let Some(step) = step {
                    for record in &step.record {
                        if metrics.contains(&record.name) {
                            let span = node
                                .get("record")
                                .map(|n| n.span.clone())
                                .unwrap_or_default();
                            self.error(format!("metric `{}` is recorded twice", record.name), span);
                        } else {
                            metrics.push(record.name.clone());
                        }
                    }
                    if let Some(id) = &step.id {
                        let span = node.get("id").map(|n| n.span.clone()).unwrap_or_default();
                        if let Some(first) = id_spans.get(id) {
                            let (line, _) = self.source.line_col(first.start);
                            self.error(format!("duplicate step id `{id}`"), span).label =
                                Some(format!("first defined on line {line}"));
                        } else {
                            id_spans.insert(id.clone(), span);
                            earlier.insert(id.clone(), step.kind);
                            if step.background {
                                background_ids.push(id.clone());
                            }
                        }
                    }
                    out.push(step);
                }
            }
        }
        let no_ids = HashMap::new();
        let mut monitors = Vec::new();
        for (index, node) in monitor_nodes.iter().enumerate() {
            // Monitors run from the start, so they can read `vars`, not step outputs.
            let Some(step) = self.step(
                node,
                Phase::Monitors,
                index,
                &vars,
                &no_ids,
                &no_ids,
                &[],
                &[],
                &matrix_keys,
            ) else {
                continue;
            };
            if !step.kind.doc().read_only {
                self.error(
                    format!("`{}` changes things, so it cannot be a monitor", step.kind),
                    step.span.clone(),
                )
                .help = Some(
                    "monitors sample read-only steps, e.g. pd.capture, http.request, compose.ps"
                        .into(),
                );
            }
            let interval = node
                .get("interval")
                .and_then(|n| self.typed::<Duration>(n, "invalid `interval`"))
                .unwrap_or(Duration::from_secs(1));
            if interval.0 < std::time::Duration::from_millis(50) {
                let span = node
                    .get("interval")
                    .map(|n| n.span.clone())
                    .unwrap_or_default();
                self.error("a monitor's `interval` must be at least 50ms", span);
            }
            let show = node.get("show").and_then(|n| {
                let text = self.typed::<String>(n, "invalid `show`")?;
                let scope = Scope {
                    vars: &vars,
                    earlier: &no_ids,
                    all: &no_ids,
                    output: Some(step.kind),
                    metrics: &[],
                    matrix: &matrix_keys,
                };
                self.template(&text, n.span.clone(), false, &scope);
                Some(text)
            });
            monitors.push(Monitor {
                step,
                interval,
                show,
            });
        }
        if let Some(compose) = &compose {
            let all = steps.iter().chain(&finally);
            self.services(all.chain(monitors.iter().map(|m| &m.step)), compose);
        }
        Some(Playbook {
            source: Arc::clone(&self.source),
            scenario: scenario?,
            vars,
            declared,
            secrets,
            project,
            compose,
            steps,
            finally,
            monitors,
            matrix,
            cell,
        })
    }

    /// `[secrets]`: `name = "ENV_VAR"` reads the variable from the environment into
    /// `vars.<name>` and returns the values, which every report and log line redacts.
    fn secrets(
        &mut self,
        node: &Node,
        vars: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Vec<String> {
        let Some(entries) = node.as_table() else {
            self.error(
                "`secrets` must be a table of environment variable names",
                node.span.clone(),
            )
            .help = Some("e.g. [secrets] token = \"PD_TOKEN\"".into());
            return Vec::new();
        };
        let mut values = Vec::new();
        for (key, value) in entries {
            let Some(var) = value.as_str() else {
                self.error(
                    "a secret names an environment variable (a string)",
                    value.span.clone(),
                );
                continue;
            };
            match std::env::var(var) {
                Ok(secret) => {
                    vars.insert(key.name.clone(), secret.clone().into());
                    if !secret.is_empty() {
                        values.push(secret);
                    }
                }
                Err(_) => {
                    self.error(
                        format!("secret `{}` reads ${var}, which is not set", key.name),
                        value.span.clone(),
                    );
                }
            }
        }
        values
    }

    /// `[matrix]`: every key an identifier, every value a non-empty array of scalars, and at
    /// most [`MAX_CELLS`] cells in all.
    fn matrix(&mut self, node: &Node) -> Vec<(String, Vec<serde_json::Value>)> {
        let Some(entries) = node.as_table() else {
            self.error("`matrix` must be a table of arrays", node.span.clone())
                .help = Some("e.g. [matrix] fault = [\"kill\", \"pause\"]".into());
            return Vec::new();
        };
        let mut matrix = Vec::new();
        for (key, value) in entries {
            if !is_identifier(&key.name) {
                self.error(
                    format!("invalid matrix key `{}`", key.name),
                    key.span.clone(),
                )
                .help = Some("keys are read as `matrix.<key>`: use letters, digits and `_`".into());
                continue;
            }
            let items = match value.as_array() {
                Some(items) if !items.is_empty() => items,
                _ => {
                    self.error(
                        format!("`matrix.{}` must be a non-empty array", key.name),
                        value.span.clone(),
                    )
                    .help = Some("each key lists the values its cells take".into());
                    // Kept, so `matrix.<key>` is not also reported as unknown.
                    matrix.push((key.name.clone(), Vec::new()));
                    continue;
                }
            };
            let mut values = Vec::new();
            // Scalars as JSON text, which is equal exactly when the values are: a lookup per
            // value, where searching `values` made a long array quadratic.
            let mut seen = std::collections::HashSet::new();
            for item in items {
                match item.to_json() {
                    v @ (serde_json::Value::String(_)
                    | serde_json::Value::Number(_)
                    | serde_json::Value::Bool(_)) => {
                        if !seen.insert(v.to_string()) {
                            self.error(
                                format!("`matrix.{}` lists a value twice", key.name),
                                item.span.clone(),
                            );
                        }
                        values.push(v);
                    }
                    _ => {
                        self.error(
                            format!(
                                "`matrix.{}` values must be strings, numbers or booleans, not {}",
                                key.name,
                                item.value.type_name()
                            ),
                            item.span.clone(),
                        );
                    }
                }
            }
            matrix.push((key.name.clone(), values));
        }
        let cells = matrix
            .iter()
            .map(|(_, v)| v.len().max(1))
            .fold(1usize, usize::saturating_mul);
        if cells > MAX_CELLS {
            self.error(
                format!("`matrix` makes {cells} cells; at most {MAX_CELLS} are allowed"),
                node.span.clone(),
            )
            .help = Some("split the playbook, or run a subset with `--cell key=value`".into());
        }
        matrix
    }

    /// Resolves `[subject]`: renders its templates, loads the compose file (so an unsupported
    /// compose key is reported now, before anything is created) and names the project.
    /// `[subject]`, rendered and its compose file loaded. `run.trial` is 1 unless the playbook
    /// is resolved for one of several trials run side by side: then it is that trial's number,
    /// and the project is the trial's own, `<project>-t<trial>`.
    fn subject(
        &mut self,
        node: &Node,
        vars: &serde_json::Map<String, serde_json::Value>,
        cell: &Cell,
        parallel_trial: Option<u32>,
    ) -> (Option<String>, Option<Arc<ComposeProject>>) {
        let Some(subject) = self.typed::<Subject>(node, "invalid [subject]") else {
            return (None, None);
        };
        let ctx = minijinja::context! {
            vars => minijinja::Value::from(minijinja::value::Serde(vars)),
            matrix => minijinja::Value::from(minijinja::value::Serde(cell)),
            // Not `std::env::vars()`, which panics on a variable that is not UTF-8.
            env => std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect::<HashMap<_, _>>(),
            run => minijinja::context! { trial => parallel_trial.unwrap_or(1) },
        };
        let own = |project: String| match parallel_trial {
            Some(trial) => format!("{project}-t{trial}"),
            None => project,
        };
        let mut render = |key: &str, text: &str| -> Option<String> {
            let rendered =
                template::check_tokens(text, false).and_then(|()| self.env.render_str(text, &ctx));
            match rendered {
                Ok(s) => Some(s),
                Err(e) => {
                    let span = node.get(key).map_or(node.span.clone(), |n| n.span.clone());
                    self.error(
                        format!(
                            "invalid template in [subject] {key}: {}",
                            template::error_message(&e)
                        ),
                        span,
                    );
                    None
                }
            }
        };
        let project = subject
            .project
            .as_deref()
            .and_then(|p| render("project", p))
            .map(own);
        let env: BTreeMap<String, String> = subject
            .env
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), render("env", v)?)))
            .collect();
        let Some(compose) = subject
            .compose
            .as_deref()
            .and_then(|c| render("compose", c))
        else {
            return (project, None);
        };
        let dir = match self.source.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let span = node
            .get("compose")
            .map_or(node.span.clone(), |n| n.span.clone());
        let file = dir.join(&compose);
        let loaded = match (&project, parallel_trial) {
            // The name comes from the compose file: load it once to learn it.
            (None, Some(_)) => ComposeProject::load(&file, None, &env)
                .and_then(|p| ComposeProject::load(&file, Some(&own(p.name)), &env)),
            _ => ComposeProject::load(&file, project.as_deref(), &env),
        };
        match loaded {
            Ok(loaded) => (Some(loaded.name.clone()), Some(Arc::new(loaded))),
            Err(e) => {
                self.error(format!("invalid compose file: {e}"), span);
                (project, None)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        node: &Node,
        phase: Phase,
        index: usize,
        vars: &serde_json::Map<String, serde_json::Value>,
        earlier: &HashMap<String, StepKind>,
        all: &HashMap<String, StepKind>,
        background_ids: &[String],
        metrics: &[String],
        matrix: &[String],
    ) -> Option<Step> {
        let (what, keys) = match phase {
            Phase::Steps => ("a [[steps]] entry", STEP_KEYS),
            Phase::Finally => ("a [[finally]] entry", STEP_KEYS),
            Phase::Monitors => ("a [[monitors]] entry", MONITOR_KEYS),
        };
        let Some(entries) = node.as_table() else {
            self.error(format!("{what} must be a table"), node.span.clone());
            return None;
        };
        for (key, _) in entries {
            if !keys.contains(&key.name.as_str()) {
                self.unknown_key(key, keys, what);
            }
        }
        let kind = match node.get("uses") {
            None => {
                self.error(
                    format!("{what} needs `uses`"),
                    node.span.start..node.span.start,
                )
                .help = Some("e.g. uses = \"exec\"; `chaosplay steps` lists every step".into());
                None
            }
            Some(uses) => match uses.as_str() {
                None => {
                    self.error("`uses` must be a string", uses.span.clone());
                    None
                }
                Some(name) => match StepKind::from_name(name) {
                    Some(kind) => Some((kind, uses.span.clone())),
                    None => {
                        let names = StepKind::ALL.iter().map(|k| k.name());
                        let suggestion = did_you_mean(name, names);
                        let d = self.error(format!("unknown step `{name}`"), uses.span.clone());
                        match suggestion {
                            Some(s) => d.label = Some(format!("did you mean `{s}`?")),
                            None => {
                                d.help = Some("run `chaosplay steps` to list every step".into())
                            }
                        }
                        None
                    }
                },
            },
        };

        let id = node.get("id").and_then(|n| {
            let id = self.typed::<String>(n, "invalid `id`")?;
            if !is_identifier(&id) {
                self.error(format!("invalid step id `{id}`"), n.span.clone()).help = Some(
                    "ids are read as `steps.<id>` in templates: use letters, digits and `_`, starting with a letter".into(),
                );
                return None;
            }
            Some(id)
        });
        let name = node
            .get("name")
            .and_then(|n| self.typed::<String>(n, "invalid `name`"));
        let retry = node
            .get("retry")
            .and_then(|n| {
                let retry = self.typed::<Retry>(n, "invalid `retry`")?;
                let at = |key: &str| n.get(key).unwrap_or(n).span.clone();
                if !(1..=MAX_ATTEMPTS).contains(&retry.attempts) {
                    self.error(
                        format!(
                            "`retry.attempts` must be 1–{MAX_ATTEMPTS}, not {}",
                            retry.attempts
                        ),
                        at("attempts"),
                    );
                }
                if !(retry.backoff.is_finite() && (1.0..=MAX_BACKOFF).contains(&retry.backoff)) {
                    self.error(
                        format!(
                            "`retry.backoff` must be a number from 1 to {MAX_BACKOFF}, not {:?}",
                            retry.backoff
                        ),
                        at("backoff"),
                    );
                }
                Some(retry)
            })
            .unwrap_or_default();
        let background = node
            .get("background")
            .and_then(|n| self.typed::<bool>(n, "invalid `background`"))
            .unwrap_or(false);
        if background {
            let span = node
                .get("background")
                .map(|n| n.span.clone())
                .unwrap_or_default();
            if phase == Phase::Finally {
                self.error("`background` is not allowed in [[finally]]", span);
            } else if id.is_none() {
                self.error("a background step needs an `id`", span).help =
                    Some("`await` names background steps by id".into());
            }
        }

        let scope = Scope {
            vars,
            earlier,
            all,
            output: None,
            metrics,
            matrix,
        };
        let timeout = node
            .get("timeout")
            .and_then(|n| self.step_duration(n, "timeout", MIN_TIMEOUT, &scope));
        let condition = node.get("if").and_then(|n| {
            let text = self.typed::<String>(n, "invalid `if`")?;
            self.template(&text, n.span.clone(), true, &scope);
            Some(text)
        });
        let until = match node.get("until") {
            Some(n) => self.typed::<String>(n, "invalid `until`").map(|condition| {
                let scope = Scope {
                    output: kind.as_ref().map(|(k, _)| *k),
                    ..scope
                };
                self.template(&condition, n.span.clone(), true, &scope);
                Until {
                    condition,
                    interval: node
                        .get("interval")
                        .and_then(|n| self.step_duration(n, "interval", MIN_INTERVAL, &scope))
                        .unwrap_or(StepDuration::Fixed(Duration::from_secs(1))),
                    stable_for: node.get("stable_for").and_then(|n| {
                        self.step_duration(n, "stable_for", Duration::default(), &scope)
                    }),
                }
            }),
            None if phase == Phase::Monitors => None,
            None => {
                for key in ["interval", "stable_for"] {
                    if let Some(n) = node.get(key) {
                        self.error(format!("`{key}` only applies with `until`"), n.span.clone());
                    }
                }
                None
            }
        };

        let record = node
            .get("record")
            .map(|n| self.record(n, kind.as_ref().map(|(k, _)| *k), &scope))
            .unwrap_or_default();
        let continue_on_error = self.continue_on_error(node, phase);
        if !record.is_empty() && phase == Phase::Finally {
            let span = node
                .get("record")
                .map(|n| n.span.clone())
                .unwrap_or_default();
            self.error("`record` is not allowed in [[finally]]", span);
        }
        let with_node = node.get("with").cloned();
        let (kind, uses_span) = kind?;
        let with = match with_node {
            Some(w) if w.as_table().is_some() => w,
            Some(w) => {
                self.error("`with` must be a table", w.span.clone());
                return None;
            }
            // Parameters all defaulted: missing required ones are reported at `uses`.
            None => Node::table(uses_span.clone(), Vec::new()),
        };
        self.parameters(kind, &with);
        let doc = kind.doc();
        for (key, value) in with.as_table().unwrap_or_default() {
            let expression = doc.expressions.contains(&key.name.as_str());
            for (text, span) in value.strings() {
                if expression {
                    self.template(text, span, true, &scope);
                } else if template::is_template(text) {
                    self.template(text, span, false, &scope);
                }
            }
        }
        if kind == StepKind::Await
            && let Some(ids) = with.get("steps").and_then(Node::as_array)
        {
            for n in ids {
                if let Some(target) = n.as_str()
                    && !template::is_template(target)
                    && !background_ids.iter().any(|b| b == target)
                {
                    self.error(
                        format!("`{target}` is not a background step defined earlier"),
                        n.span.clone(),
                    )
                    .help = Some("`await` joins steps marked `background = true`".into());
                }
            }
        }
        Some(Step {
            phase,
            index,
            id,
            name,
            kind,
            with,
            timeout,
            retry,
            condition,
            until,
            background,
            continue_on_error,
            record,
            span: uses_span,
        })
    }

    /// A step's `timeout`, `interval` or `stable_for`: a duration of at least `min`, or a
    /// template, compiled and its names checked here like one in `with`.
    fn step_duration(
        &mut self,
        node: &Node,
        key: &str,
        min: Duration,
        scope: &Scope<'_>,
    ) -> Option<StepDuration> {
        if let Some(text) = node.as_str().filter(|s| template::is_template(s)) {
            self.template(text, node.span.clone(), false, scope);
            return Some(StepDuration::Template(text.to_string()));
        }
        let duration = self.typed::<Duration>(node, &format!("invalid `{key}`"))?;
        self.at_least(node, &format!("`{key}`"), duration, min);
        Some(StepDuration::Fixed(duration))
    }

    /// Checks `with` against the step's parameter types, reporting every bad key, not only the
    /// first: after each error the offending entry is removed (an unknown key) or replaced by
    /// a template, which stands in for any type, and the check runs again.
    fn parameters(&mut self, kind: StepKind, with: &Node) {
        let mut remaining = with.clone();
        for _ in 0..64 {
            let Err(CheckError { message, span }) = kind.check(&remaining) else {
                return;
            };
            let span = span.unwrap_or_else(|| with.span.clone());
            // The same error again means replacing the entry did not help: stop there.
            if self.diagnostics.last().is_some_and(|d| {
                d.span.as_ref() == Some(&span) && d.message.ends_with(message.as_str())
            }) {
                return;
            }
            let mut d = Diagnostic::new(
                format!("invalid parameters for `{kind}`: {message}"),
                Some(span.clone()),
            );
            d.label = unknown_field_suggestion(&message);
            self.diagnostics.push(d);
            let Value::Table(entries) = &mut remaining.value else {
                return;
            };
            if let Some(i) = entries.iter().position(|(k, _)| k.span == span) {
                entries.remove(i);
            } else if let Some((_, value)) = entries
                .iter_mut()
                .find(|(_, v)| v.span.start <= span.start && span.end <= v.span.end)
            {
                value.value = Value::String("{{ checked }}".into());
            } else {
                return;
            }
        }
    }

    /// Checks a template's (or expression's) syntax and every name it reads.
    fn template(&mut self, text: &str, span: Range<usize>, expression: bool, scope: &Scope<'_>) {
        let source = Arc::clone(&self.source);
        let refs = match template::references(&self.env, text, expression) {
            Ok(refs) => refs,
            Err(e) => {
                let what = if expression { "expression" } else { "template" };
                self.error(
                    format!("invalid {what}: {}", template::error_message(&e)),
                    span,
                )
                .help = expression.then(|| hints::expression(text)).flatten();
                return;
            }
        };
        let written = source.text.get(span.clone()).map(name_offsets);
        for path in refs {
            if let Some((message, label)) = reference_problem(&path, scope) {
                let at = written.as_ref().and_then(|w| w.get(path.as_str()));
                let narrowed = at.map_or(span.clone(), |&at| {
                    span.start + at..span.start + at + path.len()
                });
                self.error(message, narrowed).label = label;
            }
        }
    }
}

/// Names read as `steps.<name>` or `metrics.<name>` in expressions.
fn is_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// "did you mean …?" for serde's "unknown field `cwdd`, expected one of `cwd`, …", and for
/// its "unknown variant `Disconected`, expected one of `Up`, `Disconnected`, …": a value of
/// an enum-like parameter.
fn unknown_field_suggestion(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (field, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    // `up` for `Up`: the right word in the wrong case is the likeliest mistake of all.
    let same_word = candidates.iter().find(|c| c.eq_ignore_ascii_case(field));
    same_word
        .copied()
        .or_else(|| did_you_mean(field, candidates))
        .map(|s| format!("did you mean `{s}`?"))
}

/// Longest dotted name [`name_offsets`] records: names people write are far shorter, and a
/// bound keeps a long run of `a.a.a…` in a template's text linear to index.
const MAX_NAME: usize = 128;

/// Where each dotted name in `text` (`steps.kill.container`, and its prefixes `steps` and
/// `steps.kill`) is first written, so the carets of a bad reference sit under it. Found in one
/// pass: searching the text once per reference is quadratic in a template of thousands.
fn name_offsets(text: &str) -> HashMap<&str, usize> {
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    let bytes = text.as_bytes();
    let mut offsets = HashMap::new();
    let mut i = 0;
    while i < bytes.len() {
        // Name bytes are ASCII, so a run starts and ends on a character boundary; any other
        // byte, of a multi-byte character too, is stepped over on its own.
        if !is_name(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_name(bytes[i]) {
            i += 1;
        }
        let run = &text[start..i.min(start + MAX_NAME)];
        let ends = run.match_indices('.').map(|(end, _)| end);
        for end in ends.chain(std::iter::once(run.len())) {
            offsets.entry(&run[..end]).or_insert(start);
        }
    }
    offsets
}

/// Why `path` (e.g. `steps.kill.container`) cannot be read here, if it cannot.
fn reference_problem(path: &str, scope: &Scope<'_>) -> Option<(String, Option<String>)> {
    let parts: Vec<&str> = path.split('.').collect();
    let suggest = |word: &str, options: &mut dyn Iterator<Item = &str>| {
        did_you_mean(word, options.collect::<Vec<_>>()).map(|s| format!("did you mean `{s}`?"))
    };
    match parts[0] {
        "vars" => {
            let name = parts.get(1)?;
            if let Some(value) = scope.vars.get(*name) {
                return nested_var_problem(value, &parts[..2], &parts[2..]);
            }
            let label = did_you_mean(name, scope.vars.keys().map(String::as_str))
                .map(|s| format!("did you mean `vars.{s}`?"));
            Some((format!("unknown variable `vars.{name}`"), label))
        }
        "steps" => {
            let id = parts.get(1)?;
            let Some(kind) = scope.earlier.get(*id) else {
                if scope.all.contains_key(*id) {
                    return Some((
                        format!("step `{id}` is referenced before it runs"),
                        Some("a step can only read the outputs of steps above it".into()),
                    ));
                }
                let label = suggest(id, &mut scope.earlier.keys().map(String::as_str));
                return Some((format!("no step with id `{id}`"), label));
            };
            output_problem(*kind, parts.get(2).copied(), &format!("steps.{id}"))
        }
        "output" => match scope.output {
            Some(kind) => output_problem(kind, parts.get(1).copied(), "output"),
            None => Some((
                "`output` is only defined in `until` and `record`".into(),
                Some("use `steps.<id>` to read a step's output".into()),
            )),
        },
        "run" => {
            let field = parts.get(1)?;
            if RUN_FIELDS.contains(field) {
                return None;
            }
            let label = suggest(field, &mut RUN_FIELDS.iter().copied());
            Some((format!("unknown field `run.{field}`"), label))
        }
        "metrics" => {
            let name = parts.get(1)?;
            if scope.metrics.iter().any(|m| m == name) {
                return None;
            }
            let label = suggest(name, &mut scope.metrics.iter().map(String::as_str))
                .or_else(|| Some("a metric is readable after the step that records it".into()));
            Some((
                format!("no metric `{name}` is recorded before this point"),
                label,
            ))
        }
        "matrix" => {
            let key = parts.get(1)?;
            if scope.matrix.iter().any(|k| k == key) {
                return None;
            }
            let label = suggest(key, &mut scope.matrix.iter().map(String::as_str)).or_else(|| {
                Some(match scope.matrix.is_empty() {
                    true => "the playbook has no [matrix]".into(),
                    false => format!("matrix keys: {}", scope.matrix.join(", ")),
                })
            });
            Some((format!("unknown matrix key `matrix.{key}`"), label))
        }
        "env" => None,
        // minijinja's own global functions
        "range" | "dict" | "namespace" | "debug" => None,
        other => {
            let roots = CONTEXT_ROOTS.iter().copied().filter(|r| *r != "output");
            let label = suggest(other, &mut CONTEXT_ROOTS.iter().copied()).or_else(|| {
                Some(format!(
                    "expected one of: {}",
                    roots.collect::<Vec<_>>().join(", ")
                ))
            });
            Some((format!("unknown name `{other}`"), label))
        }
    }
}

/// A field read inside a table variable (`vars.ports.etcd1`) that the table does not have,
/// named in full. Only tables are looked into: what a template does with other values is
/// known when it runs.
fn nested_var_problem(
    value: &serde_json::Value,
    read: &[&str],
    rest: &[&str],
) -> Option<(String, Option<String>)> {
    let (field, rest) = rest.split_first()?;
    let table = value.as_object()?;
    let path = format!("{}.{field}", read.join("."));
    match table.get(*field) {
        Some(inner) => {
            let read: Vec<&str> = path.split('.').collect();
            nested_var_problem(inner, &read, rest)
        }
        None => {
            let label = match did_you_mean(field, table.keys().map(String::as_str)) {
                Some(s) => format!("did you mean `{}.{s}`?", read.join(".")),
                None => format!(
                    "`{}` has: {}",
                    read.join("."),
                    table
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            Some((format!("unknown variable `{path}`"), Some(label)))
        }
    }
}

fn output_problem(
    kind: StepKind,
    field: Option<&str>,
    prefix: &str,
) -> Option<(String, Option<String>)> {
    let field = field?;
    let outputs = kind.doc().outputs;
    if outputs
        .iter()
        .any(|(name, _)| *name == field || name.starts_with('<'))
    {
        return None;
    }
    let label = did_you_mean(field, outputs.iter().map(|(n, _)| *n))
        .map(|s| format!("did you mean `{s}`?"))
        .or_else(|| {
            Some(format!(
                "`{kind}` outputs: {}",
                outputs
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        });
    Some((format!("`{prefix}` has no field `{field}`"), label))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The messages of `text`'s diagnostics, or none if it loads.
    fn messages(text: &str) -> Vec<String> {
        match parse(Source::new("p.toml", text), &serde_json::Map::new()) {
            Ok(_) => Vec::new(),
            Err(LoadError::Invalid { diagnostics, .. }) => {
                diagnostics.into_iter().map(|d| d.message).collect()
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_multibyte_character_after_a_name_is_stepped_over() {
        // Found by the fuzzer (fuzz/corpus/playbook/crash-multibyte-after-template-name.toml,
        // read lossily as the fuzz target does): the byte after a name was skipped alone, and
        // the next slice began inside the three bytes of U+FFFD.
        let offsets = name_offsets("{{ matrix.k0 }} }\u{fffd} mat}}");
        assert_eq!(offsets["matrix.k0"], 3);
        assert_eq!(offsets["mat"], 21);
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/corpus/playbook/crash-multibyte-after-template-name.toml"
        ))
        .unwrap();
        assert_eq!(
            messages(&String::from_utf8_lossy(&bytes)),
            [
                "`matrix.k5` lists a value twice",
                "unknown matrix key `matrix.k0`"
            ]
        );
    }

    #[test]
    fn a_compose_file_that_is_a_device_is_refused_not_read_forever() {
        assert_eq!(
            messages(
                "[scenario]\nname = \"s\"\n[subject]\ncompose = \"/dev/zero\"\n[[steps]]\nuses = \"compose.ps\"\n"
            ),
            [
                "invalid compose file: /dev/zero: cannot read file: it is not a regular file (a device, FIFO or socket)"
            ]
        );
    }

    #[test]
    fn a_long_expression_is_an_error_not_a_stack_overflow() {
        let minus = "-".repeat(100_000);
        let filters = "|string".repeat(100_000);
        let text = format!(
            "[scenario]\nname = \"s\"\n[subject]\nproject = \"{{{{ 1{filters} }}}}\"\n[[steps]]\nuses = \"sleep\"\nwith = {{ duration = \"1s\" }}\nif = \"{minus}1\"\n"
        );
        assert_eq!(
            messages(&text),
            [
                "invalid template in [subject] project: syntax error: more than 256 tokens in one expression; split it up",
                "invalid expression: syntax error: more than 256 tokens in one expression; split it up",
            ]
        );
    }

    #[test]
    fn a_subject_template_that_would_loop_for_hours_runs_out_of_fuel() {
        let text = "[scenario]\nname = \"s\"\n[subject]\nproject = \"{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}\"\n[[steps]]\nuses = \"sleep\"\nwith = { duration = \"1s\" }\n";
        assert_eq!(
            messages(text),
            ["invalid template in [subject] project: engine ran out of fuel"]
        );
    }
}
