//! What a running scenario knows: variables, step outputs, the template environment, and the
//! handles of background steps. Templates read it through a cheap view, so rendering cost does
//! not grow with the number of steps already run.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use minijinja::value::{Enumerator, Object, Serde, Value};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::events::{EventKind, Listener, RunEvent};
use super::ledger::Ledger;
use super::secrets::Secrets;
use super::{StepError, StepRecord, StepStatus};
use crate::clients::docker::DockerClient;
use crate::duration::Duration;
use crate::playbook::node::{Node, Value as NodeValue};
use crate::playbook::{MAX_ITEMS, Phase, Playbook, Step, StepDuration};
use crate::steps::StepKind;
use crate::steps::undo::{Outstanding, Undo};
use crate::template;

/// Values by name that grow during the run: step outputs (`steps.<id>`) and metrics
/// (`metrics.<name>`). Templates read them through this view without copying the map.
#[derive(Debug, Default)]
struct NamedValues(RwLock<BTreeMap<String, Value>>);

impl NamedValues {
    fn insert(&self, name: &str, value: Value) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        map.insert(name.to_string(), value);
    }
}

impl Object for NamedValues {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.get(key.as_str()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        Enumerator::Values(map.keys().map(|k| Value::from(k.as_str())).collect())
    }
}

/// The process environment: `env.NAME` in templates.
#[derive(Debug)]
struct EnvVars;

impl Object for EnvVars {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        std::env::var(key.as_str()?).ok().map(Value::from)
    }
}

/// How to end background steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Join {
    /// Wait for them to finish.
    Wait,
    /// Cancel them because the playbook asks to (`await` with `cancel = true`).
    Stop,
    /// Cancel them because the run failed or was interrupted.
    Abort,
}

pub(crate) struct Background {
    pub handle: JoinHandle<StepRecord>,
    /// Cancels the step on purpose (it ends as `stopped`).
    pub stop: CancellationToken,
    /// Cancels the step because the run failed (it ends as `cancelled`); also stops it.
    pub abort: CancellationToken,
    /// Fired when the step's task has ended, however it ended: `undo` waits for it without
    /// taking the handle, which a later `await` still joins.
    pub ended: CancellationToken,
}

/// State shared by every step of one run (and its background tasks).
pub(crate) struct RunShared {
    pub playbook: Arc<Playbook>,
    listener: Arc<dyn Listener>,
    /// The playbook's `[secrets]`, ready to mask in any spelling.
    secrets: Secrets,
    pub started: Instant,
    env: minijinja::Environment<'static>,
    vars: Value,
    /// The `[matrix]` cell of this run: `matrix.<key>`.
    matrix: Value,
    run: Value,
    outputs: Arc<NamedValues>,
    metrics: Arc<NamedValues>,
    /// The metrics as numbers, for reports.
    pub recorded: Mutex<BTreeMap<String, f64>>,
    /// How finely each recorded metric is known, where that is known.
    pub resolutions: Mutex<BTreeMap<String, f64>>,
    background: Mutex<HashMap<String, Background>>,
    /// Fired when the background step at this index is ready (or has ended), for kinds that
    /// [hold the playbook until ready](crate::steps::StepKind::holds_until_ready).
    ready: Mutex<HashMap<usize, CancellationToken>>,
    docker: tokio::sync::OnceCell<DockerClient>,
    /// The compose project the run owns: selectors only see its containers.
    project: Option<String>,
    seed: u64,
    /// Random choices made so far: each gets its own seed derived from the run's.
    draws: std::sync::atomic::AtomicU64,
    /// Faults applied and not yet reversed, kept durably.
    pub ledger: Ledger,
    /// Which step (by id) registered each undo of this run, so the `undo` step can reverse
    /// one step's faults. In memory only: `recover` reverses whole ledgers.
    undo_origins: Mutex<Vec<(String, Undo)>>,
    /// Records of background steps that were joined, for the report.
    pub joined: Mutex<Vec<StepRecord>>,
    /// Fault actions still running: a step that is cancelled (Ctrl-C, a timeout) drops its
    /// future, but a Docker call already sent goes on in the daemon. Each fault action runs
    /// as a task here, so cleanup can wait for it to land before undoing it.
    in_flight: tokio_util::task::TaskTracker,
    /// The same actions again, by background step (its index; a group's steps count as the
    /// step that calls the group): `undo` waits for those of the steps it stops to land.
    background_actions: Mutex<HashMap<usize, tokio_util::task::TaskTracker>>,
    /// Why cleanup gave up on the Docker daemon after waiting for it: the undos after that
    /// fail at once with this, rather than each waiting again for a daemon that does not
    /// answer.
    pub docker_given_up: std::sync::OnceLock<String>,
}

