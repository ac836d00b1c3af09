//! The step catalogue (`chaosplay steps`, the README), generated from the registry and the
//! parameters' JSON Schema so the documentation cannot drift from the code.

use std::fmt::Write as _;

use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::{Effect, StepKind};

/// One parameter of a step, as documented.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDoc {
    pub name: String,
    pub type_name: String,
    pub required: bool,
    pub default: Option<String>,
    pub description: String,
}

pub fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12().into_generator()
}

pub fn params(kind: StepKind) -> Vec<ParamDoc> {
    let mut generator = generator();
    let reference = kind.params_schema(&mut generator).to_value();
    let definitions = generator.take_definitions(true);
    let schema = resolve(&reference, &definitions);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, prop)| ParamDoc {
            name: name.clone(),
            type_name: type_name(prop),
            required: required.contains(&name.as_str()),
            default: prop
                .get("default")
                .filter(|d| !d.is_null())
                .map(Value::to_string),
            description: prop["description"]
                .as_str()
                .unwrap_or_default()
                .replace('\n', " "),
        })
        .collect()
}

fn resolve<'a>(schema: &'a Value, definitions: &'a serde_json::Map<String, Value>) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        Some(name) => definitions.get(name).unwrap_or(schema),
        None => schema,
    }
}

fn type_name(prop: &Value) -> String {
    if let Some(name) = prop["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        return name.to_lowercase();
    }
    if let Some(any) = prop["anyOf"].as_array() {
        let names: Vec<String> = any
            .iter()
            .filter(|s| s["type"] != "null")
            .map(type_name)
            .collect();
        return names.join(" | ");
    }
    if let Some(values) = prop["enum"].as_array() {
        return values
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(" | ");
    }
    let ty = match &prop["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" | "),
        _ => return "any".into(),
    };
    match ty.as_str() {
        "array" => format!("[{}]", type_name(&prop["items"])),
        "object" => match prop.get("additionalProperties") {
            Some(v) if v.is_object() => format!("{{ {} }}", type_name(v)),
            _ => "table".into(),
        },
        _ => ty,
    }
}

/// What the catalogue says about a step's [`Effect`].
fn undo_line(effect: Effect) -> Option<String> {
    match effect {
        Effect::None => None,
        Effect::Fault { undo } => Some(format!(
            "A fault. Undo (automatic, at cleanup and by `chaosplay recover`; verified): {undo}"
        )),
        Effect::Setting { undo } => Some(format!(
            "Undo (automatic, at cleanup and by `chaosplay recover`; verified): {undo}"
        )),
    }
}

/// `chaosplay steps --format json`: each step's facts from the registry, for tools and tests
/// that must cover every step kind of a sort (every fault, every selecting step) without a
/// list of their own that could fall behind.
pub fn json() -> Value {
    let steps = StepKind::ALL.iter().map(|kind| {
        let doc = kind.doc();
        serde_json::json!({
            "name": kind.name(),
            "summary": doc.summary,
            "fault": doc.effect.is_fault(),
            "undo": doc.effect.undo(),
            "selects": kind.selects(),
            "read_only": doc.read_only,
            "example": doc.example,
        })
    });
    Value::Array(steps.collect())
}

