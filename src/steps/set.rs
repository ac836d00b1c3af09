//! `set`: name values computed at run time, so later steps read them by name instead of
//! repeating an expression (or misusing `log` to hold one).

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Effect, StepDoc};
use crate::engine::{StepContext, StepError};

/// Each key is a name, each value rendered like any parameter: one `{{ expression }}` keeps
/// its type (a list stays a list, a number a number).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct SetParams(pub serde_json::Map<String, serde_json::Value>);

pub const DOC: StepDoc = StepDoc {
    summary: "Name values computed at run time: each key of `with`, rendered, is readable later as `steps.<id>.<key>`.",
    outputs: &[("<key>", "each key of `with`, its rendered value")],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"picked\"\nuses = \"set\"\nwith = { leader = \"{{ steps.health.json.leader }}\", port = \"{{ 2379 + run.trial }}\" }",
};

pub async fn run(p: SetParams, _cx: &StepContext) -> Result<serde_json::Value, StepError> {
    Ok(p.0.into())
}
