//! `fault.exec` and `fault.docker_exec`: faults the catalogue does not have, written by the
//! playbook as a command that applies them and one that undoes them, with the guarantees of a
//! built-in fault: the undo is in the ledger before the apply runs, it is run at cleanup and by
//! `recover`, and it is verified (by the `check` command when there is one).
//!
//! Two kinds, like `exec` and `docker.exec`: one runs on this machine, the other inside the
//! selected containers, so only the latter is a container step (planned with its targets,
//! covered by the blast-radius test).

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::select::{self, hit_output, hit_outputs, select, selector_params};
use super::undo::Undo;
use super::{Effect, OutOfBounds, Params, StepDoc};
use crate::clients::command::{self, Place};
use crate::clients::docker::DockerClient;
use crate::engine::{StepContext, StepError};

/// How long the apply command may run: it runs to its end even if the step is cancelled
/// (cleanup waits for it before it undoes), so it must end by itself.
pub const APPLY_WITHIN: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecParams {
    /// Program and arguments that inject the fault, run without a shell in the playbook's
    /// directory (at most 60 s).
    pub apply: Vec<String>,
    /// Program and arguments that reverse it, in the same place: written to the undo ledger
    /// before `apply` runs, and run at cleanup or by `chaosplay recover` (at most 60 s).
    pub undo: Vec<String>,
    /// Program and arguments whose success shows the fault is gone, run after `undo` until it
    /// succeeds (10 s at most, else the undo failed). Without it, `undo` exiting 0 counts.
    #[serde(default)]
    pub check: Option<Vec<String>>,
}

impl Params for ExecParams {
    fn bounds(&self) -> Vec<OutOfBounds> {
        commands_bounds(&self.apply, &self.undo, self.check.as_deref())
    }
}

selector_params! {
    pick = "select::pick_first";
    bounds = docker_bounds;
    pub struct DockerExecParams {
        /// Program and arguments that inject the fault, run without a shell inside each
        /// selected container (at most 60 s).
        pub apply: Vec<String>,
        /// Program and arguments that reverse it inside the container: written to the undo
        /// ledger before `apply` runs, and run at cleanup or by `chaosplay recover`.
        pub undo: Vec<String>,
        /// Program and arguments whose success inside the container shows the fault is gone,
        /// run after `undo` until it succeeds (10 s at most). Without it, `undo` exiting 0
        /// counts.
        #[serde(default)]
        pub check: Option<Vec<String>>,
    }
}

fn docker_bounds(p: &DockerExecParams) -> Vec<OutOfBounds> {
    commands_bounds(&p.apply, &p.undo, p.check.as_deref())
}

/// Each command must name a program.
fn commands_bounds(
    apply: &[String],
    undo: &[String],
    check: Option<&[String]>,
) -> Vec<OutOfBounds> {
    [
        ("apply", Some(apply)),
        ("undo", Some(undo)),
        ("check", check),
    ]
    .into_iter()
    .filter(|(_, argv)| argv.is_some_and(|a| a.first().is_none_or(|p| p.is_empty())))
    .map(|(field, _)| OutOfBounds::new(field, format!("`{field}` must name a program")))
    .collect()
}

const COMMAND_OUTPUTS: &[(&str, &str)] = &[
    ("exit_code", "the apply command's exit code"),
    ("stdout", "its standard output"),
    ("stderr", "its standard error"),
];

pub const EXEC_DOC: StepDoc = StepDoc {
    summary: "A fault of your own on this machine: run `apply`, with `undo` (and `check`) written to the undo ledger first. Undo: run `undo`, then `check` until it succeeds.",
    outputs: COMMAND_OUTPUTS,
    expressions: &[],
    read_only: false,
    needs_docker: false,
    effect: Effect::Fault {
        undo: "run `undo`, then `check` until it succeeds (or, without `check`, `undo` must exit 0)",
    },
    example: "uses = \"fault.exec\"\nwith = { apply = [\"iptables\", \"-I\", \"OUTPUT\", \"-d\", \"10.0.0.5\", \"-j\", \"DROP\"], undo = [\"iptables\", \"-D\", \"OUTPUT\", \"-d\", \"10.0.0.5\", \"-j\", \"DROP\"], check = [\"sh\", \"-c\", \"! iptables -C OUTPUT -d 10.0.0.5 -j DROP\"] }",
};

pub const DOCKER_EXEC_DOC: StepDoc = StepDoc {
    summary: "A fault of your own inside containers (the first match by default): run `apply` in each, with `undo` (and `check`) written to the undo ledger first. Undo: run `undo` in the container, then `check` until it succeeds.",
    outputs: hit_outputs!(
        (
            "exit_code",
            "the apply command's exit code in the (first) container"
        ),
        (
            "results",
            "one {container, exit_code, stdout, stderr} per container"
        ),
    ),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "run `undo` in each container it hit, then `check` until it succeeds (or, without `check`, `undo` must exit 0)",
    },
    example: "uses = \"fault.docker_exec\"\nwith = { service = \"etcd0\", apply = [\"touch\", \"/tmp/broken\"], undo = [\"rm\", \"-f\", \"/tmp/broken\"], check = [\"sh\", \"-c\", \"! test -e /tmp/broken\"] }",
};

pub async fn exec(p: ExecParams, cx: &StepContext) -> Result<Value, StepError> {
    let dir = std::path::absolute(cx.base_dir()).map_err(|e| {
        StepError::Environment(format!("cannot tell the playbook's directory: {e}"))
    })?;
    apply(cx, None, Place::Local { dir }, p.apply, p.undo, p.check).await
}

pub async fn docker_exec(p: DockerExecParams, cx: &StepContext) -> Result<Value, StepError> {
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    let mut results = Vec::new();
    for c in &hit {
        let place = Place::Container {
            container: c.name.clone(),
        };
        let (apply_argv, undo, check) = (p.apply.clone(), p.undo.clone(), p.check.clone());
        let mut ran = apply(cx, Some(docker), place, apply_argv, undo, check).await?;
        ran["container"] = json!(c.name);
        results.push(ran);
    }
    let mut out = hit_output(&hit);
    out["exit_code"] = results[0]["exit_code"].clone();
    out["results"] = json!(results);
    Ok(out)
}

/// Registers the undo, then runs `apply` at `place` as a fault: a failing apply fails the
/// step, and its undo still runs at cleanup, since the apply may have done part of its work.
async fn apply(
    cx: &StepContext,
    docker: Option<&DockerClient>,
    place: Place,
    apply: Vec<String>,
    undo: Vec<String>,
    check: Option<Vec<String>>,
) -> Result<Value, StepError> {
    cx.register_undo(Undo::Command {
        place: place.clone(),
        undo,
        check,
    })?;
    cx.status(format!("{} {}", apply[0], on(&place)));
    let docker = docker.cloned();
    let argv = apply.clone();
    let ran = cx
        .apply_fault(async move {
            Ok(command::run(docker.as_ref(), &place, &argv, APPLY_WITHIN).await?)
        })
        .await?;
    if !ran.ok() {
        return Err(StepError::Failed(format!(
            "the fault's apply command failed: {}",
            ran.failure(&apply)
        )));
    }
    Ok(json!({"exit_code": ran.exit_code, "stdout": ran.stdout, "stderr": ran.stderr}))
}

/// Where a command runs, for the live status.
fn on(place: &Place) -> String {
    match place {
        Place::Local { .. } => "here".into(),
        Place::Container { container } => format!("in {container}"),
    }
}
