//! `group`: the kind of a step that runs a file of steps (`uses = "./lib/etcd-leader.toml"`).
//! Playbooks name the file, never `group`; the engine runs the group's steps (see
//! [`StepContext::run_group`]).

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Effect, StepDoc};
use crate::engine::{StepContext, StepError};

/// The group's inputs: each key one of its `[vars]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct GroupParams(pub serde_json::Map<String, serde_json::Value>);

pub const DOC: StepDoc = StepDoc {
    summary: "Run a step group: a file of steps with inputs (its `[vars]`, set by `with`) and outputs (its `[outputs]`), named by its path relative to the playbook.",
    outputs: &[("<output>", "each of the group's `[outputs]`")],
    expressions: &[],
    read_only: false,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"leader\"\nuses = \"./lib/etcd-leader.toml\"\nwith = { endpoint = \"http://127.0.0.1:2379\" }",
};

pub async fn run(p: GroupParams, cx: &StepContext) -> Result<serde_json::Value, StepError> {
    cx.run_group(p.0).await
}
