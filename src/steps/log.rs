//! `log`: put a rendered message into the run's output and report.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Effect, StepDoc};
use crate::engine::{StepContext, StepError};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogParams {
    /// The message; templates are rendered, e.g. `"killed {{ steps.kill.container }}"`.
    pub message: String,
}

pub const DOC: StepDoc = StepDoc {
    summary: "Print a message (rendered from templates) to the progress output and the report.",
    outputs: &[("message", "the rendered message")],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "uses = \"log\"\nwith = { message = \"seed is {{ run.seed }}\" }",
};

pub async fn run(p: LogParams, cx: &StepContext) -> Result<serde_json::Value, StepError> {
    cx.log(&p.message);
    Ok(serde_json::json!({ "message": p.message }))
}
