//! `load.http`: HTTP load at a fixed rate, usually in the background while a fault is applied,
//! so a scenario can state "errors during the kill < 1 %".
//!
//! The load is open loop: request `i` is due at `i / rate` whatever the earlier ones are doing,
//! so a slow or dead server cannot slow the load down and hide its own slowness (coordinated
//! omission). At most `concurrency` requests are in flight; one that falls due while all slots
//! are busy is *dropped* — counted, not sent, and not queued, since a queue would grow without
//! bound while a server hangs and then fire a burst that no client would send. A dropped request
//! counts against `error_rate`: the server was too slow to take it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::http::{RequestSpec, default_method};
use super::{Effect, OutOfBounds, Params, StepDoc};
use crate::duration::Duration;
use crate::engine::{StepContext, StepError};

const MAX_RATE: u32 = 10_000;
const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(3600);
const MAX_CONCURRENCY: u32 = 1_000;
const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadHttpParams {
    /// The full URL, e.g. `"http://127.0.0.1:2379/health"`.
    pub url: String,
    /// HTTP method.
    #[serde(default = "default_method")]
    pub method: String,
    /// Headers sent with every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (sets `content-type: application/json`), sent with every request.
    #[serde(default)]
    pub json: Option<Value>,
    /// A raw text body, sent with every request.
    #[serde(default)]
    pub body: Option<String>,
    /// Requests per second, 1–10000, sent on a fixed schedule whatever the responses.
    #[schemars(range(min = 1, max = 10000))]
    pub rate: u32,
    /// How long to send, at most 1h. The step's own `timeout` (by default the scenario's
    /// `step_timeout`) must be longer than this plus the request `timeout`, or the step times
    /// out and its figures are lost.
    pub duration: Duration,
    /// Most requests in flight at once, 1–1000; a request due while all are busy is dropped.
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = 1000))]
    pub concurrency: u32,
    /// Per-request timeout (at most 1m), from connecting to the end of the response body.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Status codes that count as success; empty (the default) accepts any 2xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
}

fn default_concurrency() -> u32 {
    16
}

fn default_timeout() -> Duration {
    Duration::from_secs(2)
}

pub const DOC: StepDoc = StepDoc {
    summary: "Send HTTP requests at a fixed rate for a duration and measure successes, errors and latency. Open loop: a request due while `concurrency` are in flight is dropped (and counts as an error), not queued. Run it with `background = true` during a fault; `await` with `cancel = true` ends it early with the figures so far. Errors are measured, never a failure: assert on the output.",
    outputs: &[
        ("sent", "requests sent"),
        ("ok", "requests answered with an expected status"),
        (
            "errors",
            "requests sent that failed: no connection, timeout, unexpected status, broken response",
        ),
        (
            "dropped",
            "requests not sent because `concurrency` requests were in flight when they were due",
        ),
        (
            "error_rate",
            "(errors + dropped) / (sent + dropped), from 0 to 1; 0 if nothing was due",
        ),
        (
            "latency_ms",
            "`p50`, `p90`, `p99`, `max`, `mean` of successful requests, in milliseconds (percentiles within 1 %); null without any",
        ),
        (
            "errors_by_kind",
            "errors and drops by kind: `connect`, `timeout`, `status_<code>`, `request`, `body`, `dropped`",
        ),
        (
            "timeline",
            "one entry per second of the schedule: `{t, ok, errors, dropped}`, each request counted in the second it was due",
        ),
        (
            "unavailable_s",
            "seconds of the timeline with at least one error or drop",
        ),
        (
            "longest_unavailable_s",
            "the longest run of consecutive such seconds: how long the service was out",
        ),
        (
            "elapsed_ms",
            "from the first request to the last response, in milliseconds",
        ),
        (
            "partial",
            "true when the load ended before its `duration`: stopped by `await`, or cancelled because the run failed or was interrupted (figures up to then)",
        ),
    ],
    expressions: &[],
    read_only: false,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"load\"\nuses = \"load.http\"\nwith = { url = \"http://127.0.0.1:2379/health\", rate = 200, duration = \"60s\" }\nbackground = true",
};

