//! `undo`: reverse, mid-run, the faults earlier steps applied — exactly as cleanup would
//! (verified), and off the ledger, so cleanup does not undo them again. A scenario that shows
//! the subject recovering must first lift the fault, not leave it to cleanup. A background
//! fault step still running is stopped first: it would otherwise apply faults after the undo.
//! `network.heal` and `disk.restore` do the same for one family of faults ([`lift_family`]).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::select::{Selector, hit_output, select};
use super::undo::{Family, Outstanding};
use super::{Effect, OutOfBounds, Params, StepDoc};
use crate::engine::{StepContext, StepError};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UndoParams {
    /// The id of an earlier fault step whose faults to reverse.
    #[serde(default)]
    pub step: Option<String>,
    /// Ids of earlier fault steps whose faults to reverse. Without `step` or `steps`, every
    /// fault still outstanding is reversed.
    #[serde(default)]
    pub steps: Option<Vec<String>>,
}

impl UndoParams {
    /// The steps named, or `None` for every fault so far.
    fn ids(&self) -> Option<Vec<String>> {
        match (&self.step, &self.steps) {
            (Some(one), _) => Some(vec![one.clone()]),
            (None, Some(many)) => Some(many.clone()),
            (None, None) => None,
        }
    }
}

impl Params for UndoParams {
    fn bounds(&self) -> Vec<OutOfBounds> {
        match (&self.step, &self.steps) {
            (Some(_), Some(_)) => vec![OutOfBounds::new(
                "steps",
                "give either `step` or `steps`, not both",
            )],
            (None, Some(many)) if many.is_empty() => vec![OutOfBounds::new(
                "steps",
                "`steps` names no step: leave it out to undo every fault so far",
            )],
            _ => Vec::new(),
        }
    }
}

pub const DOC: StepDoc = StepDoc {
    summary: "Reverse now, verified as cleanup would, the faults that earlier steps (by id; every fault so far without `step`/`steps`) applied in this run and that are still in place; cleanup then has nothing left to undo for them. A background fault step still running is stopped first (status `stopped`), so it applies nothing more.",
    outputs: &[
        (
            "undone",
            "what was reversed and seen reversed, newest first, one description each",
        ),
        ("steps", "the ids of the steps whose faults were reversed"),
        (
            "stopped",
            "the ids of the background steps that were still running and were stopped first",
        ),
    ],
    expressions: &[],
    read_only: false,
    needs_docker: false,
    effect: Effect::None,
    example: "uses = \"undo\"\nwith = { step = \"pause\" }",
};

pub async fn run(p: UndoParams, cx: &StepContext) -> Result<serde_json::Value, StepError> {
    let ids = p.ids();
    let which = match &ids {
        Some(ids) => Outstanding::Of(ids),
        None => Outstanding::All,
    };
    let lifted = cx.undo_outstanding(which).await?;
    if lifted.undone.is_empty() {
        cx.warn(match &ids {
            Some(ids) => format!("nothing to undo: {} left no fault in place", ids.join(", ")),
            None => "nothing to undo: no fault is in place".to_string(),
        });
    }
    Ok(json!({
        "undone": lifted.undone,
        "steps": ids.unwrap_or_default(),
        "stopped": lifted.stopped,
    }))
}

/// `network.heal` and `disk.restore`: reverses the faults of `family` on the containers
/// `selector` picks, once the background steps that apply that family's faults are stopped.
/// The output is the containers hit, with what was reversed as `field` and the steps stopped.
pub(super) async fn lift_family(
    cx: &StepContext,
    selector: &Selector,
    family: Family,
    field: &str,
) -> Result<serde_json::Value, StepError> {
    let hit = select(cx, selector).await?;
    let names: Vec<String> = hit.iter().map(|c| c.name.clone()).collect();
    let lifted = cx.undo_outstanding(Outstanding::On(family, &names)).await?;
    let mut out = hit_output(&hit);
    out[field] = json!(lifted.undone);
    out["stopped"] = json!(lifted.stopped);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(step: Option<&str>, steps: Option<&[&str]>) -> UndoParams {
        UndoParams {
            step: step.map(String::from),
            steps: steps.map(|s| s.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn one_step_many_or_every_fault_but_not_both_nor_an_empty_list() {
        assert_eq!(params(Some("cap"), None).ids(), Some(vec!["cap".into()]));
        assert_eq!(
            params(None, Some(&["cap", "stress"])).ids(),
            Some(vec!["cap".into(), "stress".into()])
        );
        assert_eq!(params(None, None).ids(), None);
        assert!(params(None, None).bounds().is_empty());
        assert_eq!(params(Some("a"), Some(&["b"])).bounds()[0].field, "steps");
        assert!(
            params(None, Some(&[])).bounds()[0]
                .message
                .contains("leave it out")
        );
    }
}
