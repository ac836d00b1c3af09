//! Acting inside a container's network namespace with the host's own tools (`nsenter`,
//! `iptables`, `tc`, `ip`), and signalling its processes with the host's `kill`, so the
//! subject's images need neither those tools nor extra capabilities. Entering a namespace by its process id only works where the engine's processes
//! are this machine's processes, and only for root: a local engine and root.
//!
//! A client of its own, not part of the network steps, because undo (at cleanup and in
//! `recover`) removes what the network steps install without depending on those steps.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::clients::docker::{DockerClient, DockerError};

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// This machine cannot act in the container's namespace: a remote engine, not root, a
    /// host tool missing. Nothing the playbook can change.
    #[error("{0}")]
    Environment(String),
    /// A command failed or did not finish, or the container must not be faulted this way.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// Our commands change a few kernel tables; one that hangs (a stuck xtables lock) must not
/// hang the run or its cleanup.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

const REQUIREMENT: &str = "network and process faults need a local Docker engine and root";

/// Root qdiscs that chaosplay installs: only these are ever removed, so a qdisc the subject
/// set up itself survives a cleanup.
const OUR_QDISCS: &[&str] = &["tbf", "netem"];

/// Where to look for a tool besides `PATH`: the sbin directories are often missing from the
/// `PATH` of non-login shells, and that is where these tools live.
const SBIN: &[&str] = &["/usr/sbin", "/sbin"];

/// The Debian package of each tool, for the error that says how to get it.
fn package(tool: &str) -> &'static str {
    match tool {
        "nsenter" => "util-linux",
        "iptables" => "iptables",
        "kill" => "procps",
        _ => "iproute2",
    }
}

/// The path of a host tool, or an error saying what to install.
pub fn tool(name: &str) -> Result<PathBuf, NetnsError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            NetnsError::Environment(format!(
                "faults inside containers need `{name}` on the host (package {}); it is neither on PATH nor in {}",
                package(name),
                SBIN.join(" or ")
            ))
        })
}

/// Checks the tools a fault needs before it registers its undo, so a missing one fails the
/// step (exit 3) instead of failing the cleanup as well.
pub fn require(tools: &[&str]) -> Result<(), NetnsError> {
    tools.iter().try_for_each(|t| tool(t).map(drop))
}

/// Whether `DOCKER_HOST` names an engine on another machine, whose process ids mean nothing
/// here.
fn is_remote(host: &str) -> bool {
    let Some((scheme, rest)) = host.split_once("://") else {
        return false;
    };
    match scheme {
        "unix" | "npipe" => false,
        "tcp" | "http" | "https" => {
            let authority = rest.split('/').next().unwrap_or_default();
            let name = match authority.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or_default(),
                None => authority.split(':').next().unwrap_or_default(),
            };
            !(name == "localhost" || name == "::1" || name.starts_with("127."))
        }
        _ => true,
    }
}

/// The effective user id, from `/proc/self/status` (Linux only, like nsenter itself).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Refuses a remote engine, or a user other than root: what acting on a container from the host
/// needs, checked before a fault registers its undo so it fails the step, not the cleanup.
pub fn require_local_root(docker_host: &str) -> Result<(), NetnsError> {
    if is_remote(docker_host) {
        return Err(NetnsError::Environment(format!(
            "{REQUIREMENT}: DOCKER_HOST is {docker_host}, a remote engine whose containers this machine cannot enter"
        )));
    }
    match effective_uid() {
        Some(0) => Ok(()),
        Some(uid) => Err(NetnsError::Environment(format!(
            "{REQUIREMENT}: chaosplay runs as uid {uid}, and entering a container's namespace or signalling its processes takes root"
        ))),
        None => Err(NetnsError::Environment(format!(
            "{REQUIREMENT}: cannot read /proc/self/status to tell whether this is root"
        ))),
    }
}

