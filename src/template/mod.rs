//! The one template and expression language of playbooks: minijinja with strict undefined.
//! Templates (`"{{ vars.pd }}"`) fill step parameters; expressions (`if`, `until`, `assert`) are
//! the same syntax without braces.

mod filters;

use std::collections::BTreeSet;

use minijinja::machinery::{Token, tokenize};
use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, ErrorKind, UndefinedBehavior};

/// Tokens one `{{ … }}` or `{% … %}` tag, or one expression, may have. minijinja parses,
/// compiles and drops expressions recursively but limits only how deeply brackets nest, so a
/// long flat chain (`- - - 1`, `a.b.c…`, `x|f|f…`, `f()()…`) overflows the stack, a crash
/// rather than an error, from a few thousand links on the main thread, sooner on the run's
/// worker threads. Expressions people write have tens of tokens.
pub const MAX_TOKENS: usize = 256;

/// Whether a string is a template rather than a literal.
pub fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// minijinja's budget (about one unit per instruction) for each render or evaluation.
/// Rendering is synchronous: neither a step's `timeout` nor Ctrl-C can interrupt a template
/// that would loop for hours (a `range` inside a `range`), so it must run out instead. The
/// templates and expressions of real playbooks take hundreds of units; this leaves room for
/// loops over a few thousand items and fails the runaway ones in well under a second.
pub const FUEL: u64 = 1_000_000;

/// The environment every template and expression is compiled in.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Python's string, list and dict methods (`.startswith()`, `.split()`, `.items()`), which
    // people who write Jinja expressions expect to work.
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    // Times between events of a run (a fault's `at`, a report's arrival, now): the outputs
    // carry RFC 3339 times, and a metric such as time-to-repair is a difference of two.
    env.add_filter("timestamp", timestamp);
    env.add_function("now", now);
    filters::register(&mut env);
    env
}

/// The global functions chaosplay adds to minijinja's, which validation accepts as names.
pub const FUNCTIONS: &[&str] = &["now"];

/// `"2026-12-05T10:00:00.250Z" | timestamp`: seconds since the Unix epoch, with fractions.
fn timestamp(text: &str) -> Result<f64, minijinja::Error> {
    let at = humantime::parse_rfc3339_weak(text).map_err(|e| {
        minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("`{text}` is not an RFC 3339 time: {e}"),
        )
    })?;
    Ok(epoch_seconds(at))
}

/// `now()`: the current time in seconds since the Unix epoch, with fractions; e.g.
/// `(now() - (steps.kill.at | timestamp)) * 1000` is the milliseconds since a kill.
fn now() -> f64 {
    epoch_seconds(std::time::SystemTime::now())
}

fn epoch_seconds(at: std::time::SystemTime) -> f64 {
    match at.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

/// If the whole string is one `{{ expression }}`, the expression: its value keeps its type
/// (`count = "{{ vars.stores }}"` stays an integer) instead of becoming text.
pub fn sole_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.trim_start_matches('-').trim_end_matches('-');
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%"))
        .then_some(inner.trim())
}

/// Tags that load another template by name. Playbooks have no template loader: minijinja
/// would fail them at run time, after the steps before had run, so they are refused with the
/// syntax instead.
const LOADING_TAGS: &[&str] = &["include", "import", "from", "extends"];

/// Refuses, before minijinja compiles it, a template with a tag of more than [`MAX_TOKENS`]
/// tokens (an expression: more in all) or a tag that loads another template
/// ([`LOADING_TAGS`]). Counted by minijinja's own lexer, which does not recurse, so the count
/// is what its parser would see.
pub fn check_tokens(text: &str, expression: bool) -> Result<(), minijinja::Error> {
    let mut tokens = 0;
    let mut block_start = false;
    for token in tokenize(text, expression, SyntaxConfig::default()) {
        // The parser stops at a lexer error too, and reports it.
        let Ok((token, _)) = token else {
            return Ok(());
        };
        if let Token::Ident(name) = token
            && block_start
            && LOADING_TAGS.contains(&name)
        {
            return Err(minijinja::Error::new(
                ErrorKind::SyntaxError,
                format!(
                    "`{{% {name} %}}` loads another template, and playbooks have none to load: write the text in place"
                ),
            ));
        }
        block_start = matches!(token, Token::BlockStart);
        match token {
            Token::TemplateData(_) | Token::VariableEnd | Token::BlockEnd => tokens = 0,
            _ => tokens += 1,
        }
        if tokens > MAX_TOKENS {
            return Err(minijinja::Error::new(
                ErrorKind::SyntaxError,
                format!("more than {MAX_TOKENS} tokens in one expression; split it up"),
            ));
        }
    }
    Ok(())
}

