//! One entry of `[[steps]]`, `[[finally]]` or `[[monitors]]`: its keys, its `uses`, its
//! `retry`, `until` and `record`, and its `with` against that step kind's parameter types.

use std::ops::Range;

use super::references::{Output, Scope};
use super::{Validator, is_identifier, unknown_field_suggestion};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::duration::Duration;
use crate::playbook::check::CheckError;
use crate::playbook::node::{Node, Value};
use crate::playbook::{
    MAX_ATTEMPTS, MAX_BACKOFF, MAX_ITEMS, MIN_INTERVAL, MIN_TIMEOUT, MONITOR_KEYS, Phase, Retry,
    STEP_KEYS, Step, StepDuration, Until,
};
use crate::steps::StepKind;
use crate::template;

impl Validator {
    /// One step entry; `scope` is what its templates may read.
    pub(super) fn step(
        &mut self,
        node: &Node,
        phase: Phase,
        index: usize,
        scope: &Scope<'_>,
    ) -> Option<Step> {
        let what = self.step_keys(node, phase)?;
        let group = self.group_call(node);
        let kind = match &group {
            Some((_, span)) => Some((StepKind::Group, span.clone())),
            None => self.uses(node, what),
        };
        let group = group.map(|(group, _)| group);
        let id = node.get("id").and_then(|n| self.step_id(n));
        let name = node
            .get("name")
            .and_then(|n| self.typed::<String>(n, "invalid `name`"))
            // Shown as its path, not as `group`, unless it has an id.
            .or_else(|| match (&group, &id) {
                (Some(_), None) => node.get("uses")?.as_str().map(Into::into),
                _ => None,
            });
        let retry = node
            .get("retry")
            .and_then(|n| self.retry(n))
            .unwrap_or_default();
        let background = self.background(node, phase, id.is_some());
        let timeout = node
            .get("timeout")
            .and_then(|n| self.step_duration(n, "timeout", MIN_TIMEOUT, scope));
        let condition = node.get("if").and_then(|n| {
            let text = self.typed::<String>(n, "invalid `if`")?;
            self.template(&text, n.span.clone(), true, scope);
            Some(text)
        });
        let for_each = match phase {
            Phase::Monitors => None,
            _ => node.get("for_each").and_then(|n| self.for_each(n, scope)),
        };
        // `item` and `index` in `with` and `until`, once per item; `record` reads the list. (An
        // invalid `for_each` is reported once, not again at each `item`.)
        let each = Scope {
            in_loop: phase != Phase::Monitors && node.get("for_each").is_some(),
            ..*scope
        };
        let output = kind
            .as_ref()
            .map(|(k, _)| Output::of(*k, node.get("with"), group.as_deref()));
        let until = self.until(
            node,
            phase,
            &Scope {
                output: output.as_ref(),
                ..each
            },
        );
        let list = for_each.as_ref().map(|_| Output::List);
        let record = node
            .get("record")
            .map(|n| {
                let output = list.as_ref().or(output.as_ref());
                self.record(n, phase, &Scope { output, ..*scope })
            })
            .unwrap_or_default();
        let continue_on_error = self.continue_on_error(node, phase);
        let with_node = node.get("with").cloned();
        let (kind, uses_span) = kind?;
        let with = self.with(kind, with_node, &uses_span, &each)?;
        if kind == StepKind::Set {
            self.set_names(&with, &uses_span, id.is_some());
        }
        if let Some(group) = &group {
            self.group_inputs(group, &with);
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
            for_each,
            group,
            span: uses_span,
        })
    }

    /// `for_each`: a list, or a template giving one (its items rendered before the first run).
    fn for_each(&mut self, n: &Node, scope: &Scope<'_>) -> Option<Node> {
        match &n.value {
            Value::Array(items) if items.len() > MAX_ITEMS => {
                self.error(
                    format!(
                        "`for_each` has {} items; at most {MAX_ITEMS} are allowed",
                        items.len()
                    ),
                    n.span.clone(),
                );
                return None;
            }
            Value::Array(_) => {}
            Value::String(text) if template::is_template(text) => {}
            _ => {
                self.error(
                    format!(
                        "`for_each` must be a list, or a template giving one, not {}",
                        n.value.type_name()
                    ),
                    n.span.clone(),
                )
                .help = Some(
                    "e.g. for_each = [\"etcd0\", \"etcd1\"] or for_each = \"{{ vars.members }}\""
                        .into(),
                );
                return None;
            }
        }
        for (text, span) in n.strings() {
            if template::is_template(text) {
                self.template(text, span, false, scope);
            }
        }
        Some(n.clone())
    }

    /// Checks that the entry is a table of known keys; what the entry is called in messages.
    fn step_keys(&mut self, node: &Node, phase: Phase) -> Option<&'static str> {
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
        Some(what)
    }

    /// The step kind `uses` names, and where it is written.
    fn uses(&mut self, node: &Node, what: &str) -> Option<(StepKind, Range<usize>)> {
        let Some(uses) = node.get("uses") else {
            self.error(
                format!("{what} needs `uses`"),
                node.span.start..node.span.start,
            )
            .help = Some("e.g. uses = \"exec\"; `chaosplay steps` lists every step".into());
            return None;
        };
        let Some(name) = uses.as_str() else {
            self.error("`uses` must be a string", uses.span.clone());
            return None;
        };
        if StepKind::is_group_path(name) {
            return None; // a step group that did not load, reported by `group_call`
        }
        if let Some(kind) = StepKind::from_name(name) {
            return Some((kind, uses.span.clone()));
        }
        let names = StepKind::ALL
            .iter()
            .filter(|k| **k != StepKind::Group)
            .map(|k| k.name());
        let suggestion = did_you_mean(name, names);
        let d = self.error(format!("unknown step `{name}`"), uses.span.clone());
        match suggestion {
            Some(s) => d.label = Some(format!("did you mean `{s}`?")),
            None if name.ends_with(".toml") => {
                d.help = Some(format!(
                    "a step group's path starts with `./` or `../`: uses = \"./{name}\""
                ))
            }
            None => d.help = Some("run `chaosplay steps` to list every step".into()),
        }
        None
    }

    fn step_id(&mut self, n: &Node) -> Option<String> {
        let id = self.typed::<String>(n, "invalid `id`")?;
        if !is_identifier(&id) {
            self.error(format!("invalid step id `{id}`"), n.span.clone()).help = Some(
                "ids are read as `steps.<id>` in templates: use letters, digits and `_`, starting with a letter".into(),
            );
            return None;
        }
        Some(id)
    }

    fn retry(&mut self, n: &Node) -> Option<Retry> {
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
    }

    /// `background`: not in `[[finally]]`, and only with an `id` for `await` to name.
    fn background(&mut self, node: &Node, phase: Phase, has_id: bool) -> bool {
        let Some(n) = node.get("background") else {
            return false;
        };
        let background = self
            .typed::<bool>(n, "invalid `background`")
            .unwrap_or(false);
        if background {
            let span = n.span.clone();
            if phase == Phase::Finally {
                self.error("`background` is not allowed in [[finally]]", span);
            } else if !has_id {
                self.error("a background step needs an `id`", span).help =
                    Some("`await` names background steps by id".into());
            }
        }
        background
    }

    /// `until` with its `interval` and `stable_for`, which mean nothing without it.
    fn until(&mut self, node: &Node, phase: Phase, scope: &Scope<'_>) -> Option<Until> {
        let Some(n) = node.get("until") else {
            if phase != Phase::Monitors {
                for key in ["interval", "stable_for"] {
                    if let Some(n) = node.get(key) {
                        self.error(format!("`{key}` only applies with `until`"), n.span.clone());
                    }
                }
            }
            return None;
        };
        let condition = self.typed::<String>(n, "invalid `until`")?;
        self.template(&condition, n.span.clone(), true, scope);
        Some(Until {
            condition,
            interval: node
                .get("interval")
                .and_then(|n| self.step_duration(n, "interval", MIN_INTERVAL, scope))
                .unwrap_or(StepDuration::Fixed(Duration::from_secs(1))),
            stable_for: node
                .get("stable_for")
                .and_then(|n| self.step_duration(n, "stable_for", Duration::default(), scope)),
        })
    }

    /// `with`: a table of the kind's parameters, its templates and expressions checked.
    fn with(
        &mut self,
        kind: StepKind,
        with: Option<Node>,
        uses_span: &Range<usize>,
        scope: &Scope<'_>,
    ) -> Option<Node> {
        let with = match with {
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
            if kind == StepKind::WorkloadHttp && key.name == "requests" {
                self.http_requests(value);
                continue;
            }
            let expression = doc.expressions.contains(&key.name.as_str());
            for (text, span) in value.strings() {
                if expression {
                    self.template(text, span, true, scope);
                } else if template::is_template(text) {
                    self.template(text, span, false, scope);
                }
            }
        }
        if kind == StepKind::Await {
            self.await_targets(&with, scope);
        }
        if kind == StepKind::UndoFaults {
            self.undo_targets(&with, scope);
        }
        Some(with)
    }

    /// `workload.http`'s `requests`: templates of the request, reading the operation's names,
    /// and expressions over the response, each compiled here though evaluated per operation.
    fn http_requests(&mut self, requests: &Node) {
        use crate::steps::workload::{REQUEST_NAMES, RESPONSE_NAMES, TEMPLATE_FIELDS};
        for (_, request) in requests.as_table().unwrap_or_default() {
            for (field, value) in request.as_table().unwrap_or_default() {
                let expression = !TEMPLATE_FIELDS.contains(&field.name.as_str());
                let names = if expression {
                    RESPONSE_NAMES
                } else {
                    REQUEST_NAMES
                };
                for (text, span) in value.strings() {
                    self.local_template(text, span, expression, names);
                }
            }
        }
    }

    /// `set`'s keys are the names later steps read, as `steps.<id>.<key>`: it needs an id, and
    /// keys that can be read that way.
    fn set_names(&mut self, with: &Node, uses_span: &Range<usize>, has_id: bool) {
        let entries = with.as_table().unwrap_or_default();
        if entries.is_empty() {
            self.error(
                "`set` needs at least one value in `with`",
                uses_span.clone(),
            )
            .help = Some("e.g. with = { leader = \"{{ steps.status.leader }}\" }".into());
        } else if !has_id {
            self.error("a `set` step needs an `id`", uses_span.clone())
                .help = Some("its values are read as `steps.<id>.<key>`".into());
        }
        for (key, _) in entries {
            if !is_identifier(&key.name) {
                self.error(format!("invalid name `{}`", key.name), key.span.clone())
                    .help = Some(
                    "values are read as `steps.<id>.<key>`: use letters, digits and `_`".into(),
                );
            }
        }
    }

    /// `await`'s `steps` name background steps defined earlier.
    fn await_targets(&mut self, with: &Node, scope: &Scope<'_>) {
        let Some(ids) = with.get("steps").and_then(Node::as_array) else {
            return;
        };
        for n in ids {
            if let Some(target) = n.as_str()
                && !template::is_template(target)
                && !scope.background.iter().any(|b| b == target)
            {
                self.error(
                    format!("`{target}` is not a background step defined earlier"),
                    n.span.clone(),
                )
                .help = Some("`await` joins steps marked `background = true`".into());
            }
        }
    }

    /// `undo`'s `step`/`steps` name steps defined earlier whose kind leaves something for
    /// cleanup to reverse (a fault or a setting, as the registry says).
    fn undo_targets(&mut self, with: &Node, scope: &Scope<'_>) {
        let named = with.get("step").into_iter();
        let listed = with
            .get("steps")
            .and_then(Node::as_array)
            .unwrap_or_default();
        for n in named.chain(listed) {
            let Some(target) = n.as_str().filter(|t| !template::is_template(t)) else {
                continue;
            };
            let reversible = |output: &Output| matches!(output, Output::Kind(kind) if kind.doc().effect.undo().is_some());
            let (message, help) = match scope.earlier.get(target) {
                Some(output) if reversible(output) => continue,
                // A `for_each` step's kind is not kept here; its undos are found when it runs.
                Some(Output::List) => continue,
                Some(Output::Kind(kind)) => (
                    format!("`{target}` is a `{kind}` step: it leaves no fault to undo"),
                    "`undo` reverses steps that inject a fault or change a setting, such as `docker.limit` or `network.partition`",
                ),
                Some(Output::Named(_)) => (
                    format!(
                        "`{target}` is a `set` step or a step group: it leaves no fault to undo"
                    ),
                    "`undo` reverses steps that inject a fault or change a setting, such as `docker.limit` or `network.partition`",
                ),
                None if scope.all.contains(target) => (
                    format!("`{target}` is defined after this step"),
                    "`undo` reverses the faults of steps that ran before it",
                ),
                None => (
                    format!("no fault step `{target}` is defined earlier"),
                    "`undo` names earlier fault steps by their `id`",
                ),
            };
            let faults = scope.earlier.iter().filter(|(_, o)| reversible(o));
            let label = did_you_mean(target, faults.map(|(id, _)| id.as_str()))
                .map(|s| format!("did you mean `{s}`?"));
            let d = self.error(message, n.span.clone());
            d.help = Some(help.into());
            d.label = label;
        }
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
}
