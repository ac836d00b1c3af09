//! Parsers for the small string languages inside compose values: durations,
//! byte sizes, shell words, port specs and short volume specs.
//!
//! They work on already-interpolated strings and return plain messages; the
//! caller adds file, position and key.
//!
//! Two of them look like crates and are not, because the crates accept a different language
//! than Compose, and a compose file chaosplay runs must mean what it means to `docker compose`:
//! - durations are Go's `time.ParseDuration` (`1m30s`, `1.5h`, `500ms`; units ns, us/µs, ms,
//!   s, m, h). `humantime` (already a dependency, for the playbook's own durations) also
//!   accepts `1m 30s`, `2days`, `1w` and `1M` (a month), which `docker compose` rejects; a
//!   filter rejecting those would be a second parser of the same grammar.
//! - shell words are split as Compose splits a string `command` (go-shellwords, or Python's
//!   `shlex` for Compose v1): POSIX quoting, `#` an ordinary character. The `shell-words`
//!   crate treats a word starting with `#` as a comment, so `--requirepass #x` would silently
//!   lose its argument, and it takes a trailing backslash literally instead of refusing it.

use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use super::model::{Port, Protocol};

/// Parses a Go-style duration as Compose uses them: `1m30s`, `500ms`, `1.5h`, `0`.
pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration \"{s}\" (expected e.g. \"1m30s\", \"500ms\")");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..num_len].parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(invalid()),
        };
        total += number * nanos_per_unit;
        rest = &rest[unit_len..];
    }
    if total > u64::MAX as f64 {
        return Err(invalid());
    }
    // Rounding keeps `1.1s` at exactly 1_100_000_000ns despite float error.
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Parses a byte size like Docker: a number with an optional `b`, `k`, `m`
/// or `g` suffix (powers of 1024, case-insensitive, optional trailing `b`).
pub(crate) fn byte_size(s: &str) -> Result<u64, String> {
    let invalid = || format!("invalid size \"{s}\" (expected e.g. \"64m\" or a number of bytes)");
    let lower = s.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let number: u64 = lower[..digits_end].parse().map_err(|_| invalid())?;
    let factor: u64 = match &lower[digits_end..] {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        _ => return Err(invalid()),
    };
    number.checked_mul(factor).ok_or_else(invalid)
}

/// Splits a command string into words like a POSIX shell would (quotes and
/// backslashes, no expansion), as Compose does for string `command`s.
pub(crate) fn shell_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated single quote in \"{s}\"")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("unterminated double quote in \"{s}\"")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated double quote in \"{s}\"")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push(c),
                    None => return Err(format!("trailing backslash in \"{s}\"")),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Parses a short-syntax port: `[HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]`,
/// where ports may be equal-length ranges (`8000-8001:9000-9001`) and an IPv6
/// host address goes in brackets (`[::1]:80:80`). Ranges expand to one
/// [`Port`] per port.
pub(crate) fn port_spec(spec: &str) -> Result<Vec<Port>, String> {
    let (body, protocol) = match spec.rsplit_once('/') {
        Some((body, proto)) => (body, protocol(proto)?),
        None => (spec, Protocol::Tcp),
    };
    let (host_ip, rest) = if let Some(bracketed) = body.strip_prefix('[') {
        let (ip, rest) = bracketed
            .split_once("]:")
            .ok_or_else(|| format!("invalid port \"{spec}\": unclosed \"[\""))?;
        (Some(ip_addr(ip)?), rest)
    } else {
        match body.matches(':').count() {
            0 | 1 => (None, body),
            2 => {
                let (ip, rest) = body.split_once(':').unwrap_or_default();
                (Some(ip_addr(ip)?), rest)
            }
            _ => {
                return Err(format!(
                    "invalid port \"{spec}\": too many \":\" (an IPv6 host address goes in \
                     brackets, like \"[::1]:80:80\")"
                ));
            }
        }
    };
    let (published, target) = match rest.split_once(':') {
        Some((published, target)) => (Some(published).filter(|p| !p.is_empty()), target),
        None => (None, rest),
    };
    let targets = port_range(target).map_err(|e| format!("invalid port \"{spec}\": {e}"))?;
    let published = published
        .map(port_range)
        .transpose()
        .map_err(|e| format!("invalid port \"{spec}\": {e}"))?;
    if published.as_ref().is_some_and(|p| p.len() != targets.len()) {
        return Err(format!(
            "invalid port \"{spec}\": published and target ranges differ in length"
        ));
    }
    Ok(targets
        .iter()
        .enumerate()
        .map(|(i, &target)| Port {
            target,
            published: published.as_ref().map(|p| p[i]),
            host_ip,
            protocol,
        })
        .collect())
}

pub(crate) fn protocol(s: &str) -> Result<Protocol, String> {
    match s {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "sctp" => Ok(Protocol::Sctp),
        _ => Err(format!(
            "invalid protocol \"{s}\" (expected \"tcp\", \"udp\" or \"sctp\")"
        )),
    }
}

