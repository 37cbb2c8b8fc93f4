//! The OpenAPI 3.1 document, generated from the code: utoipa collects each registered route's
//! operation, and [`document`] adds what every operation shares (the security scheme and
//! the problem responses) so that no handler can forget them.

mod links;

use actix_web::App;
use rapport_domain::Invalid;
use rapport_domain::auth::Scope;
use rapport_domain::webhook::EventType;
use serde_json::{Map, Value, json};
use utoipa::openapi::security::{
    ClientCredentials, Flow, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::{PROBLEM_CODES, Problem, ProblemField};
use crate::schemas;

/// The token endpoint, for the OAuth2 flows.
const TOKEN_URL: &str = "/v1/auth/token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rapport API",
        description = "Rapport is a CRM backend: customers and contacts with standardized, validated \
fields, the sales pipeline, service tickets with SLA rules, satisfaction surveys, activities and \
tasks, and an audit trail of every change.\n\n\
Conventions: JSON in and out, `snake_case` fields, unknown body fields refused (422). Ids are \
UUIDv7, times RFC 3339 UTC. Lists take `limit` (1–200) and an opaque `cursor`, and answer \
`{\"data\": [...], \"next_cursor\": ...}`. Records carry `version` and an `ETag`; `PATCH` and \
`DELETE` accept `If-Match` (412 when stale). Errors are RFC 9457 problem+json with a stable \
`code`; messages follow `Accept-Language` (`en`, `zh-CN`). Every response has `X-Request-Id`.\n\n\
Rate limits: per caller and per client address, in requests a minute (a token bucket). Every \
`/v1` response carries `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds \
until the whole limit is back) and `RateLimit-Policy` (`<limit>;w=60`); past the limit the \
answer is 429 `rate_limited` with `Retry-After`.\n\n\
Authentication: get a token from `POST /v1/auth/token` (password, client_credentials or \
refresh_token grant) and send it as `Authorization: Bearer <token>`. Each operation lists the \
OAuth2 scopes it needs.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
        version = "1.0.0"
    ),
    servers((url = "/", description = "This server")),
    components(schemas(Problem, ProblemField, crate::routes::webhooks::WebhookEvent)),
    modifiers(&Security, &CodeLists),
    tags(
        (name = "auth", description = "Tokens and the caller itself"),
        (name = "users", description = "User accounts (users:write)"),
        (name = "teams", description = "Teams and their managers"),
        (name = "clients", description = "Integration clients with OAuth2 client credentials (users:write)"),
        (name = "customers", description = "Customers: standardized fields, ownership, lifecycle, search, duplicates and merges"),
        (name = "contacts", description = "The people at a customer"),
        (name = "activities", description = "Recorded interactions: calls, emails, meetings, visits, chats, notes"),
        (name = "tasks", description = "Follow-ups assigned to users"),
        (name = "tickets", description = "Service tickets: requests and complaints, their workflow, replies and internal notes"),
        (name = "sales", description = "Pipelines and stages, opportunities and their stage history, products, quotes, orders and the pipeline forecast"),
        (name = "loyalty", description = "Loyalty points: the program's settings, each customer's ledger (earned from orders, redeemed, adjusted, expired oldest first) and tier"),
        (name = "campaigns", description = "Marketing campaigns: planning, budget and actual costs, members (contacts with marketing consent) and their responses"),
        (name = "surveys", description = "Satisfaction surveys: questions by dimension, invitations, triggers and results (CSAT, NPS)"),
        (name = "knowledge", description = "The knowledge base: articles, versions and categories"),
        (name = "reports", description = "Reports over what the caller may see (reports:read)"),
        (name = "public", description = "The only unauthenticated surface: survey invitations by token and the public help center"),
        (name = "privacy", description = "Export and erasure of a customer's personal data (customers:privacy)"),
        (name = "audit", description = "The audit trail (audit:read)"),
        (name = "imports", description = "Bulk data in: CSV files of customers imported in the background, with progress and each refused row (customers:write)"),
        (name = "webhooks", description = "Subscriptions to events, signed deliveries and their attempts (webhooks:write); each event is described in the top-level `webhooks` section"),
        (name = "jobs", description = "Background jobs: scheduled and queued work, retries, dead jobs (settings:write)"),
        (name = "operations", description = "Health checks and metrics for operators")
    )
)]
struct ApiDoc;

