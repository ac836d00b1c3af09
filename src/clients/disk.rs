//! Filesystems inside containers, reached from the engine's host through the container's main
//! process (`/proc/<pid>/root`): `disk.fill` needs nothing in the image (the subjects' images
//! are `FROM scratch`), but, like the network and process faults, a local engine and root.
//!
//! A filesystem whose filling would fill the host's own disk is refused (see
//! [`refuse_shared`]): a user who fills "etcd's disk" expects etcd to run out of space, not
//! the engine, the other containers and the CI machine with it.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use rustix::io::Errno;

use crate::clients::docker::{DockerClient, DockerError};
use crate::clients::netns::{self, NetnsError};

/// Space on a filesystem, in bytes, as `df` shows it: `free` is what an unprivileged writer
/// may still use (`Avail`), which leaves out the blocks ext4 reserves for root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    pub size: u64,
    pub free: u64,
}

/// The space on the filesystem holding `path` (statvfs).
pub fn space(path: &Path) -> Result<Space, NetnsError> {
    let s = rustix::fs::statvfs(path).map_err(|e| {
        NetnsError::Failed(format!(
            "cannot read the free space of {}: {e}",
            path.display()
        ))
    })?;
    Ok(Space {
        size: s.f_blocks * s.f_frsize,
        free: s.f_bavail * s.f_frsize,
    })
}

/// A byte count for people: `"12.5 MiB"`.
pub fn human(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let (mut value, mut unit) = (bytes as f64, 0);
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} B"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

/// A mount as `/proc/<pid>/mountinfo` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The filesystem's device, `major:minor` (the same in every mount namespace).
    pub dev: String,
    /// The directory of the filesystem mounted there (`/` unless it is a bind mount).
    pub root: String,
    /// Where it is mounted, as the process sees it.
    pub point: String,
    /// The filesystem type: `tmpfs`, `ext4`, `overlay`…
    pub fstype: String,
    /// What is mounted: a device (`/dev/vda`), or a name (`tmpfs`, `overlay`).
    pub source: String,
}

/// The mount holding `path` among those of a mountinfo: the last of the longest mount points
/// that contain it (a later mount on the same point hides an earlier one).
pub(crate) fn mount_of(mountinfo: &str, path: &Path) -> Option<Mount> {
    let mut best: Option<Mount> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-").filter(|d| *d >= 5) else {
            continue;
        };
        let (Some(point), Some(fstype), Some(source)) =
            (fields.get(4), fields.get(dash + 1), fields.get(dash + 2))
        else {
            continue;
        };
        let point = unescape(point);
        if path.starts_with(&point) && best.as_ref().is_none_or(|b| point.len() >= b.point.len()) {
            best = Some(Mount {
                dev: fields[2].to_string(),
                root: unescape(fields[3]),
                point,
                fstype: fstype.to_string(),
                source: unescape(source),
            });
        }
    }
    best
}

