//! `chaosplay plan` as text.

use std::fmt::Write as _;

use crate::engine::Plan;
use crate::playbook::Phase;

pub fn text(plan: &Plan) -> String {
    let mut out = format!("plan: {} ({})\n", plan.name, plan.file);
    if let Some(project) = &plan.project {
        let _ = writeln!(out, "subject: compose project `{project}`");
    }
    if let Some(Ok(d) | Err(d)) = &plan.docker {
        let _ = writeln!(out, "docker: {d}");
    }
    if !plan.services.is_empty() {
        out.push_str("\nservices:\n");
        for s in &plan.services {
            let _ = write!(out, "  {:<12} {} ({})", s.name, s.container, s.image);
            if !s.ports.is_empty() {
                let _ = write!(out, "  ports {}", s.ports.join(", "));
            }
            if !s.depends_on.is_empty() {
                let _ = write!(out, "  after {}", s.depends_on.join(", "));
            }
            out.push('\n');
            for address in &s.ports_in_use {
                let _ = writeln!(
                    out,
                    "  warning: host port {address} is in use now; unless this project's own container holds it, starting `{}` will fail (exit 3)",
                    s.name
                );
            }
        }
    }
    out.push_str("\nsteps:\n");
    for step in &plan.steps {
        let prefix = match step.phase {
            Phase::Finally => "finally ",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  {prefix}{:02} {} ({}, line {})",
            step.index + 1,
            step.name,
            step.uses,
            step.line
        );
        if step.with.as_object().is_some_and(|w| !w.is_empty()) {
            let _ = writeln!(out, "       with    {}", step.with);
        }
        if let Some(targets) = &step.targets {
            let _ = writeln!(out, "       hits    {targets}");
        }
        if let Some(undo) = step.undo {
            let _ = writeln!(out, "       undo    {undo}");
        }
    }
    out.push_str("\nnothing was run.\n");
    out
}
