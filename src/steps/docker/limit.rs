//! `docker.limit`: starve containers of CPU, memory or processes by changing their limits
//! through the Engine API (what `docker update` does), and put the limits read before back at
//! cleanup. See [`crate::clients::limits`] for the values Docker ignores and how a limit is
//! really lifted.

use std::str::FromStr;

use serde_json::{Value, json};

use crate::clients::limits::Wanted;
use crate::clients::pd::ByteSize;
use crate::engine::{StepContext, StepError};
use crate::steps::select::{self, hit_output, hit_outputs, select, selector_params};
use crate::steps::undo::Undo;
use crate::steps::{Effect, OutOfBounds, StepDoc};

/// Docker's smallest memory limit ("Minimum memory limit allowed is 6MB").
const MIN_MEMORY: i64 = 6 << 20;

/// Docker's smallest CPU limit: a CFS quota of 1 ms per 100 ms period.
const MIN_CPUS: f64 = 0.01;

selector_params! {
    pick = "select::pick_random";
    bounds = limit_bounds;
    pub struct LimitParams {
        /// CPUs the containers may use, e.g. `0.5` (at least 0.01). Set as a CFS quota, as
        /// `docker update --cpus` does.
        #[serde(default)]
        pub cpus: Option<f64>,
        /// Memory the containers may use, in Docker's units (`"256m"`, `"1g"`: binary), at
        /// least `"6m"`.
        #[serde(default)]
        pub memory: Option<String>,
        /// Memory plus swap, like `--memory-swap`; at least `memory`. By default equal to
        /// `memory`: no swap, so the limit bites.
        #[serde(default)]
        pub memory_swap: Option<String>,
        /// Most processes and threads the containers may run (at least 1).
        #[serde(default)]
        pub pids: Option<i64>,
    }
}

pub const DOC: StepDoc = StepDoc {
    summary: "Limit containers' CPU, memory (and swap) or process count through the Engine API's update, checking Docker applied them. Undo: put back the limits read before.",
    outputs: hit_outputs!((
        "limits",
        "each {container, before, after}: the limits as the kernel applies them (null: none)"
    )),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "put back the limits the containers had before (lifting a limit they did not have), and check the engine reports them",
    },
    example: "id = \"starve\"\nuses = \"docker.limit\"\nwith = { service = \"etcd0\", cpus = 0.05, memory = \"64m\" }",
};

/// The limits asked for, or what is wrong with them, by key.
fn wanted(p: &LimitParams) -> Result<Wanted, OutOfBounds> {
    let memory = memory(p)?;
    if p.cpus.is_none() && memory.is_none() && p.pids.is_none() {
        return Err(OutOfBounds::new(
            "cpus",
            "give at least one of `cpus`, `memory` and `pids`",
        ));
    }
    if let Some(cpus) = p.cpus
        && !(cpus.is_finite() && cpus >= MIN_CPUS)
    {
        return Err(OutOfBounds::new(
            "cpus",
            format!(
                "`cpus` must be at least {MIN_CPUS} (a quota of 1 ms per 100 ms), not {cpus}: Docker takes 0 as \"no change\" and refuses less"
            ),
        ));
    }
    if let Some(pids) = p.pids
        && pids < 1
    {
        return Err(OutOfBounds::new(
            "pids",
            format!("`pids` must be at least 1, not {pids}: Docker takes 0 and -1 as no limit"),
        ));
    }
    Ok(Wanted {
        cpus: p.cpus,
        memory,
        pids: p.pids,
    })
}

/// Memory, and memory plus swap, in bytes.
fn memory(p: &LimitParams) -> Result<Option<(i64, i64)>, OutOfBounds> {
    let Some(text) = &p.memory else {
        return match p.memory_swap {
            Some(_) => Err(OutOfBounds::new(
                "memory_swap",
                "`memory_swap` needs `memory`",
            )),
            None => Ok(None),
        };
    };
    let memory = bytes("memory", text)?;
    if memory < MIN_MEMORY {
        return Err(OutOfBounds::new(
            "memory",
            format!("`memory` = \"{text}\" is below Docker's minimum of 6 MiB (\"6m\")"),
        ));
    }
    let swap = match &p.memory_swap {
        Some(text) => bytes("memory_swap", text)?,
        None => memory,
    };
    if swap < memory {
        return Err(OutOfBounds::new(
            "memory_swap",
            format!(
                "`memory_swap` is memory plus swap, so it must be at least `memory` (\"{text}\")"
            ),
        ));
    }
    Ok(Some((memory, swap)))
}

