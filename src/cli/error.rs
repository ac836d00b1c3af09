//! The command line's one error type and its one printer. Every command returns
//! `Result<ExitCode, Error>`; `cli::main` prints the error and exits with its code, so what a
//! failure looks like and which exit code it gets are decided here and nowhere else (as just's
//! `src/run.rs`). Reporters and the progress display still print their own output.

use std::fmt::Display;
use std::process::ExitCode;

use crate::engine::exit;

/// Why a command could not do its work: the messages to show, in order, and the exit code.
#[derive(Debug)]
pub struct Error {
    code: i32,
    /// Each exactly as printed (a rendered diagnostic, or `error: …`), newline included.
    messages: Vec<String>,
}

impl Error {
    /// Bad input, found before anything ran: exit 2.
    pub fn invalid(message: impl Display) -> Self {
        Error::with_code(exit::INVALID, message)
    }

    /// The machine could not do what was asked (no runtime, no Docker, a full disk): exit 3.
    pub fn environment(message: impl Display) -> Self {
        Error::with_code(exit::ENVIRONMENT, message)
    }

    pub fn with_code(code: i32, message: impl Display) -> Self {
        Error {
            code,
            messages: vec![format!("error: {message}\n")],
        }
    }

    /// Problems that render themselves (a playbook's `file:line:col` diagnostics): exit 2.
    pub fn diagnostics(problems: impl IntoIterator<Item = impl Display>) -> Self {
        Error {
            code: exit::INVALID,
            messages: problems.into_iter().map(|p| format!("{p}\n")).collect(),
        }
    }

    /// A diagnostic that already ends its own lines (`check`'s history parse errors).
    pub fn rendered(code: i32, text: String) -> Self {
        Error {
            code,
            messages: vec![text],
        }
    }

    /// Both errors' messages, with the more serious exit code.
    pub fn and(mut self, other: Error) -> Self {
        self.messages.extend(other.messages);
        self.at_least(other.code)
    }

    /// At least this exit code: a run that failed (1) and could not write its report (3)
    /// exits 3; one whose cleanup failed (4) still exits 4.
    pub fn at_least(mut self, code: i32) -> Self {
        self.code = self.code.max(code);
        self
    }

    pub fn code(&self) -> i32 {
        self.code
    }

    /// The one place the command line writes an error.
    pub fn print(&self) {
        for message in &self.messages {
            eprint!("{message}");
        }
    }
}

/// Something the user should know that does not stop the command.
pub fn warn(message: impl Display) {
    eprintln!("warning: {message}");
}

/// An exit code as the process returns it.
pub fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The async runtime the engine's commands run on.
pub fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Runtime::new()
        .map_err(|e| Error::environment(format_args!("cannot start the async runtime: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_their_order_and_the_worst_code_wins() {
        let error = Error::invalid("first")
            .and(Error::environment("second"))
            .at_least(exit::FAILED);
        assert_eq!(error.code(), exit::ENVIRONMENT);
        assert_eq!(error.messages, ["error: first\n", "error: second\n"]);
        assert_eq!(Error::invalid("x").at_least(exit::CLEANUP_FAILED).code(), 4);
    }

    #[test]
    fn diagnostics_are_printed_as_they_render() {
        let error = Error::diagnostics(["error: a\n --> p.toml:1:1\n", "error: b"]);
        assert_eq!(error.code(), exit::INVALID);
        assert_eq!(
            error.messages,
            ["error: a\n --> p.toml:1:1\n\n", "error: b\n"]
        );
    }
}
