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
            let mut params = kind.params_schema(&mut generator).to_value();
            accept_templates(&mut params);
            json!({
                "if": { "properties": { "uses": { "const": kind.name() } }, "required": ["uses"] },
                "then": { "properties": { "with": params } }
            })
        })
        .collect();
    // A step's `timeout`, `interval` and `stable_for` may be templates, rendered before it runs.
    let step_duration = json!({ "anyOf": [duration, template()] });
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
    // Parameters are defined once each and referenced from `with`; the playbook's own tables
    // (never rendered) keep their strict types.
    let playbook_own = [&scenario, &subject, &retry, &record].map(|s| s["$ref"].clone());
    for (name, def) in defs.iter_mut() {
        if !playbook_own.contains(&json!(format!("#/$defs/{name}"))) {
            accept_templates(def);
        }
    }
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

/// A string holding a template (`"{{ vars.stores }}"`): valid wherever a parameter is, since
/// it is rendered (and then checked against the parameter's type) right before the step runs.
fn template() -> Value {
    json!({
        "type": "string",
        "pattern": "\\{[{%]",
        "description": "A template, rendered right before the step runs."
    })
}

/// Lets a template stand in for every parameter value that is not already any string, at any
/// depth (`count = "{{ vars.stores }}"`, `argv = ["{{ vars.cmd }}"]`), as validation does: an
/// editor checking with this schema then agrees with `chaosplay validate`. The description
/// moves to the wrapper, where editors look for it.
fn accept_templates(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        properties.values_mut().for_each(templatable);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = object.get_mut(key).filter(|v| v.is_object()) {
            templatable(inner);
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(options)) = object.get_mut(key) {
            options.iter_mut().for_each(accept_templates);
        }
    }
}

/// One value's schema: its own children made [`accept_templates`], then itself wrapped unless
/// any string already fits it.
fn templatable(schema: &mut Value) {
    accept_templates(schema);
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let plain_string = object.get("type") == Some(&json!("string"))
        && !object.contains_key("enum")
        && !object.contains_key("pattern")
        && !object.contains_key("format");
    if plain_string || object.is_empty() {
        return;
    }
    let description = object.remove("description");
    let mut wrapper = json!({ "anyOf": [Value::Object(object.clone()), template()] });
    if let Some(description) = description {
        wrapper["description"] = description;
    }
    *schema = wrapper;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_fits_every_typed_parameter_at_any_depth() {
        let mut schema = json!({
            "type": "object",
            "properties": {
                "count": { "type": "integer", "description": "How many." },
                "name": { "type": "string" },
                "argv": { "type": "array", "items": { "type": "integer" } }
            }
        });
        accept_templates(&mut schema);
        let count = &schema["properties"]["count"];
        assert_eq!(count["description"], "How many.");
        assert_eq!(count["anyOf"][0], json!({ "type": "integer" }));
        assert_eq!(count["anyOf"][1], template());
        assert_eq!(schema["properties"]["name"], json!({ "type": "string" }));
        assert_eq!(
            schema["properties"]["argv"]["anyOf"][0]["items"]["anyOf"][1],
            template()
        );
    }
}
