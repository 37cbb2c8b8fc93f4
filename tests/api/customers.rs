//! Customers and contacts: standardized fields, validation, ownership, lifecycle, lead
//! follow-up, safe writes.

use chrono::{DateTime, Duration, Utc};
use rapport_tests::{TestApp, backend_tests};
use serde_json::{Value, json};

backend_tests!(region = "CN"; chinese_phones_are_stored_in_e164);
backend_tests!(
    us_phones_are_stored_in_e164,
    customer_with_contacts_is_created_and_read_back,
    five_bad_fields_make_one_422_and_write_nothing,
    messages_follow_accept_language,
    conflicts_are_explained_in_the_callers_language,
    sales_reps_see_only_their_own_customers,
    managers_see_their_team_and_reassign_within_it,
    server_fields_and_reassignment_are_refused,
    lifecycle_moves_follow_the_rules,
    new_leads_get_a_due_time_and_a_follow_up_task,
    a_lead_with_the_longest_name_is_created,
    a_new_owner_takes_over_the_follow_up_task,
    patch_null_clears_and_stale_if_match_is_412,
    delete_and_restore,
    a_merged_duplicate_cannot_be_restored,
    contacts_have_their_own_routes,
);

fn customer_body(name: &str) -> Value {
    json!({
        "name": name,
        "kind": "enterprise",
        "industry": "information_technology",
        "size": "medium",
        "tags": ["key-account", "2026-expo"],
        "source": "event",
        "channel": "wechat",
        "website": "zhangshi.example.cn",
        "country": "CN",
        "registration_number": "91350100M000100Y43",
        "addresses": [{"label": "billing", "line1": "88 Century Avenue", "city": "Shanghai", "country": "cn"}],
        "external_ids": {"erp": "C-1001"},
        "contacts": [{
            "first_name": "Lei",
            "last_name": "Li",
            "title": "Purchasing manager",
            "emails": [{"address": "Li.Lei@Example.CN", "label": "work"}],
            "phones": [{"number": "+86 138 0013 8000", "label": "mobile"}],
            "preferred_channel": "wechat",
            "marketing_consent": {"granted": true, "source": "web_form"}
        }]
    })
}

async fn chinese_phones_are_stored_in_e164(app: TestApp) {
    let admin = app.admin_token().await;
    let reply = app
        .post("/v1/customers", &admin, json!({"name": "CN", "contacts": [{"first_name": "伟", "phones": [{"number": "138 0013 8000"}]}]}))
        .await;
    reply.assert_status(201);
    assert_eq!(
        reply.body["contacts"][0]["phones"][0]["number"],
        "+8613800138000"
    );
    assert_eq!(reply.body["contacts"][0]["phones"][0]["label"], "mobile");
}

async fn us_phones_are_stored_in_e164(app: TestApp) {
    let admin = app.admin_token().await;
    let reply = app
        .post("/v1/customers", &admin, json!({"name": "US", "contacts": [{"first_name": "Ann", "phones": [{"number": "(415) 555-2671", "label": "work"}]}]}))
        .await;
    reply.assert_status(201);
    assert_eq!(
        reply.body["contacts"][0]["phones"][0]["number"],
        "+14155552671"
    );
}

async fn customer_with_contacts_is_created_and_read_back(app: TestApp) {
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/v1/customers",
            &admin,
            customer_body("深圳张氏科技有限公司"),
        )
        .await;
    created.assert_status(201);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/customers/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    let c = &created.body;
    assert_eq!(c["website"], "https://zhangshi.example.cn/");
    assert_eq!(c["addresses"][0]["country"], "CN");
    assert_eq!(c["grade"], "standard");
    assert_eq!(c["lifecycle_stage"], "lead");
    let contact = &c["contacts"][0];
    assert_eq!(contact["emails"][0]["address"], "li.lei@example.cn");
    assert_eq!(contact["phones"][0]["number"], "+8613800138000");
    assert_eq!(contact["is_primary"], true);
    assert_eq!(contact["marketing_consent"]["granted"], true);
    assert_eq!(contact["marketing_consent"]["source"], "web_form");
    assert!(contact["marketing_consent"]["at"].is_string());

    let got = app.get(&format!("/v1/customers/{id}"), &admin).await;
    got.assert_status(200);
    assert_eq!(got.body["contacts"][0]["id"], contact["id"]);
    assert_eq!(got.body["registration_number"], "91350100M000100Y43");
    assert_eq!(got.body["external_ids"]["erp"], "C-1001");
    assert_eq!(app.audit_count(id).await, 1);
}

