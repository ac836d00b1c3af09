//! `sleep`: wait a fixed time, e.g. to let a fault take effect before observing it.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Effect, StepDoc};
use crate::duration::Duration;
use crate::engine::{StepContext, StepError};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SleepParams {
    /// How long to wait.
    pub duration: Duration,
}

pub const DOC: StepDoc = StepDoc {
    summary: "Wait for a fixed duration (cancelled at once by Ctrl-C).",
    outputs: &[(
        "slept_ms",
        "how long the step actually slept, in milliseconds",
    )],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "uses = \"sleep\"\nwith = { duration = \"5s\" }",
};

pub async fn run(p: SleepParams, cx: &StepContext) -> Result<serde_json::Value, StepError> {
    cx.status(format!("sleeping {}", p.duration));
    let start = std::time::Instant::now();
    tokio::time::sleep(p.duration.0).await;
    Ok(serde_json::json!({ "slept_ms": start.elapsed().as_millis() as u64 }))
}
