//! `docker.stress` against the real engine: the load counts against the target's own CPU
//! quota and memory (its cgroup's counters rise while its quota caps them), cleanup removes the
//! helper and every stressor, so does `recover` after a SIGKILLed runner, and bad loads are
//! refused before anything runs.

mod common;

use common::docker::{docker_ok, playbook, remove_project, run_labelled, stress_image};
use common::{code, recover, run_here, scratch, sigkill, spawn_run, step, wait_until, write};

/// Reads the target's CPU and memory counters from its own cgroup files, under cgroup v1 or
/// v2: `usage_ns throttled_periods memory_bytes`.
const COUNTERS: &str = r#"argv = ["sh", "-c", "if [ -f /sys/fs/cgroup/cpu.stat ]; then u=$(grep usage_usec /sys/fs/cgroup/cpu.stat | cut -d' ' -f2)000; t=$(grep nr_throttled /sys/fs/cgroup/cpu.stat | cut -d' ' -f2); m=$(cat /sys/fs/cgroup/memory.current); else u=$(cat /sys/fs/cgroup/cpuacct/cpuacct.usage); t=$(grep nr_throttled /sys/fs/cgroup/cpu/cpu.stat | cut -d' ' -f2); m=$(cat /sys/fs/cgroup/memory/memory.usage_in_bytes); fi; echo $u $t $m"]"#;

fn counters(report: &serde_json::Value, id: &str) -> [f64; 3] {
    let text = step(report, id)["output"]["stdout"]
        .as_str()
        .unwrap()
        .to_string();
    let v: Vec<f64> = text
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    [v[0], v[1], v[2]]
}

/// The helpers left for `target` (none after cleanup).
fn helpers(target: &str) -> String {
    let filter = format!("label=dev.chaosplay.stress.target={target}");
    docker_ok(&["ps", "-aq", "--filter", &filter])
}

fn stressors_in(target: &str) -> usize {
    docker_ok(&["top", target, "-o", "pid,comm"])
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|c| c.starts_with("stress-ng"))
        })
        .count()
}

#[test]
fn the_load_counts_against_the_targets_own_quota_and_cleanup_ends_it() {
    stress_image();
    let project = "cpt-stress-budget";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let steps = format!(
        r#"
[[steps]]
uses = "docker.limit"
with = {{ service = "db", cpus = 0.2, memory = "128m" }}
[[steps]]
id = "before"
uses = "docker.exec"
with = {{ service = "db", {COUNTERS} }}
[[steps]]
id = "stress"
uses = "docker.stress"
with = {{ service = "db", cpu = {{ workers = 2 }}, memory = {{ size = "48m" }} }}
[[steps]]
uses = "sleep"
with = {{ duration = "3s" }}
[[steps]]
id = "after"
uses = "docker.exec"
with = {{ service = "db", {COUNTERS} }}
"#
    );
    let dir = scratch("stress-budget");
    let (out, report) = run_here(&dir, &playbook(project, &steps));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let stressor = &step(&report, "stress")["output"]["stressors"][0];
    assert_eq!(stressor["container"], db.as_str());
    let ([u0, t0, _], [u1, t1, m1]) = (counters(&report, "before"), counters(&report, "after"));
    let cpus = (u1 - u0) / 3.5e9;
    // Two busy workers in the target's group: it uses CPU (a sleeping busybox alone uses
    // none), at most its fifth of a CPU, and the kernel throttles it. The quota is small so
    // that the two workers exceed it even on a loaded machine (at 0.5 CPU, a machine busy
    // with other test binaries gave them less than the quota: never throttled). The lower
    // bound is low for the same reason.
    assert!(cpus > 0.02 && cpus < 0.3, "{cpus} CPUs used");
    assert!(t1 - t0 >= 2.0, "throttled {} times", t1 - t0);
    assert!(m1 > 40.0 * 1048576.0, "the target's memory is {m1} bytes");
    assert_eq!(
        report["runs"][0]["undo"][0]["description"],
        format!(
            "stop the stress on {db} (remove {})",
            stressor["helper"].as_str().unwrap()
        )
    );
    assert_eq!(helpers(&db), "", "the helper is removed");
    assert_eq!(stressors_in(&db), 0);
    assert_eq!(common::docker::state(&db), "running");
    remove_project(project);
}

const FOREVER: &str = r#"
[[steps]]
uses = "docker.stress"
with = { service = "db", cpu = { workers = 1, load = 20 } }
[[steps]]
uses = "sleep"
with = { duration = "60s" }
"#;

#[test]
fn recover_removes_the_stress_a_sigkilled_runner_left() {
    stress_image();
    let project = "cpt-stress-recover";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let dir = scratch("stress-recover");
    let path = write(&dir, "p.toml", &playbook(project, FOREVER));
    let mut child = spawn_run(&dir, &path, &[]);
    wait_until("stress-ng runs in the target", || stressors_in(&db) >= 2);
    sigkill(&mut child);
    assert_ne!(helpers(&db), "", "the runner died mid-fault");
    let out = recover(&dir, project);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 0, "{stdout}");
    assert!(
        stdout.contains(&format!("stop the stress on {db}")),
        "{stdout}"
    );
    assert_eq!(helpers(&db), "");
    assert_eq!(stressors_in(&db), 0);
    common::assert_nothing_to_recover(&dir, project);
    remove_project(project);
}

#[test]
fn a_stress_for_a_duration_ends_by_itself_and_selectors_never_pick_the_helper() {
    stress_image();
    let project = "cpt-stress-duration";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let steps = r#"
[[steps]]
uses = "docker.stress"
with = { service = "db", cpu = { load = 10 }, duration = "1s" }
[[steps]]
id = "kill"
uses = "docker.kill"
with = { service = "*", pick = "all", signal = "SIGCONT" }
[[steps]]
uses = "sleep"
with = { duration = "2s" }
"#;
    let dir = scratch("stress-duration");
    let (out, report) = run_here(&dir, &playbook(project, steps));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let hit = &step(&report, "kill")["output"]["containers"];
    assert_eq!(hit.as_array().unwrap().len(), 1, "{hit}");
    assert_eq!(hit[0]["name"], db.as_str());
    assert_eq!(helpers(&db), "");
    remove_project(project);
}

#[test]
fn validation_refuses_a_load_out_of_range() {
    let dir = scratch("stress-invalid");
    let steps =
        "[[steps]]\nuses = \"docker.stress\"\nwith = { service = \"db\", cpu = { load = 0 } }\n";
    let path = write(&dir, "p.toml", &playbook("cpt-stress-invalid", steps));
    let out = common::chaosplay()
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("p.toml:7:32"), "{stderr}");
    assert!(stderr.contains("`load` is a percentage"), "{stderr}");
}
