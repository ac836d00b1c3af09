//! `docker.stress`: CPU and memory load that counts against the target container's own
//! budget, as Chaos Mesh's StressChaos and Pumba's `stress` do: a starved CPU quota or a
//! memory limit reached by the load is the target's, so its own processes feel it.
//!
//! The load is Debian's `stress-ng` in a helper container (image built offline by
//! `scripts/build-stress-image.sh`, no registry). The helper's first process waits until it
//! is inside the target's control groups, moved there from the host (see
//! [`crate::clients::cgroup`]: one way for cgroup v1 and v2, cgroupfs and systemd drivers),
//! then becomes `stress-ng`, so every worker it forks is born in the target's groups. That
//! takes a local engine and root, like `process.signal`.
//!
//! The helper carries the target's compose project label (so `compose.down` and a project's
//! removal take it too) and Compose's one-off label, which selectors never pick.

use std::collections::HashMap;
use std::str::FromStr;

use bollard::models::{ContainerCreateBody, HostConfig};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clients::cgroup;
use crate::clients::docker::{Container, DockerClient, labels};
use crate::clients::netns;
use crate::clients::pd::ByteSize;
use crate::duration::Duration;
use crate::engine::{StepContext, StepError};
use crate::steps::select::{self, hit_output, hit_outputs, select, selector_params};
use crate::steps::undo::Undo;
use crate::steps::{Effect, OutOfBounds, StepDoc};

/// The helper image `scripts/build-stress-image.sh` builds.
pub const IMAGE: &str = "chaosplay/stress-ng:local";

/// The label naming the container a helper loads; it marks chaosplay's helpers.
pub const TARGET_LABEL: &str = "dev.chaosplay.stress.target";

/// More workers than this is a fork bomb, not a load.
const MAX_WORKERS: u32 = 256;

/// The helper's first process: wait (10 s at most) until it is in the target's groups, whose
/// paths hold the target's id, then become stress-ng with the arguments after the id.
const GATE: &str = "i=0; until grep -q \"$0\" /proc/self/cgroup; do i=$((i+1)); [ $i -lt 200 ] || exit 97; sleep 0.05; done; exec stress-ng \"$@\"";

selector_params! {
    pick = "select::pick_random";
    bounds = stress_bounds;
    pub struct StressParams {
        /// CPU load: `{ workers = 1, load = 80 }`.
        #[serde(default)]
        pub cpu: Option<CpuLoad>,
        /// Memory load: `{ workers = 1, size = "64m" }` or `{ percent = 80 }`.
        #[serde(default)]
        pub memory: Option<MemoryLoad>,
        /// How long the load lasts (whole seconds, e.g. `"30s"`); by default until cleanup.
        #[serde(default)]
        pub duration: Option<Duration>,
        /// The helper image with `stress-ng` (built by `scripts/build-stress-image.sh`).
        #[serde(default = "image")]
        pub image: String,
    }
}

fn image() -> String {
    IMAGE.into()
}

fn one() -> u32 {
    1
}

fn hundred() -> u32 {
    100
}

/// CPU load, as stress-ng's `--cpu` workers.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CpuLoad {
    /// Worker processes, each able to keep one CPU busy (1–256, default 1).
    #[serde(default = "one")]
    pub workers: u32,
    /// How busy each worker keeps its CPU, in percent (1–100, default 100).
    #[serde(default = "hundred")]
    pub load: u32,
}

/// Memory load, as stress-ng's `--vm` workers keeping their memory in use (`--vm-keep`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryLoad {
    /// Worker processes sharing the memory (1–256, default 1).
    #[serde(default = "one")]
    pub workers: u32,
    /// Memory the workers hold in all, in Docker's units (`"64m"`, `"1g"`: binary).
    #[serde(default)]
    pub size: Option<String>,
    /// Or this percentage (1–100) of the container's memory limit, read when the step runs.
    #[serde(default)]
    pub percent: Option<u32>,
}

pub const DOC: StepDoc = StepDoc {
    summary: "CPU and memory load (stress-ng in a helper container) that counts against the containers' own CPU and memory limits, for a duration or until cleanup. Needs a local engine, root and the helper image (scripts/build-stress-image.sh). Undo: remove the helper, which ends every stressor.",
    outputs: hit_outputs!((
        "stressors",
        "each {container, helper, cgroup (v1 or v2), args}: the helper loading the container and stress-ng's arguments"
    )),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "remove the helper container (its stressors end with it), and check it is gone, no stressor is left in the container and the container still runs",
    },
    example: "id = \"stress\"\nuses = \"docker.stress\"\nwith = { service = \"etcd0\", cpu = { workers = 2, load = 90 }, memory = { size = \"64m\" }, duration = \"30s\" }",
};