/// Registers the OAuth2 security scheme with every scope and what it allows.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scopes = || Scopes::from_iter(Scope::ALL.map(|s| (s.as_str(), s.description())));
        let scheme = OAuth2::with_description(
            [
                Flow::Password(Password::with_refresh_url(TOKEN_URL, scopes(), TOKEN_URL)),
                Flow::ClientCredentials(ClientCredentials::new(TOKEN_URL, scopes())),
            ],
            "Users sign in with the password grant and get the scopes of their role; integration \
clients use client credentials and get the scopes they were granted. Send the access token as \
`Authorization: Bearer <token>`.",
        );
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme("oauth2", SecurityScheme::OAuth2(scheme));
        }
    }
}

/// Adds each code list as one named component, which fields reference (see `schemas`).
struct CodeLists;

impl Modify for CodeLists {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            for list in schemas::code_lists() {
                components
                    .schemas
                    .insert(list.name.to_owned(), list.schema().into());
            }
        }
    }
}

/// Builds the document from the routes of `configure`.
pub fn document() -> Value {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::configure)
        .split_for_parts();
    let mut value = serde_json::to_value(&doc).unwrap_or(Value::Null);
    add_problem_responses(&mut value);
    list_codes(&mut value);
    add_webhooks(&mut value);
    links::add(&mut value);
    value
}

