//! Activities, tasks and the customer timeline.

use chrono::Duration;
use rapport_tests::{TestApp, backend_tests};
use serde_json::{Value, json};

backend_tests!(
    activities_are_recorded_and_listed,
    activity_refusals,
    a_note_changed_to_a_call_is_the_first_contact,
    tasks_are_assigned_and_completed,
    tasks_of_others_are_invisible,
    records_of_deleted_customers_leave_lists,
    timeline_merges_everything_in_time_order,
    timeline_pages_reach_backdated_entries,
    timeline_shows_tasks_only_with_tasks_read,
    task_access_follows_customer_access,
);

async fn activities_are_recorded_and_listed(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    let customer = app
        .post(
            "/v1/customers",
            &rep.token,
            json!({"name": "Talkative", "contacts": [{"first_name": "Ann"}]}),
        )
        .await;
    let id = customer.body["id"].as_str().unwrap().to_owned();
    let contact = customer.body["contacts"][0]["id"].clone();
    let at = "2026-11-01T09:30:00Z";
    let created = app
        .post(
            "/v1/activities",
            &rep.token,
            json!({"customer_id": id, "contact_id": contact, "kind": "meeting", "direction": "outbound", "channel": "in_person", "occurred_at": at, "summary": "Demo", "outcome": "Wants a quote"}),
        )
        .await;
    created.assert_status(201);
    assert_eq!(created.body["recorded_by"], json!(rep.id));
    let activity = created.body["id"].as_str().unwrap().to_owned();
    let after = app.get(&format!("/v1/customers/{id}"), &rep.token).await;
    assert_eq!(after.body["last_activity_at"], at);
    assert_eq!(after.body["first_contacted_at"], at);
    let listed = app
        .get(
            &format!("/v1/activities?customer_id={id}&kind=meeting"),
            &rep.token,
        )
        .await;
    assert_eq!(listed.body["data"][0]["id"], json!(activity));
    let changed = app
        .patch(
            &format!("/v1/activities/{activity}"),
            &rep.token,
            json!({"outcome": null, "summary": "Demo day"}),
        )
        .await;
    changed.assert_status(200);
    assert_eq!(changed.body["outcome"], Value::Null);
    app.delete(&format!("/v1/activities/{activity}"), &rep.token)
        .await
        .assert_status(204);
    app.get(&format!("/v1/activities/{activity}"), &rep.token)
        .await
        .assert_problem(404, "not_found");
}