fn workers(field: &'static str, n: u32) -> Result<(), OutOfBounds> {
    match n {
        1..=MAX_WORKERS => Ok(()),
        _ => Err(OutOfBounds::new(
            field,
            format!("`workers` must be 1 to {MAX_WORKERS}, not {n}"),
        )),
    }
}

/// The memory load's size in bytes, when given as a size.
fn size(m: &MemoryLoad) -> Result<Option<u64>, OutOfBounds> {
    let Some(text) = &m.size else {
        return Ok(None);
    };
    let size = ByteSize::from_str(text)
        .map_err(|e| OutOfBounds::new("memory", format!("`size`: {e} (e.g. \"64m\", \"1g\")")))?;
    match size.bytes() {
        0 => Err(OutOfBounds::new("memory", "`size` must be more than 0")),
        bytes => Ok(Some(bytes)),
    }
}

fn check(p: &StressParams) -> Result<(), OutOfBounds> {
    if p.cpu.is_none() && p.memory.is_none() {
        return Err(OutOfBounds::new("cpu", "give `cpu`, `memory` or both"));
    }
    if let Some(cpu) = &p.cpu {
        workers("cpu", cpu.workers)?;
        if !(1..=100).contains(&cpu.load) {
            return Err(OutOfBounds::new(
                "cpu",
                format!("`load` is a percentage, 1 to 100, not {}", cpu.load),
            ));
        }
    }
    if let Some(m) = &p.memory {
        workers("memory", m.workers)?;
        match (size(m)?, m.percent) {
            (Some(_), None) | (None, Some(1..=100)) => {}
            (None, Some(n)) => {
                return Err(OutOfBounds::new(
                    "memory",
                    format!("`percent` is of the memory limit, 1 to 100, not {n}"),
                ));
            }
            _ => {
                return Err(OutOfBounds::new(
                    "memory",
                    "give one of `size` and `percent` (of the container's memory limit)",
                ));
            }
        }
    }
    match p.duration {
        Some(d) if d.0.as_secs() == 0 => Err(OutOfBounds::new(
            "duration",
            "`duration` must be at least 1s (stress-ng counts whole seconds)",
        )),
        _ => Ok(()),
    }
}

fn stress_bounds(p: &StressParams) -> Vec<OutOfBounds> {
    check(p).err().into_iter().collect()
}

/// stress-ng's arguments for `p` on a container whose memory limit is `limit`.
fn arguments(p: &StressParams, limit: Option<i64>) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    if let Some(cpu) = &p.cpu {
        args.extend(["--cpu".into(), cpu.workers.to_string()]);
        args.extend(["--cpu-load".into(), cpu.load.to_string()]);
    }
    if let Some(m) = &p.memory {
        let total = match (size(m).map_err(|e| e.message)?, m.percent) {
            (Some(bytes), _) => bytes,
            (None, Some(percent)) => {
                let limit = limit.ok_or(
                    "`memory.percent` is a share of the container's memory limit, and it has none: give `size`, or limit it first (docker.limit)",
                )?;
                u64::try_from(limit).unwrap_or(0) * u64::from(percent) / 100
            }
            (None, None) => return Err("`memory` needs `size` or `percent`".into()),
        };
        let each = (total / u64::from(m.workers)).max(4096);
        args.extend(["--vm".into(), m.workers.to_string()]);
        args.extend(["--vm-bytes".into(), format!("{each}b"), "--vm-keep".into()]);
    }
    if let Some(d) = p.duration {
        args.extend(["--timeout".into(), format!("{}s", d.0.as_secs())]);
    }
    Ok(args)
}

pub async fn run(p: StressParams, cx: &StepContext) -> Result<Value, StepError> {
    check(&p).map_err(|e| StepError::Params(e.message))?;
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    netns::require_local_root(docker.host())?;
    let mut stressors = Vec::new();
    for c in &hit {
        let limit = docker.limits(&c.name).await?.effective().memory;
        let args = arguments(&p, limit).map_err(StepError::Params)?;
        let helper = helper_name(&c.name);
        cx.register_undo(Undo::Stress {
            container: c.name.clone(),
            helper: helper.clone(),
        })?;
        cx.status(format!("stressing {} ({helper})", c.name));
        let (api, target, image) = (docker.clone(), c.clone(), p.image.clone());
        let (name, argv) = (helper.clone(), args.clone());
        let version =
            cx.apply_fault(async move { start(&api, &target, &name, &image, argv).await });
        stressors.push(json!({
            "container": c.name, "helper": helper, "cgroup": version.await?, "args": args,
        }));
    }
    let mut out = hit_output(&hit);
    out["stressors"] = json!(stressors);
    Ok(out)
}

