//! Statistics over repeated trials: once is an anecdote, a distribution is an answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::timing::{micros, rfc3339};
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
        let sorted = sorted(values);
        Some(Distribution {
            count: sorted.len(),
            min: sorted[0],
            p50: nearest_rank(&sorted, 0.5),
            p90: nearest_rank(&sorted, 0.9),
            max: sorted[sorted.len() - 1],
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
        })
    }
}

/// The values in ascending order.
pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// The `p` quantile (0 to 1) of ascending, non-empty values by nearest rank: an observed value,
/// so a median of trials is a trial's figure, never an average of two.
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// A step's name in reports: `"03 name"` (`"finally 01 name"` for cleanup), position first so
/// keys sort in playbook order and two steps with one name stay apart.
pub fn step_key(step: &StepRecord) -> String {
    key(step.phase, step.index, &step.name)
}

fn key(phase: Phase, index: usize, name: &str) -> String {
    match phase {
        Phase::Steps => format!("{:02} {name}", index + 1),
        Phase::Finally => format!("finally {:02} {name}", index + 1),
        Phase::Monitors => format!("monitor {:02} {name}", index + 1),
    }
}

/// What summaries and comparisons read of one trial, from a run just made or read back from a
/// JSON report (its fields are the report's): trials run in pieces, in several CI jobs, are
/// summarised and compared as one.
#[derive(Debug, Clone, Deserialize)]
pub struct Trial {
    pub name: String,
    pub file: String,
    pub matrix: crate::playbook::Cell,
    pub seed: u64,
    pub trial: u32,
    pub started_at: String,
    pub status: RunStatus,
    pub metrics: BTreeMap<String, f64>,
    /// Absent from reports written before resolutions were recorded.
    #[serde(default)]
    pub resolutions: BTreeMap<String, f64>,
    pub steps: Vec<TrialStep>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TrialStep {
    pub phase: Phase,
    pub index: usize,
    pub name: String,
    pub status: StepStatus,
    pub duration_us: u64,
    #[serde(default)]
    pub resolution_us: Option<u64>,
}

impl TrialStep {
    pub fn key(&self) -> String {
        key(self.phase, self.index, &self.name)
    }
}

impl From<&RunResult> for Trial {
    fn from(run: &RunResult) -> Self {
        Trial {
            name: run.name.clone(),
            file: run.file.clone(),
            matrix: run.matrix.clone(),
            seed: run.seed,
            trial: run.trial,
            started_at: rfc3339(run.started_at),
            status: run.status,
            metrics: run.metrics.clone(),
            resolutions: run.resolutions.clone(),
            steps: run
                .steps
                .iter()
                .map(|s| TrialStep {
                    phase: s.phase,
                    index: s.index,
                    name: s.name.clone(),
                    status: s.status,
                    duration_us: micros(s.timing.duration),
                    resolution_us: s.resolution_us,
                })
                .collect(),
        }
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
    pub fn of(trials: &[&Trial]) -> Option<Self> {
        let first = trials.first()?;
        let passed = trials
            .iter()
            .filter(|r| r.status == RunStatus::Passed)
            .count();
        let mut metric_values: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        let mut step_values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for trial in trials {
            for (name, value) in &trial.metrics {
                metric_values.entry(name).or_default().push(*value);
            }
            for step in trial
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Passed)
            {
                step_values
                    .entry(step.key())
                    .or_default()
                    // Whole milliseconds, as summaries always were: they stay comparable.
                    .push((step.duration_us / 1000) as f64);
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
            trials: trials.len(),
            passed,
            failed: trials.len() - passed,
            pass_rate: passed as f64 / trials.len() as f64,
            seeds: trials.iter().map(|r| r.seed).collect(),
            metrics: distributions(metric_values),
            steps: distributions(step_values),
        })
    }
}

/// Summaries of every playbook cell that ran more than once, in the order they ran. Cells
/// stay apart: merging `fault=kill` with `fault=pause` would blur the very difference the
/// matrix is there to show.
pub fn summaries(runs: &[RunResult]) -> Vec<TrialSummary> {
    let trials: Vec<Trial> = runs.iter().map(Trial::from).collect();
    trial_summaries(group_by(&trials, |t| (&t.file, &t.matrix)))
}

/// [`summaries`] of trials however obtained and grouped: a merged report's are recomputed so.
pub fn trial_summaries(groups: Vec<Vec<&Trial>>) -> Vec<TrialSummary> {
    groups
        .into_iter()
        .filter(|trials| trials.len() > 1)
        .filter_map(|trials| TrialSummary::of(&trials))
        .collect()
}

/// The runs grouped by playbook file and matrix cell, in the order they first ran: every
/// report groups a cell's trials together (a summary, a JUnit suite, an HTML section).
pub fn by_playbook(runs: &[RunResult]) -> Vec<Vec<&RunResult>> {
    group_by(runs, |r| (&r.file, &r.matrix))
}

/// Items with equal keys together, groups in the order their first item came.
pub fn group_by<'a, T, K: PartialEq>(items: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<Vec<&'a T>> {
    let mut groups: Vec<Vec<&T>> = Vec::new();
    for item in items {
        match groups.iter_mut().find(|g| key(g[0]) == key(item)) {
            Some(group) => group.push(item),
            None => groups.push(vec![item]),
        }
    }
    groups
}

/// The shift from `base` to `new` (how much larger `new` is) with a confidence interval, by
/// Hodges-Lehmann and the Mann-Whitney U distribution: the estimate is the median of every
/// difference `new − base`, the interval lies between two of those differences chosen by
/// the U distribution. Distribution-free (recovery times are skewed, with the odd trial that
/// hit a leader election), exact for the few trials chaos runs afford, and without random
/// resampling, so the same reports always give the same figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Shift {
    /// The Hodges-Lehmann estimate: `new − base`, typically.
    pub estimate: f64,
    /// The interval `[low, high]` holding the true shift at the asked confidence; `None` when
    /// the samples are too small for it (no pair of differences reaches that confidence).
    pub interval: Option<(f64, f64)>,
}

