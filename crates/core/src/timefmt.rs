//! RFC 3339 timestamps at the edges; milliseconds since the epoch everywhere inside.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parses an RFC 3339 timestamp (`2026-12-31T23:59:59Z`) to milliseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let moment = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(moment.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Formats milliseconds since the epoch as RFC 3339 in UTC, with millisecond precision.
pub fn format_rfc3339(ms: i64) -> String {
    let moment = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let millis = moment.millisecond();
    let moment = moment.replace_nanosecond(0).unwrap_or(moment);
    let text = moment.format(&Rfc3339).unwrap_or_default();
    if millis == 0 {
        text
    } else {
        // `2026-01-01T00:00:00Z` -> `2026-01-01T00:00:00.123Z`
        format!("{}.{millis:03}Z", text.trim_end_matches('Z'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let ms = parse_rfc3339("2026-11-22T10:00:00.250Z").unwrap();
        assert_eq!(format_rfc3339(ms), "2026-11-22T10:00:00.250Z");
        assert_eq!(
            parse_rfc3339("2026-11-22T11:00:00+01:00"),
            parse_rfc3339("2026-11-22T10:00:00Z")
        );
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert!(parse_rfc3339("tomorrow").is_none());
    }
}
