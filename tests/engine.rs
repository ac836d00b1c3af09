//! The interpreter, end to end through the binary: finally, timeouts, signals, until-polling,
//! retries, background steps and exit codes.

mod common;

use std::time::{Duration, Instant};

use common::{chaosplay, code, run, scratch, step};

#[test]
fn finally_runs_after_a_failure() {
    let dir = scratch("finally-failure");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "failing"
[[steps]]
name = "boom"
uses = "exec"
with = { argv = ["sh", "-c", "echo oops >&2; exit 3"] }
[[steps]]
name = "never"
uses = "log"
with = { message = "unreachable" }
[[finally]]
name = "cleanup"
uses = "exec"
with = { argv = ["touch", "cleaned"] }
"#,
        &[],
    );
    assert_eq!(code(&out), 1);
    let boom = step(&report, "boom");
    assert_eq!(boom["status"], "failed");
    let message = boom["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("exited with 3") && message.contains("oops"),
        "{message}"
    );
    assert!(
        report["runs"][0]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"] != "never")
    );
    assert_eq!(step(&report, "cleanup")["status"], "passed");
    assert!(dir.join("cleaned").exists());
    assert_eq!(report["runs"][0]["status"], "failed");
}

#[test]
fn finally_runs_after_a_timeout() {
    let dir = scratch("finally-timeout");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "slow"
[[steps]]
name = "hang"
uses = "exec"
with = { argv = ["sleep", "30"] }
timeout = "300ms"
[[finally]]
name = "cleanup"
uses = "exec"
with = { argv = ["touch", "cleaned"] }
"#,
        &[],
    );
    assert_eq!(code(&out), 1);
    let hang = step(&report, "hang");
    assert_eq!(hang["status"], "timed_out");
    assert_eq!(hang["error"]["kind"], "timeout");
    assert!(hang["duration_ms"].as_u64().unwrap() < 10_000);
    assert!(dir.join("cleaned").exists());
}

#[test]
fn a_failing_cleanup_exits_4() {
    let dir = scratch("cleanup-fails");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "x"
[[steps]]
uses = "log"
with = { message = "hi" }
[[finally]]
name = "bad cleanup"
uses = "exec"
with = { argv = ["false"] }
[[finally]]
name = "still runs"
uses = "log"
with = { message = "after" }
"#,
        &[],
    );
    assert_eq!(code(&out), 4);
    assert_eq!(report["runs"][0]["status"], "cleanup_failed");
    assert_eq!(step(&report, "still runs")["status"], "passed");
}

#[test]
fn an_unreachable_endpoint_exits_3() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = scratch("unreachable");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "x"
[vars]
port = 1
[[steps]]
name = "probe"
uses = "http.request"
with = { url = "http://127.0.0.1:{{ vars.port }}/" }
"#,
        &["--var", &format!("port={port}")],
    );
    assert_eq!(code(&out), 3);
    assert_eq!(step(&report, "probe")["error"]["kind"], "environment");
    assert_eq!(report["runs"][0]["status"], "environment_error");
}

#[test]
fn until_polls_until_the_condition_holds() {
    let dir = scratch("until");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "poll"
[[steps]]
id = "count"
name = "count"
uses = "exec"
with = { argv = ["sh", "-c", "n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; echo $n"] }
until = "output.stdout | trim | int >= 3"
interval = "50ms"
timeout = "10s"
[[steps]]
uses = "assert"
with.that = ["steps.count.stdout | trim == '3'"]
"#,
        &[],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(step(&report, "count")["polls"], 3);
}

#[test]
fn until_times_out_showing_the_last_output() {
    let dir = scratch("until-timeout");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "poll"
[[steps]]
name = "never"
uses = "exec"
with = { argv = ["echo", "not ready"] }
until = "output.stdout == 'ready'"
interval = "50ms"
timeout = "400ms"
"#,
        &[],
    );
    assert_eq!(code(&out), 1);
    let never = step(&report, "never");
    assert_eq!(never["status"], "timed_out");
    let message = never["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("was false; last output") && message.contains("not ready"),
        "{message}"
    );
    assert!(never["polls"].as_u64().unwrap() >= 2);
}

