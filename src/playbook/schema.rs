//! The playbook's JSON Schema (`chaosplay schema`, committed as schemas/playbook.schema.json),
//! so TOML editors (Taplo, Even Better TOML) complete and check playbooks that start with
//! `#:schema`.

use serde_json::{Value, json};

use super::{MONITOR_KEYS, RecordSpec, Retry, STEP_KEYS, Scenario, Subject};
use crate::duration::Duration;
use crate::steps::StepKind;
use crate::steps::catalogue::generator;

pub fn playbook_schema() -> Value {
    let mut generator = generator();
    let scenario = generator.subschema_for::<Scenario>().to_value();
    let subject = generator.subschema_for::<Subject>().to_value();
    let retry = generator.subschema_for::<Retry>().to_value();
    let duration = generator.subschema_for::<Duration>().to_value();
    let record = generator.subschema_for::<RecordSpec>().to_value();
    let variants: Vec<Value> = StepKind::ALL
        .iter()
        .map(|kind| {
            let params = kind.params_schema(&mut generator).to_value();
            json!({
                "if": { "properties": { "uses": { "const": kind.name() } }, "required": ["uses"] },
                "then": { "properties": { "with": params } }
            })
        })
        .collect();
    // A step's `timeout`, `interval` and `stable_for` may be templates, rendered before it runs.
    let step_duration = json!({
        "anyOf": [
            duration,
            { "type": "string", "pattern": "\\{[{%]", "description": "A template that renders a duration, right before the step runs." }
        ]
    });
    let names: Vec<&str> = StepKind::ALL
        .iter()
        .filter(|k| **k != StepKind::Group)
        .map(|k| k.name())
        .collect();
    let step = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["uses"],
        "properties": {
            "id": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "description": "Names the step's output: `steps.<id>`." },
            "name": { "type": "string", "description": "Shown in progress and reports." },
            "uses": {
                "description": "The step kind (`chaosplay steps` lists them), or the path of a step group file relative to this one.",
                "anyOf": [
                    { "enum": names },
                    { "type": "string", "pattern": "^\\.\\.?/.*\\.toml$" }
                ]
            },
            "with": { "type": "object", "description": "The step's parameters; strings may hold templates." },
            "if": { "type": "string", "description": "Expression; the step is skipped when false." },
            "timeout": step_duration,
            "retry": retry,
            "until": { "type": "string", "description": "Expression over `output`; the step repeats until true." },
            "interval": step_duration,
            "stable_for": step_duration,
            "background": { "type": "boolean", "description": "Run concurrently; join with `await`." },
            "record": {
                "description": "Record metrics: the step's duration (a name), `{ name, value }` with an expression over `output`, or a table of name = expression.",
                "anyOf": [
                    { "type": "string" },
                    record,
                    { "type": "object", "additionalProperties": { "type": "string" } }
                ]
            },
            "continue_on_error": { "type": "boolean", "description": "A failure of this step is reported, but the steps go on and the run's verdict ignores it." },
            "for_each": {
                "description": "Run the step once per item, reading `item` and `index` in `with` and `until`; its output is the list of the items' outputs.",
                "anyOf": [
                    { "type": "array", "maxItems": super::MAX_ITEMS },
                    { "type": "string", "pattern": "\\{[{%]", "description": "A template that renders a list." }
                ]
            }
        },
        "allOf": variants
    });
    debug_assert_eq!(
        step["properties"].as_object().map(|p| p.len()),
        Some(STEP_KEYS.len())
    );
    let mut monitor = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["uses"],
        "properties": {},
        "allOf": step["allOf"].clone()
    });
    for key in MONITOR_KEYS {
        monitor["properties"][*key] = step["properties"][*key].clone();
    }
    // Sampling starts with the run: a monitor's interval is a plain duration.
    monitor["properties"]["interval"] = duration;
    monitor["properties"]["interval"]["description"] = json!("Time between samples (default 1s).");
    monitor["properties"]["show"] =
        json!({ "type": "string", "description": "Template over `output`: the live status line." });
    let mut defs = generator.take_definitions(true);
    defs.insert("Step".into(), step);
    defs.insert("Monitor".into(), monitor);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "chaosplay playbook",
        "type": "object",
        "additionalProperties": false,
        "required": ["scenario", "steps"],
        "properties": {
            "scenario": scenario,
            "vars": { "type": "object", "description": "Variables, read as `vars.<name>`; overridable with --var." },
            "matrix": {
                "type": "object",
                "description": "Runs the playbook once per combination of these values, read as `matrix.<key>`; `--cell key=value` runs a subset.",
                "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
                "additionalProperties": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": true,
                    "items": { "type": ["string", "number", "boolean"] }
                }
            },
            "subject": subject,
            "steps": { "type": "array", "items": { "$ref": "#/$defs/Step" } },
            "finally": { "type": "array", "items": { "$ref": "#/$defs/Step" } },
            "monitors": { "type": "array", "items": { "$ref": "#/$defs/Monitor" } },
            "secrets": {
                "type": "object",
                "additionalProperties": { "type": "string" },
                "description": "name = \"ENV_VAR\": read from the environment into vars.<name>; redacted in every report and log."
            }
        },
        "$defs": defs
    })
}
