//! A compose project on the Docker engine: creates, inspects and removes the containers,
//! networks and volumes of a resolved [`ComposeProject`] through the Engine API, so no
//! `docker compose` CLI is needed. Objects carry Compose's labels and names, so
//! `docker compose` and `docker ps --filter label=…` recognise them.
//!
//! Three things are called "compose": the compose file's model and loader
//! ([`crate::compose`]), this client, and the `compose.*` steps (`steps/compose.rs`, named
//! after the step names users write) that drive it.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig, Ipam,
    IpamConfig, NetworkConnectRequest, NetworkCreateRequest, NetworkingConfig, PortBinding,
    ResourcesUlimits, RestartPolicy as DockerRestart, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;
use serde::Serialize;

use super::docker::{Container, DockerClient, DockerError, labels};
use crate::compose::{
    ComposeProject, DependencyCondition, HealthTest, Mount, RestartPolicy, Service,
};

/// Pulling an image from an unreachable registry must fail, not hang the scenario.
const PULL_TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(
        "image `{image}` (service `{service}`) is not on this machine and could not be pulled: {reason}"
    )]
    ImageUnavailable {
        image: String,
        service: String,
        reason: String,
    },
    #[error("service `{service}` {problem}")]
    Service { service: String, problem: String },
}

/// A service's container as `compose.ps` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceState {
    pub service: String,
    pub container: String,
    /// `missing` when the service has no container.
    pub state: String,
    pub health: Option<String>,
}

/// What `down` removes besides the containers.
#[derive(Debug, Clone, Copy)]
pub struct Down {
    /// The project's named volumes: its data.
    pub volumes: bool,
    /// The project's networks. A reset keeps them: they hold no state, and recreating them
    /// costs a few hundred milliseconds.
    pub networks: bool,
    /// Kill instead of stopping gracefully: right before wiping data, a graceful stop only
    /// costs time (an etcd member waits for its peers).
    pub kill: bool,
}

pub struct ProjectClient<'a> {
    docker: &'a DockerClient,
    project: &'a ComposeProject,
}

impl<'a> ProjectClient<'a> {
    pub fn new(docker: &'a DockerClient, project: &'a ComposeProject) -> Self {
        ProjectClient { docker, project }
    }

    fn project_label(&self) -> String {
        format!("{}={}", labels::PROJECT, self.project.name)
    }

    fn object_labels(&self) -> HashMap<String, String> {
        HashMap::from([(labels::PROJECT.to_string(), self.project.name.clone())])
    }

    /// Creates what is missing and starts every service in dependency order, independent
    /// services in parallel, honouring `depends_on` conditions; with `wait_healthy`, also waits
    /// until every service with a healthcheck is healthy. The waits are bounded by the step's
    /// timeout, whose error shows the last status (which service was awaited).
    pub async fn up(
        &self,
        wait_healthy: bool,
        status: &(dyn Fn(String) + Sync),
    ) -> Result<(), ProjectError> {
        self.ensure_images(status).await?;
        self.ensure_networks().await?;
        self.ensure_volumes().await?;
        let levels = self
            .project
            .start_levels()
            .map_err(|e| ProjectError::Service {
                service: self.project.name.clone(),
                problem: e.to_string(),
            })?;
        for level in levels {
            let starts = level
                .iter()
                .map(|service| self.start_service(service, status));
            for result in futures_util::future::join_all(starts).await {
                result?;
            }
        }
        if wait_healthy {
            // All at once: the members of a cluster become ready together, and waiting for
            // them one after another would add a probe's time per service.
            let waits = self.project.services.iter().map(|service| async move {
                if self.has_healthcheck(service).await? {
                    self.wait_for(service, DependencyCondition::Healthy, status)
                        .await?;
                }
                Ok::<(), ProjectError>(())
            });
            futures_util::future::try_join_all(waits).await?;
        }
        Ok(())
    }

