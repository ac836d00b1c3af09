//! Network fault steps against the real engine, measured with real traffic: containers of a
//! pretend compose project on a network the test creates, a busybox `httpd` in one, `wget` and
//! `ping` (bounded in count and time) from the others, run by the playbook's own `docker.exec`
//! steps while the fault is on and after it is healed.

mod common;

use common::docker::{create_network, docker, docker_ok, playbook, remove_project, run_labelled};
use common::{code, run, scratch, step};

/// A pretend compose project with one network; removed with everything in it when dropped.
struct Cluster {
    project: String,
    network: String,
}

impl Cluster {
    fn new(project: &str, network_options: &[&str]) -> Cluster {
        remove_project(project);
        let network = create_network(project, "default", network_options);
        Cluster {
            project: project.to_string(),
            network,
        }
    }

    /// Runs `service` on the network, reachable by its service name like under Compose.
    fn run(&self, service: &str, extra: &[&str]) -> String {
        let mut args = vec!["--network", &self.network, "--network-alias", service];
        args.extend_from_slice(extra);
        run_labelled(&self.project, service, &args)
    }

    /// Runs `service` serving `/index.html` ("hi") and `/big` (`kib` KiB) over HTTP on port 80.
    fn run_server(&self, service: &str, extra: &[&str], kib: u32) -> String {
        let name = self.run(service, extra);
        let script = format!(
            "echo hi > /www/index.html && dd if=/dev/zero of=/www/big bs=1024 count={kib} 2>/dev/null && httpd -p 80 -h /www"
        );
        docker_ok(&["exec", &name, "sh", "-c", &script]);
        name
    }

    fn playbook(&self, steps: &str) -> String {
        playbook(&self.project, steps)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        remove_project(&self.project);
    }
}

/// A step fetching `path` from the `web` service, printing `reachable` or `unreachable`
/// (busybox wget's own `-T` crashes in the test image, so `timeout` bounds it).
fn fetch(id: &str, from: &str, path: &str) -> String {
    format!(
        r#"
[[steps]]
id = "{id}"
uses = "docker.exec"
with = {{ service = "{from}", argv = ["sh", "-c", "timeout 3 wget -q -O /dev/null http://web/{path} && echo reachable || echo unreachable"] }}
"#
    )
}

/// A step sending 50 pings 50 ms apart to `web` (under 4 s even when all are lost), printing
/// ping's summary.
fn ping(id: &str, from: &str) -> String {
    format!(
        r#"
[[steps]]
id = "{id}"
uses = "docker.exec"
with = {{ service = "{from}", argv = ["sh", "-c", "timeout 10 ping -q -c 50 -i 0.05 -W 1 web | tail -2"], expect_exit = [] }}
"#
    )
}

fn stdout<'a>(report: &'a serde_json::Value, id: &str) -> &'a str {
    step(report, id)["output"]["stdout"].as_str().unwrap_or("")
}

