//! Text shown to people: messages, statuses and snippets that must stay one glance long.

use std::borrow::Cow;

/// `text` cut to its first `max_chars` characters, with `…` when something was cut: a long
/// output or response body stays readable in a status line, an error or a report.
pub fn clip(text: &str, max_chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]).into(),
        None => text.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_whole_characters_and_says_so() {
        assert_eq!(clip("short", 5), "short");
        assert_eq!(clip("longer", 5), "longe…");
        assert_eq!(clip("ééééé", 2), "éé…");
        assert_eq!(clip("", 0), "");
    }
}
