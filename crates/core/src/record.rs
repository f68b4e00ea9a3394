//! A token's stored record, and the settings a client asks for, checked.
//!
//! [`TokenDraft`] is what a request says, unchecked. [`Settings::validate`] turns it
//! into [`Settings`] or an [`InputError`] naming the field and how to fix it. Create
//! and update share that one path: an update is the current settings as a draft, with
//! the changed fields applied, validated again.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::fields::{Description, Owner, TokenName};
use crate::network::Networks;
use crate::ratelimit::{self, RateLimit};
use crate::resource::ResourceScope;
use crate::scope::{Access, ScopeCatalogue, ScopeError, ScopeSet};
use crate::timefmt;
use crate::token::TokenHash;
use crate::usage::{self, Balance, Caps, Credits, CreditsRequest};

pub const MAX_META_BYTES: usize = 4096;
pub const MAX_SCOPES: usize = 256;
pub const MAX_RESOURCES: usize = 1000;

/// A token's rate limit as stored: the numbers, and the profile they came from if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitSetting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub per_minute: u32,
    pub burst: u32,
}

impl RateLimitSetting {
    pub fn limit(&self) -> RateLimit {
        RateLimit {
            per_minute: self.per_minute,
            burst: self.burst,
        }
    }
}

/// A rate limit as a client writes it: a profile's name, or numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RateLimitRequest {
    Profile(String),
    Custom {
        per_minute: u64,
        burst: u64,
    },
    /// An update that leaves the limit as stored: not resolved again by profile name,
    /// so a profile later changed or removed in config does not change or block it.
    Unchanged(RateLimitSetting),
}

/// What a token grants, as granted: scope patterns, or an access level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeGrant {
    Patterns(Vec<String>),
    Access(Access),
}

impl ScopeGrant {
    /// As requests and views write it: scope patterns, or an access level.
    pub fn as_fields(&self) -> (Option<Vec<String>>, Option<String>) {
        match self {
            ScopeGrant::Patterns(patterns) => (Some(patterns.clone()), None),
            ScopeGrant::Access(access) => (None, Some(access.as_str().to_owned())),
        }
    }
}

/// No scope at all: a default that grants nothing.
impl Default for ScopeGrant {
    fn default() -> Self {
        Self::Patterns(Vec::new())
    }
}

/// The settings of a token that clients choose, validated. The default is a token
/// with no name and no powers, for literals that name what they set
/// (`..Settings::default()`), so that a new field does not touch them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    pub name: TokenName,
    pub description: Option<Description>,
    pub scopes: ScopeGrant,
    /// Parsed once, where the settings are made; [`ResourceScope::All`] when the
    /// request named none.
    pub resources: ResourceScope,
    pub rate_limit: Option<RateLimitSetting>,
    pub expires_at: Option<i64>,
    /// Before this instant the token is not valid yet (`NOT_YET_VALID`).
    pub not_before: Option<i64>,
    pub owner: Option<Owner>,
    pub meta: Option<Map<String, Value>>,
    /// How many live tokens may be made through this one, its children and
    /// theirs together; `None`: no bound of its own (its maker's still holds).
    pub max_descendants: Option<u32>,
    /// Where the token may be used from; anywhere when empty.
    pub allowed_cidrs: Networks,
    /// At most this many uses (allowed verifications) in its life.
    pub max_uses: Option<u64>,
    /// A balance of credits each allowed verification spends its `cost` from.
    pub credits: Option<Credits>,
}

/// The most `max_descendants` a token may state: far beyond any real subtree.
pub const MAX_DESCENDANTS: u32 = 1_000_000_000;

/// Everything stored about a token. Never its text.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenRecord {
    pub id: String,
    pub hash: TokenHash,
    /// Prefix and first characters, for recognition.
    pub start: String,
    /// The deployment's admin token, made by `tessera init`: may do everything.
    pub is_admin: bool,
    pub settings: Settings,
    pub parent_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// Where it was last used from: the client address of its first use in the
    /// newest second of use (the usage writer's interval), when one was known.
    pub last_used_ip: Option<std::net::IpAddr>,
    pub use_count: u64,
    /// The secrets it had before its rotations, newest first, at most
    /// [`REMEMBERED_SECRETS`]: each works until its grace period ends, and presenting
    /// it after is a sign that it was stolen.
    pub previous_secrets: Vec<PreviousSecret>,
    /// The credits left of the balance its settings gave, as last written (the index
    /// has the live count); `None`: none written since they were given.
    pub credits_balance: Option<CreditsBalance>,
}

