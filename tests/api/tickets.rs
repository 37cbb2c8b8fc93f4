//! Service tickets over HTTP: opening and validation, the workflow, replies and notes, and who
//! sees which ticket.

use chrono::Duration;
use rapport_tests::{TestApp, backend_tests};
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    tickets_are_opened_and_validated,
    the_workflow_refuses_invalid_moves_and_reopens_within_its_window,
    the_first_public_reply_is_the_first_response,
    agents_see_their_teams_tickets_and_their_own,
    ticket_scopes_and_versions_are_enforced,
    tickets_follow_merges_exports_and_erasure,
    sales_reps_read_their_customers_tickets_on_the_timeline,
    unassigned_tickets_go_round_robin_or_to_the_least_loaded,
    read_notifications_are_purged_after_90_days,
);

/// Opens a ticket about `customer` as `token`, answering it.
async fn open(app: &TestApp, token: &str, customer: Uuid, extra: Value) -> Value {
    let mut body = json!({
        "customer_id": customer,
        "subject": "打印机卡纸 / printer jams",
        "channel": "wechat",
        "category": "complaint",
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let reply = app.post("/v1/tickets", token, body).await;
    reply.assert_status(201);
    reply.body
}

async fn move_to(app: &TestApp, token: &str, id: &str, status: &str) -> rapport_tests::Reply {
    app.patch(
        &format!("/v1/tickets/{id}"),
        token,
        json!({"status": status}),
    )
    .await
}

async fn tickets_are_opened_and_validated(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app
        .customer(
            &admin,
            json!({"name": "深圳张氏科技有限公司", "contacts": [{"first_name": "伟", "last_name": "王"}]}),
        )
        .await;
    let contact = app
        .get(&format!("/v1/customers/{customer}"), &admin)
        .await
        .body["contacts"][0]["id"]
        .clone();
    let agent = app.user("service_agent", None).await;
    let created = app
        .post(
            "/v1/tickets",
            &admin,
            json!({
                "customer_id": customer,
                "contact_id": contact,
                "subject": "Invoice is wrong",
                "description": "Billed twice for November.",
                "channel": "email",
                "category": "request",
                "priority": "high",
                "assignee_id": agent.id,
                "tags": ["Billing", "billing"],
            }),
        )
        .await;
    created.assert_status(201);
    let t = &created.body;
    let id = t["id"].as_str().unwrap();
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/tickets/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(
        (t["status"].as_str(), t["priority"].as_str()),
        (Some("new"), Some("high"))
    );
    assert_eq!(t["tags"], json!(["billing"]));
    assert_eq!(t["assignee_id"], json!(agent.id));
    assert_eq!(t["first_responded_at"], Value::Null);
    let got = app.get(&format!("/v1/tickets/{id}"), &admin).await;
    got.assert_status(200);
    assert_eq!(got.body, created.body);
    assert_eq!(app.audit_count(id).await, 1);

    // The default priority is normal.
    let plain = open(&app, &admin, customer, json!({})).await;
    assert_eq!(plain["priority"], "normal");

    // Every bad field is named at once; nothing is kept.
    let other = app.customer(&admin, json!({"name": "Other Ltd"})).await;
    let other_contact = app
        .post(
            &format!("/v1/customers/{other}/contacts"),
            &admin,
            json!({"first_name": "Bo"}),
        )
        .await
        .body["id"]
        .clone();
    let sales = app.user("sales_rep", None).await;
    let refused = app
        .post(
            "/v1/tickets",
            &admin,
            json!({
                "customer_id": customer,
                "contact_id": other_contact,
                "subject": " ",
                "channel": "fax",
                "category": "praise",
                "priority": "asap",
                "assignee_id": sales.id,
                "team_id": Uuid::now_v7(),
                "tags": ["no spaces"],
            }),
        )
        .await;
    refused.assert_problem(422, "validation_failed");
    let mut fields = refused.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "assignee_id",
            "category",
            "channel",
            "contact_id",
            "priority",
            "subject",
            "tags[0]",
            "team_id"
        ]
    );
    let missing = app.post("/v1/tickets", &admin, json!({})).await;
    let mut fields = missing.error_fields();
    fields.sort();
    assert_eq!(fields, ["category", "channel", "customer_id", "subject"]);
    let unknown = app
        .post("/v1/tickets", &admin, json!({"customer_id": Uuid::now_v7(), "subject": "x", "channel": "web", "category": "inquiry", "urgency": 1}))
        .await;
    assert_eq!(unknown.status, 422);
    let list = app
        .get(&format!("/v1/tickets?customer_id={customer}"), &admin)
        .await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 2);
}