impl RunShared {
    pub fn new(
        playbook: Arc<Playbook>,
        listener: Arc<dyn Listener>,
        run: serde_json::Value,
        seed: u64,
        ledger: Ledger,
        started: Instant,
    ) -> Self {
        RunShared {
            ledger,
            undo_origins: Mutex::default(),
            project: playbook.project.clone(),
            seed,
            draws: Default::default(),
            docker: tokio::sync::OnceCell::new(),
            secrets: Secrets::new(&playbook.secrets),
            vars: Value::from(Serde(&playbook.vars)),
            matrix: Value::from(Serde(&playbook.cell)),
            run: Value::from(Serde(&run)),
            playbook,
            listener,
            started,
            env: template::environment(),
            outputs: Arc::default(),
            metrics: Arc::default(),
            recorded: Mutex::default(),
            resolutions: Mutex::default(),
            background: Mutex::default(),
            ready: Mutex::default(),
            joined: Mutex::default(),
            in_flight: tokio_util::task::TaskTracker::new(),
            background_actions: Mutex::default(),
            docker_given_up: std::sync::OnceLock::new(),
        }
    }

    /// Waits until every fault action started so far has finished, or until `deadline`.
    /// Called by cleanup before it undoes anything: an undo applied while its fault is still
    /// landing would be undone by the fault.
    pub async fn settle_faults(&self, deadline: tokio::time::Instant) {
        self.in_flight.close();
        let _ = tokio::time::timeout_at(deadline, self.in_flight.wait()).await;
    }

    pub async fn docker(&self) -> Result<&DockerClient, StepError> {
        self.docker
            .get_or_try_init(DockerClient::connect)
            .await
            .map_err(StepError::from)
    }

    /// Reverses one undo and waits until its effect is seen (see [`Undo::apply`]), connecting
    /// to the Docker daemon only if the undo needs it. Cleanup and the steps that undo faults
    /// mid-run (`undo`, `network.heal`, `disk.restore`) all go through here.
    pub async fn apply_undo(&self, undo: &Undo) -> Result<Option<String>, StepError> {
        let docker = match undo.needs_docker() {
            true => Some(self.docker().await?),
            false => None,
        };
        undo.apply(docker).await
    }

    /// Text with every `[secrets]` value masked, however it is escaped or encoded: applied to
    /// everything a step reports.
    pub fn redact(&self, text: &str) -> String {
        self.secrets.mask(text)
    }

    pub fn redact_json(&self, value: &mut serde_json::Value) {
        if self.secrets.is_empty() {
            return;
        }
        match value {
            serde_json::Value::String(s) => *s = self.redact(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.redact_json(v)),
            _ => {}
        }
    }

    pub fn emit(&self, kind: EventKind<'_>) {
        self.listener.event(&RunEvent {
            elapsed: self.started.elapsed(),
            kind,
        });
    }

    pub fn step(&self, phase: Phase, index: usize) -> &Step {
        match phase {
            Phase::Steps => &self.playbook.steps[index],
            Phase::Finally => &self.playbook.finally[index],
            Phase::Monitors => &self.playbook.monitors[index].step,
        }
    }

