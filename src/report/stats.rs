//! Statistics over repeated trials: once is an anecdote, a distribution is an answer.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine::timing::millis;
use crate::engine::{RunResult, RunStatus, StepRecord, StepStatus};
use crate::playbook::Phase;

/// A distribution of one quantity over trials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distribution {
    pub count: usize,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub max: f64,
    pub mean: f64,
}

impl Distribution {
    /// `None` for no values. Percentiles by nearest rank, so each is an observed value and
    /// `min ≤ p50 ≤ p90 ≤ max` always holds.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank =
            |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        Some(Distribution {
            count: sorted.len(),
            min: sorted[0],
            p50: rank(0.5),
            p90: rank(0.9),
            max: sorted[sorted.len() - 1],
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        })
    }
}

/// A step's name in reports: `"03 name"` (`"finally 01 name"` for cleanup), position first so
/// keys sort in playbook order and two steps with one name stay apart.
pub fn step_key(step: &StepRecord) -> String {
    match step.phase {
        Phase::Steps => format!("{:02} {}", step.index + 1, step.name),
        Phase::Finally => format!("finally {:02} {}", step.index + 1, step.name),
        Phase::Monitors => format!("monitor {:02} {}", step.index + 1, step.name),
    }
}

/// The trials of one playbook (one cell of it, with a `[matrix]`), summarised.
#[derive(Debug, Clone, Serialize)]
pub struct TrialSummary {
    /// The run name: the scenario's, with the cell when there is a matrix.
    pub scenario: String,
    pub file: String,
    /// The cell's values; empty without a matrix.
    pub matrix: crate::playbook::Cell,
    pub trials: usize,
    pub passed: usize,
    pub failed: usize,
    /// `passed / trials`, from 0 to 1.
    pub pass_rate: f64,
    /// Each trial's seed, in order: `--seed` with a trial's seed replays that trial alone.
    pub seeds: Vec<u64>,
    /// Per recorded metric, over the trials that recorded it.
    pub metrics: BTreeMap<String, Distribution>,
    /// Per step, its duration in milliseconds over the trials where it passed. Keys are
    /// `"03 name"` (`"finally 01 name"` for cleanup): position first, so they sort in playbook
    /// order and two steps with one name stay apart.
    pub steps: BTreeMap<String, Distribution>,
}

impl TrialSummary {
    pub fn of(runs: &[&RunResult]) -> Option<Self> {
        let first = runs.first()?;
        let passed = runs
            .iter()
            .filter(|r| r.status == RunStatus::Passed)
            .count();
        let mut metric_values: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut step_values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for run in runs {
            for (name, value) in &run.metrics {
                metric_values.entry(name).or_default().push(*value);
            }
            for step in run.steps.iter().filter(|s| s.status == StepStatus::Passed) {
                step_values
                    .entry(step_key(step))
                    .or_default()
                    // Whole milliseconds, as summaries always were: they stay comparable.
                    .push(millis(step.timing.duration) as f64);
            }
        }
        fn distributions<K: ToString>(
            values: BTreeMap<K, Vec<f64>>,
        ) -> BTreeMap<String, Distribution> {
            values
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_string(), Distribution::of(&v)?)))
                .collect()
        }
        Some(TrialSummary {
            scenario: first.name.clone(),
            file: first.file.clone(),
            matrix: first.matrix.clone(),
            trials: runs.len(),
            passed,
            failed: runs.len() - passed,
            pass_rate: passed as f64 / runs.len() as f64,
            seeds: runs.iter().map(|r| r.seed).collect(),
            metrics: distributions(metric_values),
            steps: distributions(step_values),
        })
    }
}

/// Summaries of every playbook cell that ran more than once, in the order they ran. Cells
/// stay apart: merging `fault=kill` with `fault=pause` would blur the very difference the
/// matrix is there to show.
pub fn summaries(runs: &[RunResult]) -> Vec<TrialSummary> {
    by_playbook(runs)
        .into_iter()
        .filter(|trials| trials.len() > 1)
        .filter_map(|trials| TrialSummary::of(&trials))
        .collect()
}

/// The runs grouped by playbook file and matrix cell, in the order they first ran: every
/// report groups a cell's trials together (a summary, a JUnit suite, an HTML section).
pub fn by_playbook(runs: &[RunResult]) -> Vec<Vec<&RunResult>> {
    let mut groups: Vec<Vec<&RunResult>> = Vec::new();
    for run in runs {
        match groups
            .iter_mut()
            .find(|g| g[0].file == run.file && g[0].matrix == run.matrix)
        {
            Some(group) => group.push(run),
            None => groups.push(vec![run]),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let d = Distribution::of(&[5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 6.0, 7.0, 8.0, 9.0]).unwrap();
        assert_eq!((d.min, d.p50, d.p90, d.max), (1.0, 5.0, 9.0, 10.0));
        assert_eq!(d.mean, 5.5);
        let one = Distribution::of(&[3.0]).unwrap();
        assert_eq!((one.p50, one.p90, one.max), (3.0, 3.0, 3.0));
        assert!(Distribution::of(&[]).is_none());
    }
}
