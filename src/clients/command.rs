//! Commands of the playbook's own (user-defined faults, their undo and check), run without a
//! shell on this machine or inside a container, bounded in time. A client of its own because
//! undo runs them at cleanup and in `recover`, without the step that registered them.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::docker::{DockerClient, DockerError};

/// Where a command runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// On this machine, in `dir` (absolute, so `recover` run from elsewhere finds it).
    Local { dir: PathBuf },
    /// Inside the container of this name, as `docker exec` does.
    Container { container: String },
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot run `{program}`: {cause}")]
    Spawn { program: String, cause: String },
    #[error("`{line}` did not finish within {}", crate::duration::human(*within))]
    Timeout { line: String, within: Duration },
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// What a command did.
#[derive(Debug)]
pub struct Ran {
    /// `None` if a signal ended it.
    pub exit_code: Option<i64>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// How it ended, for an error: the exit code and the end of its standard error.
    pub fn failure(&self, argv: &[String]) -> String {
        let how = self.exit_code.map_or("was killed by a signal".into(), |c| {
            format!("exited with {c}")
        });
        let stderr = self.stderr.trim();
        let tail = stderr
            .char_indices()
            .rev()
            .nth(500)
            .map_or(stderr, |(i, _)| &stderr[i..]);
        match tail {
            "" => format!("`{}` {how}", argv.join(" ")),
            tail => format!("`{}` {how}: {tail}", argv.join(" ")),
        }
    }
}

/// Runs `argv` at `place`, for at most `within`. A container needs `docker`.
pub async fn run(
    docker: Option<&DockerClient>,
    place: &Place,
    argv: &[String],
    within: Duration,
) -> Result<Ran, CommandError> {
    let line = argv.join(" ");
    let ran = match place {
        Place::Local { dir } => tokio::time::timeout(within, local(dir, argv)).await,
        Place::Container { container } => {
            let docker = docker.ok_or_else(|| CommandError::Spawn {
                program: line.clone(),
                cause: "it runs in a container, and the Docker daemon is not at hand".into(),
            })?;
            tokio::time::timeout(within, async {
                let out = docker.exec(container, argv, None).await?;
                Ok(Ran {
                    exit_code: out.exit_code,
                    stdout: out.stdout,
                    stderr: out.stderr,
                })
            })
            .await
        }
    };
    ran.map_err(|_| CommandError::Timeout { line, within })?
}

async fn local(dir: &PathBuf, argv: &[String]) -> Result<Ran, CommandError> {
    let spawn = |cause: String| CommandError::Spawn {
        program: argv.first().cloned().unwrap_or_default(),
        cause,
    };
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| spawn("no program given".into()))?;
    let out = tokio::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| spawn(format!("{e} (in {})", dir.display())))?;
    Ok(Ran {
        exit_code: out.status.code().map(i64::from),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[tokio::test]
    async fn local_commands_run_without_a_shell_and_are_bounded() {
        // A directory of the test's own: whatever the commands leave there goes with it.
        let dir = crate::test_support::TempDir::new();
        let here = Place::Local { dir: dir.0.clone() };
        let ran = run(
            None,
            &here,
            &argv(&["sh", "-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!((ran.exit_code, ran.stdout.as_str()), (Some(3), "out\n"));
        assert_eq!(ran.failure(&argv(&["x"])), "`x` exited with 3: err");
        let slow = run(
            None,
            &here,
            &argv(&["sleep", "5"]),
            Duration::from_millis(100),
        )
        .await;
        assert!(
            matches!(slow, Err(CommandError::Timeout { .. })),
            "{slow:?}"
        );
        let missing = run(
            None,
            &here,
            &argv(&["no-such-chaosplay-program"]),
            Duration::from_secs(5),
        )
        .await;
        assert!(
            matches!(missing, Err(CommandError::Spawn { .. })),
            "{missing:?}"
        );
    }
}