    fn context(&self, output: Option<&serde_json::Value>, frame: &Frame) -> Value {
        // A group's steps read its inputs as `vars` and its own steps' outputs as `steps`.
        let (vars, outputs) = match &frame.group {
            Some(g) => (g.vars.clone(), g.outputs.clone()),
            None => (self.vars.clone(), self.outputs.clone()),
        };
        let mut ctx = BTreeMap::from([
            ("vars", vars),
            ("matrix", self.matrix.clone()),
            ("steps", Value::from_dyn_object(outputs)),
            ("metrics", Value::from_dyn_object(self.metrics.clone())),
            ("env", Value::from_object(EnvVars)),
            ("run", self.run.clone()),
        ]);
        if let Some(output) = output {
            ctx.insert("output", Value::from(Serde(output)));
        }
        if let Some(iteration) = &frame.iteration {
            ctx.insert("item", Value::from(Serde(&iteration.item)));
            ctx.insert("index", Value::from(iteration.index));
        }
        Value::from(ctx)
    }

    pub fn evaluate(
        &self,
        expr: &str,
        output: Option<&serde_json::Value>,
    ) -> Result<Value, StepError> {
        self.evaluate_in(expr, output, &Frame::default())
    }

    /// [`RunShared::evaluate`] in a frame: a `for_each` iteration, a step group.
    pub fn evaluate_in(
        &self,
        expr: &str,
        output: Option<&serde_json::Value>,
        frame: &Frame,
    ) -> Result<Value, StepError> {
        let ctx = self.context(output, frame);
        self.env
            .compile_expression(expr)
            .and_then(|e| e.eval(ctx.clone()))
            .map_err(|e| self.template_error(expr, true, &e, &ctx))
    }

    /// A failed evaluation, naming the expression and, when it read a null (`steps.h.json`
    /// of a request that got no response), which: "tried to use + on none and number" alone
    /// does not say where the none came from.
    fn template_error(
        &self,
        text: &str,
        expression: bool,
        e: &minijinja::Error,
        ctx: &Value,
    ) -> StepError {
        let mut message = format!("`{text}`: {}", template::error_message(e));
        let nulls = self.null_references(text, expression, ctx);
        if !nulls.is_empty() {
            let named: Vec<String> = nulls.iter().map(|p| format!("`{p}`")).collect();
            message.push_str(&format!(" ({} is null)", named.join(", ")));
        }
        StepError::Template(message)
    }

    /// The shortest prefixes of the names `text` reads whose value is null (none), in order.
    fn null_references(&self, text: &str, expression: bool, ctx: &Value) -> Vec<String> {
        let Ok(paths) = template::references(&self.env, text, expression) else {
            return Vec::new();
        };
        let mut nulls: Vec<String> = Vec::new();
        for path in paths {
            let mut prefix = String::new();
            for part in path.split('.') {
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                prefix.push_str(part);
                let value = self
                    .env
                    .compile_expression(&prefix)
                    .and_then(|e| e.eval(ctx.clone()));
                if value.is_ok_and(|v| v.is_none()) {
                    if !nulls.contains(&prefix) {
                        nulls.push(prefix.clone());
                    }
                    break;
                }
            }
        }
        nulls
    }

    /// A text template rendered with `output` in scope (a monitor's `show`).
    pub fn render_text(&self, text: &str, output: &serde_json::Value) -> Result<String, StepError> {
        self.env
            .render_str(text, self.context(Some(output), &Frame::default()))
            .map_err(|e| StepError::Template(format!("`{text}`: {}", template::error_message(&e))))
    }

    /// `with` rendered into plain JSON, ready to deserialize into the step's parameters.
    pub fn render(&self, with: &Node, kind: StepKind) -> Result<serde_json::Value, StepError> {
        self.render_in(with, kind, &Frame::default())
    }

    /// [`RunShared::render`] in a frame: a `for_each` iteration, a step group.
    pub fn render_in(
        &self,
        with: &Node,
        kind: StepKind,
        frame: &Frame,
    ) -> Result<serde_json::Value, StepError> {
        let ctx = self.context(None, frame);
        let expressions = kind.doc().expressions;
        let mut out = serde_json::Map::new();
        for (key, value) in with.as_table().unwrap_or_default() {
            let rendered = if expressions.contains(&key.name.as_str()) {
                value.to_json()
            } else {
                self.render_node(value, &ctx)?
            };
            out.insert(key.name.clone(), rendered);
        }
        Ok(out.into())
    }

