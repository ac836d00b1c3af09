//! Interpretation of one entry of `services:`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::dotenv;
use super::error::{ComposeError, ErrorKind, Location};
use super::model::{
    Dependency, DependencyCondition, ExtraHost, HealthTest, Healthcheck, Mount, Network, Port,
    RestartPolicy, Service, ServiceNetwork, Ulimit, Volume,
};
use super::read::{Reader, Scope};
use super::values::{self, VolumeSource};
use super::yaml::{Node, Value};

/// The keys a service may have; anything else is an error.
const SERVICE_KEYS: &[&str] = &[
    "image",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "volumes",
    "tmpfs",
    "networks",
    "depends_on",
    "healthcheck",
    "hostname",
    "container_name",
    "labels",
    "restart",
    "user",
    "working_dir",
    "cap_add",
    "cap_drop",
    "ulimits",
    "stop_signal",
    "stop_grace_period",
    "extra_hosts",
    "privileged",
    "init",
    "tty",
    "stdin_open",
];

/// Name of the network services join when they list none.
pub(crate) const DEFAULT_NETWORK: &str = "default";

/// What a service may refer to, resolved before services are read.
pub(crate) struct ProjectContext<'a> {
    pub project: &'a str,
    pub dir: &'a Path,
    pub services: &'a BTreeSet<String>,
    /// Declared networks; `default` is always allowed even if not declared.
    pub networks: &'a BTreeMap<String, Network>,
    pub volumes: &'a BTreeMap<String, Volume>,
}

/// Reads one service definition.
pub(crate) fn service(
    r: &mut Reader,
    cx: &ProjectContext,
    name: &str,
    node: &Node,
) -> Result<Service, ComposeError> {
    let scope = Scope::owner("service", name);
    let mut svc = Service {
        name: name.to_owned(),
        container_name: format!("{}-{name}-1", cx.project),
        ..Service::default()
    };
    let mut image = None;
    let mut environment = Vec::new();
    let mut env_files = Vec::new();
    for entry in r.map(node, &scope)? {
        let key = entry.key.as_str();
        let value = &entry.value;
        let s = scope.key(key);
        match key {
            _ if key.starts_with("x-") => {}
            "image" => image = r.opt_string(value, &s)?,
            "command" => svc.command = command(r, value, &s)?,
            "entrypoint" => svc.entrypoint = command(r, value, &s)?,
            "environment" => environment = r.key_values(value, &s, &['='])?,
            "env_file" => env_files = env_file_list(r, value, &s)?,
            "ports" => {
                for (i, item) in r.list(value, &s)?.iter().enumerate() {
                    svc.ports.extend(port(r, item, &s.index(i))?);
                }
            }
            "volumes" => {
                for (i, item) in r.list(value, &s)?.iter().enumerate() {
                    svc.volumes.push(mount(r, cx, item, &s.index(i))?);
                }
            }
            "tmpfs" => {
                for (i, text) in r.one_or_many(value, &s)?.into_iter().enumerate() {
                    let (target, options) = text.split_once(':').unwrap_or((&text, ""));
                    let target = values::container_path(target)
                        .map_err(|e| r.invalid(value, &s.index(i), e))?;
                    svc.tmpfs.insert(target, options.to_owned());
                }
            }
            "networks" => svc.networks = networks(r, cx, name, value, &s)?,
            "depends_on" => svc.depends_on = depends_on(r, cx, name, value, &s)?,
            "healthcheck" => svc.healthcheck = Some(healthcheck(r, value, &s)?),
            "hostname" => svc.hostname = r.opt_string(value, &s)?,
            "container_name" => {
                if let Some(container_name) = r.opt_string(value, &s)? {
                    svc.container_name = container_name;
                }
            }
            "labels" => {
                for (k, v) in r.key_values(value, &s, &['='])? {
                    svc.labels.insert(k, v.unwrap_or_default());
                }
            }
            "restart" => svc.restart = restart(r, value, &s)?,
            "user" => svc.user = r.opt_string(value, &s)?,
            "working_dir" => svc.working_dir = r.opt_string(value, &s)?,
            "cap_add" => svc.cap_add = r.strings(value, &s)?,
            "cap_drop" => svc.cap_drop = r.strings(value, &s)?,
            "ulimits" => svc.ulimits = ulimits(r, value, &s)?,
            "stop_signal" => svc.stop_signal = r.opt_string(value, &s)?,
            "stop_grace_period" => svc.stop_grace_period = Some(r.duration(value, &s)?),
            "extra_hosts" => svc.extra_hosts = extra_hosts(r, value, &s)?,
            "privileged" => svc.privileged = r.bool(value, &s)?,
            "init" => svc.init = r.bool(value, &s)?,
            "tty" => svc.tty = r.bool(value, &s)?,
            "stdin_open" => svc.stdin_open = r.bool(value, &s)?,
            "build" => {
                return Err(r.unsupported_with(
                    entry,
                    &scope,
                    Some(
                        "chaosplay does not build images; build and tag the image \
                         beforehand and set \"image\""
                            .to_owned(),
                    ),
                ));
            }
            _ => return Err(r.unsupported(entry, &scope, SERVICE_KEYS)),
        }
    }
    svc.image = image.filter(|i| !i.is_empty()).ok_or_else(|| {
        r.invalid(
            node,
            &scope,
            "missing \"image\" (chaosplay does not build images, every service needs one)",
        )
    })?;
    svc.environment = resolve_environment(r, cx, env_files, environment)?;
    if svc.networks.is_empty() {
        svc.networks.insert(
            DEFAULT_NETWORK.to_owned(),
            ServiceNetwork {
                aliases: vec![name.to_owned()],
                ..ServiceNetwork::default()
            },
        );
    }
    Ok(svc)
}

