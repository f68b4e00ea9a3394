//! What the handlers' `#[utoipa::path]` attributes leave out of `/openapi.json`
//! and every operation has alike, added in one place: its path parameters, the
//! errors any call can meet, and the media type every error is written in.

use tessera_core::scope::ScopeCatalogue;
use utoipa::Modify;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, Response, ResponseBuilder};

use crate::http::problem::PROBLEM_JSON;

/// Completes every operation of the document (see the module's doc).
pub struct Contract;

/// What any call may be answered with, whatever it is: a malformed request, no or
/// an unusable credential, a missing scope, a spent rate limit or failed-
/// authentication budget, a store that does not answer.
const ANY_CALL: [(&str, &str); 5] = [
    (
        "400",
        "The request is malformed: the problem says which part and how to fix it.",
    ),
    (
        "401",
        "No credential, or one that does not work (unknown, expired, revoked).",
    ),
    (
        "403",
        "The token lacks a scope, a resource or the right to this token.",
    ),
    (
        "429",
        "The token's rate limit, or this address's budget of failed authentications, is spent: see `Retry-After`.",
    ),
    ("503", "The store does not answer; retry later."),
];

/// What a call with a body may be answered with besides.
const WITH_BODY: [(&str, &str); 2] = [
    ("413", "The body is larger than 64 KiB."),
    (
        "415",
        "The body is not sent as the media type the call takes.",
    ),
];

impl Modify for Contract {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let names = path_parameters(path);
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                declare_path_parameters(operation, &names);
                // Health, readiness, metrics and this document take no input and
                // declare their own answers.
                if operation
                    .tags
                    .as_ref()
                    .is_some_and(|tags| tags.iter().any(|tag| tag == "operations"))
                {
                    complete_responses(operation, &[]);
                    continue;
                }
                let has_body = operation.request_body.is_some();
                let mut errors: Vec<(&str, &str)> = ANY_CALL.to_vec();
                if has_body {
                    errors.extend(WITH_BODY);
                }
                if !names.is_empty() {
                    errors.push(("404", "No such token among those the caller may see."));
                }
                complete_responses(operation, &errors);
                if let Some(body) = &mut operation.request_body {
                    require_body(body);
                }
            }
        }
    }
}

/// The `{name}`s of a path template, in order.
fn path_parameters(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(str::to_owned)
        .collect()
}

/// Declares each of `names` as a required string in the path, unless the handler did.
fn declare_path_parameters(operation: &mut Operation, names: &[String]) {
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    for name in names {
        let declared = parameters
            .iter()
            .any(|p| p.name == *name && p.parameter_in == ParameterIn::Path);
        if !declared {
            parameters.push(path_parameter(name));
        }
    }
}

fn path_parameter(name: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .min_length(Some(1)),
        ))
        .build()
}

/// Adds the errors `errors` names that the handler did not, and writes every error
/// response (4xx and 5xx) as `application/problem+json` with the problem's schema.
fn complete_responses(operation: &mut Operation, errors: &[(&str, &str)]) {
    let responses = &mut operation.responses.responses;
    for (status, description) in errors {
        responses
            .entry((*status).to_owned())
            .or_insert_with(|| RefOr::T(ResponseBuilder::new().description(*description).build()));
    }
    for (status, response) in responses.iter_mut() {
        if !status.starts_with('4') && !status.starts_with('5') {
            continue;
        }
        if let RefOr::T(response) = response {
            as_problem(response);
        }
    }
}

/// An error's body: the problem, in the media type tessera writes it in.
fn as_problem(response: &mut Response) {
    response.content.clear();
    response.content.insert(
        PROBLEM_JSON.to_owned(),
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    );
}

/// States the deployment's scopes, which the document as generated leaves as any
/// text: `RequiredScope` (what a request may need: a scope of the catalogue) and
/// `ScopePattern` (what a token may be granted: those, `category:*` and `*`).
pub fn with_catalogue(openapi: &mut OpenApi, catalogue: &ScopeCatalogue) {
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    let names: Vec<String> = catalogue
        .defs()
        .iter()
        .map(|def| def.name.clone())
        .collect();
    let mut patterns = names.clone();
    for name in &names {
        if let Some((category, _)) = name.split_once(':') {
            let wildcard = format!("{category}:*");
            if !patterns.contains(&wildcard) {
                patterns.push(wildcard);
            }
        }
    }
    patterns.push("*".to_owned());
    for (schema, values, description) in [
        (
            "RequiredScope",
            names,
            "One scope of this deployment's catalogue.",
        ),
        (
            "ScopePattern",
            patterns,
            "A scope of this deployment's catalogue, a whole category (`category:*`) or everything (`*`).",
        ),
    ] {
        let text = ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(description))
            .enum_values(Some(values))
            .build();
        components
            .schemas
            .insert(schema.to_owned(), RefOr::T(Schema::Object(text)));
    }
}

