//! Undoing faults. Every fault step registers how to reverse what it did before it does it, so
//! cleanup (after success, failure, timeout or Ctrl-C) restores the subject even when the
//! playbook's own `[[finally]]` forgets something.
//!
//! Undos name containers, not ids or processes: whatever is found under that name at undo time
//! is restored, and a container that is gone (or, for faults living in its network namespace,
//! no longer running, so the namespace went with it) needs nothing.
//!
//! An undo is done only when its effect is seen: it first waits out a fault that may still be
//! landing (a `docker stop` runs for its whole grace period in the daemon, whoever sent it),
//! then reverses it, then reads the subject back until the fault is gone. An undo whose effect
//! cannot be seen within [`VERIFY_WITHIN`] has failed, and stays in the ledger for `recover`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::clients::blkio::{self, Rates};
use crate::clients::command::{self, Place};
use crate::clients::disk::{self, Reach};
use crate::clients::docker::{DockerClient, DockerError, Liveness, Process};
use crate::clients::limits::{Kinds, Limits};
use crate::clients::netns::{self, by_name};
use crate::clients::pd::{PdClient, find_config};
use crate::engine::StepError;
use crate::steps::StepKind;

/// How long an undo may take to show its effect before it counts as failed.
pub const VERIFY_WITHIN: Duration = Duration::from_secs(10);

/// How long a user-defined fault's undo command may run (see `fault.exec`).
const COMMAND_WITHIN: Duration = Duration::from_secs(60);

/// How long a started container must stay up to count as restored: one that crashes at once
/// (a member refusing its stale data, say) is not restored.
const STAYS_UP: Duration = Duration::from_millis(250);

/// How often an undo reads the subject back while it waits.
const POLL: Duration = Duration::from_millis(100);

/// The longest an undo waits for a fault to settle, whatever the ledger says: a damaged
/// ledger must not hold `recover` for days.
const MAX_SETTLE: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Undo {
    /// Start a container that a fault killed or stopped.
    Start {
        container: String,
        /// Until when (Unix time, ms) the fault may still be taking the container down: a
        /// `docker stop` in the daemon until its grace period is over, a signal until the
        /// process has had time to act on it. A container still running before then is not
        /// taken as restored: the undo waits for it to go down, or for this moment to pass.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        settles_by_ms: Option<u64>,
        /// When the undo was registered (Unix time, ms), just before the fault was sent. A
        /// container that has ended since then was taken down by it: running again now (an
        /// operator restarted it), it need not wait for `settles_by_ms`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since_ms: Option<u64>,
    },
    /// Resume a container whose main process a signal stopped (SIGSTOP, SIGTSTP, SIGTTIN,
    /// SIGTTOU): Docker still calls it running, so only SIGCONT brings it back.
    Continue { container: String },
    /// Unpause a paused container.
    Unpause { container: String },
    /// Resume processes of a container (not its main one) that `process.signal` stopped, by
    /// their pids on the engine's host; those gone, or no longer the container's, need nothing.
    ContinueProcesses { container: String, pids: Vec<i64> },
    /// Attach a container that `network.partition` disconnected to its network again, with
    /// the same aliases and, when it was static, the same address.
    Reconnect {
        container: String,
        network: String,
        aliases: Vec<String>,
        ipv4: Option<String>,
    },
    /// Remove an iptables chain a network fault added in the container's namespace, with the
    /// rules that jump to it.
    FlushIptables { container: String, chain: String },
    /// Remove the root qdisc (tbf or netem) a network fault set on one of the container's
    /// interfaces.
    ClearQdisc { container: String, device: String },
    /// Put back the resource limits `docker.limit` changed (`kinds`), as read `before` it.
    Limits {
        container: String,
        before: Limits,
        kinds: Kinds,
    },
    /// Remove the filler file `disk.fill` put in a container's filesystem: through the
    /// container's root while it runs, else through the mount's directory on the host.
    RemoveFiller {
        container: String,
        /// The filler's path in the container.
        file: String,
        /// Its filesystem's device (`major:minor`), to find it mounted on the host when the
        /// container is down.
        dev: String,
        /// The filler's path in that filesystem.
        in_fs: String,
        /// A tmpfs, whose content goes when its container stops.
        tmpfs: bool,
        /// The free bytes before the fill, which must be back.
        free_before: u64,
    },
    /// Put back the disk I/O rates `disk.throttle` changed on one device (`MAJ:MIN`) in a
    /// container's control group, as read `before` it.
    Throttle {
        container: String,
        device: String,
        before: Rates,
    },
    /// Remove the helper container `docker.stress` started to load `container`: its stressors
    /// end with it (they live in its process namespace).
    Stress { container: String, helper: String },
    /// Run the undo command of a user-defined fault (`fault.exec`, `fault.docker_exec`), then
    /// its check, if any, until it succeeds.
    Command {
        place: Place,
        undo: Vec<String>,
        check: Option<Vec<String>>,
    },
    /// Restore PD settings changed by `pd.config`.
    PdConfig {
        pd: String,
        values: serde_json::Map<String, serde_json::Value>,
    },
}

