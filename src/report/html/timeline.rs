//! Where the timeline's rows and bars go: one row per step and per undo, then one lane per
//! monitor (or per PD store), on a common time axis from the run's start. Plain numbers and
//! strings for `timeline.html`, which only writes them out.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::seconds;
use crate::engine::timing::millis;
use crate::engine::{MonitorSeries, RunResult, StepRecord, StepStatus, UndoRecord};
use crate::report::stats::step_key;
use crate::steps::StepKind;

const WIDTH: f64 = 1000.0;
const LABEL_W: f64 = 280.0;
const ROW_H: f64 = 20.0;
const AXIS_H: f64 = 24.0;

#[derive(Serialize)]
pub(super) struct Timeline {
    /// `f64`'s `Display` (`1000`, `150`, `24`), as SVG reads it.
    width: String,
    height: String,
    axis: String,
    ticks: Vec<Tick>,
    rows: Vec<Row>,
    legend: Vec<LegendItem>,
    /// Each monitor drawn, with its sampling period.
    sampling: Vec<Sampling>,
}

#[derive(Serialize)]
struct Sampling {
    name: String,
    interval_ms: u64,
}

#[derive(Serialize)]
struct Tick {
    x: String,
    label: String,
}

/// One row: a label on the left and its bars on the time axis.
#[derive(Serialize)]
struct Row {
    /// `step`, `step fault-step`, `undo` or `lane`.
    class: &'static str,
    /// The row's tooltip (a lane's bars have their own).
    title: Option<String>,
    label: String,
    text_y: String,
    bars: Vec<Bar>,
    /// For a fault: the container(s) it hit, written beside its bar.
    hit: Option<Hit>,
}

#[derive(Serialize)]
struct Bar {
    x: String,
    y: String,
    w: String,
    h: String,
    fill: &'static str,
    /// A fault's bar is outlined.
    outlined: bool,
    /// A lane's band has its own tooltip and is drawn translucent.
    tip: Option<String>,
}

#[derive(Serialize)]
struct Hit {
    x: String,
    anchor: &'static str,
    text: String,
}

#[derive(Serialize)]
struct LegendItem {
    colour: &'static str,
    label: &'static str,
}

/// The time axis: maps a moment of the run to an x coordinate.
struct Scale {
    end: Duration,
}

impl Scale {
    fn x(&self, t: Duration) -> f64 {
        let plot_w = WIDTH - LABEL_W - 10.0;
        LABEL_W + t.as_secs_f64() / self.end.as_secs_f64() * plot_w
    }

    /// A bar from `from` to `to` at row `y`, at least 2 units wide so an instant shows.
    fn bar(&self, from: Duration, to: Duration, y: f64, inset: f64) -> Bar {
        Bar {
            x: format!("{:.1}", self.x(from)),
            y: format!("{:.1}", y + inset),
            w: format!("{:.1}", (self.x(to) - self.x(from)).max(2.0)),
            h: format!("{:.1}", ROW_H - 2.0 * inset),
            fill: "",
            outlined: false,
            tip: None,
        }
    }
}

/// The run's timeline, or `None` when it has nothing to draw.
pub(super) fn layout(run: &RunResult) -> Option<Timeline> {
    let lanes: Vec<Lane> = run
        .monitors
        .iter()
        .filter(|m| !m.samples.is_empty())
        .flat_map(|m| monitor_lanes(m, run.duration))
        .collect();
    let count = run.steps.len() + run.undo.len() + lanes.len();
    if count == 0 {
        return None;
    }
    let end = run
        .steps
        .iter()
        .map(|s| s.timing.end())
        .chain(run.undo.iter().map(|u| u.timing.end()))
        .chain(lanes.iter().flat_map(|l| l.bands.iter().map(|b| b.to)))
        .chain([run.duration, Duration::from_millis(1)])
        .max()
        .unwrap_or(Duration::from_millis(1));
    let scale = Scale { end };
    let height = AXIS_H + count as f64 * ROW_H + 6.0;
    let y = |row: usize| AXIS_H + row as f64 * ROW_H;
    let mut rows = Vec::with_capacity(count);
    for step in &run.steps {
        rows.push(step_row(step, &scale, y(rows.len())));
    }
    for undo in &run.undo {
        rows.push(undo_row(undo, &scale, y(rows.len())));
    }
    for lane in &lanes {
        rows.push(lane_row(lane, &scale, y(rows.len())));
    }
    Some(Timeline {
        width: WIDTH.to_string(),
        height: height.to_string(),
        axis: AXIS_H.to_string(),
        ticks: ticks(&scale),
        rows,
        legend: legend(),
        sampling: run
            .monitors
            .iter()
            .filter(|m| !m.samples.is_empty())
            .map(|m| Sampling {
                name: m.name.clone(),
                interval_ms: m.interval_ms,
            })
            .collect(),
    })
}

