//! Human-friendly durations (`"30s"`, `"2m"`, `"1h 30m"`, `"500ms"`) for playbooks and CLI flags.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Serialize, Serializer};

/// The newtype name through which a type says "a template stands in for me with this text".
/// Durations use it so that `timeout = "{{ vars.t }}"` validates as a well-formed duration:
/// the playbook checker (which depends on this module, not the reverse) recognises it.
pub const PLACEHOLDER_NEWTYPE: &str = "chaosplay::Duration";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub fn from_secs(secs: u64) -> Self {
        Duration(std::time::Duration::from_secs(secs))
    }

    pub fn from_millis(ms: u64) -> Self {
        Duration(std::time::Duration::from_millis(ms))
    }
}

/// The longest duration a playbook or flag may give. Deadlines are `Instant::now() + d`, which
/// panics on overflow; a year is far beyond any scenario and far from that limit.
pub const MAX: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

impl std::str::FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const EXAMPLES: &str = "(examples: \"500ms\", \"30s\", \"2m\")";
        let text = s.trim();
        if text.starts_with('-') {
            return Err(format!(
                "invalid duration `{s}`: a duration cannot be negative {EXAMPLES}"
            ));
        }
        match humantime::parse_duration(text) {
            Ok(d) if d > MAX => Err(format!(
                "invalid duration `{s}`: longer than the longest accepted, 365 days"
            )),
            Ok(d) => Ok(Duration(d)),
            // humantime's own wording for overflow speaks of precision; say what it means.
            Err(humantime::DurationError::NumberOverflow) => Err(format!(
                "invalid duration `{s}`: longer than the longest accepted, 365 days"
            )),
            Err(e) => Err(format!("invalid duration `{s}`: {e} {EXAMPLES}")),
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// A measured duration as people read it: `250ms`, `29.9s`, `30s`, `1m 5s`, `2h 5m`.
/// Measured durations (what is left of a budget, how long a step took) carry nanoseconds
/// nobody needs: humantime prints `29s 999ms 947us 401ns` for what is simply "30s". Rounded to
/// the millisecond below a second, the tenth below a minute, the second below an hour and the
/// minute above. Not for durations a playbook gave (their `Display` prints them as written).
pub fn human(d: std::time::Duration) -> String {
    let ms = (d.as_secs_f64() * 1000.0).round() as u64;
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let tenths = (d.as_secs_f64() * 10.0).round() as u64;
    if tenths < 600 {
        return match tenths % 10 {
            0 => format!("{}s", tenths / 10),
            t => format!("{}.{t}s", tenths / 10),
        };
    }
    let secs = d.as_secs_f64().round() as u64;
    let (big, small, units) = if secs < 3600 {
        (secs / 60, secs % 60, ("m", "s"))
    } else {
        let minutes = (secs + 30) / 60;
        (minutes / 60, minutes % 60, ("h", "m"))
    };
    match small {
        0 => format!("{big}{}", units.0),
        _ => format!("{big}{} {small}{}", units.0, units.1),
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> de::Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl<'de> Visitor<'de> for DurationVisitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Duration, D::Error> {
                d.deserialize_str(self)
            }
        }
        d.deserialize_newtype_struct(PLACEHOLDER_NEWTYPE, DurationVisitor)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration such as \"500ms\", \"30s\", \"2m\" or \"1h 30m\".",
            "pattern": "^\\s*([0-9]+\\s*[a-zµ]+\\s*)+$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let d: Duration = "1m 30s".parse().unwrap();
        assert_eq!(d.0.as_secs(), 90);
        assert_eq!(d.to_string(), "1m 30s");
        assert_eq!(
            serde_json::from_str::<Duration>("\"250ms\"").unwrap(),
            Duration::from_millis(250)
        );
    }

    #[test]
    fn measured_durations_are_rounded_for_people() {
        let h = |ns: u64| human(std::time::Duration::from_nanos(ns));
        let ms = 1_000_000;
        let s = 1000 * ms;
        assert_eq!(h(29 * s + 999_947_401), "30s");
        assert_eq!(h(29 * s + 940 * ms), "29.9s");
        assert_eq!(h(30 * s), "30s");
        assert_eq!(h(250 * ms), "250ms");
        assert_eq!(h(0), "0ms");
        assert_eq!(h(400_000), "0ms");
        assert_eq!(h(999 * ms + 600_000), "1s");
        assert_eq!(h(1500 * ms), "1.5s");
        assert_eq!(h(59 * s + 960 * ms), "1m");
        assert_eq!(h(65 * s), "1m 5s");
        assert_eq!(h(125 * s + 400 * ms), "2m 5s");
        assert_eq!(h(3599 * s + 600 * ms), "1h");
        assert_eq!(h(2 * 3600 * s + 5 * 60 * s + 20 * s), "2h 5m");
        assert_eq!(h(26 * 3600 * s), "26h");
    }

    #[test]
    fn rejects_nonsense_and_overflow() {
        assert!("soon".parse::<Duration>().is_err());
        assert!("99999999999999999999d".parse::<Duration>().is_err());
    }

    #[test]
    fn absurd_durations_are_refused_with_their_reason() {
        let err = |s: &str| s.parse::<Duration>().unwrap_err();
        assert!(err("-5s").contains("cannot be negative"), "{}", err("-5s"));
        assert!(err("99999999999999999999s").contains("365 days"));
        assert!(err("366d").contains("365 days"));
        assert!(err("18446744073709551615s").contains("365 days"));
        assert_eq!("365d".parse::<Duration>().unwrap().0, MAX);
    }
}
