//! Replacing a file so that it is never seen half written, for the undo ledger and reports.

use std::io::Write as _;
use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};

/// Whether a replacement must also survive a power cut (fsync of the file and its directory, a
/// few milliseconds each): the undo ledger must; a report, which the run can write again, need
/// not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    Durable,
    Atomic,
}

/// How many symbolic links [`destination`] follows, as Linux does, before giving up on a loop.
const MAX_LINKS: usize = 40;

/// What writing to a path must do to it.
#[derive(Debug, PartialEq, Eq)]
enum Destination {
    /// A regular file, or nothing yet: replaced whole by a rename.
    File(PathBuf),
    /// A character device, a FIFO or a process's open file (`/proc/<pid>/fd/<n>`, where
    /// `/dev/stdout` leads): written in place, since a rename would replace the device or link
    /// rather than write to it, and the stream's reader would never see the bytes.
    Stream(PathBuf),
}

/// Writes `bytes` to what `path` names. Symbolic links are followed to their target (a link
/// stays a link; a dangling one gets its target created). A regular file, or a path where
/// nothing is yet, is replaced whole: after a full disk or a killed process (and, with
/// [`Sync::Durable`], a crash of the machine) it holds the old contents or the new ones, never
/// a part. A stream (see [`Destination::Stream`]) is written directly, appending, so a report
/// sent to `/dev/stdout` redirected to a file follows the run's output instead of overwriting
/// it; `sync` does not apply to a stream.
pub fn replace(path: &Path, bytes: &[u8], sync: Sync) -> std::io::Result<()> {
    match destination(path)? {
        Destination::File(file) => replace_file(&file, bytes, sync),
        Destination::Stream(stream) => std::fs::OpenOptions::new()
            .append(true)
            .open(stream)?
            .write_all(bytes),
    }
}

/// Follows the symbolic links at the end of `path` to what a write must reach. Links in the
/// directories above the last component need no following: a rename resolves them itself.
fn destination(path: &Path) -> std::io::Result<Destination> {
    let mut path = path.to_path_buf();
    for _ in 0..=MAX_LINKS {
        let kind = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Destination::File(path));
            }
            found => found?.file_type(),
        };
        if kind.is_file() {
            return Ok(Destination::File(path));
        }
        if kind.is_char_device() || kind.is_fifo() || (kind.is_symlink() && is_open_file(&path)) {
            return Ok(Destination::Stream(path));
        }
        if !kind.is_symlink() {
            // A directory, a socket or a block device: writing a report into a disk device
            // would destroy what is on it.
            return Err(std::io::Error::other(format!(
                "{} is not a file, a character device or a pipe",
                path.display()
            )));
        }
        let target = std::fs::read_link(&path)?;
        path = path.parent().unwrap_or(Path::new("")).join(target);
    }
    Err(std::io::Error::other(format!(
        "more than {MAX_LINKS} symbolic links lead from {}",
        path.display()
    )))
}

