//! A comparison written out: aligned text for a terminal, Markdown for a pull request or
//! `$GITHUB_STEP_SUMMARY`, JSON for programs. All three say the same, from one set of cells.

use super::super::number;
use super::{Comparison, PassRates, PassVerdict, Quantity, ScenarioComparison, Side, Verdict};

/// What the two sides are called: the paths given, so a reader knows which is which.
pub struct Labels<'a> {
    pub base: &'a str,
    pub new: &'a str,
}

pub fn text(comparison: &Comparison, labels: &Labels) -> String {
    let mut out = String::new();
    for scenario in &comparison.scenarios {
        out += &format!(
            "{}: {}\n",
            scenario.scenario,
            sides(scenario, comparison, labels)
        );
        out += &format!("  pass rate: {}\n", pass_rate(&scenario.pass_rate));
        let rows = rows(scenario);
        if !rows.is_empty() {
            let table: Vec<Vec<String>> = std::iter::once(header(comparison)).chain(rows).collect();
            out += &aligned(&table, "  ");
        }
        out += &only(scenario, "  ");
    }
    out + &conclusion(comparison) + "\n"
}

pub fn markdown(comparison: &Comparison, labels: &Labels) -> String {
    let mut out = String::new();
    for scenario in &comparison.scenarios {
        out += &format!("### chaosplay compare: `{}`\n\n", scenario.scenario);
        let labels = Labels {
            base: &format!("`{}`", labels.base),
            new: &format!("`{}`", labels.new),
        };
        out += &format!("{}.\n\n", sides(scenario, comparison, &labels));
        out += &format!("Pass rate: {}\n\n", pass_rate(&scenario.pass_rate));
        let rows = rows(scenario);
        if !rows.is_empty() {
            let cells = |row: &[String]| format!("| {} |\n", row.join(" | "));
            out += &cells(&header(comparison));
            out += &format!("|{}\n", "---|".repeat(header(comparison).len()));
            for mut row in rows {
                row[0] = format!("`{}`", row[0]);
                if row[6] == "slower" || row[6] == "faster" {
                    row[6] = format!("**{}**", row[6]);
                }
                out += &cells(&row);
            }
            out += "\n";
        }
        let only = only(scenario, "");
        if !only.is_empty() {
            out += &format!("{}\n", only.replace('\n', "  \n").trim_end_matches("  \n"));
        }
    }
    out + &format!("**{}**\n", conclusion(comparison))
}

pub fn json(comparison: &Comparison) -> String {
    serde_json::to_string_pretty(comparison).expect("a comparison serializes") + "\n"
}

/// Which report is which, how many trials each has, and what the verdicts are held to.
fn sides(scenario: &ScenarioComparison, comparison: &Comparison, labels: &Labels) -> String {
    let o = comparison.options;
    format!(
        "BASE {} ({} trials), NEW {} ({} trials); {}% confidence, threshold {}%",
        labels.base,
        scenario.pass_rate.base.trials,
        labels.new,
        scenario.pass_rate.new.trials,
        number(o.confidence * 100.0),
        number(o.threshold * 100.0),
    )
}

fn pass_rate(rates: &PassRates) -> String {
    let rate = |p: super::Passes| {
        format!(
            "{}/{} ({}%)",
            p.passed,
            p.trials,
            number((p.passed as f64 / p.trials as f64 * 100.0).round())
        )
    };
    let verdict = match rates.verdict {
        PassVerdict::Worse => "worse",
        PassVerdict::Better => "better",
        PassVerdict::NoSignificantChange => "no significant change",
    };
    format!(
        "{} → {}, p = {} (Fisher's exact test): {verdict}",
        rate(rates.base),
        rate(rates.new),
        number(rates.p_value)
    )
}

fn header(comparison: &Comparison) -> Vec<String> {
    let confidence = number(comparison.options.confidence * 100.0);
    [
        "",
        "BASE median (IQR)",
        "NEW median (IQR)",
        "ratio",
        &format!("difference ({confidence}% CI)"),
        "resolution",
        "verdict",
    ]
    .map(str::to_string)
    .to_vec()
}

/// One row per quantity: metrics first, then steps, each named by what it is.
fn rows(scenario: &ScenarioComparison) -> Vec<Vec<String>> {
    let metrics = scenario.metrics.iter().map(|q| row("metric", q));
    let steps = scenario.steps.iter().map(|q| row("step", q));
    metrics.chain(steps).collect()
}

fn row(kind: &str, q: &Quantity) -> Vec<String> {
    let interval = match q.difference.interval {
        Some((low, high)) => format!("{} … {}", signed(low), signed(high)),
        None => "—".into(),
    };
    vec![
        format!("{kind} {}", q.name),
        side(&q.base),
        side(&q.new),
        q.ratio.map_or("—".into(), |r| format!("×{r:.2}")),
        format!("{} ({interval})", signed(q.difference.estimate)),
        match q.resolution {
            0.0 => "—".into(),
            r => format!("±{}", number(r)),
        },
        verdict(q),
    ]
}

fn side(side: &Side) -> String {
    format!(
        "{} ({}–{}) n={}",
        number(side.median),
        number(side.iqr.0),
        number(side.iqr.1),
        side.count
    )
}

fn signed(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v > 0.0 {
        format!("+{}", number(v))
    } else {
        number(v)
    }
}

fn verdict(q: &Quantity) -> String {
    let word = match q.verdict {
        Verdict::Slower => "slower",
        Verdict::Faster => "faster",
        Verdict::NoSignificantChange => "no significant change",
    };
    match &q.note {
        Some(note) => format!("{word} ({note})"),
        None => word.to_string(),
    }
}

fn only(scenario: &ScenarioComparison, indent: &str) -> String {
    let list = |names: &[String]| names.join(", ");
    let mut out = String::new();
    if !scenario.only_in_base.is_empty() {
        out += &format!("{indent}only in BASE: {}\n", list(&scenario.only_in_base));
    }
    if !scenario.only_in_new.is_empty() {
        out += &format!("{indent}only in NEW: {}\n", list(&scenario.only_in_new));
    }
    out
}

/// The line CI logs end with: what regressed, or that nothing did.
fn conclusion(comparison: &Comparison) -> String {
    let mut regressions = Vec::new();
    for s in comparison.scenarios.iter().filter(|s| s.regressed()) {
        let mut what: Vec<String> = Vec::new();
        if s.pass_rate.verdict == PassVerdict::Worse {
            what.push("pass rate worse".into());
        }
        let slower = |kind: &str, qs: &[Quantity]| -> Vec<String> {
            qs.iter()
                .filter(|q| q.verdict == Verdict::Slower)
                .map(|q| format!("{kind} {} slower", q.name))
                .collect()
        };
        what.extend(slower("metric", &s.metrics));
        what.extend(slower("step", &s.steps));
        regressions.push(format!("{}: {}", s.scenario, what.join(", ")));
    }
    if regressions.is_empty() {
        "no significant regression".into()
    } else {
        format!("regressed: {}", regressions.join("; "))
    }
}

/// Columns padded to their widest cell (in characters: `–` and `…` are one each).
fn aligned(table: &[Vec<String>], indent: &str) -> String {
    let columns = table[0].len();
    let width = |c: usize| {
        table
            .iter()
            .map(|r| r[c].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns).map(width).collect();
    table
        .iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            format!("{indent}{}\n", cells.join("  ").trim_end())
        })
        .collect()
}
