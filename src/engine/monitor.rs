//! `[[monitors]]`: read-only steps sampled in the background for the whole run, building the
//! timelines that reports draw (e.g. each store's state over time).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::context::{RunShared, StepContext};
use super::events::EventKind;
use crate::playbook::Phase;

/// One observation of a monitor.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// When the sample was taken, since the run started.
    #[serde(flatten, serialize_with = "super::timing::at")]
    pub at: Duration,
    pub ok: bool,
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    /// The monitor's `show` line for this sample.
    pub show: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MonitorSeries {
    pub name: String,
    pub uses: &'static str,
    pub interval_ms: u64,
    pub samples: Vec<Sample>,
}

/// Starts every monitor; each samples until `stop` is cancelled.
pub(crate) fn start(
    shared: &Arc<RunShared>,
    stop: &CancellationToken,
) -> Vec<JoinHandle<MonitorSeries>> {
    (0..shared.playbook.monitors.len())
        .map(|index| {
            let shared = Arc::clone(shared);
            let stop = stop.clone();
            tokio::spawn(async move { sample_until_stopped(shared, index, stop).await })
        })
        .collect()
}

async fn sample_until_stopped(
    shared: Arc<RunShared>,
    index: usize,
    stop: CancellationToken,
) -> MonitorSeries {
    let monitor = &shared.playbook.monitors[index];
    let step = &monitor.step;
    let cx = StepContext {
        shared: Arc::clone(&shared),
        phase: Phase::Monitors,
        index,
        last_status: Default::default(),
        warnings: Default::default(),
        // A monitor is stopped with the run, by dropping its sample: nothing to hear.
        stop: CancellationToken::new(),
        seen: Default::default(),
        frame: Default::default(),
        group: None,
    };
    // A sample may take longer than the interval, but never long enough to hide the run's end.
    let limit = (monitor.interval.0 * 2).clamp(Duration::from_secs(2), Duration::from_secs(30));
    let mut series = MonitorSeries {
        name: step.display_name().to_string(),
        uses: step.kind.name(),
        interval_ms: monitor.interval.0.as_millis() as u64,
        samples: Vec::new(),
    };
    loop {
        let began = Instant::now();
        let at = began.duration_since(shared.started);
        let attempt = async {
            let params = shared.render(&step.with, step.kind)?;
            step.kind.run(params, &cx).await
        };
        let result = tokio::select! {
            _ = stop.cancelled() => break,
            r = tokio::time::timeout(limit, attempt) => r,
        };
        let mut sample = match result {
            Ok(Ok(output)) => {
                let show = match &monitor.show {
                    Some(template) => shared
                        .render_text(template, &output)
                        .unwrap_or_else(|e| e.to_string()),
                    None => crate::text::clip(&output.to_string(), 120).into_owned(),
                };
                Sample {
                    at,
                    ok: true,
                    output: Some(output),
                    error: None,
                    show: Some(show),
                }
            }
            Ok(Err(e)) => Sample {
                at,
                ok: false,
                output: None,
                error: Some(e.to_string()),
                show: None,
            },
            Err(_) => Sample {
                at,
                ok: false,
                output: None,
                error: Some(format!("no answer within {limit:?}")),
                show: None,
            },
        };
        if let Some(output) = &mut sample.output {
            shared.redact_json(output);
        }
        sample.show = sample.show.map(|s| shared.redact(&s));
        sample.error = sample.error.map(|e| shared.redact(&e));
        shared.emit(EventKind::MonitorSampled {
            monitor,
            sample: &sample,
        });
        series.samples.push(sample);
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(monitor.interval.0.saturating_sub(began.elapsed())) => {}
        }
    }
    series
}
