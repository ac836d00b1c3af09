//! The store state PD reports in `state_name`.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A store's state as PD names it in `store.state_name`.
///
/// Not the same as the numeric `store.state` (metapb: 0 Up, 1 Offline, 2 Tombstone): for a
/// store whose metapb state is Up, PD replaces the name with `"Down"` when it has not
/// heartbeated for longer than `max-store-down-time` (default 30m), else with
/// `"Disconnected"` after 20 s without a heartbeat. This is the state a chaos scenario
/// waits on.
///
/// Parsing is case-insensitive (PD's own `/stores/check` filter is too), so playbooks may
/// write `up` or `Up`. A name this version does not know is kept as [`StoreState::Unknown`]
/// rather than rejected: newer PDs may add states.
///
/// The derived order follows a store's life (Up, Disconnected, Down, Offline, Tombstone,
/// then unknown names), which keeps per-state counts in a readable order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StoreState {
    Up,
    Disconnected,
    Down,
    Offline,
    Tombstone,
    Unknown(String),
}

impl StoreState {
    /// Every state this version knows, in lifecycle order.
    pub const KNOWN: [StoreState; 5] = [
        StoreState::Up,
        StoreState::Disconnected,
        StoreState::Down,
        StoreState::Offline,
        StoreState::Tombstone,
    ];

    /// PD's spelling of the state.
    pub fn as_str(&self) -> &str {
        match self {
            StoreState::Up => "Up",
            StoreState::Disconnected => "Disconnected",
            StoreState::Down => "Down",
            StoreState::Offline => "Offline",
            StoreState::Tombstone => "Tombstone",
            StoreState::Unknown(name) => name,
        }
    }
}

/// Only reached when a PD omits `state_name`, which v8.5 never does (the field has no
/// `omitempty`): an empty unknown name says "PD did not tell" without guessing.
impl Default for StoreState {
    fn default() -> Self {
        StoreState::Unknown(String::new())
    }
}

impl From<&str> for StoreState {
    fn from(name: &str) -> Self {
        StoreState::KNOWN
            .into_iter()
            .find(|known| known.as_str().eq_ignore_ascii_case(name))
            .unwrap_or_else(|| StoreState::Unknown(name.to_string()))
    }
}

impl FromStr for StoreState {
    type Err = Infallible;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(StoreState::from(name))
    }
}

impl fmt::Display for StoreState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StoreState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StoreState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(StoreState::from(name.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_names_case_insensitively() {
        assert_eq!(StoreState::from("Up"), StoreState::Up);
        assert_eq!(StoreState::from("disconnected"), StoreState::Disconnected);
        assert_eq!(StoreState::from("DOWN"), StoreState::Down);
        assert_eq!("Offline".parse(), Ok(StoreState::Offline));
        assert_eq!(StoreState::from("Tombstone"), StoreState::Tombstone);
    }

    #[test]
    fn keeps_unknown_names_for_forward_compatibility() {
        let state: StoreState = serde_json::from_str(r#""Serving""#).unwrap();
        assert_eq!(state, StoreState::Unknown("Serving".into()));
        assert_eq!(state.to_string(), "Serving");
        assert_eq!(serde_json::to_string(&state).unwrap(), r#""Serving""#);
    }

    #[test]
    fn serializes_with_pd_spelling() {
        let states = serde_json::to_string(&StoreState::KNOWN).unwrap();
        assert_eq!(
            states,
            r#"["Up","Disconnected","Down","Offline","Tombstone"]"#
        );
        let back: Vec<StoreState> = serde_json::from_str(&states).unwrap();
        assert_eq!(back, StoreState::KNOWN);
    }
}
