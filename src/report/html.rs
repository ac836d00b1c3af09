//! The HTML report: one self-contained file (inline CSS, SVG and a little script, no external
//! URL) that a person opens after a run, or a CI job keeps as an artefact, to see what happened
//! when: each run's steps on a time axis with the faults marked and the container they hit,
//! the monitors' timelines under them (each store's state over time), metrics and undos.
//!
//! The markup lives in templates beside this file (`html/*.html`, with `style.css` and
//! `script.js`), compiled in with `include_str!`. minijinja escapes every value they print, as
//! `.html` templates autoescape: a name, message or output from a playbook, a subject or an
//! error can never become markup. This module only turns a run into plain values (strings
//! already formatted); [`timeline`] computes where the timeline's bars go.

mod histories;
mod timeline;

use std::path::Path;
use std::time::Duration;

use minijinja::Environment;
use serde::Serialize;

use super::stats::{Distribution, TrialSummary, by_playbook, step_key};
use super::{name, number};
use crate::engine::timing::millis;
use crate::engine::{RunResult, RunStatus};

pub fn write(
    path: &Path,
    runs: &[RunResult],
    summaries: &[TrialSummary],
    exit_code: i32,
) -> std::io::Result<()> {
    super::write_file(path, &render(runs, summaries, exit_code))
}

/// The templates, by name: the name's extension decides the escaping (HTML for `.html`).
const TEMPLATES: [(&str, &str); 5] = [
    ("page.html", include_str!("html/page.html")),
    ("run.html", include_str!("html/run.html")),
    ("timeline.html", include_str!("html/timeline.html")),
    ("macros.html", include_str!("html/macros.html")),
    ("history.html", include_str!("html/history.html")),
];
const STYLE: &str = include_str!("html/style.css");
/// Marks the page as rendered (the browser test looks for the marker) and shows start times in
/// the reader's time zone; without script the UTC times stay.
const SCRIPT: &str = include_str!("html/script.js");

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // A line holding only a `{% … %}` tag leaves nothing behind, so templates can be laid out
    // for reading without scattering blank lines through the page.
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters"),
    );
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .expect("the report's templates are valid (a unit test renders them)");
    }
    env
}

#[derive(Serialize)]
struct Page<'a> {
    title: String,
    version: &'static str,
    exit_code: i32,
    style: &'static str,
    script: &'static str,
    playbooks: Vec<PlaybookView<'a>>,
}

fn render(runs: &[RunResult], summaries: &[TrialSummary], exit_code: i32) -> String {
    let groups = by_playbook(runs);
    let title: Vec<&str> = groups.iter().map(|g| g[0].scenario.name.as_str()).collect();
    let page = Page {
        title: title.join(", "),
        version: env!("CARGO_PKG_VERSION"),
        exit_code,
        style: STYLE,
        script: SCRIPT,
        playbooks: groups
            .iter()
            .map(|trials| {
                let summary = summaries.iter().find(|s| s.file == trials[0].file);
                playbook_view(trials, summary)
            })
            .collect(),
    };
    environment()
        .get_template("page.html")
        .and_then(|template| template.render(minijinja::value::Serde(&page)))
        .expect("the report's templates render any run (a unit test renders them)")
}

/// A status as the templates' `badge` shows it: the JSON report's word as the CSS class.
#[derive(Serialize)]
struct Badge {
    class: String,
    word: String,
}

fn badge(status: impl Serialize) -> Badge {
    let class = name(status);
    Badge {
        word: class.replace('_', " "),
        class,
    }
}

#[derive(Serialize)]
struct PlaybookView<'a> {
    name: &'a str,
    description: &'a str,
    file: &'a str,
    status: Badge,
    seed: u64,
    /// With `--trials`: their pass rate and seeds.
    trials: Option<TrialsView>,
    duration: String,
    distributions: Vec<DistributionTable>,
    runs: Vec<RunView<'a>>,
}

#[derive(Serialize)]
struct TrialsView {
    passed: usize,
    count: usize,
    percent: String,
    seeds: String,
}

fn playbook_view<'a>(trials: &[&'a RunResult], summary: Option<&TrialSummary>) -> PlaybookView<'a> {
    let first = trials[0];
    let status = match summary {
        Some(s) if s.failed == 0 => badge(RunStatus::Passed),
        Some(_) => badge(RunStatus::Failed),
        None => badge(first.status),
    };
    let seeds = |s: &TrialSummary| s.seeds.iter().map(u64::to_string).collect::<Vec<_>>();
    PlaybookView {
        name: &first.scenario.name,
        description: &first.scenario.description,
        file: &first.file,
        status,
        seed: first.seed,
        trials: summary.map(|s| TrialsView {
            passed: s.passed,
            count: s.trials,
            percent: format!("{:.0}", s.pass_rate * 100.0),
            seeds: seeds(s).join(", "),
        }),
        duration: seconds(trials.iter().map(|r| r.duration).sum()),
        distributions: summary.map_or_else(Vec::new, |s| {
            [
                distributions("metric", &s.metrics, ""),
                distributions("step", &s.steps, " ms"),
            ]
            .into_iter()
            .flatten()
            .collect()
        }),
        runs: trials
            .iter()
            .map(|run| run_view(run, summary.is_some()))
            .collect(),
    }
}

