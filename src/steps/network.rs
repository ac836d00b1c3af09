//! `network.*`: network faults on the subject's containers — partitions, packet loss, bandwidth
//! limits, delay — and `network.heal`, which reverses them.
//!
//! A partition without `peers` goes through the Engine API (disconnect now, reconnect on heal),
//! which works with any engine. The other faults act inside the containers' network namespaces
//! with the host's tools (see [`crate::clients::netns`]), so they need a local engine and root, but nothing in
//! the subject's images. Like every fault, each registers its undo before it acts.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::select::{self, hit_output, hit_outputs, select, selector_params};
use super::undo::{Family, Undo};
use super::undo_faults::lift_family;
use super::{Effect, OutOfBounds, Params, StepDoc};
use crate::clients::docker::{Container, DockerClient};
use crate::clients::netns::{self, Hook, Netns};
use crate::duration::Duration;
use crate::engine::{StepContext, StepError};

/// The chain of `network.partition` rules (with `peers`).
const PARTITION_CHAIN: &str = "CHAOSPLAY-PARTITION";
/// The chain of `network.loss` rules.
const LOSS_CHAIN: &str = "CHAOSPLAY-LOSS";

/// Which of a container's packets a fault affects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// What it receives and what it sends.
    #[default]
    Both,
    /// Only what it receives.
    Incoming,
    /// Only what it sends.
    Outgoing,
}

impl Direction {
    fn hooks(self) -> &'static [Hook] {
        match self {
            Direction::Both => &[Hook::Input, Hook::Output],
            Direction::Incoming => &[Hook::Input],
            Direction::Outgoing => &[Hook::Output],
        }
    }
}

selector_params! {
    pick = "select::pick_all";
    /// The other side of a partition: selected like the step's own containers, all matches by
    /// default.
    pub struct Peers {}
}

selector_params! {
    pick = "select::pick_random";
    bounds = peers_bounds;
    pub struct PartitionParams {
        /// Cut the containers off only from these, chosen with the same keys as the step's
        /// own (`service`, `container`, `labels`, …; all matches by default), e.g.
        /// `{ service = "pd*" }`: their traffic is dropped with iptables inside the containers.
        /// Without it, the containers are disconnected from every network they are on.
        #[serde(default)]
        pub peers: Option<Peers>,
    }
}

fn peers_bounds(p: &PartitionParams) -> Vec<OutOfBounds> {
    let peers = p.peers.iter().flat_map(Params::bounds);
    peers
        .map(|e| OutOfBounds::new("peers", format!("in `peers`: {}", e.message)))
        .collect()
}

pub const PARTITION_DOC: StepDoc = StepDoc {
    summary: "Cut containers off the network: disconnect them from their networks, or, with `peers`, drop only the traffic between them and the peers. Undo: reconnect them (same aliases, same static address), or remove the rules.",
    outputs: hit_outputs!(
        ("mode", "`disconnect` or `peers`"),
        (
            "networks",
            "disconnect: each {container, network, aliases, ipv4} cut"
        ),
        ("peers", "peers: names of the peer containers"),
        (
            "addresses",
            "peers: the peer addresses whose traffic is dropped"
        ),
    ),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "reconnect the containers to their networks (same aliases and static address), or remove its traffic rules",
    },
    example: "id = \"cut\"\nuses = \"network.partition\"\nwith = { service = \"tikv0\", peers = { service = \"pd*\" } }",
};

pub async fn partition(p: PartitionParams, cx: &StepContext) -> Result<Value, StepError> {
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    let mut out = hit_output(&hit);
    // Every output field is always there (empty for the other mode), so a playbook can read
    // any of them whichever mode a template chose.
    match &p.peers {
        None => {
            out["mode"] = json!("disconnect");
            out["networks"] = disconnect(cx, docker, &hit).await?;
            out["peers"] = json!([]);
            out["addresses"] = json!([]);
        }
        Some(peers) => {
            let peers = select(cx, &peers.selector()).await?;
            out["mode"] = json!("peers");
            out["networks"] = json!([]);
            out["peers"] = json!(peers.iter().map(|c| &c.name).collect::<Vec<_>>());
            out["addresses"] = drop_peers(cx, docker, &hit, &peers).await?;
        }
    }
    Ok(out)
}