/// A helper's name: unique, so two loads on one container are two helpers.
fn helper_name(target: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "chaosplay-stress.{target}.{:x}{nanos:08x}",
        std::process::id()
    )
}

/// Starts the helper and moves it into the target's groups; the cgroup version seen.
async fn start(
    docker: &DockerClient,
    target: &Container,
    helper: &str,
    image: &str,
    args: Vec<String>,
) -> Result<&'static str, StepError> {
    let into = docker.network_state(&target.name).await?;
    if into.pid <= 0 {
        return Err(StepError::Failed(format!("{} is not running", target.name)));
    }
    if !docker
        .create(helper, helper_body(target, image, &into.id, args))
        .await?
    {
        return Err(StepError::Environment(format!(
            "the stress helper image {image} is not on the engine: build it offline with scripts/build-stress-image.sh (from Debian's stress-ng)"
        )));
    }
    docker.start(helper).await?;
    let pid = docker.network_state(helper).await?.pid;
    let moved = cgroup::join(pid, into.pid).and_then(|()| cgroup::version_of(into.pid));
    let version = moved.map_err(|e| StepError::Failed(format!("{helper}: {e}")))?;
    if cgroup::same_groups(pid, into.pid) != Some(true) {
        return Err(StepError::Failed(format!(
            "{helper} did not stay in the control groups of {}",
            target.name
        )));
    }
    Ok(version)
}

fn helper_body(
    target: &Container,
    image: &str,
    id: &str,
    args: Vec<String>,
) -> ContainerCreateBody {
    let mut labels = HashMap::from([
        (TARGET_LABEL.to_string(), target.name.clone()),
        (labels::ONEOFF.to_string(), "True".to_string()),
    ]);
    if let Some(project) = &target.project {
        labels.insert(labels::PROJECT.into(), project.clone());
    }
    let entrypoint = ["/bin/sh", "-c", GATE, id].map(String::from).to_vec();
    ContainerCreateBody {
        image: Some(image.into()),
        entrypoint: Some(entrypoint),
        cmd: Some(args),
        labels: Some(labels),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(with: &str) -> StressParams {
        let (table, _) = toml::de::DeTable::parse_recoverable(with);
        let node = crate::playbook::node::Node::from_table(&table).unwrap();
        crate::playbook::check::check(&node).unwrap()
    }

    fn refused(with: &str) -> Option<(&'static str, String)> {
        check(&params(with)).err().map(|e| (e.field, e.message))
    }

    #[test]
    fn loads_out_of_range_are_refused_by_key() {
        assert_eq!(refused("service = \"s\"").unwrap().0, "cpu");
        assert_eq!(
            refused("service = \"s\"\ncpu = { workers = 0 }").unwrap().0,
            "cpu"
        );
        assert!(
            refused("service = \"s\"\ncpu = { load = 101 }")
                .unwrap()
                .1
                .contains("percentage")
        );
        let both = refused("service = \"s\"\nmemory = { size = \"1m\", percent = 5 }").unwrap();
        assert_eq!(both.0, "memory");
        assert!(
            refused("service = \"s\"\nmemory = { size = \"lots\" }")
                .unwrap()
                .1
                .contains("e.g. \"64m\"")
        );
        assert_eq!(
            refused("service = \"s\"\ncpu = {}\nduration = \"500ms\"")
                .unwrap()
                .0,
            "duration"
        );
        assert_eq!(
            refused("service = \"s\"\ncpu = {}\nmemory = { percent = 50 }"),
            None
        );
    }

    #[test]
    fn memory_is_shared_by_the_workers_and_a_percent_needs_a_limit() {
        let p = params(
            "service = \"s\"\ncpu = { workers = 2, load = 50 }\nmemory = { workers = 2, size = \"64m\" }\nduration = \"30s\"",
        );
        assert_eq!(
            arguments(&p, None).unwrap().join(" "),
            "--cpu 2 --cpu-load 50 --vm 2 --vm-bytes 33554432b --vm-keep --timeout 30s"
        );
        let p = params("service = \"s\"\nmemory = { percent = 50 }");
        assert!(arguments(&p, None).unwrap_err().contains("has none"));
        assert_eq!(
            arguments(&p, Some(128 << 20)).unwrap().join(" "),
            "--vm 1 --vm-bytes 67108864b --vm-keep"
        );
    }
}
