//! Trials: each playbook run `--trials` times, up to `--jobs` at once, none started after a
//! signal or (with `--fail-fast`) after a failure. The command line only parses the options;
//! the scheduling lives here, beside the run it repeats (as nextest keeps its dispatcher out of
//! its CLI).

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::{Cancel, Listener, RunOptions, RunResult, RunStatus, exit};
use crate::playbook::{LoadError, Playbook};

/// How the trials of every playbook are run.
#[derive(Debug, Clone, Copy)]
pub struct Trials {
    /// Runs of each playbook (`--trials`).
    pub count: u32,
    /// Runs of one playbook at once (`--jobs`); above 1 each gets a project of its own.
    pub jobs: u32,
    /// Start no trial after one failed (`--fail-fast`).
    pub fail_fast: bool,
    /// The seed of trial 1; later trials derive theirs from it.
    pub seed: u64,
    /// Take over undos an earlier run left outstanding (`--ignore-ledger`).
    pub adopt_ledger: bool,
}

impl Trials {
    /// Whether trials run side by side, each on a project of its own.
    pub fn side_by_side(&self) -> bool {
        self.jobs > 1 && self.count > 1
    }
}

/// Why the trials cannot start; found before any container is touched.
#[derive(Debug, thiserror::Error)]
pub enum TrialsError {
    /// A trial's own playbook (`run.trial` resolved) does not validate.
    #[error("{0}")]
    Invalid(#[from] LoadError),
    /// Two trials side by side would publish the same host port.
    #[error("{}: {clash}", path.display())]
    SharedHostPort { path: PathBuf, clash: String },
}

/// The playbooks trials run, one list per playbook: each trial's own when they run side by
/// side (resolved before anything runs, as they must not share a host port), else one shared
/// by all trials.
pub fn prepare(
    playbooks: Vec<Playbook>,
    trials: &Trials,
) -> Result<Vec<Vec<Arc<Playbook>>>, TrialsError> {
    let mut prepared = Vec::new();
    for playbook in playbooks {
        if !trials.side_by_side() {
            prepared.push(vec![Arc::new(playbook)]);
            continue;
        }
        let own = (1..=trials.count)
            .map(|trial| playbook.for_parallel_trial(trial))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(clash) = Playbook::shared_host_port(&own) {
            let path = playbook.source.path.clone();
            return Err(TrialsError::SharedHostPort { path, clash });
        }
        prepared.push(own.into_iter().map(Arc::new).collect());
    }
    Ok(prepared)
}

/// Runs every trial of every prepared playbook, one playbook after the other; the results are
/// in playbook then trial order. `listener` gives the listener of a trial: trials side by side
/// each get their own (the display names the trial on every line).
pub async fn run_trials(
    prepared: Vec<Vec<Arc<Playbook>>>,
    trials: &Trials,
    cancel: &Cancel,
    listener: impl Fn(u32) -> Arc<dyn Listener>,
) -> Vec<RunResult> {
    let mut results = Vec::new();
    for playbooks in prepared {
        let starts = (1..=trials.count).map(|trial| {
            let options = RunOptions {
                seed: trial_seed(trials.seed, trial),
                trial,
                trials: trials.count,
                cancel: cancel.clone(),
                adopt_ledger: trials.adopt_ledger,
            };
            super::run(
                Arc::clone(of_trial(&playbooks, trial)),
                options,
                listener(trial),
            )
        });
        // A signal during an earlier playbook stops the later ones too.
        let stop = |finished: Option<&RunResult>| {
            cancel.reason().is_some()
                || (trials.fail_fast && finished.is_some_and(|r| r.status != RunStatus::Passed))
        };
        let mut of_playbook = at_most(trials.jobs as usize, starts, stop).await;
        of_playbook.sort_by_key(|r| r.trial);
        results.extend(of_playbook);
    }
    results
}

/// The playbook of a 1-based trial: its own when each has one, else the one they share.
fn of_trial<T>(playbooks: &[T], trial: u32) -> &T {
    &playbooks[(trial as usize - 1).min(playbooks.len() - 1)]
}

/// Runs the futures `starts` yields, up to `jobs` at once and in their order, and starts no
/// more once `stop` says so (asked before the first start, then after each finishes; once it
/// has said so it is not asked again). The outputs come in the order they finished.
async fn at_most<T, F: Future<Output = T>>(
    jobs: usize,
    mut starts: impl Iterator<Item = F>,
    mut stop: impl FnMut(Option<&T>) -> bool,
) -> Vec<T> {
    let mut running = FuturesUnordered::new();
    let mut finished = Vec::new();
    let mut stopped = stop(None);
    loop {
        while !stopped && running.len() < jobs {
            match starts.next() {
                Some(start) => running.push(start),
                None => break,
            }
        }
        let Some(output) = running.next().await else {
            break;
        };
        stopped = stopped || stop(Some(&output));
        finished.push(output);
    }
    finished
}

/// Trial 1 runs with the given seed, so `--seed S` replays a single run; later trials derive
/// theirs from it (and each is reported, so any one trial can be replayed alone).
pub fn trial_seed(seed: u64, trial: u32) -> u64 {
    if trial == 1 {
        seed
    } else {
        seed.wrapping_add(u64::from(trial - 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

/// The exit code of a set of runs: the most serious outcome wins (cleanup failures, then
/// interruption, then environment errors, then failures).
pub fn exit_code(results: &[RunResult]) -> i32 {
    let rank = |status: RunStatus| match status {
        RunStatus::CleanupFailed => 4,
        RunStatus::Interrupted => 3,
        RunStatus::EnvironmentError => 2,
        RunStatus::Failed => 1,
        RunStatus::Passed => 0,
    };
    results
        .iter()
        .max_by_key(|r| rank(r.status))
        .map_or(exit::PASSED, |r| r.exit_code)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Futures that yield once (so several can be running at once), recording how many ran
    /// together at most.
    fn tracked(
        count: u32,
        running: &AtomicUsize,
        most: &AtomicUsize,
    ) -> Vec<impl Future<Output = u32>> {
        (1..=count)
            .map(|n| async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                running.fetch_sub(1, Ordering::SeqCst);
                n
            })
            .collect()
    }

    #[tokio::test]
    async fn runs_all_with_at_most_jobs_at_once() {
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let mut done = at_most(3, tracked(8, &running, &most).into_iter(), |_| false).await;
        done.sort_unstable();
        assert_eq!(done, (1..=8).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn one_at_a_time_stops_right_after_the_failure() {
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let starts = tracked(5, &running, &most).into_iter();
        let done = at_most(1, starts, |n| n == Some(&2)).await;
        assert_eq!(done, [1, 2]);
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn side_by_side_the_running_ones_finish_but_no_more_start() {
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let starts = tracked(6, &running, &most).into_iter();
        let mut asked = 0;
        let mut done = at_most(2, starts, |n| {
            asked += 1;
            n.is_some()
        })
        .await;
        done.sort_unstable();
        assert_eq!(done, [1, 2], "both started before the first finished");
        assert_eq!(
            asked, 2,
            "once before starting, once after the first; never again"
        );
    }

    #[tokio::test]
    async fn nothing_starts_when_stopped_before_the_first() {
        let starts = (1..=3).map(|n| async move { n });
        assert!(at_most(2, starts, |_| true).await.is_empty());
    }

    #[test]
    fn trial_one_replays_the_given_seed_and_later_trials_differ() {
        assert_eq!(trial_seed(42, 1), 42);
        let seeds: std::collections::HashSet<u64> = (1..=100).map(|t| trial_seed(42, t)).collect();
        assert_eq!(seeds.len(), 100);
        assert_eq!(
            trial_seed(u64::MAX, 2),
            u64::MAX.wrapping_add(0x9E37_79B9_7F4A_7C15)
        );
    }

    #[test]
    fn each_trial_has_its_own_playbook_or_shares_the_one() {
        let shared = [1, 2, 3].map(Arc::new);
        assert_eq!(*of_trial(&shared, 2), shared[1]);
        assert_eq!(*of_trial(&shared[..1], 7), shared[0]);
    }
}
