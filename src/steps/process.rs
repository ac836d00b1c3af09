//! `process.signal`: signal processes inside containers, chosen by name or command line, from
//! the host: the subject's images (often `FROM scratch`) need no `kill` or `ps`. The processes
//! are listed through the Engine API's `top` and signalled by their pids on the host (see
//! [`crate::clients::netns::signal_process`]), so this needs a local engine and root, like
//! the network faults. The main process (PID 1) is never hit: that is `docker.kill`.

use serde_json::{Value, json};

use super::docker::signal;
use super::select::{self, hit_output, hit_outputs, select, selector_params};
use super::undo::Undo;
use super::{Effect, OutOfBounds, StepDoc};
use crate::clients::docker::{Container, DockerClient, Process};
use crate::clients::netns;
use crate::engine::{StepContext, StepError};

selector_params! {
    pick = "select::pick_random";
    bounds = signal_bounds;
    pub struct SignalParams {
        /// The processes' name (`comm`: the executable's name, cut to 15 characters by
        /// Linux), a glob: `"etcd"`, `"worker*"`.
        #[serde(default)]
        pub process: Option<String>,
        /// A glob on the whole command line instead, e.g. `"*--role=worker*"`.
        #[serde(default)]
        pub command: Option<String>,
        /// The signal to send: a name (`SIGSTOP`, `KILL`) or a number (`9`).
        #[serde(default = "sigkill")]
        pub signal: String,
    }
}

fn sigkill() -> String {
    "SIGKILL".into()
}

/// Which processes the step hits: by name or by command line, each a glob.
enum Choice {
    Name(globset::GlobMatcher),
    Command(globset::GlobMatcher),
}

impl Choice {
    fn of(p: &SignalParams) -> Result<Choice, OutOfBounds> {
        let compiled = |field, pattern: &str| {
            select::glob(field, pattern).map_err(|e| OutOfBounds::new(field, e))
        };
        match (&p.process, &p.command) {
            (Some(name), None) => compiled("process", name).map(Choice::Name),
            (None, Some(command)) => compiled("command", command).map(Choice::Command),
            _ => Err(OutOfBounds::new(
                "process",
                "give one of `process` (a name) and `command` (a command line)",
            )),
        }
    }

    fn matches(&self, p: &Process) -> bool {
        match self {
            Choice::Name(glob) => glob.is_match(&p.name),
            Choice::Command(glob) => glob.is_match(&p.command),
        }
    }
}

fn signal_bounds(p: &SignalParams) -> Vec<OutOfBounds> {
    let mut broken = signal::bounds(&p.signal);
    broken.extend(Choice::of(p).err());
    broken
}

pub const DOC: StepDoc = StepDoc {
    summary: "Send a signal (SIGKILL by default) to processes inside containers chosen by name or command line, never the main process (that is docker.kill), from the host: nothing is needed in the image, but a local engine and root are. Undo: SIGCONT after SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU; none after other signals.",
    outputs: hit_outputs!(
        ("signal", "the signal sent, e.g. `STOP`"),
        (
            "processes",
            "each {container, pid, name, command} signalled (pid on the engine's host)"
        ),
    ),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "after a stopping signal, SIGCONT to the processes it stopped, and check none is stopped; none after others: a killed process is not restarted (restart the container with docker.restart if needed)",
    },
    example: "id = \"freeze\"\nuses = \"process.signal\"\nwith = { service = \"etcd0\", process = \"etcd\", signal = \"SIGSTOP\" }",
};

pub async fn run(p: SignalParams, cx: &StepContext) -> Result<Value, StepError> {
    let choice = Choice::of(&p).map_err(|e| StepError::Params(e.message))?;
    let name = signal::name(&p.signal)
        .ok_or_else(|| StepError::Params(format!("`{}` is not a Linux signal", p.signal)))?;
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    netns::require_local_root(docker.host())?;
    netns::require(&["kill"])?;
    let mut signalled = Vec::new();
    for c in &hit {
        let chosen = chosen(docker, c, &choice).await?;
        if signal::is_stopping(name) {
            cx.register_undo(Undo::ContinueProcesses {
                container: c.name.clone(),
                pids: chosen.iter().map(|p| p.pid).collect(),
            })?;
        }
        cx.status(format!(
            "SIG{name} {} processes of {}",
            chosen.len(),
            c.name
        ));
        let (api, container) = (docker.clone(), c.name.clone());
        let sent = cx
            .apply_fault(async move {
                let mut sent = Vec::new();
                for p in chosen {
                    if netns::signal_process(&api, &container, p.pid, name).await? {
                        sent.push(json!({"container": container, "pid": p.pid, "name": p.name, "command": p.command}));
                    }
                }
                Ok(sent)
            })
            .await?;
        signalled.extend(sent);
    }
    let mut out = hit_output(&hit);
    out["signal"] = json!(name);
    out["processes"] = json!(signalled);
    Ok(out)
}

/// The processes of `c` the step hits: at least one, and not its main process.
async fn chosen(
    docker: &DockerClient,
    c: &Container,
    choice: &Choice,
) -> Result<Vec<Process>, StepError> {
    let main = docker.network_state(&c.name).await?.pid;
    let chosen: Vec<Process> = docker
        .processes(&c.name)
        .await?
        .into_iter()
        .filter(|p| choice.matches(p))
        .collect();
    if let Some(p) = chosen.iter().find(|p| p.pid == main) {
        return Err(StepError::Failed(format!(
            "`{}` matches the main process (PID 1) of {}: narrow `process` or `command`, or signal the container with docker.kill",
            p.name, c.name
        )));
    }
    if chosen.is_empty() {
        return Err(StepError::Failed(format!(
            "no process of {} matches (is it running?)",
            c.name
        )));
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(with: &str) -> Vec<&'static str> {
        let (table, _) = toml::de::DeTable::parse_recoverable(with);
        let node = crate::playbook::node::Node::from_table(&table).unwrap();
        let p: SignalParams = crate::playbook::check::check(&node).unwrap();
        signal_bounds(&p).into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn one_choice_and_a_real_signal_are_required() {
        assert_eq!(refused("service = \"s\""), ["process"]);
        assert_eq!(
            refused("service = \"s\"\nprocess = \"a\"\ncommand = \"b\""),
            ["process"]
        );
        assert_eq!(refused("service = \"s\"\ncommand = \"x[\""), ["command"]);
        assert_eq!(
            refused("service = \"s\"\nprocess = \"a\"\nsignal = \"SIGSTAP\""),
            ["signal"]
        );
        assert!(refused("service = \"s\"\nprocess = \"worker*\"\nsignal = \"19\"").is_empty());
    }

    #[test]
    fn names_and_command_lines_are_globs() {
        let p = Process {
            pid: 7,
            stat: "S".into(),
            name: "sleep".into(),
            command: "sleep 1000 --role=worker".into(),
        };
        let choice = |process: Option<&str>, command: Option<&str>| {
            let (table, _) = toml::de::DeTable::parse_recoverable("service = \"s\"");
            let node = crate::playbook::node::Node::from_table(&table).unwrap();
            let mut params: SignalParams = crate::playbook::check::check(&node).unwrap();
            params.process = process.map(String::from);
            params.command = command.map(String::from);
            Choice::of(&params).ok().unwrap()
        };
        assert!(choice(Some("sle*"), None).matches(&p));
        assert!(!choice(Some("sleep 1000"), None).matches(&p));
        assert!(choice(None, Some("*--role=worker")).matches(&p));
        assert!(!choice(None, Some("sleep")).matches(&p));
    }
}