#[test]
fn stable_for_needs_the_condition_to_hold_continuously() {
    let dir = scratch("stable");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "stable"
[[steps]]
name = "steady"
uses = "exec"
with = { argv = ["true"] }
until = "output.exit_code == 0"
interval = "50ms"
stable_for = "300ms"
timeout = "10s"
"#,
        &[],
    );
    assert_eq!(code(&out), 0);
    let steady = step(&report, "steady");
    assert!(steady["polls"].as_u64().unwrap() >= 6, "{steady}");
    assert!(steady["duration_ms"].as_u64().unwrap() >= 300);
}

#[test]
fn retries_until_an_attempt_succeeds() {
    let dir = scratch("retry");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "retry"
[[steps]]
name = "flaky"
uses = "exec"
with = { argv = ["sh", "-c", "n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; [ $n -ge 3 ]"] }
retry = { attempts = 5, delay = "20ms", backoff = 2.0 }
[[steps]]
name = "gives up"
uses = "exec"
with = { argv = ["false"] }
retry = { attempts = 2, delay = "10ms" }
"#,
        &[],
    );
    assert_eq!(code(&out), 1);
    assert_eq!(step(&report, "flaky")["attempts"], 3);
    assert_eq!(step(&report, "flaky")["status"], "passed");
    assert_eq!(step(&report, "gives up")["attempts"], 2);
    assert_eq!(step(&report, "gives up")["status"], "failed");
}

#[test]
fn background_steps_run_concurrently_and_are_awaited() {
    let dir = scratch("background");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "bg"
[[steps]]
id = "slow"
name = "slow"
uses = "exec"
with = { argv = ["sh", "-c", "sleep 0.4; echo done"] }
background = true
[[steps]]
id = "fast"
name = "fast"
uses = "exec"
with = { argv = ["echo", "fast"] }
[[steps]]
uses = "await"
with = { steps = ["slow"] }
[[steps]]
uses = "assert"
with.that = ["steps.slow.stdout | trim == 'done'"]
[[steps]]
id = "failing"
name = "failing"
uses = "exec"
with = { argv = ["false"] }
background = true
[[steps]]
name = "join failing"
uses = "await"
with = { steps = ["failing"] }
"#,
        &[],
    );
    assert_eq!(code(&out), 1);
    let slow = step(&report, "slow");
    let fast = step(&report, "fast");
    // The fast step started while the slow one was still running.
    assert!(
        fast["start_ms"].as_u64().unwrap()
            < slow["start_ms"].as_u64().unwrap() + slow["duration_ms"].as_u64().unwrap()
    );
    assert_eq!(slow["status"], "passed");
    let join = step(&report, "join failing");
    assert_eq!(join["status"], "failed");
    assert!(
        join["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`failing` failed")
    );
}

#[test]
fn timings_are_reported_in_microseconds_and_in_truncated_milliseconds() {
    let dir = scratch("timings");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "timed"
[[steps]]
name = "hello"
uses = "log"
with = { message = "hi" }
[[steps]]
name = "nap"
uses = "sleep"
with = { duration = "30ms" }
[[steps]]
name = "check"
uses = "assert"
with.that = ["1 + 1 == 2"]
"#,
        &[],
    );
    assert_eq!(code(&out), 0, "{report:#}");
    let us = |v: &serde_json::Value, name: &str| {
        let us = v[format!("{name}_us")].as_u64().unwrap();
        assert_eq!(v[format!("{name}_ms")], us / 1000, "{name} in {v}");
        us
    };
    let nap = step(&report, "nap");
    assert!(us(nap, "duration") >= 30_000, "{nap}");
    let run = &report["runs"][0];
    let mut end = 0;
    for step in run["steps"].as_array().unwrap() {
        let start = us(step, "start");
        assert!(start >= end, "steps run one after the other: {step}");
        end = start + us(step, "duration");
    }
    assert!(us(run, "duration") >= end, "{run}");
    let started_at = run["started_at"].as_str().unwrap();
    let fraction = started_at.rsplit_once('.').unwrap().1;
    assert_eq!(fraction.len(), "123456Z".len(), "{started_at}");
}

