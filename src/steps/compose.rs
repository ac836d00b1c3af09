//! `compose.*`: the subject's lifecycle, from its compose file, through the Engine API.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Effect, StepDoc};
use crate::clients::project::{Down, ProjectClient, ProjectError};
use crate::compose::ComposeProject;
use crate::engine::{StepContext, StepError};

impl From<ProjectError> for StepError {
    fn from(e: ProjectError) -> Self {
        match e {
            ProjectError::Docker(d) => match host_port_taken(&d.to_string()) {
                Some(port) => StepError::Environment(format!(
                    "host port {port} is already in use (by another container or process), so the subject cannot publish it: free it, or publish another one (take the port from a variable in the compose file, e.g. `${{PORT:-{}}}`, and set it in [subject] env)\n{d}",
                    port.rsplit(':').next().unwrap_or(&port)
                )),
                None => d.into(),
            },
            ProjectError::ImageUnavailable { .. } => StepError::Environment(e.to_string()),
            ProjectError::Service { .. } => StepError::Failed(e.to_string()),
        }
    }
}

/// The host address a container could not publish because it is taken, from the daemon's
/// "Bind for 127.0.0.1:20180 failed: port is already allocated" (or "… address already in
/// use"): the machine's state, not the scenario's, so an environment error naming the port.
fn host_port_taken(message: &str) -> Option<String> {
    if !(message.contains("port is already allocated")
        || message.contains("address already in use"))
    {
        return None;
    }
    let after = message
        .split("Bind for ")
        .nth(1)
        .or_else(|| message.split("listen tcp4 ").nth(1))?;
    let address = after.split([' ', ',']).next()?.trim_end_matches(':');
    (!address.is_empty()).then(|| address.to_string())
}

fn project(cx: &StepContext) -> Result<&ComposeProject, StepError> {
    cx.compose().ok_or_else(|| {
        StepError::Params(
            "compose steps need `[subject] compose = \"path/to/docker-compose.yaml\"`".into(),
        )
    })
}

async fn states(compose: &ProjectClient<'_>) -> Result<Value, StepError> {
    let services = compose.ps().await?;
    let count = |f: &dyn Fn(&crate::clients::project::ServiceState) -> bool| {
        services.iter().filter(|s| f(s)).count()
    };
    Ok(json!({
        "running": count(&|s| s.state == "running"),
        "healthy": count(&|s| s.health.as_deref() == Some("healthy")),
        "services": services,
    }))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpParams {
    /// Also wait until every service with a healthcheck is healthy (`depends_on` conditions
    /// are always honoured).
    #[serde(default = "yes")]
    pub wait: bool,
}

fn yes() -> bool {
    true
}

const STATE_OUTPUTS: &[(&str, &str)] = &[
    (
        "services",
        "each service: service, container, state, health",
    ),
    ("running", "how many services are running"),
    ("healthy", "how many services are healthy"),
];

pub const UP_DOC: StepDoc = StepDoc {
    summary: "Create and start the subject's compose project: networks, volumes, then containers in dependency order (independent ones in parallel), honouring depends_on conditions.",
    outputs: STATE_OUTPUTS,
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::None,
    example: "uses = \"compose.up\"\nwith = { wait = true }\ntimeout = \"2m\"",
};

pub async fn up(p: UpParams, cx: &StepContext) -> Result<Value, StepError> {
    let docker = cx.docker().await?;
    let compose = ProjectClient::new(docker, project(cx)?);
    compose.up(p.wait, &|s| cx.status(s)).await?;
    states(&compose).await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownParams {
    /// Also remove the project's named volumes (its data).
    #[serde(default)]
    pub volumes: bool,
    /// Kill instead of stopping gracefully.
    #[serde(default)]
    pub kill: bool,
}

pub const DOWN_DOC: StepDoc = StepDoc {
    summary: "Remove the subject's containers and networks (and volumes with `volumes = true`): nothing with the project's label is left.",
    outputs: &[("removed", "true")],
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::None,
    example: "uses = \"compose.down\"\nwith = { volumes = true }",
};

pub async fn down(p: DownParams, cx: &StepContext) -> Result<Value, StepError> {
    let docker = cx.docker().await?;
    ProjectClient::new(docker, project(cx)?)
        .down(
            Down {
                volumes: p.volumes,
                networks: true,
                kill: p.kill,
            },
            &|s| cx.status(s),
        )
        .await?;
    Ok(json!({ "removed": true }))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetParams {
    /// Wait until every service with a healthcheck is healthy.
    #[serde(default = "yes")]
    pub wait: bool,
}

pub const RESET_DOC: StepDoc = StepDoc {
    summary: "Start from scratch: kill and remove the containers and their volumes (the data is wiped anyway, so no graceful stop), keep the networks, then bring the project up and wait until healthy.",
    outputs: STATE_OUTPUTS,
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::None,
    example: "uses = \"compose.reset\"\ntimeout = \"3m\"",
};

pub async fn reset(p: ResetParams, cx: &StepContext) -> Result<Value, StepError> {
    let docker = cx.docker().await?;
    let compose = ProjectClient::new(docker, project(cx)?);
    let wipe = Down {
        volumes: true,
        networks: false,
        kill: true,
    };
    compose.down(wipe, &|s| cx.status(s)).await?;
    compose.up(p.wait, &|s| cx.status(s)).await?;
    states(&compose).await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PsParams {}

pub const PS_DOC: StepDoc = StepDoc {
    summary: "Report every service of the subject with its container's state and health.",
    outputs: STATE_OUTPUTS,
    expressions: &[],
    read_only: true,
    needs_docker: true,
    effect: Effect::None,
    example: "id = \"ps\"\nuses = \"compose.ps\"\nuntil = \"output.healthy == 3\"\ntimeout = \"1m\"",
};

pub async fn ps(_: PsParams, cx: &StepContext) -> Result<Value, StepError> {
    let docker = cx.docker().await?;
    states(&ProjectClient::new(docker, project(cx)?)).await
}

#[cfg(test)]
mod port_tests {
    use super::host_port_taken;

    #[test]
    fn the_taken_host_port_is_read_from_the_daemons_message() {
        assert_eq!(
            host_port_taken("start tikv0: driver failed programming external connectivity on endpoint x-tikv0-1: Bind for 127.0.0.1:20180 failed: port is already allocated").as_deref(),
            Some("127.0.0.1:20180")
        );
        assert_eq!(
            host_port_taken("Error starting userland proxy: listen tcp4 0.0.0.0:2379: bind: address already in use").as_deref(),
            Some("0.0.0.0:2379")
        );
        assert_eq!(host_port_taken("no such container"), None);
    }
}
