//! `network.dns`: name resolution inside containers fails.
//!
//! Containers on user-defined networks (every compose project's) ask Docker's embedded DNS
//! server at 127.0.0.11. Docker's own NAT rules in the container's namespace send those
//! queries on to a random port, before the filter table sees them, so the fault matches them
//! by address: a chain of its own, jumped to from OUTPUT for 127.0.0.11, rejects them (an ICMP
//! error for UDP, a reset for TCP), so a lookup fails in milliseconds instead of waiting out
//! the resolver's timeouts.
//!
//! With `names`, only queries for those names are rejected, matched by their bytes (iptables'
//! `string` match, case-insensitive): a query spells a name as length-prefixed labels
//! (`etcd1` is `|05|etcd1|00|`), so a name or a suffix (`*.svc`) has one exact spelling, while
//! a prefix (`etcd*`) has none — the length byte before it depends on the rest of the label.
//! Over UDP the question sits at a fixed offset (40: IPv4 20 + UDP 8 + DNS header 12), so an
//! exact name is anchored there and `*.svc` must start after it (a subdomain, not `svc`
//! itself). Over TCP the offset depends on TCP options, so the bytes are matched anywhere
//! (`etcd1` also rejects `x.etcd1`); resolvers use TCP only after a truncated UDP answer.
//! A resolver that appends search domains asks for `etcd1.<domain>` too, which is not
//! rejected: the host's resolvers normally answer that it does not exist.

use serde_json::Value;

use super::network::{Chain, install_rules};
use super::select::{self, hit_output, hit_outputs, select, selector_params};
use super::undo::Undo;
use super::{Effect, OutOfBounds, StepDoc};
use crate::clients::docker::{Container, DockerClient};
use crate::clients::netns::{self, Hook, Netns};
use crate::engine::{StepContext, StepError};

const DNS_CHAIN: &str = "CHAOSPLAY-DNS";

/// Where a UDP query's question starts in the packet, as iptables' string match counts.
const UDP_QUESTION: usize = 20 + 8 + 12;

selector_params! {
    pick = "select::pick_random";
    bounds = names_bounds;
    pub struct DnsParams {
        /// Reject only queries for these names: exact names (`"etcd1"`, `"db.example.com"`)
        /// or suffixes (`"*.svc"`: any name under `svc`, not `svc` itself). Default: all.
        #[serde(default)]
        pub names: Option<Vec<String>>,
    }
}

fn names_bounds(p: &DnsParams) -> Vec<OutOfBounds> {
    let names = p.names.iter().flatten();
    names
        .filter_map(|n| Pattern::parse(n).err())
        .map(|e| OutOfBounds::new("names", e))
        .chain((p.names.as_ref().is_some_and(Vec::is_empty)).then(|| {
            OutOfBounds::new(
                "names",
                "`names` is empty: leave it out to reject every name",
            )
        }))
        .collect()
}

/// A name to reject, in a query's wire format.
#[derive(Debug, PartialEq, Eq)]
struct Pattern {
    /// The labels as iptables' `--hex-string` (`|05|etcd1|00|`).
    hex: String,
    /// Its length in bytes.
    len: usize,
    /// `*.` + a name: a suffix, preceded by at least one label.
    suffix: bool,
}

impl Pattern {
    fn parse(pattern: &str) -> Result<Pattern, String> {
        let (suffix, name) = match pattern.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        if name.contains(['*', '?', '[', ']']) {
            return Err(format!(
                "`{pattern}` cannot be matched in a query: a query spells each label after its length byte, which a prefix or `?` pattern leaves unknown, so only an exact name (`etcd1`) or `*.` + a name (`*.example.com`) can be; list the names instead (`[\"etcd1\", \"etcd2\"]`)"
            ));
        }
        check_name(name).map_err(|why| format!("`{pattern}` is not a DNS name: {why}"))?;
        let mut hex = String::new();
        for label in name.split('.') {
            hex.push_str(&format!("|{:02x}|{label}", label.len()));
        }
        hex.push_str("|00|");
        let len = name.len() + 2;
        Ok(Pattern { hex, len, suffix })
    }

    /// The iptables match of the queries for this name over `proto`.
    fn matches(&self, proto: &str) -> Vec<String> {
        let mut m: Vec<String> = ["-p", proto, "-m", "string", "--algo", "bm", "--icase"]
            .map(String::from)
            .into();
        if proto == "udp" {
            let from = UDP_QUESTION + usize::from(self.suffix);
            m.extend(["--from".into(), from.to_string()]);
            if !self.suffix {
                m.extend(["--to".into(), (UDP_QUESTION + self.len).to_string()]);
            }
        }
        m.extend(["--hex-string".into(), self.hex.clone()]);
        m
    }
}

