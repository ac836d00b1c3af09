//! The step registry: the closed set of things a playbook can `uses`.
//!
//! Each step kind is one module with typed parameters (`#[serde(deny_unknown_fields)]`, a JSON
//! Schema via schemars), an async `run` function and a [`StepDoc`]. Adding a step kind is one
//! module plus one line in the `registry!` invocation below; validation, the JSON Schema, the
//! `chaosplay steps` catalogue and the interpreter all follow from that line, and so do the
//! facts others read about it: which containers it selects ([`Params`], for `plan` and the
//! blast-radius test) and whether it injects a fault and how it is undone ([`Effect`], for
//! `plan`, the HTML timeline and the docs).

use schemars::{Schema, SchemaGenerator};
use serde::de::DeserializeOwned;

use crate::engine::{StepContext, StepError};
use crate::playbook::check::{CheckError, check, convert};
use crate::playbook::node::Node;

mod assert;
mod background;
pub mod catalogue;
mod compose;
mod disk;
mod dns;
pub mod docker;
mod etcd;
mod exec;
mod fault;
mod group;
mod history;
mod http;
mod load;
mod log;
mod network;
mod pd;
mod process;
mod receive;
pub mod select;
mod set;
mod sleep;
pub mod undo;
mod undo_faults;
pub(crate) mod workload;

use select::Selector;

/// What `chaosplay steps` shows for a step kind, besides its parameters.
#[derive(Debug)]
pub struct StepDoc {
    pub summary: &'static str,
    /// Fields of the step's output, readable later as `steps.<id>.<field>`.
    pub outputs: &'static [(&'static str, &'static str)],
    /// Parameters holding expressions (not templates): they are compiled as expressions at
    /// validation and are not rendered before the step runs.
    pub expressions: &'static [&'static str],
    /// Whether the step only observes, so it may be polled with `until` or used as a monitor.
    pub read_only: bool,
    /// Whether the step talks to the Docker daemon: a run that has such steps checks the
    /// daemon before it starts, so a missing daemon is one clear sentence, not a failed step.
    pub needs_docker: bool,
    /// What the step leaves behind that cleanup must reverse.
    pub effect: Effect,
    /// A TOML snippet showing a typical use.
    pub example: &'static str,
}

/// What a step does to the subject that cleanup must reverse. Every step that leaves
/// something behind registers an [`undo::Undo`] before it acts; this is how that undo is told
/// to a reader before the run (`chaosplay plan`, `chaosplay steps`, the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing to reverse: the step reads, waits, runs a command of the playbook's, or repairs
    /// (`docker.start`, `network.heal`, `undo`).
    None,
    /// Injects a fault into the subject, reversed at cleanup and by `recover` as `undo` says;
    /// drawn as a fault on the HTML timeline.
    Fault { undo: &'static str },
    /// Changes a setting the scenario needs (not a fault), restored at cleanup as `undo` says.
    Setting { undo: &'static str },
}

impl Effect {
    pub fn undo(self) -> Option<&'static str> {
        match self {
            Effect::None => None,
            Effect::Fault { undo } | Effect::Setting { undo } => Some(undo),
        }
    }

    pub fn is_fault(self) -> bool {
        matches!(self, Effect::Fault { .. })
    }
}

/// A value its parameter's type allows but the step does not (out of a range, or a combination
/// of keys), named by its key in `with` so that validation can point at it in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfBounds {
    pub field: &'static str,
    pub message: String,
}

impl OutOfBounds {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        OutOfBounds {
            field,
            message: message.into(),
        }
    }
}

/// What a step's parameters say beyond their types: the rules their types cannot express,
/// and the containers they select.
///
/// The rules are checked twice: at load time on the values written literally, so
/// `percent = 150` fails before anything runs, and on the rendered values right before the
/// step runs, since a template's value is known only then.
pub trait Params {
    /// Whether the parameters select containers (they are declared with `selector_params!`).
    const SELECTS: bool = false;

