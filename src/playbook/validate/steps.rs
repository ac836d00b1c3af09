//! The step lists: `[[steps]]` and `[[finally]]` in order, each step reading the ids, background
//! steps and metrics defined above it, and `[[monitors]]`, which read only `vars`.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use super::Validator;
use super::references::{Output, Scope};
use crate::duration::Duration;
use crate::playbook::node::{Node, Value};
use crate::playbook::{Monitor, Phase, Step};
use crate::steps::StepKind;

/// What the steps validated so far define for the steps after them.
#[derive(Default)]
struct Defined {
    /// Ids with what their steps output.
    ids: HashMap<String, Output>,
    /// Where each id is written, to point a duplicate at the first.
    id_spans: HashMap<String, Range<usize>>,
    background: Vec<String>,
    metrics: Vec<String>,
}

impl Validator {
    /// The entries of `[[name]]`, none if the key is missing or is not an array of tables.
    pub(super) fn step_nodes<'n>(&mut self, root: &'n Node, name: &str) -> &'n [Node] {
        match root.get(name) {
            None => &[],
            Some(Node {
                value: Value::Array(items),
                ..
            }) => items,
            Some(other) => {
                self.error(
                    format!("`{name}` must be an array of tables: write [[{name}]]"),
                    other.span.clone(),
                );
                &[]
            }
        }
    }

    /// `[[steps]]` then `[[finally]]`: a `[[finally]]` step may read any main step's output.
    /// Also returns every id defined, with what its step outputs.
    pub(super) fn steps_and_finally(
        &mut self,
        main_nodes: &[Node],
        finally_nodes: &[Node],
        vars: &serde_json::Map<String, serde_json::Value>,
        matrix: &[String],
    ) -> (Vec<Step>, Vec<Step>, HashMap<String, Output>) {
        // Ids first, so a reference to a step defined later gets a precise message.
        let mut all_ids: HashSet<String> = HashSet::new();
        for node in main_nodes.iter().chain(finally_nodes) {
            let uses = node.get("uses").and_then(Node::as_str);
            let known = uses
                .is_some_and(|u| StepKind::from_name(u).is_some() || StepKind::is_group_path(u));
            if let (Some(id), true) = (node.get("id").and_then(Node::as_str), known) {
                all_ids.insert(id.to_string());
            }
        }
        let mut defined = Defined::default();
        let mut steps = Vec::new();
        let mut finally = Vec::new();
        for (phase, nodes, out) in [
            (Phase::Steps, main_nodes, &mut steps),
            (Phase::Finally, finally_nodes, &mut finally),
        ] {
            for (index, node) in nodes.iter().enumerate() {
                let scope = Scope {
                    vars,
                    earlier: &defined.ids,
                    all: &all_ids,
                    background: &defined.background,
                    output: None,
                    metrics: &defined.metrics,
                    matrix,
                    in_loop: false,
                };
                if let Some(step) = self.step(node, phase, index, &scope) {
                    self.define(node, &step, &mut defined);
                    out.push(step);
                }
            }
        }
        (steps, finally, defined.ids)
    }

    /// Adds what `step` defines (its metric, its id) to `defined`, refusing duplicates.
    fn define(&mut self, node: &Node, step: &Step, defined: &mut Defined) {
        for record in &step.record {
            if defined.metrics.contains(&record.name) {
                let span = node
                    .get("record")
                    .map(|n| n.span.clone())
                    .unwrap_or_default();
                self.error(format!("metric `{}` is recorded twice", record.name), span);
            } else {
                defined.metrics.push(record.name.clone());
            }
        }
        let Some(id) = &step.id else {
            return;
        };
        let span = node.get("id").map(|n| n.span.clone()).unwrap_or_default();
        if let Some(first) = defined.id_spans.get(id) {
            let (line, _) = self.source.line_col(first.start);
            self.error(format!("duplicate step id `{id}`"), span).label =
                Some(format!("first defined on line {line}"));
        } else {
            defined.id_spans.insert(id.clone(), span);
            defined.ids.insert(id.clone(), Output::of_step(step));
            if step.background {
                defined.background.push(id.clone());
            }
        }
    }

    /// `[[monitors]]`: read-only steps with an `interval` and a `show` template. Monitors run
    /// from the start, so they can read `vars`, not step outputs.
    pub(super) fn monitors(
        &mut self,
        nodes: &[Node],
        vars: &serde_json::Map<String, serde_json::Value>,
        matrix: &[String],
    ) -> Vec<Monitor> {
        let (no_ids, no_outputs) = (HashSet::new(), HashMap::new());
        let scope = Scope {
            vars,
            earlier: &no_outputs,
            all: &no_ids,
            background: &[],
            output: None,
            metrics: &[],
            matrix,
            in_loop: false,
        };
        let mut monitors = Vec::new();
        for (index, node) in nodes.iter().enumerate() {
            let Some(step) = self.step(node, Phase::Monitors, index, &scope) else {
                continue;
            };
            let monitor = self.monitor(node, step, &scope);
            monitors.push(monitor);
        }
        monitors
    }

    fn monitor(&mut self, node: &Node, step: Step, scope: &Scope<'_>) -> Monitor {
        if !step.kind.doc().read_only {
            let what = match &step.group {
                Some(_) => "a step group may change things".to_string(),
                None => format!("`{}` changes things", step.kind),
            };
            self.error(
                format!("{what}, so it cannot be a monitor"),
                step.span.clone(),
            )
            .help = Some(
                "monitors sample read-only steps, e.g. pd.capture, http.request, compose.ps".into(),
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
            let output = Output::of(step.kind, Some(&step.with), None);
            let scope = Scope {
                output: Some(&output),
                ..*scope
            };
            self.template(&text, n.span.clone(), false, &scope);
            Some(text)
        });
        Monitor {
            step,
            interval,
            show,
        }
    }
}
