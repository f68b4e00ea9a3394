//! Finding tessera tokens in text (source files, logs, a repository's history): the
//! deployment's prefix, an underscore, then a token's exact length of base62 with a
//! matching checksum. The checksum decides: a random string of the same shape passes
//! it about once in four billion, so what is found is a token, not a look-alike.

use crate::token::{CHECKSUM_LEN, Presented, RANDOM_LEN, START_LEN, TokenPrefix};

/// One token found in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// Byte offset of the token in the text, and its length in bytes.
    pub offset: usize,
    pub length: usize,
    /// 1-based line and column (in bytes) of the token.
    pub line: usize,
    pub column: usize,
    /// The prefix and first characters, to recognise it by: never the whole token.
    pub start: String,
}

/// Every token of the deployment with `prefix` in `text`. A token glued to letters or
/// digits on either side is part of a longer word, not a token.
pub fn find_tokens(prefix: &TokenPrefix, text: &str) -> Vec<Found> {
    let marker = format!("{}_", prefix.as_str());
    let length = marker.len() + RANDOM_LEN + CHECKSUM_LEN;
    let bytes = text.as_bytes();
    let word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(&marker).map(|at| at + from) {
        from = at + marker.len();
        let end = at + length;
        let glued_before = at > 0 && word(bytes[at - 1]);
        let glued_after = bytes
            .get(end)
            .is_some_and(|&byte| byte.is_ascii_alphanumeric());
        let Some(candidate) = text.get(at..end) else {
            continue;
        };
        if glued_before || glued_after || Presented::parse(prefix, candidate).is_none() {
            continue;
        }
        let before = &text[..at];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let column = at - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
        found.push(Found {
            offset: at,
            length,
            line,
            column,
            start: candidate[..marker.len() + START_LEN].to_owned(),
        });
        from = end;
    }
    found
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::token::SecretToken;

    #[test]
    fn tokens_are_found_where_they_are_and_only_their_start_is_told() {
        let prefix = TokenPrefix::default();
        let (a, b) = (
            SecretToken::generate(&prefix),
            SecretToken::generate(&prefix),
        );
        let text = format!("TOKEN={}\n  auth: \"Bearer {}\"\n", a.expose(), b.expose());
        let found = find_tokens(&prefix, &text);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].line, found[0].column, found[0].offset), (1, 7, 6));
        assert_eq!((found[1].line, found[1].column), (2, 17));
        assert_eq!(found[0].start, a.expose()[..8]);
        assert!(!format!("{found:?}").contains(&a.expose()[8..]));
    }

    #[test]
    fn a_token_glued_to_a_word_another_prefix_or_a_typo_is_not_one() {
        let prefix = TokenPrefix::default();
        let token = SecretToken::generate(&prefix);
        let text = token.expose();
        let mut typo = text.to_owned();
        typo.replace_range(10..11, if &text[10..11] == "a" { "b" } else { "a" });
        for other in [
            format!("x{text}"),
            format!("{text}Z"),
            format!("_{text}"),
            typo,
            text.replacen("tsr_", "rly_", 1),
            text[..text.len() - 1].to_owned(),
        ] {
            assert!(find_tokens(&prefix, &other).is_empty(), "{other}");
        }
        assert_eq!(find_tokens(&prefix, &format!("({text}).")).len(), 1);
    }

    proptest! {
        /// The checksum decides: strings of a token's exact shape that were never made
        /// as tokens are not found.
        #[test]
        fn random_strings_of_the_same_shape_are_not_tokens(body in "[0-9A-Za-z]{36}") {
            let text = format!("key = tsr_{body}\n");
            let found = find_tokens(&TokenPrefix::default(), &text);
            let real = Presented::parse(&TokenPrefix::default(), &text[6..42]).is_some();
            prop_assert_eq!(found.len(), usize::from(real));
        }

        #[test]
        fn scanning_any_text_never_panics(text in "\\PC{0,200}") {
            let _ = find_tokens(&TokenPrefix::default(), &text);
        }
    }
}
