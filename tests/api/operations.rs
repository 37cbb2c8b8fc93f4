//! Checks over every operation of the OpenAPI document: each one is guarded, and a token
//! without its scope is refused. A route added without its guard fails here.

use rapport_api::routes::clients::GRANTABLE;
use rapport_tests::document::{concrete, fetch as document, secured_operations};
use rapport_tests::{TestApp, backend_tests};
use reqwest::Method;
use serde_json::json;

backend_tests!(
    every_operation_refuses_anonymous_callers,
    every_scoped_operation_refuses_a_token_without_its_scope,
    every_staff_operation_refuses_an_integration_client,
    a_client_granted_one_scope_calls_nothing_else
);

/// Operations without a scope that integration clients may call: who they are, and the teams
/// their records name.
const FOR_CLIENTS_TOO: [&str; 3] = ["GET /v1/me", "GET /v1/teams", "GET /v1/teams/{id}"];

async fn every_operation_refuses_anonymous_callers(app: TestApp) {
    let doc = document(&app).await;
    for op in secured_operations(&doc) {
        let (method, path) = (op.method, concrete(&op.template));
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
    for op in secured_operations(&doc) {
        let (method, path, scopes) = (op.method, concrete(&op.template), op.scopes);
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
    let client = app.client_token(GRANTABLE).await;
    let mut checked = 0;
    for op in secured_operations(&doc) {
        if !op.scopes.is_empty() || FOR_CLIENTS_TOO.contains(&op.name().as_str()) {
            continue;
        }
        let path = concrete(&op.template);
        let reply = app
            .call(op.method.clone(), &path, Some(&client), Some(json!({})))
            .await;
        assert_eq!(reply.status, 403, "{} answered {}", op.name(), reply.status);
        checked += 1;
    }
    assert!(checked >= 6, "only {checked} staff operations");
}

/// A client granted one scope calls only the operations that need that scope alone: every
/// other is 403, whatever it needs, so a grant is never wider than it says. (The operations it may
/// call answer anything but 403: the ids name nothing, the bodies are empty.)
async fn a_client_granted_one_scope_calls_nothing_else(app: TestApp) {
    let doc = document(&app).await;
    let ops = secured_operations(&doc);
    for &scope in GRANTABLE {
        let client = app.client_token(&[scope]).await;
        for op in &ops {
            let path = concrete(&op.template);
            let reply = app
                .call(op.method.clone(), &path, Some(&client), Some(json!({})))
                .await;
            let granted = (!op.scopes.is_empty() && op.scopes.iter().all(|s| s == scope))
                || FOR_CLIENTS_TOO.contains(&op.name().as_str());
            if granted {
                assert_ne!(
                    reply.status,
                    403,
                    "{} refused {scope}: {}",
                    op.name(),
                    reply.body
                );
            } else {
                assert_eq!(
                    reply.status,
                    403,
                    "{} answered {} to a client granted only {scope}: {}",
                    op.name(),
                    reply.status,
                    reply.body
                );
            }
        }
    }
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

/// Changes that take no `If-Match`: a link between two records has no version of its own,
/// nor has a campaign's cost entry (entries are added and deleted, never changed).
const WITHOUT_IF_MATCH: [&str; 2] = [
    "DELETE /v1/tickets/{id}/articles/{article_id}",
    "DELETE /v1/campaigns/{id}/costs/{cost_id}",
];

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