/// Makes sure `pid` is the container's own process on this machine, and that its network is
/// not the host's: a socket that looks local may lead to an engine in a VM (where the pid is
/// some unrelated process here), and a `network_mode: host` container would have us drop the
/// host's own traffic.
fn verify_process(container: &str, id: &str, pid: i64) -> Result<(), NetnsError> {
    if in_container(id, pid) != Some(true) {
        return Err(not_here(container, pid));
    }
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/net"));
    let ours = std::fs::read_link("/proc/self/ns/net");
    if let (Ok(theirs), Ok(ours)) = (theirs, ours)
        && theirs == ours
    {
        return Err(NetnsError::Failed(format!(
            "{container} uses the host's network (network_mode: host); chaosplay will not fault the host's own network"
        )));
    }
    Ok(())
}

/// Whether this machine's process `pid` is one of container `id`'s (by its cgroup, which names
/// the container), `None` if there is no such process: a pid from the engine is only
/// meaningful here if the engine runs here, and is reused once its process ends.
pub(crate) fn in_container(id: &str, pid: i64) -> Option<bool> {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    Some(!id.is_empty() && cgroup.contains(id))
}

pub(crate) fn not_here(container: &str, pid: i64) -> NetnsError {
    NetnsError::Environment(format!(
        "{REQUIREMENT}: process {pid} of {container} is not on this machine (is the engine remote, or in a VM?)"
    ))
}

/// Sends `signal` (a name without `SIG`) to process `pid` of `container`, as the engine's
/// host knows it, from the host: the container's image needs no `kill`. The pid is checked to
/// still be the container's right before, and its main process is refused (that is
/// `docker.kill`, which Docker tracks). Returns whether the process was there to signal.
pub async fn signal_process(
    docker: &DockerClient,
    container: &str,
    pid: i64,
    signal: &str,
) -> Result<bool, NetnsError> {
    require_local_root(docker.host())?;
    let kill = tool("kill")?;
    let state = docker.network_state(container).await?;
    if pid == state.pid {
        return Err(NetnsError::Failed(format!(
            "process {pid} is the main process (PID 1) of {container}; signal it with docker.kill"
        )));
    }
    match in_container(&state.id, pid) {
        None => return Ok(false),
        Some(false) => return Err(not_here(container, pid)),
        Some(true) => {}
    }
    let (pid, what) = (
        pid.to_string(),
        format!("kill -s {signal} {pid} ({container})"),
    );
    let ran = host(&what, kill, &["-s", signal, &pid]).await?;
    match ran.ok {
        true => Ok(true),
        // It ended between the check and the signal.
        false if ran.stderr.contains("No such process") => Ok(false),
        false => Err(NetnsError::Failed(format!(
            "`{what}` failed: {}",
            ran.stderr
        ))),
    }
}

