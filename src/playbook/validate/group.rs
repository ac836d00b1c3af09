//! Step groups: `uses = "./lib/etcd-leader.toml"` runs a file of steps. The file is validated
//! like a playbook, by a validator of its own whose diagnostics point into that file; its
//! `[vars]` are its inputs (the calling step's `with` sets them) and its `[outputs]` the
//! calling step's output, so its step ids are its own.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::references::Scope;
use super::{Validator, toml_errors};
use crate::diagnostic::{Diagnostic, Source, did_you_mean};
use crate::playbook::node::{Node, Value};
use crate::playbook::{GROUP_KEYS, Group};
use crate::steps::StepKind;
use crate::template;

impl Validator {
    /// The group a step runs, if its `uses` is a group's path, and where `uses` is written;
    /// `None` if it names a kind, or the group could not be loaded (reported).
    pub(super) fn group_call(&mut self, node: &Node) -> Option<(Arc<Group>, Range<usize>)> {
        let uses = node.get("uses")?;
        let path = uses.as_str().filter(|u| StepKind::is_group_path(u))?;
        let span = uses.span.clone();
        let dir = match self.source.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file = dir.join(path.strip_prefix("./").unwrap_or(path));
        let (canonical, source) = match file.canonicalize().and_then(|c| {
            let source = Source::read(&file)?;
            Ok((c, source))
        }) {
            Ok(read) => read,
            Err(e) => {
                self.error(
                    format!("cannot read step group {}: {e}", file.display()),
                    span,
                )
                .help = Some("a step group's path is relative to the file that uses it".into());
                return None;
            }
        };
        if let Some(first) = self.chain.iter().position(|(f, _)| *f == canonical) {
            let cycle: Vec<String> = self.chain[first..]
                .iter()
                .map(|(_, shown)| shown.clone())
                .chain([file.display().to_string()])
                .collect();
            self.error("step groups run each other in a cycle", span)
                .label = Some(cycle.join(" → "));
            return None;
        }
        let mut sub = Validator {
            source: Arc::new(source),
            env: template::environment(),
            diagnostics: Vec::new(),
            included: Vec::new(),
            chain: self
                .chain
                .iter()
                .cloned()
                .chain([(canonical, file.display().to_string())])
                .collect(),
        };
        let group = sub.group_file();
        sub.diagnostics
            .sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
        let invalid = !sub.diagnostics.is_empty() || !sub.included.is_empty();
        if !sub.diagnostics.is_empty() {
            self.included
                .push((Arc::clone(&sub.source), sub.diagnostics));
        }
        self.included.extend(sub.included);
        if invalid {
            self.error(format!("step group `{path}` is invalid"), span)
                .label = Some("its errors follow, in its file".into());
            return None;
        }
        Some((Arc::new(group?), span))
    }

    /// This validator's file as a step group: `[vars]`, `[outputs]` and `[[steps]]`.
    fn group_file(&mut self) -> Option<Group> {
        let source = Arc::clone(&self.source);
        let (table, errors) = toml::de::DeTable::parse_recoverable(&source.text);
        if !errors.is_empty() {
            self.diagnostics.extend(toml_errors(&source.text, &errors));
            return None;
        }
        let Ok(root) = Node::from_table(&table) else {
            self.diagnostics.push(Diagnostic::new(
                "invalid TOML: integer out of range",
                Some(0..0),
            ));
            return None;
        };
        drop(table);
        for (key, _) in root.as_table().unwrap_or_default() {
            if !GROUP_KEYS.contains(&key.name.as_str()) {
                self.unknown_key(key, GROUP_KEYS, "a step group");
            }
        }
        if let Some(n) = root.get("description") {
            self.typed::<String>(n, "invalid `description`");
        }
        let vars = match root.get("vars").map(Node::to_json) {
            None => serde_json::Map::new(),
            Some(serde_json::Value::Object(map)) => map,
            Some(_) => {
                let span = root.get("vars").map(|n| n.span.clone()).unwrap_or_default();
                self.error("`vars` must be a table of inputs with defaults", span);
                serde_json::Map::new()
            }
        };
        let nodes = self.step_nodes(&root, "steps");
        if nodes.is_empty() {
            self.diagnostics.push(
                Diagnostic::new("the step group has no [[steps]]", Some(0..0))
                    .with_help("a step group is a file of [[steps]], with [vars] and [outputs]"),
            );
        }
        let (steps, _, defined) = self.steps_and_finally(nodes, &[], &vars, &[]);
        for node in nodes {
            let set = |key: &str| match node.get(key) {
                Some(n) if key == "record" || n.value == Value::Bool(true) => Some(n.span.clone()),
                _ => None,
            };
            for key in ["background", "record"] {
                if let Some(span) = set(key) {
                    self.error(format!("`{key}` is not allowed in a step group"), span)
                        .help = Some(
                        "the group runs as one step of the playbook: set it on the step that uses the group"
                            .into(),
                    );
                }
            }
        }
        let all = defined.keys().cloned().collect();
        let scope = Scope {
            vars: &vars,
            earlier: &defined,
            all: &all,
            background: &[],
            output: None,
            metrics: &[],
            matrix: &[],
            in_loop: false,
        };
        let outputs = root
            .get("outputs")
            .map(|n| self.group_outputs(n, &scope))
            .unwrap_or_default();
        Some(Group {
            source,
            vars,
            outputs,
            steps,
        })
    }

    /// `[outputs]`: each a template over the group's steps, rendered after them.
    fn group_outputs(&mut self, node: &Node, scope: &Scope<'_>) -> Vec<(String, String)> {
        let Some(entries) = node.as_table() else {
            self.error("`outputs` must be a table of templates", node.span.clone());
            return Vec::new();
        };
        let mut outputs = Vec::new();
        for (key, value) in entries {
            let Value::String(text) = &value.value else {
                self.error(
                    format!("output `{}` must be a template string", key.name),
                    value.span.clone(),
                )
                .help = Some("e.g. leader = \"{{ steps.status.json.leader }}\"".into());
                continue;
            };
            if template::is_template(text) {
                self.template(text, value.span.clone(), false, scope);
            }
            outputs.push((key.name.clone(), text.clone()));
        }
        outputs
    }

    /// The calling step's `with` sets the group's inputs: each key one of its `[vars]`.
    pub(super) fn group_inputs(&mut self, group: &Group, with: &Node) {
        for (key, _) in with.as_table().unwrap_or_default() {
            if group.vars.contains_key(&key.name) {
                continue;
            }
            let names = group.vars.keys().map(String::as_str);
            let label = did_you_mean(&key.name, names).map(|s| format!("did you mean `{s}`?"));
            let inputs: Vec<&str> = group.vars.keys().map(String::as_str).collect();
            let d = self.error(
                format!(
                    "step group {} has no input `{}`",
                    display(&group.source.path),
                    key.name
                ),
                key.span.clone(),
            );
            d.label = label;
            d.help = Some(match inputs.is_empty() {
                true => "it takes no inputs (its [vars] is empty)".into(),
                false => format!("its inputs (its [vars]): {}", inputs.join(", ")),
            });
        }
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