/// A time axis with about 8 round ticks.
fn ticks(scale: &Scale) -> Vec<Tick> {
    let step = Duration::from_millis(nice_tick(millis(scale.end)));
    std::iter::successors(Some(Duration::ZERO), |t| Some(*t + step))
        .take_while(|t| *t <= scale.end)
        .map(|t| Tick {
            x: format!("{:.1}", scale.x(t)),
            label: seconds(t),
        })
        .collect()
}

/// A round tick spacing (1, 2 or 5 × 10ⁿ ms) giving at most about 8 ticks over `end` ms.
pub(super) fn nice_tick(end: u64) -> u64 {
    let mut unit = 1;
    loop {
        for m in [1, 2, 5] {
            if end / (unit * m) <= 8 {
                return unit * m;
            }
        }
        unit *= 10;
    }
}

fn step_row(step: &StepRecord, scale: &Scale, y: f64) -> Row {
    let fault = is_fault(step.uses);
    let label = format!("{}{}", if fault { "⚡ " } else { "" }, step_key(step));
    let error = step
        .error
        .as_ref()
        .map_or(String::new(), |e| format!("\n{}", e.message));
    let title = format!(
        "{} ({}): {} at {} ms for {} ms{error}",
        step_key(step),
        step.uses,
        step.status.word(),
        millis(step.timing.start),
        millis(step.timing.duration)
    );
    let bar = Bar {
        fill: step_colour(step.status),
        outlined: fault,
        ..scale.bar(step.timing.start, step.timing.end(), y, 3.0)
    };
    Row {
        class: if fault { "step fault-step" } else { "step" },
        title: Some(title),
        label: clip(&label),
        text_y: format!("{:.1}", y + 14.0),
        bars: vec![bar],
        hit: fault
            .then(|| hit(step))
            .flatten()
            .map(|text| hit_label(step, scale, text)),
    }
}

/// The container a fault hit, after its bar, or before it when the bar ends near the right.
fn hit_label(step: &StepRecord, scale: &Scale, text: String) -> Hit {
    let after = scale.x(step.timing.end()) + 6.0;
    let (anchor, at) = if after > WIDTH - 150.0 {
        ("end", scale.x(step.timing.start) - 6.0)
    } else {
        ("start", after)
    };
    Hit {
        x: format!("{at:.1}"),
        anchor,
        text,
    }
}

fn undo_row(undo: &UndoRecord, scale: &Scale, y: f64) -> Row {
    let error = undo
        .error
        .as_ref()
        .map_or(String::new(), |e| format!(": {e}"));
    Row {
        class: "undo",
        title: Some(format!("{}{error}", undo.description)),
        label: clip(&format!("undo: {}", undo.description)),
        text_y: format!("{:.1}", y + 14.0),
        bars: vec![Bar {
            fill: if undo.ok { "#5b8def" } else { "#d64541" },
            ..scale.bar(undo.timing.start, undo.timing.end(), y, 3.0)
        }],
        hit: None,
    }
}

fn lane_row(lane: &Lane, scale: &Scale, y: f64) -> Row {
    Row {
        class: "lane",
        title: None,
        label: clip(&lane.label),
        text_y: format!("{:.1}", y + 14.0),
        bars: lane
            .bands
            .iter()
            .map(|band| Bar {
                fill: band.colour,
                tip: Some(format!(
                    "{} ({}–{} ms: {} sample{} every {} ms)",
                    band.tip,
                    millis(band.from),
                    millis(band.to),
                    band.samples,
                    if band.samples == 1 { "" } else { "s" },
                    lane.interval_ms
                )),
                ..scale.bar(band.from, band.to, y, 5.0)
            })
            .collect(),
        hit: None,
    }
}

