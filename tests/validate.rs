//! Golden tests: every kind of validation error, exactly as a user sees it.

mod common;

use common::{Test, chaosplay, code};

fn validate(fixture: &str) -> String {
    let output = chaosplay()
        .current_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/invalid"
        ))
        .args(["validate", fixture])
        .output()
        .unwrap();
    assert_eq!(code(&output), 2, "validate {fixture} must exit 2");
    assert!(
        output.stdout.is_empty(),
        "nothing on stdout for an invalid file"
    );
    String::from_utf8(output.stderr).unwrap()
}

macro_rules! golden {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            insta::assert_snapshot!(validate(concat!(stringify!($name), ".toml")));
        }
    )*};
}

golden!(
    toml_syntax,
    unknown_keys,
    unknown_step,
    params,
    durations,
    templates,
    references,
    duplicate_ids,
    structure,
    matrix,
    matrix_too_big,
    absurd_values,
    compose_syntax,
    compose_shape,
    enum_values,
    services,
    expression_hints,
    undo_targets,
    dns_names,
);

#[test]
fn run_refuses_an_invalid_playbook_before_running_anything() {
    let test = Test::new("run-invalid");
    let marker = test.dir().join("ran");
    let playbook = format!(
        r#"
[scenario]
name = "x"
[[steps]]
uses = "exec"
with = {{ argv = ["touch", "{}"] }}
[[steps]]
uses = "slep"
"#,
        marker.display()
    );
    test.playbook(&playbook)
        .code(2)
        .stderr_has("did you mean `sleep`?")
        .run();
    assert!(
        !marker.exists(),
        "no step may run when the playbook is invalid"
    );
}

