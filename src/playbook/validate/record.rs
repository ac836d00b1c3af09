//! `record` and `continue_on_error`: what a step keeps of its result, checked like the rest of
//! the step.

use super::references::Scope;
use super::{Validator, is_identifier};
use crate::playbook::node::{Node, Value};
use crate::playbook::{Phase, Record, RecordSpec};

impl Validator {
    /// `record`, in its three spellings: a name (the step's duration), `{ name, value }` (one
    /// expression), or a table of name → expression (several metrics from one output). A
    /// table whose keys are only `name` and `value` is the second spelling, so a metric
    /// cannot be called `name` or `value` in the third.
    pub(super) fn record(&mut self, n: &Node, phase: Phase, scope: &Scope<'_>) -> Vec<Record> {
        if phase == Phase::Finally {
            self.error("`record` is not allowed in [[finally]]", n.span.clone());
        }
        let specs: Vec<(RecordSpec, &Node)> = match &n.value {
            Value::String(name) => vec![(
                RecordSpec {
                    name: name.clone(),
                    value: None,
                },
                n,
            )],
            Value::Table(entries)
                if entries
                    .iter()
                    .all(|(k, _)| k.name == "name" || k.name == "value")
                    && n.get("name").is_some() =>
            {
                match self.typed::<RecordSpec>(n, "invalid `record`") {
                    Some(spec) => vec![(spec, n)],
                    None => return Vec::new(),
                }
            }
            Value::Table(entries) => entries
                .iter()
                .filter_map(|(key, value)| {
                    let expr =
                        self.typed::<String>(value, &format!("invalid `record.{}`", key.name))?;
                    Some((
                        RecordSpec {
                            name: key.name.clone(),
                            value: Some(expr),
                        },
                        value,
                    ))
                })
                .collect(),
            _ => {
                self.error(
                    "`record` must be a metric name or a table",
                    n.span.clone(),
                )
                .help = Some(
                    "e.g. record = \"time_to_up\", or record = { regions = \"output.region_count\" }"
                        .into(),
                );
                return Vec::new();
            }
        };
        specs
            .into_iter()
            .filter_map(|(spec, at)| {
                if !is_identifier(&spec.name) {
                    self.error(
                        format!("invalid metric name `{}`", spec.name),
                        at.span.clone(),
                    )
                    .help = Some(
                        "metrics are read as `metrics.<name>`: use letters, digits and `_`".into(),
                    );
                    return None;
                }
                if let Some(expr) = &spec.value {
                    self.template(expr, at.span.clone(), true, scope);
                }
                Some(Record {
                    name: spec.name,
                    value: spec.value,
                })
            })
            .collect()
    }

    /// `continue_on_error = true`: only in `[[steps]]`, where a failure would stop the steps;
    /// `[[finally]]` steps all run anyway.
    pub(super) fn continue_on_error(&mut self, node: &Node, phase: Phase) -> bool {
        let Some(n) = node.get("continue_on_error") else {
            return false;
        };
        let value = self
            .typed::<bool>(n, "invalid `continue_on_error`")
            .unwrap_or(false);
        if value && phase != Phase::Steps {
            self.error(
                "`continue_on_error` is only allowed in [[steps]]",
                n.span.clone(),
            )
            .help =
                Some("every [[finally]] step runs, whether or not an earlier one failed".into());
        }
        value
    }
}
