//! Route rules: which requests to a guarded API need which scopes on which resource.
//!
//! A rule names methods, a path template (`/apps/{app_id}/events`, with an optional
//! trailing `{rest...}`), optional query parameters, and what the request needs:
//! scopes, and a resource built from the captured segments (`app:{app_id}`). The
//! first rule that matches wins; a request no rule matches gets the table's
//! [`Unmatched`] policy.
//!
//! Matching fails closed. The request target is checked before any rule sees it: a
//! `.` or `..` segment, an empty segment (`//`), an encoded `/` or `\`, a NUL, bad
//! percent-encoding or a path that is not UTF-8 is refused outright, so no spelling
//! of a path can match a rule that the path's plain form would not.

use std::borrow::Cow;
use std::collections::BTreeMap;

use compact_str::CompactString;
use serde::Deserialize;
use smallvec::SmallVec;

use crate::resource::Resource;
use crate::scope::{ScopeCatalogue, ScopeError, ScopeSet};
use crate::verify::Requirement;

/// Methods as a config file writes them: `"POST"`, `["GET", "HEAD"]` or `"*"`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum MethodSpec {
    One(String),
    List(Vec<String>),
}

/// One `[[route]]` of the config file, as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Defaults to every method.
    #[serde(default)]
    pub method: Option<MethodSpec>,
    pub path: String,
    /// Query parameters that must each appear exactly once with this value.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Scopes the token needs, all of them; none means any valid token.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The resource the request touches, e.g. `app:{app_id}`.
    #[serde(default)]
    pub resource: Option<String>,
    /// No token needed at all (health checks, public pages).
    #[serde(default)]
    pub public: bool,
    /// Lets a POST carry `_method` (in its query or form) through the gateway, for
    /// frameworks whose HTML forms send PUT and DELETE that way (Rails, Laravel).
    /// Refused otherwise: the upstream would run an allowed POST as another method.
    #[serde(default)]
    pub method_override: bool,
}

/// What to do with a request that no rule matches.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Unmatched {
    /// Refuse it (403): only what the rules name gets through.
    #[default]
    Deny,
    /// Let any valid token through, with no scope or resource needed.
    AnyValidToken,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Capture(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Capture(String),
}

#[derive(Clone, Debug)]
enum Methods {
    Any,
    Only(Vec<String>),
}

/// The segments a rule captured from a request, by name. Inline: a rule has few.
type Captures<'r, 't> = SmallVec<[(&'r str, Cow<'t, str>); 4]>;

/// A checked rule.
#[derive(Clone, Debug)]
pub struct Route {
    /// `route 2 (POST /apps/{app_id}/events)`: how errors and logs name it.
    pub label: String,
    methods: Methods,
    segments: Vec<Segment>,
    /// The name of a trailing `{name...}`, which takes the rest of the path.
    rest: Option<String>,
    query: Vec<(String, String)>,
    scopes: Option<ScopeSet>,
    resource: Option<Vec<Piece>>,
    public: bool,
    method_override: bool,
}

/// The checked rules, in order.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
    unmatched: Unmatched,
}

/// A request as the guard sees it: method, decoded path segments, decoded query.
/// Borrowed from the request where no decoding was needed, as in most requests:
/// this is parsed before every guarded request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestTarget<'a> {
    method: &'a str,
    /// Inline up to eight: the paths of real APIs are shorter, and an allocation
    /// here would be one per guarded request.
    segments: SmallVec<[Cow<'a, str>; 8]>,
    query: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// Why a request target was refused. The messages never quote the target: a path
/// or query may carry a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the method is not a valid HTTP method")]
    BadMethod,
    #[error("the URI is not an absolute path (it must start with `/`)")]
    NotAbsolute,
    #[error("the path has an empty segment (`//`)")]
    EmptySegment,
    #[error("the path has a `.` or `..` segment")]
    DotSegment,
    #[error("the URI has malformed percent-encoding")]
    BadEncoding,
    #[error("the path has an encoded `/` or `\\`, a backslash or a NUL")]
    HiddenSeparator,
    #[error("the URI is not UTF-8 once decoded")]
    NotUtf8,
    #[error("the path has a `;` (path parameters are not accepted)")]
    PathParameter,
    #[error("the URI has a `#` fragment, which a request never carries")]
    Fragment,
}

