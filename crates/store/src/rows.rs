//! What the SQL backends share: how a token maps to columns and back, and how a listing
//! becomes one SQL query. Each backend only binds and reads values its own way.

use tessera_core::record::{RateLimitSetting, ScopeGrant, Settings, Status, TokenRecord};
use tessera_core::scope::Access;
use tessera_core::token::TokenHash;

use crate::{Change, ChangeSeq, ListQuery, StoreError};

/// The columns every token query reads, in [`RawRow`] order.
pub const COLUMNS: &str = "seq, id, hash, start, is_admin, name, description, scopes, access, \
     resources, rate_profile, rate_per_minute, rate_burst, expires_at, owner, meta, parent_id, \
     created_at, updated_at, revoked_at, last_used_at, use_count, change_seq";

/// A row as the database hands it over, before it is checked into a [`TokenRecord`].
pub struct RawRow {
    /// Listing order (insertion order), not the change sequence.
    pub seq: i64,
    pub id: String,
    pub hash: Vec<u8>,
    pub start: String,
    pub is_admin: bool,
    pub name: String,
    pub description: Option<String>,
    pub scopes: Option<String>,
    pub access: Option<String>,
    pub resources: Option<String>,
    pub rate_profile: Option<String>,
    pub rate_per_minute: Option<i64>,
    pub rate_burst: Option<i64>,
    pub expires_at: Option<i64>,
    pub owner: Option<String>,
    pub meta: Option<String>,
    pub parent_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub use_count: i64,
    pub change_seq: i64,
}

fn corrupt(what: &str) -> impl Fn(serde_json::Error) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

fn json_list(list: Option<&Vec<String>>) -> Option<String> {
    list.map(|items| serde_json::Value::from(items.clone()).to_string())
}

/// The columns a record's settings occupy that are not stored as they are.
pub struct SettingsColumns {
    pub scopes: Option<String>,
    pub access: Option<&'static str>,
    pub resources: Option<String>,
    pub meta: Option<String>,
    pub rate_profile: Option<String>,
    pub rate_per_minute: Option<i64>,
    pub rate_burst: Option<i64>,
}

impl SettingsColumns {
    pub fn of(settings: &Settings) -> Self {
        let (scopes, access) = match &settings.scopes {
            ScopeGrant::Patterns(patterns) => (json_list(Some(patterns)), None),
            ScopeGrant::Access(access) => (None, Some(access.as_str())),
        };
        let limit = settings.rate_limit.as_ref();
        Self {
            scopes,
            access,
            resources: json_list(settings.resources.as_ref()),
            meta: settings
                .meta
                .as_ref()
                .map(|m| serde_json::Value::Object(m.clone()).to_string()),
            rate_profile: limit.and_then(|l| l.profile.clone()),
            rate_per_minute: limit.map(|l| i64::from(l.per_minute)),
            rate_burst: limit.map(|l| i64::from(l.burst)),
        }
    }
}

impl RawRow {
    pub fn into_change(self) -> Result<Change, StoreError> {
        let seq = self.change_seq;
        Ok(Change {
            seq,
            record: self.into_record()?,
        })
    }

    pub fn into_record(self) -> Result<TokenRecord, StoreError> {
        let hash: [u8; 32] = self.hash.try_into().map_err(|_| {
            StoreError::Corrupt(format!("token {} has a hash of the wrong length", self.id))
        })?;
        let scopes = match (self.scopes, self.access) {
            (_, Some(access)) => ScopeGrant::Access(Access::parse(&access).ok_or_else(|| {
                StoreError::Corrupt(format!("token {} has access {access:?}", self.id))
            })?),
            (Some(json), None) => {
                ScopeGrant::Patterns(serde_json::from_str(&json).map_err(corrupt("scopes"))?)
            }
            (None, None) => ScopeGrant::Patterns(Vec::new()),
        };
        let resources = self
            .resources
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(corrupt("resources"))?;
        let meta = self
            .meta
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(corrupt("meta"))?;
        let number = |value: i64| {
            u32::try_from(value).map_err(|_| {
                StoreError::Corrupt(format!("token {} has a rate limit of {value}", self.id))
            })
        };
        let rate_limit = match (self.rate_per_minute, self.rate_burst) {
            (Some(per_minute), Some(burst)) => Some(RateLimitSetting {
                profile: self.rate_profile,
                per_minute: number(per_minute)?,
                burst: number(burst)?,
            }),
            (None, None) => None,
            _ => {
                // Half a limit must not read as "unlimited": fail closed.
                return Err(StoreError::Corrupt(format!(
                    "token {} has half a rate limit",
                    self.id
                )));
            }
        };
        Ok(TokenRecord {
            id: self.id,
            hash: TokenHash(hash),
            start: self.start,
            is_admin: self.is_admin,
            settings: Settings {
                name: self.name,
                description: self.description,
                scopes,
                resources,
                rate_limit,
                expires_at: self.expires_at,
                owner: self.owner,
                meta,
            },
            parent_id: self.parent_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
            use_count: u64::try_from(self.use_count).unwrap_or(0),
        })
    }
}

/// A value bound to a listing query.
pub enum SqlValue {
    Text(String),
    Int(i64),
}