    /// Removes the project's containers, and what `what` says besides.
    pub async fn down(
        &self,
        what: Down,
        status: &(dyn Fn(String) + Sync),
    ) -> Result<(), ProjectError> {
        let containers = self.docker.containers(&[self.project_label()]).await?;
        let removals = containers
            .iter()
            .map(|c| self.remove_container(c, what.kill, status));
        for result in futures_util::future::join_all(removals).await {
            result?;
        }
        let api = self.docker.api();
        let filters = HashMap::from([("label", vec![self.project_label()])]);
        let networks = if what.networks {
            api.list_networks(Some(
                ListNetworksOptionsBuilder::new().filters(&filters).build(),
            ))
            .await
            .map_err(|e| DockerError::from_api("list networks", e))?
        } else {
            Vec::new()
        };
        for network in networks {
            let name = network.name.unwrap_or_default();
            status(format!("removing network {name}"));
            api.remove_network(&name)
                .await
                .map_err(|e| DockerError::from_api(format!("remove network {name}"), e))?;
        }
        if what.volumes {
            let volumes = api
                .list_volumes(Some(
                    ListVolumesOptionsBuilder::new().filters(&filters).build(),
                ))
                .await
                .map_err(|e| DockerError::from_api("list volumes", e))?;
            for volume in volumes.volumes.unwrap_or_default() {
                status(format!("removing volume {}", volume.name));
                api.remove_volume(
                    &volume.name,
                    None::<bollard::query_parameters::RemoveVolumeOptions>,
                )
                .await
                .map_err(|e| DockerError::from_api(format!("remove volume {}", volume.name), e))?;
            }
        }
        Ok(())
    }

    /// Every service with its container's state and health.
    pub async fn ps(&self) -> Result<Vec<ServiceState>, ProjectError> {
        let containers = self.docker.containers(&[self.project_label()]).await?;
        let mut out = Vec::new();
        for service in &self.project.services {
            let found = containers.iter().find(|c| c.name == service.container_name);
            let (state, health) = match found {
                Some(c) => self.docker.state(&c.name).await?,
                None => ("missing".to_string(), None),
            };
            out.push(ServiceState {
                service: service.name.clone(),
                container: service.container_name.clone(),
                state,
                health,
            });
        }
        Ok(out)
    }

    async fn remove_container(
        &self,
        c: &Container,
        kill: bool,
        status: &(dyn Fn(String) + Sync),
    ) -> Result<(), ProjectError> {
        if c.state == "running" || c.state == "paused" || c.state == "restarting" {
            if kill {
                status(format!("killing {}", c.name));
            } else {
                let grace = self
                    .project
                    .service(c.service.as_deref().unwrap_or_default())
                    .and_then(|s| s.stop_grace_period)
                    .unwrap_or(Duration::from_secs(10));
                status(format!("stopping {}", c.name));
                if c.state == "paused" {
                    self.docker.unpause(&c.name).await?;
                }
                self.docker.stop(&c.name, grace).await?;
            }
        }
        status(format!("removing {}", c.name));
        // force = kill if still running; v = anonymous volumes go with the container.
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match self
            .docker
            .api()
            .remove_container(&c.name, Some(options))
            .await
        {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(DockerError::from_api(format!("remove {}", c.name), e).into()),
        }
    }