impl Shift {
    /// `None` when either side has no values. `confidence` is between 0 and 1 (exclusive).
    pub fn of(base: &[f64], new: &[f64], confidence: f64) -> Option<Shift> {
        if base.is_empty() || new.is_empty() {
            return None;
        }
        let (base, new) = (sorted(base), sorted(new));
        let count = base.len() * new.len();
        let kth = |k: usize| kth_difference(&base, &new, k);
        let estimate = if count % 2 == 1 {
            kth(count / 2 + 1)
        } else {
            (kth(count / 2) + kth(count / 2 + 1)) / 2.0
        };
        let interval = interval_rank(base.len(), new.len(), 1.0 - confidence)
            .map(|k| (kth(k), kth(count + 1 - k)));
        Some(Shift { estimate, interval })
    }
}

/// The `k`-th smallest (from 1) of the differences `new[j] − base[i]` of ascending values,
/// without listing them all: 10 000 trials a side would make 10⁸. Bisects over the floats in
/// order for the least `t` that at least `k` differences do not exceed; that `t` is itself a
/// difference, computed as the count computes them.
fn kth_difference(base: &[f64], new: &[f64], k: usize) -> f64 {
    let at_most = |t: f64| {
        // For ascending `new[j]`, the `i` with `new[j] − base[i] ≤ t` are a suffix that grows.
        let mut i = 0;
        new.iter()
            .map(|y| {
                while i < base.len() && y - base[i] > t {
                    i += 1;
                }
                base.len() - i
            })
            .sum::<usize>()
    };
    let (mut low, mut high) = (
        ordered(new[0] - base[base.len() - 1]),
        ordered(new[new.len() - 1] - base[0]),
    );
    while low < high {
        let mid = low + (high - low) / 2;
        if at_most(unordered(mid)) >= k {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    unordered(low)
}

/// A float's place in the order of all floats, as an integer: bisecting over it visits every
/// float between two bounds in at most 64 steps.
fn ordered(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn unordered(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    })
}

/// Sample sizes up to this product get the exact U distribution; larger ones its normal
/// approximation, which is close by then and keeps the cost small.
const EXACT_PAIRS: usize = 2_500;

/// The rank `k` whose differences `k` and `n·m + 1 − k` bound a two-sided interval of error
/// at most `alpha`: the largest `k` with `P(U ≤ k − 1) ≤ alpha / 2`. `None` when even the
/// extreme differences do not reach it (3 trials a side cannot give 95%).
fn interval_rank(n: usize, m: usize, alpha: f64) -> Option<usize> {
    let pairs = n * m;
    let k = if pairs <= EXACT_PAIRS {
        exact_rank(n, m, alpha)
    } else {
        normal_rank(n, m, alpha)
    };
    (k >= 1).then_some(k.min(pairs.div_ceil(2)))
}

fn exact_rank(n: usize, m: usize, alpha: f64) -> usize {
    let tail = u_lower_tail(n, m);
    tail.iter().take_while(|&&p| p <= alpha / 2.0).count()
}

/// [`exact_rank`] by the normal approximation of U, with a continuity correction.
fn normal_rank(n: usize, m: usize, alpha: f64) -> usize {
    let pairs = (n * m) as f64;
    let sd = (pairs * (n + m + 1) as f64 / 12.0).sqrt();
    let k = pairs / 2.0 - normal_quantile(1.0 - alpha / 2.0) * sd + 0.5;
    k.floor().max(0.0) as usize
}

/// `P(U ≤ u)` for `u` from 0 to `n·m`, the exact distribution of the Mann-Whitney U statistic
/// of samples of `n` and `m` values when both come from one distribution. Counts the orderings
/// of the `n + m` values by the recurrence on the largest: it is one of `m` (adding `n` to U)
/// or one of `n`; floats hold the counts, which outgrow integers (`C(100, 50)`).
fn u_lower_tail(n: usize, m: usize) -> Vec<f64> {
    // counts[j][u]: orderings of i values of one side and j of the other with U = u.
    let mut counts: Vec<Vec<f64>> = vec![vec![1.0]; m + 1];
    for i in 1..=n {
        let mut row: Vec<Vec<f64>> = vec![vec![1.0]];
        for j in 1..=m {
            let mut poly = vec![0.0; i * j + 1];
            for (u, c) in counts[j].iter().enumerate() {
                poly[u] += c;
            }
            for (u, c) in row[j - 1].iter().enumerate() {
                poly[u + i] += c;
            }
            row.push(poly);
        }
        counts = row;
    }
    let all: f64 = counts[m].iter().sum();
    counts[m]
        .iter()
        .scan(0.0, |sum, c| {
            *sum += c;
            Some(*sum / all)
        })
        .collect()
}

/// The standard normal quantile, by Acklam's rational approximation (relative error below
/// 1.2·10⁻⁹): all the normal approximation of U needs.
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let poly = |coefficients: &[f64], x: f64| coefficients.iter().fold(0.0, |acc, c| acc * x + c);
    let tail = |q: f64| {
        let t = (-2.0 * q.ln()).sqrt();
        poly(&C, t) / (poly(&D, t) * t + 1.0)
    };
    const LOW: f64 = 0.02425;
    if p < LOW {
        tail(p)
    } else if p > 1.0 - LOW {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        poly(&A, r) * q / (poly(&B, r) * r + 1.0)
    }
}

