//! End-to-end tests of the compose loader on fixture files, through the public API.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chaosplay::compose::{
    ComposeProject, DependencyCondition, ExtraHost, HealthTest, Mount, Port, Protocol,
    RestartPolicy, Ulimit,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/compose")
        .join(name)
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Parity with Docker Compose on the PD + TiKV example (anchors, `<<` merge
/// keys, `${VAR:-default}`).
///
/// Checked by hand against `docker-compose -f tidb.yaml -p chaos config`
/// (Debian's docker-compose 1.29.2, PD_TAG/TIKV_TAG unset): same four services
/// in the same order; images `pingcap/pd:v8.5.1` and `pingcap/tikv:v8.5.1`;
/// each tikv gets `restart: "no"`, `depends_on: pd0: service_healthy` and the
/// tikv healthcheck (5s/3s/30/20s) from the anchor while keeping its own
/// hostname, ports (20180, 20181, 20182 -> 20180), volume and command; pd0 keeps
/// its own healthcheck (start_period 10s). docker-compose v1 doesn't print
/// container or network names; ours follow Compose v2's naming.
#[test]
fn tidb_example_matches_docker_compose() {
    let project = ComposeProject::load(&fixture("tidb.yaml"), Some("chaos"), &vars(&[])).unwrap();
    assert_eq!(project.name, "chaos");
    assert_eq!(project.dir, fixture(""));
    let names: Vec<&str> = project.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["pd0", "tikv0", "tikv1", "tikv2"]);

    let pd = project.service("pd0").unwrap();
    assert_eq!(pd.image, "pingcap/pd:v8.5.1");
    assert_eq!(pd.container_name, "chaos-pd0-1");
    assert_eq!(pd.restart, RestartPolicy::No);
    assert!(pd.depends_on.is_empty());
    let pd_check = pd.healthcheck.as_ref().unwrap();
    assert_eq!(pd_check.start_period, Some(Duration::from_secs(10)));

    for (i, tikv) in project.services[1..].iter().enumerate() {
        assert_eq!(tikv.image, "pingcap/tikv:v8.5.1");
        assert_eq!(tikv.hostname.as_deref(), Some(format!("tikv{i}").as_str()));
        assert_eq!(tikv.restart, RestartPolicy::No);
        assert_eq!(
            tikv.depends_on["pd0"].condition,
            DependencyCondition::Healthy
        );
        let check = tikv.healthcheck.as_ref().unwrap();
        assert!(
            matches!(&check.test, HealthTest::Shell(cmd) if cmd.contains("127.0.0.1:20180/status"))
        );
        assert_eq!(check.interval, Some(Duration::from_secs(5)));
        assert_eq!(check.timeout, Some(Duration::from_secs(3)));
        assert_eq!(check.retries, Some(30));
        assert_eq!(check.start_period, Some(Duration::from_secs(20)));
        assert_eq!(
            tikv.ports,
            [Port {
                target: 20180,
                published: Some(20180 + i as u16),
                host_ip: None,
                protocol: Protocol::Tcp
            }]
        );
        assert_eq!(
            tikv.volumes,
            [Mount::Volume {
                source: Some(format!("chaos_tikv{i}-data")),
                target: "/data".into(),
                read_only: false
            }]
        );
        assert_eq!(
            tikv.command.as_ref().unwrap().last().unwrap(),
            &format!("--data-dir=/data/tikv{i}")
        );
    }

    assert_eq!(
        project.volumes.keys().collect::<Vec<_>>(),
        ["pd0-data", "tikv0-data", "tikv1-data", "tikv2-data"]
    );
    assert_eq!(project.networks["default"].name, "chaos_default");
    assert!(project.warnings.is_empty(), "{:?}", project.warnings);

    let levels: Vec<Vec<&str>> = project
        .start_levels()
        .unwrap()
        .iter()
        .map(|level| level.iter().map(|s| s.name.as_str()).collect())
        .collect();
    assert_eq!(levels, [vec!["pd0"], vec!["tikv0", "tikv1", "tikv2"]]);

    insta::assert_debug_snapshot!("tidb_services", project.services);
}