    async fn ensure_images(&self, status: &(dyn Fn(String) + Sync)) -> Result<(), ProjectError> {
        let api = self.docker.api();
        for service in &self.project.services {
            if api.inspect_image(&service.image).await.is_ok() {
                continue;
            }
            status(format!("pulling {}", service.image));
            let unavailable = |reason: String| ProjectError::ImageUnavailable {
                image: service.image.clone(),
                service: service.name.clone(),
                reason,
            };
            let options = CreateImageOptionsBuilder::new()
                .from_image(&service.image)
                .build();
            let pull = async {
                let mut stream = api.create_image(Some(options), None, None);
                while let Some(progress) = stream.next().await {
                    let info = progress
                        .map_err(|e| unavailable(DockerError::from_api("pull", e).to_string()))?;
                    if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                        return Err(unavailable(detail));
                    }
                    if let Some(s) = info.status {
                        status(format!("pulling {}: {s}", service.image));
                    }
                }
                Ok(())
            };
            tokio::time::timeout(PULL_TIMEOUT, pull)
                .await
                .map_err(|_| {
                    unavailable(format!(
                        "no progress within {}",
                        crate::duration::human(PULL_TIMEOUT)
                    ))
                })??;
        }
        Ok(())
    }

    async fn ensure_networks(&self) -> Result<(), ProjectError> {
        let api = self.docker.api();
        for network in self.project.networks.values() {
            if network.external
                || api
                    .inspect_network(
                        &network.name,
                        None::<bollard::query_parameters::InspectNetworkOptions>,
                    )
                    .await
                    .is_ok()
            {
                continue;
            }
            let ipam =
                (!network.subnets.is_empty() || network.ipam_driver.is_some()).then(|| Ipam {
                    driver: network.ipam_driver.clone(),
                    config: Some(
                        network
                            .subnets
                            .iter()
                            .map(|s| IpamConfig {
                                subnet: Some(s.subnet.clone()),
                                gateway: s.gateway.map(|g| g.to_string()),
                                ..Default::default()
                            })
                            .collect(),
                    ),
                    options: None,
                });
            let request = NetworkCreateRequest {
                name: network.name.clone(),
                driver: Some(network.driver.clone().unwrap_or_else(|| "bridge".into())),
                ipam,
                labels: Some(self.object_labels()),
                ..Default::default()
            };
            api.create_network(request).await.map_err(|e| {
                DockerError::from_api(format!("create network {}", network.name), e)
            })?;
        }
        Ok(())
    }

    async fn ensure_volumes(&self) -> Result<(), ProjectError> {
        let api = self.docker.api();
        for volume in self.project.volumes.values() {
            if volume.external || api.inspect_volume(&volume.name).await.is_ok() {
                continue;
            }
            let request = VolumeCreateRequest {
                name: Some(volume.name.clone()),
                driver: volume.driver.clone(),
                driver_opts: (!volume.driver_opts.is_empty())
                    .then(|| volume.driver_opts.clone().into_iter().collect()),
                labels: Some(self.object_labels()),
                ..Default::default()
            };
            api.create_volume(request)
                .await
                .map_err(|e| DockerError::from_api(format!("create volume {}", volume.name), e))?;
        }
        Ok(())
    }

    async fn start_service(
        &self,
        service: &Service,
        status: &(dyn Fn(String) + Sync),
    ) -> Result<(), ProjectError> {
        for (dependency, condition) in &service.depends_on {
            let dep = self
                .project
                .service(dependency)
                .ok_or_else(|| ProjectError::Service {
                    service: service.name.clone(),
                    problem: format!("depends on unknown service `{dependency}`"),
                })?;
            self.wait_for(dep, condition.condition, status).await?;
        }
        let existing = self.docker.containers(&[self.project_label()]).await?;
        if !existing.iter().any(|c| c.name == service.container_name) {
            status(format!("creating {}", service.container_name));
            self.create(service).await?;
        }
        let (state, _) = self.docker.state(&service.container_name).await?;
        match state.as_str() {
            "running" | "restarting" => {}
            "paused" => self.docker.unpause(&service.container_name).await?,
            _ => {
                status(format!("starting {}", service.container_name));
                self.docker.start(&service.container_name).await?;
            }
        }
        Ok(())
    }

    async fn has_healthcheck(&self, service: &Service) -> Result<bool, ProjectError> {
        Ok(self
            .docker
            .state(&service.container_name)
            .await?
            .1
            .is_some())
    }

    /// Waits until `service` satisfies a `depends_on` condition.
    async fn wait_for(
        &self,
        service: &Service,
        condition: DependencyCondition,
        status: &(dyn Fn(String) + Sync),
    ) -> Result<(), ProjectError> {
        let name = &service.container_name;
        loop {
            let (state, health) = match self.docker.state(name).await {
                Ok(s) => s,
                // Not created yet: its own level has not started.
                Err(DockerError::NoSuchContainer(_)) => ("missing".into(), None),
                Err(e) => return Err(e.into()),
            };
            let done = match condition {
                DependencyCondition::Started => state == "running",
                DependencyCondition::Healthy => match health.as_deref() {
                    Some("healthy") => true,
                    Some("starting") if state == "running" => self.probe(service).await,
                    Some("unhealthy") => {
                        return Err(ProjectError::Service {
                            service: service.name.clone(),
                            problem: "is unhealthy".into(),
                        });
                    }
                    Some(_) => false,
                    None if state == "running" => {
                        return Err(ProjectError::Service {
                            service: service.name.clone(),
                            problem: "has no healthcheck, so `service_healthy` can never be met"
                                .into(),
                        });
                    }
                    None => false,
                },
                DependencyCondition::CompletedSuccessfully => {
                    if state == "exited" {
                        let code = self.exit_code(name).await?;
                        if code != 0 {
                            return Err(ProjectError::Service {
                                service: service.name.clone(),
                                problem: format!(
                                    "exited with {code}, but `service_completed_successfully` needs 0"
                                ),
                            });
                        }
                        true
                    } else {
                        false
                    }
                }
            };
            if done {
                return Ok(());
            }
            if state == "exited" && condition != DependencyCondition::CompletedSuccessfully {
                return Err(ProjectError::Service {
                    service: service.name.clone(),
                    problem: format!(
                        "exited (code {}) before it was ready",
                        self.exit_code(name).await?
                    ),
                });
            }
            status(format!(
                "waiting for {} ({})",
                service.name,
                health.as_deref().unwrap_or(&state)
            ));
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs the service's own healthcheck test once. Docker only re-runs it every `interval`,
    /// so while Docker still says `starting` this sees readiness as soon as it is true.
    async fn probe(&self, service: &Service) -> bool {
        let argv = match service.healthcheck.as_ref().map(|h| &h.test) {
            Some(HealthTest::Exec(argv)) => argv.clone(),
            Some(HealthTest::Shell(cmd)) => vec!["/bin/sh".into(), "-c".into(), cmd.clone()],
            _ => return false,
        };
        let timeout = service
            .healthcheck
            .as_ref()
            .and_then(|h| h.timeout)
            .unwrap_or(Duration::from_secs(30));
        let run = self.docker.exec(&service.container_name, &argv, None);
        matches!(tokio::time::timeout(timeout, run).await, Ok(Ok(out)) if out.exit_code == Some(0))
    }

    async fn exit_code(&self, container: &str) -> Result<i64, ProjectError> {
        let inspect = self
            .docker
            .api()
            .inspect_container(container, None)
            .await
            .map_err(|e| DockerError::from_api(format!("inspect {container}"), e))?;
        Ok(inspect.state.and_then(|s| s.exit_code).unwrap_or(-1))
    }

    async fn create(&self, service: &Service) -> Result<(), ProjectError> {
        let mut networks = service.networks.iter();
        let first = networks.next();
        let endpoint =
            |key: &str, net: &crate::compose::ServiceNetwork| -> (String, EndpointSettings) {
                let real = self
                    .project
                    .networks
                    .get(key)
                    .map_or_else(|| key.to_string(), |n| n.name.clone());
                let settings = EndpointSettings {
                    aliases: Some(net.aliases.clone()),
                    ipam_config: (net.ipv4_address.is_some() || net.ipv6_address.is_some()).then(
                        || EndpointIpamConfig {
                            ipv4_address: net.ipv4_address.map(|a| a.to_string()),
                            ipv6_address: net.ipv6_address.map(|a| a.to_string()),
                            ..Default::default()
                        },
                    ),
                    ..Default::default()
                };
                (real, settings)
            };
        let first_endpoint = first.map(|(k, n)| endpoint(k, n));
        create_bind_sources(service);
        let body = container_body(self.project, service, first_endpoint.clone());
        let options = CreateContainerOptionsBuilder::new()
            .name(&service.container_name)
            .build();
        self.docker
            .api()
            .create_container(Some(options), body)
            .await
            .map_err(|e| DockerError::from_api(format!("create {}", service.container_name), e))?;
        // API 1.41 takes one network at creation; the others are connected before start.
        for (key, net) in networks {
            let (name, settings) = endpoint(key, net);
            let request = NetworkConnectRequest {
                container: service.container_name.clone(),
                endpoint_config: Some(settings),
            };
            self.docker
                .api()
                .connect_network(&name, request)
                .await
                .map_err(|e| {
                    DockerError::from_api(
                        format!("connect {} to {name}", service.container_name),
                        e,
                    )
                })?;
        }
        Ok(())
    }
}

fn nanos(d: Option<Duration>) -> Option<i64> {
    d.map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Docker Compose creates a missing bind-mount source as a directory; so does `up`, before
/// the container that mounts it is created (Docker itself would refuse it).
fn create_bind_sources(service: &Service) {
    for mount in &service.volumes {
        if let Mount::Bind {
            source,
            create_host_path: true,
            ..
        } = mount
            && !source.exists()
        {
            let _ = std::fs::create_dir_all(source);
        }
    }
}

/// The Engine API's view of one service's container: a pure mapping of the compose model,
/// connected to its first network (`network`) at creation.
fn container_body(
    project: &ComposeProject,
    service: &Service,
    network: Option<(String, EndpointSettings)>,
) -> ContainerCreateBody {
    let mounts = mounts(service);
    let ports = &service.ports;
    let host_config = HostConfig {
        binds: non_empty(mounts.binds),
        tmpfs: non_empty(mounts.tmpfs),
        port_bindings: non_empty(port_bindings(service)),
        cap_add: non_empty(service.cap_add.clone()),
        cap_drop: non_empty(service.cap_drop.clone()),
        ulimits: non_empty(
            service
                .ulimits
                .iter()
                .map(|(name, u)| ResourcesUlimits {
                    name: Some(name.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect(),
        ),
        restart_policy: Some(restart_policy(service.restart)),
        extra_hosts: non_empty(
            service
                .extra_hosts
                .iter()
                .map(|h| format!("{}:{}", h.hostname, h.ip))
                .collect(),
        ),
        privileged: Some(service.privileged),
        init: service.init.then_some(true),
        network_mode: network.as_ref().map(|(name, _)| name.clone()),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(service.image.clone()),
        cmd: service.command.clone(),
        entrypoint: service.entrypoint.clone(),
        env: Some(
            service
                .environment
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        labels: Some(container_labels(project, service)),
        hostname: service.hostname.clone(),
        user: service.user.clone(),
        working_dir: service.working_dir.clone(),
        exposed_ports: non_empty(ports.iter().map(port_key).collect()),
        volumes: non_empty(mounts.anonymous),
        tty: Some(service.tty),
        open_stdin: Some(service.stdin_open),
        stop_signal: service.stop_signal.clone(),
        stop_timeout: service
            .stop_grace_period
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        healthcheck: service.healthcheck.as_ref().map(health_config),
        host_config: Some(host_config),
        networking_config: network.map(|(name, settings)| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(name, settings)])),
        }),
        ..Default::default()
    }
}

/// The Engine API leaves out what is not set, rather than sending an empty list or map.
fn non_empty<C: Default + PartialEq>(collection: C) -> Option<C> {
    (collection != C::default()).then_some(collection)
}

/// The service's own labels, and Compose's, by which `docker compose` recognises the
/// container as its own.
fn container_labels(project: &ComposeProject, service: &Service) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = service.labels.clone().into_iter().collect();
    map.insert(labels::PROJECT.into(), project.name.clone());
    map.insert(labels::SERVICE.into(), service.name.clone());
    map.insert(labels::NUMBER.into(), "1".into());
    map.insert(labels::ONEOFF.into(), "False".into());
    map.insert(
        "com.docker.compose.project.config_files".into(),
        project.file.display().to_string(),
    );
    map.insert(
        "com.docker.compose.project.working_dir".into(),
        project.dir.display().to_string(),
    );
    map
}

/// A service's mounts as the Engine API takes them.
#[derive(Default)]
struct Mounts {
    /// `source:target[:ro]`, named volumes and bind mounts alike.
    binds: Vec<String>,
    /// Anonymous volumes: just the target.
    anonymous: Vec<String>,
    /// Target to mount options.
    tmpfs: HashMap<String, String>,
}

fn mounts(service: &Service) -> Mounts {
    let mut mounts = Mounts {
        tmpfs: service.tmpfs.clone().into_iter().collect(),
        ..Mounts::default()
    };
    let ro = |read_only: bool| if read_only { ":ro" } else { "" };
    for mount in &service.volumes {
        match mount {
            Mount::Volume {
                source: Some(name),
                target,
                read_only,
            } => mounts
                .binds
                .push(format!("{name}:{target}{}", ro(*read_only))),
            Mount::Volume {
                source: None,
                target,
                ..
            } => mounts.anonymous.push(target.clone()),
            Mount::Bind {
                source,
                target,
                read_only,
                ..
            } => mounts
                .binds
                .push(format!("{}:{target}{}", source.display(), ro(*read_only))),
            Mount::Tmpfs { target, .. } => {
                mounts.tmpfs.insert(target.clone(), String::new());
            }
        }
    }
    mounts
}

/// `2379/tcp`: how the Engine API names a container port.
fn port_key(port: &crate::compose::Port) -> String {
    format!("{}/{}", port.target, port.protocol.as_str())
}

/// Every published address of each container port.
fn port_bindings(service: &Service) -> HashMap<String, Option<Vec<PortBinding>>> {
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for port in &service.ports {
        bindings
            .entry(port_key(port))
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: port.host_ip.map(|ip| ip.to_string()),
                host_port: port.published.map(|p| p.to_string()),
            });
    }
    bindings
}