    /// `with` rendered as far as it can be before the run: strings whose templates read what
    /// only the run produces (`steps.*`) stay as written. For `chaosplay plan`.
    pub fn render_known(&self, with: &Node) -> serde_json::Value {
        let ctx = self.context(None, &Frame::default());
        self.render_node(with, &ctx)
            .unwrap_or_else(|_| match &with.value {
                NodeValue::Table(entries) => entries
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.name.clone(),
                            self.render_node(v, &ctx).unwrap_or_else(|_| v.to_json()),
                        )
                    })
                    .collect::<serde_json::Map<_, _>>()
                    .into(),
                _ => with.to_json(),
            })
    }

    fn render_node(&self, node: &Node, ctx: &Value) -> Result<serde_json::Value, StepError> {
        match &node.value {
            NodeValue::String(s) if template::is_template(s) => self.render_string(s, ctx),
            NodeValue::Array(items) => items.iter().map(|n| self.render_node(n, ctx)).collect(),
            NodeValue::Table(entries) => entries
                .iter()
                .map(|(k, v)| Ok((k.name.clone(), self.render_node(v, ctx)?)))
                .collect::<Result<serde_json::Map<_, _>, _>>()
                .map(Into::into),
            _ => Ok(node.to_json()),
        }
    }

    fn render_string(&self, text: &str, ctx: &Value) -> Result<serde_json::Value, StepError> {
        let fail = |e: minijinja::Error| self.template_error(text, false, &e, ctx);
        match template::sole_expression(text) {
            Some(expr) => {
                let value = self
                    .env
                    .compile_expression(expr)
                    .and_then(|e| e.eval(ctx.clone()))
                    .map_err(fail)?;
                serde_json::to_value(&value)
                    .map_err(|e| StepError::Template(format!("`{text}`: {e}")))
            }
            None => self
                .env
                .render_str(text, ctx.clone())
                .map(Into::into)
                .map_err(fail),
        }
    }

    /// A template rendered in a frame (a step group's `[outputs]`), keeping the type of a sole
    /// expression.
    pub fn render_template(
        &self,
        text: &str,
        frame: &Frame,
    ) -> Result<serde_json::Value, StepError> {
        self.render_string(text, &self.context(None, frame))
    }

    /// A step's `timeout`, `interval` or `stable_for` (`key`), rendered if it is a template.
    /// The rendered value is held to the rules a literal one is, a duration of at least `min`:
    /// a bad one fails the step, naming the field, rather than becoming some default.
    pub fn duration(
        &self,
        key: &str,
        value: &StepDuration,
        min: Duration,
        frame: &Frame,
    ) -> Result<Duration, StepError> {
        let text = match value {
            StepDuration::Fixed(duration) => return Ok(*duration),
            StepDuration::Template(text) => text,
        };
        let rendered = self
            .render_string(text, &self.context(None, frame))
            .map_err(|e| StepError::Template(format!("`{key}`: {e}")))?;
        let invalid = |why: String| StepError::Params(format!("`{key}` = \"{text}\": {why}"));
        let duration: Duration = match &rendered {
            serde_json::Value::String(s) => s.parse().map_err(invalid)?,
            other => {
                return Err(invalid(format!(
                    "rendered {other}, not a duration such as \"30s\""
                )));
            }
        };
        if duration < min {
            return Err(invalid(format!(
                "rendered {duration}, less than the shortest, {min}"
            )));
        }
        Ok(duration)
    }

    pub fn set_output(&self, id: &str, output: &serde_json::Value) {
        self.outputs.insert(id, Value::from(Serde(output)));
    }

    /// Records a metric; `resolution` replaces (or, when unknown, forgets) the one a metric
    /// of that name recorded earlier had.
    pub fn set_metric(&self, name: &str, value: f64, resolution: Option<f64>) {
        self.metrics.insert(name, Value::from(value));
        let mut recorded = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
        recorded.insert(name.to_string(), value);
        let mut resolutions = self.resolutions.lock().unwrap_or_else(|e| e.into_inner());
        match resolution {
            Some(r) => resolutions.insert(name.to_string(), r),
            None => resolutions.remove(name),
        };
    }

    /// A token fired when the background step at `index` is ready: the engine waits for it
    /// before going on.
    pub fn await_ready(&self, index: usize) -> CancellationToken {
        let token = CancellationToken::new();
        let mut map = self.ready.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(index, token.clone());
        token
    }

    /// Fires the token of [`RunShared::await_ready`], if anyone waits on it.
    pub fn mark_ready(&self, phase: Phase, index: usize) {
        if phase != Phase::Steps {
            return;
        }
        let mut map = self.ready.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(token) = map.remove(&index) {
            token.cancel();
        }
    }

    pub fn add_background(&self, id: String, background: Background) {
        let mut map = self.background.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(id, background);
    }

    /// Joins the named background steps (all of them if `ids` is `None`) and keeps their
    /// records.
    pub async fn join_background(
        &self,
        ids: Option<&[String]>,
        how: Join,
    ) -> Vec<(String, StepStatus)> {
        let taken: Vec<(String, Background)> = {
            let mut map = self.background.lock().unwrap_or_else(|e| e.into_inner());
            match ids {
                Some(ids) => ids.iter().filter_map(|id| map.remove_entry(id)).collect(),
                None => map.drain().collect(),
            }
        };
        let mut statuses = Vec::new();
        for (id, bg) in taken {
            match how {
                Join::Wait => {}
                Join::Stop => bg.stop.cancel(),
                Join::Abort => bg.abort.cancel(),
            }
            // A background task only ends early by panicking, which is a bug worth surfacing.
            let record = bg.handle.await.expect("background step task panicked");
            // A tolerated failure (`continue_on_error`) does not fail the `await` either.
            let status = match record.tolerated {
                true => StepStatus::Passed,
                false => record.status,
            };
            statuses.push((id, status));
            self.joined
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(record);
        }
        statuses
    }

    /// Stops the background steps still running that would apply more of the faults `which`
    /// picks ([`Outstanding::stops`]) and waits until each has ended and the fault actions it
    /// had sent have landed: what they applied is then all in the ledger, and nothing of theirs
    /// lands later. Their handles stay, for `await` or the end of the steps to join (status
    /// `stopped`). Returns their ids.
    pub async fn stop_background(&self, which: Outstanding<'_>) -> Vec<String> {
        let running: Vec<(String, CancellationToken, CancellationToken)> = {
            let map = self.background.lock().unwrap_or_else(|e| e.into_inner());
            map.iter()
                .filter(|(id, bg)| !bg.ended.is_cancelled() && self.stops(which, id))
                .map(|(id, bg)| (id.clone(), bg.stop.clone(), bg.ended.clone()))
                .collect()
        };
        for (_, stop, _) in &running {
            stop.cancel();
        }
        for (id, _, ended) in &running {
            ended.cancelled().await;
            if let Some(actions) = self
                .background_step(id)
                .and_then(|s| self.actions_of(s.index))
            {
                actions.close();
                actions.wait().await;
            }
        }
        running.into_iter().map(|(id, ..)| id).collect()
    }

    fn background_step(&self, id: &str) -> Option<&Step> {
        self.playbook
            .steps
            .iter()
            .find(|s| s.background && s.id.as_deref() == Some(id))
    }

    /// Whether undoing what `which` picks stops the background step `id`.
    fn stops(&self, which: Outstanding<'_>, id: &str) -> bool {
        self.background_step(id)
            .is_some_and(|s| which.stops(id, s.kind))
    }

    /// Starts keeping the fault actions of the background step at `index` apart, before it
    /// runs (see [`StepContext::apply_fault`]).
    pub fn track_actions(&self, index: usize) {
        self.background_actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(index, tokio_util::task::TaskTracker::new());
    }

    fn actions_of(&self, index: usize) -> Option<tokio_util::task::TaskTracker> {
        self.background_actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&index)
            .cloned()
    }

    /// The items of a `for_each` step, rendered: a list of at most [`MAX_ITEMS`].
    pub fn items(
        &self,
        for_each: &Node,
        frame: &Frame,
    ) -> Result<Vec<serde_json::Value>, StepError> {
        let rendered = self.render_node(for_each, &self.context(None, frame))?;
        match rendered {
            serde_json::Value::Array(items) if items.len() <= MAX_ITEMS => Ok(items),
            serde_json::Value::Array(items) => Err(StepError::Params(format!(
                "`for_each` has {} items; at most {MAX_ITEMS} are allowed",
                items.len()
            ))),
            other => Err(StepError::Params(format!(
                "`for_each` rendered {}, not a list",
                crate::text::clip(&other.to_string(), 100).into_owned()
            ))),
        }
    }

    fn reference_values(&self, expr: &str, frame: &Frame) -> Vec<(String, String)> {
        let Ok(paths) = template::references(&self.env, expr, true) else {
            return Vec::new();
        };
        paths
            .into_iter()
            .map(|path| {
                let shown = match self.evaluate_in(&path, None, frame) {
                    Ok(v) => {
                        let text = serde_json::to_string(&v).unwrap_or_else(|_| format!("{v}"));
                        crate::text::clip(&text, 300).into_owned()
                    }
                    Err(_) => "undefined".to_string(),
                };
                (path, shown)
            })
            .collect()
    }
}

