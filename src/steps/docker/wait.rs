//! `docker.wait`: wait until containers reach a state or health, timed by the engine's events.
//!
//! A wait that polls every `interval` knows when a container changed only to within that
//! interval. The Engine API's event stream says when it happened: the wait subscribes to the
//! events of the containers it watches and looks again (one inspect each) as soon as one
//! arrives, so it ends one delivery and one inspect after the change, and records that lag as
//! its resolution instead of the interval. The daemon stamps each event in nanoseconds when it
//! handles the change (after containerd reported the process's exit, say); the wait sees it only
//! after delivery, so the lag it records is measured from that stamp to the moment its look
//! confirmed the state.
//!
//! Events can be missed: the stream breaks when the daemon restarts or the connection drops,
//! and some proxies do not pass it at all. So the wait still looks every `interval` by itself,
//! subscribes again when the stream ends (from just before its last look, so the daemon replays
//! what happened meanwhile), and subscribes from a second before its first look, so a change
//! between that look and the subscription is replayed too.

use std::time::{Duration as StdDuration, Instant, SystemTime};

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::select::{self, select, selector_params};
use super::super::{Effect, StepDoc};
use crate::clients::docker::{DockerClient, DockerError};
use crate::duration::Duration;
use crate::engine::{StepContext, StepError};

selector_params! {
    pick = "select::pick_all";
    pub struct WaitParams {
        /// Wanted state: running, exited, paused, created, restarting, removing or dead.
        #[serde(default)]
        pub state: Option<ContainerState>,
        /// Wanted health: healthy, unhealthy or starting.
        #[serde(default)]
        pub health: Option<Health>,
        /// Longest time between two looks when no event arrives: the fallback for events
        /// missed across a reconnect of the event stream.
        #[serde(default = "half_second")]
        pub interval: Duration,
    }
}

/// A container's state as the Engine API reports it (`State.Status`): a closed set, so a
/// misspelt one is refused at validation with a suggestion instead of waiting out the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

/// A container's health as its healthcheck reports it (`State.Health.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Starting,
    Healthy,
    Unhealthy,
}

impl ContainerState {
    fn name(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Removing => "removing",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
        }
    }
}

impl Health {
    fn name(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

fn half_second() -> Duration {
    Duration::from_millis(500)
}

impl WaitParams {
    /// The pause between looks without events: `interval`, but never under 10 ms, so a tiny
    /// one cannot flood the daemon.
    pub fn pause(&self) -> StdDuration {
        StdDuration::max(self.interval.0, StdDuration::from_millis(10))
    }
}

pub const WAIT_DOC: StepDoc = StepDoc {
    summary: "Wait until the selected containers (all matches by default) reach a state and/or health, told by the Engine API's events (milliseconds after the change) with a look every `interval` as a fallback; bounded by the step's timeout.",
    outputs: &[
        (
            "containers",
            "each container's name, state and health when the wait ended",
        ),
        ("elapsed_ms", "how long the wait took"),
        (
            "seen_by",
            "`event` (an engine event led to the last look) or `look` (the first look, or the fallback)",
        ),
        (
            "changed_at",
            "when the engine stamped that event (RFC 3339, nanoseconds); null when seen by `look`",
        ),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: true,
    effect: Effect::None,
    example: "uses = \"docker.wait\"\nwith = { service = \"etcd*\", health = \"healthy\" }\ntimeout = \"60s\"",
};

/// How far before its first look the wait subscribes: the daemon replays events from then, so
/// a change between the look and the subscription (or a clock a little ahead of the daemon's)
/// cannot be missed.
const REPLAY: StdDuration = StdDuration::from_secs(1);

pub async fn wait(p: WaitParams, cx: &StepContext) -> Result<Value, StepError> {
    if p.state.is_none() && p.health.is_none() {
        return Err(StepError::Params("give `state`, `health` or both".into()));
    }
    let start = Instant::now();
    let hit = select(cx, &p.selector()).await?;
    let mut containers = Containers {
        docker: cx.docker().await?,
        names: hit.iter().map(|c| c.name.clone()).collect(),
        params: &p,
    };
    let wanted = [
        p.state.map(ContainerState::name),
        p.health.map(Health::name),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" and ");
    let done = watch(&mut containers, p.pause(), |look| {
        cx.status(format!("{}/{} {wanted}", look.ready, look.containers.len()))
    })
    .await?;
    cx.seen_within(done.within);
    Ok(json!({
        "containers": done.look.containers,
        "elapsed_ms": start.elapsed().as_millis() as u64,
        "seen_by": if done.event.is_some() { "event" } else { "look" },
        "changed_at": done.event.map(|at| humantime::format_rfc3339_nanos(at).to_string()),
    }))
}

/// One look at every watched container.
struct Look {
    containers: Vec<Value>,
    ready: usize,
}

impl Look {
    fn done(&self) -> bool {
        self.ready == self.containers.len()
    }
}

/// How the wait ended: the look that found every container ready, the event that led to it,
/// and how late that look can be after the change it saw.
struct Done {
    look: Look,
    event: Option<SystemTime>,
    within: StdDuration,
}

/// What a wait needs from the engine (a fake in the tests makes events go missing).
trait Watched {
    async fn look(&mut self) -> Result<Look, StepError>;
    fn events(&self, since: SystemTime) -> BoxStream<'static, Result<SystemTime, DockerError>>;
}

struct Containers<'a> {
    docker: &'a DockerClient,
    names: Vec<String>,
    params: &'a WaitParams,
}

impl Watched for Containers<'_> {
    async fn look(&mut self) -> Result<Look, StepError> {
        let mut look = Look {
            containers: Vec::new(),
            ready: 0,
        };
        for name in &self.names {
            let (state, health) = self.docker.state(name).await?;
            let p = self.params;
            let ok = p.state.is_none_or(|s| s.name() == state)
                && p.health.is_none_or(|h| health.as_deref() == Some(h.name()));
            look.ready += usize::from(ok);
            look.containers
                .push(json!({"name": name, "state": state, "health": health}));
        }
        Ok(look)
    }

    fn events(&self, since: SystemTime) -> BoxStream<'static, Result<SystemTime, DockerError>> {
        self.docker.container_events(&self.names, since).boxed()
    }
}