/// Disconnects each container from each of its networks, recording how to reconnect it.
async fn disconnect(
    cx: &StepContext,
    docker: &DockerClient,
    hit: &[Container],
) -> Result<Value, StepError> {
    let mut cut = Vec::new();
    for c in hit {
        let state = docker.network_state(&c.name).await?;
        if state.attachments.is_empty() {
            return Err(StepError::Failed(format!(
                "{} is on no network it could be disconnected from (network mode `{}`)",
                c.name, state.network_mode
            )));
        }
        for a in state.attachments {
            cx.register_undo(Undo::Reconnect {
                container: c.name.clone(),
                network: a.network.clone(),
                aliases: a.aliases.clone(),
                ipv4: a.static_ipv4.clone(),
            })?;
            cx.status(format!("disconnecting {} from {}", c.name, a.network));
            let (docker, name, network) = (docker.clone(), c.name.clone(), a.network.clone());
            cx.apply_fault(async move { Ok(docker.disconnect_network(&name, &network).await?) })
                .await?;
            cut.push(json!({"container": c.name, "network": a.network, "aliases": a.aliases, "ipv4": a.ipv4}));
        }
    }
    Ok(json!(cut))
}

/// Drops, inside each container, every packet from or to a peer's IPv4 addresses (a container
/// that is its own peer keeps talking to itself).
async fn drop_peers(
    cx: &StepContext,
    docker: &DockerClient,
    hit: &[Container],
    peers: &[Container],
) -> Result<Value, StepError> {
    let mut targets = Vec::new();
    for c in hit {
        targets.push(Netns::running(docker, &c.name).await?);
    }
    netns::require(&["iptables"])?;
    let mut peer_addresses = Vec::new();
    for peer in peers {
        let state = docker.network_state(&peer.name).await?;
        let addresses: Vec<String> = state
            .attachments
            .into_iter()
            .filter_map(|a| a.ipv4)
            .collect();
        peer_addresses.push((peer.name.as_str(), addresses));
    }
    let mut all = BTreeSet::new();
    for ns in &targets {
        let addresses: BTreeSet<&String> = peer_addresses
            .iter()
            .filter(|(name, _)| *name != ns.container)
            .flat_map(|(_, a)| a)
            .collect();
        if addresses.is_empty() {
            return Err(StepError::Failed(format!(
                "the peers of {} have no IPv4 address to cut it off from (are they running?)",
                ns.container
            )));
        }
        cx.register_undo(Undo::FlushIptables {
            container: ns.container.clone(),
            chain: PARTITION_CHAIN.into(),
        })?;
        cx.status(format!(
            "dropping {} peer addresses in {}",
            addresses.len(),
            ns.container
        ));
        let rules = addresses
            .iter()
            .flat_map(|a| [["-s", a, "-j", "DROP"], ["-d", a, "-j", "DROP"]])
            .map(|rule| rule.map(str::to_string).to_vec())
            .collect();
        let hooks = Direction::Both.hooks();
        install_rules(cx, ns, Chain::Add(PARTITION_CHAIN), hooks, rules).await?;
        all.extend(addresses.into_iter().cloned());
    }
    Ok(json!(all))
}

