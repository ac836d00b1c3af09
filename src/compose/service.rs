//! Interpretation of one entry of `services:`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::dotenv;
use super::error::{ComposeError, ComposeErrorKind, Location};
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
    let mut environment: Vec<(String, Option<String>)> = Vec::new();
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
            "environment" => {
                environment = r
                    .key_values(value, &s, &['='])?
                    .into_iter()
                    .map(|(k, v, _)| (k, v))
                    .collect();
            }
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
                for (item, is) in r.one_or_many(value, &s) {
                    let text = r.string(item, &is)?;
                    let (target, options) = text.split_once(':').unwrap_or((&text, ""));
                    let target =
                        values::container_path(target).map_err(|e| r.invalid(item, &is, e))?;
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
                for (k, v, _) in r.key_values(value, &s, &['='])? {
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
struct EnvFile<'n> {
    path: String,
    required: bool,
    node: &'n Node,
    scope: Scope,
}

/// `env_file`: a path, a list of paths, or a list of `{path, required}`.
fn env_file_list<'n>(
    r: &mut Reader,
    node: &'n Node,
    s: &Scope,
) -> Result<Vec<EnvFile<'n>>, ComposeError> {
    let mut files = Vec::new();
    for (item, scope) in r.one_or_many(node, s) {
        let mut file = EnvFile {
            path: String::new(),
            required: true,
            node: item,
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
    env_files: Vec<EnvFile<'_>>,
    environment: Vec<(String, Option<String>)>,
) -> Result<BTreeMap<String, String>, ComposeError> {
    let mut env = BTreeMap::new();
    for file in env_files {
        let path = values::host_path(&file.path, cx.dir, r.vars.get("HOME").map(String::as_str))
            .map_err(|e| r.invalid(file.node, &file.scope, e))?;
        let content = match crate::text_file::read_regular(&path) {
            Ok(content) => content,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !file.required => continue,
            Err(e) => return Err(ComposeError::new(&path, None, ComposeErrorKind::Read(e))),
        };
        let vars = dotenv::parse(&content).map_err(|(line, message)| {
            ComposeError::new(
                &path,
                Some(Location { line, column: 1 }),
                ComposeErrorKind::EnvFile(message),
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
                ComposeErrorKind::UnknownDependency {
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
    for (hostname, ip, at) in r.key_values(node, s, &['=', ':'])? {
        let ip = ip.unwrap_or_default();
        // `[::1]` brackets are allowed around IPv6 addresses.
        let bare = ip.trim_start_matches('[').trim_end_matches(']');
        if bare != "host-gateway" && values::ip_addr(bare).is_err() {
            return Err(r.invalid(
                at,
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

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    use super::*;
    use crate::compose::model::Protocol;
    use crate::compose::project::resolve;
    use crate::compose::test_support::{resolve_with, service, service_error, vars};
    use crate::test_support::TempDir;

    const NETS: &str = "networks:\n  back:\n  front:\n";
    const VOLS: &str = "volumes:\n  data:\n  ext:\n    external: true\n  named:\n    name: exact\n";

    #[test]
    fn image_is_required_and_build_is_refused() {
        let err = service_error("hostname: x", "");
        assert_eq!(
            err,
            "/p/compose.yaml:3:5: service \"s\": missing \"image\" \
             (chaosplay does not build images, every service needs one)"
        );
        assert!(service_error("image: ''", "").contains("missing \"image\""));
        let err = service_error("image: x\nbuild: .", "");
        assert_eq!(
            err,
            "/p/compose.yaml:4:5: service \"s\": unsupported key \"build\": chaosplay does not \
             build images; build and tag the image beforehand and set \"image\""
        );
    }

    #[test]
    fn unsupported_keys_are_named_with_their_service() {
        let err = service_error("image: x\ndeploy:\n  replicas: 2", "");
        assert_eq!(
            err,
            "/p/compose.yaml:4:5: service \"s\": unsupported key \"deploy\""
        );
        let err = service_error("image: x\nenviroment: {}", "");
        assert!(
            err.ends_with("unsupported key \"enviroment\": did you mean \"environment\"?"),
            "{err}"
        );
    }

    #[test]
    fn extension_keys_are_ignored() {
        let svc = service("image: x\nx-anything: {deploy: 1}", "");
        assert_eq!(svc.image, "x");
    }

    #[test]
    fn defaults() {
        let svc = service("image: x", "");
        assert_eq!(svc.container_name, "proj-s-1");
        assert_eq!(svc.command, None);
        assert_eq!(svc.entrypoint, None);
        assert_eq!(svc.restart, RestartPolicy::No);
        assert_eq!(svc.healthcheck, None);
        assert!(!svc.privileged && !svc.init && !svc.tty && !svc.stdin_open);
        assert_eq!(svc.networks.keys().collect::<Vec<_>>(), ["default"]);
        assert_eq!(svc.networks["default"].aliases, ["s"]);
    }

    #[test]
    fn command_and_entrypoint() {
        let svc = service(
            "image: x\ncommand: sh -c \"echo 'a b'\"\nentrypoint: [\"/bin/tini\", \"--\"]",
            "",
        );
        assert_eq!(svc.command.unwrap(), ["sh", "-c", "echo 'a b'"]);
        assert_eq!(svc.entrypoint.unwrap(), ["/bin/tini", "--"]);
        let svc = service("image: x\nentrypoint: ''\ncommand: []", "");
        assert_eq!(svc.entrypoint, Some(vec![]));
        assert_eq!(svc.command, Some(vec![]));
        let svc = service("image: x\ncommand: ~", "");
        assert_eq!(svc.command, None);
        assert!(
            service_error("image: x\ncommand: \"echo 'x\"", "")
                .contains("unterminated single quote")
        );
        assert!(
            service_error("image: x\ncommand: {a: b}", "")
                .contains("expected a list, found a mapping")
        );
    }

    #[test]
    fn environment_map_and_list() {
        let src = "services:\n  s:\n    image: x\n    environment:\n      A: 1\n      B: \"$${X}\"\n      \
                   C: ${C_VAL}\n      FROM_VARS:\n      UNSET:\n";
        let p = resolve_with(src, &[("C_VAL", "c"), ("FROM_VARS", "v")]).unwrap();
        assert_eq!(
            p.services[0].environment,
            vars(&[("A", "1"), ("B", "${X}"), ("C", "c"), ("FROM_VARS", "v")])
        );
        let src = "services:\n  s:\n    image: x\n    environment:\n      - A=1=2\n      - EMPTY=\n      \
                   - FROM_VARS\n      - UNSET\n";
        let p = resolve_with(src, &[("FROM_VARS", "v")]).unwrap();
        assert_eq!(
            p.services[0].environment,
            vars(&[("A", "1=2"), ("EMPTY", ""), ("FROM_VARS", "v")])
        );
    }

    #[test]
    fn env_files_are_relative_to_the_compose_file_and_lose_to_environment() {
        let dir = TempDir::new();
        dir.write("a.env", "A=from-a\nB=from-a\n");
        std::fs::create_dir(dir.0.join("sub")).unwrap();
        dir.write("sub/b.env", "# b\nB=from-b\nC=from-b\n");
        let src = "services:\n  s:\n    image: x\n    env_file:\n      - a.env\n      - path: ./sub/b.env\n      \
                   - path: missing.env\n        required: false\n    environment:\n      C: from-environment\n";
        let file = dir.0.join("compose.yaml");
        let p = resolve(src, &file, &dir.0, Some("proj"), &vars(&[])).unwrap();
        assert_eq!(
            p.services[0].environment,
            vars(&[("A", "from-a"), ("B", "from-b"), ("C", "from-environment")])
        );

        let src = "services:\n  s:\n    image: x\n    env_file: missing.env\n";
        let err = resolve(src, &file, &dir.0, Some("proj"), &vars(&[])).unwrap_err();
        assert_eq!(err.path(), dir.0.join("missing.env"));
        assert!(err.to_string().contains("cannot read file"), "{err}");

        dir.write("bad.env", "OK=1\nthis is not a pair\n");
        let src = "services:\n  s:\n    image: x\n    env_file: bad.env\n";
        let err = resolve(src, &file, &dir.0, Some("proj"), &vars(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:2:1: invalid env file line: expected KEY=VALUE, found \"this is not a pair\"",
                dir.0.join("bad.env").display()
            )
        );
    }

    #[test]
    fn short_ports() {
        let svc = service(
            "image: x\nports:\n  - 80\n  - \"8080:80\"\n  - 127.0.0.1:5432:5432\n  - 9000:9000/udp\n  - 7000-7001:8000-8001",
            "",
        );
        let summary: Vec<_> = svc
            .ports
            .iter()
            .map(|p| (p.host_ip, p.published, p.target, p.protocol))
            .collect();
        let localhost = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(
            summary,
            [
                (None, None, 80, Protocol::Tcp),
                (None, Some(8080), 80, Protocol::Tcp),
                (localhost, Some(5432), 5432, Protocol::Tcp),
                (None, Some(9000), 9000, Protocol::Udp),
                (None, Some(7000), 8000, Protocol::Tcp),
                (None, Some(7001), 8001, Protocol::Tcp),
            ]
        );
        let err = service_error("image: x\nports:\n  - 80\n  - \"80:http\"", "");
        assert!(
            err.starts_with(
                "/p/compose.yaml:6:9: service \"s\", key \"ports[1]\": invalid port \"80:http\""
            ),
            "{err}"
        );
    }

    #[test]
    fn long_ports() {
        let svc = service(
            "image: x\nports:\n  - target: 53\n    published: \"5353\"\n    protocol: udp\n    host_ip: \"::1\"\n    mode: host\n  - target: 80",
            "",
        );
        assert_eq!(
            svc.ports[0],
            Port {
                target: 53,
                published: Some(5353),
                host_ip: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                protocol: Protocol::Udp
            }
        );
        assert_eq!(svc.ports[1].published, None);
        assert!(
            service_error("image: x\nports:\n  - published: 80", "")
                .contains("missing \"target\" port")
        );
        assert!(
            service_error("image: x\nports:\n  - {target: 80, mode: swarm}", "")
                .contains("key \"ports[0].mode\": expected \"host\" or \"ingress\"")
        );
        assert!(
            service_error("image: x\nports:\n  - {target: 80, x: 1}", "")
                .contains("unsupported key \"ports[0].x\"")
        );
    }

    #[test]
    fn short_volumes() {
        let svc = service(
            "image: x\nvolumes:\n  - data:/data\n  - ./conf:/etc/conf:ro\n  - /abs:/abs\n  - /anon\n  - named:/n\n  - ext:/e",
            VOLS,
        );
        assert_eq!(
            svc.volumes,
            [
                Mount::Volume {
                    source: Some("proj_data".into()),
                    target: "/data".into(),
                    read_only: false
                },
                Mount::Bind {
                    source: "/p/conf".into(),
                    target: "/etc/conf".into(),
                    read_only: true,
                    create_host_path: true
                },
                Mount::Bind {
                    source: "/abs".into(),
                    target: "/abs".into(),
                    read_only: false,
                    create_host_path: true
                },
                Mount::Volume {
                    source: None,
                    target: "/anon".into(),
                    read_only: false
                },
                Mount::Volume {
                    source: Some("exact".into()),
                    target: "/n".into(),
                    read_only: false
                },
                Mount::Volume {
                    source: Some("ext".into()),
                    target: "/e".into(),
                    read_only: false
                },
            ]
        );
        let err = service_error("image: x\nvolumes: [nope:/x]", "");
        assert!(
            err.ends_with(
                "service \"s\", key \"volumes[0]\": volume \"nope\" is not declared in the top-level \"volumes\" section"
            ),
            "{err}"
        );
        let src = "services:\n  s:\n    image: x\n    volumes: [\"~/cfg:/cfg\"]\n";
        let p = resolve_with(src, &[("HOME", "/home/me")]).unwrap();
        assert!(
            matches!(&p.services[0].volumes[0], Mount::Bind { source, .. } if source == Path::new("/home/me/cfg"))
        );
        assert!(
            service_error("image: x\nvolumes: [\"~/cfg:/cfg\"]", "").contains("HOME is not set")
        );
    }

    #[test]
    fn long_volumes() {
        let svc = service(
            "image: x\nvolumes:\n  - type: volume\n    source: data\n    target: /data\n    read_only: true\n  \
             - type: volume\n    target: /anon\n  - type: bind\n    source: ../shared\n    target: /shared\n    \
             bind:\n      create_host_path: false\n  - type: tmpfs\n    target: /tmp\n    tmpfs:\n      size: 1024\n      mode: \"1777\"",
            VOLS,
        );
        assert_eq!(
            svc.volumes,
            [
                Mount::Volume {
                    source: Some("proj_data".into()),
                    target: "/data".into(),
                    read_only: true
                },
                Mount::Volume {
                    source: None,
                    target: "/anon".into(),
                    read_only: false
                },
                Mount::Bind {
                    source: "/shared".into(),
                    target: "/shared".into(),
                    read_only: false,
                    create_host_path: false
                },
                Mount::Tmpfs {
                    target: "/tmp".into(),
                    size: Some(1024),
                    mode: Some(0o1777)
                },
            ]
        );
        let bad = |yaml: &str| service_error(&format!("image: x\nvolumes:\n  - {yaml}"), VOLS);
        assert!(bad("{type: bind, target: /x}").contains("a bind mount needs \"source\""));
        assert!(
            bad("{type: tmpfs, source: a, target: /x}").contains("a tmpfs mount takes no source")
        );
        assert!(
            bad("{type: npipe, source: a, target: /x}")
                .contains("unsupported mount type \"npipe\"")
        );
        assert!(bad("{source: data, target: /x}").contains("missing \"type\""));
        assert!(bad("{type: volume, source: data}").contains("missing \"target\""));
        assert!(bad("{type: volume, source: data, target: rel}").contains("must be absolute"));
        assert!(bad("{type: volume, source: nope, target: /x}").contains("not declared"));
        assert!(
            bad("{type: volume, target: /x, volume: {nocopy: true}}")
                .contains("unsupported key \"volumes[0].volume\"")
        );
        assert!(bad("{type: tmpfs, target: /x, tmpfs: {size: 1t}}").contains("invalid size"));
        assert!(bad("{type: tmpfs, target: /x, tmpfs: {mode: 999}}").contains("octal"));
    }

    #[test]
    fn tmpfs_string_or_list() {
        let svc = service("image: x\ntmpfs: /run", "");
        assert_eq!(svc.tmpfs, vars(&[("/run", "")]));
        let svc = service("image: x\ntmpfs:\n  - /run:size=1m,mode=1777\n  - /tmp", "");
        assert_eq!(
            svc.tmpfs,
            vars(&[("/run", "size=1m,mode=1777"), ("/tmp", "")])
        );
        assert!(service_error("image: x\ntmpfs: [run]", "").contains("must be absolute"));
    }

    #[test]
    fn networks_list_and_map() {
        let svc = service("image: x\nnetworks: [back, front]", NETS);
        assert_eq!(svc.networks.keys().collect::<Vec<_>>(), ["back", "front"]);
        assert_eq!(svc.networks["back"].aliases, ["s"]);
        let svc = service(
            "image: x\nnetworks:\n  back:\n    ipv4_address: 10.1.0.5\n    ipv6_address: \"fd00::5\"\n    aliases: [db, primary]\n  front:",
            NETS,
        );
        let back = &svc.networks["back"];
        assert_eq!(back.aliases, ["s", "db", "primary"]);
        assert_eq!(back.ipv4_address, Some(Ipv4Addr::new(10, 1, 0, 5)));
        assert_eq!(back.ipv6_address, Some("fd00::5".parse().unwrap()));
        assert_eq!(
            svc.networks["front"],
            ServiceNetwork {
                aliases: vec!["s".into()],
                ..Default::default()
            }
        );
        // `default` needs no declaration.
        let svc = service("image: x\nnetworks: [default, back]", NETS);
        assert!(svc.networks.contains_key("default"));

        let err = service_error("image: x\nnetworks: [nope]", NETS);
        assert!(
            err.ends_with("network \"nope\" is not declared in the top-level \"networks\" section"),
            "{err}"
        );
        assert!(
            service_error("image: x\nnetworks:\n  back:\n    ipv4_address: 10.1", NETS)
                .contains("invalid ipv4 address")
        );
        assert!(
            service_error("image: x\nnetworks:\n  back:\n    priority: 1", NETS)
                .contains("unsupported key \"networks.back.priority\"")
        );
    }

    #[test]
    fn depends_on_list_and_map() {
        let src = "services:\n  a:\n    image: x\n  b:\n    image: x\n  c:\n    image: x\n    depends_on:\n      \
                   a:\n        condition: service_healthy\n      b:\n        condition: service_completed_successfully\n  \
                   d:\n    image: x\n    depends_on: [a, c]\n  e:\n    image: x\n    depends_on:\n      a:\n";
        let p = resolve_with(src, &[]).unwrap();
        let c = p.service("c").unwrap();
        assert_eq!(c.depends_on["a"].condition, DependencyCondition::Healthy);
        assert_eq!(
            c.depends_on["b"].condition,
            DependencyCondition::CompletedSuccessfully
        );
        let d = p.service("d").unwrap();
        assert_eq!(d.depends_on.keys().collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(d.depends_on["a"].condition, DependencyCondition::Started);
        assert_eq!(
            p.service("e").unwrap().depends_on["a"].condition,
            DependencyCondition::Started
        );

        let err = service_error("image: x\ndepends_on: [ghost]", "");
        assert_eq!(
            err,
            "/p/compose.yaml:4:18: service \"s\" depends on undefined service \"ghost\""
        );
        let err = service_error(
            "image: x\ndepends_on:\n  s:\n    condition: service_ready",
            "",
        );
        assert!(err.contains("unknown condition \"service_ready\""), "{err}");
        let err = service_error("image: x\ndepends_on:\n  s:\n    restart: true", "");
        assert!(
            err.contains("unsupported key \"depends_on.s.restart\""),
            "{err}"
        );
    }

    #[test]
    fn healthcheck_forms() {
        let check = |yaml: &str| {
            service(&format!("image: x\nhealthcheck:\n{yaml}"), "")
                .healthcheck
                .unwrap()
        };
        assert_eq!(
            check("  test: [\"CMD\", \"pg_isready\", \"-q\"]").test,
            HealthTest::Exec(vec!["pg_isready".into(), "-q".into()])
        );
        assert_eq!(
            check("  test: [\"CMD-SHELL\", \"curl -f x || exit 1\"]").test,
            HealthTest::Shell("curl -f x || exit 1".into())
        );
        assert_eq!(
            check("  test: curl -f x").test,
            HealthTest::Shell("curl -f x".into())
        );
        assert_eq!(check("  test: [NONE]").test, HealthTest::Disabled);
        assert_eq!(check("  disable: true").test, HealthTest::Disabled);
        assert_eq!(
            check("  disable: false\n  test: a").test,
            HealthTest::Shell("a".into())
        );
        let timings = check(
            "  interval: 1m30s\n  timeout: 500ms\n  start_period: 2s\n  start_interval: 1s\n  retries: 5",
        );
        assert_eq!(timings.test, HealthTest::Inherit);
        assert_eq!(timings.interval, Some(Duration::from_secs(90)));
        assert_eq!(timings.timeout, Some(Duration::from_millis(500)));
        assert_eq!(timings.start_period, Some(Duration::from_secs(2)));
        assert_eq!(timings.start_interval, Some(Duration::from_secs(1)));
        assert_eq!(timings.retries, Some(5));

        let bad = |yaml: &str| service_error(&format!("image: x\nhealthcheck:\n{yaml}"), "");
        let err = bad("  interval: 5");
        assert!(
            err.starts_with("/p/compose.yaml:5:17: service \"s\", key \"healthcheck.interval\": invalid duration \"5\""),
            "{err}"
        );
        assert!(
            bad("  test: [RUN, x]").contains("must start with \"CMD\", \"CMD-SHELL\" or \"NONE\"")
        );
        assert!(bad("  test: [CMD]").contains("\"CMD\" needs a command"));
        assert!(bad("  test: [CMD-SHELL, a, b]").contains("exactly one command"));
        assert!(bad("  disable: true\n  test: [CMD, x]").contains("cannot be combined"));
        assert!(bad("  retries: many").contains("expected a number"));
        assert!(bad("  intervall: 5s").contains("did you mean \"interval\""));
    }

    #[test]
    fn restart_policies() {
        let restart = |v: &str| service(&format!("image: x\nrestart: {v}"), "").restart;
        assert_eq!(restart("\"no\""), RestartPolicy::No);
        assert_eq!(restart("no"), RestartPolicy::No);
        assert_eq!(restart("always"), RestartPolicy::Always);
        assert_eq!(restart("unless-stopped"), RestartPolicy::UnlessStopped);
        assert_eq!(
            restart("on-failure"),
            RestartPolicy::OnFailure { max_retries: None }
        );
        assert_eq!(
            restart("on-failure:5"),
            RestartPolicy::OnFailure {
                max_retries: Some(5)
            }
        );
        assert!(
            service_error("image: x\nrestart: sometimes", "")
                .contains("invalid restart policy \"sometimes\"")
        );
        assert!(
            service_error("image: x\nrestart: on-failure:x", "").contains("invalid restart policy")
        );
    }

    #[test]
    fn labels_map_and_list() {
        let svc = service("image: x\nlabels:\n  a.b: \"1\"\n  empty:", "");
        assert_eq!(svc.labels, vars(&[("a.b", "1"), ("empty", "")]));
        let svc = service("image: x\nlabels: [\"a=1\", flag]", "");
        assert_eq!(svc.labels, vars(&[("a", "1"), ("flag", "")]));
    }

    #[test]
    fn ulimits_forms() {
        let svc = service(
            "image: x\nulimits:\n  nproc: 65535\n  nofile:\n    soft: 1024\n    hard: 2048",
            "",
        );
        assert_eq!(
            svc.ulimits["nproc"],
            Ulimit {
                soft: 65535,
                hard: 65535
            }
        );
        assert_eq!(
            svc.ulimits["nofile"],
            Ulimit {
                soft: 1024,
                hard: 2048
            }
        );
        let bad = |yaml: &str| service_error(&format!("image: x\nulimits:\n  nofile: {yaml}"), "");
        assert!(bad("{soft: 2, hard: 1}").contains("\"soft\" cannot exceed \"hard\""));
        assert!(bad("{soft: 2}").contains("needs both"));
        assert!(
            bad("{soft: 1, hard: 2, max: 3}").contains("unsupported key \"ulimits.nofile.max\"")
        );
        assert!(bad("lots").contains("expected a number"));
    }

    #[test]
    fn extra_hosts_forms() {
        let svc = service(
            "image: x\nextra_hosts:\n  - \"a:10.0.0.1\"\n  - \"b=10.0.0.2\"\n  - \"v6:::1\"\n  - \"gw:host-gateway\"",
            "",
        );
        let hosts: Vec<(&str, &str)> = svc
            .extra_hosts
            .iter()
            .map(|h| (h.hostname.as_str(), h.ip.as_str()))
            .collect();
        assert_eq!(
            hosts,
            [
                ("a", "10.0.0.1"),
                ("b", "10.0.0.2"),
                ("v6", "::1"),
                ("gw", "host-gateway")
            ]
        );
        let svc = service("image: x\nextra_hosts:\n  c: \"[::2]\"", "");
        assert_eq!(
            svc.extra_hosts,
            [ExtraHost {
                hostname: "c".into(),
                ip: "::2".into()
            }]
        );
        assert!(
            service_error("image: x\nextra_hosts: [\"a:nope\"]", "")
                .contains("not an ip address or host-gateway")
        );
        assert!(service_error("image: x\nextra_hosts: [lonely]", "").contains("host \"lonely\""));
    }

    #[test]
    fn simple_keys() {
        let svc = service(
            "image: x\nhostname: h\ncontainer_name: custom\nuser: \"999\"\nworking_dir: /w\ncap_add: [NET_ADMIN]\n\
             cap_drop: [ALL]\nstop_signal: SIGQUIT\nstop_grace_period: 1m30s\nprivileged: true\ninit: yes\ntty: TRUE\nstdin_open: false",
            "",
        );
        assert_eq!(svc.hostname.as_deref(), Some("h"));
        assert_eq!(svc.container_name, "custom");
        assert_eq!(svc.user.as_deref(), Some("999"));
        assert_eq!(svc.working_dir.as_deref(), Some("/w"));
        assert_eq!(svc.cap_add, ["NET_ADMIN"]);
        assert_eq!(svc.cap_drop, ["ALL"]);
        assert_eq!(svc.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(svc.stop_grace_period, Some(Duration::from_secs(90)));
        assert!(svc.privileged && svc.init && svc.tty && !svc.stdin_open);
        assert!(
            service_error("image: x\nprivileged: sure", "")
                .contains("expected true or false, found \"sure\"")
        );
        assert!(
            service_error("image: x\ncap_add: NET_ADMIN", "")
                .contains("expected a list, found a scalar")
        );
    }

    #[test]
    fn interpolation_in_typed_values() {
        let src = "services:\n  s:\n    image: x\n    privileged: ${PRIV:-false}\n    healthcheck:\n      \
                   retries: ${RETRIES}\n      interval: ${EVERY:-10s}\n";
        let p = resolve_with(src, &[("PRIV", "true"), ("RETRIES", "7")]).unwrap();
        let svc = &p.services[0];
        assert!(svc.privileged);
        let check = svc.healthcheck.as_ref().unwrap();
        assert_eq!(check.retries, Some(7));
        assert_eq!(check.interval, Some(Duration::from_secs(10)));
    }
}