/// The dotted variable paths a template or expression reads (`steps.kill.container`).
pub fn references(
    env: &Environment<'_>,
    text: &str,
    expression: bool,
) -> Result<BTreeSet<String>, minijinja::Error> {
    check_tokens(text, expression)?;
    let names = if expression {
        env.compile_expression(text)?.undeclared_variables(true)
    } else {
        env.template_from_str(text)?.undeclared_variables(true)
    };
    Ok(names.into_iter().collect())
}

/// A mistake in a template that compiles but would fail when it runs: a filter or test that
/// does not exist, or a pattern written literally that is not a regular expression.
#[derive(Debug, PartialEq)]
pub struct Misuse {
    pub message: String,
    pub label: Option<String>,
    /// The text the mistake is in (a name, a pattern), to point at.
    pub at: String,
}

/// The [`Misuse`]s of a template (or expression) that compiles. minijinja looks filters and
/// tests up only when it applies them, so `{{ x | b64encod }}` passes compilation and fails
/// the step, after the steps before it ran; its lexer finds them before anything runs.
pub fn misuses(env: &Environment<'_>, text: &str, expression: bool) -> Vec<Misuse> {
    let tokens: Vec<Token<'_>> = tokenize(text, expression, SyntaxConfig::default())
        .map_while(Result::ok)
        .map(|(token, _)| token)
        .collect();
    let mut found = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let at = |n: usize| tokens.get(i + n);
        let (what, name, next) = match (token, at(1), at(2)) {
            (Token::Pipe, Some(Token::Ident(name)), _) => ("filter", *name, i + 2),
            (Token::BlockStart, Some(Token::Ident("filter")), Some(Token::Ident(name))) => {
                ("filter", *name, i + 3)
            }
            (Token::Ident("is"), Some(Token::Ident("not")), Some(Token::Ident(name))) => {
                ("test", *name, i + 3)
            }
            (Token::Ident("is"), Some(Token::Ident(name)), _) if *name != "not" => {
                ("test", *name, i + 2)
            }
            _ => continue,
        };
        if i > 0 && matches!(tokens[i - 1], Token::Dot) {
            continue;
        }
        if !exists(env, what, name) {
            found.push(unknown(what, name));
            continue;
        }
        if filters::TAKE_A_PATTERN.contains(&name)
            && let Some(pattern) = first_string_argument(&tokens[next..])
            && let Err(e) = filters::compile(&pattern)
        {
            found.push(Misuse {
                message: format!("invalid regular expression in `{name}`: {e}"),
                label: None,
                at: pattern,
            });
        }
    }
    found
}

/// Whether the environment has a filter (or test) of that name, asked of minijinja itself
/// through its `filter` and `test` tests.
fn exists(env: &Environment<'_>, what: &str, name: &str) -> bool {
    env.compile_expression(&format!("name is {what}"))
        .and_then(|e| e.eval(minijinja::context! { name }))
        .is_ok_and(|v| v.is_true())
}

fn unknown(what: &'static str, name: &str) -> Misuse {
    let (ours, builtin) = match what {
        "filter" => (filters::FILTERS, filters::BUILTIN_FILTERS),
        _ => (filters::TESTS, filters::BUILTIN_TESTS),
    };
    let candidates = ours.iter().chain(builtin).copied();
    Misuse {
        message: format!("unknown {what} `{name}`"),
        label: crate::diagnostic::did_you_mean(name, candidates)
            .map(|s| format!("did you mean `{s}`?")),
        at: name.to_string(),
    }
}

