//! Moving a process into another process's control groups, from the host, so that what it
//! uses counts against the other's limits: `docker.stress` puts its load generator inside the
//! target container's own budget this way.
//!
//! The groups are read from `/proc/<pid>/cgroup` and found where they are mounted through
//! `/proc/self/mountinfo`, so one path serves cgroup v1 (one hierarchy per controller), v2
//! (one unified hierarchy) and the hybrid of both, under Docker's cgroupfs driver
//! (`/docker/<id>`) as under its systemd driver (`system.slice/docker-<id>.scope`). Docker's
//! own way, a helper container with `CgroupParent` set to the target's group, works only for
//! cgroup v1 with the cgroupfs driver: systemd nests no scope under a scope, and cgroup v2
//! forbids a child group with controllers under a group that has processes.
//!
//! Writing `cgroup.procs` takes root on the engine's host (see
//! [`crate::clients::netns::require_local_root`]). Where the kernel refuses the move (a v2
//! group whose container made child groups of its own), the error says so.

use std::path::{Path, PathBuf};

/// One line of `/proc/<pid>/cgroup`: a hierarchy (its controllers, `""` for v2) and the
/// process's group in it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Membership {
    controllers: String,
    path: String,
}

/// A mounted cgroup hierarchy, from `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    /// The group mounted (`/` on the host, deeper inside a container).
    root: String,
    point: PathBuf,
    /// v1: the controllers (`cpu`, `name=systemd`); v2: none.
    options: Vec<String>,
    v2: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// The move is impossible here: not root, groups not mounted, a kernel rule.
    #[error("{0}")]
    Refused(String),
    /// The process is gone.
    #[error("process {0} is gone")]
    Gone(i64),
}

fn memberships(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            Some(Membership {
                controllers: controllers.to_string(),
                path: path.to_string(),
            })
        })
        .collect()
}

fn mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let before: Vec<&str> = before.split(' ').collect();
            let mut after = after.split(' ');
            let fstype = after.next()?;
            let options = after.nth(1).unwrap_or_default();
            if fstype != "cgroup" && fstype != "cgroup2" {
                return None;
            }
            Some(Mount {
                root: before.get(3)?.to_string(),
                point: PathBuf::from(before.get(4)?),
                options: options.split(',').map(str::to_string).collect(),
                v2: fstype == "cgroup2",
            })
        })
        .collect()
}

impl Membership {
    fn is_v2(&self) -> bool {
        self.controllers.is_empty()
    }

    /// The group's `cgroup.procs` under the mount of its hierarchy, if that is mounted here.
    fn procs_file(&self, mounts: &[Mount]) -> Option<PathBuf> {
        let mount = mounts.iter().find(|m| {
            m.v2 == self.is_v2()
                && (m.v2
                    || self
                        .controllers
                        .split(',')
                        .all(|c| m.options.iter().any(|o| o == c)))
        })?;
        let below = if mount.root == "/" {
            self.path.as_str()
        } else {
            self.path.strip_prefix(&mount.root)?
        };
        Some(
            mount
                .point
                .join(below.trim_start_matches('/'))
                .join("cgroup.procs"),
        )
    }
}

fn read(path: &Path, pid: i64) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CgroupError::Gone(pid),
        _ => CgroupError::Refused(format!("cannot read {}: {e}", path.display())),
    })
}

/// The groups of `pid` (a process on this machine), as `/proc` shows them.
fn groups_of(pid: i64) -> Result<Vec<Membership>, CgroupError> {
    Ok(memberships(&read(
        Path::new(&format!("/proc/{pid}/cgroup")),
        pid,
    )?))
}

/// Whether the machine runs cgroup v2 only, as `pid`'s groups show: `"v2"`, else `"v1"`
/// (v1 or the hybrid of both, whose controllers are v1's).
pub fn version_of(pid: i64) -> Result<&'static str, CgroupError> {
    let groups = groups_of(pid)?;
    Ok(match groups.iter().all(Membership::is_v2) {
        true => "v2",
        false => "v1",
    })
}

/// Moves process `pid` into every group of process `into`, in every hierarchy mounted here.
pub fn join(pid: i64, into: i64) -> Result<(), CgroupError> {
    let mounts = mounts(&read(Path::new("/proc/self/mountinfo"), into)?);
    let groups = groups_of(into)?;
    let files: Vec<PathBuf> = groups
        .iter()
        .filter_map(|g| g.procs_file(&mounts))
        .collect();
    if files.is_empty() {
        return Err(CgroupError::Refused(format!(
            "the control groups of process {into} are not mounted on this machine (looked for them through /proc/self/mountinfo)"
        )));
    }
    for file in files {
        std::fs::write(&file, pid.to_string()).map_err(|e| refused(&file, pid, e))?;
    }
    Ok(())
}

/// Why the kernel refused to move `pid` into the group of `file`.
fn refused(file: &Path, pid: i64, e: std::io::Error) -> CgroupError {
    let why = match e.raw_os_error() {
        // EBUSY, EPERM/EACCES, ESRCH.
        Some(16) => {
            " (cgroup v2 allows processes only in groups without child groups: this container made groups of its own inside its group)"
        }
        Some(1 | 13) => " (writing cgroup.procs takes root on the engine's host)",
        Some(3) => return CgroupError::Gone(pid),
        _ => "",
    };
    CgroupError::Refused(format!(
        "cannot move process {pid} into {}: {e}{why}",
        file.display()
    ))
}

/// Whether processes `a` and `b` are in the same groups (`None` when one is gone).
pub fn same_groups(a: i64, b: i64) -> Option<bool> {
    Some(groups_of(a).ok()? == groups_of(b).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn each_hierarchy_is_found_where_it_is_mounted() {
        let mounts = mounts(MOUNTINFO);
        assert_eq!(mounts.len(), 4, "tmpfs is not a hierarchy");
        let groups = memberships(
            "9:name=systemd:/docker/abc\n4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n0::/docker/abc\n",
        );
        let files: Vec<String> = groups
            .iter()
            .map(|g| g.procs_file(&mounts).unwrap().display().to_string())
            .collect();
        assert_eq!(
            files,
            [
                "/sys/fs/cgroup/systemd/docker/abc/cgroup.procs",
                "/sys/fs/cgroup/memory/docker/abc/cgroup.procs",
                "/sys/fs/cgroup/cpu,cpuacct/docker/abc/cgroup.procs",
                "/sys/fs/cgroup/unified/docker/abc/cgroup.procs",
            ]
        );
    }

    #[test]
    fn cgroup_v2_under_systemd_and_a_mount_of_a_subgroup() {
        let v2 = mounts("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        let group = &memberships("0::/system.slice/docker-abc.scope\n")[0];
        assert_eq!(
            group.procs_file(&v2).unwrap(),
            Path::new("/sys/fs/cgroup/system.slice/docker-abc.scope/cgroup.procs")
        );
        let inner = mounts("30 23 0:26 /system.slice /cg rw - cgroup2 cgroup2 rw\n");
        assert_eq!(
            group.procs_file(&inner).unwrap(),
            Path::new("/cg/docker-abc.scope/cgroup.procs")
        );
        let elsewhere = &memberships("0::/user.slice/x\n")[0];
        assert_eq!(elsewhere.procs_file(&inner), None);
        assert_eq!(memberships("1:cpu:/a\n")[0].procs_file(&v2), None);
    }
}
