//! The names templates and expressions read: `vars.<name>`, `steps.<id>.<field>`,
//! `metrics.<name>`, `matrix.<key>`, `run.<field>`, `output.<field>`, each checked against
//! what is defined at that point of the playbook, with a caret under the name as written.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use super::Validator;
use crate::diagnostic::did_you_mean;
use crate::playbook::node::Node;
use crate::playbook::{CONTEXT_ROOTS, Group, RUN_FIELDS, Step};
use crate::steps::StepKind;
use crate::template;

/// What validation knows of a step's output, to check `steps.<id>.<field>` and `output.<field>`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Output {
    /// The fields its kind documents.
    Kind(StepKind),
    /// Fields the playbook names: a `set` step's keys.
    Named(Vec<String>),
    /// A `for_each` step's: a list of its iterations' outputs.
    List,
}

impl Output {
    /// What a step of `kind` with parameters `with` (running `group`, if a group) outputs.
    pub fn of(kind: StepKind, with: Option<&Node>, group: Option<&Group>) -> Output {
        if let Some(group) = group {
            return Output::Named(group.outputs.iter().map(|(n, _)| n.clone()).collect());
        }
        match kind {
            StepKind::Set => Output::Named(
                with.and_then(Node::as_table)
                    .unwrap_or_default()
                    .iter()
                    .map(|(k, _)| k.name.clone())
                    .collect(),
            ),
            kind => Output::Kind(kind),
        }
    }

    /// What a validated step outputs: a list if it loops.
    pub fn of_step(step: &Step) -> Output {
        match step.for_each {
            Some(_) => Output::List,
            None => Output::of(step.kind, Some(&step.with), step.group.as_deref()),
        }
    }
}

/// What templates of one step may read.
#[derive(Clone, Copy)]
pub(super) struct Scope<'a> {
    pub vars: &'a serde_json::Map<String, serde_json::Value>,
    /// Step ids defined before this step, with their kinds.
    pub earlier: &'a HashMap<String, Output>,
    /// All ids in the file, to tell "defined later" from "not defined".
    pub all: &'a HashSet<String>,
    /// Ids of background steps defined before this step, which `await` may join.
    pub background: &'a [String],
    /// What `output` names, inside `until`, `record` and a monitor's `show` only.
    pub output: Option<&'a Output>,
    /// Metrics recorded by steps before this one.
    pub metrics: &'a [String],
    /// Keys of `[matrix]`, read as `matrix.<key>`.
    pub matrix: &'a [String],
    /// Whether `item` and `index` are defined: in the `with` and `until` of a `for_each` step.
    pub in_loop: bool,
}