/// Undoes mountinfo's octal escapes (`\040` is a space).
fn unescape(field: &str) -> String {
    let mut out = Vec::with_capacity(field.len());
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `path` (absolute, as the container sees it) under `root` (a container's root seen from the
/// host), refusing a symlink on the way: its target would be resolved against the host's
/// root, not the container's. Components that do not exist are not checked.
fn under_root(root: &Path, path: &str) -> Result<PathBuf, NetnsError> {
    let mut host = root.to_path_buf();
    for part in Path::new(path).components() {
        match part {
            Component::Normal(name) => host.push(name),
            Component::RootDir | Component::CurDir => continue,
            Component::ParentDir | Component::Prefix(_) => {
                return Err(NetnsError::Failed(format!(
                    "`{path}` must be an absolute path without `..`"
                )));
            }
        }
        if std::fs::symlink_metadata(&host).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(NetnsError::Failed(format!(
                "{} is a symlink in the container: give the path it points to",
                host.strip_prefix(root).unwrap_or(&host).display()
            )));
        }
    }
    Ok(host)
}

/// The root filesystem of a running container, seen from the host (`/proc/<pid>/root`), with
/// its main process; `None` when it is not running (or gone).
async fn root_of(
    docker: &DockerClient,
    container: &str,
) -> Result<Option<(PathBuf, i64)>, NetnsError> {
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
    let root = PathBuf::from(format!("/proc/{}/root", state.pid));
    Ok(Some((root, state.pid)))
}

/// A directory of a running container, seen from the host.
#[derive(Debug, Clone)]
pub struct Dir {
    /// The directory from the host: `/proc/<pid>/root/<path>`.
    pub host: PathBuf,
    /// The mount holding it, as the container sees it.
    pub mount: Mount,
}

/// Directory `path` of running container `container`.
pub async fn locate(docker: &DockerClient, container: &str, path: &str) -> Result<Dir, NetnsError> {
    let Some((root, pid)) = root_of(docker, container).await? else {
        return Err(NetnsError::Failed(format!(
            "{container} is not running, so none of its filesystems can be filled"
        )));
    };
    let host = under_root(&root, path)?;
    if !host.is_dir() {
        return Err(NetnsError::Failed(format!(
            "{container} has no directory `{path}`"
        )));
    }
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .map_err(|e| NetnsError::Failed(format!("cannot read the mounts of {container}: {e}")))?;
    let mount = mount_of(&mountinfo, Path::new(path))
        .ok_or_else(|| NetnsError::Failed(format!("no mount of {container} holds `{path}`")))?;
    Ok(Dir { host, mount })
}

/// Refuses a filesystem that shares the disk of the engine's host: the container's root
/// filesystem (an overlay whose writable layer is in the engine's data root), and any
/// filesystem that is the host's root or holds the engine's data root (a named volume without
/// options, a bind mount of a host directory). Compared by device number, and by block device
/// too, since btrfs gives each subvolume a device number of its own.
pub fn refuse_shared(
    container: &str,
    path: &str,
    dir: &Dir,
    data_root: &str,
) -> Result<(), NetnsError> {
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let shared = dir.mount.point == "/"
        || dir.mount.fstype == "overlay"
        || ["/", data_root].iter().any(|host| {
            mount_of(&host_mounts, Path::new(host)).is_some_and(|m| {
                m.dev == dir.mount.dev
                    || (m.source.starts_with("/dev/") && m.source == dir.mount.source)
            })
        });
    if !shared {
        return Ok(());
    }
    Err(NetnsError::Failed(format!(
        "`{path}` in {container} is on {} ({} {}), which shares the disk of the engine's host: filling it would fill the host's disk and every container's. Mount a tmpfs or a size-limited volume at `{path}` (docs/playbook.md, \"Disk faults\")",
        if dir.mount.point == "/" {
            "the container's root filesystem".to_string()
        } else {
            format!("the mount at {}", dir.mount.point)
        },
        dir.mount.fstype,
        dir.mount.source
    )))
}

/// The filler file `disk.fill` creates in `dir`: hidden, named for chaosplay and unique, so
/// it is recognisable and never an existing file.
pub fn filler_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(".chaosplay-fill-{}-{nanos}", std::process::id())
}

/// How many times [`fill`] tops the filler up: the filesystem's own metadata grows with the
/// file, so the first allocation rarely lands exactly.
const TOP_UPS: usize = 3;

