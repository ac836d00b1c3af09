//! Reports written after a run from its plain result data.

pub mod github;
pub mod html;
pub mod json;
pub mod junit;
pub mod listing;
pub mod plan;
pub mod stats;

use std::path::Path;

/// Writes a report whole or not at all, creating its directory first (CI jobs name report
/// paths like `target/reports/x.xml` before anything has made the directory). The text goes to
/// a temporary file beside the report, renamed over it once complete: a full disk or a killed
/// runner never leaves a truncated report for CI to parse. A target that exists and is not a
/// regular file (`/dev/stdout`, a FIFO) is written directly: renaming over it would replace it.
fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if path.metadata().is_ok_and(|m| !m.is_file()) {
        return std::fs::write(path, text);
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let partial = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let written = std::fs::File::create(&partial)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&partial, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// The name the JSON report gives a value (`timed_out`, `environment_error`): the other
/// reports use the same words, so one vocabulary is documented once.
fn name(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => unreachable!("a unit enum serializes as a string, not {other:?}"),
    }
}

/// Metrics are numbers of any unit: shown without noise (`12`, `12.5`, `0.003`).
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}").trim_end_matches('0').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_replaces_the_old_one_whole_and_leaves_nothing_beside_it() {
        let dir = std::env::temp_dir().join(format!("chaosplay-write-{}", std::process::id()));
        let path = dir.join("sub/report.json");
        write_file(&path, "first").unwrap();
        write_file(&path, "second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(dir.join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_device_is_written_directly_not_replaced() {
        let err = write_file(Path::new("/dev/full"), "x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28), "ENOSPC from /dev/full: {err}");
        use std::os::unix::fs::FileTypeExt as _;
        let kind = std::fs::metadata("/dev/full").unwrap().file_type();
        assert!(kind.is_char_device(), "/dev/full is still the device");
    }
}
