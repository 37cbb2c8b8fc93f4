//! Personal data: the export of everything held about a customer, its irreversible erasure,
//! and marketing consent that remembers when and how it was given or withdrawn.

use chrono::{DateTime, Duration, Utc};
use rapport_tests::{Reply, TestApp, backend_tests};
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    the_export_holds_everything_about_the_customer,
    export_and_erase_need_customers_privacy,
    erasure_leaves_no_personal_data_in_the_export,
    erasure_removes_the_customer_from_search,
    erasure_leaves_no_personal_data_in_the_audit_trail,
    erasure_reaches_the_records_merged_into_the_customer,
    marketing_consent_keeps_when_and_how,
);

/// The personal strings of [`qilin`], as the API answers them. The postal code is quoted: its
/// digits alone could turn up inside a timestamp.
const PERSONAL: [&str; 22] = [
    "Qilin Lantern Works",
    "Meiling",
    "Xuanwu",
    "Head of Purchasing",
    "Purchasing Director",
    "meiling.xu@qilin-lantern.example",
    "+8613800138000",
    "Bartholomew",
    "Quince",
    "bart.quince@qilin-lantern.example",
    "+8613912345678",
    "qilin-lantern.example",
    "88 Peony Road",
    "Xihu District",
    "Hangzhou",
    "\"310012\"",
    "91350100M000100Y43",
    "QL-7781",
    "calls before noon",
    "calls after lunch",
    "asked about lantern prices",
    "lantern quotation",
];

/// The ids of what [`qilin`] made.
struct Qilin {
    id: Uuid,
    contact: String,
    activity: String,
    task: String,
}

/// A lead full of personal data, with two contacts, a stage change, an activity, a task, a deal
/// and its quote, and changes to it and to a contact in its audit trail.
async fn qilin(app: &TestApp, token: &str) -> Qilin {
    let created = app
        .post(
            "/v1/customers",
            token,
            json!({
                "name": "Qilin Lantern Works",
                "website": "https://qilin-lantern.example",
                "country": "CN",
                "registration_number": "91350100M000100Y43",
                "external_ids": {"erp": "QL-7781"},
                "addresses": [{"label": "billing", "line1": "88 Peony Road", "line2": "Xihu District",
                               "city": "Hangzhou", "postal_code": "310012", "country": "CN"}],
                "description": "Prefers calls before noon",
                "tags": ["lanterns"],
                "contacts": [
                    {"first_name": "Meiling", "last_name": "Xuanwu", "title": "Head of Purchasing",
                     "emails": [{"address": "Meiling.Xu@qilin-lantern.example"}],
                     "phones": [{"number": "+86 138-0013-8000"}],
                     "marketing_consent": {"granted": true, "source": "web_form"}},
                    {"first_name": "Bartholomew", "last_name": "Quince",
                     "emails": [{"address": "bart.quince@qilin-lantern.example"}],
                     "phones": [{"number": "+86 139 1234 5678"}]},
                ],
            }),
        )
        .await;
    created.assert_status(201);
    let id: Uuid = created.body["id"].as_str().unwrap().parse().unwrap();
    let contact = created.body["contacts"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.patch(
        &format!("/v1/customers/{id}"),
        token,
        json!({"description": "Prefers calls after lunch", "lifecycle_stage": "prospect"}),
    )
    .await
    .assert_status(200);
    app.patch(
        &format!("/v1/contacts/{contact}"),
        token,
        json!({"title": "Purchasing Director"}),
    )
    .await
    .assert_status(200);
    let activity = app
        .post(
            "/v1/activities",
            token,
            json!({"customer_id": id, "contact_id": contact, "kind": "call",
                   "summary": "Meiling asked about lantern prices",
                   "details": "Call back Bartholomew Quince on Friday"}),
        )
        .await;
    activity.assert_status(201);
    let task = app
        .post(
            "/v1/tasks",
            token,
            json!({"customer_id": id, "title": "Send Meiling the lantern quotation",
                   "description": "Deliver to 88 Peony Road"}),
        )
        .await;
    task.assert_status(201);
    // A deal and its quote, whose free text names them too.
    let deal = app
        .post(
            "/v1/opportunities",
            token,
            json!({"customer_id": id, "title": "Lanterns for Meiling",
                   "next_step": "Meet Bartholomew Quince", "amount": {"amount": "10", "currency": "CNY"}}),
        )
        .await;
    deal.assert_status(201);
    app.post(
        "/v1/quotes",
        token,
        json!({"opportunity_id": deal.body["id"], "notes": "Deliver to 88 Peony Road",
               "lines": [{"description": "Meiling's lantern quotation", "quantity": "1",
                          "unit_price": "10"}]}),
    )
    .await
    .assert_status(201);
    Qilin {
        id,
        contact,
        activity: activity.body["id"].as_str().unwrap().to_owned(),
        task: task.body["id"].as_str().unwrap().to_owned(),
    }
}

async fn export(app: &TestApp, token: &str, id: Uuid) -> Reply {
    let reply = app.get(&format!("/v1/customers/{id}/export"), token).await;
    reply.assert_status(200);
    reply
}

/// Which of `strings` are found anywhere in `doc`.
fn strings_in<'a>(doc: &Value, strings: &[&'a str]) -> Vec<&'a str> {
    let text = doc.to_string();
    strings
        .iter()
        .copied()
        .filter(|s| text.contains(s))
        .collect()
}

