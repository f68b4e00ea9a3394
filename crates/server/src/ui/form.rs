//! The token form, as typed into it: parsed from the posted body, shown again as typed
//! when something is wrong (nothing is lost), and turned into the same
//! [`TokenDraft`] the API builds, so the core applies one set of rules to both.

use tessera_core::record::{
    ExpiryRequest, InputError, RateLimitRequest, ScopeGrant, TokenDraft, TokenRecord,
};
use tessera_core::timefmt::{format_rfc3339, parse_rfc3339};

use crate::error::ServiceError;

/// An `application/x-www-form-urlencoded` body. Kept as pairs, because a group of
/// checkboxes sends one name many times, which serde's form decoding does not take.
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, trimmed; `""` when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.trim())
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// Expiry choices: `(value, label, seconds from now)`.
pub const EXPIRY_PRESETS: [(&str, &str, i64); 6] = [
    ("1h", "In 1 hour", 3600),
    ("1d", "In 1 day", 86_400),
    ("7d", "In 7 days", 7 * 86_400),
    ("30d", "In 30 days", 30 * 86_400),
    ("90d", "In 90 days", 90 * 86_400),
    ("365d", "In 1 year", 365 * 86_400),
];

/// The form's values as text, exactly as shown or typed.
#[derive(Clone, Debug, Default)]
pub struct TokenForm {
    pub name: String,
    pub description: String,
    pub owner: String,
    /// `""` (scopes picked one by one), `READ`, `WRITE` or `ADMIN`.
    pub access: String,
    /// Checked scopes: `category:action` or `category:*`.
    pub scopes: Vec<String>,
    /// One resource per line (commas and spaces also separate).
    pub resources: String,
    /// `default` (create only), `none`, `custom`, or a profile's name.
    pub rate: String,
    pub per_minute: String,
    pub burst: String,
    /// `keep` (edit only), `never`, a preset, or `date`.
    pub expiry: String,
    /// `YYYY-MM-DDTHH:MM`, UTC, when `expiry` is `date`.
    pub expires_on: String,
}

/// A mistake in one field of the form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The form field's name (and its input's id).
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    /// The core's messages are written for API clients, in lower case; on a page,
    /// each one starts a sentence.
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut chars = message.chars();
        let message = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => message,
        };
        Self { field, message }
    }

    /// The form field a core input error is about.
    pub fn from_input(error: &InputError) -> Self {
        let field = match error.field {
            "name" => "name",
            "description" => "description",
            "owner" => "owner",
            "scopes" | "access" => "scopes",
            "resources" => "resources",
            "rate_limit" => "rate",
            "expires_at" | "expires_in" => "expiry",
            _ => "form",
        };
        let mut message = error.detail.clone();
        if let Some(valid) = &error.valid {
            message.push_str(&format!(" (one of: {})", valid.join(", ")));
        }
        Self::new(field, message)
    }

    /// Where a service error belongs on the form: next to its field if it has one,
    /// else at the top.
    pub fn from_service(error: &ServiceError) -> Self {
        match error {
            ServiceError::Input(input) => Self::from_input(input),
            other => Self::new("form", other.to_string()),
        }
    }
}

impl TokenForm {
    /// A blank form for a new token: a read-only token that expires in 30 days.
    pub fn blank() -> Self {
        Self {
            access: "READ".into(),
            rate: "default".into(),
            expiry: "30d".into(),
            ..Self::default()
        }
    }

    /// A token's current settings, for its edit form.
    pub fn of(record: &TokenRecord) -> Self {
        let s = &record.settings;
        let (access, scopes) = match &s.scopes {
            ScopeGrant::Patterns(patterns) => (String::new(), patterns.clone()),
            ScopeGrant::Access(access) => (access.as_str().to_owned(), Vec::new()),
        };
        let (rate, per_minute, burst) = match &s.rate_limit {
            None => ("none".to_owned(), String::new(), String::new()),
            Some(limit) => (
                limit.profile.clone().unwrap_or_else(|| "custom".into()),
                limit.per_minute.to_string(),
                limit.burst.to_string(),
            ),
        };
        Self {
            name: s.name.clone(),
            description: s.description.clone().unwrap_or_default(),
            owner: s.owner.clone().unwrap_or_default(),
            access,
            scopes,
            resources: s.resources.as_deref().unwrap_or_default().join("\n"),
            rate,
            per_minute,
            burst,
            expiry: if s.expires_at.is_some() {
                "keep"
            } else {
                "never"
            }
            .into(),
            expires_on: s
                .expires_at
                .map(|ms| format_rfc3339(ms).chars().take(16).collect())
                .unwrap_or_default(),
        }
    }

