//! Checks over every operation of the OpenAPI document: each one is guarded, and a token
//! without its scope is refused. A route added without its guard fails here.

use rapport_tests::{TestApp, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};

backend_tests!(
    every_operation_refuses_anonymous_callers,
    every_scoped_operation_refuses_a_token_without_its_scope,
    every_staff_operation_refuses_an_integration_client
);

/// Operations without a scope that integration clients may call: who they are, and the teams
/// their records name.
const FOR_CLIENTS_TOO: [&str; 3] = ["GET /v1/me", "GET /v1/teams", "GET /v1/teams/{id}"];

/// Public on purpose: the token endpoints, health, metrics, and the help center and other
/// pages under `/v1/public/`.
const PUBLIC: [&str; 2] = ["/v1/auth/token", "/v1/auth/revoke"];

fn is_public(path: &str) -> bool {
    !path.starts_with("/v1") || PUBLIC.contains(&path) || path.starts_with("/v1/public/")
}

/// The template with each path parameter filled with a value that names nothing: a fresh id,
/// version number 999,999, or an unknown slug. Every parameter is filled, so the handler is
/// reached (a left `{stage_id}` would fail to parse and answer 404 before it).
fn concrete(template: &str) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        path.push_str(&rest[..start]);
        path.push_str(&match &rest[start + 1..end - 1] {
            "number" => "999999".to_owned(),
            "slug" => "no-such-article".to_owned(),
            _ => uuid::Uuid::now_v7().to_string(),
        });
        rest = &rest[end..];
    }
    path.push_str(rest);
    path
}

/// The served OpenAPI document.
async fn document(app: &TestApp) -> Value {
    app.client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

fn operations(doc: &Value) -> Vec<(Method, String, Vec<String>)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if is_public(path) {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let scopes = op["security"][0]["oauth2"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            ops.push((method, concrete(path), scopes));
        }
    }
    assert!(ops.len() > 10, "the document lists the operations");
    ops
}

async fn every_operation_refuses_anonymous_callers(app: TestApp) {
    let doc = document(&app).await;
    for (method, path, _) in operations(&doc) {
        let reply = app.call(method.clone(), &path, None, Some(json!({}))).await;
        assert_eq!(
            reply.status, 401,
            "{method} {path} answered {} without a token",
            reply.status
        );
    }
}

async fn every_scoped_operation_refuses_a_token_without_its_scope(app: TestApp) {
    let doc = document(&app).await;
    let no_scopes = app.client_token(&[]).await;
    for (method, path, scopes) in operations(&doc) {
        if scopes.is_empty() {
            continue;
        }
        let reply = app
            .call(method.clone(), &path, Some(&no_scopes), Some(json!({})))
            .await;
        assert_eq!(
            reply.status, 403,
            "{method} {path} answered {} to a token without {scopes:?}",
            reply.status
        );
        assert_eq!(reply.body["required_scope"], scopes[0], "{method} {path}");
    }
}

/// An operation documented without a scope (`oauth2: []`) is for staff: an integration client
/// holding every scope it can be granted is refused, unless it is one of [`FOR_CLIENTS_TOO`].
/// A route that takes `Staff` but forgets it fails here.
async fn every_staff_operation_refuses_an_integration_client(app: TestApp) {
    let doc = document(&app).await;
    let everything = [
        "customers:read",
        "customers:write",
        "opportunities:read",
        "opportunities:write",
        "tickets:read",
        "tickets:write",
        "tasks:read",
        "tasks:write",
        "surveys:read",
        "surveys:write",
        "campaigns:read",
        "campaigns:write",
        "reports:read",
        "webhooks:write",
    ];
    let client = app.client_token(&everything).await;
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        if is_public(template) {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let staff_only = op["security"][0]["oauth2"]
                .as_array()
                .is_some_and(Vec::is_empty);
            let name = format!("{} {template}", method.to_uppercase());
            if !staff_only || FOR_CLIENTS_TOO.contains(&name.as_str()) {
                continue;
            }
            let method: Method = method.to_uppercase().parse().unwrap();
            let reply = app
                .call(method, &concrete(template), Some(&client), Some(json!({})))
                .await;
            assert_eq!(reply.status, 403, "{name} answered {}", reply.status);
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} staff operations");
}

