//! The HTTP client `http.request` and `load.http` share, built once per process.
//!
//! Building it loads the system's TLS roots, which takes tens of milliseconds with OpenSSL 3
//! (it parses every certificate of the bundle). A run whose playbooks send HTTP requests calls
//! [`warm_up`] as it starts, so the client is built on a thread of its own while the playbook
//! is prepared and the first steps run, instead of delaying the first request: e.g. the first
//! poll that should see a killed member stop answering.

use std::sync::OnceLock;
use std::time::Duration;

static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();

/// The shared client (built now if [`warm_up`] has not finished it; a caller arriving while
/// it is being built waits for it).
pub fn client() -> &'static reqwest::Client {
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default()
    })
}

/// Starts building the client on a background thread.
pub fn warm_up() {
    if CLIENT.get().is_none() {
        std::thread::spawn(|| {
            client();
        });
    }
}