    pub fn parse(fields: &Fields) -> Self {
        Self {
            name: fields.get("name").to_owned(),
            description: fields.get("description").to_owned(),
            owner: fields.get("owner").to_owned(),
            access: fields.get("access").to_owned(),
            scopes: fields.all("scopes"),
            resources: fields.get("resources").to_owned(),
            rate: fields.get("rate").to_owned(),
            per_minute: fields.get("per_minute").to_owned(),
            burst: fields.get("burst").to_owned(),
            expiry: fields.get("expiry").to_owned(),
            expires_on: fields.get("expires_on").to_owned(),
        }
    }

    /// The settings a new token is created with, or every mistake the form itself
    /// can see (the core's rules then speak for the rest, a field at a time).
    pub fn to_new_draft(&self) -> Result<TokenDraft, Vec<FieldError>> {
        let mut draft = TokenDraft::default();
        self.apply(&mut draft, None)?;
        Ok(draft)
    }

    /// Applies the form to a token's current settings (`current`, as a draft); the
    /// fields the form does not show (`meta`) stay as they are.
    pub fn apply_to(
        &self,
        draft: &mut TokenDraft,
        current: &TokenForm,
    ) -> Result<(), Vec<FieldError>> {
        self.apply(draft, Some(current))
    }

    fn apply(
        &self,
        draft: &mut TokenDraft,
        current: Option<&TokenForm>,
    ) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.name.is_empty() {
            errors.push(FieldError::new(
                "name",
                "give the token a name of 1 to 100 characters",
            ));
        }
        draft.name = Some(self.name.clone());
        draft.description = non_empty(&self.description);
        draft.owner = non_empty(&self.owner);
        match self.scope_grant() {
            Ok(grant) => (draft.scopes, draft.access) = grant,
            Err(error) => errors.push(error),
        }
        let resources: Vec<String> = self
            .resources
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect();
        draft.resources = (!resources.is_empty()).then_some(resources);
        // A limit left as it was stays as stored, not resolved again by profile name.
        let rate_unchanged = current.is_some_and(|c| {
            c.rate == self.rate
                && (self.rate != "custom"
                    || (c.per_minute == self.per_minute && c.burst == self.burst))
        });
        if !rate_unchanged {
            match self.rate_limit() {
                Ok(limit) => draft.rate_limit = limit,
                Err(mut more) => errors.append(&mut more),
            }
        }
        match self.expiry_request() {
            Ok(Some(expiry)) => draft.expiry = Some(expiry),
            Ok(None) if current.is_none() => draft.expiry = None,
            Ok(None) => {}
            Err(error) => errors.push(error),
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn scope_grant(&self) -> Result<(Option<Vec<String>>, Option<String>), FieldError> {
        if !self.access.is_empty() {
            return Ok((None, Some(self.access.clone())));
        }
        if self.scopes.is_empty() {
            return Err(FieldError::new(
                "scopes",
                "pick at least one scope, or an access level",
            ));
        }
        // A whole category checked makes its single scopes redundant.
        let wholes: Vec<&str> = self
            .scopes
            .iter()
            .filter_map(|s| s.strip_suffix(":*"))
            .collect();
        let scopes = self
            .scopes
            .iter()
            .filter(|s| {
                s.ends_with(":*")
                    || s.split_once(':')
                        .is_none_or(|(category, _)| !wholes.contains(&category))
            })
            .cloned()
            .collect();
        Ok((Some(scopes), None))
    }

    fn rate_limit(&self) -> Result<Option<RateLimitRequest>, Vec<FieldError>> {
        match self.rate.as_str() {
            "" | "default" | "none" => Ok(None),
            "custom" => {
                let number = |field: &'static str, text: &str, what: &str| {
                    text.parse::<u64>().map_err(|_| {
                        FieldError::new(field, format!("{what} must be a whole number, e.g. 60"))
                    })
                };
                match (
                    number("per_minute", &self.per_minute, "requests per minute"),
                    number("burst", &self.burst, "burst"),
                ) {
                    (Ok(per_minute), Ok(burst)) => {
                        Ok(Some(RateLimitRequest::Custom { per_minute, burst }))
                    }
                    (per_minute, burst) => {
                        Err(per_minute.err().into_iter().chain(burst.err()).collect())
                    }
                }
            }
            profile => Ok(Some(RateLimitRequest::Profile(profile.to_owned()))),
        }
    }