/// Creates `file` (which must not exist) and allocates to it until `dir`'s filesystem has
/// `leave` bytes free or less, or is full. Blocking file-system calls, run off the runtime.
pub async fn fill(dir: PathBuf, file: PathBuf, leave: u64) -> Result<(), NetnsError> {
    tokio::task::spawn_blocking(move || {
        let failed =
            |e: std::io::Error| NetnsError::Failed(format!("cannot fill {}: {e}", file.display()));
        let mut f = std::fs::File::create_new(&file).map_err(failed)?;
        for _ in 0..TOP_UPS {
            let free = space(&dir)?.free;
            if free <= leave {
                break;
            }
            let offset = f.metadata().map_err(failed)?.len();
            if !allocate(&mut f, offset, free - leave).map_err(failed)? {
                break;
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| NetnsError::Failed(format!("the fill did not finish: {e}")))?
}

/// Allocates `len` bytes at `offset` of `f`: with fallocate(2) where the filesystem can (no
/// data written, so gigabytes take milliseconds), else by writing zeros. `false` once the
/// filesystem is full.
fn allocate(f: &mut std::fs::File, offset: u64, len: u64) -> std::io::Result<bool> {
    match rustix::fs::fallocate(&*f, rustix::fs::FallocateFlags::empty(), offset, len) {
        Ok(()) => Ok(true),
        Err(Errno::NOSPC) => Ok(false),
        Err(Errno::OPNOTSUPP) => write_zeros(f, len),
        Err(e) => Err(e.into()),
    }
}

fn write_zeros(f: &mut std::fs::File, len: u64) -> std::io::Result<bool> {
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
        match f.write_all(&zeros[..n]) {
            Ok(()) => left -= n as u64,
            Err(e) if e.raw_os_error() == Some(Errno::NOSPC.raw_os_error()) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    f.sync_all()?;
    Ok(true)
}

/// Where a filler is, and whether it can be reached now.
pub enum Reach {
    /// Through this path on the host.
    At(PathBuf),
    /// Nowhere: its container is not running, and its filesystem is not mounted on the host
    /// (a tmpfs is then gone, with the filler).
    Nowhere,
}

/// Where `file` (a path in the container, under `dir`) is in its filesystem: what the undo
/// looks for on the host when the container is down.
pub fn in_filesystem(dir: &Dir, file: &str) -> String {
    let inside = Path::new(file)
        .strip_prefix(&dir.mount.point)
        .unwrap_or(Path::new(""));
    Path::new(&dir.mount.root)
        .join(inside)
        .display()
        .to_string()
}

/// Reaches file `file` (a path in the container) of `container`: through the container's
/// root while it runs, else through a mount on the host of its filesystem (`dev`, with the
/// file at `in_fs` in it): a bind-mounted host directory, a volume another container still
/// uses.
pub async fn reach(
    docker: &DockerClient,
    container: &str,
    file: &str,
    dev: &str,
    in_fs: &str,
) -> Result<Reach, NetnsError> {
    if let Some((root, _)) = root_of(docker, container).await? {
        return Ok(Reach::At(under_root(&root, file)?));
    }
    let host_mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let on_host = host_mounts.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let (root, point) = (unescape(fields.get(3)?), unescape(fields.get(4)?));
        let inside = Path::new(in_fs).strip_prefix(&root).ok()?;
        (fields.get(2) == Some(&dev)).then(|| Path::new(&point).join(inside))
    });
    Ok(on_host.map_or(Reach::Nowhere, Reach::At))
}

/// Removes a filler; `false` if it was not there.
pub fn remove(file: &Path) -> Result<bool, NetnsError> {
    match std::fs::remove_file(file) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(NetnsError::Failed(format!(
            "cannot remove {}: {e}",
            file.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
600 500 0:55 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/x
601 600 0:60 / /proc rw - proc proc rw
602 600 254:0 /var/lib/docker/volumes/v/_data /var/lib/etcd rw,relatime master:2 - ext4 /dev/vda rw
603 602 0:70 / /var/lib/etcd/data rw - tmpfs tmpfs rw,size=65536k
604 600 0:71 / /with\\040space rw - tmpfs tmpfs rw";

    #[test]
    fn the_deepest_mount_holding_a_path_is_its_filesystem() {
        let of = |p: &str| mount_of(MOUNTINFO, Path::new(p)).unwrap();
        assert_eq!(of("/var/lib/etcd/data/member").fstype, "tmpfs");
        assert_eq!(of("/var/lib/etcd").source, "/dev/vda");
        assert_eq!(of("/var/lib/etcdx").fstype, "overlay");
        assert_eq!(of("/with space/x").point, "/with space");
    }

    #[test]
    fn a_symlink_in_the_path_is_refused() {
        let scratch = crate::test_support::TempDir::new();
        let root = scratch.0.as_path();
        std::fs::create_dir(root.join("real")).unwrap();
        std::os::unix::fs::symlink("/", root.join("link")).unwrap();
        assert_eq!(under_root(root, "/real/x").unwrap(), root.join("real/x"));
        assert!(under_root(root, "/link/etc").is_err());
        assert!(under_root(root, "/real/../link").is_err());
    }

    #[test]
    fn sizes_read_like_df() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 19), "1.5 MiB");
    }
}