/// One run of a `for_each` step: its item and that item's position, from 0.
#[derive(Debug, Clone)]
pub(crate) struct Iteration {
    pub item: serde_json::Value,
    pub index: usize,
}

/// What a step group's steps read instead of the playbook's: its inputs as `vars`, and its own
/// steps' outputs as `steps`, so its ids cannot clash with the playbook's.
#[derive(Debug)]
pub(crate) struct GroupScope {
    vars: Value,
    outputs: Arc<NamedValues>,
}

impl GroupScope {
    pub fn new(vars: &serde_json::Map<String, serde_json::Value>) -> Self {
        GroupScope {
            vars: Value::from(Serde(vars)),
            outputs: Arc::default(),
        }
    }

    pub fn set_output(&self, id: &str, output: &serde_json::Value) {
        self.outputs.insert(id, Value::from(Serde(output)));
    }
}

/// Where a step runs: in one iteration of a `for_each` step, inside a step group (whose
/// progress lines and errors belong to the step that called it, `at`), both, or neither.
#[derive(Debug, Clone, Default)]
pub(crate) struct Frame {
    pub iteration: Option<Iteration>,
    pub group: Option<Arc<GroupScope>>,
    /// The playbook step the events of a group's steps are shown under.
    pub at: Option<(Phase, usize)>,
}