/// Runs a host program, bounded by [`COMMAND_TIMEOUT`]; `what` names it in errors.
async fn host(what: &str, program: PathBuf, args: &[&str]) -> Result<Ran, NetnsError> {
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(COMMAND_TIMEOUT, output)
        .await
        .map_err(|_| {
            NetnsError::Failed(format!(
                "`{what}` did not finish within {}",
                crate::duration::human(COMMAND_TIMEOUT)
            ))
        })?
        .map_err(|e| NetnsError::Failed(format!("cannot run `{what}`: {e}")))?;
    Ok(Ran {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}

/// What a host command did.
pub struct Ran {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A running container's network namespace, entered from the host through its main process.
/// The process is looked up by container name each time, so undo finds the namespace of
/// whatever runs under that name now.
#[derive(Debug, Clone)]
pub struct Netns {
    pub container: String,
    pid: i64,
}

impl Netns {
    /// The namespace of a container, or `None` if it is gone or not running (its namespace,
    /// and every rule or qdisc in it, went with its process).
    pub async fn of(docker: &DockerClient, container: &str) -> Result<Option<Netns>, NetnsError> {
        require_local_root(docker.host())?;
        tool("nsenter")?;
        let state = match docker.network_state(container).await {
            Ok(state) => state,
            Err(DockerError::NoSuchContainer(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if state.pid <= 0 {
            return Ok(None);
        }
        verify_process(container, &state.id, state.pid)?;
        Ok(Some(Netns {
            container: container.to_string(),
            pid: state.pid,
        }))
    }

    /// The namespace of a container a fault is about to act on: it must be running.
    pub async fn running(docker: &DockerClient, container: &str) -> Result<Netns, NetnsError> {
        Netns::of(docker, container).await?.ok_or_else(|| {
            NetnsError::Failed(format!(
                "{container} is not running, so it has no network to fault"
            ))
        })
    }

    /// Runs a host tool inside the namespace, bounded by [`COMMAND_TIMEOUT`].
    pub async fn run(&self, program: &str, args: &[&str]) -> Result<Ran, NetnsError> {
        let what = format!("{program} {}` in `{}", args.join(" "), self.container);
        let (pid, program) = (self.pid.to_string(), tool(program)?);
        let mut all = vec!["-t", &pid, "-n", program.to_str().unwrap_or_default()];
        all.extend_from_slice(args);
        host(&what, tool("nsenter")?, &all).await
    }

    /// Runs a host tool inside the namespace; failing is an error.
    async fn run_ok(&self, program: &str, args: &[&str]) -> Result<String, NetnsError> {
        let ran = self.run(program, args).await?;
        if ran.ok {
            Ok(ran.stdout)
        } else {
            Err(NetnsError::Failed(format!(
                "`{program} {}` in {} failed: {}",
                args.join(" "),
                self.container,
                ran.stderr
            )))
        }
    }

    /// `iptables`, waiting for the xtables lock (which is shared by every namespace) rather
    /// than failing when another tool holds it.
    async fn iptables(&self, args: &[&str]) -> Result<Ran, NetnsError> {
        let mut all = vec!["-w", "5"];
        all.extend_from_slice(args);
        self.run("iptables", &all).await
    }

    async fn iptables_ok(&self, args: &[&str]) -> Result<String, NetnsError> {
        let mut all = vec!["-w", "5"];
        all.extend_from_slice(args);
        self.run_ok("iptables", &all).await
    }

    /// Creates `chain` (if missing) and makes the built-in chains of `hooks` jump to it
    /// first. Only [`Hook::Resolver`] sees `lo`, so no other fault cuts a container off from
    /// itself or from Docker's DNS server (127.0.0.11).
    pub async fn ensure_chain(&self, chain: &str, hooks: &[Hook]) -> Result<(), NetnsError> {
        if !self.iptables(&["-S", chain]).await?.ok {
            self.iptables_ok(&["-N", chain]).await?;
        }
        for (builtin, matches) in hooks.iter().map(|h| h.rule()) {
            let mut jump = matches.to_vec();
            jump.extend_from_slice(&["-j", chain]);
            let mut check = vec!["-C", builtin];
            check.extend_from_slice(&jump);
            if !self.iptables(&check).await?.ok {
                let mut insert = vec!["-I", builtin, "1"];
                insert.extend_from_slice(&jump);
                self.iptables_ok(&insert).await?;
            }
        }
        Ok(())
    }

    pub async fn append_rule(&self, chain: &str, rule: &[&str]) -> Result<(), NetnsError> {
        let mut args = vec!["-A", chain];
        args.extend_from_slice(rule);
        self.iptables_ok(&args).await.map(drop)
    }

    /// Whether `chain`, or a jump to it from a built-in chain, is in the namespace.
    pub async fn has_chain(&self, chain: &str) -> Result<bool, NetnsError> {
        for builtin in BUILTINS {
            let listing = self.iptables_ok(&["-S", builtin]).await?;
            if !jumps_to(&listing, chain).is_empty() {
                return Ok(true);
            }
        }
        Ok(self.iptables(&["-S", chain]).await?.ok)
    }

    /// Removes `chain`, its rules and every jump to it; nothing to remove is fine.
    pub async fn remove_chain(&self, chain: &str) -> Result<(), NetnsError> {
        for builtin in BUILTINS {
            let listing = self.iptables_ok(&["-S", builtin]).await?;
            for rule in jumps_to(&listing, chain) {
                let mut delete = vec!["-D"];
                delete.extend(rule.iter().map(String::as_str));
                self.iptables_ok(&delete).await?;
            }
        }
        if self.iptables(&["-S", chain]).await?.ok {
            self.iptables_ok(&["-F", chain]).await?;
            self.iptables_ok(&["-X", chain]).await?;
        }
        Ok(())
    }

    /// The interfaces to shape: `device`, or every interface that is up except `lo`.
    pub async fn devices(&self, device: Option<&str>) -> Result<Vec<String>, NetnsError> {
        if let Some(device) = device {
            return Ok(vec![device.to_string()]);
        }
        let listing = self.run_ok("ip", &["-j", "link", "show", "up"]).await?;
        let links: Vec<serde_json::Value> = serde_json::from_str(&listing).map_err(|e| {
            NetnsError::Failed(format!(
                "cannot read `ip -j link` in {}: {e}",
                self.container
            ))
        })?;
        let devices: Vec<String> = links
            .iter()
            .filter_map(|l| l["ifname"].as_str())
            .filter(|name| *name != "lo")
            .map(str::to_string)
            .collect();
        if devices.is_empty() {
            return Err(NetnsError::Failed(format!(
                "{} has no network interface besides lo",
                self.container
            )));
        }
        Ok(devices)
    }

    /// Replaces the root qdisc of `device` (`qdisc` is e.g. `["tbf", "rate", …]`); the caller
    /// reads tc's complaint if it fails.
    pub async fn replace_root_qdisc(
        &self,
        device: &str,
        qdisc: &[String],
    ) -> Result<Ran, NetnsError> {
        let mut args = vec!["qdisc", "replace", "dev", device, "root"];
        args.extend(qdisc.iter().map(String::as_str));
        self.run("tc", &args).await
    }

    /// Deletes the root qdisc of `device` if it is one chaosplay installs; an interface that
    /// is gone (its network was disconnected) has nothing left to remove.
    pub async fn clear_root_qdisc(&self, device: &str) -> Result<(), NetnsError> {
        if self.has_our_root_qdisc(device).await? {
            self.run_ok("tc", &["qdisc", "del", "dev", device, "root"])
                .await?;
        }
        Ok(())
    }

    /// Whether the root qdisc of `device` is one chaosplay installs (tbf or netem); an
    /// interface that is gone has none.
    pub async fn has_our_root_qdisc(&self, device: &str) -> Result<bool, NetnsError> {
        let shown = self
            .run("tc", &["-j", "qdisc", "show", "dev", device, "root"])
            .await?;
        if !shown.ok {
            return if shown.stderr.contains("Cannot find device") {
                Ok(false)
            } else {
                Err(NetnsError::Failed(format!(
                    "`tc qdisc show dev {device}` in {} failed: {}",
                    self.container, shown.stderr
                )))
            };
        }
        let qdiscs: Vec<serde_json::Value> = serde_json::from_str(&shown.stdout).map_err(|e| {
            NetnsError::Failed(format!(
                "cannot read `tc -j qdisc show dev {device}` in {}: {e}",
                self.container
            ))
        })?;
        Ok(qdiscs
            .iter()
            .any(|q| q["root"] == true && OUR_QDISCS.contains(&q["kind"].as_str().unwrap_or(""))))
    }
}

/// What undo needs, by container name: a container that is gone or not running took its
/// namespace, and every rule and qdisc in it, along, so there is nothing left to see or remove.
pub mod by_name {
    use super::{DockerClient, Netns, NetnsError};

    /// Whether `chain`, or a jump to it, is still in the container's namespace.
    pub async fn has_chain(
        docker: &DockerClient,
        container: &str,
        chain: &str,
    ) -> Result<bool, NetnsError> {
        match Netns::of(docker, container).await? {
            Some(ns) => ns.has_chain(chain).await,
            None => Ok(false),
        }
    }

    /// Removes `chain`, its rules and the jumps to it.
    pub async fn remove_chain(
        docker: &DockerClient,
        container: &str,
        chain: &str,
    ) -> Result<(), NetnsError> {
        match Netns::of(docker, container).await? {
            Some(ns) => ns.remove_chain(chain).await,
            None => Ok(()),
        }
    }

    /// Whether a qdisc chaosplay installs is still the root qdisc of `device`.
    pub async fn has_our_qdisc(
        docker: &DockerClient,
        container: &str,
        device: &str,
    ) -> Result<bool, NetnsError> {
        match Netns::of(docker, container).await? {
            Some(ns) => ns.has_our_root_qdisc(device).await,
            None => Ok(false),
        }
    }

    /// Removes the root qdisc of `device` if chaosplay installed it.
    pub async fn clear_qdisc(
        docker: &DockerClient,
        container: &str,
        device: &str,
    ) -> Result<(), NetnsError> {
        match Netns::of(docker, container).await? {
            Some(ns) => ns.clear_root_qdisc(device).await,
            None => Ok(()),
        }
    }
}

/// The built-in chains a fault's chain is jumped to from.
const BUILTINS: [&str; 2] = ["INPUT", "OUTPUT"];

/// Docker's embedded DNS server inside every container on a user-defined network.
pub const RESOLVER: &str = "127.0.0.11/32";

/// Which packets a fault's chain sees: those the container receives, those it sends (neither
/// on loopback), or those it sends to Docker's DNS server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Input,
    Output,
    /// The filter table sees these after Docker's NAT rules sent them on to the server's
    /// real (random) port, so they are matched by address, not by port 53.
    Resolver,
}

impl Hook {
    /// The built-in chain, and the match of the jump from it.
    fn rule(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Hook::Input => ("INPUT", &["!", "-i", "lo"]),
            Hook::Output => ("OUTPUT", &["!", "-o", "lo"]),
            Hook::Resolver => ("OUTPUT", &["-d", RESOLVER]),
        }
    }
}

/// The rules of an `iptables -S <builtin>` listing that jump to `chain`, without their `-A`,
/// ready to be deleted with `-D`.
fn jumps_to(listing: &str, chain: &str) -> Vec<Vec<String>> {
    listing
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let jumps = words.windows(2).any(|w| w == ["-j", chain]);
            (words.first() == Some(&"-A") && jumps)
                .then(|| words[1..].iter().map(|w| w.to_string()).collect())
        })
        .collect()
}

/// Whether tc failed because the kernel lacks the qdisc's module (tc asks the kernel, which
/// tries to load it; old tc versions only relay the kernel's ENOENT).
pub fn qdisc_kind_unknown(stderr: &str) -> bool {
    stderr.contains("qdisc kind is unknown") || stderr.contains("No such file or directory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_engines() {
        for local in [
            "unix:///var/run/docker.sock",
            "tcp://127.0.0.1:2375",
            "tcp://localhost:2375",
            "tcp://[::1]:2375",
            "/var/run/docker.sock",
        ] {
            assert!(!is_remote(local), "{local}");
        }
        for remote in [
            "tcp://10.0.0.5:2376",
            "ssh://user@host",
            "https://docker.example:2376",
        ] {
            assert!(is_remote(remote), "{remote}");
        }
    }

    #[test]
    fn jumps_are_found_for_deletion() {
        let listing = "-P INPUT ACCEPT\n-A INPUT ! -i lo -j CHAOSPLAY-LOSS\n-A INPUT -j CHAOSPLAY-LOSSY\n-A INPUT ! -i lo -j CHAOSPLAY-PARTITION\n";
        assert_eq!(
            jumps_to(listing, "CHAOSPLAY-LOSS"),
            [["INPUT", "!", "-i", "lo", "-j", "CHAOSPLAY-LOSS"]]
        );
    }

    #[test]
    fn tools_are_found_or_named() {
        assert!(tool("sh").unwrap().is_file());
        let missing = tool("no-such-chaosplay-tool").unwrap_err().to_string();
        assert!(
            missing.contains("faults inside containers need `no-such-chaosplay-tool` on the host")
        );
    }
}
