//! The HTML report: one self-contained file (inline CSS, SVG and a little script, no external
//! URL) that a person opens after a run, or a CI job keeps as an artefact, to see what happened
//! when: each run's steps on a time axis with the faults marked and the container they hit,
//! the monitors' timelines under them (each store's state over time), metrics and undos.
//! Every string that comes from a playbook, a subject or an error goes through [`esc`].

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::stats::{Distribution, TrialSummary, by_playbook, step_key};
use super::{name, number};
use crate::engine::timing::millis;
use crate::engine::{MonitorSeries, RunResult, RunStatus, StepRecord, StepStatus};
use crate::steps::StepKind;

pub fn write(
    path: &Path,
    runs: &[RunResult],
    summaries: &[TrialSummary],
    exit_code: i32,
) -> std::io::Result<()> {
    super::write_file(path, &render(runs, summaries, exit_code))
}

/// Escapes text for HTML and SVG, in element content and in quoted attributes alike.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: .5em 0; } th, td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #777; } .err { color: #b3261e; white-space: pre-wrap; }
.badge { display: inline-block; padding: 0 8px; border-radius: 9px; color: #fff; font-size: .85em; font-weight: 600; }
.s-passed { background: #2e9d5b; } .s-failed, .s-cleanup_failed, .s-timed_out { background: #d64541; }
.s-environment_error { background: #e67e22; } .s-interrupted, .s-cancelled, .s-skipped, .s-stopped { background: #888; }
svg.timeline { width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg.timeline .fault { stroke: #000; stroke-width: 2; }
svg.timeline .hit { font-weight: 700; fill: #8b0000; }
.legend span { margin-right: 1em; } .legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }
"#;

/// Marks the page as rendered (the browser test looks for the marker) and shows start times in
/// the reader's time zone; without script the UTC times stay.
const SCRIPT: &str = r#"
window.addEventListener("load", function () {
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) { t.title = t.textContent; t.textContent = d.toLocaleString(); }
  });
  var done = document.createElement("div");
  done.id = "rendered";
  done.hidden = true;
  document.body.appendChild(done);
});
"#;

fn render(runs: &[RunResult], summaries: &[TrialSummary], exit_code: i32) -> String {
    let groups = by_playbook(runs);
    let title: Vec<&str> = groups.iter().map(|g| g[0].scenario.name.as_str()).collect();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>chaosplay: {}</title><style>{STYLE}</style></head><body>\n\
         <h1>chaosplay report: {}</h1>\n<p class=\"muted\">chaosplay {} · exit code {exit_code}</p>\n",
        esc(&title.join(", ")),
        esc(&title.join(", ")),
        env!("CARGO_PKG_VERSION"),
    );
    for trials in &groups {
        let summary = summaries.iter().find(|s| s.file == trials[0].file);
        playbook_section(&mut out, trials, summary);
    }
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body></html>\n");
    out
}

fn badge(status: impl serde::Serialize) -> String {
    let status = name(status);
    format!(
        "<span class=\"badge s-{status}\">{}</span>",
        status.replace('_', " ")
    )
}

fn playbook_section(out: &mut String, trials: &[&RunResult], summary: Option<&TrialSummary>) {
    let first = trials[0];
    let _ = writeln!(
        out,
        "<section class=\"playbook\"><h2>{}</h2>",
        esc(&first.scenario.name)
    );
    if !first.scenario.description.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", esc(&first.scenario.description));
    }
    let _ = write!(
        out,
        "<table class=\"summary\"><tr><th>playbook</th><td>{}</td></tr>",
        esc(&first.file)
    );
    match summary {
        Some(s) => {
            let _ = write!(
                out,
                "<tr><th>status</th><td>{}</td></tr>\
                 <tr><th>pass rate</th><td>{}/{} passed ({:.0}%)</td></tr>\
                 <tr><th>seeds</th><td>{}</td></tr>",
                badge(if s.failed == 0 {
                    RunStatus::Passed
                } else {
                    RunStatus::Failed
                }),
                s.passed,
                s.trials,
                s.pass_rate * 100.0,
                s.seeds
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        None => {
            let _ = write!(
                out,
                "<tr><th>status</th><td>{}</td></tr><tr><th>seed</th><td>{}</td></tr>",
                badge(first.status),
                first.seed
            );
        }
    }
    let total: Duration = trials.iter().map(|r| r.duration).sum();
    let _ = writeln!(
        out,
        "<tr><th>duration</th><td>{}</td></tr></table>",
        seconds(total)
    );
    if let Some(s) = summary {
        distributions(out, "metric", &s.metrics, "");
        distributions(out, "step", &s.steps, " ms");
    }
    for run in trials {
        run_section(out, run, summary.is_some());
    }
    out.push_str("</section>\n");
}

fn distributions(
    out: &mut String,
    what: &str,
    values: &std::collections::BTreeMap<String, Distribution>,
    unit: &str,
) {
    if values.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<table class=\"distributions\"><tr><th>{what}</th><th class=\"num\">count</th>\
         <th class=\"num\">p50</th><th class=\"num\">p90</th><th class=\"num\">max</th></tr>"
    );
    for (key, d) in values {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}{unit}</td>\
             <td class=\"num\">{}{unit}</td><td class=\"num\">{}{unit}</td></tr>",
            esc(key),
            d.count,
            number(d.p50),
            number(d.p90),
            number(d.max)
        );
    }
    out.push_str("</table>\n");
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn run_section(out: &mut String, run: &RunResult, several: bool) {
    let heading = if several {
        format!("trial {} · seed {} · ", run.trial, run.seed)
    } else {
        String::new()
    };
    // Milliseconds, not the report's microseconds: HTML's `datetime` allows at most three
    // fractional digits, and that is all `Date` is specified to parse.
    let started_at = humantime::format_rfc3339_millis(run.started_at);
    let _ = writeln!(
        out,
        "<section class=\"run\"><h3>{heading}{} · {} · started <time datetime=\"{started_at}\">{started_at}</time></h3>",
        badge(run.status),
        seconds(run.duration),
    );
    if let Some(error) = &run.error {
        let _ = writeln!(out, "<p class=\"err\">{}</p>", esc(error));
    }
    timeline(out, run);
    steps_table(out, run);
    if !run.metrics.is_empty() {
        out.push_str("<h4>metrics</h4><table class=\"metrics\">");
        for (key, value) in &run.metrics {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
                esc(key),
                number(*value)
            );
        }
        out.push_str("</table>\n");
    }
    if !run.undo.is_empty() {
        out.push_str("<h4>undo</h4><ul class=\"undo\">");
        for undo in &run.undo {
            let outcome = match &undo.error {
                None => "ok".to_string(),
                Some(e) => format!("<span class=\"err\">failed: {}</span>", esc(e)),
            };
            let _ = write!(
                out,
                "<li>{} — {outcome} <span class=\"muted\">at {} ms, {} ms</span></li>",
                esc(&undo.description),
                millis(undo.timing.start),
                millis(undo.timing.duration)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

fn steps_table(out: &mut String, run: &RunResult) {
    if run.steps.is_empty() {
        return;
    }
    out.push_str(
        "<table class=\"steps\"><tr><th>step</th><th>kind</th><th>status</th>\
         <th class=\"num\">start</th><th class=\"num\">duration</th><th>error</th></tr>",
    );
    for step in &run.steps {
        let error = step.error.as_ref().map_or(String::new(), |e| {
            format!("{}: {}", name(e.kind), esc(&e.message))
        });
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{} ms</td>\
             <td class=\"num\">{} ms</td><td class=\"err\">{error}</td></tr>",
            esc(&step_key(step)),
            step.uses,
            badge(step.status),
            millis(step.timing.start),
            millis(step.timing.duration)
        );
    }
    out.push_str("</table>\n");
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

/// A band of a lane: `[from, to)` since the run started.
struct Band {
    from: Duration,
    to: Duration,
    colour: &'static str,
    tip: String,
}

struct Lane {
    label: String,
    bands: Vec<Band>,
}

/// Lanes of a monitor: one per PD store when its samples list `stores[]` with a `state`
/// (`pd.capture`, `pd.wait_stores`), else one of ok/error bands with each sample's `show`.
fn monitor_lanes(series: &MonitorSeries, end: Duration) -> Vec<Lane> {
    let samples = &series.samples;
    let interval = Duration::from_millis(series.interval_ms);
    // Each sample holds until the next one (the last one for one interval).
    let until = |i: usize| {
        let at = samples[i].at;
        samples
            .get(i + 1)
            .map_or((at + interval).min(end), |s| s.at)
            .max(at + Duration::from_millis(1))
    };
    let stores_of = |output: &Option<Value>| -> Vec<(String, String, String)> {
        output
            .as_ref()
            .and_then(|o| o["stores"].as_array())
            .map(|stores| {
                stores
                    .iter()
                    .filter_map(|s| {
                        let state = s["state"].as_str()?;
                        Some((
                            s["id"].to_string(),
                            s["address"].as_str().unwrap_or_default().to_string(),
                            state.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut store_lanes: Vec<(String, Lane)> = Vec::new();
    for (i, sample) in samples.iter().enumerate() {
        for (id, address, state) in stores_of(&sample.output) {
            let lane = match store_lanes.iter_mut().position(|(k, _)| *k == id) {
                Some(at) => &mut store_lanes[at].1,
                None => {
                    store_lanes.push((
                        id.clone(),
                        Lane {
                            label: format!("{} · store {id} {address}", series.name),
                            bands: Vec::new(),
                        },
                    ));
                    &mut store_lanes.last_mut().expect("just pushed").1
                }
            };
            push_band(
                &mut lane.bands,
                Band {
                    from: sample.at,
                    to: until(i),
                    colour: state_colour(&state),
                    tip: format!("store {id} ({address}): {state}"),
                },
            );
        }
    }
    if !store_lanes.is_empty() {
        return store_lanes.into_iter().map(|(_, lane)| lane).collect();
    }
    let mut lane = Lane {
        label: series.name.clone(),
        bands: Vec::new(),
    };
    for (i, sample) in samples.iter().enumerate() {
        let (colour, tip) = if sample.ok {
            ("#2e9d5b", sample.show.clone().unwrap_or_default())
        } else {
            ("#d64541", sample.error.clone().unwrap_or_default())
        };
        push_band(
            &mut lane.bands,
            Band {
                from: sample.at,
                to: until(i),
                colour,
                tip,
            },
        );
    }
    vec![lane]
}

/// Appends a band, merging it into the previous one when nothing changed, so a steady state
/// is one band with one tooltip rather than hundreds.
fn push_band(bands: &mut Vec<Band>, band: Band) {
    match bands.last_mut() {
        Some(last) if last.colour == band.colour && last.tip == band.tip => last.to = band.to,
        _ => bands.push(band),
    }
}

const WIDTH: f64 = 1000.0;
const LABEL_W: f64 = 280.0;
const ROW_H: f64 = 20.0;
const AXIS_H: f64 = 24.0;

/// Cuts a label to what fits the label column, by characters (never inside one).
fn clip(label: &str) -> String {
    const MAX: usize = 44;
    if label.chars().count() <= MAX {
        label.to_string()
    } else {
        label.chars().take(MAX - 1).chain(['…']).collect()
    }
}

fn timeline(out: &mut String, run: &RunResult) {
    let lanes: Vec<Lane> = run
        .monitors
        .iter()
        .filter(|m| !m.samples.is_empty())
        .flat_map(|m| monitor_lanes(m, run.duration))
        .collect();
    let rows = run.steps.len() + run.undo.len() + lanes.len();
    if rows == 0 {
        return;
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
    let plot_w = WIDTH - LABEL_W - 10.0;
    let x = |t: Duration| LABEL_W + t.as_secs_f64() / end.as_secs_f64() * plot_w;
    let w = |from: Duration, to: Duration| (x(to) - x(from)).max(2.0);
    let height = AXIS_H + rows as f64 * ROW_H + 6.0;
    let _ = write!(
        out,
        "<svg class=\"timeline\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-label=\"timeline of the run\">"
    );
    // A time axis with about 8 round ticks.
    let step = Duration::from_millis(nice_tick(millis(end)));
    let mut tick = Duration::ZERO;
    while tick <= end {
        let _ = write!(
            out,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{AXIS_H}\" y2=\"{height}\" stroke=\"#eee\"/>\
             <text x=\"{0:.1}\" y=\"14\" text-anchor=\"middle\" fill=\"#777\">{1}</text>",
            x(tick),
            seconds(tick)
        );
        tick += step;
    }
    let mut y = AXIS_H;
    for step in &run.steps {
        let fault = is_fault(step.uses);
        let label = format!("{}{}", if fault { "⚡ " } else { "" }, step_key(step));
        let error = step
            .error
            .as_ref()
            .map_or(String::new(), |e| format!("\n{}", e.message));
        let tip = format!(
            "{} ({}): {} at {} ms for {} ms{error}",
            step_key(step),
            step.uses,
            step.status.word(),
            millis(step.timing.start),
            millis(step.timing.duration)
        );
        let _ = write!(
            out,
            "<g class=\"step{}\"><title>{}</title><text x=\"4\" y=\"{:.1}\">{}</text>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{}\"{}/>",
            if fault { " fault-step" } else { "" },
            esc(&tip),
            y + 14.0,
            esc(&clip(&label)),
            x(step.timing.start),
            y + 3.0,
            w(step.timing.start, step.timing.end()),
            ROW_H - 6.0,
            step_colour(step.status),
            if fault { " class=\"fault\"" } else { "" }
        );
        if fault && let Some(container) = hit(step) {
            let after = x(step.timing.end()) + 6.0;
            let (anchor, at) = if after > WIDTH - 150.0 {
                ("end", x(step.timing.start) - 6.0)
            } else {
                ("start", after)
            };
            let _ = write!(
                out,
                "<text class=\"hit\" x=\"{at:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
                y + 14.0,
                esc(&container)
            );
        }
        out.push_str("</g>");
        y += ROW_H;
    }
    for undo in &run.undo {
        let colour = if undo.ok { "#5b8def" } else { "#d64541" };
        let _ = write!(
            out,
            "<g class=\"undo\"><title>{}</title><text x=\"4\" y=\"{:.1}\">{}</text>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{colour}\"/></g>",
            esc(&format!(
                "{}{}",
                undo.description,
                undo.error
                    .as_ref()
                    .map_or(String::new(), |e| format!(": {e}"))
            )),
            y + 14.0,
            esc(&clip(&format!("undo: {}", undo.description))),
            x(undo.timing.start),
            y + 3.0,
            w(undo.timing.start, undo.timing.end()),
            ROW_H - 6.0,
        );
        y += ROW_H;
    }
    for lane in &lanes {
        let _ = write!(
            out,
            "<g class=\"lane\"><text x=\"4\" y=\"{:.1}\" fill=\"#555\">{}</text>",
            y + 14.0,
            esc(&clip(&lane.label))
        );
        for band in &lane.bands {
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" \
                 opacity=\"0.8\"><title>{} ({}–{} ms)</title></rect>",
                x(band.from),
                y + 5.0,
                w(band.from, band.to),
                ROW_H - 10.0,
                band.colour,
                esc(&band.tip),
                millis(band.from),
                millis(band.to)
            );
        }
        out.push_str("</g>");
        y += ROW_H;
    }
    out.push_str("</svg>\n<p class=\"legend muted\">");
    for (label, colour) in [
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
    ] {
        let _ = write!(
            out,
            "<span><i style=\"background:{colour}\"></i>{label}</span>"
        );
    }
    out.push_str("<span>⚡ fault, outlined, with the container it hit</span></p>\n");
}

/// A round tick spacing (1, 2 or 5 × 10ⁿ ms) giving at most about 8 ticks over `end` ms.
fn nice_tick(end: u64) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<b a="1" c='2'>&</b>"#),
            "&lt;b a=&quot;1&quot; c=&#39;2&#39;&gt;&amp;&lt;/b&gt;"
        );
    }

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

    fn step(index: usize, uses: &'static str, status: StepStatus, ms: (u64, u64)) -> StepRecord {
        StepRecord {
            phase: crate::playbook::Phase::Steps,
            index,
            id: None,
            name: format!("{uses} <{index}>"),
            uses,
            line: index + 3,
            background: false,
            status,
            params: None,
            output: None,
            attempts: 1,
            polls: 0,
            resolution_us: None,
            error: None,
            timing: crate::engine::timing::Timing {
                start: Duration::from_millis(ms.0),
                duration: Duration::from_millis(ms.1),
            },
        }
    }

    /// A run with everything the page draws, and markup and quotes wherever a user's text goes.
    fn full_run(trial: u32, trials: u32) -> RunResult {
        let mut kill = step(0, "docker.kill", StepStatus::Passed, (0, 40));
        kill.output = Some(serde_json::json!({"container": "chaos-tikv0-1"}));
        let mut wait = step(1, "docker.wait", StepStatus::Failed, (40, 900));
        wait.error = Some(crate::engine::ErrorRecord {
            kind: crate::engine::ErrorKind::Failed,
            message: "it's <not> \"exited\" & more".into(),
        });
        let stores = |state: &str| serde_json::json!({"stores": [{"id": 1, "address": "tikv0:20160", "state": state}]});
        let mut failed = sample(300, Value::Null);
        failed.ok = false;
        failed.output = None;
        failed.error = Some("refused <x>".into());
        RunResult {
            scenario: toml::from_str("name = \"grid <b>\"\ndescription = \"a 'test' & <i>\"")
                .unwrap(),
            name: "grid <b>".into(),
            matrix: Default::default(),
            file: "scenarios/grid.toml".into(),
            seed: 7 + u64::from(trial),
            trial,
            trials,
            started_at: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            duration: Duration::from_millis(1200),
            status: if trial == 1 {
                RunStatus::Failed
            } else {
                RunStatus::Passed
            },
            interrupted_by: None,
            exit_code: 1,
            error: (trial == 2).then(|| "no <docker>".to_string()),
            metrics: [("time_to_up_ms".to_string(), 812.5)].into(),
            resolutions: Default::default(),
            steps: vec![kill, wait, step(2, "log", StepStatus::Skipped, (940, 0))],
            undo: vec![crate::engine::UndoRecord {
                undo: crate::steps::undo::Undo::Unpause {
                    container: "c".into(),
                },
                description: "start chaos-tikv0-1".into(),
                ok: trial == 1,
                error: (trial != 1).then(|| "gone <away>".to_string()),
                note: None,
                docker_unusable: false,
                timing: crate::engine::timing::Timing {
                    start: Duration::from_millis(1000),
                    duration: Duration::from_millis(150),
                },
            }],
            monitors: vec![
                MonitorSeries {
                    name: "pd".into(),
                    uses: "pd.capture",
                    interval_ms: 500,
                    samples: vec![
                        sample(0, stores("Up")),
                        sample(500, stores("Disconnected")),
                        sample(1000, stores("Up")),
                    ],
                },
                MonitorSeries {
                    name: "health <probe>".into(),
                    uses: "http.request",
                    interval_ms: 200,
                    samples: vec![sample(100, serde_json::json!({})), failed],
                },
            ],
        }
    }

    #[test]
    fn the_whole_page() {
        let single = full_run(1, 1);
        let mut other = full_run(1, 2);
        other.file = "scenarios/trials.toml".into();
        let mut second = full_run(2, 2);
        second.file = other.file.clone();
        let runs = vec![single, other, second];
        let summaries = crate::report::stats::summaries(&runs);
        let page = render(&runs, &summaries, 1).replace(env!("CARGO_PKG_VERSION"), "VERSION");
        insta::assert_snapshot!(page);
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
