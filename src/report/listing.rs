//! `chaosplay list`: every scenario and every `[matrix]` cell, for people (text) and for CI
//! (`--format github`, a `strategy.matrix` that fans out one job per cell).

use serde::Serialize;

use crate::playbook::{Playbook, cell_label, scalar_text};

/// One runnable unit: a playbook without a matrix, or one cell of a playbook with one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub scenario: String,
    pub file: String,
    /// `fault=kill,stores=3`; empty without a matrix.
    pub cell: String,
    /// What to add to `chaosplay run FILE` to run just this cell: `--cell fault=kill …`.
    pub args: String,
    #[serde(skip)]
    pub tags: Vec<String>,
    #[serde(skip)]
    pub description: String,
}

/// The entries of one playbook: one per cell, or one for the whole playbook.
pub fn entries(playbook: &Playbook) -> Vec<Entry> {
    let cells = if playbook.matrix.is_empty() {
        Vec::new()
    } else {
        playbook.cells()
    };
    let entry = |cell: String, args: String| Entry {
        scenario: playbook.scenario.name.clone(),
        file: playbook.source.path.display().to_string(),
        cell,
        args,
        tags: playbook.scenario.tags.clone(),
        description: playbook.scenario.description.clone(),
    };
    if cells.is_empty() {
        return vec![entry(String::new(), String::new())];
    }
    cells
        .iter()
        .map(|cell| {
            let args = cell
                .iter()
                .map(|(k, v)| format!("--cell {k}={}", scalar_text(v)))
                .collect::<Vec<_>>()
                .join(" ");
            entry(cell_label(cell), args)
        })
        .collect()
}

/// Aligned columns: name (with the cell), file, tags, description.
pub fn text(entries: &[Entry]) -> String {
    let name = |e: &Entry| match e.cell.as_str() {
        "" => e.scenario.clone(),
        cell => format!("{} [{cell}]", e.scenario),
    };
    let name_width = entries
        .iter()
        .map(|e| name(e).chars().count())
        .max()
        .unwrap_or(0);
    let file_width = entries
        .iter()
        .map(|e| e.file.chars().count())
        .max()
        .unwrap_or(0);
    let tags = |e: &Entry| match e.tags.is_empty() {
        true => "-".to_string(),
        false => e.tags.join(","),
    };
    let tags_width = entries
        .iter()
        .map(|e| tags(e).chars().count())
        .max()
        .unwrap_or(0);
    entries
        .iter()
        .map(|e| {
            let line = format!(
                "{:name_width$}  {:file_width$}  {:tags_width$}  {}",
                name(e),
                e.file,
                tags(e),
                e.description
            );
            line.trim_end().to_string() + "\n"
        })
        .collect()
}

/// `{"include": [{"scenario", "file", "cell", "args"}, …]}`: GitHub Actions'
/// `strategy.matrix`, read with `fromJSON(needs.<job>.outputs.<name>)`.
pub fn github(entries: &[Entry]) -> String {
    serde_json::json!({ "include": entries }).to_string() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(scenario: &str, cell: &str) -> Entry {
        Entry {
            scenario: scenario.into(),
            file: "s.toml".into(),
            cell: cell.into(),
            args: String::new(),
            tags: vec!["etcd".into()],
            description: "Kill one.".into(),
        }
    }

    #[test]
    fn text_aligns_columns() {
        let out = text(&[entry("a", "fault=kill"), entry("long-name", "")]);
        assert_eq!(
            out,
            "a [fault=kill]  s.toml  etcd  Kill one.\nlong-name       s.toml  etcd  Kill one.\n"
        );
    }

    #[test]
    fn github_leaves_out_display_only_fields() {
        let out: serde_json::Value = serde_json::from_str(&github(&[entry("a", "")])).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"include": [{"scenario": "a", "file": "s.toml", "cell": "", "args": ""}]})
        );
    }
}