/// Whether a fault's rules join those already in its chain (partitions from several steps
/// add up) or replace them (a new loss rate replaces the old one).
#[derive(Debug, Clone, Copy)]
pub(super) enum Chain {
    Add(&'static str),
    Replace(&'static str),
}

/// Installs `rules` in a chain that `hooks` jump to, as one fault action
/// ([`StepContext::apply_fault`]): once started it runs to its end even if the step is
/// stopped, so an undo or a heal that follows never races a rule still being added.
pub(super) async fn install_rules(
    cx: &StepContext,
    ns: &Netns,
    chain: Chain,
    hooks: &'static [Hook],
    rules: Vec<Vec<String>>,
) -> Result<(), StepError> {
    let ns = ns.clone();
    cx.apply_fault(async move {
        let name = match chain {
            Chain::Add(name) => name,
            Chain::Replace(name) => {
                ns.remove_chain(name).await?;
                name
            }
        };
        ns.ensure_chain(name, hooks).await?;
        for rule in &rules {
            let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
            ns.append_rule(name, &rule).await?;
        }
        Ok(())
    })
    .await
}

selector_params! {
    pick = "select::pick_all";
    pub struct HealParams {}
}

pub const HEAL_DOC: StepDoc = StepDoc {
    summary: "Reverse the network faults this run applied to containers (all matches by default): reconnect them, remove loss, partition and DNS rules and bandwidth or delay qdiscs. A background `network.*` fault step still running is stopped first (status `stopped`), whichever containers it acts on, so it applies nothing more.",
    outputs: hit_outputs!(
        ("healed", "what was reversed, one description each"),
        (
            "stopped",
            "the ids of the background network fault steps that were still running and were stopped first"
        ),
    ),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::None,
    example: "uses = \"network.heal\"\nwith = { service = \"tikv0\" }",
};

pub async fn heal(p: HealParams, cx: &StepContext) -> Result<Value, StepError> {
    lift_family(cx, &p.selector(), Family::Network, "healed").await
}

selector_params! {
    pick = "select::pick_random";
    bounds = loss_bounds;
    pub struct LossParams {
        /// Share of packets to drop, in percent: more than 0 and at most 100 (e.g. `30`,
        /// `2.5`). (`percent` picks containers, as in every container step.)
        pub loss_percent: f64,
        /// Which packets: `both` (default; each packet is dropped on its own, so a request and
        /// its reply are each at risk), `incoming` or `outgoing`. Loopback traffic is never
        /// dropped.
        #[serde(default)]
        pub direction: Direction,
    }
}

fn loss_bounds(p: &LossParams) -> Vec<OutOfBounds> {
    if p.loss_percent > 0.0 && p.loss_percent <= 100.0 {
        return Vec::new();
    }
    vec![OutOfBounds::new(
        "loss_percent",
        format!(
            "`loss_percent` must be more than 0 and at most 100, not {:?}",
            p.loss_percent
        ),
    )]
}

pub const LOSS_DOC: StepDoc = StepDoc {
    summary: "Drop a random share of containers' packets (iptables `statistic` inside the container; no kernel module beyond iptables needed). A second loss on a container replaces the first. Undo: remove the rules.",
    outputs: hit_outputs!(
        ("loss_percent", "the share of packets dropped"),
        ("direction", "which packets: both, incoming or outgoing"),
    ),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "remove its iptables rules",
    },
    example: "uses = \"network.loss\"\nwith = { service = \"etcd*\", pick = \"all\", loss_percent = 30 }",
};

pub async fn loss(p: LossParams, cx: &StepContext) -> Result<Value, StepError> {
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    let mut targets = Vec::new();
    for c in &hit {
        targets.push(Netns::running(docker, &c.name).await?);
    }
    netns::require(&["iptables"])?;
    let probability = (p.loss_percent / 100.0).to_string();
    for ns in &targets {
        cx.register_undo(Undo::FlushIptables {
            container: ns.container.clone(),
            chain: LOSS_CHAIN.into(),
        })?;
        cx.status(format!("dropping {}% in {}", p.loss_percent, ns.container));
        let rule = ["-m", "statistic", "--mode", "random", "--probability"]
            .into_iter()
            .chain([probability.as_str(), "-j", "DROP"])
            .map(str::to_string)
            .collect();
        let hooks = p.direction.hooks();
        install_rules(cx, ns, Chain::Replace(LOSS_CHAIN), hooks, vec![rule]).await?;
    }
    let mut out = hit_output(&hit);
    out["loss_percent"] = json!(p.loss_percent);
    out["direction"] = json!(p.direction);
    Ok(out)
}

selector_params! {
    pick = "select::pick_random";
    bounds = bandwidth_bounds;
    pub struct BandwidthParams {
        /// The most the containers may send per second, in tc's units: `"1mbit"`,
        /// `"500kbit"`, `"2mbps"` (bytes), …
        pub rate: String,
        /// Size of the token bucket, in tc's units (`"32kbit"`, `"64kb"`); by default 10 ms
        /// at `rate`, at least 16 KiB.
        #[serde(default)]
        pub burst: Option<String>,
        /// Longest a packet may wait for tokens before it is dropped.
        #[serde(default = "fifty_ms")]
        pub latency: Duration,
        /// Interface inside the containers; by default every interface that is up except
        /// `lo`.
        #[serde(default)]
        pub device: Option<String>,
    }
}

fn fifty_ms() -> Duration {
    Duration::from_millis(50)
}

fn bandwidth_bounds(p: &BandwidthParams) -> Vec<OutOfBounds> {
    let bits = match parse_rate(&p.rate) {
        Ok(bits) => bits,
        Err(e) => return vec![OutOfBounds::new("rate", e)],
    };
    let mut out = Vec::new();
    if p.burst.is_none() && default_burst(bits) > TC_MAX_BYTES {
        out.push(OutOfBounds::new(
            "rate",
            format!(
                "`rate` = \"{}\" is more than tc can shape with its default burst (10 ms at the rate), which must fit tc's 32-bit byte count: at most {} bit/s",
                p.rate,
                TC_MAX_BYTES * 100 * 8
            ),
        ));
    } else if p.latency.0.is_zero() {
        out.push(OutOfBounds::new(
            "latency",
            "`latency` must be more than 0: tc's tbf needs it to size its queue",
        ));
    } else if queue_limit(bits, p) > TC_MAX_BYTES as f64 {
        out.push(OutOfBounds::new(
            "latency",
            format!(
                "`latency` = \"{}\" at `rate` = \"{}\" queues more than tc can count: the queue, rate × latency + burst, must fit tc's 32-bit byte count ({TC_MAX_BYTES} bytes); lower `rate` or `latency`",
                p.latency, p.rate
            ),
        ));
    }
    out
}

/// tc's tbf takes its rate as a 64-bit count of bytes per second, but its bucket (`burst`)
/// and its queue (`limit`, which tc derives as rate × latency + burst) as 32-bit byte counts:
/// beyond them tc refuses the burst ("Illegal burst") or silently wraps the limit.
const TC_MAX_BYTES: u64 = u32::MAX as u64;

/// The bucket when the playbook sets none: 10 ms at `bits` per second, at least 16 KiB.
fn default_burst(bits: u64) -> u64 {
    (bits / 8 / 100).max(16 * 1024)
}

/// The queue tc sizes for `latency`, in bytes; a `burst` the playbook sets (in tc's units,
/// which tc parses) counts as none.
fn queue_limit(bits: u64, p: &BandwidthParams) -> f64 {
    let burst = if p.burst.is_none() {
        default_burst(bits)
    } else {
        0
    };
    bits as f64 / 8.0 * p.latency.0.as_secs_f64() + burst as f64
}

pub const BANDWIDTH_DOC: StepDoc = StepDoc {
    summary: "Limit the rate at which containers send (tc `tbf` as the root qdisc, replacing any other; delay on the same interface is replaced too). Undo: remove the qdisc.",
    outputs: hit_outputs!(
        ("rate_bits", "the limit, in bits per second"),
        ("devices", "each {container, device} shaped"),
    ),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "remove its qdisc",
    },
    example: "uses = \"network.bandwidth\"\nwith = { service = \"tikv0\", rate = \"1mbit\" }",
};