#[test]
fn a_valid_playbook_validates() {
    let output = chaosplay()
        .args([
            "validate",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scenarios/examples/local-http.toml"
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(
        code(&output),
        0,
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("ok: "));
}

#[test]
fn unknown_var_override_file_is_a_usage_error() {
    let output = chaosplay()
        .args([
            "validate",
            "--vars-file",
            "/nonexistent/vars.toml",
            "x.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&output), 2);
    insta::assert_snapshot!(String::from_utf8_lossy(&output.stderr));
}

#[test]
fn templated_values_are_bounded_once_rendered() {
    // A template's value is unknown at load time, so `rate = "{{ vars.rate }}"` validates; the
    // same rule then refuses the rendered value before the step does anything.
    let dir = common::scratch("bounds-at-run-time");
    let playbook = "[scenario]\nname = \"b\"\n[vars]\nrate = 10\n[[steps]]\nuses = \"load.http\"\nwith = { url = \"http://127.0.0.1:9/\", rate = \"{{ vars.rate }}\", duration = \"1s\" }\n";
    let path = common::write(&dir, "p.toml", playbook);
    let output = chaosplay().arg("validate").arg(&path).output().unwrap();
    assert_eq!(code(&output), 0, "{output:?}");
    let (output, report) = common::run_file(&dir, &path, &["--var", "rate=0"]);
    assert_eq!(code(&output), 1, "{output:?}");
    let step = common::step(&report, "load.http");
    assert_eq!(step["status"], "failed");
    assert_eq!(step["error"]["kind"], "params");
    assert!(
        step["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`rate` must be 1–10000 requests per second, not 0"),
        "{step}"
    );
    assert!(step["output"].is_null(), "no request was sent: {step}");
}

#[test]
fn an_undeclared_var_override_is_a_typo_not_a_new_variable() {
    let dir = common::scratch("undeclared-var");
    let path = common::write(
        &dir,
        "p.toml",
        "[scenario]\nname = \"v\"\n[vars]\nkeys = 3\n[[steps]]\nuses = \"log\"\nwith = { message = \"{{ vars.keys }}\" }\n",
    );
    let out = chaosplay()
        .arg("run")
        .arg(&path)
        .args(["--var", "kesy=5"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --var/--vars-file `kesy`: no playbook given declares it in [vars]; did you mean `keys`?\n"
    );
    assert!(out.stdout.is_empty(), "nothing ran");
    let out = chaosplay()
        .arg("validate")
        .arg(&path)
        .args(["--var", "keys=5"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0);
}

/// Here rather than beside the loader: the test needs a process whose environment holds a
/// variable that is not UTF-8, and changing the test process's own is unsafe while other tests
/// run.
#[test]
fn a_subject_template_with_a_variable_that_is_not_utf8_in_the_environment() {
    use std::os::unix::ffi::OsStrExt as _;

    let dir = common::scratch("env-not-utf8");
    let path = common::write(
        &dir,
        "p.toml",
        "[scenario]\nname = \"x\"\n[subject]\nproject = \"p-{{ env.CHAOSPLAY_TEST_UTF8 }}\"\n[[steps]]\nuses = \"sleep\"\nwith = { duration = \"1s\" }\n",
    );
    let output = chaosplay()
        .arg("validate")
        .arg(&path)
        .env("CHAOSPLAY_TEST_UTF8", "ok")
        .env(
            "CHAOSPLAY_TEST_NOT_UTF8",
            std::ffi::OsStr::from_bytes(b"\xff"),
        )
        .output()
        .unwrap();
    assert_eq!(
        code(&output),
        0,
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Validates `text` as a file of its own, which must be refused; its stderr.
fn refused(name: &str, text: &str) -> String {
    Test::new(name).validate().playbook(text).code(2).run()
}

const SCENARIO: &str = "[scenario]\nname = \"s\"\n";
const SLEEP: &str = "[[steps]]\nuses = \"sleep\"\nwith = { duration = \"1s\" }\n";

#[test]
fn thousands_of_errors_on_one_long_line_print_a_bounded_report() {
    // Each diagnostic quoted its whole line: errors × line length, gigabytes here.
    let repeated = format!(
        "{SCENARIO}[matrix]\nk = [{}1]\n{SLEEP}",
        "1,".repeat(39_999)
    );
    let undefined: Vec<String> = (0..20_000)
        .map(|i| format!("{{{{ vars.v{i} }}}}"))
        .collect();
    let undefined = format!(
        "{SCENARIO}[[steps]]\nuses = \"log\"\nwith = {{ message = \"{}\" }}\n",
        undefined.join(" ")
    );
    for (name, text, errors) in [
        ("long-line-matrix", repeated, 40_000),
        ("long-line-vars", undefined, 20_000),
    ] {
        let stderr = refused(name, &text);
        assert!(stderr.len() < 64 << 10, "{} bytes", stderr.len());
        assert!(
            stderr.contains(&format!("\n... and {} more errors\n", errors - 20)),
            "{stderr}"
        );
        assert!(
            stderr.ends_with(&format!("is invalid: {errors} errors; nothing was run\n")),
            "{stderr}"
        );
        assert!(stderr.lines().all(|l| l.chars().count() < 400), "{stderr}");
    }
}

#[test]
fn a_matrix_of_100000_values_is_refused_with_every_duplicate_counted() {
    // The duplicate check compared each value with all before it: 47 s for this file, before.
    let values: Vec<String> = (0..100_000).map(|i| (i % 50_000).to_string()).collect();
    let text = format!("{SCENARIO}[matrix]\nk = [{}]\n{SLEEP}", values.join(","));
    let stderr = refused("matrix-100000", &text);
    assert!(stderr.len() < 64 << 10, "{} bytes", stderr.len());
    assert!(
        stderr.starts_with("error: `matrix` makes 100000 cells; at most 256 are allowed\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: `matrix.k` lists a value twice\n"),
        "{stderr}"
    );
    assert!(stderr.contains("\n... and 49981 more errors\n"), "{stderr}");
    assert!(stderr.ends_with("is invalid: 50001 errors; nothing was run\n"));
}

#[test]
fn what_toml_refuses_is_an_error_at_its_line_and_column() {
    let deep = vec!["a"; 81].join(".");
    for (name, text, message, at) in [
        (
            "integer-beyond-64-bits",
            format!("{SCENARIO}[vars]\nn = 99999999999999999999999\n{SLEEP}"),
            "error: invalid TOML: integer out of range\n",
            "p.toml:4:5\n",
        ),
        (
            "deep-dotted-key",
            format!("{SCENARIO}[vars]\n{deep} = 1\n{SLEEP}"),
            "error: invalid TOML: a key of more than 80 dotted parts is nested too deeply\n",
            "p.toml:4:1\n",
        ),
        (
            "deep-table-header",
            format!("{SCENARIO}[{deep}]\n{SLEEP}"),
            "error: invalid TOML: a key of more than 80 dotted parts is nested too deeply\n",
            "p.toml:3:1\n",
        ),
    ] {
        let stderr = refused(name, &text);
        assert!(stderr.starts_with(message), "{stderr}");
        assert!(stderr.contains(at), "{stderr}");
    }
}

#[test]
fn a_playbook_that_is_not_utf8_is_an_error_at_the_first_bad_byte() {
    let dir = common::scratch("not-utf8");
    let path = dir.join("p.toml");
    // `é` in Latin-1: one byte, 0xe9, which UTF-8 refuses.
    let mut bytes = format!("{SCENARIO}# naïve caf").into_bytes();
    bytes.push(0xe9);
    bytes.extend_from_slice(format!("\n{SLEEP}").as_bytes());
    std::fs::write(&path, bytes).unwrap();
    let output = chaosplay().arg("validate").arg(&path).output().unwrap();
    assert_eq!(code(&output), 2);
    let stderr = String::from_utf8(output.stderr).unwrap();
    let stderr = stderr.replace(&dir.display().to_string(), "DIR");
    assert_eq!(
        stderr,
        "error: the playbook is not valid UTF-8\n --> DIR/p.toml:3:12\n  |\n3 | # naïve caf\u{fffd}\n  |            ^ byte 0xe9\n  = help: playbooks are UTF-8 text: save the file as UTF-8\n\nerror: DIR/p.toml is invalid: 1 error; nothing was run\n"
    );
}

#[test]
fn a_name_that_is_not_a_string_is_refused() {
    let text = "[scenario]\nname = 5\n[[steps]]\nname = 5\nuses = \"sleep\"\nwith = { duration = \"1s\" }\n";
    let stderr = refused("name-not-a-string", text);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(
        errors[..2],
        [
            "error: invalid [scenario]: expected a string, found an integer",
            "error: invalid `name`: expected a string, found an integer",
        ]
    );
    assert!(stderr.contains("p.toml:2:8\n"), "{stderr}");
    assert!(stderr.contains("p.toml:4:8\n"), "{stderr}");
    assert!(stderr.ends_with("is invalid: 2 errors; nothing was run\n"));
}

#[test]
fn a_bandwidth_rate_tc_cannot_take_is_refused() {
    // tc failed on these at run time, after the steps before had run.
    for (name, with, message) in [
        (
            "rate-beyond-u64",
            "rate = \"99999999999999999999gbit\"",
            "`rate` = \"99999999999999999999gbit\" is beyond any rate tc can shape",
        ),
        (
            "rate-beyond-tc-burst",
            "rate = \"4tbit\"",
            "`rate` = \"4tbit\" is more than tc can shape with its default burst",
        ),
        (
            "rate-beyond-tc-limit",
            "rate = \"100gbit\", latency = \"1s\"",
            "`latency` = \"1s\" at `rate` = \"100gbit\" queues more than tc can count",
        ),
    ] {
        let text = format!(
            "{SCENARIO}{SLEEP}[[steps]]\nuses = \"network.bandwidth\"\nwith = {{ service = \"db\", {with} }}\n"
        );
        let stderr = refused(name, &text);
        assert!(
            stderr.starts_with(&format!(
                "error: invalid parameters for `network.bandwidth`: {message}"
            )),
            "{stderr}"
        );
    }
}

#[test]
fn a_template_that_includes_a_file_is_refused_before_anything_runs() {
    // It failed at run time ("template not found"), after the step before it had run.
    let text = format!(
        "{SCENARIO}{SLEEP}[[steps]]\nuses = \"log\"\nwith = {{ message = \"{{% include '/etc/passwd' %}}\" }}\n[subject]\nproject = \"{{% extends 'base' %}}\"\n"
    );
    let stderr = refused("include", &text);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(
        errors[..2],
        [
            "error: invalid template: syntax error: `{% include %}` loads another template, and playbooks have none to load: write the text in place",
            "error: invalid template in [subject] project: syntax error: `{% extends %}` loads another template, and playbooks have none to load: write the text in place",
        ],
        "{stderr}"
    );
}

#[test]
fn a_templated_timeout_is_rendered_before_the_step_and_checked_strictly() {
    // It validated as 1s whatever it rendered to, so this step timed out after 1 s.
    let dir = common::scratch("timeout-template");
    let path = common::write(
        &dir,
        "p.toml",
        "[scenario]\nname = \"t\"\n[vars]\nt = \"20s\"\n[[steps]]\nname = \"wait\"\nuses = \"sleep\"\nwith = { duration = \"1200ms\" }\ntimeout = \"{{ vars.t }}\"\n",
    );
    let (output, report) = common::run_file(&dir, &path, &[]);
    assert_eq!(code(&output), 0, "{output:?}");
    assert_eq!(common::step(&report, "wait")["status"], "passed");

    for (t, why) in [
        ("abc", "invalid duration `abc`"),
        ("0s", "rendered 0s, less than the shortest, 1ms"),
    ] {
        let (output, report) = common::run_file(&dir, &path, &["--var", &format!("t={t}")]);
        assert_eq!(code(&output), 1, "{output:?}");
        let step = common::step(&report, "wait");
        assert_eq!(step["error"]["kind"], "params", "{step}");
        let message = step["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("invalid parameters: `timeout` = \"{{ vars.t }}\": "),
            "{message}"
        );
        assert!(message.contains(why), "{message}");
    }

    let path = common::write(
        &dir,
        "until.toml",
        "[scenario]\nname = \"u\"\n[vars]\ni = \"10ms\"\n[[steps]]\nname = \"poll\"\nuses = \"log\"\nwith = { message = \"x\" }\nuntil = \"true\"\ninterval = \"{{ vars.i }}\"\nstable_for = \"{{ vars.i }}\"\n",
    );
    let (output, _) = common::run_file(&dir, &path, &[]);
    assert_eq!(code(&output), 0, "{output:?}");
    let (output, report) = common::run_file(&dir, &path, &["--var", "i=soon"]);
    assert_eq!(code(&output), 1, "{output:?}");
    let message = common::step(&report, "poll")["error"]["message"].clone();
    assert!(
        message.as_str().unwrap().starts_with(
            "invalid parameters: `interval` = \"{{ vars.i }}\": invalid duration `soon`"
        ),
        "{message}"
    );
}

#[test]
fn a_template_where_none_is_rendered_is_refused() {
    // Each was accepted as some default: a 1 s timeout, 0 attempts, `false`.
    let text = "[scenario]\nname = \"s\"\nstep_timeout = \"{{ vars.t }}\"\n[vars]\nt = \"1s\"\n[[steps]]\nuses = \"sleep\"\nwith = { duration = \"1s\" }\ntimeout = \"{{ nonsense\"\nretry = { attempts = \"{{ vars.n }}\" }\nbackground = \"{{ vars.b }}\"\n";
    let stderr = refused("template-not-rendered", text);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(
        errors[..4],
        [
            "error: invalid [scenario]: expected a duration such as \"30s\", found a template (templates are not rendered here)",
            "error: invalid template: syntax error: unexpected end of input, expected end of variable block",
            "error: invalid `retry`: expected an integer, found a template (templates are not rendered here)",
            "error: invalid `background`: expected a boolean, found a template (templates are not rendered here)",
        ],
        "{stderr}"
    );
}
