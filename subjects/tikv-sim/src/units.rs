//! Values printed the way PD (a Go program) prints them: Go durations (`"30m0s"`),
//! go-units byte sizes (`"96.73GiB"`) and RFC 3339 timestamps with trimmed nanoseconds.
//! Hand-written because consumers compare these strings with what a real PD sends.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a Go duration such as `"30m"`, `"1h30m"`, `"1.5s"`, `"500ms"` or `"0"`
/// (Go's `time.ParseDuration`, without negative values).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let fail = || format!("invalid duration {text:?} (expected e.g. 20s, 1m30s, 500ms)");
    let s = text.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(fail());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(fail)?;
        let number: f64 = rest[..number_end].parse().map_err(|_| fail())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per_unit = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(fail()),
        };
        total += number * nanos_per_unit;
        rest = &rest[unit_end..];
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(fail());
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Formats like Go's `time.Duration.String()`: `"0s"`, `"500ms"`, `"20s"`, `"30m0s"`,
/// `"1h0m0s"`, `"36m20.480549971s"`.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", fraction(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", fraction(nanos, 1_000_000));
    }
    let secs = d.as_secs();
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    let seconds = fraction(
        u128::from(seconds) * 1_000_000_000 + u128::from(d.subsec_nanos()),
        1_000_000_000,
    );
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// `value / unit` as a decimal without trailing zeros (`1500, 1000` → `"1.5"`).
fn fraction(value: u128, unit: u128) -> String {
    let (whole, part) = (value / unit, value % unit);
    if part == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{part:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Formats like PD's `typeutil.ByteSize` (go-units `BytesSize`: binary units, `%.4g`):
/// `"0B"`, `"1B"`, `"512MiB"`, `"96.73GiB"`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    format!("{}{}", four_significant_digits(size), UNITS[unit])
}

/// Go's `%.4g` for `0 <= value < 10000` (always fixed notation in that range).
fn four_significant_digits(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    // `{:.3e}` rounds to four significant digits, e.g. "9.673e1".
    let scientific = format!("{value:.3e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let text = if exponent < 0 {
        format!("0.{}{digits}", "0".repeat((-exponent - 1) as usize))
    } else {
        let split = (exponent as usize + 1).min(digits.len());
        let (int, frac) = digits.split_at(split);
        let int = format!("{int}{}", "0".repeat(exponent as usize + 1 - split));
        format!("{int}.{frac}")
    };
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Unix nanoseconds of `t` (0 before the epoch, which the simulator never produces).
pub fn unix_nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Unix seconds of `t`.
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// RFC 3339 in UTC with nanoseconds and trailing zeros trimmed, as Go marshals a
/// `time.Time`: `"2024-12-25T03:41:23.480549971Z"`, `"2024-12-25T03:05:03Z"`.
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let frac = match since.subsec_nanos() {
        0 => String::new(),
        n => format!(".{}", format!("{n:09}").trim_end_matches('0')),
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{frac}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Go's zero `time.Time` as JSON: what PD prints for a cluster that was never bootstrapped.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day)
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_in_go_format() {
        for (text, go) in [
            ("30m", "30m0s"),
            ("20s", "20s"),
            ("1h", "1h0m0s"),
            ("1h30m", "1h30m0s"),
            ("1.5s", "1.5s"),
            ("500ms", "500ms"),
            ("0", "0s"),
            ("36m20.480549971s", "36m20.480549971s"),
            ("1500us", "1.5ms"),
            ("7ns", "7ns"),
        ] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), go, "{text}");
        }
        for bad in ["", "10", "5x", "s", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn byte_sizes_match_go_units() {
        assert_eq!(format_bytes(0), "0B");
        assert_eq!(format_bytes(1), "1B");
        assert_eq!(format_bytes(100 << 30), "100GiB");
        assert_eq!(format_bytes(512 << 20), "512MiB");
        assert_eq!(
            format_bytes((96.73 * (1u64 << 30) as f64) as u64),
            "96.73GiB"
        );
        assert_eq!(
            format_bytes((311.7 * (1u64 << 30) as f64) as u64),
            "311.7GiB"
        );
        assert_eq!(format_bytes(1023), "1023B");
        assert_eq!(format_bytes(1536), "1.5KiB");
    }

    #[test]
    fn timestamps_are_rfc3339_with_trimmed_nanos() {
        let t = UNIX_EPOCH + Duration::new(1_735_098_083, 480_549_971);
        assert_eq!(rfc3339(t), "2024-12-25T03:41:23.480549971Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_735_095_903)),
            "2024-12-25T03:05:03Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::new(0, 500_000_000)),
            "1970-01-01T00:00:00.5Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }
}