pub async fn bandwidth(p: BandwidthParams, cx: &StepContext) -> Result<Value, StepError> {
    let bits = parse_rate(&p.rate).map_err(StepError::Params)?;
    let burst = p
        .burst
        .clone()
        .unwrap_or_else(|| default_burst(bits).to_string());
    let qdisc = [
        "tbf".to_string(),
        "rate".into(),
        format!("{bits}bit"),
        "burst".into(),
        burst,
        "latency".into(),
        micros(p.latency),
    ];
    let hit = select(cx, &p.selector()).await?;
    let shaped = set_root_qdisc(
        cx,
        &hit,
        p.device.as_deref(),
        &qdisc,
        (
            "network.bandwidth needs the kernel module sch_tbf",
            "network.loss works without it",
        ),
    )
    .await?;
    let mut out = hit_output(&hit);
    out["rate_bits"] = json!(bits);
    out["devices"] = shaped;
    Ok(out)
}

selector_params! {
    pick = "select::pick_random";
    bounds = delay_bounds;
    pub struct DelayParams {
        /// Added to every packet the containers send.
        pub delay: Duration,
        /// Random variation around `delay`.
        #[serde(default)]
        pub jitter: Option<Duration>,
        /// Interface inside the containers; by default every interface that is up except
        /// `lo`.
        #[serde(default)]
        pub device: Option<String>,
    }
}

