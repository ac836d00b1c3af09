//! `[vars]` and `[secrets]`: the values templates read as `vars.<name>`, with the command
//! line's overrides applied.

use super::Validator;
use crate::playbook::node::Node;

/// The variables of a playbook, as [`Validator::vars`] resolves them.
pub(super) struct Vars {
    /// `[vars]`, `--var`/`--vars-file` overrides, and `[secrets]`.
    pub values: serde_json::Map<String, serde_json::Value>,
    /// Names the playbook declares in `[vars]` and `[secrets]`.
    pub declared: Vec<String>,
    /// The secrets' values, redacted in every report.
    pub secrets: Vec<String>,
}

impl Validator {
    /// `[vars]` with `overrides` applied, then `[secrets]` read from the environment.
    pub(super) fn vars(
        &mut self,
        root: &Node,
        overrides: &serde_json::Map<String, serde_json::Value>,
    ) -> Vars {
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
        crate::playbook::vars::merge(&mut vars, overrides);
        let secrets = root
            .get("secrets")
            .map(|n| self.secrets(n, &mut vars))
            .unwrap_or_default();
        Vars {
            values: vars,
            declared,
            secrets,
        }
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
}
