//! Metrics and repeated trials: what evaluation harnesses read.

mod common;

use common::{code, run, scratch};

const PLAYBOOK: &str = r#"
[scenario]
name = "trials"
[[steps]]
name = "nap"
uses = "sleep"
with = { duration = "20ms" }
record = "nap_ms"
[[steps]]
name = "count"
uses = "exec"
with = { argv = ["echo", "{{ run.trial * 10 }}"] }
record = { name = "tens", value = "output.stdout | trim | int" }
[[steps]]
name = "check"
uses = "assert"
with.that = ["metrics.tens == run.trial * 10", "run.trial != 2"]
"#;

#[test]
fn trials_summarise_pass_rate_metrics_and_steps() {
    let dir = scratch("trials");
    let (out, report) = run(&dir, PLAYBOOK, &["--trials", "5", "--seed", "9"]);
    assert_eq!(code(&out), 1, "trial 2 fails by design");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    let seeds: Vec<u64> = runs.iter().map(|r| r["seed"].as_u64().unwrap()).collect();
    assert_eq!(seeds[0], 9, "trial 1 uses the given seed");
    let mut unique = seeds.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 5, "every trial has its own seed");

    let summary = &report["summaries"][0];
    assert_eq!(summary["trials"], 5);
    assert_eq!(
        summary["passed"].as_u64().unwrap() + summary["failed"].as_u64().unwrap(),
        5
    );
    assert_eq!(summary["passed"], 4);
    assert_eq!(summary["pass_rate"], 0.8);
    assert_eq!(summary["seeds"].as_array().unwrap().len(), 5);
    let tens = &summary["metrics"]["tens"];
    assert_eq!(tens["count"], 5);
    assert_eq!(
        (tens["min"].as_f64(), tens["max"].as_f64()),
        (Some(10.0), Some(50.0))
    );
    assert_eq!(tens["p50"], 30.0);
    for (name, d) in summary["metrics"]
        .as_object()
        .unwrap()
        .iter()
        .chain(summary["steps"].as_object().unwrap())
    {
        let (p50, p90, max) = (
            d["p50"].as_f64().unwrap(),
            d["p90"].as_f64().unwrap(),
            d["max"].as_f64().unwrap(),
        );
        assert!(p50 <= p90 && p90 <= max, "{name}: {d}");
    }
    assert!(summary["metrics"]["nap_ms"]["min"].as_f64().unwrap() >= 20.0);
    // The check passed in 4 trials: its distribution counts only those.
    assert_eq!(summary["steps"]["03 check"]["count"], 4);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("trials: trials — 4/5 passed (80%)"),
        "{stdout}"
    );
}

#[test]
fn fail_fast_stops_at_the_first_failing_trial() {
    let dir = scratch("trials-fail-fast");
    let (out, report) = run(&dir, PLAYBOOK, &["--trials", "5", "--fail-fast", "-q"]);
    assert_eq!(code(&out), 1);
    assert_eq!(report["runs"].as_array().unwrap().len(), 2);
    assert_eq!(report["summaries"][0]["pass_rate"], 0.5);
}

#[test]
fn metrics_are_per_trial_and_readable_in_expressions() {
    let dir = scratch("metrics");
    let (out, report) = run(&dir, PLAYBOOK, &["--seed", "1"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["runs"][0]["metrics"]["tens"], 10.0);
    assert!(
        report["summaries"].as_array().unwrap().is_empty(),
        "a single run has no summary"
    );
}

/// Trials side by side of a playbook without a compose project: each has its own undo ledger
/// and lock, so none is refused as "another run" of the same process.
#[test]
fn parallel_trials_without_a_project_all_run() {
    let dir = scratch("trials-jobs");
    let (out, report) = run(
        &dir,
        "[scenario]\nname = \"side-by-side\"\n[[steps]]\nname = \"nap\"\nuses = \"sleep\"\nwith = { duration = \"200ms\" }\n",
        &["--trials", "3", "--jobs", "3"],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    for run in runs {
        assert_eq!(run["status"], "passed", "{run}");
    }
    // They overlapped in time: otherwise the test would prove nothing about the lock.
    let mut starts: Vec<String> = runs
        .iter()
        .map(|r| r["started_at"].as_str().unwrap().to_string())
        .collect();
    starts.sort();
    let first = humantime::parse_rfc3339(&starts[0]).unwrap();
    let last = humantime::parse_rfc3339(&starts[2]).unwrap();
    assert!(
        last.duration_since(first).unwrap() < std::time::Duration::from_millis(200),
        "{starts:?}"
    );
}
