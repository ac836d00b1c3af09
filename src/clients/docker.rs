//! The Docker Engine API (bollard), reduced to what chaos steps need, with errors that say
//! what to do. Honours `DOCKER_HOST` like Docker's own tools and negotiates the API version
//! down to the daemon's (this matters: engines as old as 20.10 / API 1.41 are in use).

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerSummary, ContainerUpdateBody, EndpointIpamConfig,
    EndpointSettings, ExecConfig, NetworkConnectRequest, NetworkDisconnectRequest,
    SystemInfoCgroupVersionEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, EventsOptionsBuilder, KillContainerOptionsBuilder,
    ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RestartContainerOptionsBuilder, StopContainerOptionsBuilder, TopOptionsBuilder,
};
use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};
use futures_util::StreamExt;
use serde::Serialize;

use super::limits::{Cgroup, Limits};

/// Docker Compose's labels: containers we create carry them, and selectors read them, so
/// `docker ps --filter label=…` and compose tools agree with us about what belongs where.
pub mod labels {
    pub const PROJECT: &str = "com.docker.compose.project";
    pub const SERVICE: &str = "com.docker.compose.service";
    pub const NUMBER: &str = "com.docker.compose.container-number";
    pub const ONEOFF: &str = "com.docker.compose.oneoff";
}

/// Long enough for a busy daemon, short enough that a dead one is reported at once (the
/// per-call deadline, when shorter, bounds it too).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one Engine API call may go unanswered unless `CHAOSPLAY_DOCKER_TIMEOUT` says
/// otherwise. A daemon answers in milliseconds; 30 s leaves room for one busy creating
/// containers or pulling, stays well under the default step timeout (5 min) so that a stalled
/// daemon is reported as such rather than as a step that timed out, and equals what cleanup
/// waits for a daemon that went away, so a stalled daemon costs no more than a vanished one.
/// Calls that legitimately take longer (`stop` with its grace period) get their own duration
/// on top.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait for the Docker daemon: one call's deadline, and how long cleanup waits for
/// a daemon that became unusable. An invalid `CHAOSPLAY_DOCKER_TIMEOUT` is reported when
/// connecting; here it counts as unset.
pub fn patience() -> Duration {
    call_timeout().unwrap_or(CALL_TIMEOUT)
}

/// The per-call deadline: `CHAOSPLAY_DOCKER_TIMEOUT` (a duration such as `10s`), else
/// [`CALL_TIMEOUT`].
fn call_timeout() -> Result<Duration, DockerError> {
    let Ok(text) = std::env::var("CHAOSPLAY_DOCKER_TIMEOUT") else {
        return Ok(CALL_TIMEOUT);
    };
    let invalid = |message: String| DockerError::Api {
        action: "CHAOSPLAY_DOCKER_TIMEOUT".into(),
        message,
    };
    match text.parse::<crate::duration::Duration>() {
        Ok(d) if d.0.is_zero() => Err(invalid("must be longer than 0s".into())),
        Ok(d) => Ok(d.0),
        Err(e) => Err(invalid(e)),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "cannot reach the Docker daemon at {host} ({cause}); start it, or point DOCKER_HOST at one that runs"
    )]
    Unreachable { host: String, cause: String },
    /// The daemon answered, but not as the Engine API does (see [`daemon_fault`]).
    #[error("the Docker daemon at {host} is not working ({cause})")]
    NotWorking { host: String, cause: String },
    /// The daemon took the request and did not answer within the per-call deadline.
    #[error("the Docker daemon at {host} did not answer within {}", crate::duration::human(*within))]
    NoAnswer { host: String, within: Duration },
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    #[error("{action}: {message}")]
    Api { action: String, message: String },
}

impl DockerError {
    /// An error of a raw API call (for callers of [`DockerClient::api`]).
    pub fn from_api(action: impl Into<String>, e: bollard::errors::Error) -> Self {
        let action = action.into();
        match daemon_fault(&action, &e) {
            Some(fault) => fault.at(docker_host(), patience()),
            None => Self::api(action, e),
        }
    }

    fn api(action: impl Into<String>, e: bollard::errors::Error) -> Self {
        let message = match e {
            bollard::errors::Error::DockerResponseServerError { message, .. } => message,
            other => other.to_string(),
        };
        DockerError::Api {
            action: action.into(),
            message,
        }
    }
}

/// A container as selectors and reports see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Container {
    pub id: String,
    /// Without the leading slash.
    pub name: String,
    pub service: Option<String>,
    pub project: Option<String>,
    /// Docker's state: created, running, paused, restarting, exited, dead.
    pub state: String,
    pub labels: HashMap<String, String>,
}

