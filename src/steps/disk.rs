//! Disk faults. `disk.throttle` slows containers' I/O on a host block device through their
//! control groups (see [`crate::clients::blkio`]).
//!
//! `disk.fill`: fill a filesystem inside containers until only so much is free, from the host
//! through the container's root (see [`crate::clients::disk`]): nothing is needed in the image,
//! a local engine and root are. The filler is one file, allocated without writing its data
//! where the filesystem allows (fallocate), so filling gigabytes takes milliseconds; its undo
//! removes it. A filesystem that shares the host's disk (the container's root filesystem, a
//! plain named volume) is refused: fill a tmpfs or a size-limited volume instead.

use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde_json::{Value, json};

use super::select::{self, hit_output, hit_outputs, select, selector_params};
use super::undo::{Family, Undo};
use super::undo_faults::lift_family;
use super::{Effect, OutOfBounds, StepDoc};
use crate::clients::blkio::{self, Rates};
use crate::clients::disk::{self, human};
use crate::clients::netns;
use crate::clients::pd::ByteSize;
use crate::engine::{StepContext, StepError};

selector_params! {
    pick = "select::pick_random";
    bounds = fill_bounds;
    pub struct FillParams {
        /// The directory whose filesystem is filled, as the container sees it, e.g. etcd's
        /// data volume `"/var/lib/etcd"`. It must be a tmpfs or a volume on a disk of its own
        /// (see "Disk faults" in docs/playbook.md).
        pub path: String,
        /// Bytes to leave free (`"10m"`, `"1g"`: binary units), as `df` shows them
        /// (`Avail`). By default none.
        #[serde(default)]
        pub free: Option<String>,
        /// Or the percentage of the filesystem's size to leave free (0-100).
        #[serde(default)]
        pub free_percent: Option<f64>,
        /// The largest filler allowed: a fill that needs more is refused, so a mistaken path
        /// (a tmpfs as large as half the host's memory) cannot take what the host needs.
        #[serde(default = "one_gib")]
        pub at_most: String,
    }
}

fn one_gib() -> String {
    "1g".into()
}

/// How much to leave free.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Leave {
    Bytes(u64),
    Percent(f64),
}

impl Leave {
    fn bytes(self, size: u64) -> u64 {
        match self {
            Leave::Bytes(bytes) => bytes,
            Leave::Percent(percent) => (size as f64 * percent / 100.0).round() as u64,
        }
    }
}

/// What to leave free and the largest filler, or what is wrong with them, by key.
fn wanted(p: &FillParams) -> Result<(Leave, u64), OutOfBounds> {
    let leave = match (&p.free, p.free_percent) {
        (Some(_), Some(_)) => {
            return Err(OutOfBounds::new(
                "free_percent",
                "give one of `free` (bytes) and `free_percent`, not both",
            ));
        }
        (Some(text), None) => Leave::Bytes(bytes("free", text)?),
        (None, Some(percent)) if (0.0..=100.0).contains(&percent) => Leave::Percent(percent),
        (None, Some(percent)) => {
            return Err(OutOfBounds::new(
                "free_percent",
                format!("`free_percent` must be between 0 and 100, not {percent}"),
            ));
        }
        (None, None) => Leave::Bytes(0),
    };
    Ok((leave, bytes("at_most", &p.at_most)?))
}

fn bytes(field: &'static str, text: &str) -> Result<u64, OutOfBounds> {
    ByteSize::from_str(text)
        .map(ByteSize::bytes)
        .map_err(|e| OutOfBounds::new(field, format!("`{field}`: {e} (e.g. \"10m\", \"1g\")")))
}

/// An absolute path without `..`, and not the root: the root filesystem is never filled.
fn path_bounds(path: &str) -> Option<OutOfBounds> {
    let p = Path::new(path);
    let plain = p.is_absolute() && !p.components().any(|c| c == Component::ParentDir);
    let refuse = |why: &str| {
        Some(OutOfBounds::new(
            "path",
            format!("`path` = \"{path}\" {why}"),
        ))
    };
    if !plain {
        return refuse("must be an absolute path in the container, without `..`");
    }
    if p.components().all(|c| c == Component::RootDir) {
        return refuse(
            "is the container's root filesystem, which shares the host's disk: give the directory of a tmpfs or volume",
        );
    }
    None
}