async fn five_bad_fields_make_one_422_and_write_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    let reply = app
        .post(
            "/v1/customers",
            &admin,
            json!({
                "name": "Bad",
                "kind": "giant",
                "industry": "space_mining",
                "country": "CN",
                "registration_number": "91350100M000100Y44",
                "contacts": [
                    {"first_name": "Ok"},
                    {"first_name": "Bad", "emails": [{"address": "not-an-email"}], "phones": [{"number": "12"}]}
                ]
            }),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "contacts[1].emails[0].address",
            "contacts[1].phones[0].number",
            "industry",
            "kind",
            "registration_number"
        ]
    );
    let codes: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    for code in [
        "invalid_choice",
        "invalid_registration_number",
        "invalid_email",
        "invalid_phone",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    let list = app.get("/v1/customers", &admin).await;
    assert_eq!(
        list.body["data"].as_array().unwrap().len(),
        0,
        "nothing half-written"
    );
}

async fn messages_follow_accept_language(app: TestApp) {
    let admin = app.admin_token().await;
    let response = app
        .client
        .post(app.url("/v1/customers"))
        .bearer_auth(&admin)
        .header("accept-language", "zh-CN")
        .json(
            &json!({"name": "X", "contacts": [{"first_name": "Y", "phones": [{"number": "12"}]}]}),
        )
        .send()
        .await
        .unwrap();
    let reply = rapport_tests::read(response).await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(
        reply.body["errors"][0]["field"],
        "contacts[0].phones[0].number"
    );
    assert_eq!(reply.body["errors"][0]["message"], "电话号码无效。");
}

async fn conflicts_are_explained_in_the_callers_language(app: TestApp) {
    let admin = app.admin_token().await;
    app.customer(&admin, customer_body("First")).await;
    let in_chinese = app
        .client
        .post(app.url("/v1/customers"))
        .bearer_auth(&admin)
        .header("accept-language", "zh-CN")
        .json(&customer_body("Second"))
        .send()
        .await
        .unwrap();
    let reply = rapport_tests::read(in_chinese).await;
    reply.assert_problem(409, "duplicate");
    assert_eq!(reply.header("content-language"), Some("zh-CN"));
    assert_eq!(reply.body["title"], "重复记录");
    assert_eq!(
        reply.body["detail"],
        "已存在电子邮件、电话或注册号相同的客户；请合并，或使用 allow_duplicate=true 创建。"
    );
    assert_eq!(reply.body["duplicate_ids"].as_array().unwrap().len(), 1);

    let in_english = app
        .post("/v1/customers", &admin, customer_body("Third"))
        .await;
    in_english.assert_problem(409, "duplicate");
    assert_eq!(
        in_english.body["detail"],
        "A customer with the same email, phone or registration number exists; merge them, or \
         create with allow_duplicate=true."
    );
}

async fn sales_reps_see_only_their_own_customers(app: TestApp) {
    let team = app.team("East").await;
    let rep_a = app.user("sales_rep", Some(team)).await;
    let rep_b = app.user("sales_rep", Some(team)).await;
    let created = app
        .post("/v1/customers", &rep_a.token, customer_body("Rep A's"))
        .await;
    created.assert_status(201);
    assert_eq!(created.body["owner_id"], json!(rep_a.id));
    assert_eq!(created.body["team_id"], json!(team));
    let id = created.body["id"].as_str().unwrap();
    let contact = created.body["contacts"][0]["id"].as_str().unwrap();
    app.get(&format!("/v1/customers/{id}"), &rep_a.token)
        .await
        .assert_status(200);
    for path in [
        format!("/v1/customers/{id}"),
        format!("/v1/customers/{id}/contacts"),
        format!("/v1/customers/{id}/timeline"),
        format!("/v1/contacts/{contact}"),
    ] {
        app.get(&path, &rep_b.token)
            .await
            .assert_problem(404, "not_found");
    }
    app.patch(
        &format!("/v1/customers/{id}"),
        &rep_b.token,
        json!({"grade": "vip"}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        &format!("/v1/customers/{id}/contacts"),
        &rep_b.token,
        json!({"first_name": "X"}),
    )
    .await
    .assert_problem(404, "not_found");
    let listed = app.get("/v1/customers", &rep_b.token).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 0);
    let mine = app.get("/v1/customers", &rep_a.token).await;
    assert_eq!(mine.body["data"].as_array().unwrap().len(), 1);
}

