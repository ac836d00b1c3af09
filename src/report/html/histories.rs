//! The operation histories a run recorded, drawn as Jepsen draws them: one lane per client,
//! each operation a bar from its invocation to its completion, and the operations a check
//! step could not linearize highlighted and listed.
//!
//! Steps agree on two output fields (docs/report.md): a step that recorded a history, or
//! checked one, names the file in `history`; a check step adds `verdict` and, when the
//! history is not linearizable, `anomaly_ops` (0-based line indices in the file), `key` and
//! `explanation`. The file is read again here, in chaosplay's JSON-lines format.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::timeline::nice_tick;
use crate::engine::StepRecord;
use crate::history::{Operation, Outcome};
use crate::report::stats::step_key;

/// At most this many operations are drawn, so a long recording keeps the page light.
const MAX_OPS: usize = 2000;
/// At most this many client lanes: a client whose operation is unknown never issues another,
/// so a run with many timeouts has many short-lived clients.
const MAX_LANES: usize = 64;
/// A larger file is not read.
const MAX_BYTES: u64 = 64 << 20;
const WIDTH: f64 = 1000.0;
const LABEL_W: f64 = 90.0;
const LANE_H: f64 = 16.0;
const AXIS_H: f64 = 24.0;

#[derive(Serialize)]
pub(super) struct HistoryView {
    path: String,
    /// The steps that name the file.
    steps: String,
    /// Why nothing is drawn: the file cannot be read.
    problem: Option<String>,
    verdicts: Vec<VerdictView>,
    /// What was left out, when the history is larger than what is drawn.
    capped: Option<String>,
    chart: Option<Chart>,
    /// The highlighted operations, as a table.
    anomalies: Vec<OpRow>,
}

#[derive(Serialize)]
struct VerdictView {
    step: String,
    /// The `badge` class: `passed`, `failed` or `interrupted` (unknown).
    class: &'static str,
    word: String,
    key: Option<String>,
    explanation: Option<String>,
}

#[derive(Serialize)]
struct Chart {
    width: String,
    height: String,
    axis: String,
    ticks: Vec<Tick>,
    lanes: Vec<ClientLane>,
}

#[derive(Serialize)]
struct Tick {
    x: String,
    label: String,
}

#[derive(Serialize)]
struct ClientLane {
    label: String,
    text_y: String,
    ops: Vec<OpBar>,
}

#[derive(Serialize)]
struct OpBar {
    x: String,
    y: String,
    w: String,
    h: String,
    fill: &'static str,
    anomaly: bool,
    title: String,
    /// An anomaly's call, written after its bar.
    label: Option<OpLabel>,
}

#[derive(Serialize)]
struct OpLabel {
    x: String,
    y: String,
    text: String,
}

#[derive(Serialize)]
struct OpRow {
    line: usize,
    client: u64,
    key: String,
    call: String,
    outcome: String,
    invoke: u64,
    complete: String,
}

/// One operation of the file, with its 0-based line index.
struct Op {
    line: usize,
    op: Operation,
}

/// Every history file the run's steps name, once each (however they spell its path), in
/// the order first named.
pub(super) fn views(steps: &[StepRecord]) -> Vec<HistoryView> {
    let mut files: Vec<(PathBuf, &str, Vec<&StepRecord>)> = Vec::new();
    for step in steps {
        let Some(named) = step.output.as_ref().and_then(|o| o["history"].as_str()) else {
            continue;
        };
        let same = std::fs::canonicalize(named).unwrap_or_else(|_| PathBuf::from(named));
        match files.iter_mut().find(|(p, _, _)| *p == same) {
            Some((_, _, steps)) => steps.push(step),
            None => files.push((same, named, vec![step])),
        }
    }
    files
        .into_iter()
        .map(|(_, named, steps)| view(Path::new(named), &steps))
        .collect()
}

fn view(path: &Path, steps: &[&StepRecord]) -> HistoryView {
    let outputs = steps.iter().filter_map(|s| s.output.as_ref());
    let anomalies: Vec<usize> = outputs
        .flat_map(|o| o["anomaly_ops"].as_array().into_iter().flatten())
        .filter_map(|i| i.as_u64().map(|i| i as usize))
        .collect();
    let mut view = HistoryView {
        path: path.display().to_string(),
        steps: steps
            .iter()
            .map(|s| step_key(s))
            .collect::<Vec<_>>()
            .join(", "),
        problem: None,
        verdicts: steps.iter().filter_map(|s| verdict(s)).collect(),
        capped: None,
        chart: None,
        anomalies: Vec::new(),
    };
    match read(path) {
        Err(problem) => view.problem = Some(problem),
        Ok(ops) => {
            let (drawn, capped) = select(ops, &anomalies);
            view.capped = capped;
            view.anomalies = (drawn.iter())
                .filter(|o| anomalies.contains(&o.line))
                .map(op_row)
                .collect();
            view.chart = Some(chart(&drawn, &anomalies));
        }
    }
    view
}