fn delay_bounds(p: &DelayParams) -> Vec<OutOfBounds> {
    if p.delay.0.is_zero() {
        return vec![OutOfBounds::new("delay", "`delay` must be more than 0")];
    }
    Vec::new()
}

pub const DELAY_DOC: StepDoc = StepDoc {
    summary: "Delay the packets containers send (tc `netem` as the root qdisc, replacing any other). Needs the kernel module sch_netem; fails clearly without it. Undo: remove the qdisc.",
    outputs: hit_outputs!(("devices", "each {container, device} delayed")),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "remove its qdisc",
    },
    example: "uses = \"network.delay\"\nwith = { service = \"pd0\", delay = \"100ms\", jitter = \"20ms\" }",
};

pub async fn delay(p: DelayParams, cx: &StepContext) -> Result<Value, StepError> {
    let mut qdisc = vec!["netem".to_string(), "delay".into(), micros(p.delay)];
    qdisc.extend(p.jitter.map(micros));
    let hit = select(cx, &p.selector()).await?;
    let delayed = set_root_qdisc(
        cx,
        &hit,
        p.device.as_deref(),
        &qdisc,
        (
            "network.delay needs the kernel module sch_netem",
            "network.loss and network.bandwidth work without it",
        ),
    )
    .await?;
    let mut out = hit_output(&hit);
    out["devices"] = delayed;
    Ok(out)
}

/// A duration as tc reads it, to the microsecond.
fn micros(d: Duration) -> String {
    format!("{}us", d.0.as_micros())
}

/// Installs `qdisc` as the root qdisc of the devices of each container. When the kernel lacks
/// the qdisc, the step fails saying what `missing` says (what is needed, and what works
/// instead): no fault is faked in its place.
async fn set_root_qdisc(
    cx: &StepContext,
    hit: &[Container],
    device: Option<&str>,
    qdisc: &[String],
    missing: (&str, &str),
) -> Result<Value, StepError> {
    let docker = cx.docker().await?;
    let mut targets = Vec::new();
    for c in hit {
        targets.push(Netns::running(docker, &c.name).await?);
    }
    netns::require(&["tc", "ip"])?;
    let mut done = Vec::new();
    for ns in &targets {
        for device in ns.devices(device).await? {
            cx.register_undo(Undo::ClearQdisc {
                container: ns.container.clone(),
                device: device.clone(),
            })?;
            cx.status(format!("{} on {device} in {}", qdisc[0], ns.container));
            // A fault action: it runs to its end even if the step is stopped meanwhile.
            let action = (ns.clone(), device.clone(), qdisc.to_vec());
            let ran = cx
                .apply_fault(async move {
                    let (ns, device, qdisc) = action;
                    Ok(ns.replace_root_qdisc(&device, &qdisc).await?)
                })
                .await?;
            if !ran.ok {
                return Err(StepError::Failed(
                    if netns::qdisc_kind_unknown(&ran.stderr) {
                        format!(
                            "{}, which this kernel does not have (tc: {}); {}",
                            missing.0, ran.stderr, missing.1
                        )
                    } else {
                        format!(
                            "`tc qdisc replace dev {device} root {}` in {} failed: {}",
                            qdisc.join(" "),
                            ns.container,
                            ran.stderr
                        )
                    },
                ));
            }
            done.push(json!({"container": ns.container, "device": device}));
        }
    }
    Ok(json!(done))
}

