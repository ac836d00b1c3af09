//! Nested variables from the command line, and runtime errors that name a null.

mod common;

use common::{code, run, scratch, step, write};

const PORTS: &str = r#"
[scenario]
name = "vars"
[vars]
ports = { etcd0 = 2379, etcd1 = 2380, etcd2 = 2381 }
[[steps]]
id = "show"
name = "show"
uses = "log"
with = { message = "{{ vars.ports.etcd0 }} {{ vars.ports.etcd1 }} {{ vars.ports.etcd2 }}" }
"#;

#[test]
fn a_dotted_var_sets_one_key_and_a_vars_file_merges_tables() {
    let dir = scratch("vars-nested");
    let file = write(&dir, "ports.toml", "[ports]\netcd1 = 33791\n");
    let (out, report) = run(
        &dir,
        PORTS,
        &[
            "--vars-file",
            file.to_str().unwrap(),
            "--var",
            "ports.etcd0=33790",
        ],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        step(&report, "show")["output"]["message"],
        "33790 33791 2381"
    );
}

#[test]
fn an_expression_that_reads_a_null_names_it() {
    let dir = scratch("vars-null");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "null"
[[steps]]
id = "h"
uses = "http.request"
with = { url = "http://127.0.0.1:1/", accept_errors = true }
[[steps]]
name = "check"
uses = "assert"
with.that = ["steps.h.status + 1 > 0"]
"#,
        &[],
    );
    assert_eq!(code(&out), 1);
    insta::assert_snapshot!(step(&report, "check")["error"]["message"].as_str().unwrap(), @"`steps.h.status + 1 > 0`: invalid operation: tried to use + operator on unsupported types none and number (`steps.h.status` is null)");
}