/// A check step's verdict, if the step is one (its output has `verdict`).
fn verdict(step: &StepRecord) -> Option<VerdictView> {
    let output = step.output.as_ref()?;
    let word = output["verdict"].as_str()?.replace('_', " ");
    let class = match word.as_str() {
        "linearizable" => "passed",
        "not linearizable" => "failed",
        _ => "interrupted",
    };
    let text = |field: &str| output[field].as_str().map(str::to_string);
    Some(VerdictView {
        step: step_key(step),
        class,
        word,
        key: text("key"),
        explanation: text("explanation"),
    })
}

/// The file's operations, each with its line index; an error says why it cannot be drawn.
fn read(path: &Path) -> Result<Vec<Op>, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_BYTES {
        return Err(format!("{size} bytes, more than the {MAX_BYTES} drawn"));
    }
    parse(&std::fs::read_to_string(path).map_err(|e| e.to_string())?)
}

fn parse(text: &str) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    for (line, text) in text.lines().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        // One line is a whole history in the JSON-lines format, read by the checker's reader.
        let mut parsed = crate::history::read(text, None).map_err(|e| {
            format!(
                "line {}: {} (not chaosplay's JSON-lines history format?)",
                line + 1,
                e.message
            )
        })?;
        match parsed.history.operations.pop() {
            Some(op) if parsed.history.operations.is_empty() => ops.push(Op { line, op }),
            _ => return Err(format!("line {}: not one operation", line + 1)),
        }
    }
    Ok(ops)
}

/// The operations to draw, by invocation: all of them, or [`MAX_OPS`] around the first
/// anomaly (every anomaly kept) on at most [`MAX_LANES`] clients, with what was left out.
fn select(mut ops: Vec<Op>, anomalies: &[usize]) -> (Vec<Op>, Option<String>) {
    ops.sort_by_key(|o| (o.op.invoke, o.line));
    let total = ops.len();
    let mut dropped = Vec::new();
    if total > MAX_OPS {
        let first = ops.iter().position(|o| anomalies.contains(&o.line));
        let start = first.map_or(0, |at| at.saturating_sub(MAX_OPS / 2).min(total - MAX_OPS));
        let window = start..start + MAX_OPS;
        let mut i = 0;
        ops.retain(|o| {
            i += 1;
            window.contains(&(i - 1)) || anomalies.contains(&o.line)
        });
        let which = match first {
            Some(_) => "invoked far from the first highlighted one",
            None => "invoked last",
        };
        dropped.push(format!("{} operations {which}", total - ops.len()));
    }
    let clients = lane_order(&ops, anomalies);
    if clients.len() > MAX_LANES {
        let before = ops.len();
        ops.retain(|o| clients[..MAX_LANES].contains(&o.op.client));
        dropped.push(format!(
            "{} operations of {} more clients",
            before - ops.len(),
            clients.len() - MAX_LANES
        ));
    }
    let note = (!dropped.is_empty()).then(|| {
        format!(
            "{} of {total} operations drawn; not drawn: {}.",
            ops.len(),
            dropped.join("; ")
        )
    });
    (ops, note)
}

/// Clients in lane order: those of anomalies first, then by first invocation.
fn lane_order(ops: &[Op], anomalies: &[usize]) -> Vec<u64> {
    let mut clients: Vec<u64> = Vec::new();
    let flagged = ops.iter().filter(|o| anomalies.contains(&o.line));
    for o in flagged.chain(ops) {
        if !clients.contains(&o.op.client) {
            clients.push(o.op.client);
        }
    }
    clients
}

fn op_row(o: &Op) -> OpRow {
    OpRow {
        line: o.line + 1,
        client: o.op.client,
        key: o.op.key.clone().unwrap_or_default(),
        call: o.op.call.to_string(),
        outcome: outcome_word(o.op.outcome).to_string(),
        invoke: o.op.invoke,
        complete: o.op.complete.map_or("—".to_string(), |t| t.to_string()),
    }
}

fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Unknown => "unknown",
    }
}

/// Reads in blue, writes in green, failures grey, unknown outcomes amber (drawn to the end:
/// they may take effect at any later time).
fn colour(op: &Operation) -> &'static str {
    match op.outcome {
        Outcome::Fail => "#c8c8c8",
        Outcome::Unknown => "#f0a30a",
        Outcome::Ok if op.call.is_read() => "#5b8def",
        Outcome::Ok => "#2e9d5b",
    }
}

/// The recorder's time axis, from the first invocation to the last completion.
struct Axis {
    from: u64,
    to: u64,
}

impl Axis {
    fn x(&self, t: u64) -> f64 {
        let span = (self.to - self.from).max(1) as f64;
        LABEL_W + (t.saturating_sub(self.from)) as f64 / span * (WIDTH - LABEL_W - 10.0)
    }
}

fn chart(ops: &[Op], anomalies: &[usize]) -> Chart {
    let from = ops.iter().map(|o| o.op.invoke).min().unwrap_or(0);
    let to = ops
        .iter()
        .map(|o| o.op.complete.unwrap_or(o.op.invoke))
        .max()
        .unwrap_or(from)
        .max(from + 1);
    let axis = Axis { from, to };
    let clients = lane_order(ops, anomalies);
    let height = AXIS_H + clients.len() as f64 * LANE_H + 6.0;
    let step = nice_tick(to - from);
    let ticks = (0..=(to - from) / step)
        .map(|i| Tick {
            x: format!("{:.1}", axis.x(from + i * step)),
            label: (i * step).to_string(),
        })
        .collect();
    let lanes = clients
        .iter()
        .enumerate()
        .map(|(i, client)| {
            let y = AXIS_H + i as f64 * LANE_H;
            let mine = ops.iter().filter(|o| o.op.client == *client);
            ClientLane {
                label: format!("client {client}"),
                text_y: format!("{:.1}", y + 12.0),
                ops: mine.map(|o| bar(o, &axis, y, anomalies)).collect(),
            }
        })
        .collect();
    Chart {
        width: WIDTH.to_string(),
        height: height.to_string(),
        axis: AXIS_H.to_string(),
        ticks,
        lanes,
    }
}

