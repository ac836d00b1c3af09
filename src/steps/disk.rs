//! `disk.fill`: fill a filesystem inside containers until only so much is free, from the host
//! through the container's root (see [`crate::clients::disk`]): nothing is needed in the image,
//! a local engine and root are. The filler is one file, allocated without writing its data
//! where the filesystem allows (fallocate), so filling gigabytes takes milliseconds; its undo
//! removes it. A filesystem that shares the host's disk (the container's root filesystem, a
//! plain named volume) is refused: fill a tmpfs or a size-limited volume instead.

use std::path::{Component, Path};
use std::str::FromStr;

use serde_json::{Value, json};

use super::select::{self, hit_output, hit_outputs, select, selector_params};
use super::undo::Undo;
use super::{Effect, OutOfBounds, StepDoc};
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
    fn what_to_leave_is_bytes_or_a_share_of_the_size() {
        assert_eq!(Leave::Percent(10.0).bytes(1000), 100);
        assert_eq!(Leave::Bytes(7).bytes(1000), 7);
        assert!(needed("c", "/d", 5, 5, 100).is_err());
        assert!(needed("c", "/d", 500, 5, 100).is_err());
        assert_eq!(needed("c", "/d", 50, 5, 100).unwrap(), 45);
    }
}