/// Whether `link` is one of the kernel's links to a process's open file
/// (`/proc/<pid>/fd/<n>`): its target text (`pipe:[123]`, or the path of a file that may since
/// have been renamed) is no path to follow; opening the link itself reaches the open file.
fn is_open_file(link: &Path) -> bool {
    link.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .and_then(|dir| std::fs::canonicalize(dir).ok())
        .is_some_and(|dir| dir.starts_with("/proc") && dir.ends_with("fd"))
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`. The temporary
/// file is removed if anything fails.
fn replace_file(path: &Path, bytes: &[u8], sync: Sync) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let partial = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let written = std::fs::File::create(&partial)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            match sync {
                Sync::Durable => file.sync_all(),
                Sync::Atomic => Ok(()),
            }
        })
        .and_then(|()| std::fs::rename(&partial, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written?;
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) if sync == Sync::Durable => std::fs::File::open(dir).and_then(|d| d.sync_all()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_directory_or_a_block_device_is_refused_untouched() {
        let dir = TempDir::new();
        let error = replace(&dir.0, b"report", Sync::Atomic).unwrap_err();
        assert!(error.to_string().contains("is not a file"), "{error}");
        assert!(dir.0.is_dir());
        if let Some(disk) = ["/dev/vda", "/dev/sda", "/dev/loop0"]
            .into_iter()
            .map(Path::new)
            .find(|d| d.exists())
        {
            let error = destination(disk).unwrap_err();
            assert!(error.to_string().contains("is not a file"), "{error}");
        }
    }

    fn is_link(path: &Path) -> bool {
        std::fs::symlink_metadata(path)
            .unwrap()
            .file_type()
            .is_symlink()
    }

    #[test]
    fn replaces_whole_and_leaves_nothing_beside_it() {
        let scratch = TempDir::new();
        let dir = scratch.0.as_path();
        let path = dir.join("file.json");
        replace(&path, b"first", Sync::Durable).unwrap();
        replace(&path, b"second", Sync::Atomic).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file.json"]);
    }

    #[test]
    fn a_symlink_to_a_file_stays_a_link_and_its_target_is_replaced() {
        let scratch = TempDir::new();
        let dir = scratch.0.as_path();
        std::fs::create_dir(dir.join("real")).unwrap();
        std::fs::write(dir.join("real/report.xml"), "old").unwrap();
        symlink("real/report.xml", dir.join("report.xml")).unwrap();
        replace(&dir.join("report.xml"), b"new", Sync::Atomic).unwrap();
        assert!(is_link(&dir.join("report.xml")), "the link was replaced");
        assert_eq!(
            std::fs::read_to_string(dir.join("real/report.xml")).unwrap(),
            "new"
        );
        let names: Vec<_> = std::fs::read_dir(dir.join("real"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["report.xml"],
            "no temporary file is left beside the target"
        );
    }

    #[test]
    fn a_dangling_symlink_gets_its_target_created() {
        let scratch = TempDir::new();
        let dir = scratch.0.as_path();
        symlink(dir.join("target.json"), dir.join("report.json")).unwrap();
        replace(&dir.join("report.json"), b"new", Sync::Atomic).unwrap();
        assert!(is_link(&dir.join("report.json")), "the link was replaced");
        assert_eq!(
            std::fs::read_to_string(dir.join("target.json")).unwrap(),
            "new"
        );
    }

    #[test]
    fn a_symlink_to_a_fifo_is_written_through() {
        let scratch = TempDir::new();
        let dir = scratch.0.as_path();
        let fifo = dir.join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo failed");
        symlink(&fifo, dir.join("report.xml")).unwrap();
        let reader = std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap());
        replace(&dir.join("report.xml"), b"through the pipe", Sync::Atomic).unwrap();
        assert!(is_link(&dir.join("report.xml")), "the link was replaced");
        assert_eq!(reader.join().unwrap(), "through the pipe");
    }

    /// What `/dev/stdout` leads to when the output is redirected to a file: the report follows
    /// what the file already holds, through the process's open file, and the links stay.
    #[test]
    fn a_symlink_to_an_open_file_of_the_process_appends_to_it() {
        use std::os::fd::AsRawFd as _;
        let scratch = TempDir::new();
        let dir = scratch.0.as_path();
        let out = dir.join("stdout.txt");
        let mut open = std::fs::File::create(&out).unwrap();
        open.write_all(b"output so far\n").unwrap();
        let fd_link = format!("/proc/self/fd/{}", open.as_raw_fd());
        symlink(&fd_link, dir.join("report.xml")).unwrap();
        replace(&dir.join("report.xml"), b"report\n", Sync::Atomic).unwrap();
        assert!(is_link(&dir.join("report.xml")), "the link was replaced");
        assert!(
            is_link(Path::new(&fd_link)),
            "the process's fd link was replaced"
        );
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "output so far\nreport\n"
        );
    }
}
