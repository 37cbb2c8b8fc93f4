//! The ownership matrix: every operation on a record that a caller may not see answers 404,
//! as if the record did not exist (api.md: "a record outside the caller's view answers 404,
//! not 403"), and changes nothing. Walked from the OpenAPI document, so a route added later on
//! an owned record is checked without anyone remembering to add it; a resource added later
//! must be named below, as owned or as seen by scope, or the walk fails.

use std::collections::BTreeMap;

use rapport_tests::document::{Operation, concrete_with, fetch, secured_operations};
use rapport_tests::{TestApp, TestUser, backend_tests, read};
use reqwest::Method;
use serde_json::{Value, json};

backend_tests!(records_outside_the_view_are_404_for_every_operation);

/// Resources whose records are seen by ownership: a sales rep sees its own customers' (and
/// their contacts, activities, tasks, opportunities, quotes and orders), a sales manager its
/// team's; an import, its importer alone ([`IMPORTER_ONLY`]).
const OWNED: [&str; 8] = [
    "customers",
    "contacts",
    "activities",
    "tasks",
    "opportunities",
    "quotes",
    "orders",
    "imports",
];

/// Owned records that not even the owner's manager sees.
const IMPORTER_ONLY: &str = "imports";

/// Resources seen by scope alone, with why.
const BY_SCOPE: [(&str, &str); 17] = [
    ("users", "accounts: users:write"),
    ("teams", "every staff member reads the teams"),
    ("clients", "integration clients: users:write"),
    ("pipelines", "settings shared by everyone who sells"),
    ("products", "the catalogue"),
    ("sla-policies", "settings"),
    ("survey-triggers", "settings"),
    ("surveys", "templates shared by surveys:read"),
    ("articles", "the knowledge base"),
    ("article-categories", "the knowledge base"),
    ("tickets", "the service desk: tickets:read"),
    ("jobs", "the job runner: settings:write"),
    (
        "automation-rules",
        "settings: settings:write; a rule's actions act on every record (automation.rs)",
    ),
    (
        "webhooks",
        "webhooks:write; a client sees its own (webhooks.rs)",
    ),
    (
        "me",
        "the caller's own notifications: no other's can be named",
    ),
    ("audit-events", "the audit trail: audit:read"),
    (
        "campaigns",
        "marketing: campaigns:read; members follow their customer's view (campaigns.rs)",
    ),
];

/// The resource of a template whose first parameter names a record: `customers` for
/// `/v1/customers/{id}/contacts`.
fn resource(template: &str) -> Option<&str> {
    let rest = template.strip_prefix("/v1/")?;
    let (name, after) = rest.split_once('/')?;
    after.starts_with('{').then_some(name)
}