fn legend() -> Vec<LegendItem> {
    [
        (
            "passed · store Up · sample ok",
            step_colour(StepStatus::Passed),
        ),
        (
            "failed / timed out · store Down · sample error",
            step_colour(StepStatus::Failed),
        ),
        ("cancelled", step_colour(StepStatus::Cancelled)),
        ("skipped", step_colour(StepStatus::Skipped)),
        ("undo / stopped", step_colour(StepStatus::Stopped)),
        ("store Disconnected", state_colour("Disconnected")),
        ("store Offline", state_colour("Offline")),
        ("no sample · store not listed", UNSAMPLED),
    ]
    .into_iter()
    .map(|(label, colour)| LegendItem { colour, label })
    .collect()
}

/// Steps that inject a fault (as opposed to reading, waiting or repairing), as the registry
/// says: marked on the timeline with the container they hit.
fn is_fault(uses: &str) -> bool {
    StepKind::from_name(uses).is_some_and(|kind| kind.doc().effect.is_fault())
}

fn step_colour(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Passed => "#2e9d5b",
        StepStatus::Failed | StepStatus::TimedOut => "#d64541",
        StepStatus::Skipped => "#c8c8c8",
        StepStatus::Cancelled => "#888888",
        StepStatus::Stopped => "#5b8def",
    }
}

/// PD's store states, in the colours of a traffic light.
fn state_colour(state: &str) -> &'static str {
    match state {
        "Up" | "Serving" => "#2e9d5b",
        "Disconnected" | "Preparing" => "#f0a30a",
        "Down" => "#d64541",
        "Offline" | "Removing" => "#8e44ad",
        _ => "#999999",
    }
}

/// The container(s) a fault step hit, from its output (`containers[].name`, else `container`).
fn hit(step: &StepRecord) -> Option<String> {
    let output = step.output.as_ref()?;
    let names: Vec<&str> = output["containers"]
        .as_array()
        .map(|all| all.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    if names.is_empty() {
        output["container"].as_str().map(str::to_string)
    } else {
        Some(names.join(", "))
    }
}

/// Cuts a label to what fits the label column, by characters (never inside one).
fn clip(label: &str) -> String {
    const MAX: usize = 44;
    if label.chars().count() <= MAX {
        label.to_string()
    } else {
        label.chars().take(MAX - 1).chain(['…']).collect()
    }
}

/// A band of a lane: `[from, to)` since the run started, drawn from `samples` samples that
/// all saw the same thing.
struct Band {
    from: Duration,
    to: Duration,
    colour: &'static str,
    tip: String,
    samples: usize,
}

struct Lane {
    label: String,
    /// The monitor's sampling period: a band is only known at its samples.
    interval_ms: u64,
    bands: Vec<Band>,
}

/// Where a store lane says nothing is known: the monitor's sample failed, or PD did not list
/// the store.
const UNSAMPLED: &str = "#e4e4e4";

/// One PD store as a sample lists it.
struct StoreSeen {
    id: String,
    address: String,
    state: String,
}

/// The stores a sample lists with a state (`pd.capture`, `pd.wait_stores`), if any.
fn stores_of(output: &Option<Value>) -> Vec<StoreSeen> {
    let stores = output.as_ref().and_then(|o| o["stores"].as_array());
    stores
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some(StoreSeen {
                state: s["state"].as_str()?.to_string(),
                id: s["id"].to_string(),
                address: s["address"].as_str().unwrap_or_default().to_string(),
            })
        })
        .collect()
}