fn fill_bounds(p: &FillParams) -> Vec<OutOfBounds> {
    let mut broken: Vec<OutOfBounds> = path_bounds(&p.path).into_iter().collect();
    broken.extend(wanted(p).err());
    broken
}

pub const FILL_DOC: StepDoc = StepDoc {
    summary: "Fill the filesystem holding a directory inside containers (a tmpfs or a volume on a disk of its own) until only `free` bytes or `free_percent` are left, with one filler file written from the host: nothing is needed in the image, a local engine and root are. A filesystem sharing the host's disk is refused. Undo: remove the filler.",
    outputs: hit_outputs!((
        "filled",
        "each {container, path, file, fstype, size, free_before, free_after, filler}: sizes in bytes, `file` the filler's path in the container"
    )),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "remove the filler file, and check it is gone and the free space is back (within 5% of the filesystem's size)",
    },
    example: "id = \"full\"\nuses = \"disk.fill\"\nwith = { service = \"etcd0\", path = \"/var/lib/etcd\", free = \"1m\" }",
};

pub async fn fill(p: FillParams, cx: &StepContext) -> Result<Value, StepError> {
    let (leave, at_most) = wanted(&p).map_err(|e| StepError::Params(e.message))?;
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    netns::require_local_root(docker.host())?;
    let data_root = docker.data_root().await?;
    let mut filled = Vec::new();
    for c in &hit {
        let dir = disk::locate(docker, &c.name, &p.path).await?;
        disk::refuse_shared(&c.name, &p.path, &dir, &data_root)?;
        let before = disk::space(&dir.host)?;
        let keep = leave.bytes(before.size);
        let need = needed(&c.name, &p.path, before.free, keep, at_most)?;
        let name = disk::filler_name();
        let file = Path::new(&p.path).join(&name).display().to_string();
        cx.register_undo(Undo::RemoveFiller {
            container: c.name.clone(),
            in_fs: disk::in_filesystem(&dir, &file),
            file: file.clone(),
            dev: dir.mount.dev.clone(),
            tmpfs: dir.mount.fstype == "tmpfs",
            free_before: before.free,
        })?;
        cx.status(format!(
            "filling {} of {} with {}",
            p.path,
            c.name,
            human(need)
        ));
        let (host_dir, host) = (dir.host.clone(), dir.host.join(&name));
        cx.apply_fault(async move { Ok(disk::fill(host_dir, host, keep).await?) })
            .await?;
        let after = disk::space(&dir.host)?;
        let filler = std::fs::metadata(dir.host.join(&name)).map_or(0, |m| m.len());
        filled.push(json!({
            "container": c.name, "path": p.path, "file": file, "fstype": dir.mount.fstype,
            "size": before.size, "free_before": before.free, "free_after": after.free, "filler": filler,
        }));
    }
    let mut out = hit_output(&hit);
    out["filled"] = json!(filled);
    Ok(out)
}

/// The bytes to allocate so that `keep` are left of `free`, or why the fill is refused.
fn needed(
    container: &str,
    path: &str,
    free: u64,
    keep: u64,
    at_most: u64,
) -> Result<u64, StepError> {
    if free <= keep {
        return Err(StepError::Failed(format!(
            "`{path}` in {container} has {} free already, not more than the {} to leave: nothing to fill",
            human(free),
            human(keep)
        )));
    }
    let need = free - keep;
    if need > at_most {
        return Err(StepError::Failed(format!(
            "filling `{path}` in {container} takes {}, more than `at_most` = {}: raise `at_most` if that filesystem is really meant to be filled",
            human(need),
            human(at_most)
        )));
    }
    Ok(need)
}