async fn managers_see_their_team_and_reassign_within_it(app: TestApp) {
    let east = app.team("East").await;
    let west = app.team("West").await;
    let manager = app.user("sales_manager", Some(east)).await;
    let rep_east = app.user("sales_rep", Some(east)).await;
    let rep_west = app.user("sales_rep", Some(west)).await;
    let id = app
        .customer(&rep_east.token, json!({"name": "East Co"}))
        .await;
    let west_id = app
        .customer(&rep_west.token, json!({"name": "West Co"}))
        .await;
    app.get(&format!("/v1/customers/{id}"), &manager.token)
        .await
        .assert_status(200);
    app.get(&format!("/v1/customers/{west_id}"), &manager.token)
        .await
        .assert_problem(404, "not_found");

    let other_rep = app.user("sales_rep", Some(east)).await;
    let moved = app
        .patch(
            &format!("/v1/customers/{id}"),
            &manager.token,
            json!({"owner_id": other_rep.id}),
        )
        .await;
    moved.assert_status(200);
    assert_eq!(moved.body["owner_id"], json!(other_rep.id));
    app.get(&format!("/v1/customers/{id}"), &rep_east.token)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/v1/customers/{id}"), &other_rep.token)
        .await
        .assert_status(200);

    let outside = app
        .patch(
            &format!("/v1/customers/{id}"),
            &manager.token,
            json!({"owner_id": rep_west.id}),
        )
        .await;
    outside.assert_problem(422, "validation_failed");
    assert_eq!(outside.body["errors"][0]["field"], "owner_id");
    assert_eq!(outside.body["errors"][0]["code"], "not_allowed");
}

async fn server_fields_and_reassignment_are_refused(app: TestApp) {
    let team = app.team("East").await;
    let rep = app.user("sales_rep", Some(team)).await;
    let other = app.user("sales_rep", Some(team)).await;
    let given_away = app
        .post(
            "/v1/customers",
            &rep.token,
            json!({"name": "X", "owner_id": other.id}),
        )
        .await;
    given_away.assert_problem(403, "forbidden");
    let forged = app
        .post(
            "/v1/customers",
            &rep.token,
            json!({"name": "X", "created_at": "2020-01-01T00:00:00Z", "version": 9}),
        )
        .await;
    forged.assert_problem(422, "validation_failed");
    assert_eq!(forged.body["errors"][0]["code"], "not_allowed");
    let id = app.customer(&rep.token, json!({"name": "Mine"})).await;
    let reassign = app
        .patch(
            &format!("/v1/customers/{id}"),
            &rep.token,
            json!({"owner_id": other.id}),
        )
        .await;
    reassign.assert_problem(403, "forbidden");
    let stamp = app
        .patch(
            &format!("/v1/customers/{id}"),
            &rep.token,
            json!({"first_contacted_at": "2026-01-01T00:00:00Z"}),
        )
        .await;
    stamp.assert_problem(422, "validation_failed");
    assert_eq!(stamp.body["errors"][0]["field"], "first_contacted_at");
    let other_team = app.team("West").await;
    let team_move = app
        .patch(
            &format!("/v1/customers/{id}"),
            &rep.token,
            json!({"team_id": other_team}),
        )
        .await;
    team_move.assert_problem(422, "validation_failed");
    assert_eq!(team_move.body["errors"][0]["field"], "team_id");
}