/// Lanes of a monitor: one per PD store when its samples list `stores[]` with a `state`
/// (`pd.capture`, `pd.wait_stores`), else one of ok/error bands with each sample's `show`.
/// Each draws what its samples saw: a sample holds until the next one is taken (the last
/// one for one interval), and is never carried over a sample that saw something else.
fn monitor_lanes(series: &MonitorSeries, end: Duration) -> Vec<Lane> {
    let samples = &series.samples;
    let interval = Duration::from_millis(series.interval_ms);
    let until = |i: usize| {
        let at = samples[i].at;
        samples
            .get(i + 1)
            .map_or((at + interval).min(end), |s| s.at)
            .max(at + Duration::from_millis(1))
    };
    let store_lanes = store_lanes(series, until);
    if !store_lanes.is_empty() {
        return store_lanes;
    }
    let mut lane = Lane {
        label: series.name.clone(),
        interval_ms: series.interval_ms,
        bands: Vec::new(),
    };
    for (i, sample) in samples.iter().enumerate() {
        let (colour, tip) = if sample.ok {
            ("#2e9d5b", sample.show.clone().unwrap_or_default())
        } else {
            ("#d64541", sample.error.clone().unwrap_or_default())
        };
        let (from, to) = (sample.at, until(i));
        push_band(
            &mut lane.bands,
            Band {
                from,
                to,
                colour,
                tip,
                samples: 1,
            },
        );
    }
    vec![lane]
}

/// One lane per store the samples list, in the order they were first seen. A sample that
/// failed, or that does not list a store seen before, is a grey band in that store's lane:
/// the store's last known state is not drawn on past it (a store that recovered while PD did
/// not answer would otherwise look as it did before, up to the next state change).
fn store_lanes(series: &MonitorSeries, until: impl Fn(usize) -> Duration) -> Vec<Lane> {
    let mut lanes: Vec<(String, Lane)> = Vec::new();
    for (i, sample) in series.samples.iter().enumerate() {
        let seen = stores_of(&sample.output);
        let (from, to) = (sample.at, until(i));
        for store in &seen {
            let at = match lanes.iter().position(|(id, _)| *id == store.id) {
                Some(at) => at,
                None => {
                    let label = format!("{} · store {} {}", series.name, store.id, store.address);
                    let (interval_ms, bands) = (series.interval_ms, Vec::new());
                    lanes.push((
                        store.id.clone(),
                        Lane {
                            label,
                            interval_ms,
                            bands,
                        },
                    ));
                    lanes.len() - 1
                }
            };
            let colour = state_colour(&store.state);
            let tip = format!("store {} ({}): {}", store.id, store.address, store.state);
            push_band(
                &mut lanes[at].1.bands,
                Band {
                    from,
                    to,
                    colour,
                    tip,
                    samples: 1,
                },
            );
        }
        let unseen = match &sample.error {
            Some(error) => format!("no sample: {error}"),
            None => "not listed by PD".to_string(),
        };
        for (_, lane) in lanes
            .iter_mut()
            .filter(|(id, _)| seen.iter().all(|s| s.id != *id))
        {
            let (colour, tip) = (UNSAMPLED, unseen.clone());
            push_band(
                &mut lane.bands,
                Band {
                    from,
                    to,
                    colour,
                    tip,
                    samples: 1,
                },
            );
        }
    }
    lanes.into_iter().map(|(_, lane)| lane).collect()
}