    /// Every rule broken, so validation can report each value at once.
    fn bounds(&self) -> Vec<OutOfBounds> {
        Vec::new()
    }

    /// The containers the step acts on, when it [`Params::SELECTS`] them.
    fn targets(&self) -> Option<Selector> {
        None
    }
}

/// Parameter types without rules beyond their types, that select no container.
macro_rules! unbounded {
    ($($params:path),* $(,)?) => {
        $(impl Params for $params {})*
    };
}

unbounded!(
    sleep::SleepParams,
    log::LogParams,
    set::SetParams,
    group::GroupParams,
    assert::AssertParams,
    exec::ExecParams,
    http::HttpRequestParams,
    background::AwaitParams,
    compose::UpParams,
    compose::DownParams,
    compose::ResetParams,
    compose::PsParams,
    pd::WaitStoresParams,
    pd::PdParams,
    pd::WaitHealthyParams,
    pd::RegionsCheckParams,
    pd::ConfigParams,
    etcd::EndpointParams,
    etcd::EndpointsParams,
    etcd::WaitHealthyParams,
    etcd::PutParams,
    etcd::GetParams,
);

/// Applies [`Params::bounds`] at validation: a value written literally is reported at its place in the
/// file; a rule broken by a key holding a template is left to run time, since the template's
/// stand-in is not its value.
fn literal_bounds(params: &impl Params, with: &Node) -> Result<(), CheckError> {
    for e in params.bounds() {
        match with.get(e.field) {
            Some(value) if value.has_template() => continue,
            value => {
                return Err(CheckError {
                    message: e.message,
                    span: Some(value.unwrap_or(with).span.clone()),
                });
            }
        }
    }
    Ok(())
}

macro_rules! registry {
    ($($variant:ident => $name:literal, $params:path, $doc:path, $run:path;)*) => {
        /// One kind of step, named in playbooks by [`StepKind::name`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum StepKind {
            $($variant,)*
        }

        impl StepKind {
            pub const ALL: &'static [StepKind] = &[$(StepKind::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(StepKind::$variant => $name,)*
                }
            }

            pub fn doc(self) -> &'static StepDoc {
                match self {
                    $(StepKind::$variant => &$doc,)*
                }
            }

            /// Checks a `with` table against this kind's parameters and their bounds,
            /// templates standing in for any value.
            pub fn check(self, with: &Node) -> Result<(), CheckError> {
                match self {
                    $(StepKind::$variant => {
                        check::<$params>(with).and_then(|p| literal_bounds(&p, with))
                    })*
                }
            }

            /// Whether steps of this kind act on containers chosen by a selector.
            pub fn selects(self) -> bool {
                match self {
                    $(StepKind::$variant => <$params as Params>::SELECTS,)*
                }
            }

            /// The containers selector of a step that acts on containers, from its rendered
            /// parameters; `None` for other steps. `chaosplay plan` shows what it would hit.
            pub fn selector(self, params: serde_json::Value) -> Option<Result<Selector, StepError>> {
                match self {
                    $(StepKind::$variant if self.selects() => {
                        parse_params::<$params>(params).map(|p| p.targets()).transpose()
                    })*
                    _ => None,
                }
            }

            pub fn params_schema(self, generator: &mut SchemaGenerator) -> Schema {
                match self {
                    $(StepKind::$variant => generator.subschema_for::<$params>(),)*
                }
            }

            /// Runs the step with its rendered parameters; the output is what later steps read
            /// as `steps.<id>`.
            pub async fn run(
                self,
                params: serde_json::Value,
                cx: &StepContext,
            ) -> Result<serde_json::Value, StepError> {
                match self {
                    $(StepKind::$variant => $run(parse_params::<$params>(params)?, cx).await,)*
                }
            }
        }
    };
}