#[derive(Serialize)]
struct DistributionTable {
    what: &'static str,
    unit: &'static str,
    rows: Vec<DistributionRow>,
}

#[derive(Serialize)]
struct DistributionRow {
    key: String,
    count: usize,
    p50: String,
    p90: String,
    max: String,
}

fn distributions(
    what: &'static str,
    values: &std::collections::BTreeMap<String, Distribution>,
    unit: &'static str,
) -> Option<DistributionTable> {
    let rows = values.iter().map(|(key, d)| DistributionRow {
        key: key.clone(),
        count: d.count,
        p50: number(d.p50),
        p90: number(d.p90),
        max: number(d.max),
    });
    (!values.is_empty()).then(|| DistributionTable {
        what,
        unit,
        rows: rows.collect(),
    })
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[derive(Serialize)]
struct RunView<'a> {
    heading: String,
    status: Badge,
    duration: String,
    started_at: String,
    error: Option<&'a str>,
    timeline: Option<timeline::Timeline>,
    histories: Vec<histories::HistoryView>,
    steps: Vec<StepRow>,
    metrics: Vec<Metric>,
    undo: Vec<UndoView<'a>>,
}

#[derive(Serialize)]
struct StepRow {
    key: String,
    uses: &'static str,
    status: Badge,
    start_ms: u64,
    duration_ms: u64,
    /// `kind: message`, empty when it succeeded.
    error: String,
}

#[derive(Serialize)]
struct Metric {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct UndoView<'a> {
    description: &'a str,
    error: Option<&'a str>,
    start_ms: u64,
    duration_ms: u64,
}

fn run_view(run: &RunResult, several: bool) -> RunView<'_> {
    RunView {
        heading: if several {
            format!("trial {} · seed {} · ", run.trial, run.seed)
        } else {
            String::new()
        },
        status: badge(run.status),
        duration: seconds(run.duration),
        // Milliseconds, not the report's microseconds: HTML's `datetime` allows at most three
        // fractional digits, and that is all `Date` is specified to parse.
        started_at: humantime::format_rfc3339_millis(run.started_at).to_string(),
        error: run.error.as_deref(),
        timeline: timeline::layout(run),
        histories: histories::views(&run.steps),
        steps: run
            .steps
            .iter()
            .map(|step| StepRow {
                key: step_key(step),
                uses: step.uses,
                status: badge(step.status),
                start_ms: millis(step.timing.start),
                duration_ms: millis(step.timing.duration),
                error: step.error.as_ref().map_or(String::new(), |e| {
                    format!("{}: {}", name(e.kind), e.message)
                }),
            })
            .collect(),
        metrics: run
            .metrics
            .iter()
            .map(|(key, value)| Metric {
                name: key.clone(),
                value: number(*value),
            })
            .collect(),
        undo: run
            .undo
            .iter()
            .map(|undo| UndoView {
                description: &undo.description,
                error: undo.error.as_deref(),
                start_ms: millis(undo.timing.start),
                duration_ms: millis(undo.timing.duration),
            })
            .collect(),
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    use serde_json::Value;

    use crate::engine::{MonitorSeries, StepRecord, StepStatus};

    fn sample(at_ms: u64, output: Value) -> crate::engine::Sample {
        crate::engine::Sample {
            at: Duration::from_millis(at_ms),
            ok: true,
            output: Some(output),
            error: None,
            show: Some("shown".into()),
        }
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
            tolerated: false,
            warnings: Vec::new(),
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
            monitors: monitors(),
        }
    }

    fn monitors() -> Vec<MonitorSeries> {
        let stores = |state: &str| serde_json::json!({"stores": [{"id": 1, "address": "tikv0:20160", "state": state}]});
        let mut failed = sample(300, Value::Null);
        failed.ok = false;
        failed.output = None;
        failed.error = Some("refused <x>".into());
        vec![
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
        ]
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
    fn a_recorded_history_is_drawn_under_the_timeline_with_its_check() {
        use super::histories::tests::{etcd_000_as_json_lines, history_step};
        let dir = crate::test_support::TempDir::new();
        let (path, blocked) = etcd_000_as_json_lines(&dir);
        let file = path.to_str().unwrap();
        let mut run = full_run(1, 1);
        run.steps
            .push(history_step(3, serde_json::json!({"history": file})));
        run.steps.push(history_step(
            4,
            serde_json::json!({"history": file, "verdict": "not linearizable",
                "anomaly_ops": blocked, "explanation": "read <2> cannot be placed"}),
        ));
        let page = render(&[run], &[], 1);
        assert_eq!(
            page.matches("<svg class=\"history\"").count(),
            1,
            "drawn once"
        );
        assert_eq!(
            page.matches("class=\"anomaly\"><title>").count(),
            blocked.len(),
            "each blocked operation is highlighted"
        );
        assert!(page.contains("<span class=\"badge s-failed\">not linearizable</span>"));
        assert!(page.contains("read &lt;2&gt; cannot be placed"), "escaped");
        for load in ["src=", "href=", "url(", "@import"] {
            assert!(!page.contains(load), "the page loads nothing: {load}");
        }
    }
}