/// Credits left, as written beside the token: of the balance given at `of` (its
/// `Credits::set_at`), so that one written for an earlier balance is not taken
/// for the current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CreditsBalance {
    pub left: u64,
    pub period: i64,
    pub of: i64,
}

impl TokenRecord {
    /// The live state its caps start from when it is brought into an index: its
    /// uses so far, and the credits balance written for its current credits.
    pub fn balance(&self) -> Balance {
        let caps = self.settings.caps();
        let mut balance = Balance::fresh(&caps, self.use_count);
        if let (Some(credits), Some(written)) = (caps.credits, self.credits_balance)
            && written.of == credits.set_at
        {
            balance.credits_left = written.left;
            balance.period = written.period;
        }
        balance
    }
}

/// A secret a token had before a rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousSecret {
    pub hash: TokenHash,
    /// Milliseconds since the epoch: it works until then (the grace period).
    pub valid_until: i64,
}

/// How many earlier secrets a token remembers, for reuse detection: the newest. A
/// secret older than that reads as unknown (`NOT_FOUND`), not as reused.
pub const REMEMBERED_SECRETS: usize = 16;

/// The longest grace period a rotation may give the previous secret: 7 days.
pub const MAX_GRACE_SECONDS: i64 = 7 * 24 * 3600;

/// A rotation's grace period, in milliseconds, from the seconds a request states
/// (`grace_seconds`; none is 0: the previous secret stops at once).
pub fn grace_ms(seconds: Option<i64>) -> Result<i64, InputError> {
    match seconds.unwrap_or(0) {
        seconds @ 0..=MAX_GRACE_SECONDS => Ok(seconds * 1000),
        seconds => Err(InputError::new(
            "grace_seconds",
            "invalid_grace",
            format!(
                "grace_seconds must be 0 to {MAX_GRACE_SECONDS} (7 days), not {seconds}: how long \
                 the previous secret keeps working"
            ),
        )),
    }
}

/// Lifecycle status, as listings filter and show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    /// Not valid yet: its `not_before` is still to come.
    Pending,
    Expired,
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Pending => "pending",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Status::Active),
            "pending" => Some(Status::Pending),
            "expired" => Some(Status::Expired),
            "revoked" => Some(Status::Revoked),
            _ => None,
        }
    }
}

impl TokenRecord {
    /// This token with a new secret (its `hash` and `start`), made at `now`: the same
    /// id, settings, usage and children. The secret it had works on for `grace_ms`.
    pub fn rotated(&self, hash: TokenHash, start: String, grace_ms: i64, now: i64) -> Self {
        let retired = PreviousSecret {
            hash: self.hash,
            valid_until: now.saturating_add(grace_ms),
        };
        let mut previous_secrets = vec![retired];
        previous_secrets.extend(self.previous_secrets.iter().cloned());
        previous_secrets.truncate(REMEMBERED_SECRETS);
        Self {
            hash,
            start,
            updated_at: now,
            previous_secrets,
            ..self.clone()
        }
    }

    pub fn status(&self, now_ms: i64) -> Status {
        if self.revoked_at.is_some() {
            Status::Revoked
        } else if self.settings.expires_at.is_some_and(|at| at <= now_ms) {
            Status::Expired
        } else if self.settings.not_before.is_some_and(|at| at > now_ms) {
            Status::Pending
        } else {
            Status::Active
        }
    }
}

/// A client's mistake in a token's settings: which field, a stable code, and what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct InputError {
    pub field: &'static str,
    pub code: &'static str,
    pub detail: String,
    /// The accepted values, when there is a short list of them.
    pub valid: Option<Vec<String>>,
}

impl InputError {
    pub fn new(field: &'static str, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            field,
            code,
            detail: detail.into(),
            valid: None,
        }
    }
}