selector_params! {
    pick = "select::pick_random";
    bounds = throttle_bounds;
    pub struct ThrottleParams {
        /// The block device on the engine's host whose I/O is throttled, e.g. `"/dev/sdb"` (a
        /// partition stands for its disk). By default the disk of Docker's data root, which
        /// holds the containers' layers and their plain volumes.
        #[serde(default)]
        pub device: Option<String>,
        /// Bytes per second the containers may read from it (`"1m"`: binary units).
        #[serde(default)]
        pub read_bps: Option<String>,
        /// Bytes per second they may write to it.
        #[serde(default)]
        pub write_bps: Option<String>,
        /// Read operations per second.
        #[serde(default)]
        pub read_iops: Option<u64>,
        /// Write operations per second.
        #[serde(default)]
        pub write_iops: Option<u64>,
    }
}

/// The rates asked for, or what is wrong with them, by key.
fn rates(p: &ThrottleParams) -> Result<Rates, OutOfBounds> {
    let positive = |field: &'static str, value: Option<u64>| match value {
        Some(0) => Err(OutOfBounds::new(
            field,
            format!("`{field}` must be at least 1: the kernel takes 0 as no limit"),
        )),
        other => Ok(other),
    };
    let bps = |field, text: &Option<String>| {
        let value = text.as_deref().map(|t| bytes(field, t)).transpose()?;
        positive(field, value)
    };
    let rates = Rates {
        read_bps: bps("read_bps", &p.read_bps)?,
        write_bps: bps("write_bps", &p.write_bps)?,
        read_iops: positive("read_iops", p.read_iops)?,
        write_iops: positive("write_iops", p.write_iops)?,
    };
    if rates == Rates::default() {
        return Err(OutOfBounds::new(
            "read_bps",
            "give at least one of `read_bps`, `write_bps`, `read_iops` and `write_iops`",
        ));
    }
    if let Some(device) = &p.device
        && !device.starts_with('/')
    {
        return Err(OutOfBounds::new(
            "device",
            format!(
                "`device` = \"{device}\" must be a path on the engine's host, e.g. \"/dev/sda\""
            ),
        ));
    }
    Ok(rates)
}

fn throttle_bounds(p: &ThrottleParams) -> Vec<OutOfBounds> {
    rates(p).err().into_iter().collect()
}

pub const THROTTLE_DOC: StepDoc = StepDoc {
    summary: "Throttle containers' disk I/O on a block device of the engine's host (read/write bytes or operations per second) in their control groups (cgroup v1 blkio, v2 io.max), from the host: a local engine and root are needed; refused where the kernel cannot throttle. Undo: put back the rates read before.",
    outputs: hit_outputs!((
        "throttled",
        "each {container, device, before, after}: `device` as MAJ:MIN, the rates as the kernel holds them (null: no limit)"
    )),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "put back the rates the containers had on the device before, and check the kernel holds them",
    },
    example: "id = \"slow_disk\"\nuses = \"disk.throttle\"\nwith = { service = \"etcd0\", write_bps = \"1m\", write_iops = 50 }",
};

pub async fn throttle(p: ThrottleParams, cx: &StepContext) -> Result<Value, StepError> {
    let wanted = rates(&p).map_err(|e| StepError::Params(e.message))?;
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    netns::require_local_root(docker.host())?;
    let path = match &p.device {
        Some(device) => PathBuf::from(device),
        None => blkio::device_under(&docker.data_root().await?)?,
    };
    let device = blkio::disk_of(&path)?;
    let mut throttled = Vec::new();
    for c in &hit {
        let group = blkio::cgroup(docker, &c.name).await?.ok_or_else(|| {
            StepError::Failed(format!(
                "{} is not running, so it has no I/O to throttle",
                c.name
            ))
        })?;
        let before = blkio::read(&group, &device)?;
        cx.register_undo(Undo::Throttle {
            container: c.name.clone(),
            device: device.clone(),
            before,
        })?;
        cx.status(format!("throttling {} on {device}", c.name));
        let (target, dev, rates) = (group.clone(), device.clone(), before.with(wanted));
        cx.apply_fault(async move { Ok(blkio::write(&target, &dev, rates)?) })
            .await?;
        let after = blkio::read(&group, &device)?;
        if after != rates {
            return Err(StepError::Failed(format!(
                "the kernel did not apply the throttle to {} on {device}: it holds {after:?}",
                c.name
            )));
        }
        throttled
            .push(json!({"container": c.name, "device": device, "before": before, "after": after}));
    }
    let mut out = hit_output(&hit);
    out["throttled"] = json!(throttled);
    Ok(out)
}

