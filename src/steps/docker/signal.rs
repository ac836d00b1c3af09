//! Signals as `docker.kill` takes them, and how the fault each one causes is reversed.
//!
//! Docker accepts `SIGKILL`, `KILL` or `9`; the name is checked here at load time, so a typo
//! is a validation error and not a failed step half way through a scenario.

use std::time::Duration;

use crate::steps::OutOfBounds;
use crate::steps::undo::Undo;

/// Linux's signals by number (x86_64 and aarch64 agree on these), without the `SIG` prefix.
const SIGNALS: &[(u8, &str)] = &[
    (1, "HUP"),
    (2, "INT"),
    (3, "QUIT"),
    (4, "ILL"),
    (5, "TRAP"),
    (6, "ABRT"),
    (7, "BUS"),
    (8, "FPE"),
    (9, "KILL"),
    (10, "USR1"),
    (11, "SEGV"),
    (12, "USR2"),
    (13, "PIPE"),
    (14, "ALRM"),
    (15, "TERM"),
    (16, "STKFLT"),
    (17, "CHLD"),
    (18, "CONT"),
    (19, "STOP"),
    (20, "TSTP"),
    (21, "TTIN"),
    (22, "TTOU"),
    (23, "URG"),
    (24, "XCPU"),
    (25, "XFSZ"),
    (26, "VTALRM"),
    (27, "PROF"),
    (28, "WINCH"),
    (29, "IO"),
    (30, "PWR"),
    (31, "SYS"),
];

/// Signals that stop a process without ending it: Docker still reports the container running.
const STOPPING: &[&str] = &["STOP", "TSTP", "TTIN", "TTOU"];

/// How long a process is given to act on a signal that may end it (SIGTERM, SIGINT, …), and
/// the daemon to see a SIGKILLed container exit, before an undo takes the container's state as
/// settled: Docker's own default stop grace.
pub const SETTLES_WITHIN: Duration = Duration::from_secs(10);

/// The signal's name without `SIG` (`"KILL"` for `SIGKILL`, `kill` or `9`), or `None` if
/// Linux has no such signal.
pub fn name(signal: &str) -> Option<&'static str> {
    let upper = signal.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS
        .iter()
        .find(|(number, name)| *name == bare || bare.parse::<u8>().ok() == Some(*number))
        .map(|(_, name)| *name)
}

/// What is wrong with `signal`, as the `signal` parameter.
pub fn bounds(signal: &str) -> Vec<OutOfBounds> {
    if name(signal).is_some() {
        return Vec::new();
    }
    let upper = signal.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let message = match crate::diagnostic::did_you_mean(bare, SIGNALS.iter().map(|(_, n)| *n)) {
        Some(near) => format!("`{signal}` is not a Linux signal: did you mean `SIG{near}`?"),
        None => format!(
            "`{signal}` is not a Linux signal (e.g. SIGKILL, SIGTERM, SIGSTOP, or a number 1-31)"
        ),
    };
    vec![OutOfBounds::new("signal", message)]
}

/// Whether the signal (a name from [`name`]) stops a process rather than ending it.
pub fn is_stopping(name: &str) -> bool {
    STOPPING.contains(&name)
}

/// The undo of sending `signal` to `container` (a known signal, see [`name`]): a stopping
/// signal is reversed by SIGCONT; any other may end the container, which is then started again
/// once the signal has had [`SETTLES_WITHIN`] to take effect.
pub fn undo(signal: &str, container: &str) -> Undo {
    match name(signal) {
        Some(name) if is_stopping(name) => Undo::Continue {
            container: container.to_string(),
        },
        _ => Undo::start(container, SETTLES_WITHIN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_prefixes_are_one_signal() {
        for spelling in ["SIGKILL", "KILL", "kill", "sigkill", "9", " SIGKILL "] {
            assert_eq!(name(spelling), Some("KILL"), "{spelling}");
        }
        assert_eq!(name("SIGSTOP"), Some("STOP"));
        assert_eq!(name("19"), Some("STOP"));
        for wrong in ["SIGKIL", "", "SIG", "0", "32", "64", "-9", "KILL9"] {
            assert_eq!(name(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn stopping_signals_are_undone_by_sigcont_and_the_rest_by_a_start() {
        for stopping in ["SIGSTOP", "SIGTSTP", "TTIN", "22"] {
            assert_eq!(
                undo(stopping, "c"),
                Undo::Continue {
                    container: "c".into()
                },
                "{stopping}"
            );
        }
        for ending in ["SIGKILL", "SIGTERM", "SIGINT", "HUP"] {
            assert!(
                matches!(undo(ending, "c"), Undo::Start { ref container, settles_by_ms: Some(_), .. } if container == "c"),
                "{ending}"
            );
        }
    }
}