/// A family of faults that one step reverses on the containers it selects, whichever steps
/// applied them: `network.heal` lifts the network's, `disk.restore` the disk's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Network,
    Disk,
}

impl Family {
    /// The namespace of the step kinds of this family: `network.heal` lifts what the
    /// `network.*` faults apply, `disk.restore` what the `disk.*` faults do.
    fn namespace(self) -> &'static str {
        match self {
            Family::Network => "network.",
            Family::Disk => "disk.",
        }
    }

    /// Whether steps of `kind` apply faults of this family, as the registry names and
    /// describes them: the fault kinds in the family's namespace.
    pub fn applied_by(self, kind: StepKind) -> bool {
        kind.doc().effect.is_fault() && kind.name().starts_with(self.namespace())
    }
}

/// Which of the faults still in place a step reverses mid-run. The three steps that do
/// (`undo`, `network.heal`, `disk.restore`) differ only in this choice.
#[derive(Debug, Clone, Copy)]
pub enum Outstanding<'a> {
    /// Every one (`undo` without `step` or `steps`).
    All,
    /// Those the steps with these ids applied (`undo`).
    Of(&'a [String]),
    /// Those of one family on the containers with these names.
    On(Family, &'a [String]),
}

impl Outstanding<'_> {
    /// The undos of `pending` (oldest first, as the ledger keeps them) this choice takes, in
    /// the same order; `origins` says which step registered each undo of this run.
    pub fn pick(self, pending: Vec<Undo>, origins: &[(String, Undo)]) -> Vec<Undo> {
        pending
            .into_iter()
            .filter(|u| match self {
                Outstanding::All => true,
                Outstanding::Of(ids) => origins.iter().any(|(id, o)| o == u && ids.contains(id)),
                Outstanding::On(family, names) => u
                    .family()
                    .is_some_and(|(f, c)| f == family && names.iter().any(|n| n == c)),
            })
            .collect()
    }

    /// Whether the background step `id`, of `kind` and still running, is stopped before these
    /// undos are applied: it would apply more after them. Those of a family are stopped
    /// whichever containers they act on, which a loop renders only item by item.
    pub fn stops(self, id: &str, kind: StepKind) -> bool {
        match self {
            Outstanding::All => kind.doc().effect.undo().is_some(),
            Outstanding::Of(ids) => ids.iter().any(|i| i == id),
            Outstanding::On(family, _) => family.applied_by(kind),
        }
    }
}

/// The moment `after` from now, as an undo's `settles_by_ms`.
pub fn settles_after(after: Duration) -> Option<u64> {
    let at = SystemTime::now() + after;
    at.duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Whether the container has ended since `since_ms`: the fault registered then has landed,
/// and whatever runs now was started after it.
fn landed(seen: &Liveness, since_ms: Option<u64>) -> bool {
    let ended = seen
        .finished_at
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok());
    match (ended, since_ms) {
        (Some(ended), Some(since)) => ended.as_millis() >= u128::from(since),
        _ => false,
    }
}

