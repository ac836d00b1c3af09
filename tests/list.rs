//! `chaosplay list`: finding playbooks, one line per scenario and cell, and the GitHub Actions
//! matrix that fans CI out over them.

mod common;

use common::{chaosplay, code, scratch, write};

fn tree(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    write(
        &dir,
        "plain.toml",
        "[scenario]\nname = \"plain\"\ntags = [\"etcd\", \"kill\"]\ndescription = \"Kill one.\"\n[[steps]]\nuses = \"log\"\nwith = { message = \"hi\" }\n",
    );
    write(
        &dir.join("nested"),
        "grid.toml",
        "[scenario]\nname = \"grid\"\n[matrix]\nfault = [\"kill\", \"pause\"]\nstores = [3]\n[[steps]]\nuses = \"log\"\nwith = { message = \"{{ matrix.fault }}\" }\n",
    );
    write(&dir, "vars.toml", "members = 3\n");
    dir
}

fn list(args: &[&str]) -> std::process::Output {
    chaosplay().arg("list").args(args).output().unwrap()
}

#[test]
fn lists_every_scenario_and_cell() {
    let dir = tree("list-text");
    let out = list(&[dir.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("grid [fault=kill,stores=3] "),
        "{text}"
    );
    assert!(lines[0].contains("nested/grid.toml"), "{text}");
    assert!(
        lines[1].starts_with("grid [fault=pause,stores=3] "),
        "{text}"
    );
    assert!(lines[2].starts_with("plain "), "{text}");
    assert!(lines[2].ends_with("etcd,kill  Kill one."), "{text}");
}

#[test]
fn github_format_is_a_strategy_matrix() {
    let dir = tree("list-github");
    let out = list(&[dir.to_str().unwrap(), "--format", "github"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let matrix: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let grid = dir.join("nested/grid.toml").display().to_string();
    let plain = dir.join("plain.toml").display().to_string();
    assert_eq!(
        matrix,
        serde_json::json!({"include": [
            {"scenario": "grid", "file": grid, "cell": "fault=kill,stores=3", "args": "--cell fault=kill --cell stores=3"},
            {"scenario": "grid", "file": grid, "cell": "fault=pause,stores=3", "args": "--cell fault=pause --cell stores=3"},
            {"scenario": "plain", "file": plain, "cell": "", "args": ""},
        ]})
    );
}

#[test]
fn invalid_playbooks_are_errors() {
    let dir = tree("list-invalid");
    write(
        &dir,
        "broken.toml",
        "[scenario]\nname = \"broken\"\n[[steps]]\nuses = \"slep\"\n",
    );
    let out = list(&[dir.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.toml:4:8"), "{stderr}");
    assert!(stderr.contains("did you mean `sleep`?"), "{stderr}");
}
