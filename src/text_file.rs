//! Reading the text files a run is described by: playbooks, vars files, compose files and the
//! env files they name. `std::fs::read_to_string` reads until the end, which never comes for
//! `/dev/zero` and never starts for a FIFO nobody writes to: a path typo there would hang
//! `chaosplay validate` or eat the machine's memory instead of failing with a message.

use std::fs::File;
use std::io::{self, Read as _};
use std::path::Path;

/// Far beyond any hand-written playbook or compose file, far below memory trouble.
pub const MAX_BYTES: u64 = 16 << 20;

/// A file the user named on the command line. Pipes are read (`--vars-file <(…)` is a file
/// they chose to generate), up to [`MAX_BYTES`].
pub fn read(path: &Path) -> io::Result<String> {
    read_at_most(path, MAX_BYTES)
}

/// [`read`] with another cap, for files that are recorded data rather than written by hand.
pub fn read_at_most(path: &Path, max: u64) -> io::Result<String> {
    let mut bytes = Vec::new();
    File::open(path)?.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large(max));
    }
    String::from_utf8(bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, NotUtf8::new(e.into_bytes())))
}

/// A file that is not UTF-8, with where: one bad byte in a long file is otherwise hard to find.
/// Carries the text (bad bytes replaced) so a caller can quote the line.
#[derive(Debug)]
pub struct NotUtf8 {
    /// Byte offset of the first bad byte, the same in `lossy` (all before it is valid).
    pub offset: usize,
    pub byte: u8,
    pub line: usize,
    /// In characters, from 1.
    pub col: usize,
    pub lossy: String,
}

impl NotUtf8 {
    fn new(bytes: Vec<u8>) -> Self {
        let offset = std::str::from_utf8(&bytes).map_or_else(|e| e.valid_up_to(), |s| s.len());
        let valid = String::from_utf8_lossy(&bytes[..offset]);
        let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
        NotUtf8 {
            offset,
            byte: bytes[offset],
            line: valid.matches('\n').count() + 1,
            col: valid[line_start..].chars().count() + 1,
            lossy: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}

impl std::fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "it is not valid UTF-8: byte 0x{:02x} at line {}, column {}",
            self.byte, self.line, self.col
        )
    }
}

impl std::error::Error for NotUtf8 {}

/// A file named inside another file (a compose file, its `.env`, an `env_file`, a playbook
/// found in a directory): only a regular file is read, since a device or FIFO there is a
/// mistake, and opening a FIFO alone would block. Checked before opening, as opening is what
/// blocks; a size the metadata already shows too large is refused without reading.
pub fn read_regular(path: &Path) -> io::Result<String> {
    let metadata = std::fs::metadata(path)?;
    let kind = metadata.file_type();
    if kind.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory, not a file",
        ));
    }
    if !kind.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file (a device, FIFO or socket)",
        ));
    }
    if metadata.len() > MAX_BYTES {
        return Err(too_large(MAX_BYTES));
    }
    read(path)
}

fn too_large(max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("it is larger than {} MiB", max >> 20),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TempDir;

    #[test]
    fn reads_a_regular_file() {
        let dir = TempDir::new();
        let path = dir.write("p.toml", "name = \"é\"\n");
        assert_eq!(read_regular(&path).unwrap(), "name = \"é\"\n");
        assert_eq!(read(&path).unwrap(), "name = \"é\"\n");
        std::fs::write(&path, b"a = 1\n# caf\xe9\n").unwrap();
        assert_eq!(
            read(&path).unwrap_err().to_string(),
            "it is not valid UTF-8: byte 0xe9 at line 2, column 6"
        );
    }

    #[test]
    fn stops_at_the_size_limit() {
        let err = read(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(err.to_string(), "it is larger than 16 MiB");

        let dir = TempDir::new();
        let path = dir.0.join("big.yaml");
        let file = File::create(&path).unwrap();
        file.set_len(MAX_BYTES + 1).unwrap();
        assert_eq!(
            read_regular(&path).unwrap_err().kind(),
            io::ErrorKind::FileTooLarge
        );
        file.set_len(MAX_BYTES).unwrap();
        assert_eq!(read_regular(&path).unwrap().len() as u64, MAX_BYTES);
    }

    #[test]
    fn refuses_what_is_not_a_regular_file_without_blocking() {
        use std::os::fd::AsRawFd as _;

        let dir = TempDir::new();
        // A pipe whose writer stays open and silent: reading it would never end. Reached by
        // path, not made with `mkfifo`: a child process would inherit (for an instant) the
        // file locks of tests running beside this one.
        let (reader, _writer) = io::pipe().unwrap();
        let fifo = std::path::PathBuf::from(format!("/proc/self/fd/{}", reader.as_raw_fd()));
        for (path, message) in [
            (
                fifo.as_path(),
                "it is not a regular file (a device, FIFO or socket)",
            ),
            (
                Path::new("/dev/zero"),
                "it is not a regular file (a device, FIFO or socket)",
            ),
            (dir.0.as_path(), "it is a directory, not a file"),
        ] {
            assert_eq!(read_regular(path).unwrap_err().to_string(), message);
        }
        assert_eq!(
            read_regular(&dir.0.join("missing")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }
}
