//! Loading a whole compose file: variables, top-level sections, services.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::dotenv;
use super::error::{ComposeError, ComposeErrorKind, Location};
use super::model::{ComposeProject, Network, Subnet, Volume};
use super::read::{Reader, Scope};
use super::service::{self, DEFAULT_NETWORK, ProjectContext};
use super::values;
use super::yaml::{self, Node, Value};
use crate::text_file;

const TOP_LEVEL_KEYS: &[&str] = &["version", "name", "services", "networks", "volumes"];

/// Reads the file, gathers variables, and resolves the project.
pub(crate) fn load(
    file: &Path,
    project_name: Option<&str>,
    extra_vars: &BTreeMap<String, String>,
) -> Result<ComposeProject, ComposeError> {
    let source = text_file::read_regular(file)
        .map_err(|e| ComposeError::new(file, None, ComposeErrorKind::Read(e)))?;
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = std::path::absolute(parent.unwrap_or(Path::new(".")))
        .map_err(|e| ComposeError::new(file, None, ComposeErrorKind::Read(e)))?;
    // Lowest priority first, so later layers override: `.env`, process, playbook.
    let mut vars = read_dotenv(&dir.join(".env"))?;
    vars.extend(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    );
    vars.extend(extra_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    resolve(&source, file, &dir, project_name, &vars)
}

/// The variables of a `.env` file, or none if there is no such file.
fn read_dotenv(path: &Path) -> Result<BTreeMap<String, String>, ComposeError> {
    match text_file::read_regular(path) {
        Ok(content) => dotenv::parse(&content).map_err(|(line, message)| {
            ComposeError::new(
                path,
                Some(Location { line, column: 1 }),
                ComposeErrorKind::EnvFile(message),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(ComposeError::new(path, None, ComposeErrorKind::Read(e))),
    }
}

/// Resolves compose `source` (read from `file`, located in absolute `dir`)
/// with the given variables. Separate from [`load`] so tests control every input.
pub(crate) fn resolve(
    source: &str,
    file: &Path,
    dir: &Path,
    project_name: Option<&str>,
    vars: &BTreeMap<String, String>,
) -> Result<ComposeProject, ComposeError> {
    let root = yaml::parse(source, file)?;
    let mut r = Reader::new(file, vars);
    let top = Scope::default();
    let entries = match &root.value {
        Value::Map(entries) => entries,
        Value::Null => return Err(r.invalid(&root, &top, "the compose file is empty")),
        other => {
            return Err(r.invalid(
                &root,
                &top,
                format!(
                    "expected a mapping at the top level, found {}",
                    other.kind_name()
                ),
            ));
        }
    };
    let (mut name_node, mut services_node, mut networks_node, mut volumes_node) =
        (None, None, None, None);
    for entry in entries {
        match entry.key.as_str() {
            // Compose ignores `version` nowadays; so do we.
            "version" => {}
            "name" => name_node = Some(&entry.value),
            "services" => services_node = Some(&entry.value),
            "networks" => networks_node = Some(&entry.value),
            "volumes" => volumes_node = Some(&entry.value),
            key if key.starts_with("x-") => {}
            _ => return Err(r.unsupported(entry, &top, TOP_LEVEL_KEYS)),
        }
    }

    let name = match (project_name, name_node) {
        (Some(name), _) => check_project_name(name).map_err(|message| {
            ComposeError::new(
                file,
                None,
                ComposeErrorKind::Invalid {
                    scope: "project name".to_owned(),
                    message,
                },
            )
        })?,
        (None, Some(node)) => {
            let name = r.string(node, &top.key("name"))?;
            check_project_name(&name).map_err(|e| r.invalid(node, &top.key("name"), e))?
        }
        (None, None) => project_name_from_dir(dir).ok_or_else(|| {
            r.invalid(
                &root,
                &top,
                format!(
                    "cannot derive a project name from directory \"{}\"; set \"name\"",
                    dir.display()
                ),
            )
        })?,
    };

    let mut networks = match networks_node {
        Some(node) => networks(&mut r, &name, node)?,
        None => BTreeMap::new(),
    };
    let volumes = match volumes_node {
        Some(node) => volumes(&mut r, &name, node)?,
        None => BTreeMap::new(),
    };

    let services_scope = top.key("services");
    let service_entries = match services_node {
        Some(node) => r.map(node, &services_scope)?,
        None => &[],
    };
    if service_entries.is_empty() {
        let at = services_node.unwrap_or(&root);
        return Err(r.invalid(at, &services_scope, "no services defined"));
    }
    let names: BTreeSet<String> = service_entries.iter().map(|e| e.key.clone()).collect();
    let cx = ProjectContext {
        project: &name,
        dir,
        services: &names,
        networks: &networks,
        volumes: &volumes,
    };
    let mut services = Vec::with_capacity(service_entries.len());
    for entry in service_entries {
        if !valid_service_name(&entry.key) {
            return Err(r.invalid(
                &entry.value,
                &Scope::owner("service", &entry.key),
                "service names may only contain letters, digits, \".\", \"_\" and \"-\"",
            ));
        }
        services.push(service::service(&mut r, &cx, &entry.key, &entry.value)?);
    }

    let uses_default = services
        .iter()
        .any(|s| s.networks.contains_key(DEFAULT_NETWORK));
    if uses_default && !networks.contains_key(DEFAULT_NETWORK) {
        networks.insert(
            DEFAULT_NETWORK.to_owned(),
            Network {
                name: format!("{name}_{DEFAULT_NETWORK}"),
                external: false,
                driver: None,
                ipam_driver: None,
                subnets: Vec::new(),
            },
        );
    }

    let project = ComposeProject {
        name,
        file: file.to_path_buf(),
        dir: dir.to_path_buf(),
        services,
        networks,
        volumes,
        warnings: r.warnings,
    };
    // Fail at load time, with the file named, rather than when starting.
    project.start_levels()?;
    Ok(project)
}

/// Compose's rule: lowercase letters, digits, `-` and `_`, starting with a letter or digit.
fn check_project_name(name: &str) -> Result<String, String> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "invalid project name \"{name}\": use lowercase letters, digits, \"-\" and \"_\", \
             starting with a letter or digit"
        ))
    }
}