impl Validator {
    /// Checks a template's (or expression's) syntax, every name it reads, and the filters and
    /// tests it applies.
    pub(super) fn template(
        &mut self,
        text: &str,
        span: Range<usize>,
        expression: bool,
        scope: &Scope<'_>,
    ) {
        let source = Arc::clone(&self.source);
        let refs = match template::references(&self.env, text, expression) {
            Ok(refs) => refs,
            Err(e) => {
                let what = if expression { "expression" } else { "template" };
                self.error(
                    format!("invalid {what}: {}", template::error_message(&e)),
                    span,
                )
                .help = expression.then(|| super::hints::expression(text)).flatten();
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
        self.misuses(text, span, expression);
    }

    /// Filters, tests and functions a compiled template misuses (unknown ones, wrong
    /// arguments), each with a caret under it.
    fn misuses(&mut self, text: &str, span: Range<usize>, expression: bool) {
        let source = Arc::clone(&self.source);
        let written = source.text.get(span.clone()).map(name_offsets);
        let text_written = source.text.get(span.clone()).unwrap_or_default();
        for misuse in template::misuses(&self.env, text, expression) {
            let at = written
                .as_ref()
                .and_then(|w| w.get(misuse.at.as_str()).copied())
                .or_else(|| text_written.find(&misuse.at));
            let narrowed = at.map_or(span.clone(), |at| {
                span.start + at..span.start + at + misuse.at.len()
            });
            self.error(misuse.message, narrowed).label = misuse.label;
        }
    }
}

impl Validator {
    /// Checks a template (or expression) that a step evaluates itself, with its own names
    /// (`workload.http`'s per-operation requests): its syntax, and that it reads only `names`.
    pub(super) fn local_template(
        &mut self,
        text: &str,
        span: Range<usize>,
        expression: bool,
        names: &[&str],
    ) {
        let refs = match template::references(&self.env, text, expression) {
            Ok(refs) => refs,
            Err(e) => {
                let what = if expression { "expression" } else { "template" };
                let message = format!("invalid {what}: {}", template::error_message(&e));
                self.error(message, span);
                return;
            }
        };
        let source = Arc::clone(&self.source);
        let written = source.text.get(span.clone()).map(name_offsets);
        for path in refs {
            let root = path.split('.').next().unwrap_or_default();
            if names.contains(&root) || template::FUNCTIONS.contains(&root) {
                continue;
            }
            let at = written.as_ref().and_then(|w| w.get(root));
            let narrowed = at.map_or(span.clone(), |&at| {
                span.start + at..span.start + at + root.len()
            });
            let label = did_you_mean(root, names.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .or_else(|| Some(format!("it can read {}", names.join(", "))));
            self.error(format!("unknown name `{root}`"), narrowed).label = label;
        }
        self.misuses(text, span, expression);
    }
}

/// Longest dotted name [`name_offsets`] records: names people write are far shorter, and a
/// bound keeps a long run of `a.a.a…` in a template's text linear to index.
const MAX_NAME: usize = 128;

/// Where each dotted name in `text` (`steps.kill.container`, and its prefixes `steps` and
/// `steps.kill`) is first written, so the carets of a bad reference sit under it. Found in one
/// pass: searching the text once per reference is quadratic in a template of thousands.
pub(super) fn name_offsets(text: &str) -> HashMap<&str, usize> {
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
            let Some(output) = scope.earlier.get(*id) else {
                if scope.all.contains(*id) {
                    return Some((
                        format!("step `{id}` is referenced before it runs"),
                        Some("a step can only read the outputs of steps above it".into()),
                    ));
                }
                let label = suggest(id, &mut scope.earlier.keys().map(String::as_str));
                return Some((format!("no step with id `{id}`"), label));
            };
            output_problem(output, parts.get(2).copied(), &format!("steps.{id}"))
        }
        "output" => match scope.output {
            Some(output) => output_problem(output, parts.get(1).copied(), "output"),
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
        "item" | "index" if scope.in_loop => None,
        name @ ("item" | "index") => Some((
            format!("`{name}` is only defined in a step with `for_each`"),
            Some("its `with` and `until` read the current item and its position".into()),
        )),
        // minijinja's own global functions
        "range" | "dict" | "namespace" | "debug" => None,
        name if crate::template::FUNCTIONS.contains(&name) => None,
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
    output: &Output,
    field: Option<&str>,
    prefix: &str,
) -> Option<(String, Option<String>)> {
    let field = field?;
    let (fields, whose): (Vec<&str>, String) = match output {
        Output::Kind(kind) => {
            let outputs = kind.doc().outputs;
            if outputs.iter().any(|(name, _)| name.starts_with('<')) {
                return None;
            }
            (
                outputs.iter().map(|(n, _)| *n).collect(),
                format!("`{kind}`"),
            )
        }
        Output::List => {
            return Some((
                format!("`{prefix}` is a list, one output per item of `for_each`"),
                Some(format!("read one item's as `{prefix}[0].{field}`")),
            ));
        }
        Output::Named(names) => (
            names.iter().map(String::as_str).collect(),
            format!("`{prefix}`"),
        ),
    };
    if fields.contains(&field) {
        return None;
    }
    let label = did_you_mean(field, fields.iter().copied())
        .map(|s| format!("did you mean `{s}`?"))
        .or_else(|| Some(format!("{whose} outputs: {}", fields.join(", "))));
    Some((format!("`{prefix}` has no field `{field}`"), label))
}
