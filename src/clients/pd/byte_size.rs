//! Byte sizes as PD prints them (`"311.7GiB"`, `"0B"`).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number of bytes.
///
/// PD serializes a store's `capacity`, `available` and `used_size` as **strings**: its
/// `typeutil.ByteSize` marshals through go-units `BytesSize`, i.e. binary units with four
/// significant digits (`"311.7GiB"`, `"96.73GiB"`, `"1B"`, `"0B"`). The value is therefore
/// approximate (within 0.05% of the printed unit); it is rounded to the nearest byte here.
///
/// Deserializes from such a string or from a plain non-negative integer; serializes as the
/// integer byte count so that reports and assertions can compare numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

/// A byte-size string that is not a non-negative number followed by a known unit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid byte size {input:?}: {reason}")]
pub struct ParseByteSizeError {
    input: String,
    reason: &'static str,
}

impl FromStr for ByteSize {
    type Err = ParseByteSizeError;

    /// Accepts what PD prints and what PD itself parses (`units.RAMInBytes`): a decimal number,
    /// optional spaces, then a case-insensitive unit among `B`, `K`/`KB`/`KiB` … `E`/`EB`/`EiB`.
    /// Like PD, every unit is binary: `1KB` is 1024 bytes. A bare number is a byte count.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason| ParseByteSizeError {
            input: s.to_string(),
            reason,
        };
        let text = s.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = (&text[..split], text[split..].trim_start());
        if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
            return Err(fail("expected a non-negative number"));
        }
        let shift = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            "t" | "tb" | "tib" => 40,
            "p" | "pb" | "pib" => 50,
            "e" | "eb" | "eib" => 60,
            _ => return Err(fail("unknown unit")),
        };
        let multiplier = 1u128 << shift;
        if number.contains('.') {
            let value: f64 = number.parse().map_err(|_| fail("malformed number"))?;
            let bytes = (value * multiplier as f64).round();
            // `u64::MAX as f64` rounds up to 2^64, so `<` keeps the cast below in range.
            if bytes < u64::MAX as f64 {
                Ok(ByteSize(bytes as u64))
            } else {
                Err(fail("too large"))
            }
        } else {
            // Integers are computed exactly: f64 would lose precision above 2^53.
            number
                .parse::<u128>()
                .ok()
                .and_then(|n| n.checked_mul(multiplier))
                .and_then(|n| u64::try_from(n).ok())
                .map(ByteSize)
                .ok_or_else(|| fail("too large"))
        }
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ByteSizeVisitor;

        impl Visitor<'_> for ByteSizeVisitor {
            type Value = ByteSize;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a byte size such as \"311.7GiB\" or a number of bytes")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a byte size cannot be negative"))
            }
        }

        deserializer.deserialize_any(ByteSizeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> u64 {
        s.parse::<ByteSize>()
            .unwrap_or_else(|e| panic!("{e}"))
            .bytes()
    }

    #[test]
    fn parses_what_pd_prints() {
        assert_eq!(parse("0B"), 0);
        assert_eq!(parse("1B"), 1);
        assert_eq!(parse("100KiB"), 100 * 1024);
        assert_eq!(parse("512MiB"), 512 << 20);
        assert_eq!(parse("1.5TiB"), 3 << 39);
        // 311.7 * 2^30 = 334685326540.8, rounded to the nearest byte.
        assert_eq!(parse("311.7GiB"), 334_685_326_541);
        assert_eq!(
            parse("96.73GiB"),
            (96.73f64 * (1u64 << 30) as f64).round() as u64
        );
        assert_eq!(parse("292.5MiB"), 306_708_480);
    }

    #[test]
    fn parses_what_pd_accepts_as_input() {
        assert_eq!(parse("1KB"), 1024);
        assert_eq!(parse("1k"), 1024);
        assert_eq!(parse("2 gib"), 2 << 30);
        assert_eq!(parse(" 42 "), 42);
        assert_eq!(parse("15EiB"), 15 << 60);
        assert_eq!(parse("18446744073709551615"), u64::MAX);
    }

    #[test]
    fn rejects_malformed_sizes() {
        for bad in [
            "", "GiB", "-1B", "1.2.3GiB", "1XB", ".5GiB", "5.GiB", "16EiB", "1e3B",
        ] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad:?} was accepted");
        }
        let err = "12parsecs".parse::<ByteSize>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid byte size \"12parsecs\": unknown unit"
        );
    }

    #[test]
    fn deserializes_strings_and_numbers_and_serializes_numbers() {
        let sizes: Vec<ByteSize> = serde_json::from_str(r#"["1KiB", 7, "0B"]"#).unwrap();
        assert_eq!(sizes, [ByteSize(1024), ByteSize(7), ByteSize(0)]);
        assert_eq!(serde_json::to_string(&sizes).unwrap(), "[1024,7,0]");
        assert!(serde_json::from_str::<ByteSize>("-1").is_err());
        assert!(serde_json::from_str::<ByteSize>("true").is_err());
    }
}