/// The directory's name made valid the way Compose does it (lowercased,
/// other characters dropped), or `None` if nothing usable is left.
fn project_name_from_dir(dir: &Path) -> Option<String> {
    let base = dir.file_name()?.to_string_lossy().to_lowercase();
    let name: String = base
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_')
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .collect();
    (!name.is_empty()).then_some(name)
}

fn valid_service_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Reads `name` and `external` of a network or volume, which share the rules
/// for the real Docker name: `name:` as written, else the key for external
/// objects, else `<project>_<key>`.
struct Common {
    name: String,
    external: bool,
}

fn common(
    r: &mut Reader,
    project: &str,
    key: &str,
    node: &Node,
    scope: &Scope,
) -> Result<Common, ComposeError> {
    let mut name = None;
    let mut external = false;
    for entry in r.map(node, scope)? {
        match entry.key.as_str() {
            "name" => name = r.opt_string(&entry.value, &scope.key("name"))?,
            "external" => external = r.bool(&entry.value, &scope.key("external"))?,
            _ => {}
        }
    }
    let name = match name {
        Some(name) => name,
        None if external => key.to_owned(),
        None => format!("{project}_{key}"),
    };
    Ok(Common { name, external })
}

fn networks(
    r: &mut Reader,
    project: &str,
    node: &Node,
) -> Result<BTreeMap<String, Network>, ComposeError> {
    let mut networks = BTreeMap::new();
    for entry in r.map(node, &Scope::default().key("networks"))? {
        let scope = Scope::owner("network", &entry.key);
        let Common { name, external } = common(r, project, &entry.key, &entry.value, &scope)?;
        let mut network = Network {
            name,
            external,
            driver: None,
            ipam_driver: None,
            subnets: Vec::new(),
        };
        for option in r.map(&entry.value, &scope)? {
            let os = scope.key(&option.key);
            match option.key.as_str() {
                "name" | "external" => {}
                key if key.starts_with("x-") => {}
                "driver" => network.driver = r.opt_string(&option.value, &os)?,
                "ipam" => ipam(r, &mut network, &option.value, &os)?,
                _ => {
                    return Err(r.unsupported(
                        option,
                        &scope,
                        &["name", "external", "driver", "ipam"],
                    ));
                }
            }
            if external && !matches!(option.key.as_str(), "name" | "external") {
                return Err(r.invalid(
                    &option.value,
                    &os,
                    "an external network is managed outside the project and takes only \"name\"",
                ));
            }
        }
        networks.insert(entry.key.clone(), network);
    }
    Ok(networks)
}

