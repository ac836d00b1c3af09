//! `disk.fill` against the real engine, always on small tmpfs mounts (never the machine's
//! disk): the filesystem is filled to what was asked and emptied at cleanup (and by `recover`
//! after a SIGKILLed runner), and filesystems that share the host's disk are refused.

mod common;

use common::docker::{docker_ok, playbook, remove_project, run_labelled};
use common::{code, recover, run_here, scratch, sigkill, spawn_run, step, wait_until, write};

/// An 8 MiB tmpfs at `/data`, as `docker run --mount` makes it.
const TMPFS: &[&str] = &["--mount", "type=tmpfs,destination=/data,tmpfs-size=8m"];

/// Free KiB at `path` in the container, as its own `df` says (Avail).
fn free_kib(container: &str, path: &str) -> u64 {
    let df = docker_ok(&["exec", container, "df", "-k", path]);
    let row = df.lines().nth(1).expect("a df row");
    row.split_whitespace().nth(3).unwrap().parse().unwrap()
}

fn fillers(container: &str, path: &str) -> Vec<String> {
    docker_ok(&["exec", container, "ls", "-a", path])
        .lines()
        .filter(|l| l.starts_with(".chaosplay-fill"))
        .map(String::from)
        .collect()
}

#[test]
fn a_tmpfs_is_filled_to_what_was_asked_and_emptied_at_cleanup() {
    let project = "cpt-disk-fill";
    remove_project(project);
    let db = run_labelled(project, "db", TMPFS);
    let dir = scratch("disk-fill");
    let steps = r#"
[[steps]]
id = "full"
uses = "disk.fill"
with = { service = "db", path = "/data", free = "1m" }

[[steps]]
id = "seen"
uses = "docker.exec"
with = { service = "db", argv = ["df", "-k", "/data"] }

[[steps]]
id = "write"
uses = "docker.exec"
with = { service = "db", argv = ["dd", "if=/dev/zero", "of=/data/x", "bs=1k", "count=2048"], expect_exit = [] }
"#;
    let (out, report) = run_here(&dir, &playbook(project, steps));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let filled = &step(&report, "full")["output"]["filled"][0];
    assert_eq!(filled["fstype"], "tmpfs");
    assert_eq!(filled["size"], 8 << 20);
    assert_eq!(filled["free_before"], 8 << 20);
    let after = filled["free_after"].as_u64().unwrap();
    assert!(after <= 1 << 20 && after > 0, "{filled:#}");
    let seen = step(&report, "seen")["output"]["stdout"].as_str().unwrap();
    let avail: u64 = seen
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert!(avail <= 1024, "the container saw {avail} KiB free:\n{seen}");
    let write = &step(&report, "write")["output"];
    assert_ne!(
        write["exit_code"], 0,
        "2 MiB fit in the 1 MiB left: {write:#}"
    );
    assert!(
        write["stderr"].as_str().unwrap().contains("No space left"),
        "{write:#}"
    );
    assert!(
        fillers(&db, "/data").is_empty(),
        "the filler is still there"
    );
    assert!(
        free_kib(&db, "/data") >= 8192 - 2048 - 4,
        "the space is not back"
    );
    remove_project(project);
}

