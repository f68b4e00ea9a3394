//! The token form, as typed into it: parsed from the posted body, shown again as typed
//! when something is wrong (nothing is lost), and turned into the same
//! [`TokenDraft`] the API builds, so the core applies one set of rules to both.

use tessera_core::record::{
    ExpiryRequest, InputError, NotBeforeRequest, RateLimitRequest, TokenDraft, TokenRecord,
};
use tessera_core::timefmt::{format_rfc3339, parse_rfc3339};
use tessera_core::usage::CreditsRequest;

use tessera_engine::EngineError;

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
    /// `YYYY-MM-DDTHH:MM`, UTC, before which the token is not valid; empty: at once.
    pub not_before: String,
    /// How many live tokens may be made through this one; empty: no bound of its own.
    pub max_descendants: String,
    /// The networks the token may be used from, one per line; empty: anywhere.
    pub allowed_cidrs: String,
    /// The lifetime cap on uses; empty: none.
    pub max_uses: String,
    /// The balance of credits to give; empty: none. Shown as given (the page says
    /// what is left): left as shown, the balance is kept.
    pub credits: String,
    /// The refill amount; empty: no refill.
    pub refill_amount: String,
    /// `day` or `month`.
    pub refill_every: String,
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
    fn from_input(error: &InputError) -> Self {
        let field = match error.field {
            "name" => "name",
            "description" => "description",
            "owner" => "owner",
            "scopes" | "access" => "scopes",
            "resources" => "resources",
            "rate_limit" => "rate",
            "expires_at" | "expires_in" => "expiry",
            "not_before" => "not_before",
            "max_descendants" => "max_descendants",
            "allowed_cidrs" => "allowed_cidrs",
            "max_uses" => "max_uses",
            "credits" => "credits",
            _ => "form",
        };
        let mut message = error.detail.clone();
        if let Some(valid) = &error.valid {
            message.push_str(&format!(" (one of: {})", valid.join(", ")));
        }
        Self::new(field, message)
    }

    /// Where an engine error belongs on the form: next to its field if it has one,
    /// else at the top.
    pub fn from_engine(error: &EngineError) -> Self {
        match error {
            EngineError::Input(input) => Self::from_input(input),
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
        let (scopes, access) = s.scopes.as_fields();
        let (rate, per_minute, burst) = match &s.rate_limit {
            None => ("none".to_owned(), String::new(), String::new()),
            Some(limit) => (
                limit.profile.clone().unwrap_or_else(|| "custom".into()),
                limit.per_minute.to_string(),
                limit.burst.to_string(),
            ),
        };
        Self {
            name: s.name.to_string(),
            description: s.description.as_deref().unwrap_or_default().to_owned(),
            owner: s.owner.as_deref().unwrap_or_default().to_owned(),
            access: access.unwrap_or_default(),
            scopes: scopes.unwrap_or_default(),
            resources: s.resources.view().patterns().collect::<Vec<_>>().join("\n"),
            rate,
            per_minute,
            burst,
            expiry: if s.expires_at.is_some() {
                "keep"
            } else {
                "never"
            }
            .into(),
            expires_on: s.expires_at.map(to_minutes).unwrap_or_default(),
            not_before: s.not_before.map(to_minutes).unwrap_or_default(),
            max_descendants: s
                .max_descendants
                .map(|most| most.to_string())
                .unwrap_or_default(),
            allowed_cidrs: s.allowed_cidrs.texts().join("\n"),
            max_uses: s.max_uses.map(|most| most.to_string()).unwrap_or_default(),
            credits: s
                .credits
                .map(|credits| credits.remaining.to_string())
                .unwrap_or_default(),
            refill_amount: s
                .credits
                .and_then(|credits| credits.refill)
                .map(|refill| refill.amount.to_string())
                .unwrap_or_default(),
            refill_every: s
                .credits
                .and_then(|credits| credits.refill)
                .map_or("day", |refill| refill.every.as_str())
                .to_owned(),
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
            not_before: fields.get("not_before").to_owned(),
            max_descendants: fields.get("max_descendants").to_owned(),
            allowed_cidrs: fields.get("allowed_cidrs").to_owned(),
            max_uses: fields.get("max_uses").to_owned(),
            credits: fields.get("credits").to_owned(),
            refill_amount: fields.get("refill_amount").to_owned(),
            refill_every: fields.get("refill_every").to_owned(),
        }
    }

    /// What the form asks for, or every mistake the form itself can see (the core's
    /// rules then speak for the rest, a field at a time). `current` is the token's
    /// form as it was shown, when editing.
    pub fn check(&self, current: Option<&TokenForm>) -> Result<Changes, Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.name.is_empty() {
            errors.push(FieldError::new(
                "name",
                "give the token a name of 1 to 100 characters",
            ));
        }
        let scopes = self.scope_grant().unwrap_or_else(|error| {
            errors.push(error);
            (None, None)
        });
        // A limit left as it was stays as stored, not resolved again by profile name.
        let rate_unchanged = current.is_some_and(|c| {
            c.rate == self.rate
                && (self.rate != "custom"
                    || (c.per_minute == self.per_minute && c.burst == self.burst))
        });
        let rate_limit = if rate_unchanged {
            None
        } else {
            self.rate_limit()
                .map_err(|mut more| errors.append(&mut more))
                .ok()
        };
        let expiry = self
            .expiry_request()
            .map_err(|error| errors.push(error))
            .ok()
            .flatten();
        // A time left as it was shown stays as stored, to the millisecond.
        let not_before = if current.is_some_and(|c| c.not_before == self.not_before) {
            None
        } else {
            self.not_before_request()
                .map_err(|error| errors.push(error))
                .ok()
        };
        let max_descendants = self
            .max_descendants()
            .map_err(|error| errors.push(error))
            .ok()
            .flatten();
        let max_uses = whole_number(&self.max_uses, "max_uses")
            .map_err(|error| errors.push(error))
            .ok()
            .flatten();
        // Credits left as they were shown keep the balance as it stands.
        let credits_unchanged = current.is_some_and(|c| {
            (
                c.credits.trim(),
                c.refill_amount.trim(),
                c.refill_every.as_str(),
            ) == (
                self.credits.trim(),
                self.refill_amount.trim(),
                self.refill_every.as_str(),
            )
        });
        let credits = if credits_unchanged {
            None
        } else {
            self.credits_request()
                .map_err(|error| errors.push(error))
                .ok()
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Changes {
            max_uses,
            credits,
            name: self.name.clone(),
            description: non_empty(&self.description),
            owner: non_empty(&self.owner),
            scopes,
            resources: Some(list_of(&self.resources)).filter(|r| !r.is_empty()),
            rate_limit,
            expiry,
            not_before,
            max_descendants,
            allowed_cidrs: list_of(&self.allowed_cidrs),
        })
    }

    fn scope_grant(&self) -> Result<(Option<Vec<String>>, Option<String>), FieldError> {
        if !self.access.is_empty() {
            if !self.scopes.is_empty() {
                return Err(FieldError::new(
                    "scopes",
                    "choose an access level or tick scopes, not both",
                ));
            }
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
                utc_time(&self.expires_on, "expires_on").map(|at| Some(ExpiryRequest::At(at)))
            }
            preset => EXPIRY_PRESETS
                .iter()
                .find(|(value, _, _)| *value == preset)
                .map(|(_, _, seconds)| Some(ExpiryRequest::In(*seconds)))
                .ok_or_else(|| FieldError::new("expiry", "choose when the token expires")),
        }
    }
}

