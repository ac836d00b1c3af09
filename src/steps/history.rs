//! `history.check`: the linearizability check of `chaosplay check` as a step, over a history a
//! workload step recorded (or any file `chaosplay check` reads).
//!
//! A check that runs out of its budget answers "unknown", which fails the step whatever was
//! expected: an inconclusive check must never pass a scenario. A failure keeps its output
//! (verdict, key, the operations to highlight), so the report can show the anomaly.

use std::path::PathBuf;
use std::time::Instant;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Effect, OutOfBounds, Params, StepDoc};
use crate::duration::Duration;
use crate::engine::{StepContext, StepError};
use crate::history::{Budget, Model, Parsed, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckModel {
    Register,
    Kv,
}

/// The verdict that makes the step pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    #[default]
    Linearizable,
    /// A negative control: the scenario provokes an anomaly on purpose, and the check must
    /// find it.
    NotLinearizable,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckParams {
    /// The history file, e.g. `"{{ steps.workload.history }}"` (relative paths start at the
    /// current directory).
    pub history: String,
    /// `register` or `kv`; by default the one the history's operations belong to.
    #[serde(default)]
    pub model: Option<CheckModel>,
    /// `linearizable` (default), or `not_linearizable` for a negative control.
    #[serde(default)]
    pub expect: Expect,
    /// Time budget of the search: past it the verdict is `unknown` and the step fails.
    #[serde(default = "default_budget")]
    pub budget: Duration,
    /// Memory budget per key, in MiB: past it the verdict is `unknown` and the step fails.
    #[serde(default = "default_memory")]
    #[schemars(range(min = 1))]
    pub max_memory_mib: usize,
}

fn default_budget() -> Duration {
    Duration::from_secs(60)
}

fn default_memory() -> usize {
    1024
}

impl Params for CheckParams {
    fn bounds(&self) -> Vec<OutOfBounds> {
        let mut broken = Vec::new();
        if self.budget.0.is_zero() {
            broken.push(OutOfBounds::new("budget", "`budget` must be more than 0"));
        }
        if self.max_memory_mib == 0 {
            broken.push(OutOfBounds::new(
                "max_memory_mib",
                "`max_memory_mib` must be at least 1",
            ));
        }
        broken
    }
}

pub const CHECK_DOC: StepDoc = StepDoc {
    summary: "Check that a recorded history is linearizable (register or kv model, key by key), as `chaosplay check` does. Fails when it is not (or, with `expect = \"not_linearizable\"`, when it is), explaining the key and the operations that cannot be ordered; a search that runs out of `budget` or `max_memory_mib` is `unknown` and always fails. A failed check keeps its output.",
    outputs: &[
        ("history", "the path of the history checked"),
        ("verdict", "`linearizable`, `not linearizable` or `unknown`"),
        ("model", "`register` or `kv`"),
        ("operations", "operations in the history"),
        (
            "key",
            "not linearizable: the first key (in key order) without a legal order; null for a history without keys",
        ),
        (
            "anomaly_ops",
            "not linearizable: the operations that cannot be placed after the longest legal order found (the stale read, the impossible cas), as 0-based line indices in the file",
        ),
        (
            "explanation",
            "not linearizable or unknown: why, as `chaosplay check` says it; null otherwise",
        ),
        ("elapsed_ms", "reading and checking, in milliseconds"),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"check\"\nuses = \"history.check\"\nwith = { history = \"{{ steps.workload.history }}\" }",
};

pub async fn check(p: CheckParams, cx: &StepContext) -> Result<Value, StepError> {
    let path = std::path::absolute(&p.history)
        .map_err(|e| StepError::Params(format!("cannot resolve {}: {e}", p.history)))?;
    cx.status(format!("checking {}", path.display()));
    let model = p.model.map(|m| match m {
        CheckModel::Register => Model::Register,
        CheckModel::Kv => Model::Kv,
    });
    let budget = (p.budget.0, p.max_memory_mib.saturating_mul(1 << 20));
    let task_path = path.clone();
    // The search is CPU-bound: it runs off the async threads, so background steps and the
    // live display go on meanwhile.
    let checked = tokio::task::spawn_blocking(move || run_check(&task_path, model, budget))
        .await
        .map_err(|e| StepError::Failed(format!("the check did not finish: {e}")))??;
    verdict(p.expect, &path, checked)
}

struct Checked {
    parsed: Parsed,
    verdict: Verdict,
    elapsed: std::time::Duration,
}

fn run_check(
    path: &std::path::Path,
    model: Option<Model>,
    (time, max_bytes): (std::time::Duration, usize),
) -> Result<Checked, StepError> {
    let started = Instant::now();
    let text = crate::text_file::read(path).map_err(|e| {
        StepError::Failed(format!("cannot read the history {}: {e}", path.display()))
    })?;
    let parsed = crate::history::read(&text, model)
        .map_err(|e| StepError::Failed(format!("{}:{e}", path.display())))?;
    let budget = Budget {
        deadline: Some(started + time),
        max_bytes,
    };
    let verdict = crate::history::check(&parsed.history, parsed.model, budget);
    Ok(Checked {
        parsed,
        verdict,
        elapsed: started.elapsed(),
    })
}

/// The output, and whether the step passes.
fn verdict(expect: Expect, path: &PathBuf, c: Checked) -> Result<Value, StepError> {
    let mut output = json!({
        "history": path.display().to_string(),
        "verdict": "linearizable",
        "model": c.parsed.model.to_string(),
        "operations": c.parsed.history.operations.len(),
        "key": null,
        "anomaly_ops": [],
        "explanation": null,
        "elapsed_ms": c.elapsed.as_millis() as u64,
    });
    let failure = match (&c.verdict, expect) {
        (Verdict::Linearizable, Expect::Linearizable) => None,
        (Verdict::Linearizable, Expect::NotLinearizable) => Some(
            "linearizable, but this negative control expects the check to find an anomaly"
                .to_string(),
        ),
        (Verdict::NotLinearizable(v), _) => {
            let why = crate::report::history::why(v, &c.parsed);
            let lines: Vec<usize> = v.blocked.iter().map(|&i| c.parsed.lines[i] - 1).collect();
            output["verdict"] = json!("not linearizable");
            output["key"] = json!(v.key);
            output["anomaly_ops"] = json!(lines);
            output["explanation"] = json!(why);
            (expect == Expect::Linearizable).then(|| format!("not linearizable — {why}"))
        }
        (Verdict::Unknown(exhausted), _) => {
            let why = format!("{exhausted} before a verdict");
            output["verdict"] = json!("unknown");
            output["explanation"] = json!(why);
            Some(format!(
                "unknown — {why}: an inconclusive check does not pass"
            ))
        }
    };
    match failure {
        None => Ok(output),
        Some(message) => Err(StepError::FailedWith {
            message: format!("{}: {message}", path.display()),
            output: Box::new(output),
        }),
    }
}
