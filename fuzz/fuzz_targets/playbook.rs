//! Playbook loading must end in a playbook or in diagnostics for any text, never in a panic or
//! a hang: `chaosplay validate` is what people run on a file they are still writing.
//!
//! Bytes become text lossily: the CLI refuses a playbook that is not UTF-8 before parsing, so
//! no behaviour is lost, and a replacement character (three bytes) in place of a bad byte keeps
//! every mutation useful while putting multi-byte characters where spans and carets are
//! computed. After a successful load the target goes on with what `list`, `plan` and
//! `run --jobs` do next, short of Docker, the network and writes.

#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use chaosplay::diagnostic::Source;
use chaosplay::playbook::{self, LoadError, Playbook};
use chaosplay::report::listing;
use libfuzzer_sys::fuzz_target;

/// The compose files (and what they read) that the seed playbooks name, at the same relative
/// places as in the repository, so the seeds load in full and reach matrix expansion instead of
/// stopping at a missing file.
const FILES: &[(&str, &str)] = &[
    (
        "subjects/etcd/docker-compose.yaml",
        include_str!("../../subjects/etcd/docker-compose.yaml"),
    ),
    (
        "subjects/tikv/docker-compose.yaml",
        include_str!("../../subjects/tikv/docker-compose.yaml"),
    ),
    (
        "subjects/tikv-sim/docker-compose.yaml",
        include_str!("../../subjects/tikv-sim/docker-compose.yaml"),
    ),
    (
        "scenarios/docker-compose.yaml",
        include_str!("../../subjects/tikv-sim/docker-compose.yaml"),
    ),
    (
        "scenarios/compose.yaml",
        include_str!("../../tests/fixtures/compose/full/compose.yaml"),
    ),
    (
        "scenarios/.env",
        include_str!("../../tests/fixtures/compose/full/.env"),
    ),
    (
        "scenarios/db.env",
        include_str!("../../tests/fixtures/compose/full/db.env"),
    ),
];

/// Where the fuzzed playbook claims to live: a scratch directory, so relative names in
/// `[subject]` resolve there and never into the repository or the working directory. One for
/// every fuzzing process, since libFuzzer exits without running destructors to remove a
/// directory per process; files are replaced by a rename, so a parallel job (`-jobs`) never
/// reads one half-written.
static PLAYBOOK: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join("chaosplay-fuzz");
    for (name, text) in FILES {
        let path = dir.join(name);
        let partial = path.with_extension(format!("{}.partial", std::process::id()));
        std::fs::create_dir_all(path.parent().expect("a relative file name has a parent"))
            .and_then(|()| std::fs::write(&partial, text))
            .and_then(|()| std::fs::rename(&partial, &path))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
    dir.join("scenarios/fuzz.toml")
});

fuzz_target!(|data: &[u8]| {
    let source = Source::new(PLAYBOOK.as_path(), String::from_utf8_lossy(data));
    match playbook::parse(source, &serde_json::Map::new()) {
        Ok(playbook) => after_loading(playbook),
        Err(e) => report(&e),
    }
});

/// What the CLI prints for an invalid playbook; rendering quotes the text at every span.
fn report(error: &LoadError) {
    if let LoadError::Invalid { diagnostics, .. } = error {
        assert!(
            !diagnostics.is_empty(),
            "an invalid playbook must say why: {error:?}"
        );
    }
    let _ = error.to_string();
}

/// `list`'s entries, and `plan` short of asking Docker: every step's line, the containers
/// selector of fault steps, and one playbook per matrix cell.
fn after_loading(playbook: Playbook) {
    let monitors = playbook.monitors.iter().map(|m| &m.step);
    let steps = playbook
        .steps
        .iter()
        .chain(&playbook.finally)
        .chain(monitors);
    for step in steps {
        let _ = playbook.source.line_col(step.span.start);
        let _ = step.display_name();
        if let Some(Ok(selector)) = step.kind.selector(step.with.to_json()) {
            let _ = selector.amount(3);
        }
    }
    let entries = listing::entries(&playbook);
    let _ = listing::text(&entries);
    let _ = listing::github(&entries);
    // `--trials 2 --jobs 2`: each trial resolved for a project of its own.
    match (1..=2)
        .map(|trial| playbook.for_parallel_trial(trial))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(trials) => {
            let _ = Playbook::shared_host_port(&trials);
        }
        Err(e) => report(&e),
    }
    match playbook.expand() {
        Ok(cells) => {
            for cell in cells {
                let _ = cell.run_name();
            }
        }
        Err(e) => report(&e),
    }
}