/// The personal strings of [`qilin`] found anywhere in `doc`.
fn personal_strings_in(doc: &Value) -> Vec<&'static str> {
    strings_in(doc, &PERSONAL)
}

fn len(value: &Value) -> usize {
    value.as_array().unwrap().len()
}

/// How many customers a free-text search finds.
async fn found(app: &TestApp, token: &str, q: &str) -> usize {
    let reply = app
        .client
        .get(app.url("/v1/customers"))
        .query(&[("q", q)])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let reply = rapport_tests::read(reply).await;
    assert_eq!(reply.status.as_u16(), 200, "q={q}: {}", reply.body);
    len(&reply.body["data"])
}

async fn the_export_holds_everything_about_the_customer(app: TestApp) {
    let admin = app.admin_token().await;
    let q = qilin(&app, &admin).await;

    let reply = export(&app, &admin, q.id).await;
    assert!(
        reply
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment")),
        "{:?}",
        reply.headers
    );
    let doc = &reply.body;
    assert_eq!(doc["customer"]["id"], json!(q.id));
    assert_eq!(doc["customer"]["name"], "Qilin Lantern Works");
    assert_eq!(len(&doc["contacts"]), 2);
    assert_eq!(doc["contacts"][0]["id"], q.contact);
    assert_eq!(len(&doc["activities"]), 1);
    assert_eq!(doc["activities"][0]["id"], q.activity);
    assert_eq!(
        doc["activities"][0]["summary"],
        "Meiling asked about lantern prices"
    );
    // The lead's follow-up task, and ours.
    assert_eq!(len(&doc["tasks"]), 2);
    assert!(
        doc["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == q.task)
    );
    let mut stages: Vec<&str> = doc["stage_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["to"].as_str().unwrap())
        .collect();
    stages.sort_unstable();
    assert_eq!(stages, ["lead", "prospect"]);
    let events: Vec<(String, String)> = doc["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["entity_id"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let customer = q.id.to_string();
    for expected in [
        (customer.clone(), "create".to_owned()),
        (customer, "update".to_owned()),
        (q.contact.clone(), "update".to_owned()),
    ] {
        assert!(events.contains(&expected), "{expected:?} in {events:?}");
    }
    assert_eq!(
        personal_strings_in(doc),
        PERSONAL,
        "the export holds every personal string"
    );

    // A client granted customers:privacy exports too.
    let client = app.client_token(&["customers:privacy"]).await;
    let by_client = export(&app, &client, q.id).await;
    assert_eq!(by_client.body["customer"]["id"], json!(q.id));
    assert_eq!(len(&by_client.body["contacts"]), 2);
}

async fn export_and_erase_need_customers_privacy(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let own = app.customer(&rep.token, json!({"name": "Acme"})).await;
    app.get(&format!("/v1/customers/{own}"), &rep.token)
        .await
        .assert_status(200);
    app.get(&format!("/v1/customers/{own}/export"), &rep.token)
        .await
        .assert_problem(403, "forbidden");
    app.post(&format!("/v1/customers/{own}/erase"), &rep.token, json!({}))
        .await
        .assert_problem(403, "forbidden");
    let writer = app
        .client_token(&["customers:read", "customers:write"])
        .await;
    app.get(&format!("/v1/customers/{own}/export"), &writer)
        .await
        .assert_problem(403, "forbidden");
    assert_eq!(
        app.get(&format!("/v1/customers/{own}"), &admin).await.body["name"],
        "Acme",
        "not erased"
    );

    let unknown = Uuid::now_v7();
    app.get(&format!("/v1/customers/{unknown}/export"), &admin)
        .await
        .assert_problem(404, "not_found");
    app.post(&format!("/v1/customers/{unknown}/erase"), &admin, json!({}))
        .await
        .assert_problem(404, "not_found");
}

async fn erasure_leaves_no_personal_data_in_the_export(app: TestApp) {
    let admin = app.admin_token().await;
    let q = qilin(&app, &admin).await;
    let before = export(&app, &admin, q.id).await.body;
    assert_eq!(personal_strings_in(&before), PERSONAL);

    let erased = app
        .post(&format!("/v1/customers/{}/erase", q.id), &admin, json!({}))
        .await;
    erased.assert_status(200);
    assert_eq!(erased.body["name"], "[erased]");
    assert!(erased.body["erased_at"].is_string());
    assert_eq!(personal_strings_in(&erased.body), Vec::<&str>::new());

    let after = export(&app, &admin, q.id).await.body;
    assert_eq!(
        personal_strings_in(&after),
        Vec::<&str>::new(),
        "export after erasure: {after:#}"
    );
    // What reports need stays.
    for field in [
        "id",
        "kind",
        "lifecycle_stage",
        "grade",
        "owner_id",
        "created_at",
    ] {
        assert_eq!(
            after["customer"][field], before["customer"][field],
            "{field}"
        );
    }
    assert_eq!(after["customer"]["lifecycle_stage"], "prospect");
    for list in [
        "contacts",
        "activities",
        "tasks",
        "stage_changes",
        "opportunities",
        "quotes",
    ] {
        assert_eq!(len(&after[list]), len(&before[list]), "{list}");
    }
    assert_eq!(
        after["quotes"][0]["totals"], before["quotes"][0]["totals"],
        "a quote's amounts stay"
    );
    assert_eq!(after["activities"][0]["kind"], "call");
    assert_eq!(
        after["activities"][0]["occurred_at"],
        before["activities"][0]["occurred_at"]
    );

    // Its old email makes no duplicate.
    app.post(
        "/v1/customers",
        &admin,
        json!({"name": "Someone New", "contacts": [{"first_name": "M",
               "emails": [{"address": "meiling.xu@qilin-lantern.example"}]}]}),
    )
    .await
    .assert_status(201);

    let events = app
        .get(
            &format!("/v1/audit-events?entity_id={}&action=erase", q.id),
            &admin,
        )
        .await;
    events.assert_status(200);
    assert_eq!(len(&events.body["data"]), 1);
}

async fn erasure_removes_the_customer_from_search(app: TestApp) {
    let admin = app.admin_token().await;
    let q = qilin(&app, &admin).await;
    let terms = [
        "Qilin",
        "meiling.xu@qilin-lantern.example",
        "+86 138 0013 8000",
        "Bartholomew",
    ];
    for term in terms {
        assert_eq!(found(&app, &admin, term).await, 1, "{term} finds it");
    }
    app.post(&format!("/v1/customers/{}/erase", q.id), &admin, json!({}))
        .await
        .assert_status(200);
    for term in terms {
        assert_eq!(found(&app, &admin, term).await, 0, "{term} finds nothing");
    }
}

/// Erasure reaches every record of the customer's personal data: the audit events of its
/// activities, tasks and deleted contacts included, the whole trail holds none of it afterwards.
async fn erasure_leaves_no_personal_data_in_the_audit_trail(app: TestApp) {
    let admin = app.admin_token().await;
    let q = qilin(&app, &admin).await;
    // A contact deleted before the erasure.
    let gone = app
        .post(
            &format!("/v1/customers/{}/contacts", q.id),
            &admin,
            json!({"first_name": "Ottoline", "last_name": "Brackenbury",
                   "emails": [{"address": "ottoline@qilin-lantern.example"}]}),
        )
        .await;
    gone.assert_status(201);
    let gone = gone.body["id"].as_str().unwrap().to_owned();
    app.delete(&format!("/v1/contacts/{gone}"), &admin)
        .await
        .assert_status(204);
    // Registration numbers never enter the trail: encrypted at rest, recorded as changed only.
    let personal: Vec<&str> = PERSONAL
        .into_iter()
        .filter(|p| *p != "91350100M000100Y43")
        .chain(["Ottoline", "Brackenbury"])
        .collect();
    let trail = |entity: Option<String>| {
        let (app, admin) = (&app, &admin);
        async move {
            let filter = entity.map_or(String::new(), |e| format!("&entity_id={e}"));
            let reply = app
                .get(&format!("/v1/audit-events?limit=200{filter}"), admin)
                .await;
            reply.assert_status(200);
            reply.body
        }
    };
    let before = strings_in(&trail(None).await, &personal);
    assert_eq!(before, personal, "the trail holds every personal string");
    let whole = trail(None).await.to_string();
    assert!(!whole.contains("91350100M000100Y43") && whole.contains("[encrypted]"));

    app.post(&format!("/v1/customers/{}/erase", q.id), &admin, json!({}))
        .await
        .assert_status(200);

    let mut leaks = Vec::new();
    for (what, entity) in [
        ("customer", Some(q.id.to_string())),
        ("contact", Some(q.contact)),
        ("deleted contact", Some(gone)),
        ("activity", Some(q.activity)),
        ("task", Some(q.task)),
        ("whole trail", None),
    ] {
        let left = strings_in(&trail(entity).await, &personal);
        if !left.is_empty() {
            leaks.push((what, left));
        }
    }
    assert!(
        leaks.is_empty(),
        "personal data left in the audit trail after erasure: {leaks:#?}"
    );
}

/// A duplicate merged into the customer is the same customer: erasing it erases the merged
/// record too, so that restoring that record brings nothing back.
async fn erasure_reaches_the_records_merged_into_the_customer(app: TestApp) {
    let admin = app.admin_token().await;
    let q = qilin(&app, &admin).await;
    let old = app
        .customer(
            &admin,
            json!({"name": "Qilin Lantern Works (old)", "website": "https://qilin-lantern.example/old",
                   "addresses": [{"label": "shipping", "line1": "88 Peony Road", "line2": "Xihu District",
                                  "city": "Hangzhou", "country": "CN"}]}),
        )
        .await;
    app.post(
        &format!("/v1/customers/{}/merge", q.id),
        &admin,
        json!({"duplicate_ids": [old]}),
    )
    .await
    .assert_status(200);

    app.post(&format!("/v1/customers/{}/erase", q.id), &admin, json!({}))
        .await
        .assert_status(200);

    let deleted = app.get("/v1/customers?deleted=true", &admin).await;
    deleted.assert_status(200);
    assert_eq!(deleted.body["data"][0]["id"], json!(old));
    assert_eq!(
        personal_strings_in(&deleted.body),
        Vec::<&str>::new(),
        "the merged record after erasure: {:#}",
        deleted.body
    );
    let events = app
        .get(&format!("/v1/audit-events?entity_id={old}"), &admin)
        .await;
    assert_eq!(
        personal_strings_in(&events.body),
        Vec::<&str>::new(),
        "the merged record's audit events"
    );
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

async fn marketing_consent_keeps_when_and_how(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app.customer(&admin, json!({"name": "Acme"})).await;
    let created = app
        .post(
            &format!("/v1/customers/{customer}/contacts"),
            &admin,
            json!({"first_name": "Lei", "marketing_consent": {"granted": true, "source": "web_form"}}),
        )
        .await;
    created.assert_status(201);
    let given = created.body["marketing_consent"].clone();
    assert_eq!(given["granted"], true);
    assert_eq!(given["source"], "web_form");
    let given_at = time(&given["at"]);
    let id = created.body["id"].as_str().unwrap().to_owned();

    app.clock.advance(Duration::hours(2));
    let admin = app.admin_token().await;
    let withdrawn = app
        .patch(
            &format!("/v1/contacts/{id}"),
            &admin,
            json!({"marketing_consent": {"granted": false, "source": "email"}}),
        )
        .await;
    withdrawn.assert_status(200);
    let now = withdrawn.body["marketing_consent"].clone();
    assert_eq!(now["granted"], false);
    assert_eq!(now["source"], "email");
    assert!(time(&now["at"]) >= given_at + Duration::hours(2), "{now}");
    assert_eq!(
        app.get(&format!("/v1/contacts/{id}"), &admin).await.body["marketing_consent"],
        now
    );

    // The trail shows both states.
    let events = app
        .get(&format!("/v1/audit-events?entity_id={id}"), &admin)
        .await;
    events.assert_status(200);
    let consent_changes: Vec<(String, Value)> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["changes"]["marketing_consent"].clone(),
            )
        })
        .collect();
    assert!(
        consent_changes.contains(&("create".to_owned(), json!({"before": null, "after": given}))),
        "{consent_changes:?}"
    );
    assert!(
        consent_changes.contains(&("update".to_owned(), json!({"before": given, "after": now}))),
        "{consent_changes:?}"
    );

    // A time in the past is kept (imports); one in the future is refused.
    let past = "2024-03-01T08:00:00Z";
    let imported = app
        .patch(
            &format!("/v1/contacts/{id}"),
            &admin,
            json!({"marketing_consent": {"granted": true, "source": "import", "at": past}}),
        )
        .await;
    imported.assert_status(200);
    assert_eq!(
        time(&imported.body["marketing_consent"]["at"]),
        time(&json!(past))
    );
    let future = (Utc::now() + Duration::days(30)).to_rfc3339();
    let refused = app
        .patch(
            &format!("/v1/contacts/{id}"),
            &admin,
            json!({"marketing_consent": {"granted": false, "source": "phone", "at": future}}),
        )
        .await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["marketing_consent.at"]);
}