fn bytes(field: &'static str, text: &str) -> Result<i64, OutOfBounds> {
    let size = ByteSize::from_str(text)
        .map_err(|e| OutOfBounds::new(field, format!("`{field}`: {e} (e.g. \"256m\", \"1g\")")))?;
    i64::try_from(size.bytes())
        .map_err(|_| OutOfBounds::new(field, format!("`{field}` = \"{text}\" is too large")))
}

fn limit_bounds(p: &LimitParams) -> Vec<OutOfBounds> {
    wanted(p).err().into_iter().collect()
}

pub async fn run(p: LimitParams, cx: &StepContext) -> Result<Value, StepError> {
    let wanted = wanted(&p).map_err(|e| StepError::Params(e.message))?;
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    let mut limits = Vec::new();
    for c in &hit {
        let before = docker.limits(&c.name).await?;
        cx.register_undo(Undo::Limits {
            container: c.name.clone(),
            before,
            kinds: wanted.kinds(),
        })?;
        cx.status(format!("limiting {}", c.name));
        let (api, name, update) = (docker.clone(), c.name.clone(), before.apply(&wanted));
        cx.apply_fault(async move { Ok(api.update_limits(&name, update).await?) })
            .await?;
        let after = docker.limits(&c.name).await?;
        if let Some(off) = wanted.expected(&before).differs(&after, wanted.kinds()) {
            return Err(StepError::Failed(format!(
                "the engine did not apply the limits to {}: {off}",
                c.name
            )));
        }
        limits.push(
            json!({"container": c.name, "before": before.effective(), "after": after.effective()}),
        );
    }
    let mut out = hit_output(&hit);
    out["limits"] = json!(limits);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(with: &str) -> Vec<(&'static str, String)> {
        let (table, _) = toml::de::DeTable::parse_recoverable(with);
        let node = crate::playbook::node::Node::from_table(&table).unwrap();
        let p: LimitParams = crate::playbook::check::check(&node).unwrap();
        limit_bounds(&p)
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn values_docker_ignores_or_refuses_are_refused_with_the_reason() {
        let cpus = refused("service = \"s\"\ncpus = 0");
        assert_eq!(cpus[0].0, "cpus");
        assert!(cpus[0].1.contains("takes 0 as \"no change\""), "{cpus:?}");
        assert_eq!(refused("service = \"s\"\nmemory = \"5m\"")[0].0, "memory");
        assert_eq!(
            refused("service = \"s\"\nmemory = \"64m\"\nmemory_swap = \"32m\"")[0].0,
            "memory_swap"
        );
        assert_eq!(
            refused("service = \"s\"\nmemory_swap = \"64m\"")[0].0,
            "memory_swap"
        );
        assert_eq!(refused("service = \"s\"\npids = 0")[0].0, "pids");
        assert!(refused("service = \"s\"")[0].1.contains("at least one of"));
        assert!(
            refused("service = \"s\"\nmemory = \"lots\"")[0]
                .1
                .contains("e.g. \"256m\"")
        );
        assert!(refused("service = \"s\"\ncpus = 0.01\nmemory = \"6m\"\npids = 1").is_empty());
    }

    #[test]
    fn swap_defaults_to_none_beyond_memory() {
        let (table, _) = toml::de::DeTable::parse_recoverable("service = \"s\"\nmemory = \"64m\"");
        let node = crate::playbook::node::Node::from_table(&table).unwrap();
        let p: LimitParams = crate::playbook::check::check(&node).unwrap();
        assert_eq!(wanted(&p).unwrap().memory, Some((64 << 20, 64 << 20)));
    }
}