impl Container {
    fn from_summary(s: ContainerSummary) -> Self {
        let labels = s.labels.unwrap_or_default();
        Container {
            id: s.id.unwrap_or_default(),
            name: s
                .names
                .unwrap_or_default()
                .first()
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            service: labels.get(labels::SERVICE).cloned(),
            project: labels.get(labels::PROJECT).cloned(),
            state: s.state.map(|st| st.to_string()).unwrap_or_default(),
            labels,
        }
    }
}

/// What network faults need to know about a container, from one inspection.
#[derive(Debug, Clone)]
pub struct NetworkState {
    /// The full container id.
    pub id: String,
    /// Its main process on the engine's host, 0 when it is not running.
    pub pid: i64,
    /// `HostConfig.NetworkMode`: a network name, `bridge`, `host`, `none` or `container:<id>`.
    pub network_mode: String,
    /// The networks it is attached to, by name (`host` and `none` are not attachments one can
    /// disconnect from, so they are left out).
    pub attachments: Vec<Attachment>,
}

/// One network a container is attached to, with what reconnecting it the same way needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    pub network: String,
    /// Its aliases there (Compose sets the service name). The short container id the engine
    /// adds by itself is left out: the engine adds it again on reconnect.
    pub aliases: Vec<String>,
    /// Its current IPv4 address there.
    pub ipv4: Option<String>,
    /// The address it asked for (`ipv4_address` in Compose, `--ip`), which a reconnect must
    /// ask for again; a dynamic address cannot be requested back.
    pub static_ipv4: Option<String>,
}

/// One process of a container, as `ps` on the engine's host lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    /// Its id on the engine's host (not inside the container).
    pub pid: i64,
    /// `ps`'s STAT: `T` is stopped by a signal.
    pub stat: String,
    /// The executable's name (`comm`).
    pub name: String,
    /// The whole command line (`args`).
    pub command: String,
}

impl Process {
    /// Stopped by a signal or traced: alive, but not running.
    pub fn is_stopped(&self) -> bool {
        self.stat.starts_with(['T', 't'])
    }
}

/// Whether a container is really running, as an undo that restores it must check: Docker's
/// state says `running` for a container whose main process was stopped by SIGSTOP, and
/// `docker ps` cannot tell a container that is about to exit from one that will stay up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Liveness {
    /// Docker's state: created, running, paused, restarting, exited, dead.
    pub status: String,
    /// The exit code of an exited container.
    pub exit_code: Option<i64>,
    /// Its main process is stopped by a signal (`T` in `ps`): running to Docker, frozen to
    /// everyone it serves.
    pub stopped: bool,
    /// When its main process last ended (`State.FinishedAt`); `None` if it never has.
    pub finished_at: Option<std::time::SystemTime>,
}

impl Liveness {
    /// Running and answering: not paused, not exited, its main process not stopped.
    pub fn is_up(&self) -> bool {
        self.status == "running" && !self.stopped
    }
}

impl std::fmt::Display for Liveness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.status.as_str(), self.exit_code) {
            ("running", _) if self.stopped => f.write_str("running, its main process stopped"),
            ("exited", Some(code)) => write!(f, "exited with code {code}"),
            (status, _) => f.write_str(status),
        }
    }
}

/// What `docker exec` produced.
#[derive(Debug, Clone, Serialize)]
pub struct ExecOutput {
    pub exit_code: Option<i64>,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone)]
pub struct DockerClient {
    api: Docker,
    host: String,
    /// How long one call may go unanswered (see [`CALL_TIMEOUT`]).
    timeout: Duration,
}

impl DockerClient {
    pub async fn connect() -> Result<Self, DockerError> {
        let host =
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        let timeout = call_timeout()?;
        let within = timeout.min(CONNECT_TIMEOUT);
        let api = match tokio::time::timeout(within, negotiated(&host, timeout)).await {
            Ok(Ok(api)) => api,
            Ok(Err(e)) => {
                return Err(match daemon_fault("ping", &e) {
                    Some(fault) => fault.at(host, timeout),
                    None => DockerError::Unreachable {
                        cause: root_cause(&e),
                        host,
                    },
                });
            }
            Err(_) => return Err(DockerError::NoAnswer { host, within }),
        };
        Ok(DockerClient { api, host, timeout })
    }