/// `command`/`entrypoint`: a list, or a string split like a shell would.
fn command(r: &mut Reader, node: &Node, s: &Scope) -> Result<Option<Vec<String>>, ComposeError> {
    match node.value {
        Value::Null => Ok(None),
        Value::Scalar(_) => {
            let text = r.string(node, s)?;
            values::shell_words(&text)
                .map(Some)
                .map_err(|e| r.invalid(node, s, e))
        }
        _ => r.strings(node, s).map(Some),
    }
}

/// One `env_file` entry: its path (relative to the compose file), whether it
/// must exist, and where it was written for errors.
struct EnvFile {
    path: String,
    required: bool,
    node: Node,
    scope: Scope,
}

/// `env_file`: a path, a list of paths, or a list of `{path, required}`.
fn env_file_list(r: &mut Reader, node: &Node, s: &Scope) -> Result<Vec<EnvFile>, ComposeError> {
    let items: Vec<&Node> = match &node.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    let mut files = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let scope = if matches!(node.value, Value::Seq(_)) {
            s.index(i)
        } else {
            s.clone()
        };
        let mut file = EnvFile {
            path: String::new(),
            required: true,
            node: item.clone(),
            scope: scope.clone(),
        };
        if let Value::Map(entries) = &item.value {
            for entry in entries {
                match entry.key.as_str() {
                    "path" => file.path = r.string(&entry.value, &scope.key("path"))?,
                    "required" => file.required = r.bool(&entry.value, &scope.key("required"))?,
                    _ => return Err(r.unsupported(entry, &scope, &["path", "required"])),
                }
            }
        } else {
            file.path = r.string(item, &scope)?;
        }
        if file.path.is_empty() {
            return Err(r.invalid(item, &scope, "missing env file path"));
        }
        files.push(file);
    }
    Ok(files)
}

/// Merges `env_file` contents (in order) and `environment` (which wins), and
/// fills bare names from the variables, dropping those that are unset.
fn resolve_environment(
    r: &mut Reader,
    cx: &ProjectContext,
    env_files: Vec<EnvFile>,
    environment: Vec<(String, Option<String>)>,
) -> Result<BTreeMap<String, String>, ComposeError> {
    let mut env = BTreeMap::new();
    for file in env_files {
        let path = values::host_path(&file.path, cx.dir, r.vars.get("HOME").map(String::as_str))
            .map_err(|e| r.invalid(&file.node, &file.scope, e))?;
        let content = match std::fs::read_to_string(&path) {
            Ok(content) => content,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !file.required => continue,
            Err(e) => return Err(ComposeError::new(&path, None, ErrorKind::Read(e))),
        };
        let vars = dotenv::parse(&content).map_err(|(line, message)| {
            ComposeError::new(
                &path,
                Some(Location { line, column: 1 }),
                ErrorKind::EnvFile(message),
            )
        })?;
        env.extend(vars);
    }
    for (key, value) in environment {
        match value.or_else(|| r.vars.get(&key).cloned()) {
            Some(value) => {
                env.insert(key, value);
            }
            None => {
                env.remove(&key);
            }
        }
    }
    Ok(env)
}