/// What a request needs, once the rules have been applied.
#[derive(Debug)]
pub enum Resolution<'a> {
    /// A public rule: no token needed.
    Public(&'a Route),
    /// A token meeting this requirement.
    Needs(&'a Route, Requirement),
    /// A rule matched but its resource, filled in from this request, is not a valid
    /// resource: refused, since no token can be checked against it.
    BadResource(&'a Route),
    /// No rule matched; the table's policy decides.
    Unmatched(Unmatched),
}

impl<'a> RequestTarget<'a> {
    /// Checks and decodes a method and a request target (`/path?query`, or an
    /// absolute `http://host/path?query`, whose path alone is kept).
    pub fn parse(method: &'a str, uri: &'a str) -> Result<Self, TargetError> {
        if !is_method(method) {
            return Err(TargetError::BadMethod);
        }
        let uri = strip_scheme_and_authority(uri);
        // Servers differ on what follows `#` in a request line: refuse it.
        if uri.contains('#') {
            return Err(TargetError::Fragment);
        }
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let Some(path) = path.strip_prefix('/') else {
            return Err(TargetError::NotAbsolute);
        };
        // A trailing slash is the same request to many servers: match `/x/` as `/x`.
        let path = path.strip_suffix('/').unwrap_or(path);
        let mut segments = SmallVec::new();
        for segment in path.split('/').filter(|_| !path.is_empty()) {
            if segment.is_empty() {
                return Err(TargetError::EmptySegment);
            }
            let decoded = decoded_segment(segment)?;
            if decoded == "." || decoded == ".." {
                return Err(TargetError::DotSegment);
            }
            segments.push(decoded);
        }
        let mut pairs = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            pairs.push((decode(key, true)?, decode(value, true)?));
        }
        Ok(Self {
            method,
            segments,
            query: pairs,
        })
    }

    pub fn method(&self) -> &str {
        self.method
    }
}

/// A path segment decoded, refused if decoding hides a separator in it, or if it
/// has a path parameter (`/admin;x` is `/admin` to some servers, `..;` is `..`).
fn decoded_segment(segment: &str) -> Result<Cow<'_, str>, TargetError> {
    // Most segments hold no byte that needs a closer look: one scan, taken as they are.
    if !segment
        .bytes()
        .any(|b| matches!(b, b'%' | b'\\' | b'\0' | b';'))
    {
        return Ok(Cow::Borrowed(segment));
    }
    let decoded = decode(segment, false)?;
    if decoded.contains(['/', '\\', '\0']) {
        return Err(TargetError::HiddenSeparator);
    }
    if decoded.contains(';') {
        return Err(TargetError::PathParameter);
    }
    Ok(decoded)
}

/// `http://host:port/path` -> `/path`; anything else unchanged.
fn strip_scheme_and_authority(uri: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = uri
            .get(..scheme.len())
            .filter(|s| s.eq_ignore_ascii_case(scheme))
            .and_then(|_| uri.get(scheme.len()..))
        {
            return rest.find(['/', '?']).map_or("/", |at| &rest[at..]);
        }
    }
    uri
}