/// Looks until every container is ready: after each event, or `pause` after the last look
/// when none comes. The step's timeout bounds the loop.
async fn watch(
    engine: &mut impl Watched,
    pause: StdDuration,
    mut status: impl FnMut(&Look),
) -> Result<Done, StepError> {
    let mut events = engine.events(SystemTime::now() - REPLAY);
    // The last change cannot be older than the start of the look before the one that saw it
    // (that look still missed it), nor than the step's first look.
    let mut previous = Instant::now();
    let mut event = None;
    loop {
        let looked = (Instant::now(), SystemTime::now());
        let look = engine.look().await?;
        status(&look);
        if look.done() {
            let within = lag(previous, event);
            return Ok(Done {
                look,
                event,
                within,
            });
        }
        previous = looked.0;
        event = None;
        tokio::select! {
            next = events.next() => match next {
                Some(Ok(at)) => event = Some(at),
                // The stream broke: look again after a pause (the daemon may be restarting),
                // with a new subscription that replays what happened since this look.
                Some(Err(_)) | None => {
                    tokio::time::sleep(pause).await;
                    events = engine.events(looked.1 - REPLAY);
                }
            },
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// How late a look that found the change can be: from the event's stamp when one led to it
/// (the daemon's clock is the host's for a local engine; a remote one's may differ), never
/// more than since the previous look began, which the change must have followed.
fn lag(previous: Instant, event: Option<SystemTime>) -> StdDuration {
    let since_look = previous.elapsed();
    let since_event = event.and_then(|at| SystemTime::now().duration_since(at).ok());
    since_event
        .map_or(since_look, |e| e.min(since_look))
        .max(StdDuration::from_micros(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Ready from the `ready_at`-th look on; its event stream is given by `events`.
    struct Fake {
        looks: usize,
        ready_at: usize,
        subscriptions: Arc<AtomicUsize>,
        events: fn() -> BoxStream<'static, Result<SystemTime, DockerError>>,
    }

    impl Watched for Fake {
        async fn look(&mut self) -> Result<Look, StepError> {
            self.looks += 1;
            let ready = usize::from(self.looks >= self.ready_at);
            Ok(Look {
                containers: vec![json!({"name": "c"})],
                ready,
            })
        }

        fn events(&self, _: SystemTime) -> BoxStream<'static, Result<SystemTime, DockerError>> {
            self.subscriptions.fetch_add(1, Ordering::SeqCst);
            (self.events)()
        }
    }

    fn fake(
        ready_at: usize,
        events: fn() -> BoxStream<'static, Result<SystemTime, DockerError>>,
    ) -> Fake {
        Fake {
            looks: 0,
            ready_at,
            subscriptions: Arc::default(),
            events,
        }
    }

    #[tokio::test]
    async fn an_event_triggers_the_look_that_ends_the_wait() {
        let mut f = fake(2, || {
            futures_util::stream::iter([Ok(SystemTime::now())])
                .chain(futures_util::stream::pending())
                .boxed()
        });
        let done = watch(&mut f, StdDuration::from_secs(60), |_| {})
            .await
            .unwrap();
        assert_eq!(f.looks, 2);
        assert!(done.event.is_some());
        assert!(done.within < StdDuration::from_secs(1), "{:?}", done.within);
    }

    #[tokio::test]
    async fn a_silent_stream_is_covered_by_the_fallback_look() {
        let mut f = fake(3, || futures_util::stream::pending().boxed());
        let done = watch(&mut f, StdDuration::from_millis(10), |_| {})
            .await
            .unwrap();
        assert_eq!(f.looks, 3);
        assert!(done.event.is_none(), "seen by a look, not an event");
        assert_eq!(f.subscriptions.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_broken_stream_is_subscribed_again_after_a_pause() {
        let mut f = fake(3, || futures_util::stream::empty().boxed());
        let done = watch(&mut f, StdDuration::from_millis(10), |_| {})
            .await
            .unwrap();
        assert!(done.event.is_none());
        assert_eq!(
            f.subscriptions.load(Ordering::SeqCst),
            3,
            "one per broken stream"
        );
    }

    #[test]
    fn the_lag_is_bounded_by_the_previous_look() {
        let previous = Instant::now();
        let long_ago = SystemTime::now() - StdDuration::from_secs(3600);
        assert!(lag(previous, Some(long_ago)) < StdDuration::from_secs(1));
        let future = SystemTime::now() + StdDuration::from_secs(3600);
        assert!(
            lag(previous, Some(future)) < StdDuration::from_secs(1),
            "a clock ahead counts as no stamp"
        );
    }
}