async fn lifecycle_moves_follow_the_rules(app: TestApp) {
    let admin = app.admin_token().await;
    let id = app.customer(&admin, json!({"name": "Stages"})).await;
    let path = format!("/v1/customers/{id}");
    let jump = app
        .patch(&path, &admin, json!({"lifecycle_stage": "loyal"}))
        .await;
    jump.assert_problem(409, "invalid_transition");
    assert_eq!(jump.body["allowed_stages"], json!(["prospect", "churned"]));
    assert_eq!(jump.body["from"], "lead");
    for stage in ["prospect", "customer", "loyal", "churned", "prospect"] {
        let moved = app
            .patch(&path, &admin, json!({"lifecycle_stage": stage}))
            .await;
        moved.assert_status(200);
        assert_eq!(moved.body["lifecycle_stage"], stage);
    }
    app.patch(&path, &admin, json!({"lifecycle_stage": "lead"}))
        .await
        .assert_problem(409, "invalid_transition");
    let timeline = app.get(&format!("{path}/timeline"), &admin).await;
    let stages: Vec<Value> = timeline.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "stage_change")
        .map(|e| e["stage_change"]["to"].clone())
        .collect();
    assert_eq!(
        stages,
        [
            json!("prospect"),
            json!("churned"),
            json!("loyal"),
            json!("customer"),
            json!("prospect"),
            json!("lead")
        ]
    );
}