/// A `ports` item: short syntax string/number, or long syntax mapping.
fn port(r: &mut Reader, node: &Node, s: &Scope) -> Result<Vec<Port>, ComposeError> {
    let Value::Map(entries) = &node.value else {
        let text = r.string(node, s)?;
        return values::port_spec(&text).map_err(|e| r.invalid(node, s, e));
    };
    let mut port = Port {
        target: 0,
        published: None,
        host_ip: None,
        protocol: Default::default(),
    };
    for entry in entries {
        let ks = s.key(&entry.key);
        let v = &entry.value;
        let text = r.opt_string(v, &ks)?;
        let Some(text) = text else { continue };
        let err = |e: String| r.invalid(v, &ks, e);
        match entry.key.as_str() {
            "target" => port.target = values::port_number(&text).map_err(&err)?,
            "published" => port.published = Some(values::port_number(&text).map_err(&err)?),
            "host_ip" => port.host_ip = Some(values::ip_addr(&text).map_err(&err)?),
            "protocol" => port.protocol = values::protocol(&text).map_err(&err)?,
            // Swarm routing mode, informational name and app protocol: no effect on a
            // single engine, accepted so files written for Compose still load.
            "mode" if text == "host" || text == "ingress" => {}
            "name" | "app_protocol" => {}
            "mode" => return Err(r.invalid(v, &ks, "expected \"host\" or \"ingress\"")),
            _ => {
                return Err(r.unsupported(
                    entry,
                    s,
                    &[
                        "target",
                        "published",
                        "host_ip",
                        "protocol",
                        "mode",
                        "name",
                        "app_protocol",
                    ],
                ));
            }
        }
    }
    if port.target == 0 {
        return Err(r.invalid(node, s, "missing \"target\" port"));
    }
    Ok(vec![port])
}

/// A `volumes` item: short syntax string or long syntax mapping.
fn mount(
    r: &mut Reader,
    cx: &ProjectContext,
    node: &Node,
    s: &Scope,
) -> Result<Mount, ComposeError> {
    let home = r.vars.get("HOME").cloned();
    let Value::Map(entries) = &node.value else {
        let text = r.string(node, s)?;
        let spec = values::volume_spec(&text, cx.dir, home.as_deref())
            .map_err(|e| r.invalid(node, s, e))?;
        return Ok(match spec.source {
            VolumeSource::Anonymous => Mount::Volume {
                source: None,
                target: spec.target,
                read_only: spec.read_only,
            },
            VolumeSource::Named(name) => Mount::Volume {
                source: Some(volume_name(r, cx, &name, node, s)?),
                target: spec.target,
                read_only: spec.read_only,
            },
            VolumeSource::Host(path) => Mount::Bind {
                source: path,
                target: spec.target,
                read_only: spec.read_only,
                create_host_path: true,
            },
        });
    };
    let mut kind = None;
    let mut source = None;
    let mut target = None;
    let mut read_only = false;
    let mut create_host_path = true;
    let mut size = None;
    let mut mode = None;
    for entry in entries {
        let ks = s.key(&entry.key);
        let v = &entry.value;
        match entry.key.as_str() {
            "type" => kind = Some((r.string(v, &ks)?, v)),
            "source" => source = r.opt_string(v, &ks)?.map(|src| (src, v)),
            "target" => {
                let text = r.string(v, &ks)?;
                target = Some(values::container_path(&text).map_err(|e| r.invalid(v, &ks, e))?);
            }
            "read_only" => read_only = r.bool(v, &ks)?,
            // Only meaningful on Docker Desktop for macOS; ignored by Linux engines.
            "consistency" => {}
            "bind" => {
                for sub in r.map(v, &ks)? {
                    match sub.key.as_str() {
                        "create_host_path" => {
                            create_host_path = r.bool(&sub.value, &ks.key(&sub.key))?;
                        }
                        _ => return Err(r.unsupported(sub, &ks, &["create_host_path"])),
                    }
                }
            }
            "tmpfs" => {
                for sub in r.map(v, &ks)? {
                    let ss = ks.key(&sub.key);
                    match sub.key.as_str() {
                        "size" => {
                            let text = r.string(&sub.value, &ss)?;
                            size = Some(
                                values::byte_size(&text)
                                    .map_err(|e| r.invalid(&sub.value, &ss, e))?,
                            );
                        }
                        "mode" => {
                            let text = r.string(&sub.value, &ss)?;
                            mode = Some(u32::from_str_radix(&text, 8).map_err(|_| {
                                r.invalid(&sub.value, &ss, "expected an octal file mode")
                            })?);
                        }
                        _ => return Err(r.unsupported(sub, &ks, &["size", "mode"])),
                    }
                }
            }
            _ => {
                return Err(r.unsupported(
                    entry,
                    s,
                    &[
                        "type",
                        "source",
                        "target",
                        "read_only",
                        "bind",
                        "tmpfs",
                        "consistency",
                    ],
                ));
            }
        }
    }
    let target = target.ok_or_else(|| r.invalid(node, s, "missing \"target\""))?;
    let Some((kind, kind_node)) = kind else {
        return Err(r.invalid(node, s, "missing \"type\" (volume, bind or tmpfs)"));
    };
    match kind.as_str() {
        "volume" => Ok(Mount::Volume {
            source: source
                .map(|(name, n)| volume_name(r, cx, &name, n, &s.key("source")))
                .transpose()?,
            target,
            read_only,
        }),
        "bind" => {
            let (path, n) =
                source.ok_or_else(|| r.invalid(node, s, "a bind mount needs \"source\""))?;
            let path = values::host_path(&path, cx.dir, home.as_deref())
                .map_err(|e| r.invalid(n, &s.key("source"), e))?;
            Ok(Mount::Bind {
                source: path,
                target,
                read_only,
                create_host_path,
            })
        }
        "tmpfs" => match source {
            Some((_, n)) => Err(r.invalid(n, &s.key("source"), "a tmpfs mount takes no source")),
            None => Ok(Mount::Tmpfs { target, size, mode }),
        },
        other => Err(r.invalid(
            kind_node,
            &s.key("type"),
            format!("unsupported mount type \"{other}\" (expected volume, bind or tmpfs)"),
        )),
    }
}

