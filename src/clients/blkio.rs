//! A container's disk I/O throttle, written in its control group from the host: Docker 20.10
//! takes `BlkioDeviceReadBps` and the like only at create time, and its container update
//! accepts them and silently does nothing (measured: API 1.41 answers 200 with no warning,
//! and neither the configuration nor the cgroup changes). Needs a local engine and root.
//!
//! cgroup v1: one file per rate (`blkio.throttle.read_bps_device`…), one `MAJ:MIN value` line
//! per device, `0` removing it. cgroup v2: `io.max`, `MAJ:MIN rbps=… wbps=… riops=… wiops=…`,
//! `max` lifting a rate; it exists only where the `io` controller is enabled for containers.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clients::docker::{DockerClient, DockerError};
use crate::clients::netns::{self, NetnsError};

/// Throttle rates on one device, `None` for no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    pub read_bps: Option<u64>,
    pub write_bps: Option<u64>,
    pub read_iops: Option<u64>,
    pub write_iops: Option<u64>,
}

impl Rates {
    /// `self` with the rates `wanted` sets.
    pub fn with(self, wanted: Rates) -> Rates {
        Rates {
            read_bps: wanted.read_bps.or(self.read_bps),
            write_bps: wanted.write_bps.or(self.write_bps),
            read_iops: wanted.read_iops.or(self.read_iops),
            write_iops: wanted.write_iops.or(self.write_iops),
        }
    }

    /// The rates, with their names in cgroup v1's files and in v2's `io.max`.
    fn named(self) -> [(&'static str, &'static str, Option<u64>); 4] {
        [
            ("read_bps", "rbps", self.read_bps),
            ("write_bps", "wbps", self.write_bps),
            ("read_iops", "riops", self.read_iops),
            ("write_iops", "wiops", self.write_iops),
        ]
    }
}

/// A container's control group directory on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroup {
    V1(PathBuf),
    V2(PathBuf),
}

const ROOT: &str = "/sys/fs/cgroup";

/// The control group directory of `pid` from its `/proc/<pid>/cgroup`: the `blkio` hierarchy
/// under cgroup v1, the unified one under v2.
fn cgroup_of(proc_cgroup: &str, unified: bool) -> Option<Cgroup> {
    proc_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = path.trim_start_matches('/');
        match unified {
            true if controllers.is_empty() => Some(Cgroup::V2(Path::new(ROOT).join(path))),
            false if controllers.split(',').any(|c| c == "blkio") => {
                Some(Cgroup::V1(Path::new(ROOT).join("blkio").join(path)))
            }
            _ => None,
        }
    })
}