/// One record of each owned resource, all about one customer of `owner`'s, created by it.
async fn records_of(app: &TestApp, owner: &TestUser) -> BTreeMap<&'static str, String> {
    let token = &owner.token;
    let customer = app
        .customer(token, json!({"name": "Owned Trading Co"}))
        .await
        .to_string();
    let created = |reply: rapport_tests::Reply| {
        assert!(reply.status.is_success(), "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    };
    let contact = created(
        app.post(
            &format!("/v1/customers/{customer}/contacts"),
            token,
            json!({"first_name": "Owned"}),
        )
        .await,
    );
    let activity = created(
        app.post(
            "/v1/activities",
            token,
            json!({"customer_id": customer, "kind": "note", "summary": "Owned note"}),
        )
        .await,
    );
    let task = created(
        app.post(
            "/v1/tasks",
            token,
            json!({"customer_id": customer, "title": "Owned task", "assignee_id": owner.id}),
        )
        .await,
    );
    let opportunity = created(
        app.post(
            "/v1/opportunities",
            token,
            json!({"customer_id": customer, "title": "Owned deal"}),
        )
        .await,
    );
    let line = json!([{"description": "Service", "quantity": "1", "unit_price": "10"}]);
    let quote = created(
        app.post(
            "/v1/quotes",
            token,
            json!({"opportunity_id": opportunity, "currency": "CNY", "lines": line}),
        )
        .await,
    );
    let order = created(
        app.post(
            "/v1/orders",
            token,
            json!({"customer_id": customer, "currency": "CNY", "lines": line}),
        )
        .await,
    );
    let import = created(
        read(
            app.client
                .post(app.url("/v1/imports/customers"))
                .bearer_auth(token)
                .header("content-type", "text/csv")
                .body("name\nImported Owned Co\n")
                .send()
                .await
                .unwrap(),
        )
        .await,
    );
    BTreeMap::from([
        ("customers", customer),
        ("contacts", contact),
        ("activities", activity),
        ("tasks", task),
        ("opportunities", opportunity),
        ("quotes", quote),
        ("orders", order),
        ("imports", import),
    ])
}

/// The scopes of `token` (`GET /v1/me`).
async fn scopes_of(app: &TestApp, token: &str) -> Vec<String> {
    let me = app.get("/v1/me", token).await;
    me.assert_status(200);
    serde_json::from_value(me.body["scopes"].clone()).unwrap()
}

/// Every operation whose first path parameter names one of `records`, with the path filled.
fn on_records(doc: &Value, records: &BTreeMap<&str, String>) -> Vec<(Operation, String)> {
    let mut found = Vec::new();
    for op in secured_operations(doc) {
        let Some(resource) = resource(&op.template) else {
            continue;
        };
        let classified =
            OWNED.contains(&resource) || BY_SCOPE.iter().any(|(name, _)| *name == resource);
        assert!(
            classified,
            "{}: add `{resource}` to OWNED or BY_SCOPE in ownership.rs",
            op.name()
        );
        let Some(id) = records.get(resource) else {
            continue;
        };
        let path = concrete_with(&op.template, |name| (name == "id").then(|| id.clone()));
        found.push((op, path));
    }
    found
}

/// Calls every operation on `owner`'s records as each outsider: 404 when the outsider holds
/// the operation's scopes (it is refused for not seeing the record), 403 when it does not.
/// Then checks that the owner and its manager see each record, unchanged.
async fn records_outside_the_view_are_404_for_every_operation(app: TestApp) {
    let (team, other_team) = (app.team("East").await, app.team("West").await);
    let owner = app.user("sales_rep", Some(team)).await;
    let manager = app.user("sales_manager", Some(team)).await;
    let other_rep = app.user("sales_rep", Some(team)).await;
    let other_manager = app.user("sales_manager", Some(other_team)).await;
    let records = records_of(&app, &owner).await;
    let doc = fetch(&app).await;
    let operations = on_records(&doc, &records);
    assert!(
        operations.len() > 25,
        "only {} operations",
        operations.len()
    );

    let before = versions(&app, &owner, &records, |_| true).await;
    for outsider in [&other_rep, &other_manager] {
        let held = scopes_of(&app, &outsider.token).await;
        for (op, path) in &operations {
            let body = (op.method != Method::GET && op.method != Method::DELETE).then(|| json!({}));
            let reply = app
                .call(op.method.clone(), path, Some(&outsider.token), body)
                .await;
            let expected = if op.scopes.iter().all(|s| held.contains(s)) {
                404
            } else {
                403
            };
            assert_eq!(
                reply.status,
                expected,
                "{} as an outsider ({}) answered {}: {}",
                op.name(),
                outsider.email,
                reply.status,
                reply.body
            );
        }
    }
    // The owner and its manager do see them, and nothing was changed by the refused calls.
    assert_eq!(versions(&app, &owner, &records, |_| true).await, before);
    let mut of_team = before.clone();
    of_team.remove(IMPORTER_ONLY);
    let team_sees = |resource: &str| resource != IMPORTER_ONLY;
    assert_eq!(versions(&app, &manager, &records, team_sees).await, of_team);
}

/// The version (or, for records without one, the id) of each record of the resources
/// `user` must see.
async fn versions(
    app: &TestApp,
    user: &TestUser,
    records: &BTreeMap<&str, String>,
    sees: impl Fn(&str) -> bool,
) -> BTreeMap<String, Value> {
    let mut seen = BTreeMap::new();
    for (resource, id) in records.iter().filter(|(r, _)| sees(r)) {
        let reply = app.get(&format!("/v1/{resource}/{id}"), &user.token).await;
        assert_eq!(
            reply.status, 200,
            "{} cannot see {resource} {id}",
            user.email
        );
        let version = reply.body.get("version").cloned();
        seen.insert(
            (*resource).to_owned(),
            version.unwrap_or_else(|| reply.body["id"].clone()),
        );
    }
    seen
}

#[test]
fn names_the_resource_of_a_record_path() {
    assert_eq!(resource("/v1/customers/{id}/contacts"), Some("customers"));
    assert_eq!(resource("/v1/customers/batch"), None);
    assert_eq!(resource("/v1/customers"), None);
}
