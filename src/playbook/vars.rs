//! Variables from the command line laid over `[vars]`: tables merge key by key, so
//! `--var ports.etcd0=33790` or a `--vars-file` with `[ports] etcd0 = 33790` changes one port
//! and keeps the others.

use serde_json::{Map, Value};

/// Lays `over` onto `base`: a table onto a table merges key by key, recursively; anything else
/// replaces what was there.
pub fn merge(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(Value::Object(inner)), Value::Object(value)) => merge(inner, value),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Sets the variable a dotted `--var` name (`ports.etcd0`) names, as a table of tables to be
/// [`merge`]d over `[vars]`.
pub fn set(map: &mut Map<String, Value>, dotted: &str, value: Value) {
    let nested = dotted.rsplit('.').fold(value, |inner, key| {
        let mut table = Map::new();
        table.insert(key.trim().to_string(), inner);
        Value::Object(table)
    });
    if let Value::Object(table) = nested {
        merge(map, &table);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn tables_merge_and_other_values_replace() {
        let mut vars = object(json!({"n": 3, "ports": {"etcd0": 2379, "etcd1": 2380}}));
        merge(
            &mut vars,
            &object(json!({"n": 5, "ports": {"etcd1": 33791}})),
        );
        assert_eq!(
            Value::Object(vars),
            json!({"n": 5, "ports": {"etcd0": 2379, "etcd1": 33791}})
        );
    }

    #[test]
    fn a_dotted_name_sets_one_key() {
        let mut over = Map::new();
        set(&mut over, "ports.etcd0", json!(33790));
        set(&mut over, "ports.etcd2", json!(33792));
        set(&mut over, "n", json!(1));
        assert_eq!(
            Value::Object(over),
            json!({"ports": {"etcd0": 33790, "etcd2": 33792}, "n": 1})
        );
    }
}
