//! Reports written after a run from its plain result data.

pub mod compare;
pub mod github;
pub mod history;
pub mod html;
pub mod json;
pub mod junit;
pub mod listing;
pub mod merge;
pub mod plan;
pub mod stats;

use std::path::Path;

/// Writes a report whole or not at all, creating its directory first (CI jobs name report
/// paths like `target/reports/x.xml` before anything has made the directory): a full disk or a
/// killed runner never leaves a truncated report for CI to parse. Symbolic links are written
/// through, and `/dev/stdout` or a FIFO directly (see [`crate::durable::replace`]).
fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    crate::durable::replace(path, text.as_bytes(), crate::durable::Sync::Atomic)
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
    fn a_device_is_written_directly_not_replaced() {
        let err = write_file(Path::new("/dev/full"), "x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28), "ENOSPC from /dev/full: {err}");
        use std::os::unix::fs::FileTypeExt as _;
        let kind = std::fs::metadata("/dev/full").unwrap().file_type();
        assert!(kind.is_char_device(), "/dev/full is still the device");
    }
}
