//! The resolved project model: what the Docker backend creates containers from.
//!
//! Everything here is final: variables are interpolated, paths are absolute,
//! Docker object names carry the project prefix, durations are typed. The
//! backend should never need to look at the compose file again.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

/// A compose file, fully resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ComposeProject {
    /// Project name: prefixes network, volume and default container names.
    pub name: String,
    /// The compose file, as given to [`ComposeProject::load`].
    pub file: PathBuf,
    /// Absolute directory of the compose file; relative paths were resolved against it.
    pub dir: PathBuf,
    /// Services in file order. See [`ComposeProject::start_levels`] for start order.
    pub services: Vec<Service>,
    /// Networks by their compose key, including the implicit `default` network
    /// when a service uses it.
    pub networks: BTreeMap<String, Network>,
    /// Named volumes by their compose key.
    pub volumes: BTreeMap<String, Volume>,
    /// Non-fatal findings worth showing the user, such as variables that were
    /// not set and became empty strings (Compose warns about these too).
    pub warnings: Vec<String>,
}

/// One service, i.e. one container (no `scale`/replicas support).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Service {
    /// The compose key of the service.
    pub name: String,
    /// `container_name`, or `<project>-<service>-1` like Docker Compose.
    pub container_name: String,
    /// Image reference; images must exist or be pullable (no `build`).
    pub image: String,
    /// Overrides the image's `CMD`; `Some(vec![])` means an explicitly empty command.
    pub command: Option<Vec<String>>,
    /// Overrides the image's `ENTRYPOINT`; `Some(vec![])` clears it.
    pub entrypoint: Option<Vec<String>>,
    /// Final environment: `env_file` contents overridden by `environment`.
    /// Bare names (`- FOO`) took their value from the variables, or were dropped if unset.
    pub environment: BTreeMap<String, String>,
    /// Published ports; ranges are expanded to one entry per port.
    pub ports: Vec<Port>,
    /// Mounts from `volumes`, in file order.
    pub volumes: Vec<Mount>,
    /// `tmpfs` entries: container path to mount options (possibly empty), as
    /// Docker's `HostConfig.Tmpfs` wants them.
    pub tmpfs: BTreeMap<String, String>,
    /// Networks by compose key (look up real names in [`ComposeProject::networks`]).
    /// Never empty: a service that lists none is on `default`.
    pub networks: BTreeMap<String, ServiceNetwork>,
    /// Services that must be up before this one, by service name.
    pub depends_on: BTreeMap<String, Dependency>,
    /// `None` when the compose file says nothing (the image's check applies).
    pub healthcheck: Option<Healthcheck>,
    /// Container hostname.
    pub hostname: Option<String>,
    /// Container labels.
    pub labels: BTreeMap<String, String>,
    /// Docker restart policy.
    pub restart: RestartPolicy,
    /// `user[:group]` to run as.
    pub user: Option<String>,
    /// Working directory inside the container.
    pub working_dir: Option<String>,
    /// Added Linux capabilities.
    pub cap_add: Vec<String>,
    /// Dropped Linux capabilities.
    pub cap_drop: Vec<String>,
    /// Resource limits by name (`nofile`, `nproc`, ...).
    pub ulimits: BTreeMap<String, Ulimit>,
    /// Signal sent to stop the container (Docker's default is SIGTERM).
    pub stop_signal: Option<String>,
    /// Time to wait after the stop signal before killing.
    pub stop_grace_period: Option<Duration>,
    /// Extra `/etc/hosts` entries.
    pub extra_hosts: Vec<ExtraHost>,
    /// Run privileged.
    pub privileged: bool,
    /// Run an init process as PID 1.
    pub init: bool,
    /// Allocate a TTY.
    pub tty: bool,
    /// Keep stdin open.
    pub stdin_open: bool,
}

/// A published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    /// Port inside the container.
    pub target: u16,
    /// Host port; `None` lets Docker pick a free one.
    pub published: Option<u16>,
    /// Host address to bind; `None` binds all addresses.
    pub host_ip: Option<IpAddr>,
    /// Transport protocol.
    pub protocol: Protocol,
}

