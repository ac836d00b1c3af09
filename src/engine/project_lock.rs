//! One run per compose project on a Docker engine, whoever runs it and from wherever.
//!
//! The ledger's lock file keeps apart two runs that share a state directory. It cannot see a
//! run with another `CHAOSPLAY_STATE_DIR` or `HOME`, another user's, or one on another machine
//! whose `DOCKER_HOST` is the same engine, and deleting it let `recover` reverse a live run's
//! faults. So a run that touches containers also holds a lock where every such run must look:
//! on the engine, as a container named `chaosplay-lock.<project>`, created and never started,
//! from an empty image chaosplay loads itself. The engine gives a name to one container only:
//! of two runs creating it, exactly one gets it, atomically.
//!
//! The lock's labels say who holds it, and it is removed when the run ends. A holder that died
//! without removing it (SIGKILL, a crash) is recognised only where that can be proven: on the
//! same machine (same boot, same pid namespace), its process is gone, or the pid now belongs
//! to a process started at another time. A holder anywhere else cannot be proven dead, so its
//! lock is never taken: the message names the holder and how to remove the lock by hand.

use std::collections::HashMap;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ImportImageOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;

use crate::clients::docker::{DockerClient, DockerError};

/// The image lock containers are created from: no layers, no program, never run.
const IMAGE: &str = "chaosplay-lock:1";

/// Labels of a lock container: `LABEL` marks it (selectors never pick it), the rest name its
/// holder.
pub const LABEL: &str = "dev.chaosplay.lock";
const PROJECT: &str = "dev.chaosplay.lock.project";
const HOST: &str = "dev.chaosplay.lock.host";
const USER: &str = "dev.chaosplay.lock.user";
const PID: &str = "dev.chaosplay.lock.pid";
const MACHINE: &str = "dev.chaosplay.lock.machine";
const PROCESS_START: &str = "dev.chaosplay.lock.process-start";
const SCENARIO: &str = "dev.chaosplay.lock.scenario";
const SINCE: &str = "dev.chaosplay.lock.since";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another chaosplay run holds `{project}` on the Docker engine at {engine}: {holder}; wait for it, or stop it{hint}"
    )]
    Busy {
        project: String,
        engine: String,
        holder: String,
        /// How to remove a lock whose holder cannot be checked from here.
        hint: String,
    },
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// The lock of one project, held until [`ProjectLock::release`].
#[derive(Debug)]
pub struct ProjectLock {
    docker: DockerClient,
    /// The lock container's id: releasing removes this one, never a successor's.
    id: String,
}

impl ProjectLock {
    /// Takes the lock of `project` on the engine, taking over a lock whose holder is proven
    /// dead; a live holder, or one that cannot be checked, is an error naming it.
    pub async fn acquire(
        docker: &DockerClient,
        project: &str,
        scenario: &str,
    ) -> Result<ProjectLock, LockError> {
        let me = Holder::this_process(scenario);
        // Twice at most: once more after removing a dead holder's lock.
        for _ in 0..2 {
            match create(docker, project, &me).await? {
                Some(id) => {
                    return Ok(ProjectLock {
                        docker: docker.clone(),
                        id,
                    });
                }
                None => {
                    let Some((id, holder)) = holder(docker, project).await? else {
                        continue; // released meanwhile
                    };
                    if !holder.is_dead() {
                        return Err(busy(docker, project, &holder));
                    }
                    remove(docker, &id).await?;
                }
            }
        }
        match holder(docker, project).await? {
            Some((_, holder)) => Err(busy(docker, project, &holder)),
            None => Err(DockerError::Api {
                action: format!("lock project {project}"),
                message: "the lock changed hands twice while it was being taken".into(),
            }
            .into()),
        }
    }

    /// Removes the lock; a lock that is already gone is fine.
    pub async fn release(self) -> Result<(), DockerError> {
        remove(&self.docker, &self.id).await
    }
}

fn container_name(project: &str) -> String {
    format!("chaosplay-lock.{project}")
}

fn busy(docker: &DockerClient, project: &str, holder: &Holder) -> LockError {
    let hint = if holder.is_local() {
        String::new()
    } else {
        format!(
            " (it cannot be checked from this machine; if that run is gone, remove its lock with `docker rm {}`)",
            container_name(project)
        )
    };
    LockError::Busy {
        project: project.into(),
        engine: docker.host().into(),
        holder: holder.to_string(),
        hint,
    }
}

