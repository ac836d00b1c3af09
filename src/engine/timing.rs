//! Times in the report. Each is measured once, as a `Duration`, and written twice: in whole
//! microseconds (`_us`), because harnesses subtract step durations from wall time to measure
//! overheads of a few milliseconds, where whole milliseconds lose up to one per step; and in
//! whole milliseconds (`_ms`), the fields the format began with. Both truncate the one value,
//! so `x_ms == x_us / 1000` always holds.

use std::time::{Duration, SystemTime};

use serde::Serializer;
use serde::ser::{Serialize, SerializeMap};

/// When something ran, relative to the run's start.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub start: Duration,
    pub duration: Duration,
}

impl Timing {
    pub fn end(&self) -> Duration {
        self.start + self.duration
    }
}

/// `start_ms`, `start_us`, `duration_ms`, `duration_us`: flattened into its record.
impl Serialize for Timing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        fields(
            s,
            &[
                ("start_ms", "start_us", self.start),
                ("duration_ms", "duration_us", self.duration),
            ],
        )
    }
}

/// `duration_ms` and `duration_us`, for `#[serde(flatten, serialize_with)]`.
pub fn duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    fields(s, &[("duration_ms", "duration_us", *d)])
}

/// `at_ms` and `at_us`, for `#[serde(flatten, serialize_with)]`.
pub fn at<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    fields(s, &[("at_ms", "at_us", *d)])
}

fn fields<S: Serializer>(
    s: S,
    fields: &[(&'static str, &'static str, Duration)],
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(2 * fields.len()))?;
    for &(ms, us, d) in fields {
        map.serialize_entry(ms, &millis(d))?;
        map.serialize_entry(us, &micros(d))?;
    }
    map.end()
}

/// Whole milliseconds, truncated like `micros`, so `millis(d) == micros(d) / 1000`.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// RFC 3339 in UTC with microseconds: a run's start, as the report and templates show it.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_micros(t).to_string()
}

/// [`rfc3339`], for `#[serde(serialize_with)]`.
pub fn serialize_rfc3339<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[derive(serde::Serialize)]
    struct Record {
        name: &'static str,
        #[serde(flatten)]
        timing: Timing,
        #[serde(flatten, serialize_with = "duration")]
        took: Duration,
        #[serde(flatten, serialize_with = "at")]
        at: Duration,
    }

    fn record(start: Duration, duration: Duration) -> Value {
        serde_json::to_value(Record {
            name: "r",
            timing: Timing { start, duration },
            took: duration,
            at: start,
        })
        .unwrap()
    }

    #[test]
    fn writes_each_time_in_ms_and_us_beside_the_other_fields() {
        let value = record(
            Duration::from_nanos(12_345_678),
            Duration::from_micros(30_999),
        );
        assert_eq!(
            serde_json::to_string(&value).unwrap(),
            json!({
                "name": "r",
                "start_ms": 12, "start_us": 12_345, "duration_ms": 30, "duration_us": 30_999,
                "at_ms": 12, "at_us": 12_345,
            })
            .to_string()
        );
    }

    #[test]
    fn ms_is_us_over_1000_truncated() {
        for nanos in [
            0,
            999,
            1_000,
            999_999,
            1_000_000,
            1_999_999,
            30_000_001,
            86_400e9 as u64,
        ] {
            let d = Duration::from_nanos(nanos);
            let value = record(d, d);
            for name in ["start", "duration", "at"] {
                let ms = value[format!("{name}_ms")].as_u64().unwrap();
                let us = value[format!("{name}_us")].as_u64().unwrap();
                assert_eq!(us, nanos / 1_000, "{name} of {nanos} ns");
                assert_eq!(ms, us / 1_000, "{name} of {nanos} ns");
            }
        }
    }

    #[test]
    fn starts_are_rfc3339_with_microseconds() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.123456Z");
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000Z"
        );
    }
}