async fn the_workflow_refuses_invalid_moves_and_reopens_within_its_window(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app
        .customer(&admin, json!({"name": "Northwind Traders"}))
        .await;
    let t = open(&app, &admin, customer, json!({})).await;
    let id = t["id"].as_str().unwrap();

    let refused = move_to(&app, &admin, id, "closed").await;
    refused.assert_problem(409, "invalid_transition");
    assert_eq!(
        refused.body["allowed"],
        json!(["open", "pending", "resolved"])
    );
    assert_eq!(
        (refused.body["from"].as_str(), refused.body["to"].as_str()),
        (Some("new"), Some("closed"))
    );

    move_to(&app, &admin, id, "open").await.assert_status(200);
    move_to(&app, &admin, id, "pending")
        .await
        .assert_status(200);
    let resolved = move_to(&app, &admin, id, "resolved").await;
    resolved.assert_status(200);
    assert!(resolved.body["resolved_at"].is_string());

    // Within the 7-day window it reopens; past it, only closing is left.
    app.clock.advance(Duration::days(6));
    let admin = app.admin_token().await;
    let reopened = move_to(&app, &admin, id, "reopened").await;
    reopened.assert_status(200);
    assert_eq!(reopened.body["resolved_at"], Value::Null);
    move_to(&app, &admin, id, "resolved")
        .await
        .assert_status(200);
    app.clock.advance(Duration::days(8));
    let admin = app.admin_token().await;
    let late = move_to(&app, &admin, id, "reopened").await;
    late.assert_problem(409, "invalid_transition");
    assert_eq!(late.body["allowed"], json!(["closed"]));
    let closed = move_to(&app, &admin, id, "closed").await;
    closed.assert_status(200);
    assert!(closed.body["closed_at"].is_string());
    let after = move_to(&app, &admin, id, "open").await;
    after.assert_problem(409, "invalid_transition");
    assert_eq!(after.body["allowed"], json!([]));
    let bad = move_to(&app, &admin, id, "archived").await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.error_fields(), ["status"]);
}

async fn the_first_public_reply_is_the_first_response(app: TestApp) {
    let admin = app.admin_token().await;
    let agent = app.user("service_agent", None).await;
    let customer = app.customer(&admin, json!({"name": "Contoso"})).await;
    let t = open(&app, &admin, customer, json!({"assignee_id": agent.id})).await;
    let id = t["id"].as_str().unwrap();
    let comments = format!("/v1/tickets/{id}/comments");

    let note = app
        .post(
            &comments,
            &agent.token,
            json!({"body": "Customer called twice."}),
        )
        .await;
    note.assert_status(201);
    assert_eq!(note.body["public"], false);
    let ticket = app.get(&format!("/v1/tickets/{id}"), &admin).await.body;
    assert_eq!(
        (ticket["status"].as_str(), &ticket["first_responded_at"]),
        (Some("new"), &Value::Null)
    );

    app.clock.advance(Duration::minutes(5));
    let reply = app
        .post(
            &comments,
            &agent.token,
            json!({"body": "A technician comes tomorrow.", "public": true}),
        )
        .await;
    reply.assert_status(201);
    assert_eq!(reply.body["author_id"], json!(agent.id));
    let ticket = app.get(&format!("/v1/tickets/{id}"), &admin).await.body;
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["first_responded_at"], reply.body["created_at"]);
    assert_eq!(ticket["version"], 2);

    // Later replies keep the first response.
    app.post(
        &comments,
        &agent.token,
        json!({"body": "Done.", "public": true}),
    )
    .await
    .assert_status(201);
    let again = app.get(&format!("/v1/tickets/{id}"), &admin).await.body;
    assert_eq!(again["first_responded_at"], ticket["first_responded_at"]);

    let listed = app.get(&comments, &admin).await;
    listed.assert_status(200);
    let bodies: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "Customer called twice.",
            "A technician comes tomorrow.",
            "Done."
        ]
    );
    let empty = app.post(&comments, &agent.token, json!({"body": ""})).await;
    empty.assert_problem(422, "validation_failed");
    assert_eq!(empty.error_fields(), ["body"]);
}

