//! From text to a validated [`Playbook`], collecting every problem in one pass.
//!
//! Parsing keeps the spanned TOML tree ([`Node`]); each part is then checked on its own so one
//! mistake never hides the next, by one [`Validator`] that collects the diagnostics:
//! top-level keys and `[scenario]` here, `[vars]` and `[secrets]` in [`vars`], `[matrix]` in
//! [`matrix`], `[subject]` in [`subject`], the step lists in [`steps`], one step's keys, `uses`
//! and parameters in [`step`], and the names its templates and expressions read in
//! [`references`].

mod group;
mod matrix;
mod record;
mod references;
mod services;
mod step;
mod steps;
mod subject;
mod vars;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::check::{CheckError, check_key};
use super::node::{Key, Node};
use super::{Cell, MIN_TIMEOUT, Playbook, Scenario, TOP_KEYS};
use crate::diagnostic::{Diagnostic, Source, did_you_mean};
use crate::duration::Duration;
use crate::template;
use crate::text_file::NotUtf8;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("error: cannot read playbook {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render(file, diagnostics, included))]
    Invalid {
        file: Arc<Source>,
        diagnostics: Vec<Diagnostic>,
        /// Problems in the step group files the playbook runs, each pointing into its file.
        included: Vec<(Arc<Source>, Vec<Diagnostic>)>,
    },
}

/// Most diagnostics printed for one file. Past a screenful the rest are mostly the same
/// mistake repeated (a generated line with thousands of bad values); they are counted instead.
const MAX_SHOWN: usize = 20;

fn render(
    source: &Arc<Source>,
    diagnostics: &[Diagnostic],
    included: &[(Arc<Source>, Vec<Diagnostic>)],
) -> String {
    let all = std::iter::once((source, diagnostics))
        .chain(included.iter().map(|(s, d)| (s, d.as_slice())))
        .flat_map(|(s, ds)| ds.iter().map(move |d| (s, d)));
    let mut out: String = all
        .clone()
        .take(MAX_SHOWN)
        .map(|(s, d)| d.render(s) + "\n")
        .collect();
    let n = all.count();
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
        included: Vec::new(),
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
            included: Vec::new(),
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
                included: Vec::new(),
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
        included: Vec::new(),
        chain: source
            .path
            .canonicalize()
            .map(|c| (c, source.path.display().to_string()))
            .into_iter()
            .collect(),
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
            included: v.included,
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
    /// Problems in step group files, by file.
    included: Vec<(Arc<Source>, Vec<Diagnostic>)>,
    /// The files being validated (canonical, and as shown), the playbook first, each a group
    /// the one before runs: a group that runs one of them is a cycle.
    chain: Vec<(PathBuf, String)>,
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
        let scenario = self.scenario(root);
        let vars = self.vars(root, overrides);
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
            Some(node) => self.subject(node, &vars.values, &cell, parallel_trial),
            None => (None, None),
        };
        let main_nodes = self.step_nodes(root, "steps");
        let finally_nodes = self.step_nodes(root, "finally");
        let monitor_nodes = self.step_nodes(root, "monitors");
        if main_nodes.is_empty() && root.get("steps").is_none() {
            self.diagnostics.push(
                Diagnostic::new("the playbook has no [[steps]]", Some(0..0))
                    .with_help("add at least one [[steps]] table with a `uses` key"),
            );
        }
        let (steps, finally, _) =
            self.steps_and_finally(main_nodes, finally_nodes, &vars.values, &matrix_keys);
        let monitors = self.monitors(monitor_nodes, &vars.values, &matrix_keys);
        if let Some(compose) = &compose {
            let all = steps.iter().chain(&finally);
            self.services(all.chain(monitors.iter().map(|m| &m.step)), compose);
        }
        Some(Playbook {
            source: Arc::clone(&self.source),
            scenario: scenario?,
            vars: vars.values,
            declared: vars.declared,
            secrets: vars.secrets,
            project,
            compose,
            steps,
            finally,
            monitors,
            matrix,
            cell,
        })
    }

    /// `[scenario]`, which every playbook has.
    fn scenario(&mut self, root: &Node) -> Option<Scenario> {
        let Some(node) = root.get("scenario") else {
            self.diagnostics.push(
                Diagnostic::new("missing [scenario] table", Some(0..0))
                    .with_help("every playbook starts with [scenario] and a `name`"),
            );
            return None;
        };
        let scenario = self.typed::<Scenario>(node, "invalid [scenario]")?;
        if let Some(n) = node.get("step_timeout") {
            self.at_least(n, "`step_timeout`", scenario.step_timeout, MIN_TIMEOUT);
        }
        Some(scenario)
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

#[cfg(test)]
mod tests {
    use super::references::name_offsets;
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
