//! What the SQL backends share: how a token maps to columns and back, and the SQL that
//! writes and lists tokens. Each backend only binds and reads values its own way.
//!
//! A token's columns are named here and nowhere else but the schema: in the lists
//! [`FIXED_COLUMNS`] and [`SETTINGS_COLUMNS`] for writing (each with a function giving
//! its values in the same order) and in [`RawRow::read`] for reading. The tests below
//! write a token through the lists and read it back by name, so the three cannot drift
//! apart. The schema is each backend's numbered migrations, then the columns of
//! [`ADDED_COLUMNS`] that the table lacks, which both backends add: a new nullable
//! field is a line there.

use tessera_core::fields::{Description, Owner, TokenName};
use tessera_core::network::Networks;
use tessera_core::record::{
    CreditsBalance, PreviousSecret, RateLimitSetting, ScopeGrant, Settings, Status, TokenRecord,
};
use tessera_core::resource::ResourceScope;
use tessera_core::scope::Access;
use tessera_core::token::TokenHash;

use crate::{Change, ChangeSeq, ListQuery, StoreError};

/// Columns a token gets when it is stored and that no edit rewrites (`seq`, the listing
/// order, is numbered by the database).
const FIXED_COLUMNS: &[&str] = &[
    "id",
    "is_admin",
    "parent_id",
    "created_at",
    "revoked_at",
    "last_used_at",
    "use_count",
    "credits_left",
    "credits_period",
    "credits_of",
    "last_used_ip",
];

/// Columns every write of a live token's settings sets: its secret's hash (a rotation
/// changes it), the settings, then the write's marks. [`settings_values`] gives their
/// values, in this order.
const SETTINGS_COLUMNS: &[&str] = &[
    "hash",
    "start",
    "previous_secrets",
    "name",
    "description",
    "scopes",
    "access",
    "resources",
    "rate_profile",
    "rate_per_minute",
    "rate_burst",
    "expires_at",
    "not_before",
    "owner",
    "meta",
    "max_descendants",
    "allowed_cidrs",
    "max_uses",
    "credits",
    "updated_at",
    "change_seq",
];

/// What a column added after the first schemas holds.
#[derive(Clone, Copy)]
pub enum ColumnKind {
    /// Milliseconds since the epoch.
    Millis,
    /// A count.
    Count,
    /// Text (JSON).
    Text,
}

/// Nullable columns added to `tokens` after the backends' own migrations: each
/// backend adds those its table lacks, after its numbered migrations, with the type
/// its dialect spells. Not numbered, so a backend's own next migration and these
/// never claim the same version.
const ADDED_COLUMNS: &[(&str, ColumnKind)] = &[
    ("not_before", ColumnKind::Millis),
    ("max_descendants", ColumnKind::Count),
    ("previous_secrets", ColumnKind::Text),
    ("allowed_cidrs", ColumnKind::Text),
    ("max_uses", ColumnKind::Count),
    ("credits", ColumnKind::Text),
    ("credits_left", ColumnKind::Count),
    ("credits_period", ColumnKind::Count),
    ("credits_of", ColumnKind::Millis),
    ("last_used_ip", ColumnKind::Text),
];

