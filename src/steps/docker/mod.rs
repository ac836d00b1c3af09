//! `docker.*`: faults and observations on the subject's containers.
//!
//! Fault steps register their undo before acting and output what they hit (`container`,
//! `service`, `id`, `at`, and `containers` when several were hit).

use std::time::Duration as StdDuration;

use serde_json::{Value, json};

use super::select::{self, hit_output, hit_outputs, select, selector_params};
use super::undo::Undo;
use super::{Effect, OutOfBounds, StepDoc};
use crate::duration::Duration;
use crate::engine::{StepContext, StepError};

pub mod limit;
pub mod signal;
pub mod stress;
mod wait;

pub use wait::{WAIT_DOC, WaitParams, wait};

const HIT_OUTPUTS: &[(&str, &str)] = hit_outputs!();

selector_params! {
    pick = "select::pick_random";
    bounds = kill_bounds;
    pub struct KillParams {
        /// The signal to send: a name (`SIGKILL`, `KILL`) or a number (`9`).
        #[serde(default = "sigkill")]
        pub signal: String,
    }
}

fn sigkill() -> String {
    "SIGKILL".into()
}

fn kill_bounds(p: &KillParams) -> Vec<OutOfBounds> {
    signal::bounds(&p.signal)
}

pub const KILL_DOC: StepDoc = StepDoc {
    summary: "Send a signal (SIGKILL by default) to containers of the subject. Undo: start them again, or resume them (SIGCONT) after SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU.",
    outputs: HIT_OUTPUTS,
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "start the containers it hit once the signal has had 10s to act (SIGCONT after a stopping signal), and check they run",
    },
    example: "id = \"kill\"\nuses = \"docker.kill\"\nwith = { service = \"tikv*\", pick = \"random\" }",
};

pub async fn kill(p: KillParams, cx: &StepContext) -> Result<Value, StepError> {
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    for c in &hit {
        cx.register_undo(signal::undo(&p.signal, &c.name))?;
        cx.status(format!("{} {}", p.signal, c.name));
        let (docker, name, sig) = (docker.clone(), c.name.clone(), p.signal.clone());
        cx.apply_fault(async move { Ok(docker.kill(&name, &sig).await?) })
            .await?;
    }
    Ok(hit_output(&hit))
}

selector_params! {
    pick = "select::pick_random";
    pub struct StopParams {
        /// Time between SIGTERM (or the image's stop signal) and SIGKILL.
        #[serde(default = "ten_seconds")]
        pub grace: Duration,
    }
}

fn ten_seconds() -> Duration {
    Duration::from_secs(10)
}

pub const STOP_DOC: StepDoc = StepDoc {
    summary: "Stop containers gracefully (SIGKILL after `grace`). Undo: start them again.",
    outputs: HIT_OUTPUTS,
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "start the containers it hit once the stop is over (`grace` + 10s at most), and check they run",
    },
    example: "uses = \"docker.stop\"\nwith = { service = \"etcd1\", grace = \"5s\" }",
};

pub async fn stop(p: StopParams, cx: &StepContext) -> Result<Value, StepError> {
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    for c in &hit {
        cx.register_undo(Undo::start(&c.name, p.grace.0 + signal::SETTLES_WITHIN))?;
        cx.status(format!("stopping {}", c.name));
        let (docker, name, grace) = (docker.clone(), c.name.clone(), p.grace.0);
        cx.apply_fault(async move { Ok(docker.stop(&name, grace).await?) })
            .await?;
    }
    Ok(hit_output(&hit))
}

selector_params! {
    pick = "select::pick_all";
    pub struct StartParams {}
}

pub const START_DOC: StepDoc = StepDoc {
    summary: "Start containers (all matches by default), e.g. the one an earlier step killed.",
    outputs: HIT_OUTPUTS,
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::None,
    example: "uses = \"docker.start\"\nwith = { container = \"{{ steps.kill.container }}\" }",
};

pub async fn start(p: StartParams, cx: &StepContext) -> Result<Value, StepError> {
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    for c in &hit {
        cx.status(format!("starting {}", c.name));
        // The selector just listed the container, so its state is fresh: no inspect needed.
        docker.ensure_running(&c.name, &c.state).await?;
        cx.clear_undo(&Undo::start(&c.name, StdDuration::ZERO))?;
    }
    Ok(hit_output(&hit))
}

selector_params! {
    pick = "select::pick_random";
    pub struct RestartParams {
        /// Time between the stop signal and SIGKILL.
        #[serde(default = "ten_seconds")]
        pub grace: Duration,
    }
}

pub const RESTART_DOC: StepDoc = StepDoc {
    summary: "Restart containers (stop with `grace`, then start).",
    outputs: HIT_OUTPUTS,
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "start the containers if the restart did not finish",
    },
    example: "uses = \"docker.restart\"\nwith = { service = \"pd0\", grace = \"0s\" }",
};

pub async fn restart(p: RestartParams, cx: &StepContext) -> Result<Value, StepError> {
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    for c in &hit {
        // If the restart dies half way, cleanup still brings the container back.
        let undo = Undo::start(&c.name, p.grace.0 + signal::SETTLES_WITHIN);
        cx.register_undo(undo.clone())?;
        cx.status(format!("restarting {}", c.name));
        let (docker, name, grace) = (docker.clone(), c.name.clone(), p.grace.0);
        cx.apply_fault(async move { Ok(docker.restart(&name, grace).await?) })
            .await?;
        cx.clear_undo(&undo)?;
    }
    Ok(hit_output(&hit))
}

