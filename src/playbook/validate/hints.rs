//! Hints for expressions that do not parse, where the mistake is a common one.

/// A lone `=` (not part of `==`, `!=`, `<=`, `>=`) in an expression is almost always a
/// comparison written as in a shell or SQL.
pub(super) fn expression(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let lone = (0..bytes.len()).any(|i| {
        bytes[i] == b'='
            && !matches!(bytes.get(i + 1), Some(b'='))
            && !matches!(
                i.checked_sub(1).map(|j| bytes[j]),
                Some(b'=' | b'!' | b'<' | b'>')
            )
    });
    lone.then(|| "`=` assigns; to compare, write `==`".to_string())
}

#[cfg(test)]
mod tests {
    use super::expression;

    #[test]
    fn only_a_lone_equals_sign_gets_the_hint() {
        assert!(expression("vars.n = 3").is_some());
        for fine in ["vars.n == 3", "a != b", "a <= b", "a >= b", "a"] {
            assert_eq!(expression(fine), None, "{fine}");
        }
    }
}