/// The columns of [`ADDED_COLUMNS`], each with the statement that adds it.
pub fn added_columns(dialect: &Dialect) -> impl Iterator<Item = (&'static str, String)> + '_ {
    ADDED_COLUMNS.iter().map(|&(name, kind)| {
        let kind = match kind {
            // Counts fit a u32, which either dialect's 64-bit integer holds.
            ColumnKind::Millis | ColumnKind::Count => dialect.millis_type,
            ColumnKind::Text => "TEXT",
        };
        (name, format!("ALTER TABLE tokens ADD COLUMN {name} {kind}"))
    })
}

/// The columns every token query reads: `seq`, then every column a token is stored with.
pub fn columns() -> String {
    std::iter::once("seq")
        .chain(FIXED_COLUMNS.iter().copied())
        .chain(SETTINGS_COLUMNS.iter().copied())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads one column of a result row by name, the backend's own way; [`RawRow::read`]
/// names the columns once for every backend.
pub trait ReadColumn {
    type Error;
    fn text(&self, name: &str) -> Result<String, Self::Error>;
    fn opt_text(&self, name: &str) -> Result<Option<String>, Self::Error>;
    fn int(&self, name: &str) -> Result<i64, Self::Error>;
    fn opt_int(&self, name: &str) -> Result<Option<i64>, Self::Error>;
    fn bytes(&self, name: &str) -> Result<Vec<u8>, Self::Error>;
    fn boolean(&self, name: &str) -> Result<bool, Self::Error>;
}

/// A row as the database hands it over, before it is checked into a [`TokenRecord`].
pub struct RawRow {
    /// Listing order (insertion order), not the change sequence.
    pub seq: i64,
    pub id: String,
    pub hash: Vec<u8>,
    pub start: String,
    /// JSON: `[{"hash": "<hex>", "valid_until": <ms>}]`, newest first.
    pub previous_secrets: Option<String>,
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
    pub not_before: Option<i64>,
    pub owner: Option<String>,
    pub meta: Option<String>,
    pub max_descendants: Option<i64>,
    /// Space-separated CIDRs; `NULL`: anywhere.
    pub allowed_cidrs: Option<String>,
    pub max_uses: Option<i64>,
    /// JSON: `{"remaining": n, "refill": {"amount": n, "every": "day"}, "set_at": ms}`.
    pub credits: Option<String>,
    pub credits_left: Option<i64>,
    pub credits_period: Option<i64>,
    pub credits_of: Option<i64>,
    pub parent_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub use_count: i64,
    pub change_seq: i64,
}

fn corrupt<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

/// The earlier secrets as stored: `None` for a token never rotated.
fn previous_secrets_json(previous: &[PreviousSecret]) -> Option<String> {
    if previous.is_empty() {
        return None;
    }
    let entries: Vec<serde_json::Value> = previous
        .iter()
        .map(|secret| {
            serde_json::json!({"hash": hex::encode(secret.hash.0), "valid_until": secret.valid_until})
        })
        .collect();
    Some(serde_json::Value::from(entries).to_string())
}

/// Reads what [`previous_secrets_json`] wrote.
fn read_previous_secrets(id: &str, json: Option<&str>) -> Result<Vec<PreviousSecret>, StoreError> {
    let Some(json) = json else {
        return Ok(Vec::new());
    };
    let bad = || StoreError::Corrupt(format!("token {id} has unreadable previous_secrets"));
    let entries: Vec<serde_json::Value> = serde_json::from_str(json).map_err(|_| bad())?;
    entries
        .iter()
        .map(|entry| {
            let text = entry["hash"].as_str().ok_or_else(bad)?;
            let valid_until = entry["valid_until"].as_i64().ok_or_else(bad)?;
            let mut hash = [0u8; 32];
            hex::decode_to_slice(text, &mut hash).map_err(|_| bad())?;
            Ok(PreviousSecret {
                hash: TokenHash(hash),
                valid_until,
            })
        })
        .collect()
}

fn json_list(list: Option<&Vec<String>>) -> Option<String> {
    list.map(|items| serde_json::Value::from(items.clone()).to_string())
}

/// What storing `record` puts in [`FIXED_COLUMNS`], in that order.
fn fixed_values(record: &TokenRecord) -> [SqlValue; FIXED_COLUMNS.len()] {
    [
        record.id.clone().into(),
        SqlValue::Bool(record.is_admin),
        record.parent_id.clone().into(),
        record.created_at.into(),
        record.revoked_at.into(),
        record.last_used_at.into(),
        i64::try_from(record.use_count).unwrap_or(i64::MAX).into(),
        record.credits_balance.map(|b| clamp(b.left)).into(),
        record.credits_balance.map(|b| b.period).into(),
        record.credits_balance.map(|b| b.of).into(),
        record.last_used_ip.map(|ip| ip.to_string()).into(),
    ]
}

/// A count as the databases' signed 64-bit integers hold it (caps stay far below).
fn clamp(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// What the write numbered `seq` puts in [`SETTINGS_COLUMNS`] for `record`, in that
/// order. Settings that are not plain values are stored as JSON text.
fn settings_values(record: &TokenRecord, seq: ChangeSeq) -> [SqlValue; SETTINGS_COLUMNS.len()] {
    let s = &record.settings;
    let (scopes, access) = match &s.scopes {
        ScopeGrant::Patterns(patterns) => (json_list(Some(patterns)), None),
        ScopeGrant::Access(access) => (None, Some(access.as_str().to_owned())),
    };
    let limit = s.rate_limit.as_ref();
    [
        SqlValue::Bytes(record.hash.0.to_vec()),
        record.start.clone().into(),
        previous_secrets_json(&record.previous_secrets).into(),
        s.name.to_string().into(),
        s.description.clone().map(String::from).into(),
        scopes.into(),
        access.into(),
        json_list(s.resources.view().texts().as_ref()).into(),
        limit.and_then(|l| l.profile.clone()).into(),
        limit.map(|l| i64::from(l.per_minute)).into(),
        limit.map(|l| i64::from(l.burst)).into(),
        s.expires_at.into(),
        s.not_before.into(),
        s.owner.clone().map(String::from).into(),
        s.meta
            .as_ref()
            .map(|m| serde_json::Value::Object(m.clone()).to_string())
            .into(),
        s.max_descendants.map(i64::from).into(),
        (!s.allowed_cidrs.is_anywhere())
            .then(|| s.allowed_cidrs.to_string())
            .into(),
        s.max_uses.map(clamp).into(),
        s.credits
            .and_then(|credits| serde_json::to_string(&credits).ok())
            .into(),
        record.updated_at.into(),
        seq.into(),
    ]
}

/// The placeholder of column `name`, bound as parameter `n`: the change number's
/// spelled as the dialect's [`Dialect::change_number`] says.
fn placeholder_of(name: &str, n: usize, dialect: &Dialect) -> String {
    let placeholder = (dialect.placeholder)(n);
    if name == "change_seq" {
        dialect.change_number.replace("{}", &placeholder)
    } else {
        placeholder
    }
}

/// A new token's columns, their placeholders and their values, in one order.
fn insert_parts(
    record: &TokenRecord,
    seq: ChangeSeq,
    dialect: &Dialect,
) -> (String, String, Vec<SqlValue>) {
    let names: Vec<&str> = FIXED_COLUMNS
        .iter()
        .chain(SETTINGS_COLUMNS)
        .copied()
        .collect();
    let placeholders: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(index, name)| placeholder_of(name, index + 1, dialect))
        .collect();
    let values = fixed_values(record)
        .into_iter()
        .chain(settings_values(record, seq))
        .collect();
    (names.join(", "), placeholders.join(", "), values)
}

/// Stores a new token as the write numbered `seq`: the statement and its bound values.
pub fn insert_sql(
    record: &TokenRecord,
    seq: ChangeSeq,
    dialect: &Dialect,
) -> (String, Vec<SqlValue>) {
    let (columns, placeholders, values) = insert_parts(record, seq, dialect);
    let sql = format!("INSERT INTO tokens ({columns}) VALUES ({placeholders})");
    (sql, values)
}

/// Stores a token as [`insert_sql`] does, but only if its parent is live and, when
/// `parent_seq` is given, still as the write numbered that left it: the statement
/// (the record's values, then the parent's id and number) inserts no row otherwise.
/// The check is in the statement, so that a group of writes can be sent at once
/// without waiting for each check's answer.
///
/// PostgreSQL's only (SQLite writes one transaction at a time): the check takes a
/// `KEY SHARE` lock on the parent, which a purge of dead tokens (`FOR UPDATE`)
/// waits for, or makes the check wait and then find no parent.
pub fn insert_under_parent_sql(
    record: &TokenRecord,
    parent: &str,
    parent_seq: Option<ChangeSeq>,
    seq: ChangeSeq,
    dialect: &Dialect,
) -> (String, Vec<SqlValue>) {
    let (columns, placeholders, mut values) = insert_parts(record, seq, dialect);
    let p = dialect.placeholder;
    let sql = format!(
        "INSERT INTO tokens ({columns}) SELECT {placeholders} WHERE EXISTS (SELECT 1 FROM tokens p \
         WHERE p.id = {id} AND p.revoked_at IS NULL AND p.change_seq = COALESCE({at}, p.change_seq) \
         FOR KEY SHARE)",
        id = p(values.len() + 1),
        at = p(values.len() + 2),
    );
    values.push(SqlValue::Text(parent.to_owned()));
    values.push(parent_seq.map_or(SqlValue::NullInt, SqlValue::Int));
    (sql, values)
}

/// Rewrites a live token's settings as the write numbered `seq`: the statement and its
/// bound values. It changes no row if the token is revoked.
pub fn update_sql(
    record: &TokenRecord,
    seq: ChangeSeq,
    dialect: &Dialect,
) -> (String, Vec<SqlValue>) {
    let p = dialect.placeholder;
    // The id is bound first, the settings after it.
    let assignments: Vec<String> = SETTINGS_COLUMNS
        .iter()
        .enumerate()
        .map(|(index, name)| format!("{name} = {}", placeholder_of(name, index + 2, dialect)))
        .collect();
    let sql = format!(
        "UPDATE tokens SET {} WHERE id = {} AND revoked_at IS NULL",
        assignments.join(", "),
        p(1)
    );
    let values = std::iter::once(record.id.clone().into())
        .chain(settings_values(record, seq))
        .collect();
    (sql, values)
}

impl RawRow {
    /// Reads a row of the token columns ([`columns`]), each by its name.
    pub fn read<R: ReadColumn + ?Sized>(row: &R) -> Result<Self, R::Error> {
        Ok(Self {
            seq: row.int("seq")?,
            id: row.text("id")?,
            hash: row.bytes("hash")?,
            start: row.text("start")?,
            previous_secrets: row.opt_text("previous_secrets")?,
            is_admin: row.boolean("is_admin")?,
            name: row.text("name")?,
            description: row.opt_text("description")?,
            scopes: row.opt_text("scopes")?,
            access: row.opt_text("access")?,
            resources: row.opt_text("resources")?,
            rate_profile: row.opt_text("rate_profile")?,
            rate_per_minute: row.opt_int("rate_per_minute")?,
            rate_burst: row.opt_int("rate_burst")?,
            expires_at: row.opt_int("expires_at")?,
            not_before: row.opt_int("not_before")?,
            owner: row.opt_text("owner")?,
            meta: row.opt_text("meta")?,
            max_descendants: row.opt_int("max_descendants")?,
            allowed_cidrs: row.opt_text("allowed_cidrs")?,
            max_uses: row.opt_int("max_uses")?,
            credits: row.opt_text("credits")?,
            credits_left: row.opt_int("credits_left")?,
            credits_period: row.opt_int("credits_period")?,
            credits_of: row.opt_int("credits_of")?,
            parent_id: row.opt_text("parent_id")?,
            created_at: row.int("created_at")?,
            updated_at: row.int("updated_at")?,
            revoked_at: row.opt_int("revoked_at")?,
            last_used_at: row.opt_int("last_used_at")?,
            last_used_ip: row.opt_text("last_used_ip")?,
            use_count: row.int("use_count")?,
            change_seq: row.int("change_seq")?,
        })
    }

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
        let resources: Option<Vec<String>> = self
            .resources
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(corrupt("resources"))?;
        let resources = ResourceScope::parse(resources.as_deref()).map_err(corrupt("resources"))?;
        let name = TokenName::parse(Some(self.name)).map_err(corrupt("name"))?;
        let description = Description::parse_optional(self.description, "description")
            .map_err(corrupt("description"))?;
        let owner = Owner::parse_optional(self.owner, "owner").map_err(corrupt("owner"))?;
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
        let max_descendants = self
            .max_descendants
            .map(|count| {
                u32::try_from(count).map_err(|_| {
                    StoreError::Corrupt(format!("token {} has max_descendants {count}", self.id))
                })
            })
            .transpose()?;
        let previous_secrets = read_previous_secrets(&self.id, self.previous_secrets.as_deref())?;
        // A list that does not read back must not read as "anywhere": fail closed.
        let allowed_cidrs = match &self.allowed_cidrs {
            None => Networks::anywhere(),
            Some(text) => {
                let entries: Vec<&str> = text.split_whitespace().collect();
                Networks::parse(&entries).map_err(|_| {
                    StoreError::Corrupt(format!("token {} has unreadable allowed_cidrs", self.id))
                })?
            }
        };
        let count = |what: &str, value: i64| {
            u64::try_from(value)
                .map_err(|_| StoreError::Corrupt(format!("token {} has {what} {value}", self.id)))
        };
        let max_uses = self
            .max_uses
            .map(|most| count("max_uses", most))
            .transpose()?;
        // Unreadable credits must not read as "no cap": fail closed.
        let credits = self
            .credits
            .as_deref()
            .map(|text| {
                serde_json::from_str(text).map_err(|_| {
                    StoreError::Corrupt(format!("token {} has unreadable credits", self.id))
                })
            })
            .transpose()?;
        let credits_balance = match (self.credits_left, self.credits_period, self.credits_of) {
            (Some(left), Some(period), Some(of)) => Some(CreditsBalance {
                left: count("credits_left", left)?,
                period,
                of,
            }),
            _ => None,
        };
        Ok(TokenRecord {
            credits_balance,
            previous_secrets,
            id: self.id,
            hash: TokenHash(hash),
            start: self.start,
            is_admin: self.is_admin,
            settings: Settings {
                name,
                description,
                scopes,
                resources,
                rate_limit,
                expires_at: self.expires_at,
                not_before: self.not_before,
                owner,
                meta,
                max_descendants,
                allowed_cidrs,
                max_uses,
                credits,
            },
            parent_id: self.parent_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
            // Only shown, never decides anything: one that does not read is left out.
            last_used_ip: self.last_used_ip.and_then(|ip| ip.parse().ok()),
            use_count: u64::try_from(self.use_count).unwrap_or(0),
        })
    }
}

/// A value bound to a statement; each backend binds it its own way.
#[derive(Debug, PartialEq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
    Bool(bool),
    Bytes(Vec<u8>),
    /// NULL in a text column. NULLs carry their column's kind because PostgreSQL
    /// checks a parameter's type even when its value is NULL.
    NullText,
    /// NULL in a number column.
    NullInt,
}