async fn agents_see_their_teams_tickets_and_their_own(app: TestApp) {
    let admin = app.admin_token().await;
    let (east, west) = (
        app.team("East service").await,
        app.team("West service").await,
    );
    let agent = app.user("service_agent", Some(east)).await;
    let colleague = app.user("service_agent", Some(east)).await;
    let stranger = app.user("service_agent", Some(west)).await;
    let manager = app.user("service_manager", None).await;
    let customer = app.customer(&admin, json!({"name": "Fabrikam"})).await;

    // Opened by an agent, a ticket goes to the agent's team.
    let ours = open(&app, &agent.token, customer, json!({})).await;
    assert_eq!(ours["team_id"], json!(east));
    let theirs = open(&app, &admin, customer, json!({"team_id": west})).await;
    let assigned = open(
        &app,
        &admin,
        customer,
        json!({"team_id": west, "assignee_id": agent.id}),
    )
    .await;

    let ids = |reply: rapport_tests::Reply| -> Vec<String> {
        let mut ids: Vec<String> = reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<&Value>| {
        v.sort_by_key(|t| t["id"].as_str().unwrap().to_owned());
        v.into_iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(app.get("/v1/tickets", &agent.token).await),
        sorted(vec![&ours, &assigned])
    );
    assert_eq!(
        ids(app.get("/v1/tickets", &colleague.token).await),
        sorted(vec![&ours])
    );
    assert_eq!(
        ids(app.get("/v1/tickets", &stranger.token).await),
        sorted(vec![&theirs, &assigned])
    );
    assert_eq!(ids(app.get("/v1/tickets", &manager.token).await).len(), 3);
    assert_eq!(
        ids(app.get("/v1/tickets?assignee_id=me", &agent.token).await),
        sorted(vec![&assigned])
    );

    // Outside the view: 404 for every operation on the ticket.
    let id = theirs["id"].as_str().unwrap();
    app.get(&format!("/v1/tickets/{id}"), &agent.token)
        .await
        .assert_problem(404, "not_found");
    move_to(&app, &agent.token, id, "open")
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/v1/tickets/{id}/comments"), &agent.token)
        .await
        .assert_problem(404, "not_found");
    app.post(
        &format!("/v1/tickets/{id}/comments"),
        &agent.token,
        json!({"body": "hi"}),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(&format!("/v1/tickets/{}", Uuid::now_v7()), &admin)
        .await
        .assert_problem(404, "not_found");

    // A deleted customer's tickets go with it.
    app.delete(&format!("/v1/customers/{customer}"), &admin)
        .await
        .assert_status(204);
    assert!(ids(app.get("/v1/tickets", &manager.token).await).is_empty());
    let ours_id = ours["id"].as_str().unwrap();
    app.get(&format!("/v1/tickets/{ours_id}"), &agent.token)
        .await
        .assert_problem(404, "not_found");
}

async fn ticket_scopes_and_versions_are_enforced(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app.customer(&admin, json!({"name": "Tailspin"})).await;
    let t = open(&app, &admin, customer, json!({})).await;
    let id = t["id"].as_str().unwrap();

    app.get("/v1/tickets", "").await.assert_status(401);
    for role in ["sales_rep", "marketing", "auditor"] {
        let user = app.user(role, None).await;
        app.get("/v1/tickets", &user.token)
            .await
            .assert_problem(403, "forbidden");
        app.get(&format!("/v1/tickets/{id}"), &user.token)
            .await
            .assert_problem(403, "forbidden");
    }
    let reader = app.client_token(&["tickets:read"]).await;
    app.get(&format!("/v1/tickets/{id}"), &reader)
        .await
        .assert_status(200);
    app.post("/v1/tickets", &reader, json!({}))
        .await
        .assert_problem(403, "forbidden");
    move_to(&app, &reader, id, "open")
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &format!("/v1/tickets/{id}/comments"),
        &reader,
        json!({"body": "x"}),
    )
    .await
    .assert_problem(403, "forbidden");

    // If-Match: a stale version is refused, the current one taken.
    let patch = |version: &'static str, body: Value| {
        let request = app
            .client
            .patch(app.url(&format!("/v1/tickets/{id}")))
            .bearer_auth(&admin)
            .header("if-match", version)
            .json(&body);
        async move { rapport_tests::read(request.send().await.unwrap()).await }
    };
    let stale = patch("\"7\"", json!({"priority": "urgent"})).await;
    stale.assert_problem(412, "precondition_failed");
    let fresh = patch("\"1\"", json!({"priority": "urgent", "tags": ["vip"]})).await;
    fresh.assert_status(200);
    assert_eq!(fresh.header("etag"), Some("\"2\""));
    assert_eq!(
        (fresh.body["priority"].as_str(), &fresh.body["tags"]),
        (Some("urgent"), &json!(["vip"]))
    );
    assert_eq!(app.audit_count(id).await, 2);
}

