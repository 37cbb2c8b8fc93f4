//! `GET /v1/exports/customers`: every customer of a filtered list, streamed as NDJSON or CSV,
//! across the pages it reads (500 customers each), within the caller's view.

use std::collections::BTreeSet;

use futures_util::StreamExt;
use rapport_tests::{TestApp, backend_tests};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    an_export_streams_every_customer_of_the_list,
    an_export_applies_the_hygiene_filters_and_the_callers_view,
    an_export_masks_what_the_caller_sees_masked,
    exports_are_refused_without_customers_read_or_with_bad_filters,
);

/// An export's status, content type and text.
async fn export(
    app: &TestApp,
    path: &str,
    token: &str,
    accept: Option<&str>,
) -> (StatusCode, String, String) {
    let mut request = app.client.get(app.url(path)).bearer_auth(token);
    if let Some(accept) = accept {
        request = request.header("Accept", accept);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let media = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, media, response.text().await.expect("body"))
}

/// The customers of an NDJSON export, one per line.
async fn ndjson(app: &TestApp, path: &str, token: &str) -> Vec<Value> {
    let (status, media, text) = export(app, path, token, None).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(media, "application/x-ndjson");
    text.lines()
        .map(|line| serde_json::from_str(line).expect("each line is a customer"))
        .collect()
}

