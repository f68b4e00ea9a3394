//! A token's client-chosen texts as parsed values: a [`TokenName`] and bounded
//! [`Text`]s (description, owner). Each is checked once, where it enters (a request or
//! a stored row), so code that holds one never checks it again.

use std::fmt;

use crate::record::InputError;

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_OWNER_CHARS: usize = 200;

/// A token's name: 1 to 100 characters, not blank, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenName(pub(crate) String);

impl TokenName {
    /// `None` is a request that gave no name: names are required.
    pub fn parse(name: Option<String>) -> Result<Self, InputError> {
        let name = name.ok_or_else(|| {
            InputError::new(
                "name",
                "missing_name",
                "name is required: give the token a name of 1 to 100 characters",
            )
        })?;
        if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(InputError::new(
                "name",
                "invalid_name",
                format!("name must be 1 to {MAX_NAME_CHARS} characters, not blank"),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(InputError::new(
                "name",
                "invalid_name",
                "name must not contain control characters",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name of a token whose settings nobody chose (`Settings::default()`).
impl Default for TokenName {
    fn default() -> Self {
        Self("token".to_owned())
    }
}

impl fmt::Display for TokenName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Read-only access as text: a name is shown, compared and stored as the string it is.
impl std::ops::Deref for TokenName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for TokenName {
    type Error = InputError;
    fn try_from(name: &str) -> Result<Self, InputError> {
        Self::parse(Some(name.to_owned()))
    }
}

impl From<TokenName> for String {
    fn from(name: TokenName) -> Self {
        name.0
    }
}

/// Free text of at most `MAX` characters and without NUL, which no database backend
/// holds the same way and nobody needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text<const MAX: usize>(pub(crate) String);

/// A token's description.
pub type Description = Text<MAX_DESCRIPTION_CHARS>;
/// Whom a token acts for; tokens a token makes act for the same owner.
pub type Owner = Text<MAX_OWNER_CHARS>;

impl<const MAX: usize> Text<MAX> {
    /// `field` names the text in the error, for the client to find it.
    pub fn parse(text: String, field: &'static str) -> Result<Self, InputError> {
        if text.chars().count() > MAX {
            return Err(InputError::new(
                field,
                "too_long",
                format!("{field} must be at most {MAX} characters"),
            ));
        }
        if text.contains('\0') {
            return Err(InputError::new(
                field,
                "invalid_text",
                format!("{field} must not contain NUL characters"),
            ));
        }
        Ok(Self(text))
    }

    /// [`Text::parse`] of a text that may be absent.
    pub fn parse_optional(
        text: Option<String>,
        field: &'static str,
    ) -> Result<Option<Self>, InputError> {
        text.map(|text| Self::parse(text, field)).transpose()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> fmt::Display for Text<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> std::ops::Deref for Text<MAX> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> TryFrom<&str> for Text<MAX> {
    type Error = InputError;
    fn try_from(text: &str) -> Result<Self, InputError> {
        Self::parse(text.to_owned(), "text")
    }
}

impl<const MAX: usize> From<Text<MAX>> for String {
    fn from(text: Text<MAX>) -> Self {
        text.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_required_visible_and_short() {
        let code = |name: Option<&str>| {
            TokenName::parse(name.map(str::to_owned))
                .err()
                .map(|error| error.code)
        };
        assert_eq!(code(None), Some("missing_name"));
        assert_eq!(code(Some("  ")), Some("invalid_name"));
        assert_eq!(code(Some("a\nb")), Some("invalid_name"));
        assert_eq!(code(Some(&"x".repeat(101))), Some("invalid_name"));
        assert_eq!(code(Some(&"é".repeat(100))), None);
    }

    #[test]
    fn a_text_names_its_field_when_refused() {
        let error = Owner::parse("x".repeat(201), "owner").unwrap_err();
        assert_eq!((error.field, error.code), ("owner", "too_long"));
        let error = Description::parse("a\0b".into(), "description").unwrap_err();
        assert_eq!((error.field, error.code), ("description", "invalid_text"));
        assert_eq!(Owner::parse_optional(None, "owner"), Ok(None));
    }
}