/// The rules that tie one field of a body to another, which the generated schemas
/// cannot state: written into the document as JSON Schema (`not`, `oneOf`), with
/// the deployment's rate-limit profiles.
pub fn with_field_rules(document: &mut serde_json::Value, profiles: &[String]) {
    use serde_json::json;
    let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    // Either of each pair, never both (`null` is as good as absent, but for an
    // edit's `expires_at`, where it means "never"): `expires_at` or `expires_in`,
    // `scopes` or `access`.
    let scopes_or_access = json!({"not": {"required": ["scopes", "access"],
        "properties": {"scopes": {"type": "array"}, "access": {"type": "string"}}}});
    let create_expiry = json!({"not": {"required": ["expires_at", "expires_in"],
        "properties": {"expires_at": {"type": "string"}, "expires_in": {"type": "integer"}}}});
    let edit_expiry = json!({"not": {"required": ["expires_at", "expires_in"],
        "properties": {"expires_in": {"type": "integer"}}}});
    // Texts as the server takes them: timestamps in RFC 3339, free text without NUL.
    let texts = [
        ("expires_at", json!({"format": "date-time"})),
        ("not_before", json!({"format": "date-time"})),
        (
            "description",
            json!({"maxLength": 1000, "pattern": "^[^\\x00]*$"}),
        ),
        ("owner", json!({"maxLength": 200, "pattern": "^[^\\x00]*$"})),
        ("access", json!({"enum": ["READ", "WRITE", "ADMIN", null]})),
    ];
    for (body, expiry) in [
        ("CreateTokenRequest", create_expiry),
        ("UpdateTokenRequest", edit_expiry),
    ] {
        let Some(schema) = schemas
            .get_mut(body)
            .and_then(serde_json::Value::as_object_mut)
        else {
            continue;
        };
        schema.insert("allOf".to_owned(), json!([expiry, scopes_or_access]));
        for (field, rules) in &texts {
            if let (Some(property), Some(rules)) = (
                schema
                    .get_mut("properties")
                    .and_then(|properties| properties.get_mut(*field))
                    .and_then(serde_json::Value::as_object_mut),
                rules.as_object(),
            ) {
                property.extend(rules.clone());
            }
        }
    }
    // A named profile, or a rate and a burst: nothing else, nothing in between.
    use tessera_core::ratelimit::{MAX_BURST, MAX_PER_MINUTE};
    schemas.insert(
        "RateLimitBody".to_owned(),
        json!({
            "description": "A named profile, or a rate and a burst.",
            "oneOf": [
                {"type": "object", "additionalProperties": false, "required": ["profile"],
                 "properties": {"profile": {"type": "string", "enum": profiles}}},
                {"type": "object", "additionalProperties": false, "required": ["per_minute", "burst"],
                 "properties": {
                    "per_minute": {"type": "integer", "minimum": 1, "maximum": MAX_PER_MINUTE},
                    "burst": {"type": "integer", "minimum": 1, "maximum": MAX_BURST}}},
            ],
        }),
    );
}

/// What the generated document cannot say through utoipa's types, written into it
/// as JSON: the four ways to send a token, the header fields answers carry, and
/// every problem `code`.
pub fn with_credentials_and_headers(document: &mut serde_json::Value) {
    use serde_json::json;
    if let Some(components) = document
        .pointer_mut("/components")
        .and_then(serde_json::Value::as_object_mut)
    {
        components.insert("securitySchemes".to_owned(), json!({
            "token": {"type": "http", "scheme": "bearer",
                "description": "`Authorization: Bearer <token>`"},
            "api_key": {"type": "http", "scheme": "Api-Key",
                "description": "`Authorization: Api-Key <token>` (Replex's header)"},
            "x_api_key": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                "description": "`X-API-Key: <token>`"},
            "basic": {"type": "http", "scheme": "basic",
                "description": "HTTP Basic with the token as the password: git clone URLs, Flashback's `key:secret`"},
        }));
        components.insert("headers".to_owned(), response_headers());
    }
    if let Some(code) = document.pointer_mut("/components/schemas/Problem/properties/code") {
        code["enum"] = json!(tessera_api::PROBLEM_CODES);
    }
    let Some(paths) = document
        .pointer_mut("/paths")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut() {
            any_credential(operation);
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(serde_json::Value::as_object_mut)
            else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                let mut names: Vec<&str> = match status.as_str() {
                    "401" | "403" => vec!["WWW-Authenticate"],
                    "429" | "503" => vec!["Retry-After"],
                    _ => vec![],
                };
                if path == "/v1/authz" {
                    names.push("X-Tessera-Status");
                    if status == "200" {
                        names.extend([
                            "X-Tessera-Token-Id",
                            "X-Tessera-Token-Name",
                            "X-Tessera-Owner",
                            "X-Tessera-Scopes",
                        ]);
                    }
                    if status == "200" || status == "429" {
                        names.extend(["RateLimit-Policy", "RateLimit"]);
                    }
                }
                if names.is_empty() {
                    continue;
                }
                let headers: serde_json::Map<String, serde_json::Value> = names
                    .into_iter()
                    .map(|name| {
                        (
                            name.to_owned(),
                            json!({"$ref": format!("#/components/headers/{name}")}),
                        )
                    })
                    .collect();
                response["headers"] = serde_json::Value::Object(headers);
            }
        }
    }
}

