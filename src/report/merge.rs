//! `chaosplay merge`: the reports of a campaign run in pieces (the jobs of a CI matrix, runs on
//! several machines) made one report, as if its trials had run in one invocation, so that
//! `compare` and the summaries see one trial set.

use std::collections::HashMap;
use std::path::PathBuf;

use super::json::Stored;
use super::stats::{TrialSummary, group_by, trial_summaries};
use crate::engine::exit;

/// One report made of several.
#[derive(Debug)]
pub struct Merged {
    /// Every run, as written, in the order of the reports given.
    pub runs: Vec<serde_json::Value>,
    /// Recomputed over all the runs: a cell run 5 times in each of 2 reports gets one summary
    /// of 10 trials. Grouped by run name (scenario and cell), as `compare` matches them, not
    /// by playbook path, which differs between machines and checkouts.
    pub summaries: Vec<TrialSummary>,
    /// The most serious of the reports' exit codes, ranked as one run's outcomes are.
    pub exit_code: i32,
}

/// Merges reports read back. A run found twice (one report given twice, or a merged report
/// merged again with a piece of it) is refused: its trials would count twice.
pub fn merge(reports: Vec<(PathBuf, Stored)>) -> Result<Merged, String> {
    let mut seen: HashMap<(String, String, u64, u32), &PathBuf> = HashMap::new();
    for (path, report) in &reports {
        for t in &report.trials {
            let id = (t.name.clone(), t.started_at.clone(), t.seed, t.trial);
            if let Some(first) = seen.insert(id, path) {
                return Err(format!(
                    "{}: trial {} of `{}` started at {} is also in {}: it would count twice",
                    path.display(),
                    t.trial,
                    t.name,
                    t.started_at,
                    first.display()
                ));
            }
        }
    }
    let exit_code = reports
        .iter()
        .map(|(_, r)| r.exit_code)
        .max_by_key(|&code| severity(code))
        .unwrap_or(exit::PASSED);
    let (runs, trials): (Vec<_>, Vec<_>) = reports
        .into_iter()
        .flat_map(|(_, r)| r.runs.into_iter().zip(r.trials))
        .unzip();
    Ok(Merged {
        summaries: trial_summaries(group_by(&trials, |t| &t.name)),
        runs,
        exit_code,
    })
}

/// The order in which `run` lets one outcome win over another: a failed cleanup, then an
/// interruption (128 + signal), then an unusable environment, then a failure.
fn severity(code: i32) -> u8 {
    match code {
        exit::PASSED => 0,
        exit::FAILED => 1,
        exit::INVALID => 2,
        exit::ENVIRONMENT => 3,
        exit::CLEANUP_FAILED => 5,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_serious_exit_code_wins() {
        let pick = |codes: &[i32]| codes.iter().copied().max_by_key(|&c| severity(c)).unwrap();
        assert_eq!(pick(&[0, 1, 0]), 1);
        assert_eq!(pick(&[3, 130, 1]), 130);
        assert_eq!(pick(&[130, 4, 0]), 4);
    }
}
