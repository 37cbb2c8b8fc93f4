//! Batch writes: `POST /v1/<resources>/batch` creates and changes up to 200 customers, contacts,
//! activities, tickets or opportunities, answers each item, upserts customers and contacts by
//! an external id or an email, and writes all or none when asked.

use rapport_tests::{TestApp, backend_tests};
use serde_json::{Value, json};

backend_tests!(
    good_items_are_written_and_bad_ones_answered,
    all_or_none_writes_nothing_when_an_item_is_refused,
    upserts_match_by_external_id,
    upserts_match_by_email_and_add_new_contacts,
    a_rep_upserts_only_what_it_sees,
    concurrent_upserts_of_one_key_create_one_customer,
    what_a_batch_cannot_take,
    contacts_are_added_and_upserted_by_email,
    activities_are_recorded_and_changed_by_id,
    tickets_and_opportunities_are_written_by_id
);

/// The customers named `name` that the admin sees.
async fn named(app: &TestApp, token: &str, name: &str) -> Vec<Value> {
    let reply = app
        .get(
            &format!("/v1/customers?q={}", rapport_tests::query_value(name)),
            token,
        )
        .await;
    reply.assert_status(200);
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == name)
        .cloned()
        .collect()
}

async fn good_items_are_written_and_bad_ones_answered(app: TestApp) {
    let admin = app.admin_token().await;
    let reply = app
        .post(
            "/v1/customers/batch",
            &admin,
            json!({"items": [
                {"name": "Batch Alpha Ltd"},
                {"kind": "enterprise"},
                {"name": "Batch Beta Ltd", "contacts": [{"first_name": "Li", "phones": [{"number": "+86 138 0013 8000"}]}]},
                {"name": "Batch Gamma Ltd", "contacts": [{"first_name": "Wang", "phones": [{"number": "12"}]}]},
                "not an object",
                {"name": "Batch Delta Ltd", "colour": "blue"},
            ]}),
        )
        .await;
    reply.assert_status(200);
    let body = &reply.body;
    assert_eq!(
        (
            body["created"].as_u64(),
            body["updated"].as_u64(),
            body["failed"].as_u64()
        ),
        (Some(2), Some(0), Some(4)),
        "{body}"
    );
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 6);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["index"], i, "{body}");
    }
    for i in [0, 2] {
        assert_eq!(items[i]["status"], 201);
        assert_eq!(items[i]["outcome"], "created");
        assert_eq!(items[i]["version"], 1);
        let id = items[i]["id"].as_str().unwrap();
        app.get(&format!("/v1/customers/{id}"), &admin)
            .await
            .assert_status(200);
    }
    let field_of = |i: usize| {
        assert_eq!(items[i]["status"], 422, "{body}");
        assert_eq!(items[i]["outcome"], "failed");
        assert!(items[i]["id"].is_null());
        assert_eq!(items[i]["error"]["code"], "validation_failed");
        items[i]["error"]["errors"][0]["field"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(field_of(1), "name");
    assert_eq!(field_of(3), "contacts[0].phones[0].number");
    assert_eq!(field_of(5), "colour");
    assert_eq!(items[4]["error"]["code"], "validation_failed");

    // Written as one by one: the phone is answered in E.164, each write audited.
    let beta = items[2]["id"].as_str().unwrap();
    let reply = app.get(&format!("/v1/customers/{beta}"), &admin).await;
    assert_eq!(
        reply.body["contacts"][0]["phones"][0]["number"],
        "+8613800138000"
    );
    assert_eq!(app.audit_count(beta).await, 1);
    assert!(named(&app, &admin, "Batch Gamma Ltd").await.is_empty());
}

async fn all_or_none_writes_nothing_when_an_item_is_refused(app: TestApp) {
    let admin = app.admin_token().await;
    let items = json!([
        {"name": "Whole Alpha Ltd"},
        {"name": "Whole Beta Ltd", "lifecycle_stage": "dormant"},
        {"name": "Whole Gamma Ltd"},
    ]);
    let reply = app
        .post(
            "/v1/customers/batch",
            &admin,
            json!({"items": items, "all_or_none": true}),
        )
        .await;
    reply.assert_problem(422, "batch_failed");
    let refused = reply.body["items"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{}", reply.body);
    assert_eq!(refused[0]["index"], 1);
    assert_eq!(refused[0]["status"], 422);
    assert_eq!(refused[0]["error"]["errors"][0]["field"], "lifecycle_stage");
    assert!(named(&app, &admin, "Whole Alpha Ltd").await.is_empty());

    // The same batch without its bad item is written whole.
    let reply = app
        .post(
            "/v1/customers/batch",
            &admin,
            json!({"items": [items[0], items[2]], "all_or_none": true}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["created"], 2);
    assert_eq!(named(&app, &admin, "Whole Alpha Ltd").await.len(), 1);
}

async fn upserts_match_by_external_id(app: TestApp) {
    let admin = app.admin_token().await;
    let existing = app
        .customer(
            &admin,
            json!({"name": "Erp One Ltd", "tags": ["vip"], "external_ids": {"erp": "C-1", "crm": "X"}}),
        )
        .await;
    let batch = json!({
        "upsert_on": "external_ids.erp",
        "items": [
            {"name": "Erp One Renamed Ltd", "external_ids": {"erp": " C-1 "}},
            {"name": "Erp Two Ltd", "external_ids": {"erp": "C-2"}},
            {"name": "Erp Three Ltd", "external_ids": {"crm": "Y"}},
        ],
    });
    let reply = app.post("/v1/customers/batch", &admin, batch.clone()).await;
    reply.assert_status(200);
    let items = reply.body["items"].as_array().unwrap().clone();
    assert_eq!(items[0]["status"], 200, "{}", reply.body);
    assert_eq!(items[0]["outcome"], "updated");
    assert_eq!(items[0]["id"], existing.to_string());
    assert_eq!(items[0]["version"], 2);
    assert_eq!(items[1]["status"], 201);
    assert_eq!(items[2]["status"], 422);
    assert_eq!(items[2]["error"]["errors"][0]["field"], "external_ids.erp");

    // Fields the item leaves out are kept; those it names change.
    let reply = app.get(&format!("/v1/customers/{existing}"), &admin).await;
    assert_eq!(reply.body["name"], "Erp One Renamed Ltd");
    assert_eq!(reply.body["tags"], json!(["vip"]));
    assert_eq!(reply.body["external_ids"], json!({"erp": "C-1"}));
    assert_eq!(app.audit_count(&existing.to_string()).await, 2);
    // The list finds a customer by an external id too; the one it lost no longer finds it.
    let reply = app.get("/v1/customers?external_id=erp:C-1", &admin).await;
    assert_eq!(
        reply.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        reply.body
    );
    assert_eq!(reply.body["data"][0]["id"], existing.to_string());
    let reply = app.get("/v1/customers?external_id=crm:X", &admin).await;
    assert_eq!(
        reply.body["data"].as_array().unwrap().len(),
        0,
        "{}",
        reply.body
    );
    let reply = app.get("/v1/customers?external_id=C-1", &admin).await;
    reply.assert_problem(400, "malformed_request");
    assert_eq!(reply.error_fields(), ["external_id"]);

    // Sent again, the batch creates nothing more: the second item is found too.
    let reply = app.post("/v1/customers/batch", &admin, batch).await;
    reply.assert_status(200);
    assert_eq!(reply.body["items"][1]["status"], 200, "{}", reply.body);
    assert_eq!(reply.body["items"][1]["id"], items[1]["id"]);
    assert_eq!(named(&app, &admin, "Erp Two Ltd").await.len(), 1);

    // A deleted customer is no match: a new one is made. (Its version is read first: the
    // grading job may have graded it since.)
    let second = items[1]["id"].as_str().unwrap();
    let current = app.get(&format!("/v1/customers/{second}"), &admin).await;
    let etag = current.header("etag").unwrap().to_owned();
    app.call_if_match(
        reqwest::Method::DELETE,
        &format!("/v1/customers/{second}"),
        &admin,
        &etag,
        None,
    )
    .await
    .assert_status(204);
    let reply = app
        .post(
            "/v1/customers/batch",
            &admin,
            json!({"upsert_on": "external_ids.erp", "items": [{"name": "Erp Two Ltd", "external_ids": {"erp": "C-2"}}]}),
        )
        .await;
    assert_eq!(reply.body["items"][0]["status"], 201, "{}", reply.body);
}

async fn upserts_match_by_email_and_add_new_contacts(app: TestApp) {
    let admin = app.admin_token().await;
    let existing = app
        .customer(
            &admin,
            json!({"name": "Mail One Ltd", "contacts": [{"first_name": "Lei", "last_name": "Li", "emails": [{"address": "li.lei@mail-one.example"}]}]}),
        )
        .await;
    let reply = app
        .post(
            "/v1/customers/batch",
            &admin,
            json!({"upsert_on": "email", "items": [
                {"name": "Mail One Ltd", "industry": "information_technology", "contacts": [
                    {"first_name": "Lei", "emails": [{"address": "LI.LEI@Mail-One.example"}]},
                    {"first_name": "Mei", "last_name": "Han", "emails": [{"address": "han.mei@mail-one.example"}]},
                ]},
                {"name": "Mail Two Ltd", "contacts": [{"first_name": "Wei", "emails": [{"address": "wei@mail-two.example"}]}]},
                {"name": "Mail Three Ltd"},
            ]}),
        )
        .await;
    reply.assert_status(200);
    let items = &reply.body["items"];
    assert_eq!(items[0]["status"], 200, "{}", reply.body);
    assert_eq!(items[0]["id"], existing.to_string());
    assert_eq!(items[1]["status"], 201);
    assert_eq!(items[2]["status"], 422);
    assert_eq!(items[2]["error"]["errors"][0]["field"], "contacts");

    let reply = app.get(&format!("/v1/customers/{existing}"), &admin).await;
    assert_eq!(reply.body["industry"], "information_technology");
    let contacts = reply.body["contacts"].as_array().unwrap();
    let names: Vec<&str> = contacts
        .iter()
        .map(|c| c["first_name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.contains(&"Lei") && names.contains(&"Mei"),
        "{names:?}"
    );
    let primaries = contacts.iter().filter(|c| c["is_primary"] == true).count();
    assert_eq!(primaries, 1);
    // The new contact is found by its email, and has its own history.
    let reply = app
        .get("/v1/customers?q=han.mei@mail-one.example", &admin)
        .await;
    assert_eq!(reply.body["data"][0]["id"], existing.to_string());
    let mei = contacts.iter().find(|c| c["first_name"] == "Mei").unwrap();
    assert_eq!(app.audit_count(mei["id"].as_str().unwrap()).await, 1);

    // Two customers holding one email: the item is ambiguous, and nothing is written for it.
    let dup = json!({"name": "Twin Ltd", "contacts": [{"first_name": "Tw", "emails": [{"address": "twin@example.com"}]}]});
    let a = app.customer(&admin, dup.clone()).await;
    let b = app.customer(&admin, dup.clone()).await;
    let reply = app
        .post(
            "/v1/customers/batch",
            &admin,
            json!({"upsert_on": "email", "items": [dup]}),
        )
        .await;
    let item = &reply.body["items"][0];
    assert_eq!(item["status"], 409, "{}", reply.body);
    assert_eq!(item["error"]["code"], "ambiguous_match");
    let mut matching: Vec<String> = item["error"]["matching_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    matching.sort();
    let mut expected = vec![a.to_string(), b.to_string()];
    expected.sort();
    assert_eq!(matching, expected);
}

async fn a_rep_upserts_only_what_it_sees(app: TestApp) {
    let team = app.team("Batch reps").await;
    let (alice, bob) = (
        app.user("sales_rep", Some(team)).await,
        app.user("sales_rep", Some(team)).await,
    );
    let hers = app
        .customer(
            &alice.token,
            json!({"name": "Hers Ltd", "external_ids": {"erp": "H-1"}}),
        )
        .await;
    let reply = app
        .post(
            "/v1/customers/batch",
            &bob.token,
            json!({"upsert_on": "external_ids.erp", "items": [{"name": "Taken Over Ltd", "external_ids": {"erp": "H-1"}}]}),
        )
        .await;
    reply.assert_status(200);
    let item = &reply.body["items"][0];
    assert_eq!(item["status"], 201, "{}", reply.body);
    assert_ne!(item["id"], hers.to_string());
    let reply = app
        .get(&format!("/v1/customers/{hers}"), &alice.token)
        .await;
    assert_eq!(reply.body["name"], "Hers Ltd");
    assert_eq!(reply.body["version"], 1);
    let reply = app
        .get(
            &format!("/v1/customers/{}", item["id"].as_str().unwrap()),
            &bob.token,
        )
        .await;
    assert_eq!(reply.body["owner_id"], bob.id.to_string());

    // A rep cannot give a customer to another rep, in a batch as one by one.
    let reply = app
        .post(
            "/v1/customers/batch",
            &bob.token,
            json!({"items": [{"name": "Gift Ltd", "owner_id": alice.id}]}),
        )
        .await;
    let item = &reply.body["items"][0];
    assert_eq!(item["status"], 403, "{}", reply.body);
    assert_eq!(item["error"]["code"], "forbidden");

    let reader = app.client_token(&["customers:read"]).await;
    app.post(
        "/v1/customers/batch",
        &reader,
        json!({"items": [{"name": "No Scope Ltd"}]}),
    )
    .await
    .assert_problem(403, "forbidden");
}

async fn concurrent_upserts_of_one_key_create_one_customer(app: TestApp) {
    let admin = app.admin_token().await;
    let batch = json!({"upsert_on": "external_ids.erp", "items": [{"name": "Raced Ltd", "external_ids": {"erp": "R-1"}}]});
    let replies = futures_util::future::join_all(
        (0..6).map(|_| app.post("/v1/customers/batch", &admin, batch.clone())),
    )
    .await;
    let mut statuses: Vec<u64> = replies
        .iter()
        .map(|r| {
            r.assert_status(200);
            r.body["items"][0]["status"].as_u64().unwrap()
        })
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 201]);
    assert_eq!(named(&app, &admin, "Raced Ltd").await.len(), 1);
}

async fn what_a_batch_cannot_take(app: TestApp) {
    let admin = app.admin_token().await;
    let too_many: Vec<Value> = (0..201)
        .map(|i| json!({"name": format!("Many {i} Ltd")}))
        .collect();
    let reply = app
        .post("/v1/customers/batch", &admin, json!({"items": too_many}))
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["items"]);
    assert!(named(&app, &admin, "Many 0 Ltd").await.is_empty());

    let reply = app
        .post("/v1/customers/batch", &admin, json!({"items": []}))
        .await;
    assert_eq!(reply.error_fields(), ["items"]);
    let reply = app
        .post(
            "/v1/customers/batch",
            &admin,
            json!({"items": [{"name": "X Ltd"}], "upsert_on": "name"}),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["upsert_on"]);
    let reply = app
        .post("/v1/customers/batch", &admin, json!({"item": []}))
        .await;
    reply.assert_status(422);

    // 200 items, the most a batch takes, are all written.
    let most: Vec<Value> = (0..200)
        .map(|i| json!({"name": format!("Most {i} Ltd")}))
        .collect();
    let reply = app
        .post("/v1/customers/batch", &admin, json!({"items": most}))
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["created"], 200);
}

async fn contacts_are_added_and_upserted_by_email(app: TestApp) {
    let admin = app.admin_token().await;
    let acme = app
        .customer(
            &admin,
            json!({"name": "Contact Batch Ltd", "contacts": [{"first_name": "Lei", "emails": [{"address": "lei@contact-batch.example"}]}]}),
        )
        .await;
    let other = app
        .customer(&admin, json!({"name": "Other Batch Ltd"}))
        .await;
    let reply = app
        .post(
            "/v1/contacts/batch",
            &admin,
            json!({"upsert_on": "email", "items": [
                {"emails": [{"address": "LEI@contact-batch.example"}], "title": "Buyer"},
                {"customer_id": acme, "first_name": "Mei", "emails": [{"address": "mei@contact-batch.example"}]},
                {"customer_id": other, "first_name": "Lei", "emails": [{"address": "lei@contact-batch.example"}]},
                {"first_name": "Nobody", "emails": [{"address": "nobody@contact-batch.example"}]},
                {"customer_id": acme, "first_name": "Bad", "emails": [{"address": "not-an-email"}]},
                {"customer_id": "not-a-uuid", "first_name": "X", "emails": [{"address": "x@contact-batch.example"}]},
                {"customer_id": acme, "first_name": "Phone only", "phones": [{"number": "+86 138 0013 8001"}]},
            ]}),
        )
        .await;
    reply.assert_status(200);
    let items = &reply.body["items"];
    let status = |i: usize| items[i]["status"].as_u64().unwrap();
    assert_eq!(
        (0..7).map(status).collect::<Vec<_>>(),
        [200, 201, 201, 422, 422, 422, 422],
        "{}",
        reply.body
    );
    let field = |i: usize| {
        items[i]["error"]["errors"][0]["field"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(field(3), "customer_id");
    assert_eq!(field(4), "emails");
    assert_eq!(field(5), "customer_id");
    assert_eq!(field(6), "emails");

    let reply = app.get(&format!("/v1/customers/{acme}"), &admin).await;
    let contacts = reply.body["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 2, "{}", reply.body);
    let lei = contacts.iter().find(|c| c["first_name"] == "Lei").unwrap();
    assert_eq!(lei["title"], "Buyer");
    assert_eq!(lei["version"], 2);
    assert_eq!(items[0]["id"], lei["id"]);
    // The other customer got its own Lei: the item named its customer.
    let reply = app.get(&format!("/v1/customers/{other}"), &admin).await;
    assert_eq!(reply.body["contacts"][0]["first_name"], "Lei");

    // Now two contacts hold that email: without a customer the item is ambiguous.
    let reply = app
        .post(
            "/v1/contacts/batch",
            &admin,
            json!({"upsert_on": "email", "all_or_none": true, "items": [
                {"emails": [{"address": "lei@contact-batch.example"}], "title": "Nobody knows"},
            ]}),
        )
        .await;
    reply.assert_problem(422, "batch_failed");
    assert_eq!(reply.body["items"][0]["status"], 409);
    assert_eq!(reply.body["items"][0]["error"]["code"], "ambiguous_match");

    // A rep adds contacts to its own customers only.
    let rep = app.user("sales_rep", None).await;
    let reply = app
        .post(
            "/v1/contacts/batch",
            &rep.token,
            json!({"items": [{"customer_id": acme, "first_name": "Intruder"}]}),
        )
        .await;
    assert_eq!(reply.body["items"][0]["status"], 404, "{}", reply.body);
    let reply = app
        .post(
            "/v1/contacts/batch",
            &rep.token,
            json!({"upsert_on": "email", "items": [{"first_name": "Intruder", "emails": [{"address": "mei@contact-batch.example"}]}]}),
        )
        .await;
    assert_eq!(reply.body["items"][0]["status"], 422, "{}", reply.body);
    assert_eq!(
        reply.body["items"][0]["error"]["errors"][0]["field"],
        "customer_id"
    );
    let reply = app
        .post(
            "/v1/contacts/batch",
            &admin,
            json!({"upsert_on": "phone", "items": [{"first_name": "X"}]}),
        )
        .await;
    assert_eq!(reply.error_fields(), ["upsert_on"]);
}

async fn activities_are_recorded_and_changed_by_id(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app
        .customer(&admin, json!({"name": "Activity Batch Ltd"}))
        .await;
    let logged = app
        .post(
            "/v1/activities",
            &admin,
            json!({"customer_id": customer, "kind": "note", "summary": "First note"}),
        )
        .await;
    logged.assert_status(201);
    let note = logged.body["id"].as_str().unwrap().to_owned();
    let reply = app
        .post(
            "/v1/activities/batch",
            &admin,
            json!({"items": [
                {"customer_id": customer, "kind": "call", "direction": "outbound", "summary": "Called"},
                {"id": note, "summary": "First note, edited"},
                {"customer_id": customer, "kind": "séance", "summary": "?"},
                {"id": "01a24996-cad2-7344-b4be-73a32b1a0590", "summary": "Nobody's"},
                {"id": note, "customer_id": customer},
            ]}),
        )
        .await;
    reply.assert_status(200);
    let items = &reply.body["items"];
    let status = |i: usize| items[i]["status"].as_u64().unwrap();
    assert_eq!(
        (0..5).map(status).collect::<Vec<_>>(),
        [201, 200, 422, 404, 422],
        "{}",
        reply.body
    );
    assert_eq!(items[1]["version"], 2);
    assert_eq!(items[2]["error"]["errors"][0]["field"], "kind");
    assert_eq!(items[4]["error"]["errors"][0]["field"], "customer_id");
    let reply = app.get(&format!("/v1/activities/{note}"), &admin).await;
    assert_eq!(reply.body["summary"], "First note, edited");
    // The call reached the customer: it counts as its first contact, as one by one.
    let reply = app.get(&format!("/v1/customers/{customer}"), &admin).await;
    assert!(
        reply.body["first_contacted_at"].is_string(),
        "{}",
        reply.body
    );

    // A rep changes only what it sees, and no batch takes an upsert key here.
    let rep = app.user("sales_rep", None).await;
    let reply = app
        .post(
            "/v1/activities/batch",
            &rep.token,
            json!({"items": [{"id": note, "summary": "Mine now"}]}),
        )
        .await;
    assert_eq!(reply.body["items"][0]["status"], 404, "{}", reply.body);
    let reply = app
        .post(
            "/v1/activities/batch",
            &admin,
            json!({"upsert_on": "email", "items": [{"id": note, "summary": "x"}]}),
        )
        .await;
    assert_eq!(reply.error_fields(), ["upsert_on"]);
}

async fn tickets_and_opportunities_are_written_by_id(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app
        .customer(&admin, json!({"name": "Service Batch Ltd"}))
        .await;
    let reply = app
        .post(
            "/v1/tickets/batch",
            &admin,
            json!({"items": [
                {"customer_id": customer, "subject": "Printer jams", "channel": "wechat", "category": "complaint"},
                {"customer_id": customer, "subject": "Fax", "channel": "fax", "category": "complaint"},
            ]}),
        )
        .await;
    reply.assert_status(200);
    let items = reply.body["items"].clone();
    assert_eq!(items[0]["status"], 201, "{}", reply.body);
    assert_eq!(items[1]["error"]["errors"][0]["field"], "channel");
    let ticket = items[0]["id"].as_str().unwrap().to_owned();
    // Opened with its SLA due times, as one by one.
    let reply = app.get(&format!("/v1/tickets/{ticket}"), &admin).await;
    assert!(
        reply.body["resolution_due_at"].is_string(),
        "{}",
        reply.body
    );
    // A workflow move the rules forbid is that item's 409, and its savepoint undoes it.
    let reply = app
        .post(
            "/v1/tickets/batch",
            &admin,
            json!({"items": [
                {"id": ticket, "priority": "urgent", "status": "closed"},
                {"id": ticket, "subject": "Printer jams on floor 3"},
            ]}),
        )
        .await;
    let items = &reply.body["items"];
    assert_eq!(items[0]["status"], 409, "{}", reply.body);
    assert_eq!(items[1]["status"], 200);
    assert_eq!(items[1]["version"], 2);
    let reply = app.get(&format!("/v1/tickets/{ticket}"), &admin).await;
    assert_ne!(reply.body["priority"], "urgent");
    assert_eq!(reply.body["subject"], "Printer jams on floor 3");

    let reply = app
        .post(
            "/v1/opportunities/batch",
            &admin,
            json!({"all_or_none": true, "items": [
                {"customer_id": customer, "title": "Printers", "amount": {"amount": "1200.00", "currency": "CNY"}},
                {"customer_id": customer, "title": "Toner", "probability": 140},
            ]}),
        )
        .await;
    reply.assert_problem(422, "batch_failed");
    assert_eq!(reply.body["items"][0]["index"], 1);
    assert_eq!(
        reply.body["items"][0]["error"]["errors"][0]["field"],
        "probability"
    );
    let reply = app.get("/v1/opportunities", &admin).await;
    assert_eq!(
        reply.body["data"].as_array().unwrap().len(),
        0,
        "{}",
        reply.body
    );
    let reply = app
        .post(
            "/v1/opportunities/batch",
            &admin,
            json!({"items": [
                {"customer_id": customer, "title": "Printers", "amount": {"amount": "1200.00", "currency": "CNY"}},
            ]}),
        )
        .await;
    assert_eq!(reply.body["items"][0]["status"], 201, "{}", reply.body);
    let deal = reply.body["items"][0]["id"].as_str().unwrap().to_owned();
    let reply = app
        .post(
            "/v1/opportunities/batch",
            &admin,
            json!({"items": [{"id": deal, "next_step": "Send the quote"}]}),
        )
        .await;
    assert_eq!(reply.body["items"][0]["status"], 200, "{}", reply.body);
    let reply = app.get(&format!("/v1/opportunities/{deal}"), &admin).await;
    assert_eq!(reply.body["next_step"], "Send the quote");

    // Each resource's own scope: a tickets client writes no opportunities.
    let service = app.client_token(&["tickets:write", "customers:read"]).await;
    app.post(
        "/v1/opportunities/batch",
        &service,
        json!({"items": [{"customer_id": customer, "title": "X"}]}),
    )
    .await
    .assert_problem(403, "forbidden");
}