pub(crate) fn ip_addr(s: &str) -> Result<IpAddr, String> {
    s.parse().map_err(|_| format!("invalid ip address \"{s}\""))
}

/// A port number (1-65535).
pub(crate) fn port_number(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("\"{s}\" is not a port number (1-65535)")),
    }
}

fn port_range(s: &str) -> Result<Vec<u16>, String> {
    match s.split_once('-') {
        Some((start, end)) => {
            let (start, end) = (port_number(start)?, port_number(end)?);
            if start > end {
                return Err(format!("empty port range \"{s}\""));
            }
            Ok((start..=end).collect())
        }
        None => Ok(vec![port_number(s)?]),
    }
}

/// The source of a short-syntax volume entry.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum VolumeSource {
    /// No source: an anonymous volume.
    Anonymous,
    /// A named volume, by compose key.
    Named(String),
    /// A host path, already absolute.
    Host(PathBuf),
}

/// A parsed short-syntax volume entry (`SOURCE:TARGET[:MODE]` or `TARGET`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct VolumeSpec {
    pub source: VolumeSource,
    pub target: String,
    pub read_only: bool,
}

/// Parses a short-syntax volume. Sources starting with `.`, `/` or `~` are host
/// paths (relative ones resolved against `dir`, `~` against `home`); anything
/// else names a volume, exactly as Compose decides.
pub(crate) fn volume_spec(
    spec: &str,
    dir: &Path,
    home: Option<&str>,
) -> Result<VolumeSpec, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts[..] {
        [target] => (None, target, None),
        [source, target] => (Some(source), target, None),
        [source, target, mode] => (Some(source), target, Some(mode)),
        _ => return Err(format!("invalid volume \"{spec}\": too many \":\"")),
    };
    let mut read_only = false;
    for option in mode.into_iter().flat_map(|m| m.split(',')) {
        match option {
            "ro" => read_only = true,
            "rw" => read_only = false,
            // Only meaningful on Docker Desktop for macOS; ignored by Linux engines.
            "cached" | "delegated" | "consistent" => {}
            other => {
                return Err(format!(
                    "invalid volume \"{spec}\": unsupported mode \"{other}\" (supported: ro, rw)"
                ));
            }
        }
    }
    let source = match source {
        None => VolumeSource::Anonymous,
        Some("") => return Err(format!("invalid volume \"{spec}\": empty source")),
        Some(src) if src.starts_with(['.', '/', '~']) => {
            VolumeSource::Host(host_path(src, dir, home)?)
        }
        Some(name) => VolumeSource::Named(name.to_owned()),
    };
    Ok(VolumeSpec {
        source,
        target: container_path(target)?,
        read_only,
    })
}

/// Checks that a container path is absolute.
pub(crate) fn container_path(path: &str) -> Result<String, String> {
    if path.starts_with('/') {
        Ok(path.to_owned())
    } else {
        Err(format!("container path \"{path}\" must be absolute"))
    }
}