registry! {
    Sleep => "sleep", sleep::SleepParams, sleep::DOC, sleep::run;
    Log => "log", log::LogParams, log::DOC, log::run;
    Set => "set", set::SetParams, set::DOC, set::run;
    Group => "group", group::GroupParams, group::DOC, group::run;
    Assert => "assert", assert::AssertParams, assert::DOC, assert::run;
    Exec => "exec", exec::ExecParams, exec::DOC, exec::run;
    HttpRequest => "http.request", http::HttpRequestParams, http::DOC, http::run;
    HttpReceive => "http.receive", receive::ReceiveParams, receive::DOC, receive::run;
    LoadHttp => "load.http", load::LoadHttpParams, load::DOC, load::run;
    Await => "await", background::AwaitParams, background::DOC, background::run;
    ComposeUp => "compose.up", compose::UpParams, compose::UP_DOC, compose::up;
    ComposeDown => "compose.down", compose::DownParams, compose::DOWN_DOC, compose::down;
    ComposeReset => "compose.reset", compose::ResetParams, compose::RESET_DOC, compose::reset;
    ComposePs => "compose.ps", compose::PsParams, compose::PS_DOC, compose::ps;
    PdWaitStores => "pd.wait_stores", pd::WaitStoresParams, pd::WAIT_STORES_DOC, pd::wait_stores;
    PdCapture => "pd.capture", pd::PdParams, pd::CAPTURE_DOC, pd::capture;
    PdWaitHealthy => "pd.wait_healthy", pd::WaitHealthyParams, pd::WAIT_HEALTHY_DOC, pd::wait_healthy;
    PdRegionsCheck => "pd.regions_check", pd::RegionsCheckParams, pd::REGIONS_CHECK_DOC, pd::regions_check;
    PdConfig => "pd.config", pd::ConfigParams, pd::CONFIG_DOC, pd::config;
    PdLeader => "pd.leader", pd::PdParams, pd::LEADER_DOC, pd::leader;
    EtcdMembers => "etcd.members", etcd::EndpointParams, etcd::MEMBERS_DOC, etcd::members;
    EtcdStatus => "etcd.status", etcd::EndpointParams, etcd::STATUS_DOC, etcd::status;
    EtcdLeader => "etcd.leader", etcd::EndpointsParams, etcd::LEADER_DOC, etcd::leader;
    EtcdWaitHealthy => "etcd.wait_healthy", etcd::WaitHealthyParams, etcd::WAIT_HEALTHY_DOC, etcd::wait_healthy;
    EtcdPut => "etcd.put", etcd::PutParams, etcd::PUT_DOC, etcd::put;
    EtcdGet => "etcd.get", etcd::GetParams, etcd::GET_DOC, etcd::get;
    DockerKill => "docker.kill", docker::KillParams, docker::KILL_DOC, docker::kill;
    DockerStop => "docker.stop", docker::StopParams, docker::STOP_DOC, docker::stop;
    DockerStart => "docker.start", docker::StartParams, docker::START_DOC, docker::start;
    DockerRestart => "docker.restart", docker::RestartParams, docker::RESTART_DOC, docker::restart;
    DockerPause => "docker.pause", docker::PauseParams, docker::PAUSE_DOC, docker::pause;
    DockerUnpause => "docker.unpause", docker::UnpauseParams, docker::UNPAUSE_DOC, docker::unpause;
    DockerExec => "docker.exec", docker::ExecParams, docker::EXEC_DOC, docker::exec;
    DockerWait => "docker.wait", docker::WaitParams, docker::WAIT_DOC, docker::wait;
    DockerLogs => "docker.logs", docker::LogsParams, docker::LOGS_DOC, docker::logs;
    DockerLimit => "docker.limit", docker::limit::LimitParams, docker::limit::DOC, docker::limit::run;
    DockerStress => "docker.stress", docker::stress::StressParams, docker::stress::DOC, docker::stress::run;
    NetworkPartition => "network.partition", network::PartitionParams, network::PARTITION_DOC, network::partition;
    NetworkHeal => "network.heal", network::HealParams, network::HEAL_DOC, network::heal;
    NetworkLoss => "network.loss", network::LossParams, network::LOSS_DOC, network::loss;
    NetworkBandwidth => "network.bandwidth", network::BandwidthParams, network::BANDWIDTH_DOC, network::bandwidth;
    NetworkDelay => "network.delay", network::DelayParams, network::DELAY_DOC, network::delay;
    NetworkDns => "network.dns", dns::DnsParams, dns::DOC, dns::run;
    DiskFill => "disk.fill", disk::FillParams, disk::FILL_DOC, disk::fill;
    DiskThrottle => "disk.throttle", disk::ThrottleParams, disk::THROTTLE_DOC, disk::throttle;
    DiskRestore => "disk.restore", disk::RestoreParams, disk::RESTORE_DOC, disk::restore;
    UndoFaults => "undo", undo_faults::UndoParams, undo_faults::DOC, undo_faults::run;
    ProcessSignal => "process.signal", process::SignalParams, process::DOC, process::run;
    FaultExec => "fault.exec", fault::ExecParams, fault::EXEC_DOC, fault::exec;
    HistoryCheck => "history.check", history::CheckParams, history::CHECK_DOC, history::check;
    WorkloadEtcd => "workload.etcd", workload::EtcdWorkloadParams, workload::ETCD_DOC, workload::etcd;
    WorkloadHttp => "workload.http", workload::HttpWorkloadParams, workload::HTTP_DOC, workload::http;
    FaultDockerExec => "fault.docker_exec", fault::DockerExecParams, fault::DOCKER_EXEC_DOC, fault::docker_exec;
}