#[test]
fn if_false_skips_and_templates_keep_types() {
    let dir = scratch("if");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "if"
[vars]
enabled = false
n = 2
[[steps]]
name = "skipped"
uses = "exec"
with = { argv = ["false"] }
if = "vars.enabled"
[[steps]]
id = "echo"
name = "echo"
uses = "exec"
with = { argv = ["echo", "{{ vars.n * 21 }}"], expect_exit = ["{{ vars.n - 2 }}"] }
[[steps]]
uses = "assert"
with.that = ["steps.echo.stdout | trim == '42'", "vars.n is integer"]
"#,
        &["--var", "n=2"],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(step(&report, "skipped")["status"], "skipped");
    assert_eq!(
        step(&report, "echo")["params"]["expect_exit"],
        serde_json::json!([0])
    );
}

#[test]
fn failed_assertions_show_the_values_they_read() {
    let dir = scratch("assert");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "assert"
[vars]
stores = 3
[[steps]]
id = "probe"
uses = "exec"
with = { argv = ["echo", "2"] }
[[steps]]
name = "check"
uses = "assert"
with.that = ["steps.probe.stdout | trim | int == vars.stores", "vars.stores > 0"]
"#,
        &[],
    );
    assert_eq!(code(&out), 1);
    let message = step(&report, "check")["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        message,
        "assertion failed: steps.probe.stdout | trim | int == vars.stores\n  steps.probe.stdout = \"2\\n\"\n  vars.stores = 3"
    );
}

#[test]
fn vars_file_and_var_override_in_order() {
    let dir = scratch("vars");
    common::write(&dir, "vars.toml", "name = \"from-file\"\ncount = 7\n");
    let vars_file = dir.join("vars.toml");
    let (out, _) = run(
        &dir,
        r#"
[scenario]
name = "x"
[vars]
name = "default"
count = 1
[[steps]]
uses = "assert"
with.that = ["vars.name == 'from-file'", "vars.count == 9"]
"#,
        &[
            "--vars-file",
            vars_file.to_str().unwrap(),
            "--var",
            "count=9",
        ],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
}

/// Starts a playbook whose first step sleeps, waits until it is running, and sends signals.
fn interrupt(
    name: &str,
    finally_argv: &str,
    signals: &[&str],
) -> (i32, std::path::PathBuf, Duration) {
    let dir = scratch(name);
    let started = dir.join("started");
    let playbook = format!(
        r#"
[scenario]
name = "interrupt"
[[steps]]
uses = "exec"
with = {{ argv = ["sh", "-c", "touch {started}; exec sleep 60"] }}
[[finally]]
uses = "exec"
with = {{ argv = {finally_argv} }}
"#,
        started = started.display()
    );
    let path = common::write(&dir, "p.toml", &playbook);
    let mut child = chaosplay()
        .current_dir(&dir)
        .arg("run")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the first step never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Instant::now();
    for signal in signals {
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(300));
    }
    let status = child.wait().unwrap();
    (status.code().unwrap_or(-1), dir, sent.elapsed())
}