/// The control group of running container `container`; `None` when it is not running (or
/// gone): its group went with it, and a restarted container gets a fresh one.
pub async fn cgroup(docker: &DockerClient, container: &str) -> Result<Option<Cgroup>, NetnsError> {
    netns::require_local_root(docker.host())?;
    let state = match docker.network_state(container).await {
        Ok(state) => state,
        Err(DockerError::NoSuchContainer(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if state.pid <= 0 {
        return Ok(None);
    }
    if netns::in_container(&state.id, state.pid) != Some(true) {
        return Err(netns::not_here(container, state.pid));
    }
    let unified = Path::new(ROOT).join("cgroup.controllers").exists();
    let text = std::fs::read_to_string(format!("/proc/{}/cgroup", state.pid)).unwrap_or_default();
    let group = cgroup_of(&text, unified).filter(|g| match g {
        Cgroup::V1(dir) => dir.join("blkio.throttle.read_bps_device").exists(),
        Cgroup::V2(dir) => dir.join("io.max").exists(),
    });
    match group {
        Some(group) => Ok(Some(group)),
        None if unified => Err(NetnsError::Environment(format!(
            "the kernel cannot throttle {container}'s disk I/O: cgroup v2 without the `io` controller for its group (no io.max); enable it in the parent's cgroup.subtree_control"
        ))),
        None => Err(NetnsError::Environment(format!(
            "the kernel cannot throttle {container}'s disk I/O: no blkio throttle files in its cgroup (is the blkio controller mounted at {ROOT}/blkio?)"
        ))),
    }
}

/// The rates set on `device` (`MAJ:MIN`) in `group`.
pub fn read(group: &Cgroup, device: &str) -> Result<Rates, NetnsError> {
    let unreadable = |file: &Path, e: std::io::Error| {
        NetnsError::Failed(format!("cannot read {}: {e}", file.display()))
    };
    let mut rates = Rates::default();
    match group {
        Cgroup::V1(dir) => {
            for (name, _, _) in Rates::default().named() {
                let file = dir.join(format!("blkio.throttle.{name}_device"));
                let text = std::fs::read_to_string(&file).map_err(|e| unreadable(&file, e))?;
                let value = text.lines().find_map(|l| {
                    let (dev, value) = l.split_once(' ')?;
                    (dev == device).then(|| value.trim().parse().ok())?
                });
                set(&mut rates, name, value);
            }
        }
        Cgroup::V2(dir) => {
            let file = dir.join("io.max");
            let text = std::fs::read_to_string(&file).map_err(|e| unreadable(&file, e))?;
            let line = text.lines().find(|l| l.split(' ').next() == Some(device));
            for (name, key) in Rates::default().named().map(|(n, k, _)| (n, k)) {
                let value = line.and_then(|l| {
                    l.split(' ')
                        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                        .and_then(|v| v.parse().ok())
                });
                set(&mut rates, name, value);
            }
        }
    }
    Ok(rates)
}

fn set(rates: &mut Rates, name: &str, value: Option<u64>) {
    let slot = match name {
        "read_bps" => &mut rates.read_bps,
        "write_bps" => &mut rates.write_bps,
        "read_iops" => &mut rates.read_iops,
        _ => &mut rates.write_iops,
    };
    *slot = value.filter(|v| *v > 0);
}

/// Sets every rate of `rates` on `device` in `group`, lifting those that are `None`.
pub fn write(group: &Cgroup, device: &str, rates: Rates) -> Result<(), NetnsError> {
    let write = |file: PathBuf, line: String| {
        std::fs::write(&file, &line).map_err(|e| {
            NetnsError::Failed(format!(
                "the kernel refused `{line}` in {}: {e}",
                file.display()
            ))
        })
    };
    match group {
        Cgroup::V1(dir) => rates.named().into_iter().try_for_each(|(name, _, value)| {
            let file = dir.join(format!("blkio.throttle.{name}_device"));
            write(file, format!("{device} {}", value.unwrap_or(0)))
        }),
        Cgroup::V2(dir) => {
            let settings: Vec<String> = rates
                .named()
                .iter()
                .map(|(_, key, value)| match value {
                    Some(v) => format!("{key}={v}"),
                    None => format!("{key}=max"),
                })
                .collect();
            write(
                dir.join("io.max"),
                format!("{device} {}", settings.join(" ")),
            )
        }
    }
}

/// The whole disk (`MAJ:MIN`) of block device `path` on the host: the kernel throttles disks,
/// not partitions, so a partition stands for its disk.
pub fn disk_of(path: &Path) -> Result<String, NetnsError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(path)
        .ok()
        .filter(|m| m.file_type().is_block_device())
        .ok_or_else(|| NetnsError::Failed(format!("{} is not a block device", path.display())))?;
    let rdev = meta.rdev();
    let device = format!("{}:{}", rustix::fs::major(rdev), rustix::fs::minor(rdev));
    let sys = PathBuf::from(format!("/sys/dev/block/{device}"));
    if sys.join("partition").exists()
        && let Ok(parent) = std::fs::read_to_string(sys.join("../dev"))
    {
        return Ok(parent.trim().to_string());
    }
    Ok(device)
}

/// The block device holding `dir` on the host (from the host's mounts), or why there is none:
/// an overlay, a tmpfs or a network filesystem has no disk to throttle.
pub fn device_under(dir: &str) -> Result<PathBuf, NetnsError> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mount = crate::clients::disk::mount_of(&mounts, Path::new(dir))
        .ok_or_else(|| NetnsError::Failed(format!("no mount holds {dir} on this host")))?;
    if !mount.source.starts_with("/dev/") {
        return Err(NetnsError::Failed(format!(
            "{dir} is on {} ({}), not on a block device the kernel can throttle: give `device`",
            mount.source, mount.fstype
        )));
    }
    Ok(PathBuf::from(mount.source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_is_the_blkio_one_under_v1_and_the_unified_one_under_v2() {
        let v1 = "12:pids:/docker/abc\n7:blkio:/docker/abc\n1:name=systemd:/docker/abc\n";
        assert_eq!(
            cgroup_of(v1, false),
            Some(Cgroup::V1(PathBuf::from("/sys/fs/cgroup/blkio/docker/abc")))
        );
        let v2 = "0::/system.slice/docker-abc.scope\n";
        assert_eq!(
            cgroup_of(v2, true),
            Some(Cgroup::V2(PathBuf::from(
                "/sys/fs/cgroup/system.slice/docker-abc.scope"
            )))
        );
        assert_eq!(cgroup_of(v2, false), None);
    }

    #[test]
    fn io_max_is_read_by_device_and_max_is_no_limit() {
        let dir = crate::test_support::TempDir::new();
        dir.write(
            "io.max",
            "8:0 rbps=max wbps=1048576 riops=max wiops=100\n254:0 rbps=5 wbps=max riops=max wiops=max\n",
        );
        let rates = read(&Cgroup::V2(dir.0.clone()), "8:0").unwrap();
        assert_eq!(
            rates,
            Rates {
                write_bps: Some(1 << 20),
                write_iops: Some(100),
                ..Rates::default()
            }
        );
        assert_eq!(
            read(&Cgroup::V2(dir.0.clone()), "9:9").unwrap(),
            Rates::default()
        );
    }
}