impl TokenForm {
    /// `None`: valid at once.
    fn not_before_request(&self) -> Result<Option<NotBeforeRequest>, FieldError> {
        if self.not_before.trim().is_empty() {
            return Ok(None);
        }
        utc_time(&self.not_before, "not_before").map(|at| Some(NotBeforeRequest::At(at)))
    }

    /// `None`: no credits. The core checks the numbers and the period.
    fn credits_request(&self) -> Result<Option<CreditsRequest>, FieldError> {
        let Some(remaining) = whole_number(&self.credits, "credits")? else {
            return Ok(None);
        };
        let refill_amount = whole_number(&self.refill_amount, "credits")?;
        Ok(Some(CreditsRequest::Set {
            remaining,
            refill_amount,
            refill_every: Some(self.refill_every.clone()),
            refill_given: refill_amount.is_some(),
        }))
    }

    /// `None`: no bound of its own. The core checks the range.
    fn max_descendants(&self) -> Result<Option<u32>, FieldError> {
        let typed = self.max_descendants.trim();
        if typed.is_empty() {
            return Ok(None);
        }
        typed.parse().map(Some).map_err(|_| {
            FieldError::new(
                "max_descendants",
                "give a whole number of tokens, e.g. 100, or leave it empty",
            )
        })
    }
}

