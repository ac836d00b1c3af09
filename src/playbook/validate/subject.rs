//! `[subject]`: what the run owns, rendered and its compose file loaded before anything runs.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use super::Validator;
use crate::compose::ComposeProject;
use crate::diagnostic::Diagnostic;
use crate::playbook::node::Node;
use crate::playbook::{Cell, Subject};
use crate::template;

impl Validator {
    /// `[subject]`, rendered and its compose file loaded (so an unsupported compose key is
    /// reported now, before anything is created), and the project named. `run.trial` is 1
    /// unless the playbook is resolved for one of several trials run side by side: then it is
    /// that trial's number, and the project is the trial's own, `<project>-t<trial>`.
    pub(super) fn subject(
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
                match e.diagnostic() {
                    // Pointing into the compose file, where the problem is to be fixed.
                    Some(d) => {
                        let (line, col) = self.source.line_col(span.start);
                        let named = format!(
                            "the compose file of [subject], named at {}:{line}:{col}",
                            self.source.path.display()
                        );
                        let message = format!("invalid compose file: {}", d.message);
                        self.diagnostics
                            .push(Diagnostic { message, ..d }.with_note(named));
                    }
                    None => {
                        self.error(format!("invalid compose file: {e}"), span);
                    }
                }
                (project, None)
            }
        }
    }
}