/// `chaosplay steps`: one line per step.
pub fn list() -> String {
    let width = StepKind::ALL
        .iter()
        .map(|k| k.name().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for kind in StepKind::ALL {
        let _ = writeln!(out, "{:<width$}  {}", kind.name(), kind.doc().summary);
    }
    out.push_str("\nRun `chaosplay steps NAME` for a step's parameters, outputs and an example.\n");
    out
}

/// `chaosplay steps NAME`: everything about one step, as plain text.
pub fn detail(kind: StepKind) -> String {
    let doc = kind.doc();
    let mut out = format!(
        "{}\n  {}\n\nParameters (`with`):\n",
        kind.name(),
        doc.summary
    );
    for p in params(kind) {
        let _ = writeln!(
            out,
            "  {:<14} {:<18} {}{}",
            p.name,
            p.type_name,
            if p.required { "required. " } else { "" },
            p.description
        );
        if let Some(default) = p.default {
            let _ = writeln!(out, "  {:<14} {:<18} default: {default}", "", "");
        }
    }
    if let Some(undo) = undo_line(doc.effect) {
        let _ = writeln!(out, "\n{undo}");
    }
    out.push_str("\nOutputs (`steps.<id>.<field>`):\n");
    for (name, desc) in doc.outputs {
        let _ = writeln!(out, "  {name:<14} {desc}");
    }
    let _ = write!(out, "\nExample:\n  [[steps]]\n");
    for line in doc.example.lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}

/// The whole catalogue as Markdown, as embedded in the README.
pub fn markdown() -> String {
    let mut out = String::new();
    for kind in StepKind::ALL {
        let doc = kind.doc();
        let _ = writeln!(out, "### `{}`\n\n{}\n", kind.name(), doc.summary);
        if let Some(undo) = undo_line(doc.effect) {
            let _ = writeln!(out, "{undo}.\n");
        }
        out.push_str(
            "| parameter | type | required | default | description |\n|---|---|---|---|---|\n",
        );
        for p in params(*kind) {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                p.name,
                p.type_name.replace('|', "\\|"),
                if p.required { "yes" } else { "" },
                p.default.map(|d| format!("`{d}`")).unwrap_or_default(),
                p.description.replace('|', "\\|")
            );
        }
        out.push_str("\n| output | description |\n|---|---|\n");
        for (name, desc) in doc.outputs {
            let _ = writeln!(out, "| `{name}` | {desc} |");
        }
        let _ = writeln!(out, "\n```toml\n[[steps]]\n{}\n```\n", doc.example);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_params_are_documented() {
        let params = params(StepKind::Exec);
        let argv = params.iter().find(|p| p.name == "argv").unwrap();
        assert!(argv.required);
        assert_eq!(argv.type_name, "[string]");
        let expect = params.iter().find(|p| p.name == "expect_exit").unwrap();
        assert_eq!(expect.default.as_deref(), Some("[0]"));
    }

    #[test]
    fn every_example_is_a_valid_step() {
        // Examples read outputs of typical earlier steps: define those the example does not.
        const EARLIER: &[(&str, &str)] = &[
            (
                "health",
                "uses = \"http.request\"\nwith = { url = \"http://127.0.0.1:1/\" }",
            ),
            (
                "load",
                "uses = \"sleep\"\nwith = { duration = \"1s\" }\nbackground = true",
            ),
            ("kill", "uses = \"docker.kill\"\nwith = { service = \"x\" }"),
            (
                "workload",
                "uses = \"workload.etcd\"\nwith = { endpoints = [\"http://127.0.0.1:1\"], duration = \"1s\" }",
            ),
            (
                "pause",
                "uses = \"docker.pause\"\nwith = { service = \"x\" }",
            ),
        ];
        // A group's example names a file of its own: tests/reuse.rs runs groups.
        for kind in StepKind::ALL.iter().filter(|k| **k != StepKind::Group) {
            let example = kind.doc().example;
            let mut text = String::from(
                "[scenario]\nname = \"x\"\n[vars]\npd = \"http://127.0.0.1:2379\"\n[subject]\nproject = \"p\"\n",
            );
            for (id, step) in EARLIER {
                if !example.contains(&format!("id = \"{id}\"")) {
                    text.push_str(&format!("[[steps]]\nid = \"{id}\"\n{step}\n"));
                }
            }
            text.push_str(&format!("[[steps]]\n{example}\n"));
            let source = crate::diagnostic::Source::new("example.toml", text);
            if let Err(e) = crate::playbook::parse(source, &Default::default()) {
                panic!("example of {kind} is invalid:\n{e}");
            }
        }
    }
}