/// The real name of a named volume, which must be declared at the top level.
fn volume_name(
    r: &Reader,
    cx: &ProjectContext,
    name: &str,
    node: &Node,
    s: &Scope,
) -> Result<String, ComposeError> {
    cx.volumes.get(name).map(|v| v.name.clone()).ok_or_else(|| {
        r.invalid(
            node,
            s,
            format!("volume \"{name}\" is not declared in the top-level \"volumes\" section"),
        )
    })
}

/// `networks`: a list of names or a mapping of name to attachment options.
fn networks(
    r: &mut Reader,
    cx: &ProjectContext,
    service: &str,
    node: &Node,
    s: &Scope,
) -> Result<BTreeMap<String, ServiceNetwork>, ComposeError> {
    let mut entries: Vec<(String, Option<&Node>, &Node)> = Vec::new();
    match &node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                entries.push((r.string(item, &s.index(i))?, None, item));
            }
        }
        _ => {
            for entry in r.map(node, s)? {
                entries.push((entry.key.clone(), Some(&entry.value), &entry.value));
            }
        }
    }
    let mut result = BTreeMap::new();
    for (name, options, at) in entries {
        let ns = s.key(&name);
        if name != DEFAULT_NETWORK && !cx.networks.contains_key(&name) {
            return Err(r.invalid(
                at,
                s,
                format!("network \"{name}\" is not declared in the top-level \"networks\" section"),
            ));
        }
        let mut attachment = ServiceNetwork {
            aliases: vec![service.to_owned()],
            ..ServiceNetwork::default()
        };
        for entry in options
            .map(|o| r.map(o, &ns))
            .transpose()?
            .unwrap_or_default()
        {
            let es = ns.key(&entry.key);
            let v = &entry.value;
            match entry.key.as_str() {
                "aliases" => attachment.aliases.extend(r.strings(v, &es)?),
                "ipv4_address" => {
                    let text = r.string(v, &es)?;
                    attachment.ipv4_address = Some(text.parse().map_err(|_| {
                        r.invalid(v, &es, format!("invalid ipv4 address \"{text}\""))
                    })?);
                }
                "ipv6_address" => {
                    let text = r.string(v, &es)?;
                    attachment.ipv6_address = Some(text.parse().map_err(|_| {
                        r.invalid(v, &es, format!("invalid ipv6 address \"{text}\""))
                    })?);
                }
                _ => {
                    return Err(r.unsupported(
                        entry,
                        &ns,
                        &["aliases", "ipv4_address", "ipv6_address"],
                    ));
                }
            }
        }
        result.insert(name, attachment);
    }
    Ok(result)
}

