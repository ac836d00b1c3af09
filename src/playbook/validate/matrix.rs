//! `[matrix]`: the keys and values each cell of the playbook takes.

use super::{Validator, is_identifier};
use crate::playbook::MAX_CELLS;
use crate::playbook::node::Node;

impl Validator {
    /// `[matrix]`: every key an identifier, every value a non-empty array of scalars, and at
    /// most [`MAX_CELLS`] cells in all.
    pub(super) fn matrix(&mut self, node: &Node) -> Vec<(String, Vec<serde_json::Value>)> {
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
}
