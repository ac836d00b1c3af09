//! `chaosplay compare`: did NEW get slower than BASE? Two trial sets of the same scenarios,
//! compared per metric, per step duration and by pass rate, with a verdict at a threshold the
//! user sets, so CI can gate on a regression. The statistics are in [`super::stats`]; this
//! module decides, [`render`] writes.

pub mod render;

use std::collections::BTreeMap;

use serde::Serialize;

use super::stats::{Shift, Trial, fisher_exact, nearest_rank, sorted};
use crate::engine::{RunStatus, StepStatus};

/// What the user asks of a comparison.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Options {
    /// The smallest relative change that counts (0.1 for 10%): smaller ones are noise to the
    /// user even when real.
    pub threshold: f64,
    /// The confidence of the intervals (0.95), and `1 − confidence` the level of the pass-rate
    /// test.
    pub confidence: f64,
}

/// `--threshold`: a percentage (`10%`, or `10`), at least 0.
pub fn threshold(text: &str) -> Result<f64, String> {
    let fraction = percent(text)?;
    match fraction >= 0.0 {
        true => Ok(fraction),
        false => Err("a threshold is at least 0%".into()),
    }
}

/// `--confidence`: a percentage (`95%`, or `95`) between 0 and 100, both excluded.
pub fn confidence(text: &str) -> Result<f64, String> {
    let fraction = percent(text)?;
    match fraction > 0.0 && fraction < 1.0 {
        true => Ok(fraction),
        false => Err("a confidence is between 0% and 100%, both excluded".into()),
    }
}

fn percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(p) if p.is_finite() => Ok(p / 100.0),
        _ => Err(format!("`{text}` is not a percentage such as `10%`")),
    }
}

/// Every scenario of the two trial sets, compared.
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub options: Options,
    pub scenarios: Vec<ScenarioComparison>,
    /// Whether anything got significantly slower, or the pass rate significantly worse.
    pub regressed: bool,
}