/// Transport protocol of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// TCP (the default).
    #[default]
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// The name Docker uses in port keys such as `80/tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// A filesystem mount of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// A Docker volume.
    Volume {
        /// Real Docker volume name (`<project>_<key>` unless named or external);
        /// `None` for an anonymous volume.
        source: Option<String>,
        /// Absolute path in the container.
        target: String,
        /// Mount read-only.
        read_only: bool,
    },
    /// A host path.
    Bind {
        /// Absolute host path.
        source: PathBuf,
        /// Absolute path in the container.
        target: String,
        /// Mount read-only.
        read_only: bool,
        /// Create the host path if missing, as Docker Compose does by default.
        create_host_path: bool,
    },
    /// A tmpfs, from the long `volumes` syntax (see also [`Service::tmpfs`]).
    Tmpfs {
        /// Absolute path in the container.
        target: String,
        /// Size limit in bytes.
        size: Option<u64>,
        /// File mode of the mount point.
        mode: Option<u32>,
    },
}

/// How a service attaches to one network.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceNetwork {
    /// DNS aliases on this network. The service name comes first, as Compose
    /// adds it so services can reach each other by name.
    pub aliases: Vec<String>,
    /// Static IPv4 address.
    pub ipv4_address: Option<Ipv4Addr>,
    /// Static IPv6 address.
    pub ipv6_address: Option<Ipv6Addr>,
}

/// A `depends_on` edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dependency {
    /// What "up" means for the dependency.
    pub condition: DependencyCondition,
}

/// When a dependency counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DependencyCondition {
    /// `service_started`: the container is running (the default).
    #[default]
    Started,
    /// `service_healthy`: its healthcheck passes.
    Healthy,
    /// `service_completed_successfully`: it exited with status 0.
    CompletedSuccessfully,
}

/// A container healthcheck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// The check itself.
    pub test: HealthTest,
    /// Time between checks.
    pub interval: Option<Duration>,
    /// Time after which one check counts as failed.
    pub timeout: Option<Duration>,
    /// Grace period during which failures don't count.
    pub start_period: Option<Duration>,
    /// Time between checks during the start period.
    pub start_interval: Option<Duration>,
    /// Consecutive failures before the container is unhealthy.
    pub retries: Option<u32>,
}

/// The command of a healthcheck, in the forms Docker distinguishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthTest {
    /// Keep the image's test (only timings were given).
    Inherit,
    /// Disable the image's healthcheck (`disable: true` or `NONE`); Docker's `["NONE"]`.
    Disabled,
    /// Run a program directly; Docker's `["CMD", ...]`.
    Exec(Vec<String>),
    /// Run through `/bin/sh -c`; Docker's `["CMD-SHELL", cmd]`.
    Shell(String),
}

/// Docker restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    /// `no`: never restart (the default).
    #[default]
    No,
    /// `always`.
    Always,
    /// `on-failure[:max_retries]`.
    OnFailure {
        /// Maximum restart attempts; `None` is unlimited.
        max_retries: Option<u32>,
    },
    /// `unless-stopped`.
    UnlessStopped,
}

/// A resource limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ulimit {
    /// Soft limit.
    pub soft: i64,
    /// Hard limit.
    pub hard: i64,
}

/// An extra `/etc/hosts` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraHost {
    /// Host name.
    pub hostname: String,
    /// An IP address, or Docker's special value `host-gateway`.
    pub ip: String,
}

/// A network of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Real Docker name: `<project>_<key>` unless `name:` is set or it is external.
    pub name: String,
    /// Managed outside the project: must exist, never created or removed.
    pub external: bool,
    /// Network driver (Docker's default is `bridge`).
    pub driver: Option<String>,
    /// IPAM driver.
    pub ipam_driver: Option<String>,
    /// IPAM pools.
    pub subnets: Vec<Subnet>,
}

/// An IPAM pool of a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// CIDR, e.g. `172.28.0.0/16`.
    pub subnet: String,
    /// Gateway address.
    pub gateway: Option<IpAddr>,
}

/// A named volume of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Real Docker name: `<project>_<key>` unless `name:` is set or it is external.
    pub name: String,
    /// Managed outside the project: must exist, never created or removed.
    pub external: bool,
    /// Volume driver (Docker's default is `local`).
    pub driver: Option<String>,
    /// The driver's options: for `local`, `type`, `device` and `o` mount a filesystem of its
    /// own (a size-limited tmpfs, say), like `mount -t <type> -o <o> <device>`. Options with
    /// an empty value are left out.
    pub driver_opts: BTreeMap<String, String>,
}