fn is_method(method: &str) -> bool {
    // RFC 9110 token characters.
    !method.is_empty()
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Strict percent-decoding. Written here rather than taken from `percent-encoding`,
/// which passes malformed escapes through unchanged: a guard must refuse them, since
/// the server behind it may read them differently. In a query, `+` is a space.
fn decode(text: &str, plus_is_space: bool) -> Result<Cow<'_, str>, TargetError> {
    let needs_decoding = text.contains('%') || (plus_is_space && text.contains('+'));
    if !needs_decoding {
        return Ok(Cow::Borrowed(text));
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |at: usize| {
                    bytes
                        .get(at)
                        .and_then(|b| char::from(*b).to_digit(16))
                        .ok_or(TargetError::BadEncoding)
                };
                let value = hex(i + 1)? * 16 + hex(i + 2)?;
                out.push(u8::try_from(value).map_err(|_| TargetError::BadEncoding)?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| TargetError::NotUtf8)
}

impl RouteTable {
    /// Checks every rule; an error names the rule and what is wrong with it.
    pub fn new(
        specs: &[RouteSpec],
        unmatched: Unmatched,
        catalogue: &ScopeCatalogue,
    ) -> Result<Self, String> {
        let routes = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let label = format!("route {} ({} {})", i + 1, method_label(spec), spec.path);
                Route::new(spec, catalogue, label.clone()).map_err(|e| format!("{label}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { routes, unmatched })
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Applies the rules to a request: the first that matches decides.
    pub fn resolve(&self, target: &RequestTarget) -> Resolution<'_> {
        for route in &self.routes {
            if let Some(captures) = route.matches(target) {
                if route.public {
                    return Resolution::Public(route);
                }
                return match route.resource_for(&captures) {
                    Ok(resource) => Resolution::Needs(
                        route,
                        Requirement {
                            scopes: route.scopes.clone(),
                            resource,
                            ..Requirement::default()
                        },
                    ),
                    Err(()) => Resolution::BadResource(route),
                };
            }
        }
        Resolution::Unmatched(self.unmatched)
    }
}

fn method_label(spec: &RouteSpec) -> String {
    match &spec.method {
        None => "*".to_owned(),
        Some(MethodSpec::One(one)) => one.clone(),
        Some(MethodSpec::List(list)) => list.join("|"),
    }
}

impl Route {
    fn new(spec: &RouteSpec, catalogue: &ScopeCatalogue, label: String) -> Result<Self, String> {
        let methods = match &spec.method {
            None => Methods::Any,
            Some(MethodSpec::One(one)) if one == "*" => Methods::Any,
            Some(MethodSpec::One(one)) => Methods::Only(vec![checked_method(one)?]),
            Some(MethodSpec::List(list)) if list.is_empty() => {
                return Err("method list is empty; give methods or \"*\"".into());
            }
            Some(MethodSpec::List(list)) => Methods::Only(
                list.iter()
                    .map(|m| checked_method(m))
                    .collect::<Result<_, _>>()?,
            ),
        };
        let (segments, rest) = parse_template(&spec.path)?;
        let captures: Vec<&str> = segments
            .iter()
            .filter_map(|s| match s {
                Segment::Capture(name) => Some(name.as_str()),
                Segment::Literal(_) => None,
            })
            .chain(rest.as_deref())
            .collect();
        let resource = spec
            .resource
            .as_deref()
            .map(|text| parse_resource_template(text, &captures))
            .transpose()?;
        if spec.public && (!spec.scopes.is_empty() || resource.is_some()) {
            return Err("a public route takes no scopes and no resource".into());
        }
        let scopes = if spec.scopes.is_empty() {
            None
        } else {
            Some(
                catalogue
                    .compile_required(&spec.scopes)
                    .map_err(|e| match e {
                        ScopeError::Unknown { scope } => format!(
                            "unknown scope {scope:?}; the catalogue has: {}",
                            catalogue.names().join(", ")
                        ),
                        ScopeError::Malformed { scope } => format!(
                            "scope {scope:?} must be one category:action (a rule names what it needs, without wildcards)"
                        ),
                    })?,
            )
        };
        for (key, value) in &spec.query {
            if key.is_empty() || value.contains(['&', '#']) || key.contains(['&', '=', '#']) {
                return Err(format!(
                    "query parameter {key:?} = {value:?} is not a plain name and value"
                ));
            }
        }
        Ok(Self {
            label,
            methods,
            segments,
            rest,
            query: spec.query.clone().into_iter().collect(),
            scopes,
            resource,
            public: spec.public,
            method_override: spec.method_override,
        })
    }

    /// True when a POST may carry `_method` through (see [`RouteSpec::method_override`]).
    pub fn allows_method_override(&self) -> bool {
        self.method_override
    }

    /// The captured segments when the request matches this rule.
    fn matches<'t>(&self, target: &'t RequestTarget) -> Option<Captures<'_, 't>> {
        if let Methods::Only(list) = &self.methods
            && !list.iter().any(|method| method == target.method)
        {
            return None;
        }
        let fixed = self.segments.len();
        let fits = match self.rest {
            Some(_) => target.segments.len() >= fixed,
            None => target.segments.len() == fixed,
        };
        if !fits {
            return None;
        }
        let mut captures = Captures::new();
        for (segment, actual) in self.segments.iter().zip(&target.segments) {
            match segment {
                Segment::Literal(text) if text == actual => {}
                Segment::Capture(name) if !actual.is_empty() => {
                    captures.push((name.as_str(), actual.clone()));
                }
                _ => return None,
            }
        }
        if let Some(name) = &self.rest {
            captures.push((
                name.as_str(),
                Cow::Owned(target.segments[fixed..].join("/")),
            ));
        }
        for (key, value) in &self.query {
            let mut found = target.query.iter().filter(|(k, _)| k == key);
            // Exactly once: with two, the server behind may read either.
            match (found.next(), found.next()) {
                (Some((_, actual)), None) if actual == value => {}
                _ => return None,
            }
        }
        Some(captures)
    }

    fn resource_for(&self, captures: &[(&str, Cow<'_, str>)]) -> Result<Option<Resource>, ()> {
        let Some(pieces) = &self.resource else {
            return Ok(None);
        };
        // Inline up to 24 bytes, as most resources are: no allocation.
        let mut text = CompactString::default();
        for piece in pieces {
            match piece {
                Piece::Text(t) => text.push_str(t),
                Piece::Capture(name) => {
                    let value = captures
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.as_ref())
                        .ok_or(())?;
                    text.push_str(value);
                }
            }
        }
        Resource::parse_owned(text).map(Some).map_err(|_| ())
    }
}

fn checked_method(method: &str) -> Result<String, String> {
    if is_method(method) && method.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(method.to_owned())
    } else {
        Err(format!(
            "method {method:?} is not an upper-case HTTP method like \"GET\" (or \"*\" for all)"
        ))
    }
}

fn capture_name(segment: &str) -> Option<&str> {
    segment.strip_prefix('{')?.strip_suffix('}')
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn parse_template(path: &str) -> Result<(Vec<Segment>, Option<String>), String> {
    let Some(body) = path.strip_prefix('/') else {
        return Err("path must start with `/`".into());
    };
    // As for requests, `/x/` is `/x`.
    let body = body.strip_suffix('/').unwrap_or(body);
    let parts: Vec<&str> = body.split('/').filter(|_| !body.is_empty()).collect();
    let mut segments = Vec::new();
    let mut rest = None;
    let mut names: Vec<&str> = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if part.is_empty() {
            return Err("path has an empty segment (`//`)".into());
        }
        if *part == "." || *part == ".." {
            return Err("path has a `.` or `..` segment".into());
        }
        match capture_name(part) {
            Some(inner) => {
                let (name, is_rest) = match inner.strip_suffix("...") {
                    Some(name) => (name, true),
                    None => (inner, false),
                };
                if !is_name(name) {
                    return Err(format!(
                        "`{{{inner}}}` is not a capture: names are letters, digits and `_`"
                    ));
                }
                if names.contains(&name) {
                    return Err(format!("capture `{name}` appears twice"));
                }
                names.push(name);
                if is_rest {
                    if !last {
                        return Err(format!("`{{{name}...}}` must be the last segment"));
                    }
                    rest = Some(name.to_owned());
                } else {
                    segments.push(Segment::Capture(name.to_owned()));
                }
            }
            None if part.contains(['{', '}', '%', '?', '#', ';']) => {
                return Err(format!(
                    "segment {part:?} must be plain text or a whole `{{name}}` (no `{{`, `}}`, `%`, `?`, `#`, `;` inside)"
                ));
            }
            None => segments.push(Segment::Literal((*part).to_owned())),
        }
    }
    Ok((segments, rest))
}

fn parse_resource_template(text: &str, captures: &[&str]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut sample = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let (before, after) = rest.split_at(open);
        let close = after
            .find('}')
            .ok_or_else(|| format!("resource {text:?} has an unclosed `{{`"))?;
        let name = &after[1..close];
        if !captures.contains(&name) {
            return Err(format!(
                "resource {text:?} uses `{{{name}}}`, which the path does not capture"
            ));
        }
        if pieces.iter().any(|p| matches!(p, Piece::Capture(_))) {
            return Err(format!(
                "resource {text:?} may use one capture: with two, different paths could name the same resource"
            ));
        }
        if !before.is_empty() {
            pieces.push(Piece::Text(before.to_owned()));
        }
        pieces.push(Piece::Capture(name.to_owned()));
        sample.push_str(before);
        sample.push('x');
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    sample.push_str(rest);
    if rest.contains('}') || Resource::parse(&sample).is_err() || !text.contains(':') {
        return Err(format!(
            "resource {text:?} must look like `type:{{capture}}` or `type:id`"
        ));
    }
    if text
        .split(':')
        .next()
        .is_some_and(|kind| kind.contains('{'))
    {
        return Err(format!(
            "resource {text:?}: the type before `:` must be fixed text"
        ));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(toml_rules: &[RouteSpec]) -> RouteTable {
        RouteTable::new(
            toml_rules,
            Unmatched::Deny,
            &ScopeCatalogue::default_catalogue(),
        )
        .unwrap()
    }

    fn spec(method: &str, path: &str, scopes: &[&str], resource: Option<&str>) -> RouteSpec {
        RouteSpec {
            method: Some(MethodSpec::One(method.into())),
            path: path.into(),
            query: BTreeMap::new(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            resource: resource.map(str::to_owned),
            public: false,
            method_override: false,
        }
    }

    fn resolve<'a>(table: &'a RouteTable, method: &str, uri: &str) -> Resolution<'a> {
        table.resolve(&RequestTarget::parse(method, uri).unwrap())
    }

    fn resource_of(resolution: Resolution<'_>) -> Option<String> {
        match resolution {
            Resolution::Needs(_, need) => need.resource.map(|r| r.as_str().to_owned()),
            other => panic!("expected a match, got {other:?}"),
        }
    }

    #[test]
    fn captures_fill_the_resource_and_first_match_wins() {
        let t = table(&[
            spec(
                "POST",
                "/api/v1/apps/{app_id}/events",
                &["events:publish"],
                Some("app:{app_id}"),
            ),
            spec("*", "/api/v1/apps/{app_id}/{rest...}", &["app:read"], None),
        ]);
        assert_eq!(
            resource_of(resolve(&t, "POST", "/api/v1/apps/42/events?x=1")).as_deref(),
            Some("app:42")
        );
        match resolve(&t, "GET", "/api/v1/apps/42/events") {
            Resolution::Needs(route, _) => assert!(route.label.starts_with("route 2")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            resolve(&t, "GET", "/api/v1/apps"),
            Resolution::Unmatched(Unmatched::Deny)
        ));
        // `/events/` is `/events`: it cannot slip past rule 1 into rule 2.
        match resolve(&t, "POST", "/api/v1/apps/42/events/") {
            Resolution::Needs(route, _) => assert!(route.label.starts_with("route 1")),
            other => panic!("{other:?}"),
        }
        // Percent-encoded text matches its decoded form.
        assert_eq!(
            resource_of(resolve(&t, "POST", "/api/v1/apps/%34%32/events")).as_deref(),
            Some("app:42")
        );
    }

    #[test]
    fn query_parameters_must_appear_once_with_the_value() {
        let mut read = spec(
            "GET",
            "/repo/{id}/info/refs",
            &["repo:read"],
            Some("repo:{id}"),
        );
        read.query
            .insert("service".into(), "git-upload-pack".into());
        let t = table(&[read]);
        let ok = "/repo/r1/info/refs?service=git-upload-pack";
        assert!(matches!(resolve(&t, "GET", ok), Resolution::Needs(..)));
        for uri in [
            "/repo/r1/info/refs?service=git-receive-pack",
            "/repo/r1/info/refs",
            "/repo/r1/info/refs?service=git-upload-pack&service=git-receive-pack",
        ] {
            assert!(
                matches!(resolve(&t, "GET", uri), Resolution::Unmatched(_)),
                "{uri}"
            );
        }
    }

    #[test]
    fn path_tricks_are_refused_before_matching() {
        for (uri, error) in [
            ("/api/../admin", TargetError::DotSegment),
            ("/api/%2e%2E/admin", TargetError::DotSegment),
            ("/api/..;x/admin", TargetError::PathParameter),
            ("/api/admin;x", TargetError::PathParameter),
            ("/public#/../admin", TargetError::Fragment),
            ("/api/./x", TargetError::DotSegment),
            ("/api//x", TargetError::EmptySegment),
            ("/api/a%2Fb", TargetError::HiddenSeparator),
            ("/api/a%5cb", TargetError::HiddenSeparator),
            ("/api/a\\b", TargetError::HiddenSeparator),
            ("/api/a%00", TargetError::HiddenSeparator),
            ("/api/%zz", TargetError::BadEncoding),
            ("/api/%4", TargetError::BadEncoding),
            ("/api/%ff", TargetError::NotUtf8),
            ("api/x", TargetError::NotAbsolute),
            ("", TargetError::NotAbsolute),
        ] {
            assert_eq!(RequestTarget::parse("GET", uri), Err(error), "{uri}");
        }
        assert_eq!(
            RequestTarget::parse("G ET", "/"),
            Err(TargetError::BadMethod)
        );
        let absolute = RequestTarget::parse("GET", "http://example.test:8080/a/b?c=d").unwrap();
        assert_eq!(absolute.segments.as_slice(), ["a", "b"]);
        let trailing = RequestTarget::parse("GET", "/a/b/").unwrap();
        assert_eq!(trailing.segments.as_slice(), ["a", "b"]);
        assert!(
            RequestTarget::parse("GET", "/")
                .unwrap()
                .segments
                .is_empty()
        );
    }

    #[test]
    fn a_bad_capture_is_refused_not_widened() {
        let t = table(&[spec("GET", "/apps/{id}", &["app:read"], Some("app:{id}"))]);
        // A space is not allowed in a resource id.
        assert!(matches!(
            resolve(&t, "GET", "/apps/a%20b"),
            Resolution::BadResource(_)
        ));
    }

    #[test]
    fn invalid_rules_name_the_rule_and_the_fault() {
        let catalogue = ScopeCatalogue::default_catalogue();
        let cases: Vec<(RouteSpec, &str)> = vec![
            (spec("POST", "apps", &[], None), "start with `/`"),
            (spec("post", "/apps", &[], None), "upper-case"),
            (
                spec("GET", "/apps/{x}", &["nope:read"], None),
                "unknown scope",
            ),
            (
                spec("GET", "/apps/{x}", &["events:*"], None),
                "without wildcards",
            ),
            (
                spec("GET", "/apps/{x}", &[], Some("app:{y}")),
                "does not capture",
            ),
            (spec("GET", "/apps/{x...}/more", &[], None), "last segment"),
            (spec("GET", "/apps/{x}/{x}", &[], None), "twice"),
            (spec("GET", "/apps/a{x}", &[], None), "plain text"),
            (spec("GET", "/apps/{x}", &[], Some("{x}")), "type:"),
            (
                spec("GET", "/a/{x}/{y}", &[], Some("org:{x}.{y}")),
                "one capture",
            ),
        ];
        for (rule, expected) in cases {
            let error = RouteTable::new(
                &[spec("GET", "/ok", &[], None), rule],
                Unmatched::Deny,
                &catalogue,
            )
            .unwrap_err();
            assert!(error.starts_with("route 2 ("), "{error}");
            assert!(error.contains(expected), "{error} should say {expected}");
        }
    }

    #[test]
    fn methods_public_rules_and_the_unmatched_policy() {
        let mut health = spec("GET", "/healthz", &[], None);
        health.public = true;
        let mut both = spec("GET", "/things", &[], None);
        both.method = Some(MethodSpec::List(vec!["GET".into(), "HEAD".into()]));
        let t = RouteTable::new(
            &[health, both],
            Unmatched::AnyValidToken,
            &ScopeCatalogue::default_catalogue(),
        )
        .unwrap();
        assert!(matches!(
            resolve(&t, "GET", "/healthz"),
            Resolution::Public(_)
        ));
        assert!(matches!(
            resolve(&t, "HEAD", "/things"),
            Resolution::Needs(..)
        ));
        assert!(matches!(
            resolve(&t, "DELETE", "/things"),
            Resolution::Unmatched(Unmatched::AnyValidToken)
        ));
    }

    proptest! {
        /// Whatever the spelling, a target that parses is one a rule sees in plain
        /// form: no segment is empty, `.`, `..`, or holds a separator or a `;`.
        #[test]
        fn parsed_targets_are_canonical(uri in "/[a-z%0-9./\\\\;]{0,24}") {
            if let Ok(target) = RequestTarget::parse("GET", &uri) {
                for segment in &target.segments {
                    prop_assert!(!segment.is_empty());
                    prop_assert!(segment != "." && segment != "..");
                    prop_assert!(!segment.contains(['/', '\\', '\0', ';']));
                }
            }
        }
    }
}
