//! `history.check`: the linearizability check of `chaosplay check` as a step, over a history a
//! workload step recorded (or any file `chaosplay check` reads).
//!
//! A check that runs out of its budget answers "unknown", which fails the step whatever was
//! expected: an inconclusive check must never pass a scenario. A failure keeps its output
//! (verdict, key, the operations to highlight), so the report can show the anomaly.

use std::path::Path;
use std::time::Instant;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Effect, OutOfBounds, Params, StepDoc};
use crate::duration::Duration;
use crate::engine::{StepContext, StepError};
use crate::history::stale::{Stale, stale_reads};
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
            "not linearizable: the operations to look at, as 0-based line indices in the file: every stale read, or else those that cannot be placed after the longest legal order found (the impossible read or cas)",
        ),
        (
            "stale_reads",
            "the register reads that certainly returned an overwritten value, as 0-based line indices: found first, by a cheap rule that may miss some; when there are any, they are the verdict and the search is skipped",
        ),
        (
            "missed_writes",
            "acknowledged writes that those stale reads did not see (lost to them), as 0-based line indices",
        ),
        (
            "explanation",
            "not linearizable or unknown: why, as `chaosplay check` says it; null otherwise",
        ),
        ("elapsed_ms", "reading and checking, in milliseconds"),
        (
            "search_bytes",
            "the most memory one key's search held, in bytes, as `max_memory_mib` bounds it (0 when stale reads decided without a search)",
        ),
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
    finding: Finding,
    elapsed: std::time::Duration,
    /// The most memory one key's search held (0 when stale reads made the search needless).
    held_bytes: usize,
}

enum Finding {
    /// Stale reads prove the history not linearizable without the search, and name every
    /// offending read where the search would explain one point.
    Stale(Vec<Stale>),
    Searched(Verdict),
}

fn run_check(
    path: &std::path::Path,
    model: Option<Model>,
    (time, max_bytes): (std::time::Duration, usize),
) -> Result<Checked, StepError> {
    let started = Instant::now();
    let text = crate::history::read_file(path).map_err(|e| {
        StepError::Failed(format!("cannot read the history {}: {e}", path.display()))
    })?;
    let parsed = crate::history::read(&text, model)
        .map_err(|e| StepError::Failed(format!("{}:{e}", path.display())))?;
    let stale = stale_reads(&parsed.history);
    let mut held_bytes = 0;
    let finding = if stale.is_empty() {
        let budget = Budget {
            deadline: Some(started + time),
            max_bytes,
        };
        let (verdict, held) = crate::history::check(&parsed.history, parsed.model, budget);
        held_bytes = held;
        Finding::Searched(verdict)
    } else {
        Finding::Stale(stale)
    };
    Ok(Checked {
        parsed,
        finding,
        elapsed: started.elapsed(),
        held_bytes,
    })
}

/// The output, and whether the step passes.
fn verdict(expect: Expect, path: &Path, c: Checked) -> Result<Value, StepError> {
    let mut output = json!({
        "history": path.display().to_string(),
        "verdict": "linearizable",
        "model": c.parsed.model.to_string(),
        "operations": c.parsed.history.operations.len(),
        "key": null,
        "anomaly_ops": [],
        "stale_reads": [],
        "missed_writes": [],
        "explanation": null,
        "elapsed_ms": c.elapsed.as_millis() as u64,
        "search_bytes": c.held_bytes,
    });
    let line = |i: usize| c.parsed.lines[i] - 1;
    let why = match &c.finding {
        Finding::Searched(Verdict::Linearizable) => None,
        Finding::Stale(stale) => {
            let reads: Vec<usize> = stale.iter().map(|s| line(s.read)).collect();
            let mut missed: Vec<usize> = stale.iter().map(|s| line(s.overwritten_by)).collect();
            missed.sort_unstable();
            missed.dedup();
            output["key"] = json!(c.parsed.history.operations[stale[0].read].key);
            output["anomaly_ops"] = json!(reads);
            output["stale_reads"] = json!(reads);
            output["missed_writes"] = json!(missed);
            Some(stale_explanation(stale, &c.parsed))
        }
        Finding::Searched(Verdict::NotLinearizable(v)) => {
            output["key"] = json!(v.key);
            output["anomaly_ops"] = json!(v.blocked.iter().map(|&i| line(i)).collect::<Vec<_>>());
            Some(crate::report::history::why(v, &c.parsed))
        }
        Finding::Searched(Verdict::Unknown(exhausted)) => {
            let why = format!("{exhausted} before a verdict");
            output["verdict"] = json!("unknown");
            output["explanation"] = json!(why);
            let message = format!("unknown — {why}: an inconclusive check does not pass");
            return Err(failed(path, message, output));
        }
    };
    if let Some(why) = &why {
        output["verdict"] = json!("not linearizable");
        output["explanation"] = json!(why);
    }
    match (why, expect) {
        (None, Expect::Linearizable) | (Some(_), Expect::NotLinearizable) => Ok(output),
        (Some(why), Expect::Linearizable) => {
            Err(failed(path, format!("not linearizable — {why}"), output))
        }
        (None, Expect::NotLinearizable) => Err(failed(
            path,
            "linearizable, but this negative control expects the check to find an anomaly".into(),
            output,
        )),
    }
}

