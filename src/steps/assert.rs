//! `assert`: the scenario's verdict. Every expression is evaluated, and a failure shows the
//! expression together with the values it read, so the report alone explains what went wrong.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Effect, StepDoc};
use crate::engine::{StepContext, StepError};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssertParams {
    /// Expressions that must all be true, e.g. `"steps.after.stores | length == vars.stores"`.
    pub that: Vec<String>,
    /// Replaces the generated failure message.
    #[serde(default)]
    pub message: Option<String>,
    /// Warn instead of failing: the step passes, and each expression that does not hold is a
    /// warning in the console, the JSON report (`warnings`) and JUnit.
    #[serde(default)]
    pub soft: bool,
}

pub const DOC: StepDoc = StepDoc {
    summary: "Check that every expression holds; a failure shows each failing expression and the values it referenced. With `soft = true` it warns instead of failing.",
    outputs: &[
        ("checked", "how many expressions were evaluated"),
        (
            "failed",
            "how many did not hold (non-zero only with `soft = true`, which warns instead of failing)",
        ),
    ],
    expressions: &["that"],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "uses = \"assert\"\nwith.that = [\n  \"steps.health.status == 200\",\n  \"steps.health.json.health == 'true'\",\n]",
};

pub async fn run(p: AssertParams, cx: &StepContext) -> Result<serde_json::Value, StepError> {
    if p.that.is_empty() {
        return Err(StepError::Params(
            "`that` needs at least one expression".into(),
        ));
    }
    let mut failures = Vec::new();
    for expr in &p.that {
        let value = cx.evaluate(expr)?;
        if !value.is_true() {
            let mut text = format!("assertion failed: {expr}");
            if !matches!(value.kind(), minijinja::value::ValueKind::Bool) {
                text.push_str(&format!("\n  (evaluated to {value:?}, which is falsy)"));
            }
            for (path, shown) in cx.reference_values(expr) {
                text.push_str(&format!("\n  {path} = {shown}"));
            }
            failures.push(text);
        }
    }
    let output = serde_json::json!({ "checked": p.that.len(), "failed": failures.len() });
    if failures.is_empty() {
        Ok(output)
    } else if p.soft {
        for failure in failures {
            cx.warn(match &p.message {
                Some(m) => format!("{m}\n{failure}"),
                None => failure,
            });
        }
        Ok(output)
    } else {
        let detail = failures.join("\n");
        Err(StepError::Failed(match p.message {
            Some(m) => format!("{m}\n{detail}"),
            None => detail,
        }))
    }
}
