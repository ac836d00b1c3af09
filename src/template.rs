//! The one template and expression language of playbooks: minijinja with strict undefined.
//! Templates (`"{{ vars.pd }}"`) fill step parameters; expressions (`if`, `until`, `assert`) are
//! the same syntax without braces.

use std::collections::BTreeSet;

use minijinja::{Environment, UndefinedBehavior};

/// Whether a string is a template rather than a literal.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// The environment every template and expression is compiled in.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Python's string, list and dict methods (`.startswith()`, `.split()`, `.items()`), which
    // people who write Jinja expressions expect to work.
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env
}

/// If the whole string is one `{{ expression }}`, the expression: its value keeps its type
/// (`count = "{{ vars.stores }}"` stays an integer) instead of becoming text.
pub fn sole_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.trim_start_matches('-').trim_end_matches('-');
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%"))
        .then_some(inner.trim())
}

/// The dotted variable paths a template or expression reads (`steps.kill.container`).
pub fn references(
    env: &Environment<'_>,
    text: &str,
    expression: bool,
) -> Result<BTreeSet<String>, minijinja::Error> {
    let names = if expression {
        env.compile_expression(text)?.undeclared_variables(true)
    } else {
        env.template_from_str(text)?.undeclared_variables(true)
    };
    Ok(names.into_iter().collect())
}

/// A template or expression error in one line, without minijinja's template-name noise.
pub fn error_message(e: &minijinja::Error) -> String {
    let mut msg = e.kind().to_string();
    if let Some(detail) = e.detail() {
        msg.push_str(": ");
        msg.push_str(detail);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sole_expression_only_for_whole_string() {
        assert_eq!(sole_expression("{{ vars.n }}"), Some("vars.n"));
        assert_eq!(sole_expression(" {{- vars.n -}} "), Some("vars.n"));
        assert_eq!(sole_expression("n={{ vars.n }}"), None);
        assert_eq!(sole_expression("{{ a }}{{ b }}"), None);
    }

    #[test]
    fn references_are_dotted_paths() {
        let env = environment();
        let refs = references(&env, "steps.after.stores | length == vars.stores", true).unwrap();
        assert_eq!(
            refs.into_iter().collect::<Vec<_>>(),
            ["steps.after.stores", "vars.stores"]
        );
        let refs = references(&env, "http://{{ vars.host }}:{{ run.seed }}", false).unwrap();
        assert_eq!(
            refs.into_iter().collect::<Vec<_>>(),
            ["run.seed", "vars.host"]
        );
    }
}
