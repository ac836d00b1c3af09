//! Helpers shared by the integration tests: they drive the built `chaosplay` binary.
#![allow(dead_code)] // each test crate uses a different subset

pub mod docker;
pub mod http;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_chaosplay"))
}

pub fn chaosplay() -> std::process::Command {
    let mut cmd = std::process::Command::new(bin());
    cmd.env_remove("GITHUB_ACTIONS");
    cmd
}

/// A fresh directory under the target dir, removed at the start of each use.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// One run of the binary on a playbook and what it must do, as just's test builder: the
/// playbook is written to `p.toml` in a scratch directory of its own, which is also the run's
/// state directory (its ledgers and lock records are this test's alone).
///
/// ```ignore
/// let stderr = Test::new("bad-step").validate().playbook(TOML).code(2).stderr_has("did you mean").run();
/// ```
#[must_use = "a Test does nothing until .run()"]
pub struct Test {
    dir: PathBuf,
    command: &'static str,
    playbook: String,
    args: Vec<String>,
    code: i32,
    stderr_has: Vec<String>,
}

impl Test {
    /// `chaosplay run`, expected to exit 0, in a fresh scratch directory called `name`.
    pub fn new(name: &str) -> Self {
        Test {
            dir: scratch(name),
            command: "run",
            playbook: String::new(),
            args: Vec::new(),
            code: 0,
            stderr_has: Vec::new(),
        }
    }

    /// `chaosplay validate` instead of `run`.
    pub fn validate(mut self) -> Self {
        self.command = "validate";
        self
    }

    pub fn playbook(mut self, text: &str) -> Self {
        self.playbook = text.to_string();
        self
    }

    /// Options after the playbook's path.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// The exit code the run must end with.
    pub fn code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }

    /// A piece of text stderr must contain.
    pub fn stderr_has(mut self, text: &str) -> Self {
        self.stderr_has.push(text.to_string());
        self
    }

    /// The directory the playbook is written to, for files it refers to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs the binary, checks the exit code and stderr, and returns stderr for what else the
    /// test checks.
    pub fn run(self) -> String {
        let path = write(&self.dir, "p.toml", &self.playbook);
        let output = chaosplay()
            .env("CHAOSPLAY_STATE_DIR", &self.dir)
            .arg(self.command)
            .arg(&path)
            .args(&self.args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let shown = || {
            format!(
                "stdout:\n{}\nstderr:\n{stderr}",
                String::from_utf8_lossy(&output.stdout)
            )
        };
        assert_eq!(code(&output), self.code, "{}", shown());
        for text in &self.stderr_has {
            assert!(stderr.contains(text.as_str()), "no {text:?} in {}", shown());
        }
        stderr
    }
}

/// Writes a playbook into `dir` and runs it: see [`run_file`].
pub fn run(dir: &Path, playbook: &str, args: &[&str]) -> (Output, serde_json::Value) {
    let path = write(dir, "playbook.toml", playbook);
    run_file(dir, &path, args)
}

/// Runs a playbook with a JSON report (kept in `dir`) and returns the process output and the
/// parsed report.
pub fn run_file(dir: &Path, path: &Path, args: &[&str]) -> (Output, serde_json::Value) {
    run_file_env(dir, path, args, &[])
}

/// Runs `playbook` with its ledgers in `dir` (so a kept undo is this test's alone), and
/// returns its output and JSON report.
pub fn run_here(dir: &Path, playbook: &str) -> (Output, serde_json::Value) {
    let path = write(dir, "p.toml", playbook);
    let state_dir = dir.to_str().unwrap();
    run_file_env(dir, &path, &[], &[("CHAOSPLAY_STATE_DIR", state_dir)])
}

/// [`run_file`] with extra environment variables.
pub fn run_file_env(
    dir: &Path,
    path: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Output, serde_json::Value) {
    let report = dir.join("report.json");
    let output = chaosplay()
        .envs(env.iter().copied())
        .arg("run")
        .arg(path)
        .arg("--report-json")
        .arg(&report)
        .args(args)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&report).unwrap_or_else(|e| {
        panic!(
            "no report ({e}); stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, serde_json::from_str(&text).unwrap())
}

/// The steps of the first run of a report, by name.
pub fn step<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["runs"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {report:#}"))
}

pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

/// Starts `chaosplay run PLAYBOOK ARGS…` with its ledgers in `state_dir`, stdout and stderr
/// piped, for tests that act on the run while it goes on.
pub fn spawn_run(state_dir: &Path, playbook: &Path, args: &[&str]) -> std::process::Child {
    chaosplay()
        .env("CHAOSPLAY_STATE_DIR", state_dir)
        .arg("run")
        .arg(playbook)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// `chaosplay recover --project P` with the ledgers of `state_dir`.
pub fn recover(state_dir: &Path, project: &str) -> Output {
    chaosplay()
        .env("CHAOSPLAY_STATE_DIR", state_dir)
        .args(["recover", "--project", project])
        .output()
        .unwrap()
}

/// Asserts that no ledger of `project` in `state_dir` holds an undo.
pub fn assert_nothing_to_recover(state_dir: &Path, project: &str) {
    let out = recover(state_dir, project);
    assert_eq!(code(&out), 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "nothing to recover\n");
}

/// Waits (30 s at most) until `done`.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills a runner the way a crash or an OOM killer would: no cleanup runs.
pub fn sigkill(child: &mut Child) {
    signal(child, "KILL");
    let _ = child.wait();
}

pub fn signal(child: &Child, name: &str) {
    assert!(
        Command::new("kill")
            .args([&format!("-{name}"), &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}