fn ipam(r: &mut Reader, network: &mut Network, node: &Node, s: &Scope) -> Result<(), ComposeError> {
    for entry in r.map(node, s)? {
        let es = s.key(&entry.key);
        match entry.key.as_str() {
            "driver" => network.ipam_driver = r.opt_string(&entry.value, &es)?,
            "config" => {
                for (i, pool) in r.list(&entry.value, &es)?.iter().enumerate() {
                    let ps = es.index(i);
                    let mut subnet = None;
                    let mut gateway = None;
                    for field in r.map(pool, &ps)? {
                        let fs = ps.key(&field.key);
                        match field.key.as_str() {
                            "subnet" => {
                                let text = r.string(&field.value, &fs)?;
                                check_cidr(&text).map_err(|e| r.invalid(&field.value, &fs, e))?;
                                subnet = Some(text);
                            }
                            "gateway" => {
                                let text = r.string(&field.value, &fs)?;
                                gateway = Some(
                                    values::ip_addr(&text)
                                        .map_err(|e| r.invalid(&field.value, &fs, e))?,
                                );
                            }
                            _ => return Err(r.unsupported(field, &ps, &["subnet", "gateway"])),
                        }
                    }
                    let subnet =
                        subnet.ok_or_else(|| r.invalid(pool, &ps, "missing \"subnet\""))?;
                    network.subnets.push(Subnet { subnet, gateway });
                }
            }
            _ => return Err(r.unsupported(entry, s, &["driver", "config"])),
        }
    }
    Ok(())
}

/// Checks `address/prefix` notation so mistakes surface before Docker's API.
fn check_cidr(text: &str) -> Result<(), String> {
    let invalid = || format!("invalid subnet \"{text}\" (expected e.g. \"172.28.0.0/16\")");
    let (ip, prefix) = text.split_once('/').ok_or_else(invalid)?;
    let ip = values::ip_addr(ip).map_err(|_| invalid())?;
    let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(invalid());
    }
    Ok(())
}

