//! Which containers a fault hits, and how a step says which it hit. One selector model for
//! every container step (`docker.*`, `network.*`, `fault.*`): by service glob, container name or
//! labels, scoped to the subject's compose project unless the step says `scope = "any"`, and
//! picked at random from the run's seed so a failing run replays exactly.
//!
//! It lives beside the step families rather than in one of them, so that each family (and
//! `chaosplay plan`, through [`crate::steps::StepKind::selector`]) depends on it and not on
//! another family.

use std::collections::BTreeMap;

use rand::SeedableRng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clients::docker::{Container, DockerClient, labels};
use crate::engine::{StepContext, StepError};
use crate::steps::OutOfBounds;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Pick {
    /// A seeded random choice (`--seed` replays it).
    #[default]
    Random,
    /// Every match.
    All,
    /// The first matches by container name.
    First,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Only containers of the subject's compose project.
    #[default]
    Project,
    /// Any container on the engine: say so explicitly, a chaos tool must not hit what it does
    /// not own by accident.
    Any,
}

/// Adds the selector fields to a step's parameter struct. They are spelled out (not
/// `#[serde(flatten)]`) so unknown keys are still rejected with a precise error.
macro_rules! selector_params {
    (pick = $pick:literal; $(bounds = $bounds:path;)? $(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Compose service name or glob, e.g. `"tikv*"`.
            #[serde(default)]
            pub service: Option<String>,
            /// Container name or id (e.g. `"{{ steps.kill.container }}"`).
            #[serde(default)]
            pub container: Option<String>,
            /// Leave out services matching this glob (e.g. `"{{ steps.kill.service }}"`).
            #[serde(default)]
            pub exclude: Option<String>,
            /// Labels the containers must carry (`{ role = "leader" }`).
            #[serde(default)]
            pub labels: std::collections::BTreeMap<String, String>,
            /// Which of the matches to act on: random, all or first.
            #[serde(default = $pick)]
            pub pick: $crate::steps::select::Pick,
            /// How many to pick (default: 1 for random and first, every match for all).
            #[serde(default)]
            pub count: Option<u32>,
            /// Pick this percentage of the matches instead (1–100, rounded up).
            #[serde(default)]
            pub percent: Option<u32>,
            /// `project` (default) or `any`.
            #[serde(default)]
            pub scope: $crate::steps::select::Scope,
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $name {
            pub fn selector(&self) -> $crate::steps::select::Selector {
                $crate::steps::select::Selector {
                    service: self.service.clone(),
                    container: self.container.clone(),
                    exclude: self.exclude.clone(),
                    labels: self.labels.clone(),
                    pick: self.pick,
                    count: self.count,
                    percent: self.percent,
                    scope: self.scope,
                }
            }
        }

        impl $crate::steps::Params for $name {
            const SELECTS: bool = true;

            fn bounds(&self) -> Vec<$crate::steps::OutOfBounds> {
                #[allow(unused_mut)]
                let mut broken = self.selector().bounds();
                $(broken.extend($bounds(self));)?
                broken
            }

            fn targets(&self) -> Option<$crate::steps::select::Selector> {
                Some(self.selector())
            }
        }
    };
}
pub(crate) use selector_params;

/// The documented outputs of a step that acts on containers: what [`hit_output`] gives, then
/// the step's own.
macro_rules! hit_outputs {
    ($(($name:literal, $what:literal)),* $(,)?) => {
        &[
            ("container", "name of the (first) container hit"),
            ("service", "its compose service"),
            ("id", "its container id"),
            ("at", "when the action was taken (RFC 3339)"),
            ("containers", "every container hit: name, service, id"),
            $(($name, $what),)*
        ]
    };
}
pub(crate) use hit_outputs;

/// The output of a step that acted on `hit` (a JSON object: steps add their own fields).
pub(crate) fn hit_output(hit: &[Container]) -> Value {
    let first = &hit[0];
    json!({
        "container": first.name,
        "service": first.service,
        "id": first.id,
        "at": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        "containers": hit.iter().map(|c| json!({"name": c.name, "service": c.service, "id": c.id})).collect::<Vec<_>>(),
    })
}

pub fn pick_random() -> Pick {
    Pick::Random
}

pub fn pick_all() -> Pick {
    Pick::All
}

pub fn pick_first() -> Pick {
    Pick::First
}

#[derive(Debug, Clone, Default)]
pub struct Selector {
    pub service: Option<String>,
    pub container: Option<String>,
    pub exclude: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub pick: Pick,
    pub count: Option<u32>,
    pub percent: Option<u32>,
    pub scope: Scope,
}

impl Selector {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.service {
            parts.push(format!("service `{s}`"));
        }
        if let Some(c) = &self.container {
            parts.push(format!("container `{c}`"));
        }
        if let Some(e) = &self.exclude {
            parts.push(format!("except service `{e}`"));
        }
        for (k, v) in &self.labels {
            parts.push(format!("label {k}={v}"));
        }
        if parts.is_empty() {
            "any container".into()
        } else {
            parts.join(", ")
        }
    }

    /// Whether a container matches, ignoring scope and picking.
    pub fn matches(&self, c: &Container) -> Result<bool, StepError> {
        if c.labels
            .get(labels::ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Ok(false);
        }
        let service = c.service.as_deref().unwrap_or_default();
        if let Some(pattern) = &self.service
            && !(c.service.is_some()
                && glob("service", pattern)
                    .map_err(StepError::Params)?
                    .is_match(service))
        {
            return Ok(false);
        }
        if let Some(pattern) = &self.exclude
            && c.service.is_some()
            && glob("service", pattern)
                .map_err(StepError::Params)?
                .is_match(service)
        {
            return Ok(false);
        }
        if let Some(name) = &self.container
            && c.name != *name.trim_start_matches('/')
            && !(name.len() >= 12 && c.id.starts_with(name.as_str()))
        {
            return Ok(false);
        }
        Ok(self.labels.iter().all(|(k, v)| c.labels.get(k) == Some(v)))
    }

    /// The selector's own rules, shared by every container step's bounds.
    pub fn bounds(&self) -> Vec<OutOfBounds> {
        let mut broken = Vec::new();
        if self.count.is_some() && self.percent.is_some() {
            broken.push(OutOfBounds::new(
                "percent",
                "give `count` or `percent`, not both",
            ));
        }
        if let Some(p) = self.percent
            && !(1..=100).contains(&p)
        {
            broken.push(OutOfBounds::new(
                "percent",
                format!("`percent` must be 1–100, not {p}"),
            ));
        }
        if self.count == Some(0) {
            broken.push(OutOfBounds::new("count", "`count` must be at least 1"));
        }
        for (field, pattern) in [("service", &self.service), ("exclude", &self.exclude)] {
            if let Some(Err(e)) = pattern.as_deref().map(|p| glob("service", p)) {
                broken.push(OutOfBounds::new(field, e));
            }
        }
        broken
    }

    /// How many of `matched` to hit (the selector is within its [`Selector::bounds`]).
    pub fn amount(&self, matched: usize) -> usize {
        match (self.percent, self.count, self.pick) {
            (Some(p), _, _) => (matched * p as usize).div_ceil(100).max(1),
            (None, Some(n), _) => n as usize,
            (None, None, Pick::All) => matched,
            (None, None, _) => 1,
        }
    }
}