/// The top-level `webhooks` section (OpenAPI 3.1): one entry per event type, whose request
/// body is a `WebhookEvent` with that `type`, so generated clients get typed payloads.
fn add_webhooks(doc: &mut Value) {
    let mut hooks = Map::new();
    for event_type in EventType::ALL.iter().copied() {
        let name = event_type.as_str();
        let schema = json!({
            "allOf": [
                {"$ref": "#/components/schemas/WebhookEvent"},
                {"type": "object", "properties": {"type": {"const": name}}}
            ]
        });
        let header = |header: &str, description: &str| {
            json!({"name": header, "in": "header", "required": true,
                   "description": description, "schema": {"type": "string"}})
        };
        hooks.insert(
            name.to_owned(),
            json!({"post": {
                "tags": ["webhooks"],
                // The receiver checks `Rapport-Signature` instead of a token.
                "security": [],
                "operationId": format!("webhook_{}", name.replace('.', "_")),
                "summary": event_type.description(),
                "description": format!(
                    "Posted to subscriptions of `{name}`; subscribing needs `{}`.",
                    event_type.read_scope().as_str()
                ),
                "parameters": [
                    header("Rapport-Signature", "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">` keyed with the subscription's secret; refuse a `t` more than 300 s away"),
                    header("Rapport-Event-Id", "The event's id (the body's `id`)"),
                    header("Rapport-Event-Type", "The event's type (the body's `type`)"),
                    header("Rapport-Delivery-Id", "This delivery (a replay is a new delivery of the same event)"),
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": schema}}},
                "responses": {"2XX": {"description": "Received: any 2xx within 10 seconds; anything else is retried"}},
            }}),
        );
    }
    doc["webhooks"] = Value::Object(hooks);
}

/// The `code` property of a schema, also inside an `allOf` (flattened extension members
/// make one).
fn code_property(schema: &mut Value) -> Option<&mut Value> {
    if schema.pointer("/properties/code").is_some() {
        return schema.pointer_mut("/properties/code");
    }
    schema
        .get_mut("allOf")?
        .as_array_mut()?
        .iter_mut()
        .find_map(|part| part.pointer_mut("/properties/code"))
}

/// Lists every stable `code` on the problem schemas (as `x-codes` and in the description), so
/// clients can rely on the set: the contract says the codes are in the document.
fn list_codes(doc: &mut Value) {
    let schemas = doc.pointer_mut("/components/schemas");
    let Some(schemas) = schemas.and_then(Value::as_object_mut) else {
        return;
    };
    for (schema, codes) in [("Problem", PROBLEM_CODES), ("ProblemField", Invalid::CODES)] {
        if let Some(code) = schemas.get_mut(schema).and_then(code_property) {
            let listed = codes
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            code["description"] = format!("Stable machine-readable code, one of: {listed}.").into();
            code["x-codes"] = json!(codes);
        }
    }
}

/// The document as served and committed: pretty JSON with a final newline.
pub fn document_json() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

/// The reusable problem responses: name, status, description.
const PROBLEM_RESPONSES: &[(&str, u16, &str)] = &[
    ("BadRequest", 400, "Malformed JSON or parameters"),
    ("Unauthorized", 401, "No or bad credentials"),
    (
        "Forbidden",
        403,
        "The token lacks the scope, or the role may not do this",
    ),
    ("NotFound", 404, "Unknown, or not visible to the caller"),
    (
        "PreconditionFailed",
        412,
        "`If-Match` names an older version",
    ),
    ("PayloadTooLarge", 413, "The body is too large"),
    (
        "UnsupportedMediaType",
        415,
        "The body is not of the documented media type (JSON; CSV for imports)",
    ),
    (
        "ValidationFailed",
        422,
        "Invalid fields, each named in `errors`",
    ),
    ("TooManyRequests", 429, "Rate limited; see `Retry-After`"),
    (
        "Conflict",
        409,
        "A state that forbids this, or a request with this Idempotency-Key still in progress",
    ),
    (
        "InternalError",
        500,
        "A bug: quote `request_id` when reporting it",
    ),
    (
        "ServiceUnavailable",
        503,
        "The database is unavailable; retry later",
    ),
];

fn problem_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

/// Adds to each operation the problem responses its shape implies, and defines them once
/// under `components.responses`.
fn add_problem_responses(doc: &mut Value) {
    let mut defined = Map::new();
    for (name, _, description) in PROBLEM_RESPONSES {
        let mut response = json!({
            "description": description,
            "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
        });
        if *name == "TooManyRequests" {
            let header = |description: &str| json!({"description": description, "schema": {"type": "integer"}});
            response["headers"] = json!({
                "Retry-After": header("Seconds until a request is allowed again"),
                "RateLimit-Limit": header("Requests a minute the caller (or its address) may make"),
                "RateLimit-Remaining": header("Requests left now: 0"),
                "RateLimit-Reset": header("Seconds until the whole limit is available again"),
            });
        }
        defined.insert((*name).to_owned(), response);
    }
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        components.insert("responses".into(), Value::Object(defined));
        components.insert(
            "parameters".into(),
            json!({"IdempotencyKey": {
                "name": "Idempotency-Key",
                "in": "header",
                "required": false,
                "description": "Makes the POST safe to retry: the same key and body within 24 hours answer the first \
answer again (same status, same id, with `Idempotent-Replayed: true`); the same key with another body is 422 \
`idempotency_key_reused`. Keys are per caller: 1 to 255 visible ASCII characters (a UUID makes a good one), \
else 400. Secrets shown once (one-time passwords, client secrets) are `null` in a replay.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}
            }}),
        );
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            let mut implied = implied_problems(path, op);
            if method == "post" && path.starts_with("/v1") && !path.starts_with("/v1/auth/") {
                let params = op.entry("parameters").or_insert_with(|| json!([]));
                if let Some(params) = params.as_array_mut() {
                    params.push(json!({"$ref": "#/components/parameters/IdempotencyKey"}));
                }
                // A malformed key is refused; one reused with another body is 422, and one
                // whose first request is still running is 409.
                implied.extend(["BadRequest", "ValidationFailed", "Conflict"]);
            }
            bound_limits(op);
            let responses = op.entry("responses").or_insert_with(|| json!({}));
            let Some(responses) = responses.as_object_mut() else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                describe_if_blank(status, response);
            }
            for (name, status, _) in PROBLEM_RESPONSES {
                if implied.contains(name) {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem_ref(name));
                }
            }
        }
    }
}

/// Every `limit` is a page size that `pagination::page_params` bounds: say so, so that a
/// client (or a test generator) knows which values are good.
fn bound_limits(op: &mut Map<String, Value>) {
    let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
        return;
    };
    for param in params {
        if param["name"] == "limit" && param["in"] == "query" {
            let schema = &mut param["schema"];
            schema["minimum"] = json!(1);
            schema["maximum"] = json!(crate::pagination::MAX_LIMIT);
            schema["default"] = json!(crate::pagination::DEFAULT_LIMIT);
        }
    }
}

/// utoipa leaves a success response's description empty unless told; give it the status's.
fn describe_if_blank(status: &str, response: &mut Value) {
    let blank = response
        .get("description")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    if blank && let Some(obj) = response.as_object_mut() {
        let text = match status {
            "200" => "OK",
            "201" => "Created",
            "204" => "No content",
            _ => "Answer",
        };
        obj.insert("description".into(), text.into());
    }
}

/// Which problems an operation can answer, from its shape.
fn implied_problems(path: &str, op: &Map<String, Value>) -> Vec<&'static str> {
    let mut implied = Vec::new();
    let params = op
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has_in = |place: &str| {
        params
            .iter()
            .any(|p| p.get("in").and_then(Value::as_str) == Some(place))
    };
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    let has_body = op.contains_key("requestBody");
    // A malformed body, query parameter or header (`If-Match`) is refused.
    if has_body || has_in("query") || has_in("header") {
        implied.push("BadRequest");
    }
    if secured || path == TOKEN_URL {
        implied.push("Unauthorized");
    }
    if secured {
        implied.push("Forbidden");
    }
    if has_in("path") {
        implied.push("NotFound");
    }
    // Every operation that takes `If-Match` (a merge too, not only PATCH and DELETE).
    let if_match = params
        .iter()
        .any(|p| p.get("name").and_then(Value::as_str) == Some("If-Match"));
    if if_match {
        implied.push("PreconditionFailed");
    }
    if has_body {
        implied.extend([
            "PayloadTooLarge",
            "UnsupportedMediaType",
            "ValidationFailed",
        ]);
    }
    if path.starts_with("/v1") {
        implied.push("TooManyRequests");
    }
    if path.starts_with("/v1") || path == "/health/ready" {
        implied.extend(["InternalError", "ServiceUnavailable"]);
    }
    implied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_v1_operation_is_secured_or_public_on_purpose() {
        let doc = document();
        let public = ["/v1/auth/token", "/v1/auth/revoke"];
        for (path, item) in doc["paths"].as_object().unwrap() {
            if !path.starts_with("/v1") || public.contains(&path.as_str()) {
                continue;
            }
            for (method, op) in item.as_object().unwrap() {
                assert!(
                    op.get("security").is_some(),
                    "{method} {path} has no security"
                );
                assert!(
                    op["responses"].get("401").is_some(),
                    "{method} {path} lacks 401"
                );
            }
        }
    }

    #[test]
    fn declares_the_oauth2_scopes() {
        let doc = document();
        let flows = &doc["components"]["securitySchemes"]["oauth2"]["flows"];
        assert_eq!(flows["password"]["tokenUrl"], TOKEN_URL);
        assert!(flows["clientCredentials"]["scopes"]["audit:read"].is_string());
    }

    #[test]
    fn lists_every_problem_and_field_code() {
        let doc = document();
        let text = doc["components"]["schemas"]["Problem"].to_string();
        for code in PROBLEM_CODES {
            assert!(text.contains(&format!("`{code}`")), "{code}");
        }
        let field = &doc["components"]["schemas"]["ProblemField"]["properties"]["code"]["x-codes"];
        assert!(field.as_array().unwrap().contains(&json!("invalid_phone")));
    }

    #[test]
    fn is_stable() {
        assert_eq!(document_json(), document_json());
    }
}
