//! `chaosplay check` on real recorded histories with known verdicts (tests/fixtures/histories,
//! copied from Porcupine's test data) and on small hand-written ones.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{chaosplay, code, scratch, write};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/histories")
}

/// Every history of a fixture folder with its known verdict (true: linearizable).
fn known(folder: &str) -> BTreeMap<PathBuf, bool> {
    let dir = fixtures().join(folder);
    let tsv = std::fs::read_to_string(dir.join("verdicts.tsv")).unwrap();
    tsv.lines()
        .skip(1)
        .map(|line| {
            let (file, verdict) = line.split_once('\t').unwrap();
            (dir.join(file), verdict.parse().unwrap())
        })
        .collect()
}

fn check(args: &[&str], files: impl IntoIterator<Item = PathBuf>) -> (i32, String, String) {
    let out = chaosplay()
        .arg("check")
        .args(args)
        .args(files)
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (code(&out), text(out.stdout), text(out.stderr))
}

#[test]
fn every_recorded_history_gets_its_known_verdict() {
    let mut expected = known("jepsen-etcd");
    assert_eq!(expected.len(), 61);
    assert_eq!(expected.values().filter(|&&v| v).count(), 13);
    expected.extend(known("kv"));
    assert_eq!(expected.len(), 65);
    let (code, stdout, stderr) = check(&["--format", "json"], expected.keys().cloned());
    assert_eq!(code, 1, "some are not linearizable: {stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 65);
    let mut wrong = Vec::new();
    for (line, (path, linearizable)) in lines.iter().zip(&expected) {
        assert_eq!(
            line["file"],
            path.display().to_string(),
            "in the order given"
        );
        // Every search holds something, and these are small.
        let bytes = line["search_bytes"].as_u64().unwrap();
        assert!(bytes > 0 && bytes < 64 << 20, "{line}");
        let want = if *linearizable {
            "linearizable"
        } else {
            "not_linearizable"
        };
        if line["verdict"] != want {
            wrong.push(format!(
                "{}: {} (want {want})",
                path.display(),
                line["verdict"]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of 65 disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn models_follow_the_format() {
    let files = [
        fixtures().join("jepsen-etcd/etcd_002.log"),
        fixtures().join("kv/c10-ok.txt"),
    ];
    let (code, stdout, _) = check(&["--format", "json"], files.clone());
    assert_eq!(code, 0);
    let models: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["model"].to_string())
        .collect();
    assert_eq!(models, ["\"register\"", "\"kv\""]);
    let (code, stdout, _) = check(&[], files.clone());
    let expected: String = files
        .iter()
        .map(|f| format!("{}: linearizable\n", f.display()))
        .collect();
    assert_eq!((code, stdout), (0, expected));
}

#[test]
fn a_failure_names_the_operation_that_cannot_be_placed() {
    let file = fixtures().join("jepsen-etcd/etcd_000.log");
    let (code, stdout, _) = check(&[], [file.clone()]);
    assert_eq!(code, 1);
    let line = stdout.strip_prefix(&format!("{}: not linearizable — ", file.display()));
    let why = line.unwrap_or_else(|| panic!("{stdout}"));
    assert!(why.contains("cannot be placed"), "{why}");
    assert!(why.contains("client ") && why.contains("(lines "), "{why}");
    let (_, stdout, _) = check(&["--format", "json"], [file]);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(!json["blocked"].as_array().unwrap().is_empty(), "{json}");
    assert!(json["prefix"].as_array().unwrap().len() > 1, "{json}");
    assert_eq!(json["blocked"][0]["outcome"], "ok");
}

const STALE: &str = r#"{"client":0,"f":"write","value":1,"invoke":0,"complete":1,"outcome":"ok"}
{"client":1,"f":"write","value":2,"invoke":2,"complete":3,"outcome":"ok"}
{"client":2,"f":"read","value":1,"invoke":4,"complete":5,"outcome":"ok"}
"#;

#[test]
fn our_json_lines_are_checked_and_explained_by_time() {
    let dir = scratch("check-json-lines");
    let stale = write(&dir, "stale.jsonl", STALE);
    let (code, stdout, _) = check(&[], [stale.clone()]);
    assert_eq!(code, 1);
    assert_eq!(
        stdout,
        format!(
            "{}: not linearizable — the longest legal orders found place 2 of its 3 operations \
             (one ends with client 1 write 2 [2, 3]), leaving the register at 2; client 2 read → \
             1 [4, 5] cannot be placed after them\n",
            stale.display()
        )
    );
    let rescued = STALE.replace(
        r#""invoke":2,"complete":3,"outcome":"ok""#,
        r#""invoke":2,"outcome":"unknown""#,
    );
    let rescued = write(&dir, "rescued.jsonl", &rescued);
    assert_eq!(check(&[], [rescued]).0, 0);
}

#[test]
fn a_file_that_cannot_be_read_exits_2_with_where() {
    let dir = scratch("check-unreadable");
    let bad = write(&dir, "bad.jsonl", &STALE.replace("\"read\"", "\"raed\""));
    let (code, stdout, stderr) = check(&[], [bad.clone(), dir.join("missing.jsonl")]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert!(
        stderr.contains(&format!("--> {}:3:", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("unknown variant `raed`"), "{stderr}");
    assert!(
        stderr.contains("cannot read") && stderr.contains("missing.jsonl"),
        "{stderr}"
    );
    let register = write(&dir, "register.jsonl", STALE);
    let (code, _, stderr) = check(&["--model", "kv"], [register.clone()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!("{}:1:1", register.display())),
        "{stderr}"
    );
}

#[test]
fn a_check_out_of_time_is_unknown_and_does_not_pass() {
    let file = fixtures().join("jepsen-etcd/etcd_002.log");
    let (code, stdout, _) = check(&["--timeout", "0s"], [file.clone()]);
    assert_eq!(
        (code, stdout),
        (
            1,
            format!(
                "{}: unknown — the time budget ran out before a verdict\n",
                file.display()
            )
        )
    );
}