async fn activity_refusals(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    let other = app.user("sales_rep", None).await;
    let mine = app.customer(&rep.token, json!({"name": "Mine"})).await;
    let theirs = app.customer(&other.token, json!({"name": "Theirs"})).await;
    let bad = app
        .post(
            "/v1/activities",
            &rep.token,
            json!({"customer_id": theirs, "kind": "telepathy", "contact_id": uuid::Uuid::now_v7()}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, ["customer_id", "kind", "summary"]);
    let activity = app
        .post(
            "/v1/activities",
            &rep.token,
            json!({"customer_id": mine, "kind": "call", "summary": "Hi"}),
        )
        .await;
    let id = activity.body["id"].as_str().unwrap();
    app.get(&format!("/v1/activities/{id}"), &other.token)
        .await
        .assert_problem(404, "not_found");
    let auditor = app.user("auditor", None).await;
    app.post(
        "/v1/activities",
        &auditor.token,
        json!({"customer_id": mine, "kind": "call", "summary": "x"}),
    )
    .await
    .assert_problem(403, "forbidden");
    assert_eq!(
        app.get("/v1/activities", &other.token).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
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

async fn tasks_are_assigned_and_completed(app: TestApp) {
    let manager = app.user("sales_manager", None).await;
    let rep = app.user("sales_rep", None).await;
    let due = (chrono::Utc::now() + Duration::hours(2)).to_rfc3339();
    let created = app
        .post(
            "/v1/tasks",
            &manager.token,
            json!({"title": "Send the quotation", "assignee_id": rep.id, "due_at": due}),
        )
        .await;
    created.assert_status(201);
    assert_eq!(created.body["status"], "open");
    assert_eq!(created.body["overdue"], false);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let mine = app.get("/v1/tasks?assignee_id=me", &rep.token).await;
    assert_eq!(mine.body["data"][0]["id"], json!(id));
    assert_eq!(
        app.get("/v1/tasks?assignee_id=me&overdue=true", &rep.token)
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    app.clock.advance(Duration::hours(3));
    let rep_token = app.token_of(&rep).await;
    let overdue = app
        .get("/v1/tasks?assignee_id=me&overdue=true", &rep_token)
        .await;
    assert_eq!(overdue.body["data"][0]["overdue"], true);
    let done = app
        .patch(
            &format!("/v1/tasks/{id}"),
            &rep_token,
            json!({"status": "done"}),
        )
        .await;
    done.assert_status(200);
    assert!(done.body["completed_at"].is_string());
    assert_eq!(
        app.get("/v1/tasks?assignee_id=me&overdue=true", &rep_token)
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let reopened = app
        .patch(
            &format!("/v1/tasks/{id}"),
            &rep_token,
            json!({"status": "open"}),
        )
        .await;
    assert_eq!(reopened.body["completed_at"], Value::Null);
    let bad = app
        .post(
            "/v1/tasks",
            &rep_token,
            json!({"assignee_id": uuid::Uuid::now_v7(), "status": "done"}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    app.get("/v1/tasks?assignee_id=someone", &rep_token)
        .await
        .assert_problem(400, "malformed_request");
    let marketing = app.user("marketing", None).await;
    app.get("/v1/tasks", &marketing.token)
        .await
        .assert_problem(403, "forbidden");
}

async fn tasks_of_others_are_invisible(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    let other = app.user("sales_rep", None).await;
    let customer = app
        .customer(
            &rep.token,
            json!({"name": "Private", "lifecycle_stage": "customer"}),
        )
        .await;
    let task = app
        .post(
            "/v1/tasks",
            &rep.token,
            json!({"title": "Mine", "customer_id": customer}),
        )
        .await;
    task.assert_status(201);
    let id = task.body["id"].as_str().unwrap();
    app.get(&format!("/v1/tasks/{id}"), &other.token)
        .await
        .assert_problem(404, "not_found");
    app.patch(
        &format!("/v1/tasks/{id}"),
        &other.token,
        json!({"status": "done"}),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(
        app.get("/v1/tasks", &other.token).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let on_theirs = app
        .post(
            "/v1/tasks",
            &other.token,
            json!({"title": "Snoop", "customer_id": customer}),
        )
        .await;
    on_theirs.assert_problem(422, "validation_failed");
    assert_eq!(on_theirs.body["errors"][0]["field"], "customer_id");
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

async fn timeline_merges_everything_in_time_order(app: TestApp) {
    let admin = app.admin_token().await;
    let id = app.customer(&admin, json!({"name": "Story"})).await;
    app.post("/v1/activities", &admin, json!({"customer_id": id, "kind": "email", "summary": "Hello", "occurred_at": "2020-01-01T00:00:00Z"}))
        .await
        .assert_status(201);
    app.patch(
        &format!("/v1/customers/{id}"),
        &admin,
        json!({"lifecycle_stage": "prospect"}),
    )
    .await
    .assert_status(200);
    app.post(
        "/v1/activities",
        &admin,
        json!({"customer_id": id, "kind": "call", "summary": "Call"}),
    )
    .await
    .assert_status(201);
    let mut entries: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/customers/{id}/timeline?limit=2&cursor={c}"),
            None => format!("/v1/customers/{id}/timeline?limit=2"),
        };
        let page = app.get(&path, &admin).await;
        page.assert_status(200);
        entries.extend(page.body["data"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    // Newest first: the call, the stage change, the follow-up task and creation stage, and the
    // back-dated email last.
    assert_eq!(kinds.len(), 5, "{kinds:?}");
    assert_eq!(kinds[0], "activity");
    assert_eq!(kinds[1], "stage_change");
    assert_eq!(*kinds.last().unwrap(), "activity");
    let times: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
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

/// The ids of `GET path`'s tasks.
async fn task_ids(app: &TestApp, path: &str, token: &str) -> Vec<String> {
    let reply = app.get(path, token).await;
    reply.assert_status(200);
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn task_access_follows_customer_access(app: TestApp) {
    let team = app.team("East").await;
    let manager = app.user("sales_manager", Some(team)).await;
    let rep_a = app.user("sales_rep", Some(team)).await;
    let rep_b = app.user("sales_rep", Some(team)).await;
    let customer = app
        .customer(&rep_a.token, json!({"name": "Lost Account"}))
        .await;
    let about = app
        .post(
            "/v1/tasks",
            &rep_a.token,
            json!({"customer_id": customer, "title": "Send the price list"}),
        )
        .await;
    about.assert_status(201);
    let about = about.body["id"].as_str().unwrap().to_owned();
    let loose = app
        .post(
            "/v1/tasks",
            &rep_a.token,
            json!({"title": "Expense report"}),
        )
        .await;
    loose.assert_status(201);
    let loose = loose.body["id"].as_str().unwrap().to_owned();
    assert!(
        task_ids(&app, "/v1/tasks", &rep_a.token)
            .await
            .contains(&about)
    );

    // The customer goes to rep B: rep A's task about it goes out of rep A's sight.
    app.patch(
        &format!("/v1/customers/{customer}"),
        &manager.token,
        json!({"owner_id": rep_b.id}),
    )
    .await
    .assert_status(200);
    app.get(&format!("/v1/tasks/{about}"), &rep_a.token)
        .await
        .assert_problem(404, "not_found");
    app.patch(
        &format!("/v1/tasks/{about}"),
        &rep_a.token,
        json!({"status": "done"}),
    )
    .await
    .assert_problem(404, "not_found");
    let of_a = task_ids(&app, "/v1/tasks?assignee_id=me", &rep_a.token).await;
    assert_eq!(of_a, std::slice::from_ref(&loose));
    assert!(
        task_ids(
            &app,
            &format!("/v1/tasks?customer_id={customer}"),
            &rep_a.token
        )
        .await
        .is_empty()
    );
    app.get(&format!("/v1/tasks/{about}"), &rep_b.token)
        .await
        .assert_status(200);
    app.get(&format!("/v1/tasks/{loose}"), &rep_b.token)
        .await
        .assert_problem(404, "not_found");

    // A client that may read tasks but not customers sees no customer's tasks.
    let tasks_only = app.client_token(&["tasks:read"]).await;
    let seen = task_ids(&app, "/v1/tasks?limit=200", &tasks_only).await;
    assert!(!seen.contains(&about), "{seen:?}");
    app.get(&format!("/v1/tasks/{about}"), &tasks_only)
        .await
        .assert_problem(404, "not_found");
    let with_customers = app.client_token(&["tasks:read", "customers:read"]).await;
    app.get(&format!("/v1/tasks/{about}"), &with_customers)
        .await
        .assert_status(200);
}