pub async fn run(p: LoadHttpParams, cx: &StepContext) -> Result<Value, StepError> {
    let request = RequestSpec {
        method: &p.method,
        url: &p.url,
        headers: &p.headers,
        json: p.json.as_ref(),
        body: p.body.as_deref(),
        timeout: p.timeout,
    }
    .build(cx.http())?;
    let rate = u64::from(p.rate);
    let due_total =
        u64::try_from((p.duration.0.as_nanos() * u128::from(rate)).div_ceil(1_000_000_000))
            .unwrap_or(u64::MAX);
    cx.status(format!(
        "{} {} at {}/s for {}",
        request.method(),
        p.url,
        p.rate,
        p.duration
    ));
    let mut tally = Tally::new(p.expect_status);
    let slots = Arc::new(Semaphore::new(p.concurrency as usize));
    let mut tasks = JoinSet::new();
    // The default `Burst`: a tick the runtime was late for (the timer has millisecond
    // resolution; at high rates every tick is) fires at once, keeping the average rate.
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(1) / p.rate);
    let mut status_every = tokio::time::interval(std::time::Duration::from_secs(1));
    status_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let stopped = cx.stopped();
    tokio::pin!(stopped);
    let start = Instant::now();
    let mut due = 0;
    while due < due_total {
        tokio::select! {
            biased;
            _ = &mut stopped => break,
            Some(joined) = tasks.join_next() => tally.record(joined),
            _ = ticker.tick() => {
                let second = due / rate;
                due += 1;
                match Arc::clone(&slots).try_acquire_owned() {
                    Ok(permit) => {
                        tally.sent += 1;
                        // Cannot fail: the body was built from a string or JSON, in memory.
                        let request = request.try_clone().expect("an in-memory request clones");
                        let client = cx.http().clone();
                        tasks.spawn(async move {
                            let sent = Instant::now();
                            let outcome = send(&client, request).await;
                            drop(permit);
                            (second, outcome, sent.elapsed())
                        });
                    }
                    Err(_) => tally.dropped(second),
                }
            }
            _ = status_every.tick() => cx.status(tally.summary_line()),
        }
    }
    // Requests in flight are waited for, even after a stop: dropping them would hide exactly
    // the slow ones a fault causes. Each ends within the request timeout.
    if !tasks.is_empty() {
        cx.status(format!(
            "{}; waiting for {} in flight",
            tally.summary_line(),
            tasks.len()
        ));
    }
    while let Some(joined) = tasks.join_next().await {
        tally.record(joined);
    }
    let mut output = tally.output(start.elapsed());
    output["partial"] = Value::Bool(due < due_total);
    Ok(output)
}

impl Params for LoadHttpParams {
    fn bounds(&self) -> Vec<OutOfBounds> {
        let mut broken = Vec::new();
        if !(1..=MAX_RATE).contains(&self.rate) {
            broken.push(OutOfBounds::new(
                "rate",
                format!(
                    "`rate` must be 1–{MAX_RATE} requests per second, not {}",
                    self.rate
                ),
            ));
        }
        if self.duration.0.is_zero() || self.duration.0 > MAX_DURATION {
            broken.push(OutOfBounds::new(
                "duration",
                format!(
                    "`duration` must be more than 0 and at most 1h, not {}",
                    self.duration
                ),
            ));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            broken.push(OutOfBounds::new(
                "concurrency",
                format!(
                    "`concurrency` must be 1–{MAX_CONCURRENCY}, not {}",
                    self.concurrency
                ),
            ));
        }
        if self.timeout.0.is_zero() || self.timeout.0 > MAX_TIMEOUT {
            broken.push(OutOfBounds::new(
                "timeout",
                format!(
                    "`timeout` must be more than 0 and at most 1m, not {}",
                    self.timeout
                ),
            ));
        }
        broken
    }
}

/// Sends one request and reads the whole body (so the latency is the complete response's,
/// as `http.request` measures it, and the connection can be reused): the status, or the
/// kind of failure.
async fn send(client: &reqwest::Client, request: reqwest::Request) -> Result<u16, &'static str> {
    let response = client.execute(request).await.map_err(failure_kind)?;
    let status = response.status().as_u16();
    response.bytes().await.map_err(failure_kind)?;
    Ok(status)
}

fn failure_kind(e: reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    }
}