async fn new_leads_get_a_due_time_and_a_follow_up_task(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    let created = app
        .post("/v1/customers", &rep.token, json!({"name": "Fresh lead"}))
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let created_at: DateTime<Utc> = created.body["created_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let due: DateTime<Utc> = created.body["first_contact_due_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(due - created_at, Duration::hours(24));
    let tasks = app.get("/v1/tasks?assignee_id=me", &rep.token).await;
    let task = &tasks.body["data"][0];
    assert_eq!(task["origin"], "lead_follow_up");
    assert_eq!(task["customer_id"], json!(id));
    assert_eq!(task["status"], "open");
    // Not a lead: no due time, no task.
    let customer = app
        .post(
            "/v1/customers",
            &rep.token,
            json!({"name": "Old friend", "lifecycle_stage": "customer"}),
        )
        .await;
    assert_eq!(customer.body["first_contact_due_at"], Value::Null);

    // A day later the lead is overdue: it is listed, and so is its task.
    app.clock.advance(Duration::hours(25));
    let token = app.token_of(&rep).await;
    let overdue = app
        .get("/v1/customers?first_contact_overdue=true", &token)
        .await;
    assert_eq!(overdue.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(overdue.body["data"][0]["id"], json!(id));
    let overdue_tasks = app
        .get("/v1/tasks?assignee_id=me&overdue=true", &token)
        .await;
    assert_eq!(overdue_tasks.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(overdue_tasks.body["data"][0]["overdue"], true);

    // A note is not a contact; a call is: it stamps first_contacted_at and closes the task.
    app.post(
        "/v1/activities",
        &token,
        json!({"customer_id": id, "kind": "note", "summary": "Looked them up"}),
    )
    .await
    .assert_status(201);
    let after_note = app.get(&format!("/v1/customers/{id}"), &token).await;
    assert_eq!(after_note.body["first_contacted_at"], Value::Null);
    assert!(after_note.body["last_activity_at"].is_string());
    app.post("/v1/activities", &token, json!({"customer_id": id, "kind": "call", "direction": "outbound", "summary": "First call"}))
        .await
        .assert_status(201);
    let contacted = app.get(&format!("/v1/customers/{id}"), &token).await;
    assert!(contacted.body["first_contacted_at"].is_string());
    let done = app
        .get(&format!("/v1/tasks?customer_id={id}"), &token)
        .await;
    assert_eq!(done.body["data"][0]["status"], "done");
    assert!(done.body["data"][0]["completed_at"].is_string());
    let overdue = app
        .get("/v1/customers?first_contact_overdue=true", &token)
        .await;
    assert_eq!(overdue.body["data"].as_array().unwrap().len(), 0);
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

async fn patch_null_clears_and_stale_if_match_is_412(app: TestApp) {
    let admin = app.admin_token().await;
    let created = app
        .post("/v1/customers", &admin, customer_body("Clearable"))
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/customers/{id}");
    let cleared = app
        .patch(
            &path,
            &admin,
            json!({"website": null, "tags": null, "grade": "vip"}),
        )
        .await;
    cleared.assert_status(200);
    assert_eq!(cleared.body["website"], Value::Null);
    assert_eq!(cleared.body["tags"], json!([]));
    assert_eq!(cleared.body["grade"], "vip");
    assert_eq!(
        cleared.body["industry"], "information_technology",
        "absent fields are kept"
    );
    assert_eq!(cleared.header("etag"), Some("\"2\""));
    app.patch(&path, &admin, json!({"name": null}))
        .await
        .assert_problem(422, "validation_failed");

    let send = |etag: &'static str| {
        app.client
            .patch(app.url(&path))
            .bearer_auth(&admin)
            .header("if-match", etag)
            .json(&json!({"grade": "potential"}))
            .send()
    };
    rapport_tests::read(send("\"1\"").await.unwrap())
        .await
        .assert_problem(412, "precondition_failed");
    // An empty If-Match names no version at all: malformed, not stale.
    rapport_tests::read(send("").await.unwrap())
        .await
        .assert_problem(400, "malformed_request");
    rapport_tests::read(send("\"2\"").await.unwrap())
        .await
        .assert_status(200);
    let delete_stale = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&admin)
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    rapport_tests::read(delete_stale)
        .await
        .assert_problem(412, "precondition_failed");
}

async fn delete_and_restore(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let id = app.customer(&rep.token, json!({"name": "Gone soon"})).await;
    let path = format!("/v1/customers/{id}");
    app.delete(&path, &rep.token)
        .await
        .assert_problem(403, "forbidden");
    app.delete(&path, &admin).await.assert_status(204);
    app.get(&path, &admin)
        .await
        .assert_problem(404, "not_found");
    app.get("/v1/customers?deleted=true", &rep.token)
        .await
        .assert_problem(403, "forbidden");
    let deleted = app.get("/v1/customers?deleted=true", &admin).await;
    assert_eq!(deleted.body["data"][0]["id"], json!(id));
    let restored = app
        .post(&format!("{path}/restore"), &admin, json!({}))
        .await;
    restored.assert_status(200);
    assert_eq!(restored.body["deleted_at"], Value::Null);
    app.get(&path, &rep.token).await.assert_status(200);
    app.post(&format!("{path}/restore"), &admin, json!({}))
        .await
        .assert_problem(409, "conflict");
}

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

async fn contacts_have_their_own_routes(app: TestApp) {
    let admin = app.admin_token().await;
    let id = app.customer(&admin, json!({"name": "People Inc"})).await;
    let first = app
        .post(
            &format!("/v1/customers/{id}/contacts"),
            &admin,
            json!({"first_name": "Ann", "emails": [{"address": "ann@people.example"}]}),
        )
        .await;
    first.assert_status(201);
    assert_eq!(
        first.body["is_primary"], true,
        "the first contact is the primary one"
    );
    let second = app
        .post(
            &format!("/v1/customers/{id}/contacts"),
            &admin,
            json!({"first_name": "Bob", "is_primary": true}),
        )
        .await;
    second.assert_status(201);
    let list = app
        .get(&format!("/v1/customers/{id}/contacts"), &admin)
        .await;
    let data = list.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(
        data[0]["first_name"], "Bob",
        "the primary contact comes first"
    );
    assert_eq!(data[1]["is_primary"], false);
    let ann = first.body["id"].as_str().unwrap();
    let bad = app
        .patch(
            &format!("/v1/contacts/{ann}"),
            &admin,
            json!({"emails": [{"address": "a@x.cn"}, {"address": "A@X.CN"}]}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.body["errors"][0]["field"], "emails[1].address");
    assert_eq!(bad.body["errors"][0]["code"], "duplicate");
    let moved = app
        .patch(
            &format!("/v1/contacts/{ann}"),
            &admin,
            json!({"customer_id": uuid::Uuid::now_v7()}),
        )
        .await;
    moved.assert_problem(422, "validation_failed");
    let renamed = app
        .patch(
            &format!("/v1/contacts/{ann}"),
            &admin,
            json!({"last_name": "Lee", "title": null}),
        )
        .await;
    renamed.assert_status(200);
    assert_eq!(renamed.body["last_name"], "Lee");
    app.delete(&format!("/v1/contacts/{ann}"), &admin)
        .await
        .assert_status(204);
    app.get(&format!("/v1/contacts/{ann}"), &admin)
        .await
        .assert_problem(404, "not_found");
}
