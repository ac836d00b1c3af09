//! tikv-sim: TEST EQUIPMENT, not TiKV. An offline simulator of a PD + TiKV cluster as seen
//! through PD's HTTP API, so chaosplay's TiKV scenarios can run in CI without registry
//! access. Deliberately independent of the chaosplay crate: a shared misunderstanding of
//! PD's JSON would otherwise cancel out in the tests. See README.md for what is simulated.

pub mod cluster;
pub mod http;
pub mod pd;
pub mod store;
pub mod units;
pub mod views;

/// Prints one timestamped line on stderr (container logs).
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        eprintln!("[{}] {}", $crate::units::rfc3339(std::time::SystemTime::now()), format_args!($($arg)*))
    };
}
