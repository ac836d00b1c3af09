//! Why `--cell KEY=VALUE` matched no `[matrix]` cell, in terms of what the playbooks offer, so
//! `--cell fault=kil` answers with the values `fault` takes.

use super::{Playbook, scalar_text};
use crate::diagnostic::did_you_mean;

/// One line per filter that no playbook can satisfy: a key no `[matrix]` has, or a value its
/// key never takes (with the values it does take, and the nearest one).
pub fn unmatched(playbooks: &[Playbook], filter: &[(String, String)]) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, value) in filter {
        let values: Vec<String> = playbooks
            .iter()
            .flat_map(|p| &p.matrix)
            .filter(|(k, _)| k == key)
            .flat_map(|(_, vs)| vs.iter().map(scalar_text))
            .fold(Vec::new(), |mut seen, v| {
                if !seen.contains(&v) {
                    seen.push(v);
                }
                seen
            });
        if values.iter().any(|v| v == value) {
            continue;
        }
        if values.is_empty() {
            let keys: Vec<&str> = playbooks
                .iter()
                .flat_map(|p| &p.matrix)
                .map(|(k, _)| k.as_str())
                .collect();
            lines.push(
                match (did_you_mean(key, keys.iter().copied()), keys.is_empty()) {
                    (_, true) => format!("`{key}`: the playbook has no [matrix]"),
                    (Some(near), _) => format!("no [matrix] key `{key}`: did you mean `{near}`?"),
                    (None, _) => format!("no [matrix] key `{key}`; keys: {}", keys.join(", ")),
                },
            );
            continue;
        }
        let mut line = format!("`{key}` takes {}, not `{value}`", values.join(", "));
        if let Some(near) = did_you_mean(value, values.iter().map(String::as_str)) {
            line.push_str(&format!(": did you mean `{key}={near}`?"));
        }
        lines.push(line);
    }
    lines
}