/// How many of the 50 pings of step `id` were answered.
fn received(report: &serde_json::Value, id: &str) -> u32 {
    let text = stdout(report, id);
    text.split(", ")
        .find_map(|part| part.strip_suffix(" packets received"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ping summary in step {id}: {text:?}"))
}

fn passed(out: &std::process::Output, report: &serde_json::Value) {
    assert_eq!(
        code(out),
        0,
        "{}\n{report:#}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `cmd` run with the host's tools inside the container's network namespace.
fn in_netns(container: &str, cmd: &[&str]) -> String {
    let pid = docker_ok(&["inspect", "-f", "{{.State.Pid}}", container]);
    let out = std::process::Command::new("nsenter")
        .args(["-t", &pid, "-n"])
        .args(cmd)
        .output()
        .expect("nsenter runs (apt-get install util-linux iptables iproute2)");
    assert!(
        out.status.success(),
        "{cmd:?} in {container}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_no_chaosplay_rules(container: &str) {
    let rules = in_netns(container, &["iptables", "-S"]);
    assert!(!rules.contains("CHAOSPLAY"), "{container}: {rules}");
}

fn root_qdisc(container: &str) -> String {
    in_netns(container, &["tc", "qdisc", "show", "dev", "eth0", "root"])
}

fn inspect(container: &str, format: &str) -> String {
    docker_ok(&["inspect", "-f", format, container])
}

#[test]
fn partition_disconnects_and_heal_reconnects_with_the_same_address_and_aliases() {
    let c = Cluster::new("cpn-part", &["--subnet", "10.213.7.0/24"]);
    let web = c.run_server("web", &["--ip", "10.213.7.10"], 1);
    c.run("client", &[]);
    let steps = [
        fetch("before", "client", "index.html"),
        "[[steps]]\nid = \"cut\"\nuses = \"network.partition\"\nwith = { service = \"web\" }\n"
            .into(),
        fetch("during", "client", "index.html"),
        "[[steps]]\nid = \"heal\"\nuses = \"network.heal\"\nwith = { container = \"{{ steps.cut.container }}\" }\n"
            .into(),
        fetch("after", "client", "index.html"),
    ]
    .concat();
    let dir = scratch("net-partition");
    let (out, report) = run(&dir, &c.playbook(&steps), &[]);
    passed(&out, &report);
    assert_eq!(stdout(&report, "before"), "reachable\n");
    assert_eq!(stdout(&report, "during"), "unreachable\n");
    assert_eq!(stdout(&report, "after"), "reachable\n");
    let cut = &step(&report, "cut")["output"];
    assert_eq!(cut["mode"], "disconnect");
    assert_eq!(cut["networks"][0]["network"], c.network.as_str());
    assert_eq!(cut["networks"][0]["ipv4"], "10.213.7.10");
    assert_eq!(
        step(&report, "heal")["output"]["healed"][0],
        format!("reconnect {web} to {}", c.network).as_str()
    );
    assert!(report["runs"][0]["undo"].as_array().unwrap().is_empty());
    let endpoint = format!(
        "{{{{json (index .NetworkSettings.Networks \"{}\")}}}}",
        c.network
    );
    let endpoint: serde_json::Value = serde_json::from_str(&inspect(&web, &endpoint)).unwrap();
    assert_eq!(endpoint["IPAddress"], "10.213.7.10");
    assert!(
        endpoint["Aliases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "web"),
        "{endpoint}"
    );
}

#[test]
fn partition_from_peers_drops_only_their_traffic() {
    let c = Cluster::new("cpn-peers", &[]);
    let web = c.run_server("web", &[], 1);
    c.run("pd0", &[]);
    c.run("other", &[]);
    let steps = [
        "[[steps]]\nid = \"cut\"\nuses = \"network.partition\"\nwith = { service = \"web\", peers = { service = \"pd*\" } }\n".to_string(),
        fetch("pd_during", "pd0", "index.html"),
        fetch("other_during", "other", "index.html"),
        // From the partitioned side too: web cannot reach pd0, but still itself.
        "[[steps]]\nid = \"web_to_pd\"\nuses = \"docker.exec\"\nwith = { service = \"web\", argv = [\"sh\", \"-c\", \"ping -c 1 -W 1 pd0 >/dev/null && echo reachable || echo unreachable; wget -q -O /dev/null http://127.0.0.1/index.html && echo self\"] }\n".into(),
        "[[steps]]\nuses = \"network.heal\"\nwith = { service = \"web\" }\n".into(),
        fetch("pd_after", "pd0", "index.html"),
    ]
    .concat();
    let dir = scratch("net-peers");
    let (out, report) = run(&dir, &c.playbook(&steps), &[]);
    passed(&out, &report);
    assert_eq!(stdout(&report, "pd_during"), "unreachable\n");
    assert_eq!(stdout(&report, "other_during"), "reachable\n");
    assert_eq!(stdout(&report, "web_to_pd"), "unreachable\nself\n");
    assert_eq!(stdout(&report, "pd_after"), "reachable\n");
    let cut = &step(&report, "cut")["output"];
    assert_eq!(cut["mode"], "peers");
    assert_eq!(cut["peers"], serde_json::json!(["cpn-peers-pd0-1"]));
    assert_eq!(
        cut["addresses"][0],
        inspect(
            "cpn-peers-pd0-1",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
        )
        .as_str()
    );
    assert_no_chaosplay_rules(&web);
}

#[test]
fn loss_drops_the_requested_share_of_packets() {
    let c = Cluster::new("cpn-loss", &[]);
    let web = c.run_server("web", &[], 1);
    c.run("client", &[]);
    let steps = [
        "[[steps]]\nuses = \"network.loss\"\nwith = { service = \"web\", loss_percent = 100 }\n"
            .to_string(),
        ping("all_lost", "client"),
        "[[steps]]\nuses = \"network.heal\"\nwith = { service = \"web\" }\n".into(),
        ping("healed", "client"),
        "[[steps]]\nid = \"half\"\nuses = \"network.loss\"\nwith = { service = \"web\", loss_percent = 50, direction = \"incoming\" }\n".into(),
        ping("half_lost", "client"),
        // No heal: the automatic undo removes this one.
    ]
    .concat();
    let dir = scratch("net-loss");
    let (out, report) = run(&dir, &c.playbook(&steps), &[]);
    passed(&out, &report);
    let (all_lost, healed, half_lost) = (
        received(&report, "all_lost"),
        received(&report, "healed"),
        received(&report, "half_lost"),
    );
    eprintln!("pings answered of 50: loss 100% {all_lost}, healed {healed}, loss 50% {half_lost}");
    assert_eq!(all_lost, 0);
    assert!(healed >= 48, "{healed}");
    // Binomial(50, 0.5): outside 8..=42 has a probability below 1e-6.
    assert!((8..=42).contains(&half_lost), "{half_lost}");
    assert_eq!(step(&report, "half")["output"]["direction"], "incoming");
    let undo = &report["runs"][0]["undo"];
    assert_eq!(
        undo[0]["description"],
        format!("remove iptables chain CHAOSPLAY-LOSS in {web}").as_str()
    );
    assert_eq!(undo[0]["ok"], true);
    assert_no_chaosplay_rules(&web);
}

#[test]
fn bandwidth_limits_what_a_container_sends() {
    let c = Cluster::new("cpn-bw", &[]);
    let web = c.run_server("web", &[], 300);
    c.run("client", &[]);
    let steps = [
        fetch("free", "client", "big"),
        "[[steps]]\nid = \"limit\"\nuses = \"network.bandwidth\"\nwith = { service = \"web\", rate = \"1mbit\" }\n".to_string(),
        fetch("limited", "client", "big"),
        "[[steps]]\nuses = \"network.heal\"\nwith = { service = \"web\" }\n".into(),
        fetch("free_again", "client", "big"),
    ]
    .concat();
    let dir = scratch("net-bandwidth");
    let (out, report) = run(&dir, &c.playbook(&steps), &[]);
    passed(&out, &report);
    for id in ["free", "limited", "free_again"] {
        assert_eq!(stdout(&report, id), "reachable\n", "{id}");
    }
    let ms = |id| step(&report, id)["duration_ms"].as_u64().unwrap();
    let (free, limited, free_again) = (ms("free"), ms("limited"), ms("free_again"));
    eprintln!("300 KiB: unlimited {free} ms, at 1mbit {limited} ms, healed {free_again} ms");
    // 300 KiB at 1 Mbit/s, less a 16 KiB burst, takes 2.3 s; without a limit, milliseconds.
    assert!(limited >= 1500, "{limited}");
    assert!(
        limited >= 3 * free.max(free_again),
        "{free} {limited} {free_again}"
    );
    let limit = &step(&report, "limit")["output"];
    assert_eq!(limit["rate_bits"], 1_000_000);
    assert_eq!(
        limit["devices"],
        serde_json::json!([{"container": web, "device": "eth0"}])
    );
    assert!(
        root_qdisc(&web).starts_with("qdisc noqueue"),
        "{}",
        root_qdisc(&web)
    );
}

#[test]
fn delay_needs_netem_and_says_so_when_the_kernel_lacks_it() {
    let c = Cluster::new("cpn-delay", &[]);
    let web = c.run_server("web", &[], 1);
    c.run("client", &[]);
    let steps = [
        "[[steps]]\nid = \"delay\"\nuses = \"network.delay\"\nwith = { service = \"web\", delay = \"200ms\" }\n".to_string(),
        "[[steps]]\nid = \"rtt\"\nuses = \"docker.exec\"\nwith = { service = \"client\", argv = [\"sh\", \"-c\", \"ping -q -c 3 -i 0.2 -W 2 web | tail -1\"] }\n".into(),
    ]
    .concat();
    let dir = scratch("net-delay");
    let (out, report) = run(&dir, &c.playbook(&steps), &[]);
    let delay = step(&report, "delay");
    if delay["status"] == "passed" {
        // A kernel with sch_netem: the delay must be real.
        passed(&out, &report);
        let summary = stdout(&report, "rtt");
        let avg: f64 = summary
            .split('/')
            .nth(3)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{summary}"));
        assert!(avg >= 200.0, "{summary}");
    } else {
        assert_eq!(code(&out), 1);
        let message = delay["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(
                "network.delay needs the kernel module sch_netem, which this kernel does not have (tc: "
            ),
            "{message}"
        );
        assert!(
            message.ends_with("); network.loss and network.bandwidth work without it"),
            "{message}"
        );
    }
    // Either way nothing is left behind, and the undo did not fail.
    assert_eq!(report["runs"][0]["undo"][0]["ok"], true);
    assert!(
        root_qdisc(&web).starts_with("qdisc noqueue"),
        "{}",
        root_qdisc(&web)
    );
}

#[test]
fn undo_restores_every_network_fault_when_the_playbook_fails() {
    let c = Cluster::new("cpn-undo", &["--subnet", "10.213.8.0/24"]);
    let a = c.run("a", &["--ip", "10.213.8.20"]);
    let b = c.run("b", &[]);
    c.run("c", &[]);
    let d = c.run("d", &[]);
    let steps = format!(
        r#"
[[steps]]
uses = "network.partition"
with = {{ service = "a" }}
[[steps]]
uses = "network.loss"
with = {{ service = "b", loss_percent = 10 }}
[[steps]]
uses = "network.bandwidth"
with = {{ service = "b", rate = "10mbit" }}
[[steps]]
uses = "network.partition"
with = {{ service = "b", peers = {{ service = "c" }} }}
[[steps]]
uses = "network.loss"
with = {{ service = "d", loss_percent = 10 }}
[[steps]]
name = "stop d behind chaosplay's back"
uses = "exec"
with = {{ argv = ["docker", "stop", "-t", "0", "{d}"] }}
[[steps]]
uses = "assert"
with.that = ["false"]
"#
    );
    let dir = scratch("net-undo");
    let (out, report) = run(&dir, &c.playbook(&steps), &[]);
    assert_eq!(code(&out), 1, "{report:#}");
    let undo = report["runs"][0]["undo"].as_array().unwrap();
    let described: Vec<&str> = undo
        .iter()
        .map(|u| u["description"].as_str().unwrap())
        .collect();
    assert_eq!(
        described,
        [
            format!("remove iptables chain CHAOSPLAY-LOSS in {d}"),
            format!("remove iptables chain CHAOSPLAY-PARTITION in {b}"),
            format!("remove the qdisc on eth0 in {b}"),
            format!("remove iptables chain CHAOSPLAY-LOSS in {b}"),
            format!("reconnect {a} to {}", c.network),
        ]
    );
    assert!(undo.iter().all(|u| u["ok"] == true), "{undo:#?}");
    assert_eq!(
        inspect(
            &a,
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
        ),
        "10.213.8.20"
    );
    assert_no_chaosplay_rules(&b);
    assert!(
        root_qdisc(&b).starts_with("qdisc noqueue"),
        "{}",
        root_qdisc(&b)
    );
    // The stopped container's namespace went with it: nothing to undo, and it stays stopped.
    assert_eq!(inspect(&d, "{{.State.Status}}"), "exited");
    let _ = docker(&["start", &d]);
    assert_no_chaosplay_rules(&d);
}

#[test]
fn a_container_on_the_host_network_is_refused() {
    let c = Cluster::new("cpn-host", &[]);
    c.run("web", &[]);
    let host = run_labelled(&c.project, "hostnet", &["--network", "host"]);
    let steps = "[[steps]]\nid = \"cut\"\nuses = \"network.partition\"\nwith = { service = \"hostnet\", peers = { service = \"web\" } }\n";
    let dir = scratch("net-host");
    let (out, report) = run(&dir, &c.playbook(steps), &[]);
    assert_eq!(code(&out), 1);
    assert_eq!(
        step(&report, "cut")["error"]["message"],
        format!("{host} uses the host's network (network_mode: host); chaosplay will not fault the host's own network").as_str()
    );
    assert!(report["runs"][0]["undo"].as_array().unwrap().is_empty());
}