/// How a backend spells what differs between SQL dialects.
pub struct Dialect {
    /// The `n`th (from 1) bound parameter.
    pub placeholder: fn(usize) -> String,
    /// True when `haystack` contains `needle` (both SQL expressions).
    pub contains: fn(&str, &str) -> String,
    /// A text parameter where its type cannot be inferred (`{}` is the placeholder).
    pub text_param: &'static str,
}

/// A listing as SQL: the statement, its bound values, newest first, one row more than
/// asked (that row only tells whether another page follows).
pub fn list_sql(query: &ListQuery, dialect: &Dialect) -> (String, Vec<SqlValue>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    let mut bind = |value: SqlValue| {
        values.push(value);
        (dialect.placeholder)(values.len())
    };
    let mut with = String::new();
    if let Some(root) = &query.descendants_of {
        let root = bind(SqlValue::Text(root.clone()));
        with = format!(
            "WITH RECURSIVE subtree(id) AS (SELECT id FROM tokens WHERE parent_id = {root} \
             UNION SELECT t.id FROM tokens t JOIN subtree s ON t.parent_id = s.id) "
        );
        conditions.push("id IN (SELECT id FROM subtree)".into());
    }
    match query.status {
        Some(Status::Revoked) => conditions.push("revoked_at IS NOT NULL".into()),
        Some(Status::Expired) => {
            let now = bind(SqlValue::Int(query.now_ms));
            conditions.push(format!("revoked_at IS NULL AND expires_at <= {now}"));
        }
        Some(Status::Active) => {
            let now = bind(SqlValue::Int(query.now_ms));
            conditions.push(format!(
                "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > {now})"
            ));
        }
        None => {}
    }
    if let Some(owner) = &query.owner {
        let owner = bind(SqlValue::Text(owner.clone()));
        conditions.push(format!("owner = {owner}"));
    }
    if let Some(name) = &query.name {
        let name = bind(SqlValue::Text(name.to_lowercase()));
        conditions.push((dialect.contains)("lower(name)", &name));
    }
    if let Some(resource) = &query.resource {
        let exact = bind(SqlValue::Text(resource.clone()));
        let kind = resource.split(':').next().unwrap_or_default();
        let any = bind(SqlValue::Text(format!("{kind}:*")));
        conditions.push(format!(
            "id IN (SELECT token_id FROM token_resources WHERE pattern = {exact} OR pattern = {any})"
        ));
    }
    if let Some(after) = query.after {
        let after = bind(SqlValue::Int(after));
        conditions.push(format!("seq < {after}"));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let fetch = bind(SqlValue::Int(i64::from(query.limit) + 1));
    let sql =
        format!("{with}SELECT {COLUMNS} FROM tokens {filter} ORDER BY seq DESC LIMIT {fetch}");
    (sql, values)
}

/// Turns rows read for a listing (one more than asked, at most) into a page.
pub fn into_page(
    rows: impl IntoIterator<Item = Result<RawRow, StoreError>>,
    limit: u32,
) -> Result<crate::ListPage, StoreError> {
    let mut tokens = Vec::new();
    let mut last_seq = None;
    let mut more = false;
    for row in rows {
        let row = row?;
        if tokens.len() == limit as usize {
            more = true;
            break;
        }
        last_seq = Some(row.seq);
        tokens.push(row.into_record()?);
    }
    Ok(crate::ListPage {
        tokens,
        next_cursor: if more { last_seq } else { None },
    })
}

/// Why a write that needs a live token was refused.
pub fn revoked(id: &str) -> StoreError {
    StoreError::Revoked(format!("token {id} is revoked"))
}

/// Why a write decided on an old copy was refused.
pub fn stale(id: &str) -> StoreError {
    StoreError::Stale(format!(
        "token {id} changed a moment ago (through another node)"
    ))
}

/// A token's state as a write's checks need it: its change number and whether it is
/// revoked.
pub struct Standing {
    pub seq: ChangeSeq,
    pub revoked: bool,
}

/// Checks a token a write depends on: it must exist, be live, and (when the write was
/// decided on a copy numbered `expected`) be unchanged since.
pub fn check_standing(
    id: &str,
    standing: Option<Standing>,
    expected: Option<ChangeSeq>,
) -> Result<(), StoreError> {
    let standing =
        standing.ok_or_else(|| StoreError::Conflict(format!("token {id} is not stored")))?;
    if standing.revoked {
        return Err(revoked(id));
    }
    match expected {
        Some(seq) if seq != standing.seq => Err(stale(id)),
        _ => Ok(()),
    }
}

/// Revokes a subtree and returns its rows: the root bound first, then the time, then
/// the change number.
pub fn revoke_subtree_sql(dialect: &Dialect) -> String {
    let p = dialect.placeholder;
    format!(
        "WITH RECURSIVE subtree(id) AS (SELECT {root} \
         UNION SELECT t.id FROM tokens t JOIN subtree s ON t.parent_id = s.id) \
         UPDATE tokens SET revoked_at = {at}, updated_at = {at}, change_seq = {seq} \
         WHERE id IN (SELECT id FROM subtree) AND revoked_at IS NULL RETURNING {COLUMNS}",
        root = dialect.text_param.replace("{}", &p(1)),
        at = p(2),
        seq = p(3),
    )
}