/// `pattern` compiled; `what` names it in the error (`service`, `process`).
pub(crate) fn glob(what: &str, pattern: &str) -> Result<globset::GlobMatcher, String> {
    Ok(globset::Glob::new(pattern)
        .map_err(|e| format!("invalid {what} glob `{pattern}`: {e}"))?
        .compile_matcher())
}

/// Every container the selector matches (before picking), in name order. Zero matches is an
/// error: a fault that hits nothing must not pass silently. Read-only, so `chaosplay plan`
/// uses it too.
pub async fn matching(
    docker: &DockerClient,
    project: Option<&str>,
    selector: &Selector,
) -> Result<Vec<Container>, StepError> {
    let mut filter = Vec::new();
    if selector.scope == Scope::Project {
        let Some(project) = project else {
            return Err(StepError::Params(
                "this step acts on the subject's compose project, but the playbook has no [subject]; add one, or set scope = \"any\"".into(),
            ));
        };
        filter.push(format!("{}={project}", labels::PROJECT));
    }
    let mut candidates = docker.containers(&filter).await.map_err(StepError::from)?;
    // chaosplay's own project locks are never a target, not even of `scope = "any"`.
    candidates.retain(|c| !c.labels.contains_key(crate::engine::project_lock::LABEL));
    let mut matched = Vec::new();
    for c in &candidates {
        if selector.matches(c)? {
            matched.push(c.clone());
        }
    }
    if matched.is_empty() {
        let within = match (selector.scope, project) {
            (Scope::Project, Some(p)) => format!(" in compose project `{p}`"),
            _ => String::new(),
        };
        let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
        let seen = if names.is_empty() {
            "there are no containers there".to_string()
        } else {
            format!("there are: {}", names.join(", "))
        };
        return Err(StepError::Failed(format!(
            "no container matches {}{within}; {seen}",
            selector.describe()
        )));
    }
    Ok(matched)
}