#[derive(Debug, Serialize)]
pub struct ScenarioComparison {
    /// The run name: the scenario's, with its `[matrix]` cell.
    pub scenario: String,
    pub pass_rate: PassRates,
    /// Per recorded metric found on both sides, by name.
    pub metrics: Vec<Quantity>,
    /// Per step duration (ms, over the trials where it passed) found on both sides.
    pub steps: Vec<Quantity>,
    /// Metrics and steps only one side has: nothing to compare them with.
    pub only_in_base: Vec<String>,
    pub only_in_new: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PassRates {
    pub base: Passes,
    pub new: Passes,
    /// Fisher's exact test, two-sided.
    pub p_value: f64,
    pub verdict: PassVerdict,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Passes {
    pub trials: usize,
    pub passed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PassVerdict {
    Worse,
    Better,
    NoSignificantChange,
}

/// One metric or step duration on both sides.
#[derive(Debug, Serialize)]
pub struct Quantity {
    pub name: String,
    pub base: Side,
    pub new: Side,
    /// `new.median / base.median`; `None` when the base median is 0.
    pub ratio: Option<f64>,
    /// `new − base`, with its interval.
    pub difference: Shift,
    /// The coarser of the two sides' measurement resolutions (in the quantity's unit); 0 when
    /// neither is known.
    pub resolution: f64,
    pub verdict: Verdict,
    /// Why a visible difference is not significant, when that is not its interval holding 0.
    pub note: Option<String>,
}

/// One side's values of a quantity.
#[derive(Debug, Serialize)]
pub struct Side {
    pub count: usize,
    /// Nearest rank, as the summaries' p50: an observed value.
    pub median: f64,
    /// The interquartile range, `[p25, p75]` by nearest rank.
    pub iqr: (f64, f64),
}

/// Every quantity compared is a cost (a duration; a metric where more is worse), so larger is
/// slower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Slower,
    Faster,
    NoSignificantChange,
}

/// Compares the trials of BASE with those of NEW, scenario by scenario. `Err` when the two do
/// not hold the same scenarios (and cells): comparing different experiments answers nothing.
pub fn compare(base: &[Trial], new: &[Trial], options: Options) -> Result<Comparison, String> {
    let (base, new) = (by_scenario(base), by_scenario(new));
    if base.keys().ne(new.keys()) {
        let names = |sets: &BTreeMap<&str, Vec<&Trial>>| {
            sets.keys()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "the reports are of different scenarios: BASE has {}, NEW has {}",
            names(&base),
            names(&new)
        ));
    }
    if base.is_empty() {
        return Err("the reports hold no runs".into());
    }
    let scenarios: Vec<_> = base
        .iter()
        .map(|(name, trials)| scenario(name, trials, &new[name], options))
        .collect();
    let regressed = scenarios.iter().any(ScenarioComparison::regressed);
    Ok(Comparison {
        options,
        scenarios,
        regressed,
    })
}

impl ScenarioComparison {
    pub fn regressed(&self) -> bool {
        self.pass_rate.verdict == PassVerdict::Worse
            || self
                .metrics
                .iter()
                .chain(&self.steps)
                .any(|q| q.verdict == Verdict::Slower)
    }
}

fn by_scenario(trials: &[Trial]) -> BTreeMap<&str, Vec<&Trial>> {
    let mut sets: BTreeMap<&str, Vec<&Trial>> = BTreeMap::new();
    for trial in trials {
        sets.entry(&trial.name).or_default().push(trial);
    }
    sets
}

fn scenario(name: &str, base: &[&Trial], new: &[&Trial], options: Options) -> ScenarioComparison {
    let (base_metrics, new_metrics) = (metric_samples(base), metric_samples(new));
    let (base_steps, new_steps) = (step_samples(base), step_samples(new));
    let only = |a: &Samples, b: &Samples| -> Vec<String> {
        a.keys().filter(|k| !b.contains_key(*k)).cloned().collect()
    };
    let mut only_in_base = only(&base_metrics, &new_metrics);
    only_in_base.extend(only(&base_steps, &new_steps));
    let mut only_in_new = only(&new_metrics, &base_metrics);
    only_in_new.extend(only(&new_steps, &base_steps));
    ScenarioComparison {
        scenario: name.to_string(),
        pass_rate: pass_rates(base, new, options),
        metrics: quantities(&base_metrics, &new_metrics, options),
        steps: quantities(&base_steps, &new_steps, options),
        only_in_base,
        only_in_new,
    }
}

/// A quantity's values over one side's trials, and the coarsest resolution they had.
#[derive(Debug, Default)]
struct Sample {
    values: Vec<f64>,
    resolution: f64,
}

type Samples = BTreeMap<String, Sample>;

fn metric_samples(trials: &[&Trial]) -> Samples {
    let mut samples = Samples::new();
    for trial in trials {
        for (name, value) in &trial.metrics {
            let resolution = trial.resolutions.get(name).copied().unwrap_or_default();
            add(&mut samples, name.clone(), *value, resolution);
        }
    }
    samples
}

/// Step durations in milliseconds, from their microseconds (the summaries' whole milliseconds
/// would add a millisecond of rounding to short steps), over the trials where they passed.
fn step_samples(trials: &[&Trial]) -> Samples {
    let mut samples = Samples::new();
    for trial in trials {
        for step in trial
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Passed)
        {
            let ms = |us: u64| us as f64 / 1000.0;
            let resolution = step.resolution_us.map_or(0.0, ms);
            add(&mut samples, step.key(), ms(step.duration_us), resolution);
        }
    }
    samples
}

fn add(samples: &mut Samples, name: String, value: f64, resolution: f64) {
    let sample = samples.entry(name).or_default();
    sample.values.push(value);
    sample.resolution = sample.resolution.max(resolution);
}

fn quantities(base: &Samples, new: &Samples, options: Options) -> Vec<Quantity> {
    base.iter()
        .filter_map(|(name, b)| Some(quantity(name, b, new.get(name)?, options)))
        .collect()
}

fn quantity(name: &str, base: &Sample, new: &Sample, options: Options) -> Quantity {
    let (base_side, new_side) = (side(&base.values), side(&new.values));
    let ratio = (base_side.median != 0.0).then(|| new_side.median / base_side.median);
    let difference = Shift::of(&base.values, &new.values, options.confidence)
        .expect("a quantity has values on both sides");
    let resolution = base.resolution.max(new.resolution);
    let (verdict, note) = verdict(&difference, ratio, resolution, options);
    Quantity {
        name: name.to_string(),
        base: base_side,
        new: new_side,
        ratio,
        difference,
        resolution,
        verdict,
        note,
    }
}

fn side(values: &[f64]) -> Side {
    let sorted = sorted(values);
    Side {
        count: sorted.len(),
        median: nearest_rank(&sorted, 0.5),
        iqr: (nearest_rank(&sorted, 0.25), nearest_rank(&sorted, 0.75)),
    }
}