impl From<String> for SqlValue {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<i64> for SqlValue {
    fn from(number: i64) -> Self {
        Self::Int(number)
    }
}

impl From<Option<String>> for SqlValue {
    fn from(text: Option<String>) -> Self {
        text.map_or(Self::NullText, Self::Text)
    }
}

impl From<Option<i64>> for SqlValue {
    fn from(number: Option<i64>) -> Self {
        number.map_or(Self::NullInt, Self::Int)
    }
}

/// How a backend spells what differs between SQL dialects.
pub struct Dialect {
    /// The `n`th (from 1) bound parameter.
    pub placeholder: fn(usize) -> String,
    /// True when `haystack` contains `needle` (both SQL expressions).
    pub contains: fn(&str, &str) -> String,
    /// A text parameter where its type cannot be inferred (`{}` is the placeholder).
    pub text_param: &'static str,
    /// The column type of a time in milliseconds since the epoch.
    pub millis_type: &'static str,
    /// True when the expression before it is one of the rows of the subquery `{}`,
    /// spelled so that the planner looks each up by its index.
    pub in_subquery: &'static str,
    /// The recursive step of a walk down the tree: the children of the ids in
    /// `subtree`, spelled so that each is looked up by the `parent_id` index.
    pub children_in_subtree: &'static str,
    /// The change number a write stores, from the value bound for it (`{}`): that
    /// value itself (SQLite), or the database's own reckoning from it (PostgreSQL,
    /// where a group's numbers are taken inside its transaction).
    pub change_number: &'static str,
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
             UNION {children}) ",
            children = dialect.children_in_subtree,
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
                "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > {now}) \
                 AND (not_before IS NULL OR not_before <= {now})"
            ));
        }
        Some(Status::Pending) => {
            let now = bind(SqlValue::Int(query.now_ms));
            conditions.push(format!(
                "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > {now}) \
                 AND not_before > {now}"
            ));
        }
        None => {}
    }
    if let Some(within) = query.expiring_within_ms {
        let now = bind(SqlValue::Int(query.now_ms));
        let until = bind(SqlValue::Int(query.now_ms.saturating_add(within)));
        conditions.push(format!(
            "revoked_at IS NULL AND expires_at > {now} AND expires_at <= {until}"
        ));
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
    let sql = format!(
        "{with}SELECT {columns} FROM tokens {filter} ORDER BY seq DESC LIMIT {fetch}",
        columns = columns()
    );
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
        "token {id} changed a moment ago (through another node, or by a write made at the same time)"
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
///
/// `+revoked_at`: the unary plus keeps the condition from choosing an index. With
/// `tokens_revoked_at` (retention's) SQLite walked every live token through it, the
/// whole table, rather than look up the subtree's few ids: revocations fell from
/// 13,475 to 187 a second (`scale writes`, 32 clients). PostgreSQL reads it alike.
pub fn revoke_subtree_sql(dialect: &Dialect) -> String {
    let p = dialect.placeholder;
    format!(
        "WITH RECURSIVE subtree(id) AS (SELECT {root} UNION {children}) \
         UPDATE tokens SET revoked_at = {at}, updated_at = {at}, change_seq = {seq} \
         WHERE id {members} AND +revoked_at IS NULL RETURNING {columns}",
        columns = columns(),
        members = dialect.in_subquery.replace("{}", "SELECT id FROM subtree"),
        children = dialect.children_in_subtree,
        root = dialect.text_param.replace("{}", &p(1)),
        at = p(2),
        seq = dialect.change_number.replace("{}", &p(3)),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    /// A row as a backend would read it back after [`insert_sql`]: the bound values
    /// under the column names, and `seq`.
    struct Stored(HashMap<String, SqlValue>);

    impl Stored {
        fn of(record: &TokenRecord, seq: ChangeSeq) -> Self {
            let (sql, values) = insert_sql(record, seq, &TEST_DIALECT);
            let names = sql
                .split_once('(')
                .and_then(|(_, rest)| rest.split_once(')'))
                .map(|(names, _)| names)
                .unwrap();
            assert!(sql.ends_with(&format!("${})", values.len())), "{sql}");
            let mut row: HashMap<String, SqlValue> =
                names.split(", ").map(String::from).zip(values).collect();
            assert_eq!(row.len(), FIXED_COLUMNS.len() + SETTINGS_COLUMNS.len());
            row.insert("seq".into(), SqlValue::Int(99));
            Self(row)
        }

        fn value(&self, name: &str) -> Result<&SqlValue, String> {
            assert!(
                columns().split(", ").any(|column| column == name),
                "{name} is read but not selected"
            );
            self.0.get(name).ok_or_else(|| format!("no column {name}"))
        }
    }

    impl ReadColumn for Stored {
        type Error = String;
        fn text(&self, name: &str) -> Result<String, String> {
            match self.value(name)? {
                SqlValue::Text(text) => Ok(text.clone()),
                other => Err(format!("{name} is {other:?}")),
            }
        }
        fn opt_text(&self, name: &str) -> Result<Option<String>, String> {
            match self.value(name)? {
                SqlValue::NullText => Ok(None),
                _ => self.text(name).map(Some),
            }
        }
        fn int(&self, name: &str) -> Result<i64, String> {
            match self.value(name)? {
                SqlValue::Int(number) => Ok(*number),
                other => Err(format!("{name} is {other:?}")),
            }
        }
        fn opt_int(&self, name: &str) -> Result<Option<i64>, String> {
            match self.value(name)? {
                SqlValue::NullInt => Ok(None),
                _ => self.int(name).map(Some),
            }
        }
        fn bytes(&self, name: &str) -> Result<Vec<u8>, String> {
            match self.value(name)? {
                SqlValue::Bytes(bytes) => Ok(bytes.clone()),
                other => Err(format!("{name} is {other:?}")),
            }
        }
        fn boolean(&self, name: &str) -> Result<bool, String> {
            match self.value(name)? {
                SqlValue::Bool(flag) => Ok(*flag),
                other => Err(format!("{name} is {other:?}")),
            }
        }
    }

    const TEST_DIALECT: Dialect = Dialect {
        placeholder: |n| format!("${n}"),
        contains: |haystack, needle| format!("strpos({haystack}, {needle}) > 0"),
        text_param: "{}",
        millis_type: "BIGINT",
        in_subquery: "IN ({})",
        children_in_subtree: "SELECT t.id FROM tokens t JOIN subtree s ON t.parent_id = s.id",
        change_number: "{}",
    };

    /// Every field set, and no two numbers alike, so a value written under the wrong
    /// column reads back wrong.
    fn full() -> TokenRecord {
        TokenRecord {
            id: "full".into(),
            hash: TokenHash([7; 32]),
            start: "tsr_full".into(),
            is_admin: true,
            settings: Settings {
                name: "Full".try_into().unwrap(),
                description: Some(Description::parse("every field".into(), "description").unwrap()),
                scopes: ScopeGrant::Patterns(vec!["repo:read".into()]),
                resources: ResourceScope::parse(Some(&["repo:a".into()])).unwrap(),
                rate_limit: Some(RateLimitSetting {
                    profile: Some("slow".into()),
                    per_minute: 11,
                    burst: 12,
                }),
                expires_at: Some(13),
                not_before: Some(19),
                owner: Some(Owner::parse("alice".into(), "owner").unwrap()),
                meta: json!({"k": 1}).as_object().cloned(),
                max_descendants: Some(21),
                allowed_cidrs: tessera_core::network::Networks::parse(&[
                    "10.0.0.0/8",
                    "2001:db8::/32",
                ])
                .unwrap(),
                max_uses: Some(22),
                credits: Some(tessera_core::usage::Credits {
                    remaining: 23,
                    refill: Some(tessera_core::usage::Refill {
                        amount: 24,
                        every: tessera_core::usage::Every::Day,
                    }),
                    set_at: 25,
                }),
            },
            parent_id: Some("parent".into()),
            created_at: 14,
            updated_at: 15,
            revoked_at: Some(16),
            last_used_at: Some(17),
            last_used_ip: Some("203.0.113.7".parse().unwrap()),
            use_count: 18,
            previous_secrets: Vec::new(),
            credits_balance: Some(CreditsBalance {
                left: 26,
                period: 27,
                of: 25,
            }),
        }
    }

    fn sparse() -> TokenRecord {
        let mut record = full();
        record.is_admin = false;
        record.settings = Settings {
            name: "Sparse".try_into().unwrap(),
            description: None,
            scopes: ScopeGrant::Access(Access::Write),
            resources: ResourceScope::All,
            rate_limit: None,
            expires_at: None,
            not_before: None,
            owner: None,
            meta: None,
            max_descendants: None,
            allowed_cidrs: Networks::anywhere(),
            max_uses: None,
            credits: None,
        };
        record.credits_balance = None;
        record.parent_id = None;
        record.revoked_at = None;
        record.last_used_at = None;
        record.last_used_ip = None;
        record
    }

    #[test]
    fn what_is_written_reads_back_by_name() {
        for record in [full(), sparse()] {
            let raw = RawRow::read(&Stored::of(&record, 20)).unwrap();
            assert_eq!((raw.seq, raw.change_seq), (99, 20));
            assert_eq!(raw.into_record().unwrap(), record);
        }
    }

    #[test]
    fn networks_that_do_not_read_back_are_corrupt_not_anywhere() {
        let mut stored = Stored::of(&full(), 20);
        stored.0.insert(
            "allowed_cidrs".into(),
            SqlValue::Text("10.0.0.0/8 garbage".into()),
        );
        let read = RawRow::read(&stored).unwrap().into_record();
        assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
    }

    #[test]
    fn an_edit_writes_what_an_insert_writes_under_the_same_names() {
        let record = full();
        let stored = Stored::of(&record, 20);
        let (sql, values) = update_sql(&record, 20, &TEST_DIALECT);
        let (assignments, filter) = sql
            .strip_prefix("UPDATE tokens SET ")
            .and_then(|rest| rest.split_once(" WHERE "))
            .unwrap();
        assert_eq!(filter, "id = $1 AND revoked_at IS NULL");
        assert_eq!(values[0], SqlValue::Text(record.id.clone()));
        let assignments: Vec<&str> = assignments.split(", ").collect();
        assert_eq!(assignments.len(), SETTINGS_COLUMNS.len());
        assert_eq!(values.len(), assignments.len() + 1);
        for assignment in assignments {
            let (name, placeholder) = assignment.split_once(" = $").unwrap();
            let index: usize = placeholder.parse().unwrap();
            assert_eq!(&values[index - 1], stored.value(name).unwrap(), "{name}");
        }
    }
}