async fn tickets_follow_merges_exports_and_erasure(app: TestApp) {
    let admin = app.admin_token().await;
    let survivor = app
        .customer(&admin, json!({"name": "Adventure Works"}))
        .await;
    let duplicate = app
        .customer(&admin, json!({"name": "Adventure Works Ltd"}))
        .await;
    let t = open(
        &app,
        &admin,
        duplicate,
        json!({"description": "王伟 called about 13800138000"}),
    )
    .await;
    let id = t["id"].as_str().unwrap();
    app.post(
        &format!("/v1/tickets/{id}/comments"),
        &admin,
        json!({"body": "Called 王伟 back.", "public": true}),
    )
    .await
    .assert_status(201);

    let before = app.get(&format!("/v1/tickets/{id}"), &admin).await.body;
    app.clock.advance(Duration::minutes(1));
    let merged = app
        .post(
            &format!("/v1/customers/{survivor}/merge"),
            &admin,
            json!({"duplicate_ids": [duplicate]}),
        )
        .await;
    merged.assert_status(200);
    assert_eq!(merged.body["moved"]["tickets"], 1);
    let moved = app.get(&format!("/v1/tickets/{id}"), &admin).await;
    assert_eq!(moved.body["customer_id"], json!(survivor));
    // The move is a change of the ticket: a new version, changed now (the feeds see it).
    assert_eq!(
        moved.body["version"],
        before["version"].as_i64().unwrap() + 1
    );
    assert_ne!(moved.body["updated_at"], before["updated_at"]);

    let export = app
        .get(&format!("/v1/customers/{survivor}/export"), &admin)
        .await;
    export.assert_status(200);
    assert_eq!(export.body["tickets"][0]["id"], json!(id));
    assert_eq!(
        export.body["ticket_comments"][0]["body"],
        "Called 王伟 back."
    );

    app.post(
        &format!("/v1/customers/{survivor}/erase"),
        &admin,
        json!({}),
    )
    .await
    .assert_status(200);
    let erased = app.get(&format!("/v1/tickets/{id}"), &admin).await.body;
    assert_eq!(
        (erased["subject"].as_str(), &erased["description"]),
        (Some("[erased]"), &Value::Null)
    );
    assert_eq!(erased["category"], "complaint");
    let comments = app.get(&format!("/v1/tickets/{id}/comments"), &admin).await;
    assert_eq!(comments.body["data"][0]["body"], "[erased]");
}

async fn sales_reps_read_their_customers_tickets_on_the_timeline(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let other = app.user("sales_rep", None).await;
    let mine = app.customer(&rep.token, json!({"name": "Mine Co"})).await;
    let theirs = app
        .customer(&other.token, json!({"name": "Theirs Co"}))
        .await;
    let t = open(&app, &admin, mine, json!({})).await;
    app.clock.advance(Duration::minutes(1));
    app.post(
        "/v1/activities",
        &rep.token,
        json!({"customer_id": mine, "kind": "call", "summary": "Heard about the jam"}),
    )
    .await
    .assert_status(201);
    open(&app, &admin, theirs, json!({})).await;

    let timeline = app
        .get(&format!("/v1/customers/{mine}/timeline"), &rep.token)
        .await;
    timeline.assert_status(200);
    let kinds: Vec<&str> = timeline.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["activity", "ticket", "task", "stage_change"]);
    assert_eq!(timeline.body["data"][1]["ticket"]["id"], t["id"]);
    // Read only, and only there: no ticket scope.
    app.get(
        &format!("/v1/tickets/{}", t["id"].as_str().unwrap()),
        &rep.token,
    )
    .await
    .assert_problem(403, "forbidden");
    app.get(&format!("/v1/customers/{theirs}/timeline"), &rep.token)
        .await
        .assert_problem(404, "not_found");
}