fn failed(path: &Path, message: String, output: Value) -> StepError {
    StepError::FailedWith {
        message: format!("{}: {message}", path.display()),
        output: Box::new(output),
    }
}

/// `key "k": 12 reads returned a value already overwritten when they began (stale): e.g.
/// client 4 read → 17 [t1, t2], after client 3 write 25 [t3, t4] had completed`.
fn stale_explanation(stale: &[Stale], parsed: &Parsed) -> String {
    let by_line = parsed.format != crate::history::Format::JsonLines;
    let op = |i: usize| crate::report::history::describe(&parsed.history.operations[i], by_line);
    let first = stale[0];
    let key = parsed.history.operations[first.read]
        .key
        .as_ref()
        .map(|k| format!("key {k:?}: "))
        .unwrap_or_default();
    let (count, pronoun, example) = match stale.len() {
        1 => ("a read".to_string(), "it", ""),
        n => (format!("{n} reads"), "they", "e.g. "),
    };
    format!(
        "{key}{count} returned a value already overwritten when {pronoun} began (stale): \
         {example}{}, after {} had completed",
        op(first.read),
        op(first.overwritten_by)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE: &str = concat!(
        r#"{"client":0,"f":"write","value":1,"invoke":0,"complete":10,"outcome":"ok"}"#,
        "\n",
        r#"{"client":1,"f":"write","value":2,"invoke":20,"complete":30,"outcome":"ok"}"#,
        "\n\n",
        r#"{"client":2,"f":"read","value":1,"invoke":40,"complete":50,"outcome":"ok"}"#,
        "\n",
    );

    fn checked(text: &str, finding: impl FnOnce(&Parsed) -> Finding) -> Checked {
        let parsed = crate::history::read(text, None).unwrap();
        Checked {
            finding: finding(&parsed),
            parsed,
            elapsed: std::time::Duration::ZERO,
            held_bytes: 0,
        }
    }

    fn stale() -> Checked {
        checked(STALE, |p| Finding::Stale(stale_reads(&p.history)))
    }

    #[test]
    fn a_stale_read_fails_the_check_and_is_named_by_its_line() {
        let Err(StepError::FailedWith { message, output }) =
            verdict(Expect::Linearizable, Path::new("/h"), stale())
        else {
            panic!("a stale read must fail the step")
        };
        assert!(
            message.starts_with("/h: not linearizable — a read returned"),
            "{message}"
        );
        assert_eq!(output["verdict"], "not linearizable");
        // Line 4 of the file: the blank line counts.
        assert_eq!(output["anomaly_ops"], json!([3]));
        assert_eq!(output["stale_reads"], json!([3]));
        assert_eq!(output["missed_writes"], json!([1]));
        let out = verdict(Expect::NotLinearizable, Path::new("/h"), stale()).unwrap();
        assert_eq!(out["anomaly_ops"], json!([3]));
    }

    #[test]
    fn unknown_fails_whatever_was_expected() {
        for expect in [Expect::Linearizable, Expect::NotLinearizable] {
            let c = checked(STALE, |_| {
                Finding::Searched(Verdict::Unknown(
                    crate::history::linearizability::Exhausted::Time,
                ))
            });
            let Err(StepError::FailedWith { output, .. }) = verdict(expect, Path::new("/h"), c)
            else {
                panic!("unknown must fail")
            };
            assert_eq!(output["verdict"], "unknown");
        }
    }

    #[test]
    fn a_negative_control_fails_on_a_linearizable_history() {
        let c = checked(STALE, |_| Finding::Searched(Verdict::Linearizable));
        assert!(verdict(Expect::NotLinearizable, Path::new("/h"), c).is_err());
        let c = checked(STALE, |_| Finding::Searched(Verdict::Linearizable));
        let out = verdict(Expect::Linearizable, Path::new("/h"), c).unwrap();
        assert_eq!(out["anomaly_ops"], json!([]));
        assert_eq!(out["explanation"], Value::Null);
    }
}