selector_params! {
    pick = "select::pick_random";
    pub struct PauseParams {}
}

pub const PAUSE_DOC: StepDoc = StepDoc {
    summary: "Freeze containers' processes (cgroup freezer): they stop answering without dying. Undo: unpause.",
    outputs: HIT_OUTPUTS,
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "unpause the containers it hit, and check they run",
    },
    example: "id = \"pause\"\nuses = \"docker.pause\"\nwith = { service = \"etcd*\" }",
};

pub async fn pause(p: PauseParams, cx: &StepContext) -> Result<Value, StepError> {
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    for c in &hit {
        cx.register_undo(Undo::Unpause {
            container: c.name.clone(),
        })?;
        cx.status(format!("pausing {}", c.name));
        let (docker, name) = (docker.clone(), c.name.clone());
        cx.apply_fault(async move { Ok(docker.pause(&name).await?) })
            .await?;
    }
    Ok(hit_output(&hit))
}

selector_params! {
    pick = "select::pick_all";
    pub struct UnpauseParams {}
}

pub const UNPAUSE_DOC: StepDoc = StepDoc {
    summary: "Unpause containers (all matches by default).",
    outputs: HIT_OUTPUTS,
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::None,
    example: "uses = \"docker.unpause\"\nwith = { container = \"{{ steps.pause.container }}\" }",
};

pub async fn unpause(p: UnpauseParams, cx: &StepContext) -> Result<Value, StepError> {
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    for c in &hit {
        let undo = Undo::Unpause {
            container: c.name.clone(),
        };
        undo.apply(Some(docker)).await?;
        cx.clear_undo(&undo)?;
    }
    Ok(hit_output(&hit))
}

selector_params! {
    pick = "select::pick_first";
    pub struct ExecParams {
        /// Program and arguments, run without a shell inside the container.
        pub argv: Vec<String>,
        /// User to run as (`uid`, `uid:gid` or a name).
        #[serde(default)]
        pub user: Option<String>,
        /// Exit codes that count as success; an empty list accepts any.
        #[serde(default = "zero")]
        pub expect_exit: Vec<i64>,
    }
}

fn zero() -> Vec<i64> {
    vec![0]
}

pub const EXEC_DOC: StepDoc = StepDoc {
    summary: "Run a command inside containers (the first match by default) and capture its output.",
    outputs: &[
        (
            "container",
            "the container it ran in (the first, if several)",
        ),
        ("exit_code", "exit code"),
        ("stdout", "standard output"),
        ("stderr", "standard error"),
        (
            "results",
            "one {container, exit_code, stdout, stderr} per container",
        ),
    ],
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::None,
    example: "id = \"put\"\nuses = \"docker.exec\"\nwith = { service = \"etcd0\", argv = [\"etcdctl\", \"put\", \"k\", \"v\"] }",
};

pub async fn exec(p: ExecParams, cx: &StepContext) -> Result<Value, StepError> {
    if p.argv.is_empty() {
        return Err(StepError::Params("`argv` must name a program".into()));
    }
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for c in &hit {
        cx.status(format!("{} in {}", p.argv[0], c.name));
        let out = docker.exec(&c.name, &p.argv, p.user.as_deref()).await?;
        let ok = p.expect_exit.is_empty()
            || out
                .exit_code
                .is_some_and(|code| p.expect_exit.contains(&code));
        if !ok {
            failures.push(format!(
                "`{}` in {} exited with {}, expected {:?}{}",
                p.argv.join(" "),
                c.name,
                out.exit_code
                    .map_or("no code".to_string(), |code| code.to_string()),
                p.expect_exit,
                if out.stderr.trim().is_empty() {
                    String::new()
                } else {
                    format!("\nstderr: {}", out.stderr.trim())
                }
            ));
        }
        results.push(json!({"container": c.name, "exit_code": out.exit_code, "stdout": out.stdout, "stderr": out.stderr}));
    }
    if !failures.is_empty() {
        return Err(StepError::Failed(failures.join("\n")));
    }
    let first = results[0].clone();
    Ok(json!({
        "container": first["container"],
        "exit_code": first["exit_code"],
        "stdout": first["stdout"],
        "stderr": first["stderr"],
        "results": results,
    }))
}

selector_params! {
    pick = "select::pick_first";
    pub struct LogsParams {
        /// How many lines from the end.
        #[serde(default = "hundred")]
        pub tail: usize,
    }
}

fn hundred() -> usize {
    100
}

pub const LOGS_DOC: StepDoc = StepDoc {
    summary: "Capture the last lines of containers' output (the first match by default) into the step's output.",
    outputs: &[
        ("container", "the (first) container"),
        ("logs", "its last `tail` lines"),
        ("results", "one {container, logs} per container"),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: true,
    effect: Effect::None,
    example: "id = \"logs\"\nuses = \"docker.logs\"\nwith = { container = \"{{ steps.kill.container }}\", tail = 50 }",
};

pub async fn logs(p: LogsParams, cx: &StepContext) -> Result<Value, StepError> {
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    let mut results = Vec::new();
    for c in &hit {
        results.push(json!({"container": c.name, "logs": docker.logs(&c.name, p.tail).await?}));
    }
    Ok(json!({"container": hit[0].name, "logs": results[0]["logs"], "results": results}))
}