#[test]
fn sigint_cancels_the_step_and_runs_finally() {
    let (code, dir, _) = interrupt("sigint", r#"["touch", "cleaned"]"#, &["INT"]);
    assert_eq!(code, 130);
    assert!(
        dir.join("cleaned").exists(),
        "finally must run after Ctrl-C"
    );
}

#[test]
fn sigterm_exits_143_after_cleanup() {
    let (code, dir, _) = interrupt("sigterm", r#"["touch", "cleaned"]"#, &["TERM"]);
    assert_eq!(code, 143);
    assert!(dir.join("cleaned").exists());
}

#[test]
fn a_second_sigint_aborts_cleanup() {
    let (code, dir, _) = interrupt(
        "sigint-twice",
        r#"["sh", "-c", "sleep 30; touch cleaned"]"#,
        &["INT", "INT"],
    );
    assert_eq!(code, 130);
    assert!(
        !dir.join("cleaned").exists(),
        "the second signal must stop cleanup"
    );
}

#[test]
fn several_playbooks_run_in_order_and_the_worst_exit_code_wins() {
    let dir = scratch("several");
    let ok = common::write(
        &dir,
        "ok.toml",
        r#"
[scenario]
name = "ok"
[[steps]]
uses = "log"
with = { message = "fine" }
"#,
    );
    let bad = common::write(
        &dir,
        "bad.toml",
        r#"
[scenario]
name = "bad"
[[steps]]
uses = "assert"
with.that = ["false"]
"#,
    );
    let report = dir.join("r.json");
    let out = chaosplay()
        .arg("run")
        .args([&ok, &bad])
        .arg("--report-json")
        .arg(&report)
        .arg("-q")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    assert_eq!(report["format"], "chaosplay-report/1");
    assert_eq!(report["exit_code"], 1);
    let names: Vec<_> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scenario"]["name"].clone())
        .collect();
    assert_eq!(names, ["ok", "bad"]);
}

#[test]
fn the_seed_is_reported_and_readable() {
    let dir = scratch("seed");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "x"
[[steps]]
uses = "assert"
with.that = ["run.seed == 42", "run.trial == 1", "run.scenario == 'x'"]
"#,
        &["--seed", "42"],
    );
    assert_eq!(code(&out), 0);
    assert_eq!(report["runs"][0]["seed"], 42);
    assert!(String::from_utf8_lossy(&out.stdout).contains("seed 42"));
}

#[test]
fn a_seed_beyond_i64_renders_with_every_digit() {
    let dir = scratch("seed-u64");
    let written = dir.join("seed.txt");
    let playbook = format!(
        "[scenario]\nname = \"x\"\n[[steps]]\nuses = \"exec\"\nwith = {{ argv = [\"sh\", \"-c\", \"printf %s \\\"$0\\\" > {}\", \"{{{{ run.seed }}}}\"] }}\n",
        written.display()
    );
    let (out, report) = run(&dir, &playbook, &["--seed", "18446744073709551557"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(report["runs"][0]["seed"], 18446744073709551557_u64);
    // It once went through an f64: "18446744073709552000".
    assert_eq!(
        std::fs::read_to_string(&written).unwrap(),
        "18446744073709551557"
    );
}

#[test]
fn a_signal_during_one_playbook_stops_the_ones_after_it() {
    let dir = scratch("sigint-later-playbooks");
    let started = dir.join("started");
    let later = dir.join("later-ran");
    let _ = std::fs::remove_file(&started);
    let _ = std::fs::remove_file(&later);
    let first = common::write(
        &dir,
        "first.toml",
        &format!(
            r#"
[scenario]
name = "first"
[[steps]]
uses = "exec"
with = {{ argv = ["sh", "-c", "touch {}; exec sleep 60"] }}
"#,
            started.display()
        ),
    );
    let second = common::write(
        &dir,
        "second.toml",
        &format!(
            r#"
[scenario]
name = "second"
[[steps]]
uses = "exec"
with = {{ argv = ["touch", "{}"] }}
"#,
            later.display()
        ),
    );
    let report = dir.join("report.json");
    let mut child = chaosplay()
        .args(["run", "--trials", "2", "--jobs", "2", "--report-json"])
        .arg(&report)
        .arg(&first)
        .arg(&second)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.exists() {
        assert!(
            Instant::now() < deadline,
            "the first playbook never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert!(!later.exists(), "no playbook starts after Ctrl-C");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let names: Vec<&str> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scenario"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["first", "first"],
        "only the interrupted playbook has runs"
    );
}

/// A template that would loop for hours runs out of minijinja's fuel instead: rendering is
/// synchronous, so without a budget neither the step's timeout nor a signal could stop it,
/// and `[[finally]]` would never run.
#[test]
fn a_runaway_template_fails_and_finally_still_runs() {
    let dir = scratch("runaway-template");
    let playbook = common::write(
        &dir,
        "runaway.toml",
        r#"[scenario]
name = "runaway"
[[steps]]
name = "spin"
uses = "log"
timeout = "1s"
with = { message = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}done" }
[[finally]]
name = "cleanup"
uses = "log"
with = { message = "cleaned up" }
"#,
    );
    let report = dir.join("report.json");
    let mut child = chaosplay()
        .arg("run")
        .arg(&playbook)
        .arg("--report-json")
        .arg(&report)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Bounded: a regression must fail the test, not hang it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("still rendering after 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let spin = step(&report, "spin");
    assert_eq!(spin["error"]["kind"], "template", "{spin}");
    assert!(
        spin["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ran out of fuel"),
        "{spin}"
    );
    assert_eq!(step(&report, "cleanup")["status"], "passed");
}
