//! Finding playbooks under directories, so CI can list (and fan out over) every scenario of a
//! repository without naming each file.

use std::path::{Path, PathBuf};

/// The playbooks among `paths`: files named explicitly are taken as they are; directories are
/// searched recursively for `*.toml` files that have a `[scenario]` table (other TOML files,
/// such as vars files, are not playbooks). Sorted by path within each directory, so the
/// listing and CI's job order are stable.
pub fn discover(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "toml") && has_scenario(&path)? {
            found.push(path);
        }
    }
    Ok(())
}

/// Whether a TOML file declares `[scenario]`, judged from its lines rather than by parsing:
/// a playbook with a syntax error must still be found, so that it is reported, not skipped.
/// Only regular files are read: a FIFO named `*.toml` must not stall the search.
fn has_scenario(path: &Path) -> std::io::Result<bool> {
    let text = crate::text_file::read_regular(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(text.lines().any(|line| {
        line.trim_start()
            .strip_prefix("[scenario]")
            .is_some_and(|rest| rest.trim().is_empty() || rest.trim_start().starts_with('#'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn finds_playbooks_and_skips_other_toml() {
        let dir = TempDir::new();
        std::fs::create_dir(dir.0.join("nested")).unwrap();
        let b = dir.write("b.toml", "[scenario] # x\nname = \"b\"\n");
        let a = dir.write("nested/a.toml", "[scenario]\nname = [\n");
        dir.write("vars.toml", "members = 3\n");
        dir.write("notes.md", "[scenario]\n");
        let found = discover(std::slice::from_ref(&dir.0)).unwrap();
        assert_eq!(found, [b, a]);
    }

    #[test]
    fn a_fifo_is_refused_not_waited_on() {
        let dir = TempDir::new();
        // A silent pipe, reached through a link named like a playbook.
        let (reader, _writer) = std::io::pipe().unwrap();
        let fifo = dir.0.join("p.toml");
        std::os::unix::fs::symlink(
            format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&reader)),
            &fifo,
        )
        .unwrap();
        let err = discover(std::slice::from_ref(&dir.0)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: it is not a regular file (a device, FIFO or socket)",
                fifo.display()
            )
        );
    }
}
