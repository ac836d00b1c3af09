//! `tikv-sim pd` and `tikv-sim store`: see the crate documentation and README.md.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tikv_sim::{log, pd, store};

/// TEST EQUIPMENT, not TiKV: simulates PD and TiKV stores as PD's HTTP API shows them.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the simulated PD (HTTP API under /pd/api/v1/).
    Pd(pd::PdArgs),
    /// Run a simulated TiKV store that registers with PD and heartbeats.
    Store(store::StoreArgs),
}

/// Completes on SIGTERM or SIGINT. As PID 1 in a container the process gets no default
/// signal handling, so without this `docker stop` would wait for its SIGKILL.
async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    log!("signal received, exiting");
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pd(args) => pd::run(args, terminated()).await.map_err(|e| e.to_string()),
        Command::Store(args) => store::run(args, terminated())
            .await
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            log!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
