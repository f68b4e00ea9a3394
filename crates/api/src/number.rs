//! Whole numbers as JSON may write them: `5`, and also `5.0`, which JSON Schema
//! counts as an integer and some clients send (Python's `json` writes any float
//! that way). serde alone refuses the second for an integer field.

use serde::de::Error;
use serde::{Deserialize, Deserializer};
use serde_json::Number;

/// An optional whole number: absent or `null` is `None`.
pub(crate) fn optional<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    Option::<Number>::deserialize(deserializer)?
        .map(whole)
        .transpose()
}

/// A whole number that may be given as `null` (`Some(None)`) or left out (`None`,
/// with `#[serde(default)]`).
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    optional(deserializer).map(Some)
}

fn whole<T, E>(number: Number) -> Result<T, E>
where
    T: TryFrom<i64> + TryFrom<u64>,
    E: Error,
{
    let value = if let Some(unsigned) = number.as_u64() {
        T::try_from(unsigned).ok()
    } else if let Some(signed) = number.as_i64() {
        T::try_from(signed).ok()
    } else {
        // Within ±2^53 a float holds every whole number exactly.
        number
            .as_f64()
            .filter(|float| float.fract() == 0.0 && float.abs() <= 9_007_199_254_740_992.0)
            .and_then(|float| T::try_from(float as i64).ok())
    };
    value.ok_or_else(|| E::custom(format!("{number} is not a whole number in range")))
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "super::optional")]
        count: Option<u32>,
    }

    fn count(json: &str) -> Result<Option<u32>, String> {
        serde_json::from_str::<Body>(json)
            .map(|body| body.count)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn whole_numbers_are_read_however_written_and_the_rest_refused() {
        assert_eq!(count(r#"{"count": 5}"#), Ok(Some(5)));
        assert_eq!(count(r#"{"count": 5.0}"#), Ok(Some(5)));
        assert_eq!(count(r#"{"count": null}"#), Ok(None));
        assert_eq!(count("{}"), Ok(None));
        for refused in ["5.5", "-1", "4294967296", "1e300", "\"5\""] {
            assert!(
                count(&format!(r#"{{"count": {refused}}}"#)).is_err(),
                "{refused}"
            );
        }
    }
}