/// Creates the lock container: its id, or `None` if the name is taken.
async fn create(
    docker: &DockerClient,
    project: &str,
    me: &Holder,
) -> Result<Option<String>, DockerError> {
    let options = CreateContainerOptionsBuilder::new()
        .name(&container_name(project))
        .build();
    let body = ContainerCreateBody {
        image: Some(IMAGE.into()),
        cmd: Some(vec!["chaosplay-lock".into()]),
        labels: Some(me.labels(project)),
        network_disabled: Some(true),
        ..Default::default()
    };
    let create = || {
        docker
            .api()
            .create_container(Some(options.clone()), body.clone())
    };
    let mut created = create().await;
    if let Err(bollard::errors::Error::DockerResponseServerError {
        status_code: 404, ..
    }) = created
    {
        load_image(docker).await?;
        created = create().await;
    }
    match created {
        Ok(created) => Ok(Some(created.id)),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(None),
        Err(e) => Err(DockerError::from_api(format!("lock project {project}"), e)),
    }
}

/// Loads [`IMAGE`] into the engine: an image with no layers, made here, so no registry is
/// needed.
async fn load_image(docker: &DockerClient) -> Result<(), DockerError> {
    let options = ImportImageOptionsBuilder::new().quiet(true).build();
    let mut progress =
        docker
            .api()
            .import_image(options, bollard::body_full(image_archive().into()), None);
    while let Some(step) = progress.next().await {
        step.map_err(|e| DockerError::from_api(format!("load {IMAGE}"), e))?;
    }
    Ok(())
}

/// [`IMAGE`] as `docker save` writes an image: its config and a manifest naming it.
fn image_archive() -> Vec<u8> {
    let config = serde_json::json!({
        "architecture": engine_arch(),
        "os": "linux",
        "config": {"Labels": {LABEL: "image"}},
        "rootfs": {"type": "layers", "diff_ids": []},
    });
    let manifest =
        serde_json::json!([{"Config": "config.json", "RepoTags": [IMAGE], "Layers": []}]);
    let mut archive = tar::Builder::new(Vec::new());
    for (name, json) in [("config.json", config), ("manifest.json", manifest)] {
        let bytes = serde_json::to_vec(&json).expect("JSON serializes");
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        archive
            .append_data(&mut header, name, bytes.as_slice())
            .expect("writing to memory cannot fail");
    }
    archive.into_inner().expect("writing to memory cannot fail")
}

/// The architecture as image configs name it. The lock container never runs, so a remote
/// engine of another architecture only needs a name it accepts.
fn engine_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The holder of the project's lock, with the lock's id; `None` if there is no lock.
async fn holder(
    docker: &DockerClient,
    project: &str,
) -> Result<Option<(String, Holder)>, DockerError> {
    match docker
        .api()
        .inspect_container(&container_name(project), None)
        .await
    {
        Ok(inspect) => {
            let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
            Ok(Some((
                inspect.id.unwrap_or_default(),
                Holder::from_labels(&labels),
            )))
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(DockerError::from_api(
            format!("inspect the lock of {project}"),
            e,
        )),
    }
}

async fn remove(docker: &DockerClient, id: &str) -> Result<(), DockerError> {
    let options = RemoveContainerOptionsBuilder::new().force(true).build();
    match docker.api().remove_container(id, Some(options)).await {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(e) => Err(DockerError::from_api("remove the project lock", e)),
    }
}

/// Who holds a lock, as its labels say.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    host: String,
    user: String,
    pid: u32,
    /// Where `pid` means something: the kernel's boot id and the pid namespace; empty where
    /// this cannot be read.
    machine: String,
    /// When the process started (clock ticks since boot), so a reused pid is told apart.
    process_start: u64,
    scenario: String,
    since: String,
}

