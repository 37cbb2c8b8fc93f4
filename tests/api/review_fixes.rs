//! Rules found missing in review: each test is a scenario that went wrong before.

use rapport_tests::{TestApp, backend_tests};
use serde_json::{Value, json};

backend_tests!(
    a_merged_duplicate_cannot_be_restored,
    a_lead_with_the_longest_name_is_created,
    timeline_pages_reach_backdated_entries,
    timeline_shows_tasks_only_with_tasks_read,
    a_team_with_customers_cannot_be_deleted,
    records_of_deleted_customers_leave_lists,
    a_new_owner_takes_over_the_follow_up_task,
    a_note_changed_to_a_call_is_the_first_contact,
    guessing_the_current_password_is_rate_limited,
);

async fn a_merged_duplicate_cannot_be_restored(app: TestApp) {
    let admin = app.admin_token().await;
    let survivor = app.customer(&admin, json!({"name": "Keep"})).await;
    let duplicate = app.customer(&admin, json!({"name": "Fold"})).await;
    app.post(
        &format!("/v1/customers/{survivor}/merge"),
        &admin,
        json!({"duplicate_ids": [duplicate]}),
    )
    .await
    .assert_status(200);
    app.post(
        &format!("/v1/customers/{duplicate}/restore"),
        &admin,
        json!({}),
    )
    .await
    .assert_problem(409, "conflict");
}

async fn a_lead_with_the_longest_name_is_created(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    let name = "深".repeat(200);
    let created = app
        .post("/v1/customers", &rep.token, json!({"name": name}))
        .await;
    created.assert_status(201);
    let tasks = app.get("/v1/tasks?assignee_id=me", &rep.token).await;
    assert_eq!(
        tasks.body["data"][0]["title"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        200
    );
}

async fn timeline_pages_reach_backdated_entries(app: TestApp) {
    let admin = app.admin_token().await;
    let id = app
        .customer(
            &admin,
            json!({"name": "History", "lifecycle_stage": "customer"}),
        )
        .await;
    for day in 1..=4 {
        app.post(
            "/v1/activities",
            &admin,
            json!({"customer_id": id, "kind": "email", "summary": format!("Day {day}"), "occurred_at": format!("2020-01-0{day}T00:00:00Z")}),
        )
        .await
        .assert_status(201);
    }
    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/customers/{id}/timeline?limit=2&cursor={c}"),
            None => format!("/v1/customers/{id}/timeline?limit=2"),
        };
        let page = app.get(&path, &admin).await;
        seen += page.body["data"].as_array().unwrap().len();
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, 5, "one stage change and four activities");
}

async fn timeline_shows_tasks_only_with_tasks_read(app: TestApp) {
    let admin = app.admin_token().await;
    let id = app.customer(&admin, json!({"name": "Busy"})).await;
    let kinds = |body: &Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect()
    };
    let full = app
        .get(&format!("/v1/customers/{id}/timeline"), &admin)
        .await;
    assert!(
        kinds(&full.body).contains(&"task".to_owned()),
        "the lead's follow-up task"
    );
    let auditor = app.user("auditor", None).await;
    let partial = app
        .get(&format!("/v1/customers/{id}/timeline"), &auditor.token)
        .await;
    partial.assert_status(200);
    assert!(!kinds(&partial.body).contains(&"task".to_owned()));
}

async fn a_team_with_customers_cannot_be_deleted(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app.team("Accounts").await;
    app.customer(&admin, json!({"name": "Held", "team_id": team}))
        .await;
    app.delete(&format!("/v1/teams/{team}"), &admin)
        .await
        .assert_problem(409, "conflict");
}

async fn records_of_deleted_customers_leave_lists(app: TestApp) {
    let admin = app.admin_token().await;
    let id = app.customer(&admin, json!({"name": "Soon gone"})).await;
    app.post(
        "/v1/activities",
        &admin,
        json!({"customer_id": id, "kind": "call", "summary": "Hi"}),
    )
    .await
    .assert_status(201);
    let count = |path: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.get(path, &admin).await.body["data"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(count("/v1/activities").await, 1);
    assert_eq!(count("/v1/tasks").await, 1);
    app.delete(&format!("/v1/customers/{id}"), &admin)
        .await
        .assert_status(204);
    assert_eq!(count("/v1/activities").await, 0);
    assert_eq!(count("/v1/tasks").await, 0);
}

async fn a_new_owner_takes_over_the_follow_up_task(app: TestApp) {
    let team = app.team("Sales").await;
    let manager = app.user("sales_manager", Some(team)).await;
    let first = app.user("sales_rep", Some(team)).await;
    let second = app.user("sales_rep", Some(team)).await;
    let id = app
        .customer(&first.token, json!({"name": "Handover"}))
        .await;
    app.patch(
        &format!("/v1/customers/{id}"),
        &manager.token,
        json!({"owner_id": second.id}),
    )
    .await
    .assert_status(200);
    let theirs = app.get("/v1/tasks?assignee_id=me", &second.token).await;
    assert_eq!(theirs.body["data"][0]["origin"], "lead_follow_up");
    let mine = app.get("/v1/tasks?assignee_id=me", &first.token).await;
    assert_eq!(mine.body["data"].as_array().unwrap().len(), 0);
}

async fn a_note_changed_to_a_call_is_the_first_contact(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    let id = app.customer(&rep.token, json!({"name": "Misfiled"})).await;
    let note = app
        .post(
            "/v1/activities",
            &rep.token,
            json!({"customer_id": id, "kind": "note", "summary": "Rang them"}),
        )
        .await;
    let activity = note.body["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/customers/{id}"), &rep.token)
            .await
            .body["first_contacted_at"],
        Value::Null
    );
    app.patch(
        &format!("/v1/activities/{activity}"),
        &rep.token,
        json!({"kind": "call"}),
    )
    .await
    .assert_status(200);
    let customer = app.get(&format!("/v1/customers/{id}"), &rep.token).await;
    assert!(customer.body["first_contacted_at"].is_string());
    let tasks = app
        .get(&format!("/v1/tasks?customer_id={id}"), &rep.token)
        .await;
    assert_eq!(tasks.body["data"][0]["status"], "done");
}

async fn guessing_the_current_password_is_rate_limited(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let reply = app
            .post("/v1/me/password", &rep.token, json!({"current_password": "guess-guess-guess", "new_password": "new-password-123"}))
            .await;
        statuses.push(reply.status.as_u16());
    }
    assert!(statuses[..5].iter().all(|s| *s == 422), "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
}
