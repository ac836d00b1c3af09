//! `docker.limit` against the real engine: the limits reach the kernel, cleanup puts back
//! exactly what was there (no limit included, which `docker update --cpus 0` cannot do), so
//! does `recover` after a SIGKILLed runner, and values Docker would ignore are refused.

mod common;

use common::docker::{docker_ok, playbook, remove_project, run_labelled};
use common::{code, recover, run_here, scratch, sigkill, spawn_run, step, wait_until, write};

/// The limits the kernel applies to the container (CPU quota, memory, process count), read
/// from its own cgroup files under cgroup v1 or v2, with every "no limit" spelled `max`.
fn kernel_limits(container: &str) -> [String; 3] {
    let read = |v1: &str, v2: &str| {
        docker_ok(&[
            "exec",
            container,
            "sh",
            "-c",
            &format!("cat /sys/fs/cgroup/{v2} 2>/dev/null || cat /sys/fs/cgroup/{v1}"),
        ])
    };
    let unlimited = |v: String| match v.as_str() {
        "-1" | "9223372036854771712" => "max".to_string(),
        _ => v,
    };
    let cpu = read("cpu/cpu.cfs_quota_us", "cpu.max");
    let cpu = cpu
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    [
        unlimited(cpu),
        unlimited(read("memory/memory.limit_in_bytes", "memory.max")),
        read("pids/pids.max", "pids.max"),
    ]
}

const LIMIT: &str = r#"
[[steps]]
id = "limit"
uses = "docker.limit"
with = { service = "db", cpus = 0.5, memory = "64m", pids = 20 }
[[steps]]
uses = "sleep"
with = { duration = "60s" }
"#;

const HALF_A_CPU: [&str; 3] = ["50000", "67108864", "20"];

#[test]
fn limits_reach_the_kernel_and_cleanup_lifts_them_again() {
    let project = "cpt-limit-none";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let unlimited = ["max", "max", "max"].map(String::from);
    assert_eq!(kernel_limits(&db), unlimited);
    let dir = scratch("limit-none");
    let steps = LIMIT.replace("60s", "1s");
    let steps = format!(
        "{steps}[[steps]]\nid = \"seen\"\nuses = \"docker.exec\"\nwith = {{ service = \"db\", argv = [\"sh\", \"-c\", \"cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max\"] }}\n"
    );
    let (out, report) = run_here(&dir, &playbook(project, &steps));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let limits = &step(&report, "limit")["output"]["limits"][0];
    assert_eq!(limits["before"]["memory"], serde_json::Value::Null);
    assert_eq!(limits["after"]["memory"], 64 << 20);
    assert_eq!(limits["after"]["nano_cpus"], 500_000_000);
    assert_eq!(
        step(&report, "seen")["output"]["stdout"]
            .as_str()
            .unwrap()
            .trim(),
        "20",
        "the kernel had the limit during the run"
    );
    assert_eq!(
        report["runs"][0]["undo"][0]["description"],
        format!("restore the cpu, memory, pids limits of {db}")
    );
    assert_eq!(kernel_limits(&db), unlimited, "no limit, as before");
    remove_project(project);
}

#[test]
fn cleanup_puts_back_the_containers_own_limits() {
    let project = "cpt-limit-own";
    remove_project(project);
    let own = [
        "--cpus",
        "1.5",
        "--memory",
        "128m",
        "--memory-swap",
        "256m",
        "--pids-limit",
        "50",
    ];
    let db = run_labelled(project, "db", &own);
    let before = kernel_limits(&db);
    assert_eq!(before, ["150000", "134217728", "50"]);
    let dir = scratch("limit-own");
    let (out, _) = run_here(&dir, &playbook(project, &LIMIT.replace("60s", "1s")));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(kernel_limits(&db), before);
    let config = docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}}",
        &db,
    ]);
    assert_eq!(config, "1500000000 134217728 268435456 50");
    remove_project(project);
}

#[test]
fn recover_lifts_the_limits_a_sigkilled_runner_left() {
    let project = "cpt-limit-recover";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let dir = scratch("limit-recover");
    let path = write(&dir, "p.toml", &playbook(project, LIMIT));
    let mut child = spawn_run(&dir, &path, &[]);
    wait_until("the limits are applied", || {
        kernel_limits(&db) == HALF_A_CPU
    });
    sigkill(&mut child);
    assert_eq!(kernel_limits(&db), HALF_A_CPU, "the runner died mid-fault");
    let out = recover(&dir, project);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("restore the cpu, memory, pids limits of {db}")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(kernel_limits(&db), ["max", "max", "max"]);
    common::assert_nothing_to_recover(&dir, project);
    remove_project(project);
}

#[test]
fn validation_refuses_a_limit_docker_would_ignore() {
    let steps = "[[steps]]\nuses = \"docker.limit\"\nwith = { service = \"db\", cpus = 0 }\n";
    common::Test::new("limit-invalid")
        .validate()
        .playbook(&playbook("cpt-limit-invalid", steps))
        .code(2)
        .stderr_has("p.toml:7:33")
        .stderr_has("Docker takes 0 as \"no change\"")
        .run();
}
