//! Concurrent changes of one record: without `If-Match` none is lost and none fails; with a
//! shared stale `If-Match` exactly one wins.

use futures_util::future::join_all;
use rapport_tests::{TestApp, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};

/// Twenty changes of one customer, each of its own field where the customer has enough of
/// them, and the value each field must end with.
fn changes() -> Vec<(&'static str, Value)> {
    let fields = [
        ("name", json!("Concurrent Trading Co.")),
        ("kind", json!("individual")),
        ("industry", json!("wholesale_retail")),
        ("size", json!("small")),
        ("grade", json!("vip")),
        ("source", json!("referral")),
        ("channel", json!("wechat")),
        ("website", json!("https://concurrent.example.com/")),
        ("description", json!("Changed by twenty requests at once.")),
        ("country", json!("DE")),
        ("tags", json!(["concurrency"])),
        ("external_ids", json!({"erp": "C-20"})),
        (
            "addresses",
            json!([{"label": "office", "line1": "1 Main Street", "city": "Berlin", "country": "DE"}]),
        ),
    ];
    (0..20).map(|i| fields[i % fields.len()].clone()).collect()
}

async fn patch_all(
    app: &TestApp,
    path: &str,
    token: &str,
    if_match: Option<&str>,
    bodies: Vec<Value>,
) -> Vec<u16> {
    let requests = bodies.into_iter().map(|body| {
        let mut request = app
            .client
            .request(Method::PATCH, app.url(path))
            .bearer_auth(token)
            .json(&body);
        if let Some(tag) = if_match {
            request = request.header("If-Match", tag);
        }
        async move {
            request
                .send()
                .await
                .expect("request sent")
                .status()
                .as_u16()
        }
    });
    join_all(requests).await
}

async fn concurrent_patches_without_if_match_all_apply(app: TestApp) {
    let token = app.admin_token().await;
    let id = app
        .customer(&token, json!({"name": "Before Trading"}))
        .await;
    let path = format!("/v1/customers/{id}");
    let changes = changes();
    let bodies = changes
        .iter()
        .map(|(field, value)| json!({ *field: value }))
        .collect();

    let statuses = patch_all(&app, &path, &token, None, bodies).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    let customer = app.get(&path, &token).await;
    customer.assert_status(200);
    for (field, value) in &changes {
        let stored = &customer.body[*field];
        match *field {
            // Stored normalized: compare what the client sent with what it reads.
            "addresses" => assert_eq!(stored[0]["city"], "Berlin"),
            _ => assert_eq!(stored, value, "{field}"),
        }
    }
    // Each change was saved on its own: none overwrote another's read. (A background job may
    // save one more version while the test runs, audited too: CI once saw version 22.)
    let events = app
        .get(
            &format!("/v1/audit-events?entity_id={id}&limit=200"),
            &token,
        )
        .await;
    let actions: Vec<&str> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "update").count(),
        20,
        "{actions:?}"
    );
    assert_eq!(customer.body["version"], actions.len(), "{actions:?}");
}

async fn concurrent_patches_with_a_stale_if_match_let_exactly_one_win(app: TestApp) {
    let token = app.admin_token().await;
    // A task: no background job writes it (the grading at start may save a customer).
    let created = app
        .post("/v1/tasks", &token, json!({"title": "Call back"}))
        .await;
    created.assert_status(201);
    let path = format!("/v1/tasks/{}", created.body["id"].as_str().unwrap());
    // Three rounds of fifty writers, each round sending the version the last one left: one
    // success per version.
    for version in 1..=3 {
        let bodies = (0..50)
            .map(|i| json!({ "title": format!("Call back: round {version}, writer {i}") }))
            .collect();
        let tag = format!("\"{version}\"");
        let statuses = patch_all(&app, &path, &token, Some(&tag), bodies).await;
        let won = statuses.iter().filter(|s| **s == 200).count();
        let refused = statuses.iter().filter(|s| **s == 412).count();
        assert_eq!((won, refused), (1, 49), "version {version}: {statuses:?}");
        assert_eq!(app.get(&path, &token).await.body["version"], version + 1);
    }
}

/// Two customers merged into each other at once: one merge wins, the other finds its
/// duplicate gone; neither fails with a server error (a deadlock on PostgreSQL, were the rows
/// locked in the order each request names them).
async fn crossed_merges_let_one_win(app: TestApp) {
    let token = app.admin_token().await;
    for round in 0..5 {
        let a = app
            .customer(&token, json!({"name": format!("Crossed A{round}")}))
            .await;
        let b = app
            .customer(&token, json!({"name": format!("Crossed B{round}")}))
            .await;
        let merge = |survivor, duplicate| {
            app.client
                .post(app.url(&format!("/v1/customers/{survivor}/merge")))
                .bearer_auth(&token)
                .json(&json!({ "duplicate_ids": [duplicate] }))
                .send()
        };
        let (first, second) = tokio::join!(merge(a, b), merge(b, a));
        let mut statuses = [
            first.expect("sent").status().as_u16(),
            second.expect("sent").status().as_u16(),
        ];
        statuses.sort_unstable();
        assert!(
            statuses[0] == 200 && matches!(statuses[1], 404 | 422),
            "round {round}: {statuses:?}"
        );
    }
}

backend_tests!(
    concurrent_patches_without_if_match_all_apply,
    concurrent_patches_with_a_stale_if_match_let_exactly_one_win,
    crossed_merges_let_one_win,
);
