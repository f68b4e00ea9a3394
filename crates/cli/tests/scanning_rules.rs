//! The secret-scanning rules in docs/scanning (gitleaks, TruffleHog) find real
//! tessera tokens where they usually leak, and not the look-alikes `tessera scan`
//! also refuses (longer words, glued to a name).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed assumption is a failed test"
)]

use std::path::PathBuf;

use regex::Regex;
use tessera_core::token::{SecretToken, TokenPrefix};

fn doc(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/scanning")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The gitleaks rule's regex, read from its TOML as gitleaks reads it.
fn gitleaks() -> Regex {
    let config: toml::Value = toml::from_str(&doc("gitleaks.toml")).expect("TOML");
    let rule = &config["rules"][0];
    assert_eq!(rule["secretGroup"].as_integer(), Some(1));
    Regex::new(rule["regex"].as_str().expect("a regex")).expect("compiles")
}

/// The TruffleHog detector's regex: the single-quoted YAML scalar after `token:`.
fn trufflehog() -> Regex {
    let text = doc("trufflehog.yaml");
    let line = text
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix("token: '"))
        .expect("a token regex");
    Regex::new(line.strip_suffix('\'').expect("quoted")).expect("compiles")
}

/// The tokens `rule` finds in `text`: its first group, as both tools take it.
fn found(rule: &Regex, text: &str) -> Vec<String> {
    rule.captures_iter(text)
        .map(|captures| captures[1].to_owned())
        .collect()
}

#[test]
fn the_rules_find_tokens_where_they_leak_and_nothing_else() {
    let prefix = TokenPrefix::default();
    for rule in [gitleaks(), trufflehog()] {
        for _ in 0..50 {
            let token = SecretToken::generate(&prefix);
            let token = token.expose();
            for leak in [
                format!("export TESSERA_TOKEN={token}\n"),
                format!("{{\"token\": \"{token}\"}}"),
                format!("git clone https://git:{token}@git.example.com/repo.git"),
                format!("Authorization: Bearer {token}"),
                token.to_owned(),
            ] {
                assert_eq!(found(&rule, &leak), [token], "{leak}");
            }
            for look_alike in [
                format!("{token}x"),
                format!("my_{token}"),
                format!("x{token}"),
                token[..token.len() - 1].to_owned(),
                token.replace("tsr_", "tsx_"),
            ] {
                assert!(found(&rule, &look_alike).is_empty(), "{look_alike}");
            }
        }
    }
}