/// Significant only when all three hold: the interval excludes 0 (it is not chance), the
/// medians differ by more than the threshold (it matters), and the shift exceeds the
/// resolution (it was measured, not an artefact of a polling grid).
fn verdict(
    difference: &Shift,
    ratio: Option<f64>,
    resolution: f64,
    options: Options,
) -> (Verdict, Option<String>) {
    let unchanged = |note: Option<String>| (Verdict::NoSignificantChange, note);
    let Some((low, high)) = difference.interval else {
        return unchanged(Some(format!(
            "too few trials for a {}% interval",
            super::number(options.confidence * 100.0)
        )));
    };
    if low <= 0.0 && 0.0 <= high {
        return unchanged(None);
    }
    // A base median of 0 grown to anything is beyond any threshold.
    if ratio.is_some_and(|r| (r - 1.0).abs() <= options.threshold) {
        return unchanged(Some(format!(
            "within ±{}%",
            super::number(options.threshold * 100.0)
        )));
    }
    if difference.estimate.abs() <= resolution {
        return unchanged(Some(format!(
            "within the resolution, {}",
            super::number(resolution)
        )));
    }
    match difference.estimate > 0.0 {
        true => (Verdict::Slower, None),
        false => (Verdict::Faster, None),
    }
}

/// Pass rates differ significantly when Fisher's exact test says a split this uneven would
/// be rarer than `1 − confidence` were they equal.
fn pass_rates(base: &[&Trial], new: &[&Trial], options: Options) -> PassRates {
    let passes = |trials: &[&Trial]| Passes {
        trials: trials.len(),
        passed: trials
            .iter()
            .filter(|t| t.status == RunStatus::Passed)
            .count(),
    };
    let (base, new) = (passes(base), passes(new));
    let split = |p: Passes| (p.passed, p.trials - p.passed);
    let p_value = fisher_exact(split(base), split(new));
    let rate = |p: Passes| p.passed as f64 / p.trials as f64;
    let verdict = if p_value >= 1.0 - options.confidence {
        PassVerdict::NoSignificantChange
    } else if rate(new) < rate(base) {
        PassVerdict::Worse
    } else {
        PassVerdict::Better
    };
    PassRates {
        base,
        new,
        p_value,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: Options = Options {
        threshold: 0.1,
        confidence: 0.95,
    };

    fn judge(base: &[f64], new: &[f64], resolution: f64) -> (Verdict, Option<String>) {
        let sample = |values: &[f64]| Sample {
            values: values.to_vec(),
            resolution,
        };
        let q = quantity("q", &sample(base), &sample(new), OPTIONS);
        (q.verdict, q.note)
    }

    const BASE: [f64; 6] = [100.0, 101.0, 102.0, 103.0, 104.0, 105.0];

    #[test]
    fn a_clear_shift_is_slower_or_faster() {
        let doubled = BASE.map(|v| v * 2.0);
        assert_eq!(judge(&BASE, &doubled, 0.0), (Verdict::Slower, None));
        assert_eq!(judge(&doubled, &BASE, 0.0), (Verdict::Faster, None));
    }

    #[test]
    fn a_real_but_small_shift_is_within_the_threshold() {
        let (verdict, note) = judge(&BASE, &BASE.map(|v| v + 8.0), 0.0);
        assert_eq!(verdict, Verdict::NoSignificantChange);
        assert_eq!(note.as_deref(), Some("within ±10%"));
    }

    #[test]
    fn a_shift_under_the_resolution_is_not_significant() {
        let (verdict, note) = judge(&BASE, &BASE.map(|v| v * 2.0), 1000.0);
        assert_eq!(verdict, Verdict::NoSignificantChange);
        assert_eq!(note.as_deref(), Some("within the resolution, 1000"));
    }

    #[test]
    fn few_trials_give_no_verdict() {
        let (verdict, note) = judge(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0], 0.0);
        assert_eq!(verdict, Verdict::NoSignificantChange);
        assert_eq!(note.as_deref(), Some("too few trials for a 95% interval"));
    }

    #[test]
    fn anything_from_a_zero_median_passes_the_threshold() {
        let q = quantity(
            "lost",
            &Sample {
                values: vec![0.0; 5],
                resolution: 0.0,
            },
            &Sample {
                values: vec![3.0; 5],
                resolution: 0.0,
            },
            OPTIONS,
        );
        assert_eq!((q.ratio, q.verdict), (None, Verdict::Slower));
    }

    #[test]
    fn parsing_percentages() {
        assert_eq!(threshold("10%"), Ok(0.1));
        assert_eq!(threshold("0"), Ok(0.0));
        assert!(threshold("-5%").is_err());
        assert_eq!(confidence("95%"), Ok(0.95));
        assert!(confidence("100%").is_err() && confidence("ninety").is_err());
    }
}