    /// `None`: keep the current expiry (edit), or none asked for (create).
    fn expiry_request(&self) -> Result<Option<ExpiryRequest>, FieldError> {
        match self.expiry.as_str() {
            "keep" => Ok(None),
            "never" => Ok(Some(ExpiryRequest::Never)),
            "date" => {
                let text = format!("{}:00Z", self.expires_on);
                if parse_rfc3339(&text).is_none() {
                    return Err(FieldError::new(
                        "expires_on",
                        "give a date and time (UTC), e.g. 2027-01-31 18:00",
                    ));
                }
                Ok(Some(ExpiryRequest::At(text)))
            }
            preset => EXPIRY_PRESETS
                .iter()
                .find(|(value, _, _)| *value == preset)
                .map(|(_, _, seconds)| Some(ExpiryRequest::In(*seconds)))
                .ok_or_else(|| FieldError::new("expiry", "choose when the token expires")),
        }
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &str) -> TokenForm {
        TokenForm::parse(&Fields::parse(pairs.as_bytes()))
    }

    #[test]
    fn checkboxes_repeat_a_name_and_a_whole_category_absorbs_its_scopes() {
        let draft = form("name=ci&scopes=events%3A*&scopes=events%3Apublish&scopes=channels%3Aread&rate=default&expiry=never")
            .to_new_draft()
            .expect("valid");
        assert_eq!(
            draft.scopes,
            Some(vec!["events:*".to_owned(), "channels:read".to_owned()])
        );
        assert_eq!(draft.access, None);
        assert_eq!(draft.expiry, Some(ExpiryRequest::Never));
    }

    #[test]
    fn an_access_level_wins_over_single_scopes_and_resources_split_on_lines_and_commas() {
        let draft = form("name=x&access=WRITE&scopes=repo%3Aread&resources=repo%3A1%0D%0Arepo%3A2,+app%3A*&rate=restricted&expiry=7d")
            .to_new_draft()
            .expect("valid");
        assert_eq!(draft.access.as_deref(), Some("WRITE"));
        assert_eq!(draft.scopes, None);
        assert_eq!(
            draft.resources,
            Some(vec!["repo:1".into(), "repo:2".into(), "app:*".into()])
        );
        assert_eq!(
            draft.rate_limit,
            Some(RateLimitRequest::Profile("restricted".into()))
        );
        assert_eq!(draft.expiry, Some(ExpiryRequest::In(7 * 86_400)));
    }

    #[test]
    fn mistakes_name_their_field() {
        let fields = |pairs: &str| -> Vec<&str> {
            form(pairs)
                .to_new_draft()
                .err()
                .unwrap_or_default()
                .iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields("name=x&rate=default&expiry=never"), ["scopes"]);
        assert_eq!(
            fields("access=READ&rate=custom&per_minute=ten&burst=&expiry=soon"),
            ["name", "per_minute", "burst", "expiry"]
        );
        assert_eq!(
            fields("name=x&access=READ&rate=default&expiry=date&expires_on=tomorrow"),
            ["expires_on"]
        );
    }

    #[test]
    fn an_edit_leaves_an_untouched_rate_limit_and_expiry_as_stored() {
        let current = form("name=x&access=READ&rate=restricted&expiry=keep");
        let mut draft = TokenDraft {
            rate_limit: Some(RateLimitRequest::Profile("stored".into())),
            expiry: Some(ExpiryRequest::Unchanged(Some(5))),
            ..TokenDraft::default()
        };
        current.apply_to(&mut draft, &current).expect("valid");
        assert_eq!(
            draft.rate_limit,
            Some(RateLimitRequest::Profile("stored".into()))
        );
        assert_eq!(draft.expiry, Some(ExpiryRequest::Unchanged(Some(5))));
        let changed = form("name=x&access=READ&rate=none&expiry=never");
        changed.apply_to(&mut draft, &current).expect("valid");
        assert_eq!(draft.rate_limit, None);
        assert_eq!(draft.expiry, Some(ExpiryRequest::Never));
    }

    #[test]
    fn a_date_is_read_as_utc() {
        let draft =
            form("name=x&access=READ&rate=default&expiry=date&expires_on=2027-01-31T18%3A00")
                .to_new_draft()
                .expect("valid");
        assert_eq!(
            draft.expiry,
            Some(ExpiryRequest::At("2027-01-31T18:00:00Z".into()))
        );
    }
}