async fn unassigned_tickets_go_round_robin_or_to_the_least_loaded(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app.customer(&admin, json!({"name": "Queue Co"})).await;
    let team_with = |name: &'static str, rule: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let reply = app
                .post(
                    "/v1/teams",
                    &admin,
                    json!({"name": name, "assignment": rule}),
                )
                .await;
            reply.assert_status(201);
            assert_eq!(reply.body["assignment"], rule);
            reply.body["id"].as_str().unwrap().parse::<Uuid>().unwrap()
        }
    };
    let assignees = |tickets: &[Value]| -> Vec<Value> {
        tickets.iter().map(|t| t["assignee_id"].clone()).collect()
    };

    // Round robin, skipping a disabled agent (and users of other roles).
    let turns = team_with("Turns", "round_robin").await;
    let a1 = app.user("service_agent", Some(turns)).await;
    let a2 = app.user("service_agent", Some(turns)).await;
    let away = app.user("service_agent", Some(turns)).await;
    app.user("service_manager", Some(turns)).await;
    app.post(&format!("/v1/users/{}/disable", away.id), &admin, json!({}))
        .await
        .assert_status(200);
    let mut made = Vec::new();
    for _ in 0..4 {
        made.push(open(&app, &admin, customer, json!({"team_id": turns})).await);
    }
    assert_eq!(
        assignees(&made),
        [json!(a1.id), json!(a2.id), json!(a1.id), json!(a2.id)]
    );
    let told = app.get("/v1/me/notifications", &a1.token).await;
    assert_eq!(told.body["data"].as_array().unwrap().len(), 2);

    // Least loaded: the agent with fewer active tickets, then in turn.
    let load = team_with("Load", "least_loaded").await;
    let b1 = app.user("service_agent", Some(load)).await;
    let b2 = app.user("service_agent", Some(load)).await;
    for _ in 0..2 {
        open(
            &app,
            &admin,
            customer,
            json!({"team_id": load, "assignee_id": b1.id}),
        )
        .await;
    }
    let mut made = Vec::new();
    for _ in 0..3 {
        made.push(open(&app, &admin, customer, json!({"team_id": load})).await);
    }
    assert_eq!(assignees(&made), [json!(b2.id), json!(b2.id), json!(b1.id)]);

    // No rule: the ticket waits in the team's queue.
    let manual = team_with("Manual", "none").await;
    app.user("service_agent", Some(manual)).await;
    let waiting = open(&app, &admin, customer, json!({"team_id": manual})).await;
    assert_eq!(waiting["assignee_id"], Value::Null);

    let bad = app
        .patch(
            &format!("/v1/teams/{manual}"),
            &admin,
            json!({"assignment": "random"}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.error_fields(), ["assignment"]);
}

/// A notification read 90 days ago leaves the inbox with the housekeeping job; one still
/// unread stays, however old.
async fn read_notifications_are_purged_after_90_days(app: TestApp) {
    let admin = app.admin_token().await;
    let agent = app.user("service_agent", None).await;
    let customer = app.customer(&admin, json!({"name": "Noisy Ltd"})).await;
    for subject in ["First", "Second"] {
        open(
            &app,
            &admin,
            customer,
            json!({"subject": subject, "assignee_id": agent.id}),
        )
        .await;
    }
    let inbox = |token: String| {
        let app = &app;
        async move {
            let reply = app.get("/v1/me/notifications", &token).await;
            reply.assert_status(200);
            reply.body["data"].as_array().unwrap().clone()
        }
    };
    let notes = inbox(agent.token.clone()).await;
    assert_eq!(notes.len(), 2, "{notes:?}");
    let (unread, read) = (notes[0]["id"].clone(), notes[1]["id"].clone());
    app.post(
        &format!("/v1/me/notifications/{}/read", read.as_str().unwrap()),
        &agent.token,
        json!({}),
    )
    .await
    .assert_status(200);
    let ids = |notes: &[Value]| notes.iter().map(|n| n["id"].clone()).collect::<Vec<_>>();

    // 89 days on, both are kept (with the SLA's notifications since).
    app.clock.advance(chrono::Duration::days(89));
    let token = app.token_of(&agent).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let kept = ids(&inbox(token.clone()).await);
    assert!(kept.contains(&read) && kept.contains(&unread), "{kept:?}");

    // Past 90 days, the read one goes with the next housekeeping run; the unread stay.
    app.clock.advance(chrono::Duration::days(2));
    let token = app.token_of(&agent).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let notes = inbox(token.clone()).await;
        if !ids(&notes).contains(&read) {
            assert!(ids(&notes).contains(&unread), "{notes:?}");
            assert!(notes.iter().all(|n| n["read"] == false), "{notes:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still {notes:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
