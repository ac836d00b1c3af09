//! `pd.*` steps against a scripted PD on 127.0.0.1 serving real response shapes
//! (../shared/pd-fixtures): waits ride out "not bootstrapped", config changes are undone.

mod common;

use common::http::serve;
use common::{code, run, scratch, step};

const NOT_BOOTSTRAPPED: &str =
    r#""[PD:cluster:ErrNotBootstrapped]TiKV cluster not bootstrapped, please start TiKV first""#;
const STORES_ONE_DISCONNECTED: &str =
    include_str!("fixtures/pd/stores.constructed.3tikv-one-disconnected.json");

#[test]
fn wait_stores_rides_out_not_bootstrapped_and_counts_states() {
    let (port, _) = serve(vec![
        (500, "application/json", NOT_BOOTSTRAPPED),
        (200, "application/json", STORES_ONE_DISCONNECTED),
    ]);
    let dir = scratch("pd-wait");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "pd"
[vars]
pd = ""
[[steps]]
id = "down"
name = "down"
uses = "pd.wait_stores"
with = { pd = "{{ vars.pd }}", state = "Disconnected", count = 1, interval = "20ms" }
timeout = "10s"
[[steps]]
uses = "assert"
with.that = ["steps.down.matched | length == 1", "steps.down.by_state.Up == 2", "steps.down.polls >= 2"]
"#,
        &["--var", &format!("pd=http://127.0.0.1:{port}")],
    );
    let shown = || {
        let (stdout, stderr) = (&out.stdout, &out.stderr);
        let (stdout, stderr) = (
            String::from_utf8_lossy(stdout),
            String::from_utf8_lossy(stderr),
        );
        format!("stdout:\n{stdout}\nstderr:\n{stderr}")
    };
    assert_eq!(code(&out), 0, "{}", shown());
    assert_eq!(
        step(&report, "down")["output"]["matched"][0]["state"],
        "Disconnected"
    );
}

#[test]
fn wait_stores_times_out_with_the_last_answer() {
    let (port, _) = serve(vec![(500, "application/json", NOT_BOOTSTRAPPED); 40]);
    let dir = scratch("pd-timeout");
    let (out, report) = run(
        &dir,
        "[scenario]\nname = \"pd\"\n[vars]\npd = \"\"\n[[steps]]\nname = \"up\"\nuses = \"pd.wait_stores\"\nwith = { pd = \"{{ vars.pd }}\", count = 3, interval = \"50ms\" }\ntimeout = \"500ms\"\n",
        &["--var", &format!("pd=http://127.0.0.1:{port}")],
    );
    assert_eq!(code(&out), 1);
    let message = step(&report, "up")["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with(
            "timed out after 500ms: last status: not yet: pd cluster not bootstrapped yet"
        ),
        "{message}"
    );
}

#[test]
fn config_changes_are_restored_by_cleanup() {
    let config =
        r#"{"schedule": {"max-store-down-time": "30m0s"}, "replication": {"max-replicas": 3}}"#;
    let (port, received) = serve(vec![
        (200, "application/json", config),
        (200, "application/json", r#""The config is updated.""#),
        (200, "application/json", r#""The config is updated.""#),
        // Read back by the undo, to see the old value in place.
        (200, "application/json", config),
    ]);
    let dir = scratch("pd-config");
    let (out, report) = run(
        &dir,
        "[scenario]\nname = \"pd\"\n[vars]\npd = \"\"\n[[steps]]\nid = \"cfg\"\nuses = \"pd.config\"\nwith = { pd = \"{{ vars.pd }}\", set = { max-store-down-time = \"1m\" } }\n",
        &["--var", &format!("pd=http://127.0.0.1:{port}")],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let requests: Vec<_> = received.try_iter().collect();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[1].body, r#"{"max-store-down-time":"1m"}"#);
    assert_eq!(
        requests[2].body, r#"{"max-store-down-time":"30m0s"}"#,
        "cleanup restores the old value"
    );
    assert_eq!(requests[3].body, "", "and reads it back");
    assert_eq!(report["runs"][0]["undo"][0]["ok"], true);
}

#[test]
fn a_config_undo_that_pd_does_not_take_fails_the_cleanup() {
    let config = r#"{"schedule": {"max-store-down-time": "30m0s"}}"#;
    let changed = r#"{"schedule": {"max-store-down-time": "1m0s"}}"#;
    let updated = (200, "application/json", r#""The config is updated.""#);
    // PD answers the restore but keeps the changed value, every time it is read back.
    let mut answers = vec![(200, "application/json", config), updated, updated];
    answers.extend(std::iter::repeat_n((200, "application/json", changed), 200));
    let (port, _) = serve(answers);
    let dir = scratch("pd-config-unverified");
    let (out, report) = run(
        &dir,
        "[scenario]\nname = \"pd\"\n[vars]\npd = \"\"\n[[steps]]\nid = \"cfg\"\nuses = \"pd.config\"\nwith = { pd = \"{{ vars.pd }}\", set = { max-store-down-time = \"1m\" } }\n",
        &["--var", &format!("pd=http://127.0.0.1:{port}")],
    );
    assert_eq!(code(&out), 4, "{}", String::from_utf8_lossy(&out.stdout));
    let undo = &report["runs"][0]["undo"][0];
    assert_eq!(undo["ok"], false);
    assert!(
        undo["error"]
            .as_str()
            .unwrap()
            .contains("does not have max-store-down-time = \"30m0s\""),
        "{undo}"
    );
}