/// `depends_on`: a list of services or a mapping with conditions.
fn depends_on(
    r: &mut Reader,
    cx: &ProjectContext,
    service: &str,
    node: &Node,
    s: &Scope,
) -> Result<BTreeMap<String, Dependency>, ComposeError> {
    let mut deps = BTreeMap::new();
    let mut add = |r: &Reader, name: String, at: &Node, dep: Dependency| {
        if !cx.services.contains(&name) {
            return Err(ComposeError::new(
                r.file,
                Some(at.loc),
                ErrorKind::UnknownDependency {
                    service: service.to_owned(),
                    dependency: name,
                },
            ));
        }
        deps.insert(name, dep);
        Ok(())
    };
    match &node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let name = r.string(item, &s.index(i))?;
                add(r, name, item, Dependency::default())?;
            }
        }
        _ => {
            for entry in r.map(node, s)? {
                let ds = s.key(&entry.key);
                let mut dep = Dependency::default();
                for option in r.map(&entry.value, &ds)? {
                    let os = ds.key(&option.key);
                    match option.key.as_str() {
                        "condition" => {
                            let text = r.string(&option.value, &os)?;
                            dep.condition = match text.as_str() {
                                "service_started" => DependencyCondition::Started,
                                "service_healthy" => DependencyCondition::Healthy,
                                "service_completed_successfully" => {
                                    DependencyCondition::CompletedSuccessfully
                                }
                                _ => {
                                    return Err(r.invalid(
                                        &option.value,
                                        &os,
                                        format!(
                                            "unknown condition \"{text}\" (expected service_started, \
                                             service_healthy or service_completed_successfully)"
                                        ),
                                    ));
                                }
                            };
                        }
                        _ => return Err(r.unsupported(option, &ds, &["condition"])),
                    }
                }
                add(r, entry.key.clone(), &entry.value, dep)?;
            }
        }
    }
    Ok(deps)
}

/// `healthcheck`, with `test` normalized to a [`HealthTest`].
fn healthcheck(r: &mut Reader, node: &Node, s: &Scope) -> Result<Healthcheck, ComposeError> {
    let mut check = Healthcheck {
        test: HealthTest::Inherit,
        interval: None,
        timeout: None,
        start_period: None,
        start_interval: None,
        retries: None,
    };
    let mut disable = None;
    for entry in r.map(node, s)? {
        let ks = s.key(&entry.key);
        let v = &entry.value;
        match entry.key.as_str() {
            "test" => check.test = health_test(r, v, &ks)?,
            "interval" => check.interval = Some(r.duration(v, &ks)?),
            "timeout" => check.timeout = Some(r.duration(v, &ks)?),
            "start_period" => check.start_period = Some(r.duration(v, &ks)?),
            "start_interval" => check.start_interval = Some(r.duration(v, &ks)?),
            "retries" => check.retries = Some(r.number(v, &ks)?),
            "disable" => disable = Some((r.bool(v, &ks)?, v)),
            _ => {
                return Err(r.unsupported(
                    entry,
                    s,
                    &[
                        "test",
                        "interval",
                        "timeout",
                        "start_period",
                        "start_interval",
                        "retries",
                        "disable",
                    ],
                ));
            }
        }
    }
    if let Some((true, at)) = disable {
        if check.test != HealthTest::Inherit && check.test != HealthTest::Disabled {
            return Err(r.invalid(
                at,
                &s.key("disable"),
                "\"disable: true\" cannot be combined with \"test\"",
            ));
        }
        check.test = HealthTest::Disabled;
    }
    Ok(check)
}