/// A token's settings as a request states them, unchecked. `None` means "not given".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TokenDraft {
    pub name: Option<String>,
    pub description: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub access: Option<String>,
    pub resources: Option<Vec<String>>,
    pub expiry: Option<ExpiryRequest>,
    /// `None`: valid from its creation.
    pub not_before: Option<NotBeforeRequest>,
    pub rate_limit: Option<RateLimitRequest>,
    pub owner: Option<String>,
    pub meta: Option<Value>,
    /// For a new token, `None` means "not given": its maker's bound applies.
    pub max_descendants: Option<u32>,
    /// CIDRs or addresses; `None` or empty: anywhere (for a new token made through
    /// one bound to networks, that token's networks).
    pub allowed_cidrs: Option<Vec<String>>,
    pub max_uses: Option<u64>,
    pub credits: Option<CreditsRequest>,
}

/// When a token starts to be valid, as a request states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotBeforeRequest {
    /// `not_before`: an RFC 3339 timestamp.
    At(String),
    /// An update that leaves it as it was.
    Unchanged(i64),
}

/// When a token should expire, as a request states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpiryRequest {
    /// `expires_at`: an RFC 3339 timestamp.
    At(String),
    /// `expires_in`: seconds from now.
    In(i64),
    /// Explicitly never (an update that removes the expiry).
    Never,
    /// An update that leaves the expiry as it was: not checked again, so a name can
    /// still be changed on a token that has expired.
    Unchanged(Option<i64>),
}

/// What validation needs to know about the deployment.
pub struct Policy<'a> {
    pub catalogue: &'a ScopeCatalogue,
    pub now_ms: i64,
    /// The longest a new token may live, if the deployment caps it.
    pub max_lifetime_ms: Option<i64>,
    /// The rate limit of tokens that state none.
    pub default_rate_limit: Option<&'a RateLimitSetting>,
    /// Named profiles beyond the built-in ones.
    pub extra_profiles: &'a [(String, RateLimit)],
}

impl Policy<'_> {
    fn profile(&self, name: &str) -> Option<RateLimit> {
        self.extra_profiles
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, limit)| *limit)
            .or_else(|| ratelimit::profile(name))
    }

    fn profile_names(&self) -> Vec<String> {
        ratelimit::PROFILES
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .chain(self.extra_profiles.iter().map(|(n, _)| n.clone()))
            .collect()
    }
}

/// Draft fields that a valid request may leave out, and what leaving them out means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Omitted {
    /// A new token: omitted scopes mean full access, an omitted limit the default.
    Create,
    /// The draft is complete: a missing field means "none".
    Complete,
}

impl Settings {
    /// The settings of the deployment's admin token, which `tessera init` makes.
    pub fn admin() -> Self {
        Self {
            name: TokenName("admin".to_owned()),
            description: Some(crate::fields::Text(
                "The deployment's admin token: may do everything.".to_owned(),
            )),
            scopes: ScopeGrant::Patterns(vec!["*".to_owned()]),
            ..Self::default()
        }
    }

    /// Checks a draft against the deployment's rules.
    pub fn validate(
        draft: TokenDraft,
        policy: &Policy<'_>,
        omitted: Omitted,
    ) -> Result<Self, InputError> {
        let name = TokenName::parse(draft.name)?;
        let description = Description::parse_optional(draft.description, "description")?;
        let owner = Owner::parse_optional(draft.owner, "owner")?;
        let scopes = validate_scopes(draft.scopes, draft.access, policy.catalogue)?;
        let resources = validate_resources(draft.resources)?;
        let expires_at = validate_expiry(draft.expiry, policy)?;
        let not_before = validate_not_before(draft.not_before, expires_at)?;
        let rate_limit = match draft.rate_limit {
            Some(request) => Some(validate_rate_limit(request, policy)?),
            None if omitted == Omitted::Create => policy.default_rate_limit.cloned(),
            None => None,
        };
        let meta = validate_meta(draft.meta)?;
        let max_descendants = draft
            .max_descendants
            .map(|most| {
                if most <= MAX_DESCENDANTS {
                    Ok(most)
                } else {
                    Err(InputError::new(
                        "max_descendants",
                        "invalid_max_descendants",
                        format!("max_descendants must be 0 to {MAX_DESCENDANTS}"),
                    ))
                }
            })
            .transpose()?;
        let allowed_cidrs = match draft.allowed_cidrs {
            Some(entries) => Networks::parse(&entries)?,
            None => Networks::anywhere(),
        };
        let max_uses = usage::validate_max_uses(draft.max_uses)?;
        let credits = usage::validate_credits(draft.credits, policy.now_ms)?;
        Ok(Self {
            name,
            description,
            scopes,
            resources,
            rate_limit,
            expires_at,
            not_before,
            owner,
            meta,
            max_descendants,
            allowed_cidrs,
            max_uses,
            credits,
        })
    }