/// What a step that reverses faults mid-run (`undo`, `network.heal`, `disk.restore`) did.
#[derive(Debug)]
pub struct Lifted {
    /// The ids of the background steps it stopped first, for the step's output `stopped`.
    pub stopped: Vec<String>,
    /// What it reversed, newest first, one description each.
    pub undone: Vec<String>,
}

/// What a step function can use while it runs.
pub struct StepContext {
    pub(crate) shared: Arc<RunShared>,
    pub(crate) phase: Phase,
    pub(crate) index: usize,
    /// The last status the step reported: a timeout error says what the step was doing.
    pub(crate) last_status: Mutex<Option<String>>,
    /// Cancelled when `await` with `cancel = true` stops this step, if it is a background step
    /// whose kind [stops gracefully](StepKind::stops_gracefully); never cancelled otherwise.
    pub(crate) stop: CancellationToken,
    /// What the step noticed without failing (a soft assertion), moved into its record.
    pub(crate) warnings: Mutex<Vec<String>>,
    /// How late the step saw what it waited for, if it knows better than its polling
    /// interval (see [`StepContext::seen_within`]).
    pub(crate) seen: Mutex<Option<std::time::Duration>>,
    /// The item this run of a `for_each` step is for (`item` and `index` in its expressions),
    /// and the step group it runs in.
    pub(crate) frame: Frame,
    /// The group this step runs, if it calls one.
    pub(crate) group: Option<Arc<crate::playbook::Group>>,
}

