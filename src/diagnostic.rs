//! User-facing errors that point into the user's file, rendered the way rustc and hurl do:
//! `error: …`, `--> path:line:col`, the source line and carets under the offending text.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file the user wrote, kept whole so every diagnostic can quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The path as the user gave it: diagnostics must name the file the way they typed it.
    pub path: PathBuf,
    pub text: String,
    /// Byte offset where each line starts: every step record carries its line, so finding one
    /// must not rescan the file.
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source {
            path: path.into(),
            text,
            line_starts,
        }
    }

    pub fn read(path: &Path) -> std::io::Result<Self> {
        Ok(Source::new(path, crate::text_file::read(path)?))
    }

    /// The byte offset of a 1-based line and column (in characters), as other parsers report
    /// positions; past the end of the file, its end.
    pub fn offset(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.max(1) - 1) else {
            return self.text.len();
        };
        self.text[start..]
            .char_indices()
            .nth(col.max(1) - 1)
            .map_or(self.text.len(), |(i, _)| start + i)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = self.line_starts[line - 1];
        let col = self.text[line_start..offset].chars().count() + 1;
        (line, col)
    }

    /// Byte range of the line holding `offset`, without its `\n`.
    fn line_bounds(&self, offset: usize) -> Range<usize> {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |next| next - 1);
        self.line_starts[line - 1]..end
    }
}

/// Most characters of a line a snippet shows. Each diagnostic quotes its line, and a generated
/// file can put megabytes on one: thousands of errors on such a line would print gigabytes.
const SNIPPET_CHARS: usize = 100;

/// Characters a snippet keeps before the offending text, when the line is cut.
const SNIPPET_BEFORE: usize = 30;

/// Most characters of a message, label or help: they quote what the user wrote, which can be a
/// whole line.
const MESSAGE_CHARS: usize = 300;

/// The part of `line` a snippet shows around byte `at`: all of it if it is short, else
/// [`SNIPPET_CHARS`] characters starting a little before `at`.
fn visible(line: &str, at: usize) -> Range<usize> {
    if line.len() <= SNIPPET_CHARS || line.chars().count() <= SNIPPET_CHARS {
        return 0..line.len();
    }
    let start = line[..at]
        .char_indices()
        .rev()
        .nth(SNIPPET_BEFORE - 1)
        .map_or(0, |(i, _)| i);
    let end = line[start..]
        .char_indices()
        .nth(SNIPPET_CHARS)
        .map_or(line.len(), |(i, _)| start + i);
    start..end
}

/// `text`, cut to [`MESSAGE_CHARS`] characters.
fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    crate::text::clip(text, MESSAGE_CHARS)
}

/// One problem found in a user's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub span: Option<Range<usize>>,
    /// Printed after the carets: the short "why" right under the offending text.
    pub label: Option<String>,
    /// Printed as `= help: …` below the snippet.
    pub help: Option<String>,
    /// Printed as `= note: …` below the snippet: context, e.g. which playbook line named the
    /// file the problem is in.
    pub note: Option<String>,
    /// The file `span` points into when it is not the one the diagnostic is rendered against
    /// (a compose file the playbook names).
    pub file: Option<Arc<Source>>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic {
            message: message.into(),
            span,
            label: None,
            help: None,
            note: None,
            file: None,
        }
    }

    /// A diagnostic about another file than the playbook: its span points into `file`.
    pub fn in_file(mut self, file: Arc<Source>) -> Self {
        self.file = Some(file);
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Renders the diagnostic against the file it refers to. A long line is shown as a window
    /// around the offending text, cut with `…`, so one diagnostic stays a few lines whatever the
    /// file.
    pub fn render(&self, source: &Source) -> String {
        let source = self.file.as_deref().unwrap_or(source);
        let mut out = format!("error: {}\n", clip(&self.message));
        let path = source.path.display();
        match &self.span {
            None => {
                let _ = writeln!(out, "  --> {path}");
            }
            Some(span) => {
                let (line, col) = source.line_col(span.start);
                let bounds = source.line_bounds(span.start);
                let text = source.text[bounds.clone()].trim_end_matches('\r');
                let at = span.start.min(bounds.start + text.len()) - bounds.start;
                let shown = visible(text, at);
                let (cut_before, cut_after) = (shown.start > 0, shown.end < text.len());
                let gutter = line.to_string().len();
                let pad = " ".repeat(gutter);
                let _ = writeln!(out, "{pad}--> {path}:{line}:{col}");
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(
                    out,
                    "{line} | {}{}{}",
                    if cut_before { "…" } else { "" },
                    &text[shown.clone()],
                    if cut_after { "…" } else { "" },
                );
                // Under the `…`, a space; under the text, its tabs kept so carets line up.
                let ellipsis = if cut_before { " " } else { "" };
                let lead: String = ellipsis
                    .chars()
                    .chain(text[shown.start..at].chars())
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let end = span
                    .end
                    .clamp(span.start, (bounds.start + shown.end).max(span.start));
                let width = source.text[span.start..end].chars().count().max(1);
                let _ = write!(out, "{pad} | {lead}{}", "^".repeat(width));
                if let Some(label) = &self.label {
                    let _ = write!(out, " {}", clip(label));
                }
                out.push('\n');
            }
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {}", clip(help));
        }
        if let Some(note) = &self.note {
            let _ = writeln!(out, "  = note: {}", clip(note));
        }
        out
    }
}

/// The closest candidate to `word`, if any is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_characters_within_a_line() {
        let source = Source::new("f", "ab\ncé\tx\n");
        assert_eq!(source.offset(1, 1), 0);
        assert_eq!(source.offset(2, 1), 3);
        assert_eq!(&source.text[source.offset(2, 4)..], "x\n");
        assert_eq!(source.offset(9, 1), source.text.len());
    }

    #[test]
    fn renders_caret_under_span() {
        let src = Source::new("p.toml", "a = 1\nuses = \"slep\"\n");
        let start = src.text.find("\"slep\"").unwrap();
        let d = Diagnostic::new("unknown step `slep`", Some(start..start + 6))
            .with_label("did you mean `sleep`?");
        assert_eq!(
            d.render(&src),
            "error: unknown step `slep`\n --> p.toml:2:8\n  |\n2 | uses = \"slep\"\n  |        ^^^^^^ did you mean `sleep`?\n"
        );
    }

    #[test]
    fn a_long_line_is_shown_as_a_window_around_the_column() {
        let line = format!("k = [{}9]", "1,".repeat(50_000));
        let src = Source::new("p.toml", format!("[matrix]\n{line}\n"));
        let start = src.text.rfind('9').unwrap();
        let d = Diagnostic::new("bad", Some(start..start + 1)).with_label("x".repeat(1000));
        let rendered = d.render(&src);
        let lines: Vec<&str> = rendered.lines().collect();
        assert_eq!(lines[1], " --> p.toml:2:100006");
        assert_eq!(lines[3], format!("2 | …{}9]", "1,".repeat(15)));
        assert_eq!(
            lines[4],
            format!("  | {}^ {}…", " ".repeat(31), "x".repeat(300))
        );
        let first = Diagnostic::new("bad", Some(14..15)).render(&src);
        assert!(first.contains(&format!("2 | k = [{}1…\n  |      ^\n", "1,".repeat(47))));
    }

    #[test]
    fn suggests_close_names_only() {
        let names = ["docker.kill", "docker.start", "sleep"];
        assert_eq!(did_you_mean("dokcer.kill", names), Some("docker.kill"));
        assert_eq!(did_you_mean("zzz", names), None);
    }
}