/// A DNS name as RFC 1035 bounds it: labels of 1–63 letters, digits, `-` or `_` (compose
/// names carry `_`), 253 characters in all.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err("a name has 1 to 253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("it has an empty label (`..`, or a dot at an end)".into());
        }
        if label.len() > 63 {
            return Err(format!("label `{label}` must have 1 to 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_".contains(*c)))
        {
            return Err(format!(
                "`{c}` is not allowed in a label (letters, digits, `-`, `_`)"
            ));
        }
    }
    Ok(())
}

pub const DOC: StepDoc = StepDoc {
    summary: "Make name resolution inside containers fail: queries to Docker's embedded DNS server (127.0.0.11) are rejected inside the container — all of them, or with `names` only those for the given names or `*.suffix` — so lookups fail within milliseconds. Needs a user-defined network (every compose project has one). Undo: remove the rules.",
    outputs: hit_outputs!(),
    expressions: &[],
    read_only: false,
    needs_docker: true,
    effect: Effect::Fault {
        undo: "remove its iptables rules, and check they are gone",
    },
    example: "uses = \"network.dns\"\nwith = { service = \"etcd1\", names = [\"etcd2\", \"*.svc\"] }",
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
    let rules = rules(p.names.as_deref())?;
    for ns in &targets {
        cx.register_undo(Undo::FlushIptables {
            container: ns.container.clone(),
            chain: DNS_CHAIN.into(),
        })?;
        cx.status(format!("rejecting DNS queries in {}", ns.container));
        let chain = Chain::Replace(DNS_CHAIN);
        install_rules(cx, ns, chain, &[Hook::Resolver], rules.clone()).await?;
    }
    Ok(hit_output(&hit))
}

/// The chain's rules: a UDP and a TCP rejection for every name, or for all queries.
fn rules(names: Option<&[String]>) -> Result<Vec<Vec<String>>, StepError> {
    let patterns = match names {
        None => vec![None],
        Some(names) => names
            .iter()
            .map(|n| Pattern::parse(n).map(Some).map_err(StepError::Failed))
            .collect::<Result<_, _>>()?,
    };
    let mut rules = Vec::new();
    for pattern in &patterns {
        for (proto, reject) in [("udp", "icmp-port-unreachable"), ("tcp", "tcp-reset")] {
            let mut rule = match pattern {
                Some(p) => p.matches(proto),
                None => vec!["-p".into(), proto.into()],
            };
            rule.extend(["-j", "REJECT", "--reject-with", reject].map(String::from));
            rules.push(rule);
        }
    }
    Ok(rules)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_suffixes_are_spelled_as_labels() {
        let exact = Pattern::parse("db.example.com").unwrap();
        assert_eq!(exact.hex, "|02|db|07|example|03|com|00|");
        assert_eq!((exact.len, exact.suffix), (16, false));
        let udp = exact.matches("udp").join(" ");
        assert!(udp.ends_with("--from 40 --to 56 --hex-string |02|db|07|example|03|com|00|"));
        let suffix = Pattern::parse("*.svc").unwrap();
        assert_eq!((suffix.hex.as_str(), suffix.suffix), ("|03|svc|00|", true));
        assert!(
            suffix
                .matches("udp")
                .join(" ")
                .contains("--from 41 --hex-string")
        );
        assert!(!suffix.matches("tcp").contains(&"--from".to_string()));
    }

    #[test]
    fn prefixes_and_bad_names_are_refused_with_the_reason() {
        for bad in ["etcd*", "e?cd", "*", "*.", "a..b", "a b", "*.x*"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
        let why = Pattern::parse("etcd*").unwrap_err();
        assert!(
            why.contains("length") && why.contains("[\"etcd1\", \"etcd2\"]"),
            "{why}"
        );
        assert!(
            Pattern::parse(&"a".repeat(64))
                .unwrap_err()
                .contains("1 to 63")
        );
    }

    #[test]
    fn without_names_every_query_is_rejected() {
        let all = rules(None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0][..2], ["-p", "udp"]);
        assert_eq!(rules(Some(&["a".into(), "*.b".into()])).unwrap().len(), 4);
    }
}