fn ids(customers: &[Value]) -> BTreeSet<String> {
    customers
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn an_export_streams_every_customer_of_the_list(app: TestApp) {
    let admin = app.admin_token().await;
    // 501 customers: two pages of the export. Every 50th is tagged.
    let made: Vec<(Uuid, bool)> = futures_util::stream::iter(0..501)
        .map(|i| {
            let (app, admin) = (&app, &admin);
            async move {
                let tagged = i % 50 == 0;
                let mut body = json!({"name": format!("Export Trading {i:03}")});
                if tagged {
                    body["tags"] = json!(["fair-2026"]);
                }
                (app.customer(admin, body).await, tagged)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let all: BTreeSet<String> = made.iter().map(|(id, _)| id.to_string()).collect();

    let lines = ndjson(&app, "/v1/exports/customers", &admin).await;
    assert_eq!(lines.len(), 501, "each customer once");
    let seven = lines
        .iter()
        .find(|c| c["name"] == "Export Trading 007")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .expect("every customer is exported whole");
    assert_eq!(ids(&lines), all);
    let created: Vec<chrono::DateTime<chrono::FixedOffset>> = lines
        .iter()
        .map(|c| chrono::DateTime::parse_from_rfc3339(c["created_at"].as_str().unwrap()).unwrap())
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "newest first, as the list"
    );

    // CSV: a header, then the same customers.
    let (status, media, text) =
        export(&app, "/v1/exports/customers", &admin, Some("text/csv")).await;
    assert_eq!(status, 200);
    assert!(media.starts_with("text/csv"), "{media}");
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert_eq!(rows[0][..3], ["id", "name", "kind"]);
    assert_eq!(rows.len(), 502);
    let csv_ids: BTreeSet<String> = rows[1..].iter().map(|r| r[0].clone()).collect();
    assert_eq!(csv_ids, all);
    let tags = rows[0].iter().position(|h| h == "tags").unwrap();
    assert_eq!(
        rows[1..].iter().filter(|r| r[tags] == "fair-2026").count(),
        11
    );

    // The list's filters apply.
    let tagged: BTreeSet<String> = made
        .iter()
        .filter(|(_, t)| *t)
        .map(|(id, _)| id.to_string())
        .collect();
    let lines = ndjson(&app, "/v1/exports/customers?tag=fair-2026", &admin).await;
    assert_eq!(ids(&lines), tagged);
    // And the search: one name, whole.
    let lines = ndjson(
        &app,
        "/v1/exports/customers?q=Export%20Trading%20007",
        &admin,
    )
    .await;
    let found = ids(&lines);
    assert!(found.contains(&seven), "{found:?}");
    assert!(found.is_subset(&all));
    // Nothing matches: an empty NDJSON, a CSV of its header alone.
    assert!(
        ndjson(&app, "/v1/exports/customers?q=%2B%2B%2B", &admin)
            .await
            .is_empty()
    );
    let (_, _, text) = export(
        &app,
        "/v1/exports/customers?tag=none-such",
        &admin,
        Some("text/csv"),
    )
    .await;
    assert_eq!(text.lines().count(), 1, "{text}");
}

async fn an_export_applies_the_hygiene_filters_and_the_callers_view(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let other = app.user("sales_rep", None).await;
    let silent = app
        .customer(
            &admin,
            json!({"name": "Silent Lead", "lifecycle_stage": "lead", "owner_id": rep.id}),
        )
        .await;
    let called = app
        .customer(
            &admin,
            json!({"name": "Called Lead", "lifecycle_stage": "lead", "owner_id": rep.id}),
        )
        .await;
    let theirs = app
        .customer(
            &admin,
            json!({"name": "Their Lead", "lifecycle_stage": "lead", "owner_id": other.id}),
        )
        .await;
    app.post(
        "/v1/activities",
        &admin,
        json!({"customer_id": called, "kind": "call", "summary": "Hello"}),
    )
    .await
    .assert_status(201);

    let never = "/v1/exports/customers?lifecycle_stage=lead&contacted=false";
    let everyone = ndjson(&app, never, &admin).await;
    assert_eq!(
        ids(&everyone),
        BTreeSet::from([silent.to_string(), theirs.to_string()])
    );
    let rep_token = app.token_of(&rep).await;
    let mine = ndjson(&app, never, &rep_token).await;
    assert_eq!(ids(&mine), BTreeSet::from([silent.to_string()]));
    let mine = ndjson(&app, "/v1/exports/customers", &rep_token).await;
    assert_eq!(
        ids(&mine),
        BTreeSet::from([silent.to_string(), called.to_string()]),
        "a rep exports its own customers only"
    );
}

async fn an_export_masks_what_the_caller_sees_masked(app: TestApp) {
    let admin = app.admin_token().await;
    let number = "91350100M000100Y43";
    let id = app
        .customer(
            &admin,
            json!({"name": "Registered Co", "registration_number": number}),
        )
        .await;
    let auditor = app.user("auditor", None).await;
    let auditor = app.token_of(&auditor).await;
    let lines = ndjson(&app, "/v1/exports/customers", &auditor).await;
    assert_eq!(lines[0]["id"], json!(id));
    assert_eq!(lines[0]["registration_number"], "****0Y43");
    let (_, _, text) = export(&app, "/v1/exports/customers", &auditor, Some("text/csv")).await;
    assert!(
        text.contains("****0Y43") && !text.contains(number),
        "{text}"
    );
    // An admin (customers:pii) sees it whole.
    let lines = ndjson(&app, "/v1/exports/customers", &admin).await;
    assert_eq!(lines[0]["registration_number"], number);
}

async fn exports_are_refused_without_customers_read_or_with_bad_filters(app: TestApp) {
    let admin = app.admin_token().await;
    let path = "/v1/exports/customers";
    app.get(path, "not-a-token")
        .await
        .assert_problem(401, "unauthorized");
    let tickets_only = app.client_token(&["tickets:read"]).await;
    app.get(path, &tickets_only)
        .await
        .assert_problem(403, "forbidden");
    let rep = app.user("sales_rep", None).await;
    let rep = app.token_of(&rep).await;
    app.get(&format!("{path}?deleted=true"), &rep)
        .await
        .assert_problem(403, "forbidden");
    let bad = app
        .get(&format!("{path}?inactive_days=0&grade=gold"), &admin)
        .await;
    bad.assert_problem(400, "malformed_request");
    let fields: BTreeSet<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, BTreeSet::from(["inactive_days", "grade"]));
}