/// What one request task reports: the second of the schedule it was due in, its outcome, and
/// how long it took.
type Joined = Result<(u64, Result<u16, &'static str>, std::time::Duration), tokio::task::JoinError>;

#[derive(Debug, Clone, Copy, Default)]
struct Second {
    ok: u64,
    errors: u64,
    dropped: u64,
}

/// The figures so far. Its memory is fixed but for the timeline: one entry per second, and
/// `duration` is at most an hour.
struct Tally {
    expect_status: Vec<u16>,
    sent: u64,
    ok: u64,
    errors: u64,
    dropped: u64,
    errors_by_kind: BTreeMap<String, u64>,
    latency: Histogram,
    timeline: Vec<Second>,
}

impl Tally {
    fn new(expect_status: Vec<u16>) -> Self {
        Tally {
            expect_status,
            sent: 0,
            ok: 0,
            errors: 0,
            dropped: 0,
            errors_by_kind: BTreeMap::new(),
            latency: Histogram::new(),
            timeline: Vec::new(),
        }
    }

    /// The timeline entry of second `t`, created on first use: a run stopped early has no
    /// entries for the seconds it did not reach.
    fn second(&mut self, t: u64) -> &mut Second {
        let t = usize::try_from(t).unwrap_or(usize::MAX);
        if t >= self.timeline.len() {
            self.timeline.resize(t + 1, Second::default());
        }
        &mut self.timeline[t]
    }

    fn dropped(&mut self, second: u64) {
        self.dropped += 1;
        self.second(second).dropped += 1;
    }

    fn record(&mut self, joined: Joined) {
        // A request task only ends early by panicking, which is a bug worth surfacing.
        let (second, outcome, elapsed) = joined.expect("load request task panicked");
        let failure = match outcome {
            Ok(status) if self.success(status) => None,
            Ok(status) => Some(format!("status_{status}")),
            Err(kind) => Some(kind.to_string()),
        };
        match failure {
            None => {
                self.ok += 1;
                self.second(second).ok += 1;
                self.latency.record(elapsed);
            }
            Some(kind) => {
                self.errors += 1;
                self.second(second).errors += 1;
                *self.errors_by_kind.entry(kind).or_default() += 1;
            }
        }
    }

    fn success(&self, status: u16) -> bool {
        if self.expect_status.is_empty() {
            (200..300).contains(&status)
        } else {
            self.expect_status.contains(&status)
        }
    }

    /// The live status: "312 sent, 2 errors, p50 3.1 ms".
    fn summary_line(&self) -> String {
        let mut line = format!("{} sent, {} errors", self.sent, self.errors);
        if self.dropped > 0 {
            line.push_str(&format!(", {} dropped", self.dropped));
        }
        if let Some(p50) = self.latency.percentile(0.5) {
            line.push_str(&format!(", p50 {:.1} ms", p50 as f64 / 1000.0));
        }
        line
    }

    fn error_rate(&self) -> f64 {
        let due = self.sent + self.dropped;
        if due == 0 {
            0.0
        } else {
            (self.errors + self.dropped) as f64 / due as f64
        }
    }

    /// Seconds of the schedule with an error or a drop: how many in all, and the longest run
    /// of them in a row — the outage a client saw, to the second.
    fn unavailable(&self) -> (u64, u64) {
        let (mut total, mut run, mut longest) = (0, 0, 0);
        for s in &self.timeline {
            if s.errors + s.dropped > 0 {
                total += 1;
                run += 1;
                longest = longest.max(run);
            } else {
                run = 0;
            }
        }
        (total, longest)
    }

    fn output(mut self, elapsed: std::time::Duration) -> Value {
        if self.dropped > 0 {
            self.errors_by_kind.insert("dropped".into(), self.dropped);
        }
        let ms = |us: Option<u64>| us.map(|us| us as f64 / 1000.0);
        let timeline: Vec<Value> = self
            .timeline
            .iter()
            .enumerate()
            .map(|(t, s)| json!({ "t": t, "ok": s.ok, "errors": s.errors, "dropped": s.dropped }))
            .collect();
        json!({
            "sent": self.sent,
            "ok": self.ok,
            "errors": self.errors,
            "dropped": self.dropped,
            "error_rate": self.error_rate(),
            "latency_ms": {
                "p50": ms(self.latency.percentile(0.5)),
                "p90": ms(self.latency.percentile(0.9)),
                "p99": ms(self.latency.percentile(0.99)),
                "max": ms(self.latency.max()),
                "mean": ms(self.latency.mean()),
            },
            "errors_by_kind": self.errors_by_kind,
            "unavailable_s": self.unavailable().0,
            "longest_unavailable_s": self.unavailable().1,
            "timeline": timeline,
            "elapsed_ms": u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

/// Latencies are capped at 2^40 µs (12 days), far beyond any request timeout.
const MAX_US: u64 = (1 << 40) - 1;
/// Significant decimal digits kept: 2 means every recorded value is within 1 % of its
/// bucket, as the docs promise for percentiles.
const SIGNIFICANT_DIGITS: u8 = 2;

/// Latencies in microseconds, in HdrHistogram's log-linear buckets (the `hdrhistogram`
/// crate): memory is fixed (a few thousand counters) whatever `rate × duration` is; keeping
/// every sample would take up to 36 million of them at the parameters' limits. The sum is
/// kept beside it so `mean` stays exact, and HdrHistogram's `max` is exact only to its bucket,
/// so the exact maximum is kept too.
struct Histogram {
    counts: hdrhistogram::Histogram<u64>,
    sum_us: u128,
    max_us: u64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            counts: hdrhistogram::Histogram::new_with_bounds(1, MAX_US, SIGNIFICANT_DIGITS)
                .expect("1 ≤ 2^40 and 2 significant digits are valid bounds"),
            sum_us: 0,
            max_us: 0,
        }
    }

    fn record(&mut self, elapsed: std::time::Duration) {
        let us = u64::try_from(elapsed.as_micros())
            .unwrap_or(MAX_US)
            .min(MAX_US);
        self.counts.saturating_record(us);
        self.sum_us += u128::from(us);
        self.max_us = self.max_us.max(us);
    }

    /// The nearest-rank `q` quantile (0 < q ≤ 1), in microseconds; `None` when empty. Read at
    /// the middle of its bucket (within 1 % of a recorded value), never above the maximum.
    fn percentile(&self, q: f64) -> Option<u64> {
        if self.counts.is_empty() {
            return None;
        }
        let value = self.counts.value_at_quantile(q);
        Some(self.counts.median_equivalent(value).min(self.max_us))
    }

    fn max(&self) -> Option<u64> {
        (!self.counts.is_empty()).then_some(self.max_us)
    }

    fn mean(&self) -> Option<u64> {
        let n = self.counts.len();
        (n > 0).then(|| u64::try_from(self.sum_us / u128::from(n)).unwrap_or(MAX_US))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_value_reads_back_within_a_percent() {
        for us in (0..20_000)
            .step_by(7)
            .chain([123_456, 9_999_999, MAX_US - 1, MAX_US])
        {
            let mut h = Histogram::new();
            h.record(std::time::Duration::from_micros(us));
            let got = h.percentile(0.5).unwrap();
            // The hand-written histogram it replaced was within 1/128; HdrHistogram with 2 significant digits is within 1/256.
            assert!(got.abs_diff(us) as f64 <= us as f64 / 256.0, "{us} → {got}");
            assert_eq!(h.max(), Some(us));
        }
    }

    #[test]
    fn percentiles_come_within_a_percent() {
        let mut h = Histogram::new();
        assert_eq!(h.percentile(0.5), None);
        // 1 ms … 1000 ms, one each: the nearest-rank p50 is 500 ms, p99 990 ms.
        for ms in 1..=1000 {
            h.record(std::time::Duration::from_millis(ms));
        }
        for (q, want) in [(0.5, 500_000.0), (0.9, 900_000.0), (0.99, 990_000.0)] {
            let got = h.percentile(q).unwrap() as f64;
            assert!((got - want).abs() <= want / 100.0, "p{q}: {got}");
        }
        assert_eq!(h.max(), Some(1_000_000));
        assert_eq!(h.mean(), Some(500_500));
        assert_eq!(h.percentile(1.0), Some(1_000_000));
    }

    #[test]
    fn error_rate_counts_drops_as_failures() {
        let mut t = Tally::new(Vec::new());
        t.sent = 3;
        t.record(Ok((0, Ok(200), std::time::Duration::from_millis(1))));
        t.record(Ok((0, Ok(503), std::time::Duration::from_millis(1))));
        t.record(Ok((0, Err("connect"), std::time::Duration::ZERO)));
        t.dropped(0);
        t.dropped(0);
        assert_eq!(t.summary_line(), "3 sent, 2 errors, 2 dropped, p50 1.0 ms");
        let out = t.output(std::time::Duration::from_secs(1));
        assert_eq!(out["error_rate"], 0.8);
        assert_eq!(
            out["errors_by_kind"],
            json!({"connect": 1, "dropped": 2, "status_503": 1})
        );
        assert_eq!(
            out["timeline"],
            json!([{"t": 0, "ok": 1, "errors": 2, "dropped": 2}])
        );
    }

    #[test]
    fn unavailability_counts_seconds_with_errors_and_the_longest_run() {
        let mut t = Tally::new(Vec::new());
        let ok = |t: &mut Tally, s| t.record(Ok((s, Ok(200), std::time::Duration::ZERO)));
        let bad = |t: &mut Tally, s| t.record(Ok((s, Err("connect"), std::time::Duration::ZERO)));
        // ok, bad, bad, ok+bad, ok, dropped, ok: 4 seconds with errors, 3 of them in a row.
        for (second, good, failed) in [(0, 1, 0), (1, 0, 2), (2, 0, 1), (3, 1, 1), (4, 1, 0)] {
            (0..good).for_each(|_| ok(&mut t, second));
            (0..failed).for_each(|_| bad(&mut t, second));
        }
        t.dropped(5);
        ok(&mut t, 6);
        assert_eq!(t.unavailable(), (4, 3));
        let out = t.output(std::time::Duration::from_secs(7));
        assert_eq!(
            (
                out["unavailable_s"].clone(),
                out["longest_unavailable_s"].clone()
            ),
            (json!(4), json!(3))
        );
        assert_eq!(Tally::new(Vec::new()).unavailable(), (0, 0));
    }
}
