//! `await`: join (or cancel) background steps started earlier with `background = true`.
//! (The module is named after what it joins: `await` is a Rust keyword.)

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Effect, StepDoc};
use crate::engine::{StepContext, StepError};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwaitParams {
    /// Ids of background steps defined earlier.
    pub steps: Vec<String>,
    /// Stop them instead of waiting for them to finish (status `stopped`). A `load.http` step
    /// then ends with the figures measured so far; any other step is dropped without output.
    #[serde(default)]
    pub cancel: bool,
}

pub const DOC: StepDoc = StepDoc {
    summary: "Wait for background steps to finish (or cancel them); fails if one of them failed.",
    outputs: &[(
        "<id>",
        "the status of each awaited step: `passed`, `stopped`, `failed`, …",
    )],
    expressions: &[],
    read_only: false,
    needs_docker: false,
    effect: Effect::None,
    example: "uses = \"await\"\nwith = { steps = [\"load\"] }",
};

pub async fn run(p: AwaitParams, cx: &StepContext) -> Result<serde_json::Value, StepError> {
    cx.status(format!("waiting for {}", p.steps.join(", ")));
    cx.await_background(&p.steps, p.cancel).await
}
