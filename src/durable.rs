//! Replacing a file so that it is never seen half written, for the undo ledger and reports.

use std::io::Write as _;
use std::path::Path;

/// Whether a replacement must also survive a power cut (fsync of the file and its directory, a
/// few milliseconds each): the undo ledger must; a report, which the run can write again, need
/// not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    Durable,
    Atomic,
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`: after a full
/// disk or a killed process (and, with [`Sync::Durable`], a crash of the machine), `path` holds
/// the old contents or the new ones, never a part. The temporary file is removed if anything
/// fails.
pub fn replace(path: &Path, bytes: &[u8], sync: Sync) -> std::io::Result<()> {
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

    #[test]
    fn replaces_whole_and_leaves_nothing_beside_it() {
        let dir = std::env::temp_dir().join(format!("chaosplay-durable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("file.json");
        replace(&path, b"first", Sync::Durable).unwrap();
        replace(&path, b"second", Sync::Atomic).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