/// The string literal a filter or test is called with first: `('…'` or, for a test, `'…'`.
fn first_string_argument(tokens: &[Token<'_>]) -> Option<String> {
    let literal = match tokens {
        [Token::ParenOpen, literal, ..] => literal,
        [literal, ..] => literal,
        [] => return None,
    };
    match literal {
        Token::Str(s) => Some(s.to_string()),
        Token::String(s) => Some(s.to_string()),
        _ => None,
    }
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
    fn timestamp_reads_rfc3339_and_now_is_after_it() {
        let env = environment();
        let eval = |e: &str| {
            env.compile_expression(e)
                .unwrap()
                .eval(())
                .map(|v| v.to_string())
        };
        assert_eq!(
            eval("'1970-01-01T00:00:01.250Z' | timestamp").unwrap(),
            "1.25"
        );
        assert_eq!(
            eval("'2026-12-05T10:00:00.5Z' | timestamp").unwrap(),
            "1796464800.5"
        );
        assert_eq!(
            eval("now() > ('2026-01-01T00:00:00Z' | timestamp)").unwrap(),
            "True"
        );
        let e = eval("'yesterday' | timestamp").unwrap_err();
        assert!(
            e.to_string()
                .contains("`yesterday` is not an RFC 3339 time"),
            "{e}"
        );
    }

    #[test]
    fn sole_expression_only_for_whole_string() {
        assert_eq!(sole_expression("{{ vars.n }}"), Some("vars.n"));
        assert_eq!(sole_expression(" {{- vars.n -}} "), Some("vars.n"));
        assert_eq!(sole_expression("n={{ vars.n }}"), None);
        assert_eq!(sole_expression("{{ a }}{{ b }}"), None);
    }

    /// Expressions of `n` links that nest minijinja's syntax tree, and so its recursion, one
    /// level per link.
    const SHAPES: [fn(usize) -> String; 8] = [
        |n| "-".repeat(n) + "1",
        |n| vec!["1"; n + 1].join("+"),
        |n| "vars".to_string() + &".a".repeat(n),
        |n| "vars".to_string() + &"[0]".repeat(n),
        |n| "range".to_string() + &"()".repeat(n),
        |n| "1".to_string() + &"|string".repeat(n),
        |n| "not ".repeat(n) + "true",
        |n| "(".repeat(n) + "1" + &")".repeat(n),
    ];

    #[test]
    fn long_chains_are_refused_before_minijinja_recurses_on_them() {
        let env = environment();
        for chain in SHAPES.map(|shape| shape(100_000)) {
            let refused = references(&env, &chain, true).unwrap_err();
            assert_eq!(
                error_message(&refused),
                "syntax error: more than 256 tokens in one expression; split it up"
            );
            let template = format!("x {{{{ {chain} }}}} y");
            assert!(references(&env, &template, false).is_err());
        }
    }

    #[test]
    fn the_longest_chains_that_pass_compile_on_a_worker_threads_stack() {
        // Tokio's default for its worker threads, where steps and monitors render templates.
        let worker = std::thread::Builder::new().stack_size(2 << 20);
        let compiled = worker.spawn(|| {
            let env = environment();
            for shape in SHAPES {
                let longest = (1..)
                    .map(shape)
                    .take_while(|chain| check_tokens(chain, true).is_ok())
                    .last()
                    .unwrap();
                let _ = env.compile_expression(&longest).map(|e| e.eval(()));
            }
        });
        compiled.unwrap().join().unwrap();
    }

    #[test]
    fn tags_that_load_a_template_are_refused() {
        let env = environment();
        for tag in [
            "include '/etc/passwd'",
            "import 'a' as a",
            "from 'a' import b",
            "extends 'base'",
        ] {
            let refused = references(&env, &format!("x {{%- {tag} %}} y"), false).unwrap_err();
            let name = tag.split(' ').next().unwrap();
            assert!(
                error_message(&refused)
                    .starts_with(&format!("syntax error: `{{% {name} %}}` loads")),
                "{tag}: {refused}"
            );
        }
        // The words themselves are fine elsewhere.
        let refs = references(
            &env,
            "{% if vars.include %}{{ vars.from }}{% endif %}",
            false,
        );
        assert!(refs.is_ok());
    }

    #[test]
    fn tokens_are_counted_per_tag() {
        let tag = format!("{{{{ {} }}}}", vec!["vars.a"; 60].join(" ~ "));
        let long = vec![tag.as_str(); 100].join("\n");
        assert!(check_tokens(&long, false).is_ok());
        assert!(check_tokens(&tag.replace("{{", "").replace("}}", ""), true).is_ok());
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
