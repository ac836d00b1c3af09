//! `network.dns`: name resolution inside containers fails.
//!
//! Containers on user-defined networks (every compose project's) ask Docker's embedded DNS
//! server at 127.0.0.11. Docker's own NAT rules in the container's namespace send those
//! queries on to a random port, before the filter table sees them, so the fault matches them
//! by address: a chain of its own, jumped to from OUTPUT for 127.0.0.11, rejects them (an ICMP
//! error for UDP, a reset for TCP), so a lookup fails in milliseconds instead of waiting out
//! the resolver's timeouts. Only all names can fail: iptables can match bytes of a query, not
//! a name pattern (a query spells names as length-prefixed labels), so a glob would be a guess.

use serde_json::Value;

use super::select::{self, hit_output, hit_outputs, select, selector_params};
use super::undo::Undo;
use super::{Effect, StepDoc};
use crate::clients::docker::{Container, DockerClient};
use crate::clients::netns::{self, Hook, Netns};
use crate::engine::{StepContext, StepError};

const DNS_CHAIN: &str = "CHAOSPLAY-DNS";

selector_params! {
    pick = "select::pick_random";
    pub struct DnsParams {}
}

pub const DOC: StepDoc = StepDoc {
    summary: "Make name resolution inside containers fail: every query to Docker's embedded DNS server (127.0.0.11) is rejected inside the container, so lookups fail within milliseconds. Needs a user-defined network (every compose project has one). Undo: remove the rules.",
    outputs: hit_outputs!(),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "remove its iptables rules, and check they are gone",
    },
    example: "uses = \"network.dns\"\nwith = { service = \"etcd1\" }",
};

pub async fn run(p: DnsParams, cx: &StepContext) -> Result<Value, StepError> {
    let hit = select(cx, &p.selector()).await?;
    let docker = cx.docker().await?;
    let mut targets = Vec::new();
    for c in &hit {
        require_embedded_dns(docker, c).await?;
        targets.push(Netns::running(docker, &c.name).await?);
    }
    netns::require(&["iptables"])?;
    for ns in &targets {
        cx.register_undo(Undo::FlushIptables {
            container: ns.container.clone(),
            chain: DNS_CHAIN.into(),
        })?;
        cx.status(format!("rejecting DNS queries in {}", ns.container));
        ns.remove_chain(DNS_CHAIN).await?;
        ns.ensure_chain(DNS_CHAIN, &[Hook::Resolver]).await?;
        ns.append_rule(DNS_CHAIN, &["-p", "udp", "-j", "REJECT"])
            .await?;
        let reset = ["-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"];
        ns.append_rule(DNS_CHAIN, &reset).await?;
    }
    Ok(hit_output(&hit))
}

/// Refuses a container that does not ask Docker's embedded DNS server: on the default
/// `bridge` network (or `host`, `none`) it uses the host's resolvers, which the fault would
/// not touch, and the step would pass with names still resolving.
async fn require_embedded_dns(docker: &DockerClient, c: &Container) -> Result<(), StepError> {
    let state = docker.network_state(&c.name).await?;
    if state.attachments.iter().any(|a| a.network != "bridge") {
        return Ok(());
    }
    Err(StepError::Failed(format!(
        "{} is on no user-defined network (network mode `{}`), so it does not use Docker's embedded DNS server and network.dns cannot fault its lookups",
        c.name, state.network_mode
    )))
}
