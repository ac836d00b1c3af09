//! Checking history files side by side: each read, parsed and checked on its own, on as many
//! threads as there are cores, the results handed on in the order the files were given.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
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
    /// The most memory one key's search held, as `--max-memory` counts it (0 if unchecked).
    pub held_bytes: usize,
}

/// Files totalling less than this are checked on the calling thread alone. Most runs are a
/// few small histories, checked in a millisecond or two: on a loaded machine a helper thread
/// that took a file and was then preempted kept the run waiting longer than the whole check
/// (bench/RESULTS.md, issue #17: the four kv histories, 122 KB, checked 1.1-1.3× faster alone
/// with six busy processes on two cores).
const PARALLEL_FROM_BYTES: u64 = 256 << 10;

/// Checks the files and hands each result to `done`, in the files' order, as soon as it and
/// every earlier one are checked. The calling thread checks files too, beside one helper
/// thread per further core when there is enough to check.
pub fn check_files(paths: &[PathBuf], options: Options, mut done: impl FnMut(Checked)) {
    let next = AtomicUsize::new(0);
    let take = || {
        let i = next.fetch_add(1, Ordering::Relaxed);
        paths.get(i).map(|path| (i, path))
    };
    let bytes: u64 = paths
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|metadata| metadata.len())
        .sum();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let helpers = match bytes {
        PARALLEL_FROM_BYTES.. => cores.min(paths.len()).saturating_sub(1),
        _ => 0,
    };
    let mut ready = InOrder::new(paths.len());
    std::thread::scope(|scope| {
        let (sender, results) = mpsc::channel();
        for _ in 0..helpers {
            let sender = sender.clone();
            scope.spawn(move || {
                while let Some((i, path)) = take() {
                    if sender.send((i, check_file(path, options))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        while let Some((i, path)) = take() {
            ready.put(i, check_file(path, options), &mut done);
            for (i, checked) in results.try_iter() {
                ready.put(i, checked, &mut done);
            }
        }
        for (i, checked) in results {
            ready.put(i, checked, &mut done);
        }
    });
}

/// Results that arrive in any order, handed on in order.
struct InOrder {
    waiting: Vec<Option<Checked>>,
    next: usize,
}

impl InOrder {
    fn new(len: usize) -> Self {
        InOrder {
            waiting: (0..len).map(|_| None).collect(),
            next: 0,
        }
    }

    fn put(&mut self, i: usize, checked: Checked, done: &mut impl FnMut(Checked)) {
        self.waiting[i] = Some(checked);
        while let Some(checked) = self.waiting.get_mut(self.next).and_then(Option::take) {
            done(checked);
            self.next += 1;
        }
    }
}

fn check_file(path: &Path, options: Options) -> Checked {
    let started = Instant::now();
    let budget = Budget {
        deadline: Some(started + options.timeout),
        max_bytes: options.max_bytes,
    };
    let mut held_bytes = 0;
    let result = super::read_file(path)
        .map_err(FileError::Read)
        .and_then(|text| super::read(&text, options.model).map_err(|e| FileError::Parse(e, text)))
        .map(|parsed| {
            let (verdict, held) = super::check(&parsed.history, parsed.model, budget);
            held_bytes = held;
            (parsed, verdict)
        });
    Checked {
        path: path.to_path_buf(),
        result,
        elapsed: started.elapsed(),
        held_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    const OK: &str = "{:process 0, :type :invoke, :f :put, :key \"k\", :value \"a\"}\n\
                      {:process 0, :type :ok, :f :put, :key \"k\", :value \"a\"}\n";
    const STALE: &str = "{:process 0, :type :invoke, :f :put, :key \"k\", :value \"a\"}\n\
                         {:process 0, :type :ok, :f :put, :key \"k\", :value \"a\"}\n\
                         {:process 1, :type :invoke, :f :get, :key \"k\", :value nil}\n\
                         {:process 1, :type :ok, :f :get, :key \"k\", :value \"\"}\n";

    fn options() -> Options {
        Options {
            model: None,
            timeout: Duration::from_secs(60),
            max_bytes: 1 << 26,
        }
    }

    /// Checks `files` (name, text) and returns (name, linearizable?) in the order handed on.
    fn checked(files: &[(&str, String)]) -> Vec<(String, Option<bool>)> {
        let dir = TempDir::new();
        let paths: Vec<_> = files.iter().map(|(n, t)| dir.write(n, t)).collect();
        let mut out = Vec::new();
        check_files(&paths, options(), |c| {
            let name = c.path.file_name().unwrap().to_string_lossy().into_owned();
            let verdict = c.result.ok().map(|(_, v)| v == Verdict::Linearizable);
            out.push((name, verdict));
        });
        out
    }

    #[test]
    fn small_sets_are_handed_on_in_order() {
        let files = [
            ("a", OK.to_string()),
            ("b", STALE.to_string()),
            ("c", "not a history".to_string()),
            ("d", OK.to_string()),
        ];
        let verdicts = [Some(true), Some(false), None, Some(true)];
        let got = checked(&files);
        let names: Vec<_> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert_eq!(got.iter().map(|(_, v)| *v).collect::<Vec<_>>(), verdicts);
    }

    #[test]
    fn large_sets_on_helper_threads_are_handed_on_in_order() {
        // Past the threshold, so helpers check files too: the order must not depend on
        // which thread finished first.
        let big = OK.repeat((PARALLEL_FROM_BYTES as usize / OK.len()) + 1);
        let mut files = vec![("big", big)];
        for i in 0..12 {
            let text = if i % 3 == 0 { STALE } else { OK };
            files.push((
                [
                    "f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "fa", "fb",
                ][i],
                text.to_string(),
            ));
        }
        let got = checked(&files);
        let names: Vec<_> = got.iter().map(|(n, _)| n.clone()).collect();
        let expected: Vec<_> = files.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(names, expected);
        assert!(
            got[1..]
                .iter()
                .enumerate()
                .all(|(i, (_, v))| *v == Some(i % 3 != 0))
        );
    }

    #[test]
    fn results_arriving_out_of_order_wait_for_the_earlier_ones() {
        let done = |i: usize| Checked {
            path: PathBuf::from(i.to_string()),
            result: Err(FileError::Read(std::io::ErrorKind::NotFound.into())),
            elapsed: Duration::ZERO,
            held_bytes: 0,
        };
        let mut order = InOrder::new(3);
        let mut seen = Vec::new();
        order.put(2, done(2), &mut |c| seen.push(c.path));
        order.put(1, done(1), &mut |c| seen.push(c.path));
        assert!(seen.is_empty(), "{seen:?}");
        order.put(0, done(0), &mut |c| seen.push(c.path));
        assert_eq!(seen, ["0", "1", "2"].map(PathBuf::from));
    }
}