    /// These settings as a complete draft, so an update can change a few fields and
    /// validate the whole again.
    pub fn to_draft(&self) -> TokenDraft {
        let (scopes, access) = self.scopes.as_fields();
        TokenDraft {
            name: Some(self.name.to_string()),
            description: self.description.clone().map(String::from),
            scopes,
            access,
            resources: self.resources.view().texts(),
            expiry: Some(ExpiryRequest::Unchanged(self.expires_at)),
            not_before: self.not_before.map(NotBeforeRequest::Unchanged),
            rate_limit: self.rate_limit.clone().map(RateLimitRequest::Unchanged),
            owner: self.owner.clone().map(String::from),
            meta: self.meta.clone().map(Value::Object),
            max_descendants: self.max_descendants,
            allowed_cidrs: Some(self.allowed_cidrs.texts()),
            max_uses: self.max_uses,
            credits: self.credits.map(CreditsRequest::Unchanged),
        }
    }

    /// The usage caps these settings set.
    pub fn caps(&self) -> Caps {
        Caps {
            max_uses: self.max_uses,
            credits: self.credits,
        }
    }

    /// Refuses settings under which the token would never be valid: a `not_before`
    /// at or after the expiry. Checked again once a parent's bounds have filled in an
    /// expiry the request left open.
    pub fn check_window(&self) -> Result<(), InputError> {
        check_window(self.not_before, self.expires_at)
    }

    /// The scopes these settings grant, compiled against `catalogue`. A stored scope
    /// the catalogue no longer has grants nothing (fail closed).
    pub fn scope_set(&self, catalogue: &ScopeCatalogue) -> ScopeSet {
        match &self.scopes {
            ScopeGrant::Access(access) => catalogue.for_access(*access),
            ScopeGrant::Patterns(patterns) => {
                let mut known: Vec<String> = Vec::with_capacity(patterns.len());
                for pattern in patterns {
                    if catalogue.compile(std::slice::from_ref(pattern)).is_ok() {
                        known.push(pattern.clone());
                    }
                }
                catalogue
                    .compile(&known)
                    .unwrap_or_else(|_| catalogue.empty())
            }
        }
    }
}

fn validate_scopes(
    scopes: Option<Vec<String>>,
    access: Option<String>,
    catalogue: &ScopeCatalogue,
) -> Result<ScopeGrant, InputError> {
    match (scopes, access) {
        (Some(_), Some(_)) => Err(InputError::new(
            "scopes",
            "scopes_and_access",
            "give either scopes or access, not both: access is a shortcut for a set of scopes",
        )),
        (None, Some(level)) => Access::parse(&level)
            .map(ScopeGrant::Access)
            .ok_or_else(|| InputError {
                valid: Some(["READ", "WRITE", "ADMIN"].map(String::from).to_vec()),
                ..InputError::new(
                    "access",
                    "invalid_access",
                    format!("access {level:?} must be READ, WRITE or ADMIN"),
                )
            }),
        (None, None) => Ok(ScopeGrant::Patterns(vec!["*".to_owned()])),
        (Some(patterns), None) => {
            if patterns.len() > MAX_SCOPES {
                return Err(InputError::new(
                    "scopes",
                    "too_many_scopes",
                    format!("at most {MAX_SCOPES} scopes"),
                ));
            }
            catalogue.compile(&patterns).map_err(|error| {
                let valid = Some(catalogue.names().into_iter().map(String::from).collect());
                match error {
                    ScopeError::Unknown { scope } => InputError {
                        valid,
                        ..InputError::new("scopes", "unknown_scope", format!("unknown scope {scope:?}: use one of the listed scopes, category:* for a whole category, or * for everything"))
                    },
                    ScopeError::Malformed { scope } => InputError {
                        valid,
                        ..InputError::new("scopes", "invalid_scope", format!("scope {scope:?} must be category:action, category:* or *"))
                    },
                }
            })?;
            let mut unique: Vec<String> = Vec::with_capacity(patterns.len());
            for pattern in patterns {
                if !unique.contains(&pattern) {
                    unique.push(pattern);
                }
            }
            Ok(ScopeGrant::Patterns(unique))
        }
    }
}