/// Makes a host path absolute: `~` is the home directory, relative paths
/// are relative to `dir`. `.` and `..` are resolved lexically, without
/// touching the filesystem, because the path may not exist yet.
pub(crate) fn host_path(path: &str, dir: &Path, home: Option<&str>) -> Result<PathBuf, String> {
    let joined = if path == "~" || path.starts_with("~/") {
        let home = home.ok_or_else(|| format!("cannot expand \"{path}\": HOME is not set"))?;
        Path::new(home).join(path.trim_start_matches('~').trim_start_matches('/'))
    } else {
        dir.join(path)
    };
    let mut normal = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    Ok(normal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn durations() {
        let ms = Duration::from_millis;
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert_eq!(duration("500ms"), Ok(ms(500)));
        assert_eq!(duration("5s"), Ok(ms(5_000)));
        assert_eq!(duration("1m30s"), Ok(ms(90_000)));
        assert_eq!(duration("1h2m3s4ms"), Ok(ms(3_723_004)));
        assert_eq!(duration("1.5h"), Ok(ms(5_400_000)));
        assert_eq!(duration("1.1s"), Ok(ms(1_100)));
        assert_eq!(duration("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(duration("7ns"), Ok(Duration::from_nanos(7)));
        // As Go's time.ParseDuration: no spaces, no days or weeks (humantime takes these).
        for bad in [
            "", "5", "s", "5x", "1m 30s", "-5s", "1..5s", "5S", "2days", "1d", "1w",
        ] {
            assert!(duration(bad).is_err(), "{bad:?} should be invalid");
        }
        assert!(duration("5").unwrap_err().contains("1m30s"));
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(byte_size("1024"), Ok(1024));
        assert_eq!(byte_size("10b"), Ok(10));
        assert_eq!(byte_size("2k"), Ok(2048));
        assert_eq!(byte_size("64m"), Ok(64 << 20));
        assert_eq!(byte_size("1G"), Ok(1 << 30));
        assert_eq!(byte_size("1gb"), Ok(1 << 30));
        assert!(byte_size("1t").is_err());
        assert!(byte_size("m").is_err());
        assert!(byte_size("99999999999999999g").is_err());
    }

    #[test]
    fn shell_splitting() {
        let split = |s| shell_words(s).unwrap();
        assert_eq!(split("a  b\tc"), ["a", "b", "c"]);
        assert_eq!(
            split("sh -c 'echo $HOME; exit 1'"),
            ["sh", "-c", "echo $HOME; exit 1"]
        );
        assert_eq!(
            split(r#"echo "a \"b\" \\ \x" c"#),
            ["echo", r#"a "b" \ \x"#, "c"]
        );
        assert_eq!(split(r"a\ b c"), ["a b", "c"]);
        assert_eq!(split("x'y'\"z\""), ["xyz"]);
        assert_eq!(split("''"), [""]);
        assert!(split("").is_empty());
        assert!(split("   ").is_empty());
        assert!(shell_words("echo 'open").is_err());
        assert!(shell_words("echo \"open").is_err());
        assert!(shell_words("echo \\").is_err());
        // As Compose: `#` is no comment (the shell-words crate would drop `#x`).
        assert_eq!(
            split("redis --requirepass #x"),
            ["redis", "--requirepass", "#x"]
        );
    }

    fn port(target: u16, published: Option<u16>) -> Port {
        Port {
            target,
            published,
            host_ip: None,
            protocol: Protocol::Tcp,
        }
    }

    #[test]
    fn short_ports() {
        assert_eq!(port_spec("80"), Ok(vec![port(80, None)]));
        assert_eq!(port_spec("8080:80"), Ok(vec![port(80, Some(8080))]));
        let udp = port_spec("8080:80/udp").unwrap();
        assert_eq!(udp[0].protocol, Protocol::Udp);
        let local = port_spec("127.0.0.1:8080:80").unwrap();
        assert_eq!(local[0].host_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(local[0].published, Some(8080));
        let ephemeral = port_spec("127.0.0.1::80").unwrap();
        assert_eq!(ephemeral[0].published, None);
        let v6 = port_spec("[::1]:53:53/udp").unwrap();
        assert_eq!(v6[0].host_ip, Some("::1".parse().unwrap()));
        assert_eq!(v6[0].protocol, Protocol::Udp);
    }

    #[test]
    fn port_ranges() {
        assert_eq!(
            port_spec("8000-8001:9000-9001"),
            Ok(vec![port(9000, Some(8000)), port(9001, Some(8001))])
        );
        assert_eq!(
            port_spec("7000-7001"),
            Ok(vec![port(7000, None), port(7001, None)])
        );
        assert!(
            port_spec("8000-8002:9000-9001")
                .unwrap_err()
                .contains("differ")
        );
        assert!(
            port_spec("9001-9000")
                .unwrap_err()
                .contains("empty port range")
        );
    }

    #[test]
    fn bad_ports() {
        for bad in [
            "",
            "0",
            "65536",
            "abc",
            "80/icmp",
            "1.2.3:80:80",
            "::1:80:80",
            "[::1:80:80",
        ] {
            assert!(port_spec(bad).is_err(), "{bad:?} should be invalid");
        }
        assert!(port_spec("::1:80:80").unwrap_err().contains("brackets"));
    }

    #[test]
    fn short_volumes() {
        let dir = Path::new("/proj");
        let parse = |s| volume_spec(s, dir, Some("/home/me")).unwrap();
        assert_eq!(
            parse("data:/var/lib/db"),
            VolumeSpec {
                source: VolumeSource::Named("data".into()),
                target: "/var/lib/db".into(),
                read_only: false
            }
        );
        assert_eq!(
            parse("./conf/../cfg:/etc/x:ro").source,
            VolumeSource::Host("/proj/cfg".into())
        );
        assert!(parse("./conf:/etc/x:ro").read_only);
        assert!(!parse("./conf:/etc/x:rw,cached").read_only);
        assert_eq!(
            parse("/abs/p:/p").source,
            VolumeSource::Host("/abs/p".into())
        );
        assert_eq!(
            parse("~/d:/d").source,
            VolumeSource::Host("/home/me/d".into())
        );
        assert_eq!(parse("..:/up").source, VolumeSource::Host("/".into()));
        assert_eq!(parse("/anon").source, VolumeSource::Anonymous);
        assert!(
            volume_spec("data:rel", dir, None)
                .unwrap_err()
                .contains("must be absolute")
        );
        assert!(
            volume_spec("a:/b:z", dir, None)
                .unwrap_err()
                .contains("unsupported mode")
        );
        assert!(volume_spec("a:/b:ro:x", dir, None).is_err());
        assert!(
            volume_spec("~/x:/x", dir, None)
                .unwrap_err()
                .contains("HOME")
        );
        assert!(volume_spec(":/x", dir, None).is_err());
    }
}