fn health_test(r: &mut Reader, node: &Node, s: &Scope) -> Result<HealthTest, ComposeError> {
    if let Value::Scalar(_) = node.value {
        return Ok(HealthTest::Shell(r.string(node, s)?));
    }
    let mut items = r.strings(node, s)?.into_iter();
    match items.next().as_deref() {
        None => Ok(HealthTest::Inherit),
        Some("NONE") => Ok(HealthTest::Disabled),
        Some("CMD") => {
            let args: Vec<String> = items.collect();
            if args.is_empty() {
                return Err(r.invalid(node, s, "\"CMD\" needs a command"));
            }
            Ok(HealthTest::Exec(args))
        }
        Some("CMD-SHELL") => match (items.next(), items.next()) {
            (Some(cmd), None) => Ok(HealthTest::Shell(cmd)),
            _ => Err(r.invalid(node, s, "\"CMD-SHELL\" takes exactly one command string")),
        },
        Some(other) => Err(r.invalid(
            node,
            s,
            format!("test must start with \"CMD\", \"CMD-SHELL\" or \"NONE\", found \"{other}\""),
        )),
    }
}

/// `restart`: `no`, `always`, `on-failure[:N]` or `unless-stopped`.
fn restart(r: &mut Reader, node: &Node, s: &Scope) -> Result<RestartPolicy, ComposeError> {
    let text = r.string(node, s)?;
    let bad = |r: &Reader| {
        r.invalid(
            node,
            s,
            format!(
                "invalid restart policy \"{text}\" (expected no, always, on-failure[:N] or unless-stopped)"
            ),
        )
    };
    match text.split_once(':') {
        None => match text.as_str() {
            // YAML 1.1 readers turn an unquoted `no` into false; accept it spelled either way.
            "no" | "false" => Ok(RestartPolicy::No),
            "always" => Ok(RestartPolicy::Always),
            "on-failure" => Ok(RestartPolicy::OnFailure { max_retries: None }),
            "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
            _ => Err(bad(r)),
        },
        Some(("on-failure", n)) => Ok(RestartPolicy::OnFailure {
            max_retries: Some(n.parse().map_err(|_| bad(r))?),
        }),
        Some(_) => Err(bad(r)),
    }
}

/// `ulimits`: name to a single limit or `{soft, hard}`.
fn ulimits(
    r: &mut Reader,
    node: &Node,
    s: &Scope,
) -> Result<BTreeMap<String, Ulimit>, ComposeError> {
    let mut limits = BTreeMap::new();
    for entry in r.map(node, s)? {
        let us = s.key(&entry.key);
        let v = &entry.value;
        let limit = if let Value::Map(parts) = &v.value {
            let (mut soft, mut hard) = (None, None);
            for part in parts {
                let ps = us.key(&part.key);
                match part.key.as_str() {
                    "soft" => soft = Some(r.number::<i64>(&part.value, &ps)?),
                    "hard" => hard = Some(r.number::<i64>(&part.value, &ps)?),
                    _ => return Err(r.unsupported(part, &us, &["soft", "hard"])),
                }
            }
            let (Some(soft), Some(hard)) = (soft, hard) else {
                return Err(r.invalid(v, &us, "needs both \"soft\" and \"hard\""));
            };
            if soft > hard {
                return Err(r.invalid(v, &us, "\"soft\" cannot exceed \"hard\""));
            }
            Ulimit { soft, hard }
        } else {
            let n = r.number::<i64>(v, &us)?;
            Ulimit { soft: n, hard: n }
        };
        limits.insert(entry.key.clone(), limit);
    }
    Ok(limits)
}

/// `extra_hosts`: `host:ip` / `host=ip` list items or a `host: ip` mapping.
fn extra_hosts(r: &mut Reader, node: &Node, s: &Scope) -> Result<Vec<ExtraHost>, ComposeError> {
    let mut hosts = Vec::new();
    for (hostname, ip) in r.key_values(node, s, &['=', ':'])? {
        let ip = ip.unwrap_or_default();
        // `[::1]` brackets are allowed around IPv6 addresses.
        let bare = ip.trim_start_matches('[').trim_end_matches(']');
        if bare != "host-gateway" && values::ip_addr(bare).is_err() {
            return Err(r.invalid(
                node,
                s,
                format!("invalid entry for host \"{hostname}\": \"{ip}\" is not an ip address or host-gateway"),
            ));
        }
        hosts.push(ExtraHost {
            hostname,
            ip: bare.to_owned(),
        });
    }
    Ok(hosts)
}