fn validate_resources(resources: Option<Vec<String>>) -> Result<ResourceScope, InputError> {
    let Some(list) = resources else {
        return Ok(ResourceScope::All);
    };
    if list.len() > MAX_RESOURCES {
        return Err(InputError::new(
            "resources",
            "too_many_resources",
            format!("at most {MAX_RESOURCES} resources; use type:* for every resource of a type"),
        ));
    }
    let mut unique: Vec<String> = Vec::with_capacity(list.len());
    for item in list {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    ResourceScope::parse(Some(&unique))
        .map_err(|error| InputError::new("resources", "invalid_resource", error.to_string()))
}

fn validate_expiry(
    expiry: Option<ExpiryRequest>,
    policy: &Policy<'_>,
) -> Result<Option<i64>, InputError> {
    let expires_at = match expiry {
        Some(ExpiryRequest::Unchanged(kept)) => return Ok(kept),
        None | Some(ExpiryRequest::Never) => None,
        Some(ExpiryRequest::At(text)) => Some(timefmt::parse_rfc3339(&text).ok_or_else(|| {
            InputError::new(
                "expires_at",
                "invalid_expiry",
                format!(
                    "expires_at {text:?} is not an RFC 3339 timestamp such as 2030-01-01T00:00:00Z"
                ),
            )
        })?),
        Some(ExpiryRequest::In(seconds)) => {
            if seconds <= 0 || seconds > 100 * 365 * 86_400 {
                return Err(InputError::new(
                    "expires_in",
                    "invalid_expiry",
                    "expires_in must be a number of seconds from 1 to 3153600000 (100 years)",
                ));
            }
            Some(policy.now_ms + seconds * 1000)
        }
    };
    if let Some(at) = expires_at
        && at <= policy.now_ms
    {
        return Err(InputError::new(
            "expires_at",
            "expiry_in_past",
            "expires_at is in the past: give a future time",
        ));
    }
    if let Some(max) = policy.max_lifetime_ms {
        let latest = policy.now_ms.saturating_add(max);
        match expires_at {
            None => {
                return Err(InputError::new(
                    "expires_at",
                    "expiry_required",
                    format!(
                        "this deployment requires an expiry: set expires_in to at most {} seconds",
                        max / 1000
                    ),
                ));
            }
            Some(at) if at > latest => {
                return Err(InputError::new(
                    "expires_at",
                    "lifetime_too_long",
                    format!(
                        "tokens here live at most {} seconds: expire by {}",
                        max / 1000,
                        timefmt::format_rfc3339(latest)
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(expires_at)
}

fn validate_not_before(
    not_before: Option<NotBeforeRequest>,
    expires_at: Option<i64>,
) -> Result<Option<i64>, InputError> {
    let at = match not_before {
        None => return Ok(None),
        Some(NotBeforeRequest::Unchanged(at)) => at,
        Some(NotBeforeRequest::At(text)) => timefmt::parse_rfc3339(&text).ok_or_else(|| {
            InputError::new(
                "not_before",
                "invalid_not_before",
                format!(
                    "not_before {text:?} is not an RFC 3339 timestamp such as 2030-01-01T00:00:00Z"
                ),
            )
        })?,
    };
    check_window(Some(at), expires_at)?;
    Ok(Some(at))
}

fn check_window(not_before: Option<i64>, expires_at: Option<i64>) -> Result<(), InputError> {
    match (not_before, expires_at) {
        (Some(from), Some(until)) if until <= from => Err(InputError::new(
            "not_before",
            "not_before_after_expiry",
            "not_before must come before expires_at (yours, or the one your token bounds it \
             by): the token would never be valid",
        )),
        _ => Ok(()),
    }
}

fn validate_rate_limit(
    request: RateLimitRequest,
    policy: &Policy<'_>,
) -> Result<RateLimitSetting, InputError> {
    match request {
        RateLimitRequest::Unchanged(setting) => Ok(setting),
        RateLimitRequest::Profile(name) => {
            let limit = policy.profile(&name).ok_or_else(|| InputError {
                valid: Some(policy.profile_names()),
                ..InputError::new(
                    "rate_limit",
                    "unknown_profile",
                    format!("unknown rate-limit profile {name:?}"),
                )
            })?;
            Ok(RateLimitSetting {
                profile: Some(name),
                per_minute: limit.per_minute,
                burst: limit.burst,
            })
        }
        RateLimitRequest::Custom { per_minute, burst } => {
            let per_minute = u32::try_from(per_minute).unwrap_or(u32::MAX);
            let burst = u32::try_from(burst).unwrap_or(u32::MAX);
            let limit = RateLimit::new(per_minute, burst)
                .map_err(|detail| InputError::new("rate_limit", "invalid_rate_limit", detail))?;
            Ok(RateLimitSetting {
                profile: None,
                per_minute: limit.per_minute,
                burst: limit.burst,
            })
        }
    }
}

fn validate_meta(meta: Option<Value>) -> Result<Option<Map<String, Value>>, InputError> {
    match meta {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => {
            let size = serde_json::to_vec(&map)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            if size > MAX_META_BYTES {
                return Err(InputError::new(
                    "meta",
                    "meta_too_large",
                    format!("meta is {size} bytes as JSON; at most {MAX_META_BYTES}"),
                ));
            }
            Ok(Some(map))
        }
        Some(_) => Err(InputError::new(
            "meta",
            "invalid_meta",
            "meta must be a JSON object",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(catalogue: &ScopeCatalogue) -> Policy<'_> {
        Policy {
            catalogue,
            now_ms: 1_000_000,
            max_lifetime_ms: None,
            default_rate_limit: None,
            extra_profiles: &[],
        }
    }

    fn named(name: &str) -> TokenDraft {
        TokenDraft {
            name: Some(name.into()),
            ..TokenDraft::default()
        }
    }

    #[test]
    fn a_rotation_keeps_the_token_and_remembers_its_newest_secrets() {
        let catalogue = ScopeCatalogue::default_catalogue();
        let settings =
            Settings::validate(named("ci"), &policy(&catalogue), Omitted::Create).unwrap();
        let mut token = TokenRecord {
            id: "tok_a".into(),
            hash: TokenHash([0; 32]),
            start: "tsr_a".into(),
            is_admin: false,
            settings,
            parent_id: Some("tok_p".into()),
            created_at: 1,
            updated_at: 1,
            revoked_at: None,
            last_used_at: Some(5),
            last_used_ip: None,
            use_count: 7,
            previous_secrets: Vec::new(),
            credits_balance: None,
        };
        for round in 1..=20u8 {
            let next = token.rotated(TokenHash([round; 32]), format!("tsr_{round}"), 1000, 10);
            assert_eq!(next.previous_secrets[0].hash, token.hash);
            assert_eq!(next.previous_secrets[0].valid_until, 1010);
            assert_eq!(
                (&next.id, next.use_count, &next.settings),
                (&token.id, 7, &token.settings)
            );
            token = next;
        }
        assert_eq!(
            token.previous_secrets.len(),
            REMEMBERED_SECRETS,
            "the newest only"
        );
        assert_eq!(token.previous_secrets[0].hash, TokenHash([19; 32]));
    }

    #[test]
    fn a_grace_period_is_zero_to_seven_days() {
        assert_eq!(grace_ms(None), Ok(0));
        assert_eq!(
            grace_ms(Some(MAX_GRACE_SECONDS)),
            Ok(MAX_GRACE_SECONDS * 1000)
        );
        for bad in [-1, MAX_GRACE_SECONDS + 1, i64::MAX] {
            let error = grace_ms(Some(bad)).unwrap_err();
            assert_eq!(
                (error.field, error.code),
                ("grace_seconds", "invalid_grace")
            );
        }
    }

    #[test]
    fn omitted_scopes_mean_full_access() {
        let catalogue = ScopeCatalogue::default_catalogue();
        let settings =
            Settings::validate(named("ci"), &policy(&catalogue), Omitted::Create).unwrap();
        assert_eq!(settings.scopes, ScopeGrant::Patterns(vec!["*".into()]));
        assert_eq!(settings.scope_set(&catalogue), catalogue.everything());
    }

    #[test]
    fn errors_name_the_field() {
        let catalogue = ScopeCatalogue::default_catalogue();
        let policy = policy(&catalogue);
        let cases = [
            (
                TokenDraft {
                    name: None,
                    ..TokenDraft::default()
                },
                "name",
            ),
            (
                TokenDraft {
                    scopes: Some(vec!["events:nuke".into()]),
                    ..named("x")
                },
                "scopes",
            ),
            (
                TokenDraft {
                    scopes: Some(vec![]),
                    access: Some("READ".into()),
                    ..named("x")
                },
                "scopes",
            ),
            (
                TokenDraft {
                    access: Some("read".into()),
                    ..named("x")
                },
                "access",
            ),
            (
                TokenDraft {
                    resources: Some(vec!["repo".into()]),
                    ..named("x")
                },
                "resources",
            ),
            (
                TokenDraft {
                    expiry: Some(ExpiryRequest::At("soon".into())),
                    ..named("x")
                },
                "expires_at",
            ),
            (
                TokenDraft {
                    expiry: Some(ExpiryRequest::In(0)),
                    ..named("x")
                },
                "expires_in",
            ),
            (
                TokenDraft {
                    rate_limit: Some(RateLimitRequest::Profile("fast".into())),
                    ..named("x")
                },
                "rate_limit",
            ),
            (
                TokenDraft {
                    rate_limit: Some(RateLimitRequest::Custom {
                        per_minute: 0,
                        burst: 1,
                    }),
                    ..named("x")
                },
                "rate_limit",
            ),
            (
                TokenDraft {
                    meta: Some(Value::from(3)),
                    ..named("x")
                },
                "meta",
            ),
            (named(&"x".repeat(101)), "name"),
        ];
        for (draft, field) in cases {
            let error = Settings::validate(draft.clone(), &policy, Omitted::Create).unwrap_err();
            assert_eq!(error.field, field, "{draft:?}: {error:?}");
        }
        let unknown = Settings::validate(
            TokenDraft {
                scopes: Some(vec!["events:nuke".into()]),
                ..named("x")
            },
            &policy,
            Omitted::Create,
        )
        .unwrap_err();
        assert!(
            unknown
                .valid
                .unwrap()
                .contains(&"events:publish".to_owned())
        );
    }

    #[test]
    fn max_lifetime_requires_and_caps_expiry() {
        let catalogue = ScopeCatalogue::default_catalogue();
        let mut policy = policy(&catalogue);
        policy.max_lifetime_ms = Some(3_600_000);
        assert_eq!(
            Settings::validate(named("x"), &policy, Omitted::Create)
                .unwrap_err()
                .code,
            "expiry_required"
        );
        let long = TokenDraft {
            expiry: Some(ExpiryRequest::In(7200)),
            ..named("x")
        };
        assert_eq!(
            Settings::validate(long, &policy, Omitted::Create)
                .unwrap_err()
                .code,
            "lifetime_too_long"
        );
        let fine = TokenDraft {
            expiry: Some(ExpiryRequest::In(60)),
            ..named("x")
        };
        assert_eq!(
            Settings::validate(fine, &policy, Omitted::Create)
                .unwrap()
                .expires_at,
            Some(1_060_000)
        );
    }

    #[test]
    fn a_draft_round_trips() {
        let catalogue = ScopeCatalogue::default_catalogue();
        let policy = policy(&catalogue);
        let draft = TokenDraft {
            description: Some("d".into()),
            access: Some("WRITE".into()),
            resources: Some(vec!["repo:1".into(), "repo:1".into()]),
            expiry: Some(ExpiryRequest::In(60)),
            rate_limit: Some(RateLimitRequest::Profile("restricted".into())),
            owner: Some("user-1".into()),
            meta: Some(serde_json::json!({"plan": "free"})),
            ..named("x")
        };
        let settings = Settings::validate(draft, &policy, Omitted::Create).unwrap();
        assert_eq!(
            settings.resources.view().texts(),
            Some(vec!["repo:1".into()])
        );
        let again = Settings::validate(settings.to_draft(), &policy, Omitted::Complete).unwrap();
        assert_eq!(again, settings);
    }
}