impl Holder {
    fn this_process(scenario: &str) -> Holder {
        let pid = std::process::id();
        Holder {
            host: hostname(),
            user: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_default(),
            pid,
            machine: this_machine().unwrap_or_default(),
            process_start: process_start(pid).unwrap_or(0),
            scenario: scenario.into(),
            since: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }

    fn labels(&self, project: &str) -> HashMap<String, String> {
        [
            (LABEL, String::new()),
            (PROJECT, project.into()),
            (HOST, self.host.clone()),
            (USER, self.user.clone()),
            (PID, self.pid.to_string()),
            (MACHINE, self.machine.clone()),
            (PROCESS_START, self.process_start.to_string()),
            (SCENARIO, self.scenario.clone()),
            (SINCE, self.since.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn from_labels(labels: &HashMap<String, String>) -> Holder {
        let text = |key: &str| labels.get(key).cloned().unwrap_or_default();
        Holder {
            host: text(HOST),
            user: text(USER),
            pid: text(PID).parse().unwrap_or(0),
            machine: text(MACHINE),
            process_start: text(PROCESS_START).parse().unwrap_or(0),
            scenario: text(SCENARIO),
            since: text(SINCE),
        }
    }

    /// Whether the holder's pid can be looked up here: same boot, same pid namespace.
    fn is_local(&self) -> bool {
        !self.machine.is_empty() && this_machine().as_deref() == Some(self.machine.as_str())
    }

    /// Proven dead: on this machine, its pid is gone or is a process started at another time.
    /// A holder elsewhere is never proven dead.
    fn is_dead(&self) -> bool {
        self.is_local() && process_start(self.pid) != Some(self.process_start)
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = if self.user.is_empty() {
            String::new()
        } else {
            format!("{}@", self.user)
        };
        write!(
            f,
            "pid {} on {user}{}, scenario `{}`, since {}",
            self.pid, self.host, self.scenario, self.since
        )
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

/// The boot id and pid namespace of this process: two processes see each other's pids only
/// if both are the same.
fn this_machine() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let pid_ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}/{}", boot.trim(), pid_ns.display()))
}

/// When process `pid` started, in clock ticks since boot (field 22 of `/proc/<pid>/stat`);
/// `None` if there is no such process.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    start_time(&stat)
}

/// Field 22 of a `/proc/<pid>/stat` line. The command (field 2) is in parentheses and may
/// itself hold spaces and parentheses, so fields are counted after the last `)`.
fn start_time(stat: &str) -> Option<u64> {
    let after_command = &stat[stat.rfind(')')? + 1..];
    after_command.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_read_after_the_command_whatever_it_holds() {
        let stat = "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1234 56";
        assert_eq!(start_time(stat), Some(987654));
        assert_eq!(start_time("4242 (cut short) S 1"), None);
        assert_eq!(start_time("no command at all"), None);
    }

    #[test]
    fn a_holder_is_dead_only_when_this_machine_can_prove_it() {
        let me = Holder::this_process("s");
        assert!(me.process_start > 0 && !me.machine.is_empty());
        assert!(me.is_local() && !me.is_dead(), "this very process is alive");
        let reused = Holder {
            process_start: me.process_start + 1,
            ..me.clone()
        };
        assert!(reused.is_dead(), "the pid now belongs to another process");
        let gone = Holder {
            pid: u32::MAX,
            ..me.clone()
        };
        assert!(gone.is_dead());
        let elsewhere = Holder {
            pid: u32::MAX,
            machine: "another-boot/pid:[1]".into(),
            ..me.clone()
        };
        assert!(!elsewhere.is_local() && !elsewhere.is_dead());
        let unknown = Holder {
            pid: u32::MAX,
            machine: String::new(),
            ..me
        };
        assert!(
            !unknown.is_dead(),
            "a holder that did not say where it runs"
        );
    }

    #[test]
    fn labels_round_trip_and_name_the_holder() {
        let me = Holder::this_process("tikv-node-kill");
        assert_eq!(Holder::from_labels(&me.labels("p")), me);
        let shown = me.to_string();
        assert!(shown.contains(&format!("pid {}", me.pid)), "{shown}");
        assert!(shown.contains("scenario `tikv-node-kill`"), "{shown}");
    }

    #[test]
    fn the_image_archive_has_a_manifest_naming_the_image() {
        let mut archive = tar::Archive::new(std::io::Cursor::new(image_archive()));
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            if name == "manifest.json" {
                let manifest: serde_json::Value = serde_json::from_reader(&mut entry).unwrap();
                assert_eq!(manifest[0]["RepoTags"][0], IMAGE);
            }
            names.push(name);
        }
        assert_eq!(names, ["config.json", "manifest.json"]);
    }
}
