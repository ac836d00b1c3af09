//! Golden tests: every kind of validation error, exactly as a user sees it.

mod common;

use common::{chaosplay, code};

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
);

#[test]
fn run_refuses_an_invalid_playbook_before_running_anything() {
    let dir = common::scratch("run-invalid");
    let marker = dir.join("ran");
    let playbook = format!(
        "[scenario]\nname = \"x\"\n[[steps]]\nuses = \"exec\"\nwith = {{ argv = [\"touch\", \"{}\"] }}\n[[steps]]\nuses = \"slep\"\n",
        marker.display()
    );
    let path = common::write(&dir, "p.toml", &playbook);
    let output = chaosplay().arg("run").arg(&path).output().unwrap();
    assert_eq!(code(&output), 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("did you mean `sleep`?"));
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