fn health_config(h: &crate::compose::Healthcheck) -> HealthConfig {
    HealthConfig {
        test: match &h.test {
            HealthTest::Inherit => None,
            HealthTest::Disabled => Some(vec!["NONE".into()]),
            HealthTest::Exec(argv) => Some(
                std::iter::once("CMD".to_string())
                    .chain(argv.iter().cloned())
                    .collect(),
            ),
            HealthTest::Shell(cmd) => Some(vec!["CMD-SHELL".into(), cmd.clone()]),
        },
        interval: nanos(h.interval),
        timeout: nanos(h.timeout),
        retries: h.retries.map(i64::from),
        start_period: nanos(h.start_period),
        // start_interval needs API 1.44; older engines reject it.
        start_interval: None,
    }
}

fn restart_policy(policy: RestartPolicy) -> DockerRestart {
    let (name, maximum_retry_count) = match policy {
        RestartPolicy::No => (RestartPolicyNameEnum::NO, None),
        RestartPolicy::Always => (RestartPolicyNameEnum::ALWAYS, None),
        RestartPolicy::UnlessStopped => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
        RestartPolicy::OnFailure { max_retries } => (
            RestartPolicyNameEnum::ON_FAILURE,
            max_retries.map(i64::from),
        ),
    };
    DockerRestart {
        name: Some(name),
        maximum_retry_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::test_support::project;

    const DB: &str = r#"
services:
  db:
    image: img:1
    command: ["serve", "--x"]
    environment: { K: V }
    labels: { team: storage }
    ports: ["127.0.0.1:2379:2379", "2379:2379", "9000/udp"]
    volumes: ["data:/var/lib/db:ro", "/host:/in", "/anonymous"]
    tmpfs: ["/scratch"]
    healthcheck: { test: ["CMD", "true"], interval: 2s, retries: 3 }
    restart: on-failure:5
    extra_hosts: ["pd:10.0.0.2"]
    cap_add: [NET_ADMIN]
volumes:
  data: {}
"#;

    fn body(yaml: &str) -> ContainerCreateBody {
        let project = project(yaml);
        container_body(&project, &project.services[0], None)
    }

    #[test]
    fn compose_labels_make_the_container_compose_s_own() {
        let labels = body(DB).labels.unwrap();
        assert_eq!(labels[labels::PROJECT], "proj");
        assert_eq!(labels[labels::SERVICE], "db");
        assert_eq!(labels[labels::NUMBER], "1");
        assert_eq!(
            labels["com.docker.compose.project.config_files"],
            "/p/compose.yaml"
        );
        assert_eq!(labels["com.docker.compose.project.working_dir"], "/p");
        assert_eq!(
            labels["team"], "storage",
            "the service's own labels are kept"
        );
    }

    #[test]
    fn mounts_split_into_binds_anonymous_volumes_and_tmpfs() {
        let body = body(DB);
        let host = body.host_config.unwrap();
        assert_eq!(
            host.binds.unwrap(),
            ["proj_data:/var/lib/db:ro", "/host:/in"]
        );
        assert_eq!(body.volumes.unwrap(), ["/anonymous"]);
        assert_eq!(
            host.tmpfs.unwrap(),
            HashMap::from([("/scratch".into(), String::new())])
        );
    }

    #[test]
    fn every_published_address_of_a_port_is_bound() {
        let body = body(DB);
        let mut exposed = body.exposed_ports.unwrap();
        exposed.sort();
        assert_eq!(exposed, ["2379/tcp", "2379/tcp", "9000/udp"]);
        let bindings = body.host_config.unwrap().port_bindings.unwrap();
        let binding = |ip: Option<&str>, port: Option<&str>| PortBinding {
            host_ip: ip.map(str::to_string),
            host_port: port.map(str::to_string),
        };
        assert_eq!(
            bindings["2379/tcp"].as_deref().unwrap(),
            [
                binding(Some("127.0.0.1"), Some("2379")),
                binding(None, Some("2379"))
            ]
        );
        assert_eq!(
            bindings["9000/udp"].as_deref().unwrap(),
            [binding(None, None)]
        );
    }

    #[test]
    fn healthcheck_restart_and_the_rest_map_one_to_one() {
        let body = body(DB);
        let health = body.healthcheck.unwrap();
        assert_eq!(health.test.unwrap(), ["CMD", "true"]);
        assert_eq!(health.interval, Some(2_000_000_000));
        assert_eq!(health.retries, Some(3));
        assert_eq!(health.start_interval, None, "needs API 1.44");
        let host = body.host_config.unwrap();
        let restart = host.restart_policy.unwrap();
        assert_eq!(restart.name, Some(RestartPolicyNameEnum::ON_FAILURE));
        assert_eq!(restart.maximum_retry_count, Some(5));
        assert_eq!(host.extra_hosts.unwrap(), ["pd:10.0.0.2"]);
        assert_eq!(host.cap_add.unwrap(), ["NET_ADMIN"]);
        assert_eq!(host.cap_drop, None, "nothing set, nothing sent");
        assert_eq!(body.image.as_deref(), Some("img:1"));
        assert_eq!(body.cmd.unwrap(), ["serve", "--x"]);
        assert_eq!(body.env.unwrap(), ["K=V"]);
    }

    #[test]
    fn a_minimal_service_sends_no_empty_lists() {
        let body = body("services:\n  s:\n    image: i\n");
        let host = body.host_config.unwrap();
        assert_eq!(
            (host.binds, host.tmpfs, host.port_bindings),
            (None, None, None)
        );
        assert_eq!((body.exposed_ports, body.volumes), (None, None));
        assert_eq!(body.healthcheck, None);
        let restart = host.restart_policy.unwrap();
        assert_eq!(restart.name, Some(RestartPolicyNameEnum::NO));
    }

    #[test]
    fn the_first_network_is_joined_at_creation() {
        let project = project("services:\n  s:\n    image: i\n");
        let settings = EndpointSettings {
            aliases: Some(vec!["s".into()]),
            ..Default::default()
        };
        let body = container_body(
            &project,
            &project.services[0],
            Some(("proj_default".into(), settings.clone())),
        );
        assert_eq!(
            body.host_config.unwrap().network_mode.as_deref(),
            Some("proj_default")
        );
        let endpoints = body.networking_config.unwrap().endpoints_config.unwrap();
        assert_eq!(endpoints["proj_default"], settings);
    }
}
