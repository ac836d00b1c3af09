//! The undo ledger: faults applied and not yet reversed, kept durably on disk per compose
//! project, so that a runner that is SIGKILLed (or a machine that reboots) does not leave a
//! cluster paused or cut off for good: `chaosplay recover` replays what is outstanding.
//!
//! The file is written and fsynced before each fault is applied, and removed once every undo
//! is done. A lock file next to it keeps two runs off the same project.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::steps::undo::Undo;

/// Where ledgers live: `$CHAOSPLAY_STATE_DIR`, else `$XDG_STATE_HOME/chaosplay`, else
/// `~/.local/state/chaosplay`.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CHAOSPLAY_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("chaosplay");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/state/chaosplay"),
        None => std::env::temp_dir().join("chaosplay-state"),
    }
}

/// What the ledger file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LedgerFile {
    pub key: String,
    /// The run that wrote it.
    pub pid: u32,
    pub scenario: String,
    /// Oldest first.
    pub undo: Vec<Undo>,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("another chaosplay run is using `{key}` (lock {path}); wait for it, or stop it")]
    Busy { key: String, path: PathBuf },
    #[error(
        "an earlier run left {count} fault(s) on `{key}` unreversed ({path}); run `chaosplay recover --project {key}` first, or pass --ignore-ledger to adopt them (this run's cleanup then reverses them)"
    )]
    Outstanding {
        key: String,
        path: PathBuf,
        count: usize,
    },
    #[error("undo ledger {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The open ledger of one run: the in-memory list and its durable copy.
#[derive(Debug)]
pub struct Ledger {
    key: String,
    scenario: String,
    path: PathBuf,
    undos: Mutex<Vec<Undo>>,
    /// Held for the whole run; released when dropped. None for an in-memory ledger.
    _lock: Option<File>,
    lock_path: PathBuf,
    /// The key is this run's alone (no compose project): its lock file goes with it.
    private: bool,
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if self.private {
            let _ = std::fs::remove_file(&self.lock_path);
        }
    }
}

impl Ledger {
    /// Locks `key` for this run. Outstanding undos of an earlier run are refused unless
    /// `adopt`, in which case this run takes them over.
    pub fn open(key: &str, scenario: &str, adopt: bool) -> Result<Ledger, LedgerError> {
        Self::open_with(key, scenario, adopt, false)
    }

    /// A ledger under a key no other run uses.
    pub fn private(key: &str, scenario: &str) -> Result<Ledger, LedgerError> {
        Self::open_with(key, scenario, false, true)
    }

    /// A ledger kept in memory only, for `chaosplay plan`, which applies no fault.
    pub fn in_memory() -> Ledger {
        Ledger {
            key: String::new(),
            scenario: String::new(),
            path: PathBuf::new(),
            undos: Mutex::default(),
            _lock: None,
            lock_path: PathBuf::new(),
            private: false,
        }
    }

    fn open_with(
        key: &str,
        scenario: &str,
        adopt: bool,
        private: bool,
    ) -> Result<Ledger, LedgerError> {
        let dir = state_dir();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let lock_path = dir.join(format!("{key}.lock"));
        let lock = lock(&lock_path, key)?;
        let path = dir.join(format!("{key}.json"));
        let earlier = read(&path)?.map(|f| f.undo).unwrap_or_default();
        if !earlier.is_empty() && !adopt {
            return Err(LedgerError::Outstanding {
                key: key.into(),
                path,
                count: earlier.len(),
            });
        }
        Ok(Ledger {
            key: key.into(),
            scenario: scenario.into(),
            path,
            undos: Mutex::new(earlier),
            _lock: Some(lock),
            lock_path,
            private,
        })
    }

    fn list(&self) -> std::sync::MutexGuard<'_, Vec<Undo>> {
        self.undos.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an undo durably; call before applying its fault.
    pub fn push(&self, undo: Undo) -> Result<(), LedgerError> {
        let mut list = self.list();
        if !list.contains(&undo) {
            list.push(undo);
            self.save(&list)?;
        }
        Ok(())
    }

    /// Forgets undos made unnecessary by `done` (a step that reversed a fault itself).
    pub fn remove(&self, done: &Undo) -> Result<(), LedgerError> {
        let mut list = self.list();
        let before = list.len();
        list.retain(|u| !u.is_done_by(done));
        if list.len() != before {
            self.save(&list)?;
        }
        Ok(())
    }

    /// Outstanding undos, oldest first.
    pub fn pending(&self) -> Vec<Undo> {
        self.list().clone()
    }

    /// After cleanup: keeps exactly `left` (the undos that failed) for `chaosplay recover`.
    pub fn settle(&self, left: Vec<Undo>) -> Result<(), LedgerError> {
        let mut list = self.list();
        *list = left;
        self.save(&list)
    }

    fn save(&self, list: &[Undo]) -> Result<(), LedgerError> {
        if self._lock.is_none() {
            return Ok(());
        }
        if list.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&self.path)(e)),
                _ => Ok(()),
            };
        }
        let file = LedgerFile {
            key: self.key.clone(),
            pid: std::process::id(),
            scenario: self.scenario.clone(),
            undo: list.to_vec(),
        };
        durable_write(
            &self.path,
            &serde_json::to_vec_pretty(&file).expect("a ledger serializes"),
        )
    }
}

fn lock(path: &Path, key: &str) -> Result<File, LedgerError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io(path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(LedgerError::Busy {
            key: key.into(),
            path: path.to_path_buf(),
        }),
        Err(TryLockError::Error(e)) => Err(io(path)(e)),
    }
}

fn read(path: &Path) -> Result<Option<LedgerFile>, LedgerError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| LedgerError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// After a crash the ledger is either the old one or the new one, never half written.
fn durable_write(path: &Path, bytes: &[u8]) -> Result<(), LedgerError> {
    crate::durable::replace(path, bytes, crate::durable::Sync::Durable).map_err(io(path))
}

/// Ledgers with outstanding undos, for `chaosplay recover`: all of them, or one project's.
pub fn outstanding(key: Option<&str>) -> Result<Vec<String>, LedgerError> {
    let dir = state_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&dir)(e)),
    };
    let mut keys: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(str::to_string)
        })
        .filter(|k| key.is_none_or(|wanted| wanted == k))
        .collect();
    keys.sort();
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_a_new_process_and_refuses_until_adopted() {
        let dir = crate::test_support::TempDir::new();
        // SAFETY: tests in this module are the only users of this variable in this process.
        unsafe { std::env::set_var("CHAOSPLAY_STATE_DIR", &dir.0) };
        let undo = Undo::Unpause {
            container: "c".into(),
        };
        {
            let ledger = Ledger::open("p", "s", false).unwrap();
            assert!(matches!(
                Ledger::open("p", "s", false),
                Err(LedgerError::Busy { .. })
            ));
            ledger.push(undo.clone()).unwrap();
            // Dropped without settling: as if the runner had been killed.
        }
        assert!(matches!(
            Ledger::open("p", "s", false),
            Err(LedgerError::Outstanding { count: 1, .. })
        ));
        assert_eq!(outstanding(None).unwrap(), ["p"]);
        let adopted = Ledger::open("p", "s", true).unwrap();
        assert_eq!(adopted.pending(), std::slice::from_ref(&undo));
        adopted.remove(&undo).unwrap();
        assert!(outstanding(Some("p")).unwrap().is_empty());
    }
}