selector_params! {
    pick = "select::pick_all";
    pub struct RestoreParams {}
}

pub const RESTORE_DOC: StepDoc = StepDoc {
    summary: "Reverse the disk faults this run applied to containers (all matches by default), as cleanup would: remove the fillers of disk.fill, put back the rates disk.throttle changed. A container that is down is reached through its filesystem's mount on the host. A background `disk.*` fault step still running is stopped first (status `stopped`), whichever containers it acts on, so it applies nothing more.",
    outputs: hit_outputs!(
        ("restored", "what was reversed, one description each"),
        (
            "stopped",
            "the ids of the background disk fault steps that were still running and were stopped first"
        ),
    ),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::None,
    example: "uses = \"disk.restore\"\nwith = { service = \"etcd0\" }",
};

pub async fn restore(p: RestoreParams, cx: &StepContext) -> Result<Value, StepError> {
    lift_family(cx, &p.selector(), Family::Disk, "restored").await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(with: &str) -> Vec<(&'static str, String)> {
        let (table, _) = toml::de::DeTable::parse_recoverable(with);
        let node = crate::playbook::node::Node::from_table(&table).unwrap();
        let p: FillParams = crate::playbook::check::check(&node).unwrap();
        fill_bounds(&p)
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn paths_and_sizes_are_checked_at_load() {
        assert_eq!(refused("service = \"s\"\npath = \"data\"")[0].0, "path");
        assert_eq!(refused("service = \"s\"\npath = \"/a/../b\"")[0].0, "path");
        assert!(
            refused("service = \"s\"\npath = \"/\"")[0]
                .1
                .contains("root filesystem")
        );
        assert_eq!(
            refused("service = \"s\"\npath = \"/d\"\nfree = \"1m\"\nfree_percent = 5.0")[0].0,
            "free_percent"
        );
        assert_eq!(
            refused("service = \"s\"\npath = \"/d\"\nfree_percent = 101.0")[0].0,
            "free_percent"
        );
        assert_eq!(
            refused("service = \"s\"\npath = \"/d\"\nfree = \"lots\"")[0].0,
            "free"
        );
        assert!(refused("service = \"s\"\npath = \"/var/lib/etcd\"\nfree = \"1m\"").is_empty());
    }

    #[test]
    fn a_throttle_needs_a_rate_the_kernel_does_not_take_as_none() {
        let refused = |with: &str| {
            let (table, _) = toml::de::DeTable::parse_recoverable(with);
            let node = crate::playbook::node::Node::from_table(&table).unwrap();
            let p: ThrottleParams = crate::playbook::check::check(&node).unwrap();
            throttle_bounds(&p)
                .into_iter()
                .map(|e| (e.field, e.message))
                .collect::<Vec<_>>()
        };
        assert!(refused("service = \"s\"")[0].1.contains("at least one of"));
        assert_eq!(
            refused("service = \"s\"\nwrite_iops = 0")[0].0,
            "write_iops"
        );
        assert_eq!(
            refused("service = \"s\"\nread_bps = \"0\"")[0].0,
            "read_bps"
        );
        assert_eq!(
            refused("service = \"s\"\nread_bps = \"fast\"")[0].0,
            "read_bps"
        );
        assert_eq!(
            refused("service = \"s\"\nwrite_bps = \"1m\"\ndevice = \"sda\"")[0].0,
            "device"
        );
        assert!(refused("service = \"s\"\nwrite_bps = \"1m\"\ndevice = \"/dev/sda\"").is_empty());
    }

    #[test]
    fn what_to_leave_is_bytes_or_a_share_of_the_size() {
        assert_eq!(Leave::Percent(10.0).bytes(1000), 100);
        assert_eq!(Leave::Bytes(7).bytes(1000), 7);
        assert!(needed("c", "/d", 5, 5, 100).is_err());
        assert!(needed("c", "/d", 500, 5, 100).is_err());
        assert_eq!(needed("c", "/d", 50, 5, 100).unwrap(), 45);
    }
}