backend_tests!(unknown_ids_are_404_everywhere);

/// Every operation on a record, called with an id that names nothing, answers 404 to a caller
/// that holds every scope.
async fn unknown_ids_are_404_everywhere(app: TestApp) {
    let doc = document(&app).await;
    let admin = app.admin_token().await;
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        if !template.contains('{') {
            continue;
        }
        let path = concrete(template);
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
            let reply = app.call(method.clone(), &path, Some(&admin), body).await;
            assert_eq!(
                reply.status, 404,
                "{method} {template} answered {}: {}",
                reply.status, reply.body
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} operations take an id");
}

backend_tests!(every_change_takes_if_match);

/// Changes that take no `If-Match`: a link between two records has no version of its own.
const WITHOUT_IF_MATCH: [&str; 1] = ["DELETE /v1/tickets/{id}/articles/{article_id}"];

/// Every `PATCH` and `DELETE` documents `If-Match` and reads it: an unreadable one (not ASCII)
/// is 400 before the record is even looked up, where a handler that ignores the header would
/// answer 404 for the unknown id. A change added without the optimistic check fails here.
async fn every_change_takes_if_match(app: TestApp) {
    let doc = document(&app).await;
    let admin = app.admin_token().await;
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{} {template}", method.to_uppercase());
            if !matches!(method.as_str(), "patch" | "delete")
                || WITHOUT_IF_MATCH.contains(&name.as_str())
            {
                continue;
            }
            let documented = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "If-Match" && p["in"] == "header");
            assert!(documented, "{name} does not document If-Match");
            let method: Method = method.to_uppercase().parse().unwrap();
            let mut request = app
                .client
                .request(method.clone(), app.url(&concrete(template)))
                .bearer_auth(&admin)
                .header(
                    "if-match",
                    reqwest::header::HeaderValue::from_bytes(b"\"\xe7\x89\x88\"").unwrap(),
                );
            if method == Method::PATCH {
                request = request.json(&json!({}));
            }
            let reply = rapport_tests::read(request.send().await.unwrap()).await;
            assert_eq!(
                reply.status, 400,
                "{name} answered {} to an unreadable If-Match: {}",
                reply.status, reply.body
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} changes");
}

backend_tests!(a_method_a_path_lacks_is_405_with_allow);

/// Every documented path answers a method it does not take with 405 and `Allow` naming the
/// ones it does (RFC 9110), not 404: a client learns it has the right path and the wrong verb.
async fn a_method_a_path_lacks_is_405_with_allow(app: TestApp) {
    let doc = document(&app).await;
    let admin = app.admin_token().await;
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        let documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
            .map(|m| m.to_uppercase())
            .collect();
        let mut expected: Vec<&str> = documented.iter().map(String::as_str).collect();
        expected.sort_unstable();
        let path = concrete(template);
        // Each method it lacks, also where a route with a parameter (`PATCH /customers/{id}`)
        // would take a literal path (`PATCH /customers/batch`).
        for missing in ["PUT", "PATCH", "DELETE", "POST", "GET"] {
            if expected.contains(&missing) {
                continue;
            }
            let reply = app
                .call(missing.parse().unwrap(), &path, Some(&admin), None)
                .await;
            assert_eq!(reply.status, 405, "{missing} {path}: {}", reply.body);
            reply.assert_problem(405, "method_not_allowed");
            let mut allowed: Vec<&str> = reply
                .header("allow")
                .unwrap_or_else(|| panic!("{missing} {path}: no Allow"))
                .split(", ")
                .collect();
            allowed.sort_unstable();
            assert_eq!(allowed, expected, "{missing} {template}");
            checked += 1;
        }
    }
    assert!(checked > 150, "only {checked} methods");
    // Not a path at all, or a malformed id on a path that takes the method: 404.
    app.call(Method::PUT, "/v1/no-such-thing", Some(&admin), None)
        .await
        .assert_problem(404, "not_found");
    app.call(Method::PATCH, "/v1/customers/not-an-id", Some(&admin), None)
        .await
        .assert_problem(404, "not_found");
    app.call("TRACE".parse().unwrap(), "/health/live", None, None)
        .await
        .assert_problem(405, "method_not_allowed");
}