/// Appends a band, merging it into the previous one when its samples saw the same, so a
/// steady state is one band with one tooltip rather than hundreds.
fn push_band(bands: &mut Vec<Band>, band: Band) {
    match bands.last_mut() {
        Some(last) if last.colour == band.colour && last.tip == band.tip => {
            last.to = band.to;
            last.samples += band.samples;
        }
        _ => bands.push(band),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_few() {
        assert_eq!(nice_tick(1), 1);
        assert_eq!(nice_tick(1000), 200);
        assert_eq!(nice_tick(75_000), 10_000);
        for end in [3, 17, 999, 12_345, 3_600_000] {
            assert!(end / nice_tick(end) <= 8, "{end}");
        }
    }

    fn sample(at_ms: u64, output: Value) -> crate::engine::Sample {
        crate::engine::Sample {
            at: Duration::from_millis(at_ms),
            ok: true,
            output: Some(output),
            error: None,
            show: Some("shown".into()),
        }
    }

    #[test]
    fn a_monitor_of_pd_stores_gets_one_lane_per_store_with_merged_state_bands() {
        let stores = |second: &str| {
            serde_json::json!({"stores": [
                {"id": 1, "address": "tikv0:20160", "state": "Up"},
                {"id": 2, "address": "tikv1:20160", "state": second},
            ]})
        };
        let series = MonitorSeries {
            name: "pd".into(),
            uses: "pd.capture",
            interval_ms: 100,
            samples: vec![
                sample(0, stores("Up")),
                sample(100, stores("Disconnected")),
                sample(200, stores("Disconnected")),
                sample(300, stores("Up")),
            ],
        };
        let lanes = monitor_lanes(&series, Duration::from_secs(1));
        assert_eq!(lanes.len(), 2);
        assert_eq!(lanes[1].label, "pd · store 2 tikv1:20160");
        assert_eq!(lanes[0].bands.len(), 1, "always Up: one band");
        let spans: Vec<(u64, u64, &str)> = lanes[1]
            .bands
            .iter()
            .map(|b| (millis(b.from), millis(b.to), b.tip.as_str()))
            .collect();
        assert_eq!(
            spans,
            [
                (0, 100, "store 2 (tikv1:20160): Up"),
                (100, 300, "store 2 (tikv1:20160): Disconnected"),
                (300, 400, "store 2 (tikv1:20160): Up"),
            ]
        );
    }

    /// Issue 18: a store that recovered while PD did not answer kept its last state, and a
    /// one-sample state was not told from a long one. What each band is drawn from, and how
    /// often the monitor looked, is now said.
    #[test]
    fn store_lanes_draw_only_what_was_sampled_and_say_how_often() {
        let store = |state: &str| serde_json::json!({"stores": [{"id": 2, "address": "tikv1:20160", "state": state}]});
        let mut failed = sample(1000, Value::Null);
        (failed.ok, failed.output, failed.error) = (false, None, Some("no answer".into()));
        let series = MonitorSeries {
            name: "pd".into(),
            uses: "pd.capture",
            interval_ms: 500,
            samples: vec![
                sample(0, store("Up")),
                sample(500, store("Disconnected")),
                failed,
                sample(1500, serde_json::json!({"stores": []})),
                sample(2000, store("Up")),
            ],
        };
        let lanes = monitor_lanes(&series, Duration::from_secs(3));
        let spans: Vec<(u64, u64, &str, usize)> = lanes[0]
            .bands
            .iter()
            .map(|b| (millis(b.from), millis(b.to), b.tip.as_str(), b.samples))
            .collect();
        assert_eq!(
            spans,
            [
                (0, 500, "store 2 (tikv1:20160): Up", 1),
                (500, 1000, "store 2 (tikv1:20160): Disconnected", 1),
                (1000, 1500, "no sample: no answer", 1),
                (1500, 2000, "not listed by PD", 1),
                (2000, 2500, "store 2 (tikv1:20160): Up", 1),
            ]
        );
        let scale = Scale {
            end: Duration::from_secs(3),
        };
        let row = lane_row(&lanes[0], &scale, 0.0);
        assert_eq!(
            row.bars[1].tip.as_deref(),
            Some("store 2 (tikv1:20160): Disconnected (500–1000 ms: 1 sample every 500 ms)")
        );
    }

    #[test]
    fn other_monitors_get_one_lane_of_ok_and_error_bands() {
        let mut failed = sample(100, Value::Null);
        failed.ok = false;
        failed.error = Some("refused".into());
        let series = MonitorSeries {
            name: "health".into(),
            uses: "http.request",
            interval_ms: 100,
            samples: vec![sample(0, serde_json::json!({"status": 200})), failed],
        };
        let lanes = monitor_lanes(&series, Duration::from_millis(150));
        assert_eq!(lanes.len(), 1);
        let tips: Vec<&str> = lanes[0].bands.iter().map(|b| b.tip.as_str()).collect();
        assert_eq!(tips, ["shown", "refused"]);
        assert_eq!(
            lanes[0].bands[1].to,
            Duration::from_millis(150),
            "the last sample holds until the run ends"
        );
    }

    #[test]
    fn only_injecting_steps_are_faults() {
        assert!(is_fault("docker.kill") && is_fault("network.partition"));
        assert!(
            is_fault("docker.restart"),
            "a restart takes the container down"
        );
        assert!(!is_fault("docker.start") && !is_fault("network.heal") && !is_fault("exec"));
        assert!(!is_fault("pd.config"), "a setting, not a fault");
    }
}