/// A whole number typed in `field`; empty: none.
fn whole_number(typed: &str, field: &'static str) -> Result<Option<u64>, FieldError> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(None);
    }
    typed
        .parse()
        .map(Some)
        .map_err(|_| FieldError::new(field, "give a whole number, e.g. 1000, or leave it empty"))
}

/// `2027-01-31T18:00` from a date-time input, or typed with a space, as RFC 3339.
fn utc_time(typed: &str, field: &'static str) -> Result<String, FieldError> {
    let typed = typed.trim().replace(' ', "T");
    let text = match typed.len() {
        16 => format!("{typed}:00Z"),
        _ => format!("{typed}Z"),
    };
    if parse_rfc3339(&text).is_none() {
        return Err(FieldError::new(
            field,
            "give a date and time (UTC), e.g. 2027-01-31 18:00",
        ));
    }
    Ok(text)
}

/// A stored time as a date-time input shows it: to the minute, UTC.
fn to_minutes(ms: i64) -> String {
    format_rfc3339(ms).chars().take(16).collect()
}

/// A form's settings, checked as far as the form can check them.
#[derive(Clone, Debug)]
pub struct Changes {
    name: String,
    description: Option<String>,
    owner: Option<String>,
    scopes: (Option<Vec<String>>, Option<String>),
    resources: Option<Vec<String>>,
    /// `None`: the limit is left as it is.
    rate_limit: Option<Option<RateLimitRequest>>,
    /// `None`: the expiry is left as it is (or, for a new token, there is none).
    expiry: Option<ExpiryRequest>,
    /// `None`: left as it is; `Some(None)`: valid at once.
    not_before: Option<Option<NotBeforeRequest>>,
    /// `None`: no bound of its own (the form always shows the current one).
    max_descendants: Option<u32>,
    /// Empty: anywhere (the form always shows the current ones).
    allowed_cidrs: Vec<String>,
    /// `None`: no cap (the form always shows the current one).
    max_uses: Option<u64>,
    /// `None`: left as they are; `Some(None)`: none.
    credits: Option<Option<CreditsRequest>>,
}

impl Changes {
    /// A new token's settings.
    pub fn into_new_draft(self) -> TokenDraft {
        let mut draft = TokenDraft::default();
        self.apply(&mut draft);
        draft
    }

    /// Applies the changes to a token's settings as a draft; what the form does not
    /// show (`meta`) stays as it is.
    pub fn apply(self, draft: &mut TokenDraft) {
        draft.name = Some(self.name);
        draft.description = self.description;
        draft.owner = self.owner;
        (draft.scopes, draft.access) = self.scopes;
        draft.resources = self.resources;
        if let Some(limit) = self.rate_limit {
            draft.rate_limit = limit;
        }
        if let Some(expiry) = self.expiry {
            draft.expiry = Some(expiry);
        }
        if let Some(not_before) = self.not_before {
            draft.not_before = not_before;
        }
        draft.max_descendants = self.max_descendants;
        draft.allowed_cidrs = Some(self.allowed_cidrs);
        draft.max_uses = self.max_uses;
        if let Some(credits) = self.credits {
            draft.credits = credits;
        }
    }
}

