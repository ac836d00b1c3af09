//! `exec`: run a local command (a client, a load generator, a check script) and capture its
//! result. The command is killed if the step times out or the run is cancelled.

use std::collections::BTreeMap;
use std::process::Stdio;

use schemars::JsonSchema;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use super::{Effect, StepDoc};
use crate::engine::{StepContext, StepError};

/// Output beyond this is cut: a chatty command must not bloat reports or memory.
const CAPTURE_LIMIT: usize = 1 << 20;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecParams {
    /// Program and arguments; no shell is involved (use `["sh", "-c", "…"]` for one).
    pub argv: Vec<String>,
    /// Extra environment variables for the command.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Working directory, relative to the playbook's directory (the default).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Text written to the command's standard input.
    #[serde(default)]
    pub stdin: Option<String>,
    /// Exit codes that count as success; an empty list accepts any.
    #[serde(default = "default_expect_exit")]
    pub expect_exit: Vec<i32>,
}

fn default_expect_exit() -> Vec<i32> {
    vec![0]
}

pub const DOC: StepDoc = StepDoc {
    summary: "Run a local command without a shell and capture its exit code and output.",
    outputs: &[
        ("exit_code", "the exit code (null if killed by a signal)"),
        ("stdout", "standard output, as text (cut at 1 MiB)"),
        ("stderr", "standard error, as text (cut at 1 MiB)"),
    ],
    expressions: &[],
    read_only: false,
    needs_docker: false,
    effect: Effect::None,
    example: "uses = \"exec\"\nwith = { argv = [\"sh\", \"-c\", \"echo hello\"], expect_exit = [0] }",
};

pub async fn run(p: ExecParams, cx: &StepContext) -> Result<serde_json::Value, StepError> {
    let Some((program, args)) = p.argv.split_first() else {
        return Err(StepError::Params("`argv` must name a program".into()));
    };
    let cwd = match &p.cwd {
        Some(dir) => cx.base_dir().join(dir),
        None => cx.base_dir().to_path_buf(),
    };
    cx.status(format!("running {program}"));
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .envs(&p.env)
        .current_dir(&cwd)
        .stdin(if p.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            StepError::Failed(format!("cannot run `{program}` in {}: {e}", cwd.display()))
        })?;
    if let (Some(input), Some(mut stdin)) = (p.stdin, child.stdin.take()) {
        // A command that exits without reading its input is not an error of ours.
        let _ = stdin.write_all(input.as_bytes()).await;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| StepError::Failed(format!("waiting for `{program}`: {e}")))?;
    let code = out.status.code();
    let output = serde_json::json!({
        "exit_code": code,
        "stdout": capture(&out.stdout),
        "stderr": capture(&out.stderr),
    });
    let accepted = p.expect_exit.is_empty() || code.is_some_and(|c| p.expect_exit.contains(&c));
    if accepted {
        return Ok(output);
    }
    let how = match code {
        Some(c) => format!("exited with {c}"),
        None => "was killed by a signal".to_string(),
    };
    let stderr = capture(&out.stderr);
    let tail: String = stderr
        .lines()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    Err(StepError::Failed(format!(
        "`{program}` {how}, expected {:?}{}",
        p.expect_exit,
        if tail.is_empty() {
            String::new()
        } else {
            format!("\nstderr:\n{tail}")
        }
    )))
}

fn capture(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(CAPTURE_LIMIT)];
    String::from_utf8_lossy(cut).into_owned()
}
