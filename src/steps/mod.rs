//! The step registry: the closed set of things a playbook can `uses`.
//!
//! Each step kind is one module with typed parameters (`#[serde(deny_unknown_fields)]`, a JSON
//! Schema via schemars), an async `run` function and a [`StepDoc`]. Adding a step kind is one
//! module plus one line in the `registry!` invocation below; validation, the JSON Schema, the
//! `chaosplay steps` catalogue and the interpreter all follow from that line.

use schemars::{Schema, SchemaGenerator};
use serde::de::DeserializeOwned;

use crate::engine::{StepContext, StepError};
use crate::playbook::check::{CheckError, check, convert};
use crate::playbook::node::Node;

mod assert;
mod await_;
pub mod catalogue;
mod exec;
mod http;
mod log;
mod sleep;

/// What `chaosplay steps` shows for a step kind, besides its parameters.
#[derive(Debug)]
pub struct StepDoc {
    pub summary: &'static str,
    /// Fields of the step's output, readable later as `steps.<id>.<field>`.
    pub outputs: &'static [(&'static str, &'static str)],
    /// Parameters holding expressions (not templates): they are compiled as expressions at
    /// validation and are not rendered before the step runs.
    pub expressions: &'static [&'static str],
    /// Whether the step only observes, so it may be polled with `until` or used as a monitor.
    pub read_only: bool,
    /// A TOML snippet showing a typical use.
    pub example: &'static str,
}

macro_rules! registry {
    ($($variant:ident => $name:literal, $module:ident :: $params:ident;)*) => {
        /// One kind of step, named in playbooks by [`StepKind::name`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum StepKind {
            $($variant,)*
        }

        impl StepKind {
            pub const ALL: &'static [StepKind] = &[$(StepKind::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(StepKind::$variant => $name,)*
                }
            }

            pub fn doc(self) -> &'static StepDoc {
                match self {
                    $(StepKind::$variant => &$module::DOC,)*
                }
            }

            /// Checks a `with` table against this kind's parameters, templates standing in
            /// for any value.
            pub fn check(self, with: &Node) -> Result<(), CheckError> {
                match self {
                    $(StepKind::$variant => check::<$module::$params>(with).map(drop),)*
                }
            }

            pub fn params_schema(self, generator: &mut SchemaGenerator) -> Schema {
                match self {
                    $(StepKind::$variant => generator.subschema_for::<$module::$params>(),)*
                }
            }

            /// Runs the step with its rendered parameters; the output is what later steps read
            /// as `steps.<id>`.
            pub async fn run(
                self,
                params: serde_json::Value,
                cx: &StepContext,
            ) -> Result<serde_json::Value, StepError> {
                match self {
                    $(StepKind::$variant => $module::run(parse_params(params)?, cx).await,)*
                }
            }
        }
    };
}

registry! {
    Sleep => "sleep", sleep::SleepParams;
    Log => "log", log::LogParams;
    Assert => "assert", assert::AssertParams;
    Exec => "exec", exec::ExecParams;
    HttpRequest => "http.request", http::HttpRequestParams;
    Await => "await", await_::AwaitParams;
}

impl StepKind {
    pub fn from_name(name: &str) -> Option<StepKind> {
        StepKind::ALL.iter().copied().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn parse_params<T: DeserializeOwned>(params: serde_json::Value) -> Result<T, StepError> {
    convert(params).map_err(|e| StepError::Params(e.to_string()))
}