/// The entries of a field that takes one per line (commas and spaces also separate).
fn list_of(typed: &str) -> Vec<String> {
    typed
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &str) -> TokenForm {
        TokenForm::parse(&Fields::parse(pairs.as_bytes()))
    }

    #[test]
    fn a_not_before_time_is_read_as_utc_and_kept_when_left_as_shown() {
        let typed = "name=x&access=READ&rate=default&expiry=never&not_before=2027-01-31+18%3A00";
        let draft = form(typed).check(None).expect("valid").into_new_draft();
        assert_eq!(
            draft.not_before,
            Some(NotBeforeRequest::At("2027-01-31T18:00:00Z".into()))
        );
        // Shown and sent back unchanged: the stored time (to the millisecond) stays.
        let mut kept = TokenDraft {
            not_before: Some(NotBeforeRequest::Unchanged(7)),
            ..TokenDraft::default()
        };
        form(typed)
            .check(Some(&form(typed)))
            .expect("valid")
            .apply(&mut kept);
        assert_eq!(kept.not_before, Some(NotBeforeRequest::Unchanged(7)));
        // Emptied: valid at once.
        form("name=x&access=READ&rate=default&expiry=never&not_before=")
            .check(Some(&form(typed)))
            .expect("valid")
            .apply(&mut kept);
        assert_eq!(kept.not_before, None);
        let wrong =
            form("name=x&access=READ&rate=default&expiry=never&not_before=soon").check(None);
        let fields: Vec<_> = wrong
            .expect_err("refused")
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["not_before"]);
    }

    #[test]
    fn max_descendants_is_a_number_or_empty_for_none_of_its_own() {
        let base = "name=x&access=READ&rate=default&expiry=never";
        let bounded = form(&format!("{base}&max_descendants=+25+"))
            .check(None)
            .expect("valid")
            .into_new_draft();
        assert_eq!(bounded.max_descendants, Some(25));
        let mut edited = bounded.clone();
        form(&format!("{base}&max_descendants="))
            .check(None)
            .expect("valid")
            .apply(&mut edited);
        assert_eq!(edited.max_descendants, None);
        let wrong = form(&format!("{base}&max_descendants=-1")).check(None);
        let fields: Vec<_> = wrong
            .expect_err("refused")
            .iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["max_descendants"]);
    }

    #[test]
    fn checkboxes_repeat_a_name_and_a_whole_category_absorbs_its_scopes() {
        let draft = form("name=ci&scopes=events%3A*&scopes=events%3Apublish&scopes=channels%3Aread&rate=default&expiry=never")
            .check(None)
            .expect("valid")
            .into_new_draft();
        assert_eq!(
            draft.scopes,
            Some(vec!["events:*".to_owned(), "channels:read".to_owned()])
        );
        assert_eq!(draft.access, None);
        assert_eq!(draft.expiry, Some(ExpiryRequest::Never));
    }

    #[test]
    fn an_access_level_stands_for_scopes_and_resources_split_on_lines_and_commas() {
        let draft = form("name=x&access=WRITE&resources=repo%3A1%0D%0Arepo%3A2,+app%3A*&rate=restricted&expiry=7d")
            .check(None)
            .expect("valid")
            .into_new_draft();
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
                .check(None)
                .err()
                .unwrap_or_default()
                .iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields("name=x&rate=default&expiry=never"), ["scopes"]);
        assert_eq!(
            fields("name=x&access=READ&scopes=repo%3Aread&rate=default&expiry=never"),
            ["scopes"],
            "an access level and ticked scopes: which was meant?"
        );
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
        current
            .check(Some(&current))
            .expect("valid")
            .apply(&mut draft);
        assert_eq!(
            draft.rate_limit,
            Some(RateLimitRequest::Profile("stored".into()))
        );
        assert_eq!(draft.expiry, Some(ExpiryRequest::Unchanged(Some(5))));
        let changed = form("name=x&access=READ&rate=none&expiry=never");
        changed
            .check(Some(&current))
            .expect("valid")
            .apply(&mut draft);
        assert_eq!(draft.rate_limit, None);
        assert_eq!(draft.expiry, Some(ExpiryRequest::Never));
    }

    #[test]
    fn a_date_is_read_as_utc_from_the_date_input_or_typed() {
        for typed in [
            "2027-01-31T18%3A00",
            "2027-01-31+18%3A00",
            "2027-01-31T18%3A00%3A00",
        ] {
            let draft = form(&format!(
                "name=x&access=READ&rate=default&expiry=date&expires_on={typed}"
            ))
            .check(None)
            .expect("valid")
            .into_new_draft();
            assert_eq!(
                draft.expiry,
                Some(ExpiryRequest::At("2027-01-31T18:00:00Z".into())),
                "{typed}"
            );
        }
    }
}