impl StepKind {
    /// How often a kind that waits by polling looks, from its rendered parameters: what it
    /// waits for may have happened up to this long before it saw it. `None` for other kinds.
    pub fn poll_interval(self, params: &serde_json::Value) -> Option<std::time::Duration> {
        fn of<T: DeserializeOwned + Params>(
            params: &serde_json::Value,
            interval: fn(&T) -> std::time::Duration,
        ) -> Option<std::time::Duration> {
            parse_params::<T>(params.clone()).ok().map(|p| interval(&p))
        }
        match self {
            StepKind::PdWaitStores => of(params, |p: &pd::WaitStoresParams| p.interval.0),
            StepKind::PdWaitHealthy => of(params, |p: &pd::WaitHealthyParams| p.interval.0),
            StepKind::EtcdWaitHealthy => of(params, |p: &etcd::WaitHealthyParams| p.interval.0),
            StepKind::DockerWait => of(params, docker::WaitParams::pause),
            _ => None,
        }
    }

    /// Whether a background step of this kind, stopped by `await` with `cancel = true`, is
    /// asked to end (through [`StepContext::stopped`]) and keeps the output it returns, instead
    /// of being dropped: a load generator's figures are what the scenario asserts on.
    pub fn stops_gracefully(self) -> bool {
        matches!(
            self,
            StepKind::LoadHttp | StepKind::WorkloadEtcd | StepKind::WorkloadHttp
        )
    }

    /// Whether a background step of this kind holds the playbook until it says it is ready
    /// ([`StepContext::ready`]) or ends: a listener must be bound before the step after it
    /// starts whoever will talk to it.
    pub fn holds_until_ready(self) -> bool {
        matches!(self, StepKind::HttpReceive)
    }

    /// The kind `uses` names; `group` is named by a group's path, not by its name.
    pub fn from_name(name: &str) -> Option<StepKind> {
        StepKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == name && *k != StepKind::Group)
    }

    /// Whether `uses` names a step group file rather than a kind: a path relative to the file
    /// (`./lib/etcd-leader.toml`, `../lib/x.toml`).
    pub fn is_group_path(uses: &str) -> bool {
        (uses.starts_with("./") || uses.starts_with("../")) && uses.ends_with(".toml")
    }
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Rendered parameters, typed and within their bounds.
fn parse_params<T: DeserializeOwned + Params>(params: serde_json::Value) -> Result<T, StepError> {
    let params: T = convert(params).map_err(|e| StepError::Params(e.to_string()))?;
    match params.bounds().into_iter().next() {
        Some(e) => Err(StepError::Params(e.message)),
        None => Ok(params),
    }
}