#[test]
fn tidb_example_extra_vars_override_defaults() {
    let project = ComposeProject::load(
        &fixture("tidb.yaml"),
        Some("chaos"),
        &vars(&[("TIKV_TAG", "v7.5.0")]),
    )
    .unwrap();
    assert_eq!(project.service("pd0").unwrap().image, "pingcap/pd:v8.5.1");
    assert_eq!(
        project.service("tikv2").unwrap().image,
        "pingcap/tikv:v7.5.0"
    );
}

/// The `full/` fixture, checked against `docker-compose config` (1.29.2, with
/// the top-level `name:` and long-syntax `host_ip`, unknown to v1, removed):
/// `.env` supplies PG_VERSION and CLUSTER_NAME, `env_file` values lose to
/// `environment`, merges give both services the base labels/init, `$$` is a
/// literal `$`, and `disable: true` is Docker's `["NONE"]`.
#[test]
fn full_example_matches_docker_compose() {
    let file = fixture("full/compose.yaml");
    let dir = fixture("full");
    let project = ComposeProject::load(&file, Some("chaos"), &vars(&[])).unwrap();
    assert_eq!(project.name, "chaos");

    let db = project.service("db").unwrap();
    assert_eq!(db.image, "postgres:16");
    assert_eq!(db.container_name, "chaos-db");
    assert_eq!(db.hostname.as_deref(), Some("db"));
    assert_eq!(
        db.restart,
        RestartPolicy::OnFailure {
            max_retries: Some(3)
        }
    );
    assert!(db.init);
    assert_eq!(db.labels, vars(&[("team", "storage"), ("tier", "db")]));
    assert_eq!(
        db.environment,
        vars(&[
            ("CLUSTER", "from-dotenv"),
            ("FROM_ENV_FILE", "1"),
            ("FROM_ENV_FILE_OVERRIDE", "from-environment"),
            ("LOG_LEVEL", "info"),
            ("POSTGRES_PASSWORD", "p$ss"),
        ])
    );
    assert_eq!(
        db.entrypoint.as_deref(),
        Some(
            &[
                "docker-entrypoint.sh".to_owned(),
                "-c".into(),
                "shared_buffers=256MB".into()
            ][..]
        )
    );
    assert_eq!(
        db.command.as_deref(),
        Some(
            &[
                "postgres".to_owned(),
                "-c".into(),
                "max_connections=100".into()
            ][..]
        )
    );
    assert_eq!(
        db.ports,
        [
            Port {
                target: 5432,
                published: Some(5432),
                host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                protocol: Protocol::Tcp
            },
            Port {
                target: 9187,
                published: None,
                host_ip: None,
                protocol: Protocol::Tcp
            },
            Port {
                target: 8008,
                published: Some(18008),
                host_ip: Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                protocol: Protocol::Tcp
            },
        ]
    );
    assert_eq!(
        db.volumes,
        [
            Mount::Volume {
                source: Some("chaos_db-data".into()),
                target: "/var/lib/postgresql/data".into(),
                read_only: false
            },
            Mount::Bind {
                source: dir.join("init"),
                target: "/docker-entrypoint-initdb.d".into(),
                read_only: true,
                create_host_path: true
            },
            Mount::Tmpfs {
                target: "/scratch".into(),
                size: Some(64 << 20),
                mode: None
            },
        ]
    );
    assert_eq!(db.tmpfs, vars(&[("/run", "size=16m")]));
    let backend = &db.networks["backend"];
    assert_eq!(backend.aliases, ["db", "postgres"]);
    assert_eq!(backend.ipv4_address, Some(Ipv4Addr::new(172, 28, 0, 10)));
    assert_eq!(db.networks.len(), 1);
    let check = db.healthcheck.as_ref().unwrap();
    assert_eq!(
        check.test,
        HealthTest::Shell("pg_isready -U postgres".into())
    );
    assert_eq!(check.interval, Some(Duration::from_secs(90)));
    assert_eq!(check.timeout, Some(Duration::from_millis(500)));
    assert_eq!(check.start_period, Some(Duration::from_millis(1500)));
    assert_eq!(check.retries, Some(3));
    assert_eq!(
        db.ulimits["nofile"],
        Ulimit {
            soft: 20000,
            hard: 40000
        }
    );
    assert_eq!(
        db.ulimits["nproc"],
        Ulimit {
            soft: 65535,
            hard: 65535
        }
    );
    assert_eq!(db.cap_add, ["SYS_PTRACE"]);
    assert_eq!(db.stop_grace_period, Some(Duration::from_secs(60)));
    assert_eq!(db.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(
        db.extra_hosts,
        [ExtraHost {
            hostname: "gateway".into(),
            ip: "172.28.0.1".into()
        }]
    );

    let app = project.service("app").unwrap();
    assert_eq!(app.restart, RestartPolicy::No);
    assert_eq!(app.depends_on["db"].condition, DependencyCondition::Started);
    assert_eq!(
        app.environment,
        vars(&[("CLUSTER_NAME", "from-dotenv"), ("MODE", "test")])
    );
    assert_eq!(app.user.as_deref(), Some("1000:1000"));
    assert_eq!(app.working_dir.as_deref(), Some("/app"));
    assert!(app.tty && app.stdin_open && !app.privileged && app.init);
    assert_eq!(app.healthcheck.as_ref().unwrap().test, HealthTest::Disabled);
    assert_eq!(
        app.networks.keys().collect::<Vec<_>>(),
        ["backend", "default"]
    );

    let backend = &project.networks["backend"];
    assert_eq!(backend.name, "chaos_backend");
    assert_eq!(backend.subnets[0].subnet, "172.28.0.0/16");
    assert_eq!(
        backend.subnets[0].gateway,
        Some(IpAddr::V4(Ipv4Addr::new(172, 28, 0, 1)))
    );
    assert_eq!(project.networks["default"].name, "chaos_default");
    assert_eq!(project.volumes["db-data"].name, "chaos_db-data");
    assert!(project.volumes["shared"].external);
    assert_eq!(project.volumes["shared"].name, "shared");

    let levels: Vec<Vec<&str>> = project
        .start_levels()
        .unwrap()
        .iter()
        .map(|level| level.iter().map(|s| s.name.as_str()).collect())
        .collect();
    assert_eq!(levels, [["db"], ["app"]]);
}

#[test]
fn full_example_uses_top_level_name_without_explicit_project() {
    let project = ComposeProject::load(&fixture("full/compose.yaml"), None, &vars(&[])).unwrap();
    assert_eq!(project.name, "ignored-when-a-project-name-is-given");
    assert_eq!(
        project.service("app").unwrap().container_name,
        "ignored-when-a-project-name-is-given-app-1"
    );
}

#[test]
fn extra_vars_beat_dotenv() {
    let project = ComposeProject::load(
        &fixture("full/compose.yaml"),
        Some("chaos"),
        &vars(&[("PG_VERSION", "17"), ("CLUSTER_NAME", "extra")]),
    )
    .unwrap();
    let db = project.service("db").unwrap();
    assert_eq!(db.image, "postgres:17");
    assert_eq!(db.environment["CLUSTER"], "extra");
}

#[test]
fn missing_file_is_a_read_error_naming_the_file() {
    let file = fixture("does-not-exist.yaml");
    let err = ComposeProject::load(&file, None, &vars(&[])).unwrap_err();
    assert_eq!(err.path(), file);
    assert!(err.to_string().contains("cannot read file"), "{err}");
}
