//! Checking history files side by side: each read, parsed and checked on its own, on as many
//! threads as there are cores, the results kept in the order the files were given.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{Budget, Model, ParseError, Parsed, Verdict};

/// What `chaosplay check` was asked.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Overrides the model the format implies.
    pub model: Option<Model>,
    /// Per file, from when its check starts.
    pub timeout: Duration,
    /// Per key of a file.
    pub max_bytes: usize,
}

#[derive(Debug)]
pub enum FileError {
    Read(std::io::Error),
    /// With the text, so a diagnostic can quote the line.
    Parse(ParseError, String),
}

/// One file's result.
#[derive(Debug)]
pub struct Checked {
    pub path: PathBuf,
    pub result: Result<(Parsed, Verdict), FileError>,
    /// Reading, parsing and checking.
    pub elapsed: Duration,
}

pub fn check_files(paths: &[PathBuf], options: Options) -> Vec<Checked> {
    let next = AtomicUsize::new(0);
    let results: Vec<Mutex<Option<Checked>>> = paths.iter().map(|_| Mutex::new(None)).collect();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|scope| {
        for _ in 0..threads.min(paths.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(i) else { break };
                    let checked = check_file(path, options);
                    *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(checked);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|r| {
            r.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every file is checked")
        })
        .collect()
}

fn check_file(path: &Path, options: Options) -> Checked {
    let started = Instant::now();
    let budget = Budget {
        deadline: Some(started + options.timeout),
        max_bytes: options.max_bytes,
    };
    let result = crate::text_file::read(path)
        .map_err(FileError::Read)
        .and_then(|text| super::read(&text, options.model).map_err(|e| FileError::Parse(e, text)))
        .map(|parsed| {
            let verdict = super::check(&parsed.history, parsed.model, budget);
            (parsed, verdict)
        });
    Checked {
        path: path.to_path_buf(),
        result,
        elapsed: started.elapsed(),
    }
}