/// The containers a step acts on. Zero matches is an error: a fault that hits nothing must not
/// pass silently.
pub async fn select(cx: &StepContext, selector: &Selector) -> Result<Vec<Container>, StepError> {
    let matched = matching(cx.docker().await?, cx.project(), selector).await?;
    let amount = selector.amount(matched.len());
    if amount > matched.len() {
        return Err(StepError::Failed(format!(
            "asked for {amount} containers matching {} but only {} match",
            selector.describe(),
            matched.len()
        )));
    }
    Ok(match selector.pick {
        Pick::All | Pick::First => matched.into_iter().take(amount).collect(),
        Pick::Random => {
            let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(cx.next_seed());
            let mut indices = rand::seq::index::sample(&mut rng, matched.len(), amount).into_vec();
            indices.sort_unstable();
            indices.into_iter().map(|i| matched[i].clone()).collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn container(name: &str, service: &str) -> Container {
        Container {
            id: format!("{name:0>64}"),
            name: name.into(),
            service: Some(service.into()),
            project: Some("p".into()),
            state: "running".into(),
            labels: HashMap::from([(labels::SERVICE.to_string(), service.to_string())]),
        }
    }

    #[test]
    fn service_globs_and_names() {
        let s = Selector {
            service: Some("tikv*".into()),
            ..Default::default()
        };
        assert!(s.matches(&container("p-tikv0-1", "tikv0")).unwrap());
        assert!(!s.matches(&container("p-pd0-1", "pd0")).unwrap());
        let s = Selector {
            container: Some("p-pd0-1".into()),
            ..Default::default()
        };
        assert!(s.matches(&container("p-pd0-1", "pd0")).unwrap());
        assert!(!s.matches(&container("p-pd0-10", "pd0")).unwrap());
        let s = Selector {
            service: Some("tikv*".into()),
            exclude: Some("tikv1".into()),
            ..Default::default()
        };
        assert!(s.matches(&container("p-tikv0-1", "tikv0")).unwrap());
        assert!(!s.matches(&container("p-tikv1-1", "tikv1")).unwrap());
    }

    #[test]
    fn amounts() {
        let pct = |p| {
            Selector {
                percent: Some(p),
                ..Default::default()
            }
            .amount(3)
        };
        assert_eq!(pct(34), 2);
        assert_eq!(pct(100), 3);
        assert_eq!(pct(1), 1);
        let all = Selector {
            pick: Pick::All,
            ..Default::default()
        };
        assert_eq!(all.amount(3), 3);
        assert_eq!(Selector::default().amount(3), 1);
    }

    #[test]
    fn bounds_name_the_offending_key() {
        let field = |s: Selector| s.bounds()[0].field;
        let percent = |p| Selector {
            percent: Some(p),
            ..Default::default()
        };
        assert_eq!(field(percent(0)), "percent");
        assert_eq!(field(percent(101)), "percent");
        assert!(percent(100).bounds().is_empty());
        let count = |c| Selector {
            count: Some(c),
            ..Default::default()
        };
        assert_eq!(field(count(0)), "count");
        assert_eq!(
            field(Selector {
                count: Some(1),
                percent: Some(50),
                ..Default::default()
            }),
            "percent"
        );
        assert_eq!(
            field(Selector {
                exclude: Some("[tikv".into()),
                ..Default::default()
            }),
            "exclude"
        );
    }
}