/// A tc rate (`"1mbit"`, `"500kbit"`, `"2mbps"`, `"1gibit"`) in bits per second. Parsed here,
/// not left to tc, so a typo is an invalid parameter and the default burst can follow the rate.
fn parse_rate(rate: &str) -> Result<u64, String> {
    let text = rate.trim().to_ascii_lowercase();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bits_per_unit: f64 = match unit {
        "" | "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "tbit" => 1e12,
        "kibit" => 1024.0,
        "mibit" => 1024.0 * 1024.0,
        "gibit" => 1024.0 * 1024.0 * 1024.0,
        "bps" => 8.0,
        "kbps" => 8e3,
        "mbps" => 8e6,
        "gbps" => 8e9,
        "kibps" => 8.0 * 1024.0,
        "mibps" => 8.0 * 1024.0 * 1024.0,
        "gibps" => 8.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "`rate` = \"{rate}\": unknown unit `{unit}` (use bit, kbit, mbit, gbit, bps, kbps, mbps, gbps or kibit, mibit, …)"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`rate` = \"{rate}\" is not a rate such as \"1mbit\""))?;
    let bits = (value * bits_per_unit).round();
    if bits < 8.0 {
        return Err(format!(
            "`rate` = \"{rate}\" is less than a byte per second"
        ));
    }
    // `as` would saturate: a rate beyond u64 would silently become u64::MAX.
    if bits >= u64::MAX as f64 {
        return Err(format!(
            "`rate` = \"{rate}\" is beyond any rate tc can shape (2^64 bit/s or more)"
        ));
    }
    Ok(bits as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("1mbit"), Ok(1_000_000));
        assert_eq!(parse_rate("500kbit"), Ok(500_000));
        assert_eq!(parse_rate("2MBps"), Ok(16_000_000));
        assert_eq!(parse_rate("1.5mibit"), Ok(1_572_864));
        assert_eq!(parse_rate("8000"), Ok(8000));
        assert!(parse_rate("1 meg").unwrap_err().contains("unknown unit"));
        assert!(parse_rate("mbit").is_err());
        assert!(parse_rate("0kbit").is_err());
        assert!(
            parse_rate("99999999999999999999gbit")
                .unwrap_err()
                .contains("beyond any rate")
        );
    }

    fn bandwidth(with: &str) -> Vec<String> {
        let (table, _) = toml::de::DeTable::parse_recoverable(with);
        let node = crate::playbook::node::Node::from_table(&table).unwrap();
        let p: BandwidthParams = crate::playbook::check::check(&node).unwrap();
        bandwidth_bounds(&p)
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    #[test]
    fn rates_beyond_what_tc_counts_are_refused() {
        // 50 ms of queue plus 10 ms of bucket must fit 4 GiB: 572.6 Gbit/s at most.
        assert!(bandwidth("service = \"s\"\nrate = \"572gbit\"").is_empty());
        let over = bandwidth("service = \"s\"\nrate = \"573gbit\"");
        assert!(over[0].starts_with("`latency` = \"50ms\" at `rate` = \"573gbit\" queues more"));
        assert!(bandwidth("service = \"s\"\nrate = \"573gbit\"\nlatency = \"40ms\"").is_empty());
        let bucket = bandwidth("service = \"s\"\nrate = \"4tbit\"");
        assert!(bucket[0].contains("default burst"), "{bucket:?}");
        let zero = bandwidth("service = \"s\"\nrate = \"1mbit\"\nlatency = \"0s\"");
        assert!(zero[0].starts_with("`latency` must be more than 0"));
    }
}