/// Fisher's exact test, two-sided, on passes and failures of two trial sets: the probability,
/// were both equally reliable, of a split of the passes at least as uneven as the one seen.
/// Exact at any count, where a two-proportion z-test misleads with the 5 or 10 trials (and
/// pass rates near 100%) chaos runs have.
pub fn fisher_exact(base: (usize, usize), new: (usize, usize)) -> f64 {
    let ((passed_base, failed_base), (passed_new, failed_new)) = (base, new);
    let (in_base, passed) = (passed_base + failed_base, passed_base + passed_new);
    let total = in_base + passed_new + failed_new;
    let ln_factorial: Vec<f64> = std::iter::once(0.0)
        .chain((1..=total).scan(0.0, |sum, k| {
            *sum += (k as f64).ln();
            Some(*sum)
        }))
        .collect();
    let ln_choose = |n: usize, k: usize| ln_factorial[n] - ln_factorial[k] - ln_factorial[n - k];
    // P(x of the passes fall in base), hypergeometric.
    let probability = |x: usize| {
        (ln_choose(in_base, x) + ln_choose(total - in_base, passed - x) - ln_choose(total, passed))
            .exp()
    };
    let seen = probability(passed_base);
    let lowest = passed.saturating_sub(total - in_base);
    (lowest..=passed.min(in_base))
        .map(probability)
        // The relative slack keeps a split as likely as the one seen from being lost to rounding.
        .filter(|&p| p <= seen * (1.0 + 1e-7))
        .sum::<f64>()
        .min(1.0)
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

    /// Every difference `new − base`, sorted: what the statistics avoid listing, to check them.
    fn differences(base: &[f64], new: &[f64]) -> Vec<f64> {
        sorted(
            &new.iter()
                .flat_map(|y| base.iter().map(move |x| y - x))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn kth_difference_is_the_kth_of_every_difference() {
        let base = sorted(&[3.5, -2.0, 7.0, 7.0, 0.25, 100.0, -0.5]);
        let new = sorted(&[1.0, 1.0, 9.75, -3.0, 42.0]);
        let all = differences(&base, &new);
        for k in 1..=all.len() {
            assert_eq!(kth_difference(&base, &new, k), all[k - 1], "k = {k}");
        }
    }

    #[test]
    fn the_u_distribution_of_four_and_four() {
        // The 70 orderings of 4 + 4 values by U: 1 1 2 3 5 5 7 7 8 7 7 5 5 3 2 1 1.
        let counts = [1, 1, 2, 3, 5, 5, 7, 7, 8, 7, 7, 5, 5, 3, 2, 1, 1];
        let tail = u_lower_tail(4, 4);
        let mut sum = 0;
        for (u, c) in counts.iter().enumerate() {
            sum += c;
            assert!((tail[u] - f64::from(sum) / 70.0).abs() < 1e-12, "u = {u}");
        }
        assert_eq!(u_lower_tail(3, 2), [0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 1.0]);
    }

    #[test]
    fn the_normal_approximation_meets_the_exact_ranks() {
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((normal_quantile(0.01) + 2.326_347_874).abs() < 1e-8);
        assert_eq!(normal_quantile(0.5), 0.0);
        for (n, m) in [(50, 50), (30, 80), (20, 20)] {
            for alpha in [0.01, 0.05, 0.1] {
                let (exact, normal) = (exact_rank(n, m, alpha), normal_rank(n, m, alpha));
                // A little wider at most (U's tails are lighter than the normal's), never
                // narrower: the approximation never claims more than the data show.
                assert!(
                    normal <= exact && exact - normal <= (n * m / 500).max(1),
                    "{n}×{m} at {alpha}: {exact} {normal}"
                );
            }
        }
    }

    #[test]
    fn identical_samples_shift_by_nothing() {
        let same = [12.0, 15.0, 11.0, 14.0, 13.0, 12.5, 16.0, 11.5];
        let shift = Shift::of(&same, &same, 0.95).unwrap();
        assert_eq!(shift.estimate, 0.0);
        let (low, high) = shift.interval.unwrap();
        assert!(low < 0.0 && high > 0.0, "{low} … {high}");
    }

    #[test]
    fn twice_as_slow_is_a_shift_whose_interval_excludes_zero() {
        let base = [
            100.0, 104.0, 98.0, 101.0, 103.0, 99.0, 102.0, 97.0, 105.0, 100.5,
        ];
        let new: Vec<f64> = base.iter().map(|x| x * 2.0).collect();
        let shift = Shift::of(&base, &new, 0.95).unwrap();
        let all = differences(&base, &new);
        assert_eq!(shift.estimate, (all[49] + all[50]) / 2.0);
        let (low, high) = shift.interval.unwrap();
        assert!(low > 80.0 && high < 120.0, "{low} … {high}");
        assert!(low <= shift.estimate && shift.estimate <= high);
    }

    #[test]
    fn known_interval_of_four_and_four() {
        // Differences 1 2 2 3 3 3 4 4 4 4 5 5 5 6 6 7; at 95% only the extremes (k = 1, error
        // 2/70) qualify; at 90%, k = 2 (P(U ≤ 1) = 2/70 ≤ 0.05, P(U ≤ 2) = 4/70 is not).
        let (base, new) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]);
        let at = |confidence| Shift::of(&base, &new, confidence).unwrap();
        assert_eq!(at(0.95).estimate, 4.0);
        assert_eq!(at(0.95).interval, Some((1.0, 7.0)));
        assert_eq!(at(0.90).interval, Some((2.0, 6.0)));
    }

    #[test]
    fn three_trials_a_side_cannot_give_95_percent() {
        let shift = Shift::of(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0], 0.95).unwrap();
        assert_eq!(shift.interval, None, "1 ordering in 20 is already 5%");
        assert_eq!(shift.estimate, 18.0);
        assert!(Shift::of(&[], &[1.0], 0.95).is_none());
    }

    #[test]
    fn fisher_exact_known_values() {
        // The lady tasting tea: 3 of 4 right either way, p = 34/70.
        assert!((fisher_exact((3, 1), (1, 3)) - 34.0 / 70.0).abs() < 1e-12);
        // All passed against all failed, 10 each: 2 of C(20, 10) splits are that extreme.
        assert!((fisher_exact((10, 0), (0, 10)) - 2.0 / 184_756.0).abs() < 1e-15);
        assert_eq!(fisher_exact((5, 0), (5, 0)), 1.0);
        assert!(
            fisher_exact((20, 0), (17, 3)) > 0.05,
            "3 failures in 20 are not proof"
        );
    }
}