fn volumes(
    r: &mut Reader,
    project: &str,
    node: &Node,
) -> Result<BTreeMap<String, Volume>, ComposeError> {
    let mut volumes = BTreeMap::new();
    for entry in r.map(node, &Scope::default().key("volumes"))? {
        let scope = Scope::owner("volume", &entry.key);
        let Common { name, external } = common(r, project, &entry.key, &entry.value, &scope)?;
        let mut volume = Volume {
            name,
            external,
            driver: None,
            driver_opts: BTreeMap::new(),
        };
        for option in r.map(&entry.value, &scope)? {
            let os = scope.key(&option.key);
            match option.key.as_str() {
                "name" | "external" => {}
                key if key.starts_with("x-") => {}
                "driver" | "driver_opts" if external => {
                    return Err(r.invalid(
                        &option.value,
                        &os,
                        "an external volume is managed outside the project and takes only \"name\"",
                    ));
                }
                "driver" => volume.driver = r.opt_string(&option.value, &os)?,
                // An option whose value is empty is left out, so that one file can turn a
                // mount on with a variable (subjects/etcd's data volumes).
                "driver_opts" => {
                    for (key, value, _) in r.key_values(&option.value, &os, &['='])? {
                        if let Some(value) = value.filter(|v| !v.is_empty()) {
                            volume.driver_opts.insert(key, value);
                        }
                    }
                }
                _ => {
                    return Err(r.unsupported(
                        option,
                        &scope,
                        &["name", "external", "driver", "driver_opts"],
                    ));
                }
            }
        }
        volumes.insert(entry.key.clone(), volume);
    }
    Ok(volumes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::test_support::{error, project, resolve_with, vars};
    use crate::test_support::TempDir;

    const ONE: &str = "services:\n  s:\n    image: x\n";

    #[test]
    fn project_name_priority() {
        let with_name = format!("name: from-file\n{ONE}");
        assert_eq!(project(&with_name).name, "proj");
        let p = resolve(
            &with_name,
            Path::new("/p/c.yaml"),
            Path::new("/p"),
            None,
            &vars(&[]),
        )
        .unwrap();
        assert_eq!(p.name, "from-file");
        let p = resolve(
            ONE,
            Path::new("/x/My Cluster!/c.yaml"),
            Path::new("/x/My Cluster!"),
            None,
            &vars(&[]),
        )
        .unwrap();
        assert_eq!(p.name, "mycluster");
        assert_eq!(p.services[0].container_name, "mycluster-s-1");
        let p = resolve(
            "name: ${N:-fallback}\nservices: {s: {image: x}}",
            Path::new("/p/c.yaml"),
            Path::new("/p"),
            None,
            &vars(&[]),
        )
        .unwrap();
        assert_eq!(p.name, "fallback");
    }

    #[test]
    fn invalid_project_names() {
        let err = resolve(
            ONE,
            Path::new("/p/c.yaml"),
            Path::new("/p"),
            Some("Bad"),
            &vars(&[]),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/p/c.yaml: project name: invalid project name \"Bad\""),
            "{err}"
        );
        let err = resolve(
            "name: _x\nservices: {s: {image: x}}",
            Path::new("/p/c.yaml"),
            Path::new("/p"),
            None,
            &vars(&[]),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/p/c.yaml:1:7: key \"name\": invalid project name"),
            "{err}"
        );
        let err = resolve(
            ONE,
            Path::new("/_/c.yaml"),
            Path::new("/_"),
            None,
            &vars(&[]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("cannot derive a project name"),
            "{err}"
        );
    }

    #[test]
    fn top_level_keys() {
        let p = project(&format!("version: '3.8'\nx-common: &c {{image: x}}\n{ONE}"));
        assert_eq!(p.services.len(), 1);
        assert_eq!(
            error(&format!("{ONE}configs:\n  c: {{}}\n")),
            "/p/compose.yaml:4:1: top level: unsupported key \"configs\""
        );
        assert!(error(&format!("{ONE}volume:\n  v:\n")).ends_with("did you mean \"volumes\"?"));
    }

    #[test]
    fn file_shape_errors() {
        assert_eq!(error(""), "/p/compose.yaml:1:1: the compose file is empty");
        assert!(error("- a\n").contains("expected a mapping at the top level, found a list"));
        assert!(error("version: '3'\n").contains("key \"services\": no services defined"));
        assert!(error("services: {}\n").contains("no services defined"));
        assert!(
            error("services: [a]\n").contains("key \"services\": expected a mapping, found a list")
        );
        assert!(
            error("services:\n  \"a b\":\n    image: x\n")
                .contains("service names may only contain")
        );
        assert!(
            error("services:\n  s: x\n")
                .contains("service \"s\": expected a mapping, found a scalar")
        );
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        assert_eq!(
            error("services:\n  s:\n    image: x\n   bad: indent\n"),
            "/p/compose.yaml:4:4: invalid yaml: while parsing a block mapping, did not find expected key"
        );
    }

    #[test]
    fn implicit_default_network() {
        let p = project(ONE);
        assert_eq!(p.networks.len(), 1);
        assert_eq!(p.networks["default"].name, "proj_default");
        assert!(!p.networks["default"].external);

        // Not created when nobody uses it.
        let p = project("services:\n  s:\n    image: x\n    networks: [n]\nnetworks:\n  n:\n");
        assert_eq!(p.networks.keys().collect::<Vec<_>>(), ["n"]);

        // A declared `default` keeps its configuration.
        let p = project(&format!(
            "{ONE}networks:\n  default:\n    name: shared-net\n    external: true\n"
        ));
        assert_eq!(p.networks["default"].name, "shared-net");
        assert!(p.networks["default"].external);
    }

    #[test]
    fn networks_section() {
        let p = project(&format!(
            "{ONE}networks:\n  a:\n  b:\n    name: literal\n    driver: bridge\n  c:\n    external: true\n  \
             d:\n    external: true\n    name: other\n  e:\n    x-meta: 1\n    ipam:\n      driver: default\n      \
             config:\n        - subnet: 10.5.0.0/16\n          gateway: 10.5.0.1\n        - subnet: fd00::/64\n"
        ));
        let name = |k: &str| p.networks[k].name.as_str();
        assert_eq!(
            (name("a"), name("b"), name("c"), name("d"), name("e")),
            ("proj_a", "literal", "c", "other", "proj_e")
        );
        assert_eq!(p.networks["b"].driver.as_deref(), Some("bridge"));
        assert!(p.networks["c"].external && p.networks["d"].external && !p.networks["a"].external);
        let e = &p.networks["e"];
        assert_eq!(e.ipam_driver.as_deref(), Some("default"));
        assert_eq!(
            e.subnets,
            [
                Subnet {
                    subnet: "10.5.0.0/16".into(),
                    gateway: Some("10.5.0.1".parse().unwrap())
                },
                Subnet {
                    subnet: "fd00::/64".into(),
                    gateway: None
                },
            ]
        );

        let bad = |yaml: &str| error(&format!("{ONE}networks:\n  n:\n{yaml}"));
        assert!(
            bad("    external: true\n    driver: bridge\n")
                .contains("an external network is managed outside")
        );
        assert_eq!(
            bad("    internal: true\n"),
            "/p/compose.yaml:6:5: network \"n\": unsupported key \"internal\""
        );
        assert!(
            bad("    ipam:\n      config:\n        - subnet: 10.0.0.0\n")
                .contains("invalid subnet \"10.0.0.0\"")
        );
        assert!(
            bad("    ipam:\n      config:\n        - subnet: 10.0.0.0/33\n")
                .contains("invalid subnet")
        );
        assert!(
            bad("    ipam:\n      config:\n        - gateway: 10.0.0.1\n")
                .contains("missing \"subnet\"")
        );
        assert!(
            bad("    ipam:\n      config:\n        - {subnet: 10.0.0.0/8, ip_range: x}\n")
                .contains("unsupported key \"ipam.config[0].ip_range\"")
        );
        assert!(bad("    ipam:\n      options: {}\n").contains("unsupported key \"ipam.options\""));
    }

    #[test]
    fn volumes_section() {
        let p = project(&format!(
            "{ONE}volumes:\n  a:\n  b:\n    name: literal\n    driver: local\n  c:\n    external: true\n  d: {{}}\n"
        ));
        let name = |k: &str| p.volumes[k].name.as_str();
        assert_eq!(
            (name("a"), name("b"), name("c"), name("d")),
            ("proj_a", "literal", "c", "proj_d")
        );
        assert_eq!(p.volumes["b"].driver.as_deref(), Some("local"));
        assert!(p.volumes["c"].external);
        let bad = |yaml: &str| error(&format!("{ONE}volumes:\n  v:\n{yaml}"));
        assert!(
            bad("    external: true\n    driver: local\n")
                .contains("an external volume is managed outside")
        );
        assert!(bad("    driver_op: {}\n").contains("volume \"v\": unsupported key \"driver_op\""));
        let opts = project(&format!(
            "{ONE}volumes:\n  t:\n    driver_opts: {{ type: tmpfs, device: tmpfs, o: \"size=${{SIZE:-8m}}\" }}\n"
        ));
        assert_eq!(opts.volumes["t"].driver_opts["o"], "size=8m");
        assert_eq!(opts.volumes["t"].driver_opts["type"], "tmpfs");
        let unset = project(&format!(
            "{ONE}volumes:\n  t:\n    driver_opts: {{ type: \"${{UNSET_TYPE:-}}\", o: \"\" }}\n"
        ));
        assert!(unset.volumes["t"].driver_opts.is_empty());
        assert!(bad("    external: maybe\n").contains("expected true or false"));
    }

    #[test]
    fn unset_variables_become_empty_with_a_warning() {
        let p = resolve_with(
            "services:\n  s:\n    image: \"x:${TAG}\"\n    hostname: ${TAG}\n",
            &[],
        )
        .unwrap();
        assert_eq!(p.services[0].image, "x:");
        assert_eq!(
            p.warnings,
            [
                "/p/compose.yaml:3:12: variable \"TAG\" is not set, using an empty string \
              (service \"s\", key \"image\")"
            ]
        );
    }

    #[test]
    fn extension_fields_are_not_interpolated() {
        let p = project(&format!("x-unused: ${{REQUIRED:?never evaluated}}\n{ONE}"));
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn missing_required_variable_in_a_service() {
        let err = error(
            "services:\n  db:\n    image: pg\n    environment:\n      PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD}\n",
        );
        assert_eq!(
            err,
            "/p/compose.yaml:5:17: service \"db\", key \"environment.PASSWORD\": required variable \
             \"DB_PASSWORD\" is missing a value: set DB_PASSWORD"
        );
    }

    #[test]
    fn invalid_interpolation_is_an_error() {
        let err = error("services:\n  s:\n    image: x\n    command: echo $1\n");
        assert!(
            err.starts_with(
                "/p/compose.yaml:4:14: service \"s\", key \"command\": invalid interpolation"
            ),
            "{err}"
        );
    }

    #[test]
    fn cycles_are_rejected_at_load() {
        let err = error(
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
        );
        assert_eq!(
            err,
            "/p/compose.yaml: dependency cycle between services: a -> b -> a"
        );
    }

    #[test]
    fn load_reads_dotenv_beside_the_file_with_lower_priority() {
        let dir = TempDir::new();
        // PATH is set in any test environment, so it shows that the process
        // environment beats `.env` without mutating the environment.
        dir.write(
            ".env",
            "TAG=from-dotenv\nPATH=from-dotenv\nWHO=from-dotenv\n",
        );
        let file = dir.write(
            "compose.yaml",
            "services:\n  s:\n    image: \"x:${TAG}\"\n    environment:\n      P: $PATH\n      W: $WHO\n",
        );
        let p = ComposeProject::load(&file, Some("proj"), &vars(&[("WHO", "from-extra")])).unwrap();
        let svc = &p.services[0];
        assert_eq!(svc.image, "x:from-dotenv");
        assert_eq!(svc.environment["P"], std::env::var("PATH").unwrap());
        assert_eq!(svc.environment["W"], "from-extra");
        assert_eq!(p.dir, dir.0);
        assert_eq!(p.file, file);

        let p =
            ComposeProject::load(&file, Some("proj"), &vars(&[("PATH", "from-extra")])).unwrap();
        assert_eq!(p.services[0].environment["P"], "from-extra");
    }

    #[test]
    fn load_reports_bad_dotenv_lines() {
        let dir = TempDir::new();
        let env = dir.write(".env", "A=1\nB='open\n");
        let file = dir.write("compose.yaml", ONE);
        let err = ComposeProject::load(&file, Some("proj"), &vars(&[])).unwrap_err();
        assert_eq!(err.path(), env);
        assert_eq!(err.location(), Some(Location { line: 2, column: 1 }));
        assert!(matches!(err.kind(), ComposeErrorKind::EnvFile(_)));
    }

    #[test]
    fn load_makes_a_relative_path_absolute() {
        let p = ComposeProject::load(
            Path::new("tests/fixtures/compose/tidb.yaml"),
            Some("t"),
            &vars(&[]),
        )
        .unwrap();
        assert!(p.dir.is_absolute());
        assert!(p.dir.ends_with("tests/fixtures/compose"));
    }
}