fn bar(o: &Op, axis: &Axis, y: f64, anomalies: &[usize]) -> OpBar {
    let op = &o.op;
    let end = match op.outcome {
        Outcome::Unknown => axis.to,
        _ => op.complete.unwrap_or(op.invoke),
    };
    let (x, w) = (
        axis.x(op.invoke),
        (axis.x(end) - axis.x(op.invoke)).max(2.0),
    );
    let anomaly = anomalies.contains(&o.line);
    let key = op
        .key
        .as_ref()
        .map_or(String::new(), |k| format!(" · key {k}"));
    let complete = op.complete.map_or("—".to_string(), |t| t.to_string());
    OpBar {
        x: format!("{x:.1}"),
        y: format!("{:.1}", y + 3.0),
        w: format!("{w:.1}"),
        h: format!("{:.1}", LANE_H - 6.0),
        fill: colour(op),
        anomaly,
        title: format!(
            "client {}{key}: {} · {} · {}–{complete} (line {})",
            op.client,
            op.call,
            outcome_word(op.outcome),
            op.invoke,
            o.line + 1
        ),
        label: anomaly.then(|| OpLabel {
            x: format!("{:.1}", (x + w + 4.0).min(WIDTH - 120.0)),
            y: format!("{:.1}", y + 12.0),
            text: op.call.to_string(),
        }),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::history::{Budget, Verdict, check};
    use crate::test_support::TempDir;

    /// etcd_000 (not linearizable) in chaosplay's JSON-lines format, written in `dir`, with
    /// the operations the checker blocked on: what a workload step and a check step would
    /// leave behind.
    pub(in crate::report::html) fn etcd_000_as_json_lines(dir: &TempDir) -> (PathBuf, Vec<usize>) {
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/histories/jepsen-etcd/etcd_000.log"
        );
        let parsed = crate::history::read(&std::fs::read_to_string(fixture).unwrap(), None)
            .expect("the fixture reads");
        let budget = Budget {
            deadline: None,
            max_bytes: 1 << 28,
        };
        let (Verdict::NotLinearizable(violation), _) = check(&parsed.history, parsed.model, budget)
        else {
            panic!("etcd_000 is not linearizable");
        };
        let path = dir.write("etcd_000.jsonl", &parsed.history.to_json_lines());
        // One operation per line, in order: an operation's index is its line index.
        (path, violation.blocked)
    }

    pub(in crate::report::html) fn history_step(index: usize, output: Value) -> StepRecord {
        StepRecord {
            phase: crate::playbook::Phase::Steps,
            index,
            id: None,
            name: format!("step {index}"),
            uses: "exec",
            line: index + 3,
            background: false,
            status: crate::engine::StepStatus::Passed,
            params: None,
            output: Some(output),
            attempts: 1,
            polls: 0,
            resolution_us: None,
            error: None,
            tolerated: false,
            warnings: Vec::new(),
            timing: crate::engine::timing::Timing {
                start: Duration::ZERO,
                duration: Duration::from_millis(1),
            },
        }
    }

    use serde_json::{Value, json};

    #[test]
    fn a_history_and_its_check_are_drawn_once_with_the_anomaly_highlighted() {
        let dir = TempDir::new();
        let (path, blocked) = etcd_000_as_json_lines(&dir);
        let file = path.to_str().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let spelled = format!("{}/./{name}", path.parent().unwrap().display());
        let steps = [
            history_step(0, json!({"history": file})),
            history_step(1, json!({"no": "history"})),
            history_step(
                2,
                json!({"history": spelled, "verdict": "not linearizable", "anomaly_ops": blocked,
                       "key": null, "explanation": "client 11 read → 2 cannot be placed"}),
            ),
        ];
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        let views = views(&steps);
        assert_eq!(views.len(), 1, "two spellings of one file: drawn once");
        let view = &views[0];
        assert_eq!(view.problem, None);
        assert_eq!(view.steps, "01 step 0, 03 step 2");
        assert_eq!(view.path, file, "shown as first named");
        assert_eq!(view.verdicts.len(), 1);
        assert_eq!(view.verdicts[0].class, "failed");
        assert_eq!(view.capped, None, "65 operations are all drawn");
        let chart = view.chart.as_ref().unwrap();
        let ops: Vec<&OpBar> = chart.lanes.iter().flat_map(|l| &l.ops).collect();
        assert_eq!(ops.len(), lines, "every operation is a bar");
        let flagged: Vec<&&OpBar> = ops.iter().filter(|o| o.anomaly).collect();
        assert_eq!(flagged.len(), blocked.len());
        assert!(flagged.iter().all(|o| o.label.is_some()));
        let lines: Vec<usize> = view.anomalies.iter().map(|r| r.line - 1).collect();
        assert_eq!(lines, blocked, "the table lists the anomalies, by line");
        let first = &chart.lanes[0];
        assert!(
            first.ops.iter().any(|o| o.anomaly),
            "the anomaly's client comes first: {}",
            first.label
        );
    }

    #[test]
    fn a_long_history_is_capped_around_the_anomaly_and_says_so() {
        let lines: String = (0..2500u64)
            .map(|i| {
                format!(
                    "{{\"client\":{},\"f\":\"write\",\"value\":{i},\"invoke\":{},\"complete\":{},\"outcome\":\"ok\"}}\n",
                    i % 5,
                    i * 10,
                    i * 10 + 5
                )
            })
            .collect();
        let ops = parse(&lines).unwrap();
        let (drawn, note) = select(ops, &[2400, 3]);
        assert_eq!(
            drawn.len(),
            MAX_OPS + 1,
            "the window, and the anomaly outside it"
        );
        assert!(drawn.iter().any(|o| o.line == 2400) && drawn.iter().any(|o| o.line == 3));
        assert_eq!(
            note.as_deref(),
            Some(
                "2001 of 2500 operations drawn; not drawn: 499 operations invoked far from \
                 the first highlighted one."
            )
        );
    }

    #[test]
    fn a_file_that_is_not_a_history_is_named_not_drawn() {
        let text = "{\"client\":1,\"f\":\"write\",\"value\":1,\"invoke\":1,\"complete\":2,\"outcome\":\"ok\"}\n\nnot json\n";
        let err = parse(text).err().unwrap();
        assert!(err.starts_with("line 3: "), "{err}");
        let missing = read(Path::new("/nonexistent/history.jsonl")).err().unwrap();
        assert!(missing.contains("No such file"), "{missing}");
    }
}