impl StepContext {
    /// Notes something the report shows as a warning, without failing the step.
    pub fn warn(&self, message: impl Into<String>) {
        self.warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message.into());
    }

    pub(crate) fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn step(&self) -> &Step {
        self.shared.step(self.phase, self.index)
    }

    /// The Docker client, connected on first use.
    pub async fn docker(&self) -> Result<&DockerClient, StepError> {
        self.shared.docker().await
    }

    /// The subject's compose file, resolved.
    pub fn compose(&self) -> Option<&crate::compose::ComposeProject> {
        self.shared.playbook.compose.as_deref()
    }

    /// The subject's compose project, if the playbook has a subject.
    pub fn project(&self) -> Option<&str> {
        self.shared.project.as_deref()
    }

    /// A seed for one random choice, derived from the run's seed and how many choices came
    /// before it: the same `--seed` replays the same choices.
    pub fn next_seed(&self) -> u64 {
        let n = self
            .shared
            .draws
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.shared.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }

    /// Records how to reverse a fault, before the fault is applied.
    pub fn register_undo(&self, undo: Undo) -> Result<(), StepError> {
        if let Some(id) = &self.step().id {
            self.shared
                .undo_origins
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((id.clone(), undo.clone()));
        }
        self.shared
            .ledger
            .push(undo)
            .map_err(|e| StepError::Environment(format!("the fault was not applied: {e}")))
    }

    /// Runs a fault's action (its calls to the Docker daemon or the host) to completion even
    /// if the step is cancelled meanwhile: dropping the future would not take back a request
    /// the daemon already has, so the action is a task of its own that cleanup awaits
    /// ([`RunShared::settle_faults`]), and `undo`, when it stops the background step that sent
    /// it ([`RunShared::stop_background`]).
    pub async fn apply_fault<T: Send + 'static>(
        &self,
        action: impl std::future::Future<Output = Result<T, StepError>> + Send + 'static,
    ) -> Result<T, StepError> {
        let own = match self.phase {
            Phase::Steps => self.shared.actions_of(self.index),
            Phase::Finally | Phase::Monitors => None,
        };
        let task = match own {
            Some(own) => self.shared.in_flight.spawn(own.track_future(action)),
            None => self.shared.in_flight.spawn(action),
        };
        task.await
            .map_err(|e| StepError::Failed(format!("the fault's action did not finish: {e}")))?
    }

    /// Reverses now the faults still in place that `which` picks, newest first, as cleanup
    /// would (verified, each off the ledger once done: see `undo_now`), once the background
    /// steps still running that would apply more of them are stopped
    /// ([`RunShared::stop_background`]): reversed first, they would come back. Returns what was
    /// stopped and done: nothing undone when `which` found nothing in place.
    pub async fn undo_outstanding(&self, which: Outstanding<'_>) -> Result<Lifted, StepError> {
        let stopped = self.shared.stop_background(which).await;
        let undos = {
            let origins = self
                .shared
                .undo_origins
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            which.pick(self.shared.ledger.pending(), &origins)
        };
        let undone = self.undo_now(&undos).await?;
        Ok(Lifted { stopped, undone })
    }

    /// Reverses `undos` newest first, exactly as cleanup would (verified), and takes each off
    /// the ledger once done, so cleanup does not undo it again. Returns what was done, one
    /// description each (with a note when there was nothing left to undo). Stops at the first
    /// undo that fails: it stays in the ledger, for cleanup to try again.
    async fn undo_now(&self, undos: &[Undo]) -> Result<Vec<String>, StepError> {
        let mut done = Vec::new();
        for undo in undos.iter().rev() {
            self.status(undo.describe());
            let note = self.shared.apply_undo(undo).await?;
            self.clear_undo(undo)?;
            done.push(match note {
                Some(note) => format!("{} ({note})", undo.describe()),
                None => undo.describe(),
            });
        }
        Ok(done)
    }

    /// Forgets an undo that a step has just done itself.
    pub fn clear_undo(&self, done: &Undo) -> Result<(), StepError> {
        self.shared
            .ledger
            .remove(done)
            .map_err(|e| StepError::Environment(e.to_string()))
    }

    /// Updates the step's live status line.
    pub fn status(&self, message: impl AsRef<str>) {
        let message = &self.shared.redact(message.as_ref());
        *self.last_status.lock().unwrap_or_else(|e| e.into_inner()) = Some(message.to_string());
        self.shared.emit(EventKind::StepStatus {
            step: self.step(),
            message,
        });
    }

    /// Says that what the step waited for happened at most `lag` before the step saw it (a
    /// wait told by an event): the step's recorded resolution becomes `lag` instead of its
    /// polling interval.
    pub fn seen_within(&self, lag: std::time::Duration) {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(lag);
    }

    /// Says the step is ready for what comes after it (a listener is bound): a background step
    /// of a kind that [holds until ready](crate::steps::StepKind::holds_until_ready) lets the
    /// playbook go on from here.
    pub fn ready(&self) {
        self.shared.mark_ready(self.phase, self.index);
    }

    pub(crate) fn seen(&self) -> Option<std::time::Duration> {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn last_status(&self) -> Option<String> {
        self.last_status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Resolves when the playbook stops this step on purpose (`await` with `cancel = true`):
    /// the step should then end promptly with its output so far. Only kinds that
    /// [stop gracefully](StepKind::stops_gracefully) are told; the engine drops any other step
    /// at once, and an abort (failure, Ctrl-C) drops every step without asking.
    pub async fn stopped(&self) {
        self.stop.cancelled().await;
    }

    pub fn log(&self, message: &str) {
        self.shared.emit(EventKind::StepLog {
            step: self.step(),
            message: &self.shared.redact(message),
        });
    }

    pub fn http(&self) -> &'static reqwest::Client {
        crate::clients::http::client()
    }

    /// A file name stem for what this step records, unique per scenario, trial, step and run
    /// start: `<scenario>-t<trial>-<step>-<started_at>`, with only characters every file
    /// system takes.
    pub fn artifact_stem(&self) -> String {
        let run = |field: &str| {
            self.shared
                .run
                .get_attr(field)
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        let step = self.step();
        let step = step
            .id
            .clone()
            .unwrap_or_else(|| format!("step{}", step.index + 1));
        let stem = format!(
            "{}-t{}-{step}-{}",
            run("scenario"),
            run("trial"),
            run("started_at")
        );
        stem.chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
                _ => '-',
            })
            .collect()
    }

    /// The playbook's directory: relative paths in parameters start here.
    pub fn base_dir(&self) -> &Path {
        self.shared.playbook.dir()
    }

    pub fn evaluate(&self, expr: &str) -> Result<Value, StepError> {
        self.shared.evaluate_in(expr, None, &self.frame)
    }

    /// An expression over the step's latest `output` (`until`).
    pub(crate) fn evaluate_output(
        &self,
        expr: &str,
        output: &serde_json::Value,
    ) -> Result<Value, StepError> {
        self.shared.evaluate_in(expr, Some(output), &self.frame)
    }

    /// The values an expression read, as `(path, JSON text)`, to explain a failed assertion.
    pub fn reference_values(&self, expr: &str) -> Vec<(String, String)> {
        self.shared.reference_values(expr, &self.frame)
    }

    /// Runs the step group this step calls, with `inputs` over its `[vars]`; its output is the
    /// group's `[outputs]`, rendered after its steps. Boxed: a group's steps may call groups.
    pub fn run_group(
        &self,
        inputs: serde_json::Map<String, serde_json::Value>,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<serde_json::Value, StepError>> + Send + '_>,
    > {
        match self.group.clone() {
            Some(group) => Box::pin(super::interpreter::run_group(self, group, inputs)),
            None => Box::pin(std::future::ready(Err(StepError::Params(
                "`group` is named by a file's path".into(),
            )))),
        }
    }

    pub async fn await_background(
        &self,
        ids: &[String],
        cancel: bool,
    ) -> Result<serde_json::Value, StepError> {
        let how = if cancel { Join::Stop } else { Join::Wait };
        let statuses = self.shared.join_background(Some(ids), how).await;
        let mut out = serde_json::Map::new();
        let mut failed = Vec::new();
        for id in ids {
            match statuses.iter().find(|(i, _)| i == id) {
                Some((_, status)) => {
                    out.insert(id.clone(), serde_json::to_value(status).unwrap_or_default());
                    if !matches!(status, StepStatus::Passed | StepStatus::Stopped) {
                        failed.push(format!("`{id}` {}", status.word()));
                    }
                }
                None => failed.push(format!("`{id}` was already awaited")),
            }
        }
        if failed.is_empty() {
            Ok(out.into())
        } else {
            Err(StepError::Failed(format!(
                "background steps did not pass: {}",
                failed.join(", ")
            )))
        }
    }
}