#[test]
fn filesystems_sharing_the_hosts_disk_and_impossible_fills_are_refused() {
    let project = "cpt-disk-refuse";
    remove_project(project);
    let volume = format!("{project}-plain");
    let label = format!("com.docker.compose.project={project}");
    docker_ok(&["volume", "create", "--label", &label, &volume]);
    let mount = format!("{volume}:/plain");
    let db = run_labelled(project, "db", &[TMPFS[0], TMPFS[1], "-v", &mount]);
    let dir = scratch("disk-refuse");
    let refusal = |path: &str, extra: &str| {
        let steps = format!(
            "[[steps]]\nid = \"fill\"\nuses = \"disk.fill\"\nwith = {{ service = \"db\", path = \"{path}\"{extra} }}\n"
        );
        let (out, report) = run_here(&dir, &playbook(project, &steps));
        assert_ne!(code(&out), 0, "{path} was filled");
        step(&report, "fill")["error"]["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let root = refusal("/tmp", "");
    assert!(
        root.contains("the container's root filesystem") && root.contains("shares the disk"),
        "{root}"
    );
    let plain = refusal("/plain", "");
    assert!(
        plain.contains("the mount at /plain") && plain.contains("shares the disk"),
        "{plain}"
    );
    assert!(refusal("/nowhere", "").contains("has no directory `/nowhere`"));
    let low = refusal("/data", ", free = \"9m\"");
    assert!(low.contains("8.0 MiB free already"), "{low}");
    let big = refusal("/data", ", at_most = \"1m\"");
    assert!(big.contains("more than `at_most`"), "{big}");
    assert!(fillers(&db, "/data").is_empty() && fillers(&db, "/plain").is_empty());
    common::assert_nothing_to_recover(&dir, project);
    remove_project(project);
}

#[test]
fn recover_removes_the_filler_a_sigkilled_runner_left() {
    let project = "cpt-disk-recover";
    remove_project(project);
    let db = run_labelled(project, "db", TMPFS);
    let dir = scratch("disk-recover");
    let steps = r#"
[[steps]]
uses = "disk.fill"
with = { service = "db", path = "/data", free_percent = 0.0 }

[[steps]]
uses = "sleep"
with = { duration = "60s" }
"#;
    let path = write(&dir, "p.toml", &playbook(project, steps));
    let mut child = spawn_run(&dir, &path, &[]);
    wait_until("the tmpfs is full", || free_kib(&db, "/data") == 0);
    sigkill(&mut child);
    assert_eq!(fillers(&db, "/data").len(), 1, "the runner died mid-fault");
    let out = recover(&dir, project);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(fillers(&db, "/data").is_empty());
    assert_eq!(free_kib(&db, "/data"), 8192);
    common::assert_nothing_to_recover(&dir, project);
    remove_project(project);
}

/// A host tmpfs bind-mounted into the container: the filler outlives the container's stop,
/// and its removal, and the undo reaches it through the host's mount.
#[test]
fn the_filler_of_a_stopped_or_removed_container_is_removed_through_the_hosts_mount() {
    let project = "cpt-disk-stopped";
    let dir = scratch("disk-stopped");
    let host = dir.join("data");
    std::fs::create_dir_all(&host).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&host)
        .status()
        .unwrap();
    assert!(mounted.success(), "mounting a tmpfs needs root");
    let mut left = Vec::new();
    for gone in ["stop -t 0", "rm -f"] {
        remove_project(project);
        let bind = format!("{}:/data", host.display());
        let db = run_labelled(project, "db", &["-v", &bind]);
        let argv: Vec<String> = format!("docker {gone} {db}")
            .split(' ')
            .map(|w| format!("\"{w}\""))
            .collect();
        let steps = format!(
            "[[steps]]\nid = \"full\"\nuses = \"disk.fill\"\nwith = {{ service = \"db\", path = \"/data\" }}\n\n[[steps]]\nuses = \"exec\"\nwith = {{ argv = [{}] }}\n",
            argv.join(", ")
        );
        let (out, report) = run_here(&dir, &playbook(project, &steps));
        left.extend(
            std::fs::read_dir(&host)
                .unwrap()
                .flatten()
                .map(|e| e.file_name()),
        );
        let filled = &step(&report, "full")["output"]["filled"][0];
        let ok = code(&out) == 0 && filled["fstype"] == "tmpfs" && filled["free_after"] == 0;
        if !ok || !left.is_empty() {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&host)
                .status();
        }
        assert!(
            ok,
            "{gone}: {}\n{filled:#}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(left.is_empty(), "{gone}: left behind: {left:?}");
    }
    let _ = std::process::Command::new("umount")
        .arg("-l")
        .arg(&host)
        .status();
    remove_project(project);
}
