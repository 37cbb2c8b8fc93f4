//! The audit trail: one event per write, none for a failed write, filters and access.

use rapport_tests::{TestApp, USER_PASSWORD, backend_tests};
use serde_json::json;

backend_tests!(
    every_write_leaves_exactly_one_event,
    a_failed_write_leaves_no_event,
    events_record_who_what_when_and_from_where,
    audit_trail_filters_and_pages,
    only_audit_read_sees_the_trail,
);

async fn every_write_leaves_exactly_one_event(app: TestApp) {
    let admin = app.admin_token().await;
    let created = app
        .post("/v1/users", &admin, json!({"email": "a@rapport.test", "name": "A", "role": "sales_rep", "password": USER_PASSWORD}))
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.audit_count(&id).await, 1);
    app.patch(&format!("/v1/users/{id}"), &admin, json!({"name": "B"}))
        .await
        .assert_status(200);
    assert_eq!(app.audit_count(&id).await, 2);
    app.post(&format!("/v1/users/{id}/disable"), &admin, json!({}))
        .await
        .assert_status(200);
    assert_eq!(app.audit_count(&id).await, 3);
    app.post(&format!("/v1/users/{id}/reset-password"), &admin, json!({}))
        .await
        .assert_status(200);
    assert_eq!(app.audit_count(&id).await, 4);

    let team = app.post("/v1/teams", &admin, json!({"name": "T"})).await;
    let team_id = team.body["id"].as_str().unwrap().to_owned();
    app.patch(
        &format!("/v1/teams/{team_id}"),
        &admin,
        json!({"name": "T2"}),
    )
    .await
    .assert_status(200);
    app.delete(&format!("/v1/teams/{team_id}"), &admin)
        .await
        .assert_status(204);
    assert_eq!(app.audit_count(&team_id).await, 3);
}

async fn a_failed_write_leaves_no_event(app: TestApp) {
    let admin = app.admin_token().await;
    let before = user_creations(&app, &admin).await;
    app.post("/v1/users", &admin, json!({"email": "dup@rapport.test", "name": "A", "role": "auditor", "password": USER_PASSWORD}))
        .await
        .assert_status(201);
    assert_eq!(user_creations(&app, &admin).await, before + 1);
    // Refused after the insert was tried (a duplicate) and before it (validation): no event.
    app.post("/v1/users", &admin, json!({"email": "dup@rapport.test", "name": "A", "role": "auditor", "password": USER_PASSWORD}))
        .await
        .assert_problem(409, "duplicate");
    app.post(
        "/v1/users",
        &admin,
        json!({"email": "bad", "name": "A", "role": "auditor"}),
    )
    .await
    .assert_status(422);
    assert_eq!(user_creations(&app, &admin).await, before + 1);
    // A stale update changes nothing and records nothing.
    let rep = app.user("sales_rep", None).await;
    let count = app.audit_count(&rep.id.to_string()).await;
    let stale = app
        .client
        .patch(app.url(&format!("/v1/users/{}", rep.id)))
        .bearer_auth(&admin)
        .header("if-match", "\"9\"")
        .json(&json!({"name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    assert_eq!(app.audit_count(&rep.id.to_string()).await, count);
}

async fn events_record_who_what_when_and_from_where(app: TestApp) {
    let admin = app.admin_token().await;
    let me = app.get("/v1/me", &admin).await;
    let response = app
        .client
        .post(app.url("/v1/users"))
        .bearer_auth(&admin)
        .header("x-request-id", "trace-me-123")
        .json(&json!({"email": "who@rapport.test", "name": "Who", "role": "auditor", "password": USER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
    let created = rapport_tests::read(response).await;
    let id = created.body["id"].as_str().unwrap();
    let events = app
        .get(&format!("/v1/audit-events?entity_id={id}"), &admin)
        .await;
    let event = &events.body["data"][0];
    assert_eq!(event["actor_type"], "user");
    assert_eq!(event["actor_id"], me.body["id"]);
    assert_eq!(event["entity_type"], "user");
    assert_eq!(event["action"], "create");
    assert_eq!(event["request_id"], "trace-me-123");
    assert_eq!(event["ip"], "127.0.0.1");
    assert_eq!(event["changes"]["email"]["after"], "who@rapport.test");
    let text = events.body.to_string();
    assert!(
        !text.contains(USER_PASSWORD) && !text.contains("argon2"),
        "secrets in the audit trail"
    );
}

async fn audit_trail_filters_and_pages(app: TestApp) {
    let admin = app.admin_token().await;
    for i in 0..5 {
        app.post("/v1/teams", &admin, json!({"name": format!("Team {i}")}))
            .await
            .assert_status(201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/audit-events?entity_type=team&limit=2&cursor={c}"),
            None => "/v1/audit-events?entity_type=team&limit=2".to_owned(),
        };
        let page = app.get(&path, &admin).await;
        page.assert_status(200);
        for e in page.body["data"].as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "no event twice");
    let future = app
        .get("/v1/audit-events?from=2999-01-01T00:00:00Z", &admin)
        .await;
    assert_eq!(future.body["data"].as_array().unwrap().len(), 0);
    app.get("/v1/audit-events?from=yesterday", &admin)
        .await
        .assert_problem(400, "malformed_request");
    app.get("/v1/audit-events?limit=0", &admin)
        .await
        .assert_problem(400, "malformed_request");
    app.get("/v1/audit-events?cursor=garbage", &admin)
        .await
        .assert_problem(400, "malformed_request");
}

async fn only_audit_read_sees_the_trail(app: TestApp) {
    let auditor = app.user("auditor", None).await;
    app.get("/v1/audit-events", &auditor.token)
        .await
        .assert_status(200);
    let manager = app.user("sales_manager", None).await;
    app.get("/v1/audit-events", &manager.token)
        .await
        .assert_problem(403, "forbidden");
}

async fn user_creations(app: &TestApp, admin: &str) -> usize {
    let reply = app
        .get(
            "/v1/audit-events?entity_type=user&action=create&limit=200",
            admin,
        )
        .await;
    reply.body["data"].as_array().unwrap().len()
}
