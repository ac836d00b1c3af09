//! `disk.throttle` against the real engine (cgroup v1 here: the blkio throttle files, read
//! back from the host): the rates are in the container's control group during the run and
//! slow its direct writes, and are gone after cleanup, and after `recover` once the runner
//! was SIGKILLed; what the kernel cannot throttle is refused.

mod common;

use common::docker::{docker_ok, playbook, remove_project, run_labelled};
use common::{code, recover, run_here, scratch, sigkill, spawn_run, step, wait_until, write};

/// The container's `blkio.throttle.<name>_device` file on the host (cgroup v1).
fn throttle_path(container: &str, name: &str) -> String {
    let pid = docker_ok(&["inspect", "-f", "{{.State.Pid}}", container]);
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let path = cgroup
        .lines()
        .find_map(|l| l.split_once(":blkio:").map(|(_, p)| p.to_string()))
        .expect("a blkio cgroup (these tests run on cgroup v1)");
    format!("/sys/fs/cgroup/blkio{path}/blkio.throttle.{name}_device")
}

/// The lines of that file.
fn throttle_file(container: &str, name: &str) -> String {
    let file = throttle_path(container, name);
    std::fs::read_to_string(file).unwrap().trim().to_string()
}

#[test]
fn direct_writes_are_throttled_until_disk_restore_or_cleanup() {
    let project = "cpt-disk-throttle";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let dir = scratch("disk-throttle");
    let steps = format!(
        r#"
[[steps]]
id = "slow"
uses = "disk.throttle"
with = {{ service = "db", write_bps = "1m", read_iops = 10 }}

[[steps]]
id = "seen"
uses = "exec"
with = {{ argv = ["cat", "{0}", "{1}"] }}

[[steps]]
id = "dd"
uses = "docker.exec"
with = {{ service = "db", argv = ["dd", "if=/dev/zero", "of=/tmp/f", "bs=64k", "count=32", "oflag=direct"] }}

[[steps]]
id = "restore"
uses = "disk.restore"
with = {{ service = "db" }}

[[steps]]
id = "lifted"
uses = "exec"
with = {{ argv = ["cat", "{0}", "{1}"] }}
"#,
        throttle_path(&db, "write_bps"),
        throttle_path(&db, "read_iops")
    );
    let (out, report) = run_here(&dir, &playbook(project, &steps));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let throttled = &step(&report, "slow")["output"]["throttled"][0];
    assert_eq!(throttled["after"]["write_bps"], 1 << 20);
    assert_eq!(throttled["after"]["read_iops"], 10);
    assert_eq!(throttled["before"]["write_bps"], serde_json::Value::Null);
    let device = throttled["device"].as_str().unwrap();
    let seen = step(&report, "seen")["output"]["stdout"].as_str().unwrap();
    assert_eq!(seen, format!("{device} 1048576\n{device} 10\n"));
    // 2 MiB at 1 MiB/s: a lower bound, which a slow machine only raises.
    let took = step(&report, "dd")["duration_ms"].as_u64().unwrap();
    assert!(
        took >= 1000,
        "2 MiB of direct writes took {took} ms under 1 MiB/s"
    );
    assert_eq!(throttle_file(&db, "write_bps"), "");
    assert_eq!(throttle_file(&db, "read_iops"), "");
    remove_project(project);
}

#[test]
fn recover_lifts_the_throttle_a_sigkilled_runner_left() {
    let project = "cpt-disk-throttle-recover";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let dir = scratch("disk-throttle-recover");
    let steps = r#"
[[steps]]
uses = "disk.throttle"
with = { service = "db", write_iops = 5 }

[[steps]]
uses = "sleep"
with = { duration = "60s" }
"#;
    let path = write(&dir, "p.toml", &playbook(project, steps));
    let mut child = spawn_run(&dir, &path, &[]);
    wait_until("the throttle is set", || {
        !throttle_file(&db, "write_iops").is_empty()
    });
    sigkill(&mut child);
    assert!(
        throttle_file(&db, "write_iops").ends_with(" 5"),
        "the runner died mid-fault"
    );
    let out = recover(&dir, project);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(throttle_file(&db, "write_iops"), "");
    common::assert_nothing_to_recover(&dir, project);
    remove_project(project);
}

#[test]
fn a_device_that_is_no_block_device_is_refused() {
    let project = "cpt-disk-throttle-refuse";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let dir = scratch("disk-throttle-refuse");
    let steps = r#"
[[steps]]
id = "slow"
uses = "disk.throttle"
with = { service = "db", device = "/dev/null", write_bps = "1m" }
"#;
    let (out, report) = run_here(&dir, &playbook(project, steps));
    assert_ne!(code(&out), 0);
    let error = step(&report, "slow")["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("/dev/null is not a block device"), "{error}");
    assert_eq!(throttle_file(&db, "write_bps"), "");
    common::assert_nothing_to_recover(&dir, project);
    remove_project(project);
}
