//! Reading a history must end in a history or in an error that points at a line and column
//! of the text, for any bytes: `chaosplay check` reads files that other tools recorded. A
//! history that reads is then checked under a small budget and its verdict explained, as
//! `chaosplay check` prints it.
//!
//! Bytes become text lossily, as for the playbook target: the CLI refuses a file that is not
//! UTF-8 before reading it, and replacement characters put multi-byte characters where the
//! readers count columns.

#![no_main]

use std::time::{Duration, Instant};

use chaosplay::history::files::{Checked, FileError};
use chaosplay::history::{self, Budget};
use chaosplay::report;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut held_bytes = 0;
    let result = match history::read(&text, None) {
        Ok(parsed) => {
            let budget = Budget {
                deadline: Some(Instant::now() + Duration::from_secs(1)),
                max_bytes: 1 << 24,
            };
            let (verdict, held) = history::check(&parsed.history, parsed.model, budget);
            held_bytes = held;
            Ok((parsed, verdict))
        }
        Err(e) => {
            // Lines as `str::lines` counts them, plus one past the end for "expected more".
            let lines: Vec<&str> = text.lines().collect();
            assert!(e.line >= 1 && e.line <= lines.len() + 1, "{e} of {} lines", lines.len());
            let width = lines.get(e.line - 1).map_or(0, |l| l.chars().count());
            assert!(e.col >= 1 && e.col <= width + 1, "{e}: line {} is {width} wide", e.line);
            Err(FileError::Parse(e, text.to_string()))
        }
    };
    let checked = Checked {
        path: "fuzz.history".into(),
        result,
        elapsed: Duration::ZERO,
        held_bytes,
    };
    let _ = report::history::text(&checked);
    let _ = report::history::json(&checked);
    let _ = report::history::diagnostic(&checked);
});
