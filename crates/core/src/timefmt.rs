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

/// A duration as config and listings write it, `<number><s|m|h|d>` (`90s`, `15m`,
/// `7d`), in milliseconds; at most ten years.
pub fn duration_ms(text: &str) -> Option<i64> {
    // ASCII first: the split below is by bytes, and must fall between characters.
    if !text.is_ascii() {
        return None;
    }
    let unit_at = text.len().checked_sub(1)?;
    let (number, unit) = text.split_at(unit_at);
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    let seconds = number.parse::<i64>().ok()?.checked_mul(seconds_per)?;
    (seconds <= 3650 * 86_400).then_some(seconds * 1000)
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

    #[test]
    fn durations_read_in_their_units() {
        assert_eq!(duration_ms("90s"), Some(90_000));
        assert_eq!(duration_ms("15m"), Some(900_000));
        assert_eq!(duration_ms("7d"), Some(604_800_000));
        for bad in ["", "d", "7", "7w", "-1d", "1.5h", "٣d", "3651d"] {
            assert_eq!(duration_ms(bad), None, "{bad}");
        }
    }
}
