//! Merging duplicates into one customer: the preview, the move of everything that hangs off
//! them, and the refusals.

use std::collections::BTreeSet;

use rapport_tests::{Reply, TestApp, backend_tests};
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    a_dry_run_answers_the_outcome_and_changes_nothing,
    a_merge_moves_everything_onto_the_survivor,
    merge_refuses_a_bad_duplicate_list,
    a_rep_cannot_merge_what_it_cannot_see,
    merging_needs_customers_write,
    only_customers_delete_retires_duplicates,
);

/// A customer with what hangs off it.
struct Record {
    id: Uuid,
    contacts: Vec<String>,
    activities: Vec<String>,
    tasks: Vec<String>,
}

/// Creates a customer (a prospect, so no follow-up task is made for it) with one activity and
/// one task.
async fn record(app: &TestApp, token: &str, mut body: Value) -> Record {
    body["lifecycle_stage"] = json!("prospect");
    let created = app
        .post("/v1/customers?allow_duplicate=true", token, body)
        .await;
    created.assert_status(201);
    let id: Uuid = created.body["id"].as_str().unwrap().parse().unwrap();
    let contacts = created.body["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let activity = app
        .post(
            "/v1/activities",
            token,
            json!({"customer_id": id, "kind": "call", "summary": "Talked about the order"}),
        )
        .await;
    activity.assert_status(201);
    let task = app
        .post(
            "/v1/tasks",
            token,
            json!({"customer_id": id, "title": "Send the quotation"}),
        )
        .await;
    task.assert_status(201);
    Record {
        id,
        contacts,
        activities: vec![activity.body["id"].as_str().unwrap().to_owned()],
        tasks: vec![task.body["id"].as_str().unwrap().to_owned()],
    }
}

/// The survivor and three duplicates, each with its own values.
async fn acme_and_duplicates(app: &TestApp, token: &str) -> (Record, Vec<Record>) {
    let survivor = record(
        app,
        token,
        json!({"name": "Acme", "tags": ["key-account"],
               "contacts": [{"first_name": "Sam", "emails": [{"address": "sam@acme.example"}]}]}),
    )
    .await;
    let first = record(
        app,
        token,
        json!({"name": "ACME Ltd", "industry": "manufacturing", "website": "https://acme.example",
               "tags": ["key-account", "2026-expo"],
               "contacts": [{"first_name": "Dee", "emails": [{"address": "dee@acme.example"}]}]}),
    )
    .await;
    let second = record(
        app,
        token,
        json!({"name": "Acme Co.", "website": "https://other.example", "tags": ["east"],
               "contacts": [{"first_name": "Kim"}, {"first_name": "Lou"}]}),
    )
    .await;
    let third = record(
        app,
        token,
        json!({"name": "acme", "description": "Met at the expo", "country": "CN",
               "registration_number": "91350100M000100Y43", "contacts": [{"first_name": "Max"}]}),
    )
    .await;
    (survivor, vec![first, second, third])
}

fn ids_of(reply: &Reply) -> BTreeSet<String> {
    reply.assert_status(200);
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

fn tags_of(customer: &Value) -> BTreeSet<String> {
    customer["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The merge events recorded about a customer.
async fn merge_events(app: &TestApp, id: Uuid) -> Vec<Value> {
    let admin = app.admin_token().await;
    let reply = app
        .get(
            &format!("/v1/audit-events?entity_id={id}&action=merge"),
            &admin,
        )
        .await;
    reply.assert_status(200);
    reply.body["data"].as_array().unwrap().clone()
}

async fn a_dry_run_answers_the_outcome_and_changes_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    let (survivor, dups) = acme_and_duplicates(&app, &admin).await;
    let (first, second) = (&dups[0], &dups[1]);
    let path = format!("/v1/customers/{}", survivor.id);
    let before = app.get(&path, &admin).await;
    let website = app
        .get(&format!("/v1/customers/{}", first.id), &admin)
        .await
        .body["website"]
        .clone();
    assert!(website.is_string());
    let events_before = app.audit_count(&survivor.id.to_string()).await;

    let preview = app
        .post(
            &format!("{path}/merge?dry_run=true"),
            &admin,
            json!({"duplicate_ids": [first.id, second.id]}),
        )
        .await;
    preview.assert_status(200);
    assert_eq!(preview.body["dry_run"], true);
    assert_eq!(preview.body["merged_ids"], json!([first.id, second.id]));
    assert_eq!(
        preview.body["moved"],
        json!({"contacts": 3, "activities": 2, "tasks": 2, "stage_changes": 2, "tickets": 0,
               "opportunities": 0, "quotes": 0, "orders": 0, "survey_invitations": 0,
               "grade_changes": 0})
    );
    let merged = &preview.body["survivor"];
    assert_eq!(merged["id"], json!(survivor.id));
    assert_eq!(merged["name"], "Acme", "the survivor's own values stay");
    assert_eq!(
        merged["website"], website,
        "filled from the first that has one"
    );
    assert_eq!(merged["industry"], "manufacturing");
    assert_eq!(tags_of(merged), set(["key-account", "2026-expo", "east"]));
    assert_eq!(merged["contacts"].as_array().unwrap().len(), 4);

    // Nothing changed.
    let after = app.get(&path, &admin).await;
    after.assert_status(200);
    assert_eq!(after.body["version"], before.body["version"]);
    assert_eq!(after.body["website"], json!(null));
    assert_eq!(tags_of(&after.body), set(["key-account"]));
    assert_eq!(after.body["contacts"].as_array().unwrap().len(), 1);
    for dup in [first, second] {
        let still = app.get(&format!("/v1/customers/{}", dup.id), &admin).await;
        still.assert_status(200);
        assert_eq!(still.body["merged_into_id"], json!(null));
        let activities = app
            .get(&format!("/v1/activities?customer_id={}", dup.id), &admin)
            .await;
        assert_eq!(
            ids_of(&activities),
            dup.activities.iter().cloned().collect()
        );
        let tasks = app
            .get(&format!("/v1/tasks?customer_id={}", dup.id), &admin)
            .await;
        assert_eq!(ids_of(&tasks), dup.tasks.iter().cloned().collect());
    }
    assert!(merge_events(&app, survivor.id).await.is_empty());
    assert_eq!(
        app.audit_count(&survivor.id.to_string()).await,
        events_before
    );
}

async fn a_merge_moves_everything_onto_the_survivor(app: TestApp) {
    let admin = app.admin_token().await;
    let (survivor, dups) = acme_and_duplicates(&app, &admin).await;
    let dup_ids: Vec<Uuid> = dups.iter().map(|d| d.id).collect();
    let path = format!("/v1/customers/{}", survivor.id);
    let before = app.get(&path, &admin).await;
    let first = app
        .get(&format!("/v1/customers/{}", dup_ids[0]), &admin)
        .await;
    let third = app
        .get(&format!("/v1/customers/{}", dup_ids[2]), &admin)
        .await;
    // A duplicate's deal goes with it.
    let deal = app
        .post(
            "/v1/opportunities",
            &admin,
            json!({"customer_id": dup_ids[1], "title": "Toner for a year"}),
        )
        .await;
    deal.assert_status(201);
    // So does a survey invitation to one of its contacts.
    let survey = app
        .post(
            "/v1/surveys",
            &admin,
            json!({"title": "How are we doing?", "questions": [{"kind": "csat", "text": "Happy?"}]}),
        )
        .await;
    survey.assert_status(201);
    let contact = first.body["contacts"][0]["id"].as_str().unwrap().to_owned();
    let invitation = app
        .post(
            &format!(
                "/v1/surveys/{}/invitations",
                survey.body["id"].as_str().unwrap()
            ),
            &admin,
            json!({"contact_id": contact}),
        )
        .await;
    invitation.assert_status(201);
    // And a grade set by hand, with its history.
    app.patch(
        &format!("/v1/customers/{}", dup_ids[2]),
        &admin,
        json!({"grade": "vip"}),
    )
    .await
    .assert_status(200);

    let merged = app
        .post(
            &format!("{path}/merge"),
            &admin,
            json!({"duplicate_ids": dup_ids}),
        )
        .await;
    merged.assert_status(200);
    assert_eq!(merged.body["dry_run"], false);
    assert_eq!(merged.body["merged_ids"], json!(dup_ids));
    assert_eq!(
        merged.body["moved"],
        json!({"contacts": 4, "activities": 3, "tasks": 3, "stage_changes": 3, "tickets": 0,
               "opportunities": 1, "quotes": 0, "orders": 0, "survey_invitations": 1,
               "grade_changes": 1})
    );
    let deal = app
        .get(
            &format!("/v1/opportunities/{}", deal.body["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(
        deal.body["customer_id"],
        json!(survivor.id),
        "the deal moved"
    );
    let moved = app
        .get(
            &format!(
                "/v1/surveys/{}/invitations/{}",
                survey.body["id"].as_str().unwrap(),
                invitation.body["id"].as_str().unwrap()
            ),
            &admin,
        )
        .await;
    assert_eq!(
        moved.body["customer_id"],
        json!(survivor.id),
        "the invitation moved"
    );
    let timeline = app
        .get(
            &format!("/v1/customers/{}/timeline?limit=200", survivor.id),
            &admin,
        )
        .await;
    timeline.assert_status(200);
    let grades: Vec<&Value> = timeline.body["data"]
        .as_array()
        .unwrap()
        .iter()
        // Grade changes by hand: the grading each new server runs once at start may grade the
        // survivor too (`changed_by` null), as it may any customer a test made meanwhile.
        .filter(|e| e["type"] == "grade_change" && !e["grade_change"]["changed_by"].is_null())
        .collect();
    assert_eq!(grades.len(), 1, "the grade change moved: {}", timeline.body);
    assert_eq!(grades[0]["grade_change"]["to"], "vip");

    // The duplicates are gone, and nothing is left hanging off them.
    for id in &dup_ids {
        app.get(&format!("/v1/customers/{id}"), &admin)
            .await
            .assert_problem(404, "not_found");
        let activities = app
            .get(&format!("/v1/activities?customer_id={id}"), &admin)
            .await;
        assert!(ids_of(&activities).is_empty(), "{}", activities.body);
        let tasks = app
            .get(&format!("/v1/tasks?customer_id={id}"), &admin)
            .await;
        assert!(ids_of(&tasks).is_empty(), "{}", tasks.body);
    }
    let deleted = app.get("/v1/customers?deleted=true", &admin).await;
    assert_eq!(
        ids_of(&deleted),
        dup_ids.iter().map(Uuid::to_string).collect()
    );
    for gone in deleted.body["data"].as_array().unwrap() {
        assert_eq!(gone["merged_into_id"], json!(survivor.id));
    }

    // The survivor holds everything.
    let everything = std::iter::once(&survivor).chain(&dups);
    let all_activities: BTreeSet<String> = everything
        .clone()
        .flat_map(|r| r.activities.iter().cloned())
        .collect();
    let all_tasks: BTreeSet<String> = everything
        .clone()
        .flat_map(|r| r.tasks.iter().cloned())
        .collect();
    let all_contacts: BTreeSet<String> = everything
        .flat_map(|r| r.contacts.iter().cloned())
        .collect();
    assert_eq!(all_activities.len(), 4);
    assert_eq!(all_contacts.len(), 5);
    let activities = app
        .get(
            &format!("/v1/activities?customer_id={}", survivor.id),
            &admin,
        )
        .await;
    assert_eq!(ids_of(&activities), all_activities);
    let tasks = app
        .get(&format!("/v1/tasks?customer_id={}", survivor.id), &admin)
        .await;
    assert_eq!(ids_of(&tasks), all_tasks);
    let contacts = app.get(&format!("{path}/contacts"), &admin).await;
    assert_eq!(ids_of(&contacts), all_contacts);
    let primaries: Vec<&Value> = contacts.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["is_primary"] == true)
        .collect();
    assert_eq!(primaries.len(), 1, "one primary contact");
    assert_eq!(primaries[0]["id"], json!(survivor.contacts[0]));

    // Its own values stay, its empty fields are filled, its tags are united.
    let after = app.get(&path, &admin).await;
    after.assert_status(200);
    assert_eq!(after.body, merged.body["survivor"]);
    assert_eq!(after.body["name"], "Acme");
    assert_eq!(after.body["website"], first.body["website"]);
    assert_eq!(after.body["industry"], "manufacturing");
    assert_eq!(after.body["description"], "Met at the expo");
    assert_eq!(
        after.body["registration_number"],
        third.body["registration_number"]
    );
    assert_eq!(after.body["country"], "CN");
    assert_eq!(
        tags_of(&after.body),
        set(["key-account", "2026-expo", "east"])
    );
    assert_eq!(
        after.body["version"],
        before.body["version"].as_i64().unwrap() + 1
    );

    // The duplicates' contacts now make the survivor a duplicate.
    let refused = app
        .post(
            "/v1/customers",
            &admin,
            json!({"name": "Dee's new firm", "contacts": [{"first_name": "Dee",
                   "emails": [{"address": "dee@acme.example"}]}]}),
        )
        .await;
    refused.assert_problem(409, "duplicate");
    assert_eq!(refused.body["duplicate_ids"], json!([survivor.id]));

    // One audit event tells the story.
    let events = merge_events(&app, survivor.id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["entity_type"], "customer");
    assert_eq!(events[0]["changes"]["merged_ids"], json!(dup_ids));
    for id in &dup_ids {
        assert!(merge_events(&app, *id).await.is_empty());
    }
}

async fn merge_refuses_a_bad_duplicate_list(app: TestApp) {
    let admin = app.admin_token().await;
    let survivor = app.customer(&admin, json!({"name": "Acme"})).await;
    let dup = app.customer(&admin, json!({"name": "ACME Ltd"})).await;
    let merge = |body: Value| {
        let app = &app;
        let admin = &admin;
        async move {
            app.post(&format!("/v1/customers/{survivor}/merge"), admin, body)
                .await
        }
    };
    let refusal = |reply: &Reply, field: &str, code: &str| {
        reply.assert_problem(422, "validation_failed");
        assert_eq!(
            reply.body["errors"],
            json!([{"field": field, "code": code, "message": reply.body["errors"][0]["message"]}]),
        );
    };

    let itself = merge(json!({"duplicate_ids": [survivor]})).await;
    refusal(&itself, "duplicate_ids[0]", "not_allowed");
    let unknown = merge(json!({"duplicate_ids": [dup, Uuid::now_v7()]})).await;
    refusal(&unknown, "duplicate_ids[1]", "unknown_reference");
    let twice = merge(json!({"duplicate_ids": [dup, dup]})).await;
    refusal(&twice, "duplicate_ids[1]", "duplicate");
    let empty = merge(json!({"duplicate_ids": []})).await;
    refusal(&empty, "duplicate_ids", "required");
    let absent = merge(json!({})).await;
    refusal(&absent, "duplicate_ids", "required");

    // A merged customer is no longer there to merge.
    let other = app.customer(&admin, json!({"name": "Acme Co."})).await;
    merge(json!({"duplicate_ids": [other]}))
        .await
        .assert_status(200);
    let again = merge(json!({"duplicate_ids": [other]})).await;
    refusal(&again, "duplicate_ids[0]", "unknown_reference");

    // Nothing but the one valid merge happened.
    app.get(&format!("/v1/customers/{dup}"), &admin)
        .await
        .assert_status(200);
    assert_eq!(merge_events(&app, survivor).await.len(), 1);

    app.post(
        &format!("/v1/customers/{}/merge", Uuid::now_v7()),
        &admin,
        json!({"duplicate_ids": [dup]}),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(&format!("/v1/customers/{dup}"), &admin)
        .await
        .assert_status(200);
}

async fn a_rep_cannot_merge_what_it_cannot_see(app: TestApp) {
    let team = app.team("East").await;
    let rep_a = app.user("sales_rep", Some(team)).await;
    let rep_b = app.user("sales_rep", Some(team)).await;
    let of_a = app.customer(&rep_a.token, json!({"name": "Acme"})).await;
    let of_b = app.customer(&rep_b.token, json!({"name": "ACME"})).await;

    let refused = app
        .post(
            &format!("/v1/customers/{of_a}/merge?dry_run=true"),
            &rep_a.token,
            json!({"duplicate_ids": [of_b]}),
        )
        .await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["duplicate_ids[0]"]);
    assert_eq!(refused.body["errors"][0]["code"], "unknown_reference");
    // Into a customer it cannot see: that customer does not exist for it.
    app.post(
        &format!("/v1/customers/{of_b}/merge?dry_run=true"),
        &rep_a.token,
        json!({"duplicate_ids": [of_a]}),
    )
    .await
    .assert_problem(404, "not_found");

    let kept = app
        .get(&format!("/v1/customers/{of_b}"), &rep_b.token)
        .await;
    kept.assert_status(200);
    assert_eq!(kept.body["merged_into_id"], json!(null));
    assert!(merge_events(&app, of_a).await.is_empty());
}

async fn merging_needs_customers_write(app: TestApp) {
    let admin = app.admin_token().await;
    let survivor = app.customer(&admin, json!({"name": "Acme"})).await;
    let dup = app.customer(&admin, json!({"name": "ACME"})).await;
    let path = format!("/v1/customers/{survivor}/merge");
    let body = json!({"duplicate_ids": [dup]});

    let marketing = app.user("marketing", None).await;
    let reader = app.client_token(&["customers:read"]).await;
    for token in [marketing.token.as_str(), reader.as_str()] {
        app.get(&format!("/v1/customers/{dup}"), token)
            .await
            .assert_status(200);
        app.post(&path, token, body.clone())
            .await
            .assert_problem(403, "forbidden");
    }
    app.get(&format!("/v1/customers/{dup}"), &admin)
        .await
        .assert_status(200);
    assert!(merge_events(&app, survivor).await.is_empty());
}

async fn only_customers_delete_retires_duplicates(app: TestApp) {
    let team = app.team("East").await;
    let manager = app.user("sales_manager", Some(team)).await;
    let rep = app.user("sales_rep", Some(team)).await;
    let survivor = app.customer(&rep.token, json!({"name": "Acme"})).await;
    let dup = app.customer(&rep.token, json!({"name": "ACME"})).await;
    let path = format!("/v1/customers/{survivor}/merge");
    let body = json!({"duplicate_ids": [dup]});

    for token in [rep.token.as_str(), manager.token.as_str()] {
        let preview = app
            .post(&format!("{path}?dry_run=true"), token, body.clone())
            .await;
        preview.assert_status(200);
        assert_eq!(preview.body["merged_ids"], json!([dup]));
        let refused = app.post(&path, token, body.clone()).await;
        refused.assert_problem(403, "forbidden");
        assert_eq!(refused.body["required_scope"], "customers:delete");
    }
    assert!(merge_events(&app, survivor).await.is_empty());
    app.get(&format!("/v1/customers/{dup}"), &rep.token)
        .await
        .assert_status(200);

    let integration = app
        .client_token(&["customers:read", "customers:write", "customers:delete"])
        .await;
    app.post(&path, &integration, body).await.assert_status(200);
    app.get(&format!("/v1/customers/{dup}"), &rep.token)
        .await
        .assert_problem(404, "not_found");
}
