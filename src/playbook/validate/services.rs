//! Services named by steps, checked against the subject's compose file: `service = "etcd3"`
//! in a three-member cluster (etcd0–etcd2) is a mistake to report now, not after the cluster
//! has been started and the step has waited out its timeout.

use super::Validator;
use crate::compose::ComposeProject;
use crate::diagnostic::did_you_mean;
use crate::playbook::Step;
use crate::playbook::node::Node;
use crate::steps::select::glob;
use crate::template;

impl Validator {
    /// Every literal `service` of a step that selects containers (a name or a glob) must match
    /// a service of the compose file. Templates are known only when the step runs; a step with
    /// `scope = "any"` may name containers outside the project.
    pub(super) fn services<'a>(
        &mut self,
        steps: impl Iterator<Item = &'a Step>,
        compose: &ComposeProject,
    ) {
        let names: Vec<&str> = compose.services.iter().map(|s| s.name.as_str()).collect();
        for step in steps.filter(|s| s.kind.selects()) {
            let any = step.with.get("scope").and_then(Node::as_str) == Some("any");
            let Some(node) = step.with.get("service") else {
                continue;
            };
            let Some(pattern) = node.as_str().filter(|p| !template::is_template(p)) else {
                continue;
            };
            // A bad glob is reported by the step's own checks.
            let Ok(matcher) = glob("service", pattern) else {
                continue;
            };
            if any || names.iter().any(|n| matcher.is_match(n)) {
                continue;
            }
            let suggestion = did_you_mean(pattern, names.iter().copied());
            let d = self.error(
                format!(
                    "no service of the subject's compose file ({}) matches `{pattern}`",
                    compose
                        .file
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                ),
                node.span.clone(),
            );
            d.label = suggestion.map(|s| format!("did you mean `{s}`?"));
            d.help = Some(format!("its services: {}", names.join(", ")));
        }
    }
}