    /// Runs one Engine API call under the per-call deadline plus `extra` (the time the call
    /// itself is asked to take), so that a daemon that takes requests and never answers is
    /// reported as such instead of holding the step until its own timeout.
    async fn bounded<T>(
        &self,
        extra: Duration,
        call: impl Future<Output = Result<T, bollard::errors::Error>>,
        error: impl FnOnce(bollard::errors::Error) -> DockerError,
    ) -> Result<T, DockerError> {
        let within = self.timeout + extra;
        match tokio::time::timeout(within, call).await {
            Ok(result) => result.map_err(error),
            Err(_) => Err(DockerError::NoAnswer {
                host: self.host.clone(),
                within,
            }),
        }
    }

    /// The API with bollard's own request timeout (the per-call deadline) moved past
    /// [`Self::bounded`]'s for a call allowed `extra`.
    fn api_allowing(&self, extra: Duration) -> Docker {
        let timeout = self.timeout + extra + Duration::from_secs(1);
        self.api.clone().with_timeout(timeout)
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The raw API, for the compose backend which needs more than the chaos operations.
    pub fn api(&self) -> &Docker {
        &self.api
    }

    /// The negotiated API version, e.g. "1.41".
    pub fn api_version(&self) -> String {
        self.api.client_version().to_string()
    }

    /// Containers (running or not) carrying every one of `labels` (`key` or `key=value`).
    pub async fn containers(&self, labels: &[String]) -> Result<Vec<Container>, DockerError> {
        let mut filters: HashMap<&str, Vec<String>> = HashMap::new();
        if !labels.is_empty() {
            filters.insert("label", labels.to_vec());
        }
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .bounded(
                Duration::ZERO,
                self.api.list_containers(Some(options)),
                |e| self.classify("list containers", e),
            )
            .await?;
        let mut containers: Vec<Container> =
            list.into_iter().map(Container::from_summary).collect();
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(containers)
    }

    /// State and health (`starting`, `healthy`, `unhealthy`, or none) of one container.
    pub async fn state(&self, container: &str) -> Result<(String, Option<String>), DockerError> {
        let inspect = self.inspect(container).await?;
        let state = inspect.state.unwrap_or_default();
        let status = state.status.map(|s| s.to_string()).unwrap_or_default();
        let health = state
            .health
            .and_then(|h| h.status)
            .map(|s| s.to_string())
            .filter(|s| !s.is_empty() && s != "none");
        Ok((status, health))
    }

    /// The engine's events about `containers` (names or ids) from `since` on, as the times the
    /// daemon stamped them (nanoseconds). With `since` in the past the daemon first replays what
    /// it already has, so a change between a look and the subscription is not missed. Only
    /// the response's head is under the per-call deadline: the stream itself stays open until
    /// dropped, and ends with an error when the connection breaks.
    pub fn container_events(
        &self,
        containers: &[String],
        since: std::time::SystemTime,
    ) -> impl futures_util::Stream<Item = Result<std::time::SystemTime, DockerError>> + Send + use<>
    {
        let since = since
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let since = format!("{}.{:09}", since.as_secs(), since.subsec_nanos());
        let filters = HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("container".to_string(), containers.to_vec()),
        ]);
        let options = EventsOptionsBuilder::new()
            .since(&since)
            .filters(&filters)
            .build();
        let client = self.clone();
        self.api.events(Some(options)).map(move |event| {
            let event = event.map_err(|e| client.classify("follow the events of", e))?;
            let nanos = event.time_nano.unwrap_or_default().max(0) as u64;
            Ok(std::time::UNIX_EPOCH + Duration::from_nanos(nanos))
        })
    }

    /// `GET /containers/{name}/json`, under the per-call deadline.
    async fn inspect(
        &self,
        container: &str,
    ) -> Result<bollard::models::ContainerInspectResponse, DockerError> {
        self.bounded(
            Duration::ZERO,
            self.api.inspect_container(container, None),
            |e| self.not_found_or(container, "inspect", e),
        )
        .await
    }

    /// Where the engine keeps images, containers and volumes on its host (`DockerRootDir`).
    pub async fn data_root(&self) -> Result<String, DockerError> {
        let info = self
            .bounded(Duration::ZERO, self.api.info(), |e| {
                DockerError::from_api("read the engine's info", e)
            })
            .await?;
        Ok(info
            .docker_root_dir
            .unwrap_or_else(|| "/var/lib/docker".into()))
    }

    /// Docker's state of the container and, when it runs, whether its main process is stopped
    /// (read with `ps` through the Engine API's `top`, so it works on a remote engine too).
    pub async fn liveness(&self, container: &str) -> Result<Liveness, DockerError> {
        // A container may go down between the inspection and `top`, which then refuses it;
        // looking again gives a consistent answer, since a stop is not undone by itself.
        loop {
            let inspect = self.inspect(container).await?;
            let state = inspect.state.unwrap_or_default();
            let status = state.status.map(|s| s.to_string()).unwrap_or_default();
            let pid = state.pid.unwrap_or(0);
            let stopped = match status == "running" && pid > 0 {
                true => self.process_stopped(container, pid).await?,
                false => Some(false),
            };
            if let Some(stopped) = stopped {
                return Ok(Liveness {
                    exit_code: state.exit_code.filter(|_| status == "exited"),
                    status,
                    stopped,
                    // Docker says `0001-01-01T00:00:00Z` for never, which is no SystemTime.
                    finished_at: state
                        .finished_at
                        .and_then(|at| humantime::parse_rfc3339_weak(&at).ok()),
                });
            }
        }
    }

    /// Whether process `pid` of the container is stopped by a signal; `None` if the container
    /// is no longer running.
    async fn process_stopped(
        &self,
        container: &str,
        pid: i64,
    ) -> Result<Option<bool>, DockerError> {
        Ok(self
            .top(container)
            .await?
            .map(|all| all.iter().any(|p| p.pid == pid && p.is_stopped())))
    }

    /// The container's processes, read with `ps` through the Engine API's `top`; none when it
    /// is not running.
    pub async fn processes(&self, container: &str) -> Result<Vec<Process>, DockerError> {
        Ok(self.top(container).await?.unwrap_or_default())
    }

    /// `top` of the container; `None` when it is not running (the daemon refuses with 409).
    async fn top(&self, container: &str) -> Result<Option<Vec<Process>>, DockerError> {
        let options = TopOptionsBuilder::new()
            .ps_args("-o pid,stat,comm,args")
            .build();
        match self.api.top_processes(container, Some(options)).await {
            Ok(top) => Ok(Some(processes(&top))),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(None),
            Err(e) => Err(self.not_found_or(container, "list the processes of", e)),
        }
    }

    /// The container's id, process and network attachments.
    pub async fn network_state(&self, container: &str) -> Result<NetworkState, DockerError> {
        let inspect = self.inspect(container).await?;
        let id = inspect.id.unwrap_or_default();
        let short_id = id.get(..12).unwrap_or(&id).to_string();
        let mut attachments: Vec<Attachment> = inspect
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, _)| name != "host" && name != "none")
            .map(|(network, endpoint)| Attachment {
                network,
                aliases: endpoint
                    .aliases
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|a| *a != short_id)
                    .collect(),
                ipv4: endpoint.ip_address.filter(|a| !a.is_empty()),
                static_ipv4: endpoint
                    .ipam_config
                    .and_then(|c| c.ipv4_address)
                    .filter(|a| !a.is_empty()),
            })
            .collect();
        attachments.sort_by(|a, b| a.network.cmp(&b.network));
        Ok(NetworkState {
            id,
            pid: inspect.state.and_then(|s| s.pid).unwrap_or(0),
            network_mode: inspect
                .host_config
                .and_then(|h| h.network_mode)
                .unwrap_or_default(),
            attachments,
        })
    }

    /// Detaches the container from a network even if it is not running (`force`).
    pub async fn disconnect_network(
        &self,
        container: &str,
        network: &str,
    ) -> Result<(), DockerError> {
        let request = NetworkDisconnectRequest {
            container: container.to_string(),
            force: Some(true),
        };
        self.bounded(
            Duration::ZERO,
            self.api.disconnect_network(network, request),
            |e| self.classify(&format!("disconnect {container} from {network}"), e),
        )
        .await
    }

    /// Attaches the container to a network with the given aliases and, if given, address.
    pub async fn connect_network(
        &self,
        container: &str,
        network: &str,
        aliases: &[String],
        ipv4: Option<&str>,
    ) -> Result<(), DockerError> {
        let request = NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(EndpointSettings {
                aliases: (!aliases.is_empty()).then(|| aliases.to_vec()),
                ipam_config: ipv4.map(|a| EndpointIpamConfig {
                    ipv4_address: Some(a.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        };
        self.bounded(
            Duration::ZERO,
            self.api.connect_network(network, request),
            |e| self.classify(&format!("connect {container} to {network}"), e),
        )
        .await
    }

    pub async fn kill(&self, container: &str, signal: &str) -> Result<(), DockerError> {
        let options = KillContainerOptionsBuilder::new().signal(signal).build();
        self.bounded(
            Duration::ZERO,
            self.api.kill_container(container, Some(options)),
            |e| self.not_found_or(container, "kill", e),
        )
        .await
    }

    pub async fn stop(&self, container: &str, grace: Duration) -> Result<(), DockerError> {
        let options = StopContainerOptionsBuilder::new().t(secs(grace)).build();
        // The daemon answers once the container is down: up to `grace` after the signal.
        let api = self.api_allowing(grace);
        self.bounded(grace, api.stop_container(container, Some(options)), |e| {
            self.not_found_or(container, "stop", e)
        })
        .await
    }

    pub async fn start(&self, container: &str) -> Result<(), DockerError> {
        self.bounded(
            Duration::ZERO,
            self.api.start_container(container, None),
            |e| self.not_found_or(container, "start", e),
        )
        .await
    }

    /// Brings a container in `state` (as last seen) back to running: unpauses a paused one,
    /// starts a stopped one, leaves a running one alone.
    pub async fn ensure_running(&self, container: &str, state: &str) -> Result<(), DockerError> {
        match state {
            "running" | "restarting" => Ok(()),
            "paused" => self.unpause(container).await,
            _ => self.start(container).await,
        }
    }

    pub async fn restart(&self, container: &str, grace: Duration) -> Result<(), DockerError> {
        let options = RestartContainerOptionsBuilder::new().t(secs(grace)).build();
        // The daemon answers once the container is down: up to `grace` after the signal.
        let api = self.api_allowing(grace);
        self.bounded(
            grace,
            api.restart_container(container, Some(options)),
            |e| self.not_found_or(container, "restart", e),
        )
        .await
    }

    pub async fn pause(&self, container: &str) -> Result<(), DockerError> {
        self.bounded(Duration::ZERO, self.api.pause_container(container), |e| {
            self.not_found_or(container, "pause", e)
        })
        .await
    }

    pub async fn unpause(&self, container: &str) -> Result<(), DockerError> {
        self.bounded(Duration::ZERO, self.api.unpause_container(container), |e| {
            self.not_found_or(container, "unpause", e)
        })
        .await
    }

    /// Creates a container of chaosplay's own (a fault's helper) named `name`; `Ok(false)` when
    /// its image is not on the engine, so the caller can say how to build it.
    pub async fn create(&self, name: &str, body: ContainerCreateBody) -> Result<bool, DockerError> {
        let options = CreateContainerOptionsBuilder::new().name(name).build();
        let call = async {
            match self.api.create_container(Some(options), body).await {
                Ok(_) => Ok(true),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => Ok(false),
                Err(e) => Err(e),
            }
        };
        self.bounded(Duration::ZERO, call, |e| {
            self.classify(&format!("create {name}"), e)
        })
        .await
    }

    /// Removes a container, killing it first if it runs; one already gone is fine.
    pub async fn remove(&self, container: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        let removed = self.bounded(
            Duration::ZERO,
            self.api.remove_container(container, Some(options)),
            |e| self.not_found_or(container, "remove", e),
        );
        match removed.await {
            Err(DockerError::NoSuchContainer(_)) => Ok(()),
            other => other,
        }
    }

    /// The container's resource limits, as its configuration holds them.
    pub async fn limits(&self, container: &str) -> Result<Limits, DockerError> {
        let inspect = self.inspect(container).await?;
        let h = inspect.host_config.unwrap_or_default();
        Ok(Limits {
            nano_cpus: h.nano_cpus.unwrap_or(0),
            cpu_quota: h.cpu_quota.unwrap_or(0),
            cpu_period: h.cpu_period.unwrap_or(0),
            memory: h.memory.unwrap_or(0),
            memory_swap: h.memory_swap.unwrap_or(0),
            pids: h.pids_limit.unwrap_or(0),
        })
    }

    /// Changes the container's resource limits (see [`Limits::apply`] and
    /// [`Limits::restore`] for what Docker's values mean).
    pub async fn update_limits(
        &self,
        container: &str,
        update: ContainerUpdateBody,
    ) -> Result<(), DockerError> {
        self.bounded(
            Duration::ZERO,
            self.api.update_container(container, update),
            |e| self.not_found_or(container, "update the limits of", e),
        )
        .await
    }

    /// The control group version of the engine's host (v1 when the daemon does not say, as
    /// engines older than cgroup v2 support do not).
    pub async fn cgroup(&self) -> Result<Cgroup, DockerError> {
        let info = self
            .bounded(Duration::ZERO, self.api.info(), |e| {
                DockerError::from_api("read the engine's info", e)
            })
            .await?;
        Ok(match info.cgroup_version {
            Some(SystemInfoCgroupVersionEnum::_2) => Cgroup::V2,
            _ => Cgroup::V1,
        })
    }

    /// Runs `argv` in the container and collects its output and exit code.
    pub async fn exec(
        &self,
        container: &str,
        argv: &[String],
        user: Option<&str>,
    ) -> Result<ExecOutput, DockerError> {
        let config = ExecConfig {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(argv.to_vec()),
            user: user.map(str::to_string),
            ..Default::default()
        };
        let created = self
            .bounded(
                Duration::ZERO,
                self.api.create_exec(container, config),
                |e| self.not_found_or(container, "exec", e),
            )
            .await?;
        let started = self
            .bounded(
                Duration::ZERO,
                self.api.start_exec(&created.id, None),
                |e| self.classify("exec", e),
            )
            .await?;
        // The command's output has no deadline of its own: a silent command may rightly run
        // as long as its step allows, and the step's timeout bounds it.
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        if let bollard::exec::StartExecResults::Attached { mut output, .. } = started {
            while let Some(chunk) = output.next().await {
                match chunk.map_err(|e| self.classify("exec output", e))? {
                    bollard::container::LogOutput::StdErr { message } => {
                        stderr.extend_from_slice(&message)
                    }
                    other => stdout.extend_from_slice(other.as_ref()),
                }
            }
        }
        let inspect = self
            .bounded(Duration::ZERO, self.api.inspect_exec(&created.id), |e| {
                self.classify("exec", e)
            })
            .await?;
        Ok(ExecOutput {
            exit_code: inspect.exit_code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// The last `tail` lines of the container's output (stdout and stderr interleaved).
    pub async fn logs(&self, container: &str, tail: usize) -> Result<String, DockerError> {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&tail.to_string())
            .build();
        let collect = async {
            let mut stream = self.api.logs(container, Some(options));
            let mut text = Vec::new();
            while let Some(chunk) = stream.next().await {
                text.extend_from_slice(chunk?.as_ref());
            }
            Ok(text)
        };
        let text = self
            .bounded(Duration::ZERO, collect, |e| {
                self.not_found_or(container, "logs", e)
            })
            .await?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    fn classify(&self, action: &str, e: bollard::errors::Error) -> DockerError {
        match daemon_fault(action, &e) {
            Some(fault) => fault.at(self.host.clone(), self.timeout),
            None => DockerError::api(action, e),
        }
    }

    fn not_found_or(
        &self,
        container: &str,
        action: &str,
        e: bollard::errors::Error,
    ) -> DockerError {
        let action = format!("{action} {container}");
        match (&e, daemon_fault(&action, &e)) {
            (_, Some(fault)) => fault.at(self.host.clone(), self.timeout),
            (
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                },
                None,
            ) => DockerError::NoSuchContainer(container.to_string()),
            _ => DockerError::api(action, e),
        }
    }
}

/// The rows of a `top` listing made with `-o pid,stat,comm,args`, by position: `comm` and
/// `args` are both titled COMMAND.
fn processes(top: &bollard::models::ContainerTopResponse) -> Vec<Process> {
    let rows = top.processes.as_deref().unwrap_or_default();
    rows.iter()
        .filter_map(|row| match row.as_slice() {
            [pid, stat, name, command, ..] => Some(Process {
                pid: pid.parse().ok()?,
                stat: stat.clone(),
                name: name.clone(),
                command: command.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// A client speaking the daemon's API version where it is older than bollard's. On a local
/// socket the version is read from the `Api-Version` header of `GET /_ping`, as the docker CLI
/// reads it: bollard's negotiation asks `GET /version`, which the daemon answers only after
/// asking containerd and runc for their versions (5-15 ms on a busy engine, against well under
/// 1 ms for `/_ping`), and every run pays it before its first step. Elsewhere, or if the ping
/// says nothing usable, bollard negotiates as before.
/// bollard's own request timeout is the per-call deadline, so that the raw API (the compose
/// backend's calls) is bounded like ours.
async fn negotiated(host: &str, timeout: Duration) -> Result<Docker, bollard::errors::Error> {
    if let Some(path) = host.strip_prefix("unix://")
        && let Ok(Some(server)) = ping_api_version(path).await
    {
        let version = if server < *API_DEFAULT_VERSION {
            server
        } else {
            *API_DEFAULT_VERSION
        };
        return Docker::connect_with_unix(path, whole_secs(timeout), &version);
    }
    let api = Docker::connect_with_defaults()?.with_timeout(timeout);
    api.negotiate_version().await
}

/// bollard counts its timeout in whole seconds; rounded up, so it never cuts a call short.
fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The daemon's API version from a `GET /_ping` on its Unix socket (HTTP/1.0, so the daemon
/// closes the connection after answering); `None` if the answer has no `Api-Version` header.
async fn ping_api_version(path: &str) -> std::io::Result<Option<ClientVersion>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::UnixStream::connect(path).await?;
    stream
        .write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .await?;
    let mut response = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut response).await?;
    Ok(api_version_from_ping(&String::from_utf8_lossy(&response)))
}

/// The `Api-Version` header of a successful `/_ping` response.
fn api_version_from_ping(response: &str) -> Option<ClientVersion> {
    let head = response.split("\r\n\r\n").next()?;
    if !head.starts_with("HTTP/1.") || head.split(' ').nth(1) != Some("200") {
        return None;
    }
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("api-version") {
            return None;
        }
        let (major, minor) = value.trim().split_once('.')?;
        Some(ClientVersion {
            major_version: major.parse().ok()?,
            minor_version: minor.parse().ok()?,
        })
    })
}

/// Where the daemon is, as Docker's own tools find it.
fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

/// What an error of a call says about the daemon itself, when it says something.
#[derive(Debug, PartialEq, Eq)]
enum DaemonFault {
    /// No connection, or the connection closed before an answer.
    Unreachable(String),
    /// An answer that is not the Engine API's.
    NotWorking(String),
    /// No answer within bollard's own request timeout.
    NoAnswer,
}

impl DaemonFault {
    fn at(self, host: String, within: Duration) -> DockerError {
        match self {
            DaemonFault::Unreachable(cause) => DockerError::Unreachable { host, cause },
            DaemonFault::NotWorking(cause) => DockerError::NotWorking { host, cause },
            DaemonFault::NoAnswer => DockerError::NoAnswer { host, within },
        }
    }
}

/// Tells the daemon's faults from the answers of a working daemon. The Engine API answers in
/// JSON, errors included (`{"message": …}`), so a body that does not parse, an answer cut off,
/// or an HTTP error whose text is not a daemon's (see [`is_engine_message`]) means the daemon
/// (or whatever answers on its socket) is broken: every further call would fail the same way,
/// which is the environment's fault, not the step's. A 500 with its JSON message (a host port
/// already allocated, a runtime refusing) is a working daemon refusing this one request.
fn daemon_fault(action: &str, e: &bollard::errors::Error) -> Option<DaemonFault> {
    use bollard::errors::Error as E;
    let not_working = |what: String| Some(DaemonFault::NotWorking(format!("{action}: {what}")));
    match e {
        // No connection, or one closed before any answer: a daemon stopped or restarting.
        E::SocketNotFoundError(_) | E::IOError { .. } | E::HyperLegacyError { .. } => {
            Some(DaemonFault::Unreachable(root_cause(e)))
        }
        // An answer that began and was cut off.
        E::HyperResponseError { .. } => not_working(root_cause(e)),
        E::RequestTimeoutError => Some(DaemonFault::NoAnswer),
        E::JsonDataError { message, .. } => not_working(format!(
            "the answer is not the Engine API's JSON ({message})"
        )),
        E::JsonSerdeError { err } => {
            not_working(format!("the answer is not the Engine API's JSON ({err})"))
        }
        E::DockerResponseServerError {
            status_code,
            message,
        } if *status_code >= 400 && !is_engine_message(*status_code, message) => {
            not_working(format!(
                "HTTP {status_code} {:?}",
                crate::text::clip(message.trim(), 80)
            ))
        }
        _ => None,
    }
}

/// Whether an HTTP error's text can be the Engine API's. The daemon explains every error in a
/// sentence of its own (`driver failed programming external connectivity …: port is already
/// allocated`). bollard hands over that sentence, or the raw body when the body was not JSON,
/// so the two cannot be told apart in general; what can be told is the text of something
/// else answering: nothing, an HTML page, or the bare status line of a proxy or a crashed
/// handler (`Internal Server Error`, `502 Bad Gateway`). Nor does the daemon send 502 or 504,
/// which only gateways do.
fn is_engine_message(status: u16, message: &str) -> bool {
    const STATUS_TEXTS: &[&str] = &[
        "bad request",
        "forbidden",
        "not found",
        "method not allowed",
        "internal server error",
        "not implemented",
        "bad gateway",
        "service unavailable",
        "gateway timeout",
    ];
    let text = message.trim().to_ascii_lowercase();
    let bare = text.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ');
    !(text.is_empty()
        || text.starts_with('<')
        || STATUS_TEXTS.contains(&bare)
        || matches!(status, 502 | 504))
}

/// The innermost cause: "No such file or directory", not three layers of wrapping.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(e: bollard::errors::Error) -> Option<DaemonFault> {
        daemon_fault("list containers", &e)
    }

    fn http(status_code: u16, message: &str) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: message.into(),
        }
    }

    #[test]
    fn a_working_daemon_refusing_a_request_is_not_a_daemon_fault() {
        let port = "driver failed programming external connectivity on endpoint db: Bind for 0.0.0.0:8080 failed: port is already allocated";
        assert_eq!(fault(http(500, port)), None);
        assert_eq!(fault(http(404, "No such container: db")), None);
        assert_eq!(fault(http(409, "Container db is not running")), None);
        assert_eq!(fault(http(503, "This node is not a swarm manager.")), None);
    }

    #[test]
    fn answers_that_are_not_the_engine_apis_are_a_daemon_that_is_not_working() {
        let not_working = |e| match fault(e) {
            Some(DaemonFault::NotWorking(cause)) => cause,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            not_working(http(500, "Internal Server Error\n")),
            "list containers: HTTP 500 \"Internal Server Error\""
        );
        assert!(not_working(http(500, "")).contains("HTTP 500"));
        assert!(
            not_working(http(503, "<html><body><h1>503 Service Unavailable</h1>"))
                .contains("<html>")
        );
        assert!(not_working(http(502, "upstream says no")).contains("HTTP 502"));
        assert!(not_working(http(404, "404 Not Found")).contains("HTTP 404"));
        let truncated =
            serde_json::from_str::<serde_json::Value>("{\"message\": \"abc").unwrap_err();
        assert!(
            not_working(truncated.into())
                .contains("not the Engine API's JSON (EOF while parsing a string")
        );
        let html = bollard::errors::Error::JsonDataError {
            message: "expected value at line 1 column 1".into(),
            column: 1,
        };
        assert!(not_working(html).contains("expected value"));
    }

    #[test]
    fn no_answer_and_no_socket_are_told_apart() {
        assert_eq!(
            fault(bollard::errors::Error::RequestTimeoutError),
            Some(DaemonFault::NoAnswer)
        );
        let missing = bollard::errors::Error::SocketNotFoundError("/nope.sock".into());
        assert!(matches!(fault(missing), Some(DaemonFault::Unreachable(_))));
        let e = DaemonFault::NoAnswer.at("unix:///d.sock".into(), Duration::from_secs(30));
        assert_eq!(
            e.to_string(),
            "the Docker daemon at unix:///d.sock did not answer within 30s"
        );
    }

    #[test]
    fn bollards_timeout_never_cuts_a_call_short() {
        assert_eq!(whole_secs(Duration::from_secs(30)), 30);
        assert_eq!(whole_secs(Duration::from_millis(1500)), 2);
        assert_eq!(whole_secs(Duration::from_millis(1)), 1);
    }

    #[test]
    fn processes_are_read_by_position_since_two_columns_are_command() {
        let row = |r: &[&str]| r.iter().map(|c| c.to_string()).collect();
        let top = bollard::models::ContainerTopResponse {
            titles: Some(
                ["PID", "STAT", "COMMAND", "COMMAND"]
                    .map(String::from)
                    .to_vec(),
            ),
            processes: Some(vec![
                row(&["13270", "Ss", "sh", "sh -c sleep 1000 & wait"]),
                row(&["13297", "T", "sleep", "sleep 1000"]),
                row(&["not-a-pid", "S", "x", "x"]),
            ]),
        };
        let seen = processes(&top);
        assert_eq!(seen.len(), 2);
        assert_eq!((seen[1].pid, seen[1].name.as_str()), (13297, "sleep"));
        assert_eq!(seen[0].command, "sh -c sleep 1000 & wait");
        assert!(seen[1].is_stopped() && !seen[0].is_stopped());
    }

    #[test]
    fn the_api_version_comes_from_a_successful_ping() {
        let ok = "HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nDocker-Experimental: false\r\nContent-Length: 2\r\n\r\nOK";
        let v = api_version_from_ping(ok).unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        let lower = "HTTP/1.1 200 OK\r\napi-version:1.24\r\n\r\nOK";
        assert_eq!(api_version_from_ping(lower).unwrap().minor_version, 24);
        assert!(
            api_version_from_ping("HTTP/1.0 500 Internal\r\nApi-Version: 1.41\r\n\r\n").is_none()
        );
        assert!(
            api_version_from_ping("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nApi-Version: 1.41")
                .is_none()
        );
        assert!(api_version_from_ping("").is_none());
    }
}