/// An operation that takes a bearer token takes it each of the four ways.
fn any_credential(operation: &mut serde_json::Value) {
    let Some(requirements) = operation
        .get_mut("security")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return;
    };
    let takes_token = requirements
        .iter()
        .any(|requirement| requirement.get("token").is_some());
    if takes_token {
        requirements.extend(
            ["api_key", "x_api_key", "basic"]
                .into_iter()
                .map(|scheme| serde_json::json!({ scheme: [] })),
        );
    }
}

/// The header fields tessera's answers carry, as `components.headers`.
fn response_headers() -> serde_json::Value {
    let text = serde_json::json!({"type": "string"});
    let header = |description: &str, required: bool, schema: &serde_json::Value| serde_json::json!({"description": description, "required": required, "schema": schema});
    serde_json::json!({
        "Retry-After": header("Whole seconds to wait before sending again.", true,
            &serde_json::json!({"type": "string", "pattern": "^[1-9][0-9]*$"})),
        "WWW-Authenticate": header("The challenge: `Bearer realm=\"tessera\"`, with `error` (`invalid_token`, `insufficient_scope`) and the `scope` needed.", false, &text),
        "RateLimit-Policy": header("The token's rate limit (IETF draft-ietf-httpapi-ratelimit-headers), when it has one.", false, &text),
        "RateLimit": header("What is left of the token's rate limit and when it refills, when it has one.", false, &text),
        "X-Tessera-Status": header("The status tessera decided (a proxy may answer another: see X-Tessera-Rate-Limited-As).", false, &text),
        "X-Tessera-Token-Id": header("The token's id, for the API behind the proxy.", false, &text),
        "X-Tessera-Token-Name": header("The token's name, percent-encoded outside printable ASCII.", false, &text),
        "X-Tessera-Owner": header("The token's owner; empty when it has none.", false, &text),
        "X-Tessera-Scopes": header("The scopes the token holds, space-separated, wildcards expanded.", false, &text),
    })
}

/// A call that takes a body cannot go without it.
fn require_body(body: &mut RequestBody) {
    body.required = Some(Required::True);
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use crate::http::meta::ApiDoc;

    #[test]
    fn every_path_parameter_is_declared_and_every_error_is_a_problem() {
        let document = ApiDoc::openapi();
        for (path, item) in &document.paths.paths {
            let names = super::path_parameters(path);
            for operation in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                .into_iter()
                .flatten()
            {
                let declared = operation.parameters.as_deref().unwrap_or_default();
                for name in &names {
                    assert!(declared.iter().any(|p| &p.name == name), "{path}: {name}");
                }
                for (status, response) in &operation.responses.responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        let utoipa::openapi::RefOr::T(response) = response else {
                            continue;
                        };
                        let types: Vec<&String> = response.content.keys().collect();
                        assert_eq!(types, ["application/problem+json"], "{path} {status}");
                    }
                }
                let operational = operation
                    .tags
                    .as_ref()
                    .is_some_and(|tags| tags.iter().any(|tag| tag == "operations"));
                if !operational {
                    assert!(operation.responses.responses.contains_key("429"), "{path}");
                }
            }
        }
    }

    #[test]
    fn every_problem_code_every_credential_and_the_waits_are_stated() {
        let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap();
        super::with_credentials_and_headers(&mut document);
        let codes = &document["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
        assert_eq!(
            codes.as_array().map(Vec::len),
            Some(tessera_api::PROBLEM_CODES.len())
        );
        let create = &document["paths"]["/v1/tokens"]["post"];
        let schemes: Vec<&str> = create["security"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|requirement| requirement.as_object()?.keys().next().map(String::as_str))
            .collect();
        assert_eq!(schemes, ["token", "api_key", "x_api_key", "basic"]);
        for name in schemes {
            assert!(
                document["components"]["securitySchemes"][name].is_object(),
                "{name}"
            );
        }
        let mut ids: Vec<&str> = document["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .map(|operation| operation["operationId"].as_str().unwrap())
            .collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            count,
            "operation ids name one operation each: generated clients' method names"
        );
        let retry = &create["responses"]["429"]["headers"]["Retry-After"]["$ref"];
        assert_eq!(retry, "#/components/headers/Retry-After");
        assert_eq!(
            document["components"]["headers"]["Retry-After"]["required"],
            true
        );
    }
}
