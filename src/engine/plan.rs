//! `chaosplay plan` (and `run --dry-run`): what a run would do, touching nothing — the steps
//! with their parameters rendered as far as they can be, the subject's services, the
//! containers each fault would hit right now, and the undo each would register.

use std::sync::Arc;

use serde::Serialize;

use super::context::RunShared;
use super::events::Listener;
use super::ledger::Ledger;
use crate::playbook::{Phase, Playbook, Step};
use crate::steps::select::{Pick, matching};
use crate::template::is_template;

#[derive(Debug, Serialize)]
pub struct Plan {
    pub name: String,
    pub file: String,
    pub project: Option<String>,
    pub services: Vec<PlannedService>,
    /// The Docker daemon as seen from here, or why it cannot be reached; `None` when no step
    /// needs one (the plan then does not try to reach it).
    pub docker: Option<Result<String, String>>,
    pub steps: Vec<PlannedStep>,
}

#[derive(Debug, Serialize)]
pub struct PlannedService {
    pub name: String,
    pub container: String,
    pub image: String,
    pub ports: Vec<String>,
    pub depends_on: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PlannedStep {
    pub phase: Phase,
    pub index: usize,
    pub name: String,
    pub uses: &'static str,
    pub line: usize,
    /// `with` rendered where it can be; templates over what only the run produces stay.
    pub with: serde_json::Value,
    /// For container steps: which containers it would act on now.
    pub targets: Option<String>,
    /// What cleanup would do to reverse it.
    pub undo: Option<&'static str>,
}

/// Nothing is emitted while planning.
struct Silent;

impl Listener for Silent {
    fn event(&self, _: &super::RunEvent<'_>) {}
}

pub async fn plan(playbook: Arc<Playbook>, seed: u64) -> Plan {
    let run_info = serde_json::json!({
        "seed": seed,
        "trial": 1,
        "started_at": super::timing::rfc3339(std::time::SystemTime::now()),
        "scenario": playbook.scenario.name,
    });
    let shared = RunShared::new(
        Arc::clone(&playbook),
        Arc::new(Silent),
        run_info,
        seed,
        Ledger::in_memory(),
        std::time::Instant::now(),
    );
    let docker = if playbook.needs_docker() {
        Some(shared.docker().await)
    } else {
        None
    };
    let services = playbook
        .compose
        .iter()
        .flat_map(|c| &c.services)
        .map(|s| PlannedService {
            name: s.name.clone(),
            container: s.container_name.clone(),
            image: s.image.clone(),
            ports: s
                .ports
                .iter()
                .map(|p| match (p.host_ip, p.published) {
                    (Some(ip), Some(port)) => {
                        format!("{ip}:{port}->{}/{}", p.target, p.protocol.as_str())
                    }
                    (None, Some(port)) => format!("{port}->{}/{}", p.target, p.protocol.as_str()),
                    _ => format!("{}/{}", p.target, p.protocol.as_str()),
                })
                .collect(),
            depends_on: s.depends_on.keys().cloned().collect(),
        })
        .collect();
    let daemon = docker.as_ref().and_then(|d| d.as_ref().ok().copied());
    let mut steps = Vec::new();
    for step in playbook.steps.iter().chain(&playbook.finally) {
        steps.push(plan_step(&shared, step, daemon).await);
    }
    Plan {
        name: playbook.run_name(),
        file: playbook.source.path.display().to_string(),
        project: playbook.project.clone(),
        services,
        docker: docker.map(|d| match d {
            Ok(d) => Ok(format!("{} (API {})", d.host(), d.api_version())),
            Err(e) => Err(e.to_string()),
        }),
        steps,
    }
}

async fn plan_step(
    shared: &RunShared,
    step: &Step,
    docker: Option<&crate::clients::docker::DockerClient>,
) -> PlannedStep {
    let with = shared.render_known(&step.with);
    let targets = match step.kind.selector(with.clone()) {
        None => None,
        Some(_) if has_template(&with) => Some(match step.for_each {
            Some(_) => "decided at run time, for each item of `for_each`".into(),
            None => "decided at run time (its parameters read earlier steps)".into(),
        }),
        Some(Err(e)) => Some(format!("invalid parameters: {e}")),
        Some(Ok(selector)) => Some(match docker {
            None => "unknown: the Docker daemon cannot be reached".into(),
            Some(docker) => {
                match matching(docker, shared.playbook.project.as_deref(), &selector).await {
                    Err(e) => format!("nothing: {e}"),
                    Ok(matched) => {
                        let names: Vec<&str> = matched.iter().map(|c| c.name.as_str()).collect();
                        match (selector.pick, selector.amount(matched.len())) {
                            (Pick::Random, n) if n < matched.len() => {
                                format!("{n} at random (by the seed) of: {}", names.join(", "))
                            }
                            (_, n) => names.into_iter().take(n).collect::<Vec<_>>().join(", "),
                        }
                    }
                }
            }
        }),
    };
    let mut with = with;
    shared.redact_json(&mut with);
    PlannedStep {
        phase: step.phase,
        index: step.index,
        name: step.display_name().to_string(),
        uses: step.kind.name(),
        line: shared.playbook.source.line_col(step.span.start).0,
        with,
        targets,
        undo: step.kind.doc().effect.undo(),
    }
}

fn has_template(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => is_template(s),
        serde_json::Value::Array(items) => items.iter().any(has_template),
        serde_json::Value::Object(map) => map.values().any(has_template),
        _ => false,
    }
}