/// How long from now until `settles_by_ms`, at most [`MAX_SETTLE`].
fn until(settles_by_ms: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Duration::from_millis(settles_by_ms.saturating_sub(now)).min(MAX_SETTLE)
}

impl Undo {
    /// Starts `container` again, once whatever the fault set off has settled.
    pub fn start(container: &str, settles_in: Duration) -> Undo {
        Undo::Start {
            container: container.to_string(),
            settles_by_ms: settles_after(settles_in),
            since_ms: settles_after(Duration::ZERO),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Undo::Start { container, .. } => format!("start {container}"),
            Undo::Continue { container } => format!("resume {container} (SIGCONT)"),
            Undo::Unpause { container } => format!("unpause {container}"),
            Undo::ContinueProcesses { container, pids } => {
                format!("resume processes {pids:?} of {container} (SIGCONT)")
            }
            Undo::Reconnect {
                container, network, ..
            } => format!("reconnect {container} to {network}"),
            Undo::FlushIptables { container, chain } => {
                format!("remove iptables chain {chain} in {container}")
            }
            Undo::ClearQdisc { container, device } => {
                format!("remove the qdisc on {device} in {container}")
            }
            Undo::Limits {
                container, kinds, ..
            } => format!("restore the {} limits of {container}", kind_names(*kinds)),
            Undo::RemoveFiller {
                container, file, ..
            } => format!("remove the filler {file} in {container}"),
            Undo::Throttle {
                container, device, ..
            } => format!("restore the disk I/O rates of {container} on {device}"),
            Undo::Stress { container, helper } => {
                format!("stop the stress on {container} (remove {helper})")
            }
            Undo::Command { place, undo, .. } => match place {
                Place::Local { dir } => format!("run `{}` in {}", undo.join(" "), dir.display()),
                Place::Container { container } => {
                    format!("run `{}` in {container}", undo.join(" "))
                }
            },
            Undo::PdConfig { pd, values } => format!(
                "restore PD settings {} at {pd}",
                values.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }

    pub fn needs_docker(&self) -> bool {
        !matches!(
            self,
            Undo::PdConfig { .. }
                | Undo::Command {
                    place: Place::Local { .. },
                    ..
                }
        )
    }

    /// The family of the fault this undo reverses and the container it is in, for the steps
    /// that reverse one family on the containers they select; `None` for other faults.
    pub fn family(&self) -> Option<(Family, &str)> {
        match self {
            Undo::Reconnect { container, .. }
            | Undo::FlushIptables { container, .. }
            | Undo::ClearQdisc { container, .. } => Some((Family::Network, container)),
            Undo::RemoveFiller { container, .. } | Undo::Throttle { container, .. } => {
                Some((Family::Disk, container))
            }
            // Listed, so that a new undo takes a side.
            Undo::Start { .. }
            | Undo::Continue { .. }
            | Undo::Unpause { .. }
            | Undo::ContinueProcesses { .. }
            | Undo::Limits { .. }
            | Undo::Stress { .. }
            | Undo::Command { .. }
            | Undo::PdConfig { .. } => None,
        }
    }

    /// Whether this undo is made unnecessary by an explicit step doing the same: starting a
    /// container does every start, whatever was waited for before it.
    pub fn is_done_by(&self, other: &Undo) -> bool {
        match (self, other) {
            (Undo::Start { container: a, .. }, Undo::Start { container: b, .. }) => a == b,
            _ => self == other,
        }
    }

    /// The container the undo acts on, whose removal leaves nothing to undo; `None` for undos
    /// that act on something else, or on what may outlive the container.
    fn container(&self) -> Option<&str> {
        match self {
            Undo::Start { container, .. }
            | Undo::Continue { container }
            | Undo::Unpause { container }
            | Undo::ContinueProcesses { container, .. }
            | Undo::Reconnect { container, .. }
            | Undo::FlushIptables { container, .. }
            | Undo::ClearQdisc { container, .. }
            | Undo::Limits { container, .. }
            | Undo::Throttle { container, .. }
            // Its helper: with the helper gone, no stressor is left.
            | Undo::Stress {
                helper: container, ..
            }
            | Undo::Command {
                place: Place::Container { container },
                ..
            } => Some(container),
            Undo::Command {
                place: Place::Local { .. },
                ..
            }
            | Undo::PdConfig { .. } => None,
            // A filler outlives its container on a filesystem that does (a bind-mounted host
            // directory): it is looked for on the host's mounts even when the container is gone.
            Undo::RemoveFiller { .. } => None,
        }
    }

    /// Applies the undo and waits until its effect is seen; a subject already in the wanted
    /// state is fine. `docker` is needed when [`Undo::needs_docker`] says so. A container
    /// removed meanwhile (by someone else, or a `compose.down`) has nothing left to restore:
    /// that is a success, with the note returned so cleanup and `recover` can say so, and the
    /// ledger drops the undo.
    pub async fn apply(&self, docker: Option<&DockerClient>) -> Result<Option<String>, StepError> {
        if let Some(container) = self.container() {
            match required(docker)?.state(container).await {
                Err(DockerError::NoSuchContainer(_)) => {
                    return Ok(Some(format!(
                        "nothing to undo: container {container} no longer exists"
                    )));
                }
                other => drop(other?),
            }
        }
        self.settle(docker).await?;
        self.reverse(docker).await?;
        self.verify(docker).await.map(|()| None)
    }

    /// Waits until the fault this undoes can no longer be landing (see `settles_by_ms`).
    async fn settle(&self, docker: Option<&DockerClient>) -> Result<(), StepError> {
        let Undo::Start {
            container,
            settles_by_ms: Some(by),
            since_ms,
        } = self
        else {
            return Ok(());
        };
        let docker = required(docker)?;
        let deadline = tokio::time::Instant::now() + until(*by);
        while tokio::time::Instant::now() < deadline {
            if liveness(docker, container)
                .await?
                .is_none_or(|seen| seen.status != "running" || landed(&seen, *since_ms))
            {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    async fn reverse(&self, docker: Option<&DockerClient>) -> Result<(), StepError> {
        let docker = || required(docker);
        match self {
            Undo::Start { container, .. } => {
                let docker = docker()?;
                let (state, _) = docker.state(container).await?;
                Ok(docker.ensure_running(container, &state).await?)
            }
            Undo::Continue { container } => {
                let docker = docker()?;
                if docker.liveness(container).await?.stopped {
                    docker.kill(container, "SIGCONT").await?;
                }
                Ok(())
            }
            Undo::ContinueProcesses { container, pids } => {
                let docker = docker()?;
                for p in stopped(docker, container, pids).await? {
                    netns::signal_process(docker, container, p.pid, "CONT").await?;
                }
                Ok(())
            }
            Undo::Unpause { container } => {
                let docker = docker()?;
                let (state, _) = docker.state(container).await?;
                if state == "paused" {
                    docker.unpause(container).await?;
                }
                Ok(())
            }
            Undo::Reconnect {
                container,
                network,
                aliases,
                ipv4,
            } => reconnect(docker()?, container, network, aliases, ipv4.as_deref()).await,
            Undo::FlushIptables { container, chain } => {
                Ok(by_name::remove_chain(docker()?, container, chain).await?)
            }
            Undo::ClearQdisc { container, device } => {
                Ok(by_name::clear_qdisc(docker()?, container, device).await?)
            }
            Undo::Limits {
                container,
                before,
                kinds,
            } => {
                let docker = docker()?;
                let update = before.restore(*kinds, docker.cgroup().await?);
                Ok(docker.update_limits(container, update).await?)
            }
            Undo::RemoveFiller {
                container,
                file,
                in_fs,
                dev,
                ..
            } => match disk::reach(docker()?, container, file, dev, in_fs).await? {
                Reach::At(path) => disk::remove(&path).map(drop).map_err(Into::into),
                Reach::Nowhere => Ok(()),
            },
            Undo::Throttle {
                container,
                device,
                before,
            } => match blkio::cgroup(docker()?, container).await? {
                Some(group) => Ok(blkio::write(&group, device, *before)?),
                None => Ok(()),
            },
            Undo::Stress { helper, .. } => Ok(docker()?.remove(helper).await?),
            Undo::Command { place, undo, .. } => {
                let ran = command::run(docker().ok(), place, undo, COMMAND_WITHIN).await?;
                match ran.ok() {
                    true => Ok(()),
                    false => Err(StepError::Failed(ran.failure(undo))),
                }
            }
            Undo::PdConfig { pd, values } => Ok(PdClient::new(pd)?.set_config(values).await?),
        }
    }

    /// Reads the subject back until the fault is seen gone, for at most [`VERIFY_WITHIN`].
    async fn verify(&self, docker: Option<&DockerClient>) -> Result<(), StepError> {
        let deadline = tokio::time::Instant::now() + VERIFY_WITHIN;
        loop {
            let Some(left) = self.remains(docker).await? else {
                return Ok(());
            };
            if tokio::time::Instant::now() >= deadline {
                return Err(StepError::Failed(format!(
                    "{}: not seen done within {}s: {left}",
                    self.describe(),
                    VERIFY_WITHIN.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// What is left of the fault, as seen now; `None` once it is gone.
    async fn remains(&self, docker: Option<&DockerClient>) -> Result<Option<String>, StepError> {
        let docker = || required(docker);
        Ok(match self {
            Undo::Start { container, .. } => still_down(docker()?, container).await?,
            Undo::Continue { container } | Undo::Unpause { container } => {
                // A container that went down meanwhile has no frozen process left to resume.
                liveness(docker()?, container)
                    .await?
                    .filter(|seen| seen.status == "paused" || seen.stopped)
                    .map(|seen| format!("{container} is {seen}"))
            }
            Undo::ContinueProcesses { container, pids } => stopped(docker()?, container, pids)
                .await?
                .first()
                .map(|p| format!("process {} ({}) of {container} is stopped", p.pid, p.name)),
            Undo::Reconnect {
                container, network, ..
            } => (!is_attached(docker()?, container, network).await?)
                .then(|| format!("{container} is not on {network}")),
            Undo::FlushIptables { container, chain } => {
                by_name::has_chain(docker()?, container, chain)
                    .await?
                    .then(|| format!("chain {chain} is still in {container}"))
            }
            Undo::ClearQdisc { container, device } => {
                by_name::has_our_qdisc(docker()?, container, device)
                    .await?
                    .then(|| format!("the qdisc on {device} is still in {container}"))
            }
            Undo::Limits {
                container,
                before,
                kinds,
            } => match docker()?.limits(container).await {
                Ok(now) => before
                    .differs(&now, *kinds)
                    .map(|left| format!("{container}: {left}")),
                Err(DockerError::NoSuchContainer(_)) => None,
                Err(e) => return Err(e.into()),
            },
            Undo::RemoveFiller { .. } => filler_left(docker()?, self).await?,
            Undo::Throttle {
                container,
                device,
                before,
            } => match blkio::cgroup(docker()?, container).await? {
                Some(group) => {
                    let now = blkio::read(&group, device)?;
                    (now != *before).then(|| format!("{container} has {now:?} on {device}"))
                }
                None => None,
            },
            Undo::Stress { container, helper } => stress_left(docker()?, container, helper).await?,
            Undo::Command { place, check, .. } => match check {
                Some(check) => {
                    let ran = command::run(docker().ok(), place, check, VERIFY_WITHIN).await?;
                    (!ran.ok()).then(|| ran.failure(check))
                }
                None => None,
            },
            Undo::PdConfig { pd, values } => {
                let config = PdClient::new(pd)?.config().await?;
                values
                    .iter()
                    .find(|(key, value)| find_config(&config, key).as_ref() != Some(value))
                    .map(|(key, value)| format!("PD at {pd} does not have {key} = {value}"))
            }
        })
    }
}

/// What is left of a filler: the file itself, or the space it took (within 5% of the
/// filesystem's size, or 1 MiB, for what the subject wrote meanwhile); `None` once both are
/// gone, or when the filler went with its container's tmpfs.
async fn filler_left(docker: &DockerClient, undo: &Undo) -> Result<Option<String>, StepError> {
    let Undo::RemoveFiller {
        container,
        file,
        in_fs,
        dev,
        tmpfs,
        free_before,
    } = undo
    else {
        return Ok(None);
    };
    let path = match disk::reach(docker, container, file, dev, in_fs).await? {
        Reach::At(path) => path,
        Reach::Nowhere if *tmpfs => return Ok(None),
        Reach::Nowhere => {
            return Ok(Some(format!(
                "{container} is not running and the filesystem of its {file} is mounted nowhere on this host: start {container} (or mount that filesystem), then run `chaosplay recover`"
            )));
        }
    };
    if path.exists() {
        return Ok(Some(format!("the filler {file} is still in {container}")));
    }
    let Some(space) = path.parent().and_then(|dir| disk::space(dir).ok()) else {
        return Ok(None);
    };
    let tolerance = (space.size / 20).max(1 << 20);
    Ok((space.free + tolerance < *free_before).then(|| {
        format!(
            "{container} has {} free, {} before the fill",
            disk::human(space.free),
            disk::human(*free_before)
        )
    }))
}

/// The kinds of limits, as words: "cpu, memory".
fn kind_names(kinds: Kinds) -> String {
    let names = [
        (kinds.cpu, "cpu"),
        (kinds.memory, "memory"),
        (kinds.pids, "pids"),
    ];
    let on: Vec<&str> = names
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
    on.join(", ")
}

/// Why `container` is not restored yet, if it is not: it must be up, and still up a moment
/// later. A container removed meanwhile has nothing left to restore.
async fn still_down(docker: &DockerClient, container: &str) -> Result<Option<String>, StepError> {
    let down = |seen: Option<Liveness>| {
        seen.filter(|seen| !seen.is_up())
            .map(|seen| format!("{container} is {seen}"))
    };
    if let Some(down) = down(liveness(docker, container).await?) {
        return Ok(Some(down));
    }
    tokio::time::sleep(STAYS_UP).await;
    Ok(down(liveness(docker, container).await?))
}

/// What is left of a load on `container`: its helper, stressors in it, or the container
/// itself down.
async fn stress_left(
    docker: &DockerClient,
    container: &str,
    helper: &str,
) -> Result<Option<String>, StepError> {
    if liveness(docker, helper).await?.is_some() {
        return Ok(Some(format!("the helper {helper} still exists")));
    }
    let Some(seen) = liveness(docker, container).await? else {
        return Ok(None);
    };
    if !seen.is_up() {
        return Ok(Some(format!("{container} is {seen}")));
    }
    let left = docker.processes(container).await?;
    Ok(left
        .iter()
        .find(|p| p.name.starts_with("stress-ng"))
        .map(|p| format!("stressor {} ({}) is still in {container}", p.pid, p.name)))
}

/// Those of `pids` that are processes of `container` stopped by a signal now.
async fn stopped(
    docker: &DockerClient,
    container: &str,
    pids: &[i64],
) -> Result<Vec<Process>, StepError> {
    let processes = match docker.processes(container).await {
        Ok(processes) => processes,
        Err(DockerError::NoSuchContainer(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(processes
        .into_iter()
        .filter(|p| pids.contains(&p.pid) && p.is_stopped())
        .collect())
}

/// Undo of a disconnect: attach the container again unless it is gone or already attached.
async fn reconnect(
    docker: &DockerClient,
    container: &str,
    network: &str,
    aliases: &[String],
    ipv4: Option<&str>,
) -> Result<(), StepError> {
    let state = match docker.network_state(container).await {
        Ok(state) => state,
        Err(DockerError::NoSuchContainer(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if state.attachments.iter().any(|a| a.network == network) {
        return Ok(());
    }
    Ok(docker
        .connect_network(container, network, aliases, ipv4)
        .await?)
}

/// Whether the container is on `network` (a container that is gone needs nothing).
async fn is_attached(
    docker: &DockerClient,
    container: &str,
    network: &str,
) -> Result<bool, StepError> {
    match docker.network_state(container).await {
        Ok(state) => Ok(state.attachments.iter().any(|a| a.network == network)),
        Err(DockerError::NoSuchContainer(_)) => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// The container's liveness, `None` if it no longer exists.
async fn liveness(docker: &DockerClient, container: &str) -> Result<Option<Liveness>, StepError> {
    match docker.liveness(container).await {
        Ok(seen) => Ok(Some(seen)),
        Err(DockerError::NoSuchContainer(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn required(docker: Option<&DockerClient>) -> Result<&DockerClient, StepError> {
    docker.ok_or_else(|| StepError::Environment("undo needs the Docker daemon".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(finished_ms: Option<u64>) -> Liveness {
        Liveness {
            status: "running".into(),
            exit_code: None,
            stopped: false,
            finished_at: finished_ms.map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }

    #[test]
    fn a_family_picks_its_own_faults_on_the_containers_named_and_ids_pick_their_steps() {
        let qdisc = |c: &str| Undo::ClearQdisc {
            container: c.into(),
            device: "eth0".into(),
        };
        let throttle = Undo::Throttle {
            container: "a".into(),
            device: "8:0".into(),
            before: Rates::default(),
        };
        let pause = Undo::Unpause {
            container: "a".into(),
        };
        let pending = vec![qdisc("a"), throttle.clone(), pause.clone(), qdisc("b")];
        let origins = [
            ("slow".to_string(), qdisc("a")),
            ("freeze".into(), pause.clone()),
        ];
        let a = ["a".to_string()];
        let pick = |which: Outstanding<'_>| which.pick(pending.clone(), &origins);
        assert_eq!(pick(Outstanding::On(Family::Network, &a)), [qdisc("a")]);
        assert_eq!(pick(Outstanding::On(Family::Disk, &a)), [throttle]);
        assert_eq!(pick(Outstanding::On(Family::Disk, &["b".into()])), []);
        let ids = ["freeze".to_string(), "slow".into()];
        // In the ledger's order, whatever the order of the ids.
        assert_eq!(pick(Outstanding::Of(&ids)), [qdisc("a"), pause]);
        assert_eq!(pick(Outstanding::All), pending);
    }

    #[test]
    fn a_family_stops_its_own_fault_kinds_ids_their_steps_and_all_every_fault_kind() {
        let of = |family: Family| -> Vec<&str> {
            StepKind::ALL
                .iter()
                .filter(|k| family.applied_by(**k))
                .map(|k| k.name())
                .collect()
        };
        assert_eq!(
            of(Family::Network),
            [
                "network.partition",
                "network.loss",
                "network.bandwidth",
                "network.delay",
                "network.dns"
            ]
        );
        assert_eq!(of(Family::Disk), ["disk.fill", "disk.throttle"]);
        let names = ["a".to_string()];
        let heal = Outstanding::On(Family::Network, &names);
        assert!(heal.stops("x", StepKind::NetworkLoss));
        assert!(!heal.stops("x", StepKind::DiskFill));
        assert!(!heal.stops("x", StepKind::DockerPause));
        let ids = ["x".to_string()];
        assert!(Outstanding::Of(&ids).stops("x", StepKind::Group));
        assert!(!Outstanding::Of(&ids).stops("y", StepKind::NetworkLoss));
        assert!(Outstanding::All.stops("y", StepKind::PdConfig));
        assert!(!Outstanding::All.stops("y", StepKind::Sleep));
    }

    #[test]
    fn a_container_that_ended_after_the_fault_was_registered_has_seen_it_land() {
        // Ended after the undo was registered: the fault took it down; it runs again now.
        assert!(landed(&seen(Some(2_000)), Some(1_000)));
        assert!(landed(&seen(Some(1_000)), Some(1_000)));
        // Ended before (an earlier fault, a restart before this run), or never: the fault may
        // still be landing.
        assert!(!landed(&seen(Some(999)), Some(1_000)));
        assert!(!landed(&seen(None), Some(1_000)));
        // A ledger written before `since_ms` existed: wait, as before.
        assert!(!landed(&seen(Some(2_000)), None));
    }
}
