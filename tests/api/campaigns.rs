//! Marketing campaigns over HTTP: the campaign and its refusals, cost entries, members added
//! by contact, customer, batch and filter with marketing consent honoured, who sees which
//! members, unsubscribing, attribution of leads and deals, and the campaign report's figures
//! against values computed here from what the test made.

use std::collections::BTreeMap;

use chrono::Duration;
use rapport_domain::clock::Clock;
use rapport_tests::{Reply, TestApp, backend_tests, read};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    campaigns_are_created_changed_moved_and_refused_by_field,
    cost_entries_are_added_listed_and_deleted,
    members_are_added_only_with_marketing_consent,
    members_by_filter_honour_consent_and_count_each_reason,
    a_manager_sees_only_members_of_its_teams_customers,
    a_member_who_unsubscribes_withdraws_the_contacts_consent,
    leads_and_deals_name_an_existing_campaign,
    the_report_figures_match_what_was_made,
);

/// `{"amount": amount, "currency": currency}`.
fn money(amount: &str, currency: &str) -> Value {
    json!({"amount": amount, "currency": currency})
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// A new campaign, answering its body.
async fn campaign(app: &TestApp, token: &str, body: Value) -> Value {
    let created = app.post("/v1/campaigns", token, body).await;
    created.assert_status(201);
    created.body
}

/// The fields a 422 names, sorted.
fn fields(reply: &Reply) -> Vec<String> {
    reply.assert_problem(422, "validation_failed");
    let mut f = reply.error_fields();
    f.sort();
    f
}

/// The code of the error at `field`.
fn code_at(reply: &Reply, field: &str) -> String {
    reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == field)
        .and_then(|e| e["code"].as_str())
        .unwrap_or_else(|| panic!("no error at {field}: {}", reply.body))
        .to_owned()
}

/// A customer with contacts whose consent is `true`, `false` or absent (`None`), answering
/// the customer's id and its contacts' ids in that order.
async fn customer_with(
    app: &TestApp,
    token: &str,
    extra: Value,
    consents: &[Option<bool>],
) -> (String, Vec<String>) {
    let contacts: Vec<Value> = consents
        .iter()
        .enumerate()
        .map(|(i, consent)| {
            let mut c = json!({"first_name": format!("Person {i}")});
            if let Some(granted) = consent {
                c["marketing_consent"] = json!({"granted": granted, "source": "web_form"});
            }
            c
        })
        .collect();
    let mut body = json!({"name": format!("Buyer {}", Uuid::now_v7()), "contacts": contacts});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let created = app
        .post("/v1/customers?allow_duplicate=true", token, body)
        .await;
    created.assert_status(201);
    let contact_ids = created.body["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    (id_of(&created.body), contact_ids)
}

/// `(contact_id, reason)` of an add's skipped items, sorted.
fn skipped(reply: &Reply) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = reply.body["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["contact_id"]
                    .as_str()
                    .or(s["customer_id"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The contact ids of an add's `added` members, sorted.
fn added(reply: &Reply) -> Vec<String> {
    let mut out: Vec<String> = reply.body["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["contact_id"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn campaigns_are_created_changed_moved_and_refused_by_field(app: TestApp) {
    let admin = app.admin_token().await;
    let marketer = app.user("marketing", None).await;
    let rep = app.user("sales_rep", None).await;
    let manager = app.user("sales_manager", None).await;
    let body = json!({"name": "Spring expo", "type": "event", "channel": "event",
                      "starts_at": "2027-03-01T09:00:00Z", "ends_at": "2027-03-03T18:00:00Z",
                      "budget": money("50000", "CNY"), "content": "Booth 12\nDemo at 3pm"});

    // Who may: 401 without a token, 403 without the scope, sales managers read only.
    app.call(Method::GET, "/v1/campaigns", None, None)
        .await
        .assert_problem(401, "unauthorized");
    app.get("/v1/campaigns", &rep.token)
        .await
        .assert_problem(403, "forbidden");
    app.post("/v1/campaigns", &manager.token, body.clone())
        .await
        .assert_problem(403, "forbidden");

    let created = app
        .post("/v1/campaigns", &marketer.token, body.clone())
        .await;
    created.assert_status(201);
    let c = created.body.clone();
    let path = format!("/v1/campaigns/{}", id_of(&c));
    assert_eq!(created.header("location"), Some(path.as_str()));
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(c["status"], "planned");
    assert_eq!(c["type"], "event");
    assert_eq!(c["owner_id"], json!(marketer.id), "the caller by default");
    assert_eq!(c["budget"], money("50000.00", "CNY"));
    assert_eq!(c["content"], "Booth 12\nDemo at 3pm", "kept as written");
    assert_eq!(app.get(&path, &manager.token).await.body, c);
    assert_eq!(app.audit_count(&id_of(&c)).await, 1);

    // Refusals name their fields.
    let refused = app
        .post(
            "/v1/campaigns",
            &marketer.token,
            json!({"type": "webinar", "starts_at": "2027-03-03T00:00:00Z",
                   "ends_at": "2027-03-01T00:00:00Z", "owner_id": Uuid::now_v7(),
                   "budget": money("1.234", "CNY")}),
        )
        .await;
    assert_eq!(
        fields(&refused),
        ["budget.amount", "ends_at", "name", "owner_id", "type"]
    );
    assert_eq!(code_at(&refused, "ends_at"), "ends_before_start");
    assert_eq!(code_at(&refused, "owner_id"), "unknown_reference");
    let merge_field = app
        .post(
            "/v1/campaigns",
            &marketer.token,
            json!({"name": "News", "type": "email", "email_subject": "Hi {{contact.first_name}}",
                   "email_body": "Dear {{contact.nickname}}"}),
        )
        .await;
    assert_eq!(fields(&merge_field), ["email_body"]);
    assert_eq!(code_at(&merge_field, "email_body"), "invalid_choice");
    let not_email = app
        .post(
            "/v1/campaigns",
            &marketer.token,
            json!({"name": "Expo", "type": "event", "email_body": "Hi"}),
        )
        .await;
    assert_eq!(fields(&not_email), ["email_body"]);
    let not_a_marketer = app
        .post(
            "/v1/campaigns",
            &marketer.token,
            json!({"name": "Expo", "type": "event", "owner_id": rep.id}),
        )
        .await;
    assert_eq!(code_at(&not_a_marketer, "owner_id"), "not_allowed");

    // An email campaign may be planned without its subject and body, and gets them later.
    let email = campaign(
        &app,
        &marketer.token,
        json!({"name": "December news", "type": "email"}),
    )
    .await;
    let email_path = format!("/v1/campaigns/{}", id_of(&email));
    let template = "Dear {{ contact.first_name }},\n\n{{customer.name}}\n{{unsubscribe_url}}";
    let written = app
        .call_if_match(
            Method::PATCH,
            &email_path,
            &marketer.token,
            "\"1\"",
            Some(json!({"email_subject": "News for {{customer.name}}", "email_body": template})),
        )
        .await;
    written.assert_status(200);
    assert_eq!(written.body["email_body"], template);

    // Status moves follow the workflow; 409 names the allowed ones; 412 on a stale tag.
    let skip = app
        .patch(&path, &marketer.token, json!({"status": "completed"}))
        .await;
    skip.assert_problem(409, "invalid_transition");
    assert_eq!(skip.body["allowed"], json!(["active", "cancelled"]));
    let stale = app
        .call_if_match(
            Method::PATCH,
            &path,
            &marketer.token,
            "\"7\"",
            Some(json!({"status": "active"})),
        )
        .await;
    stale.assert_problem(412, "precondition_failed");
    let bad_end = app
        .patch(
            &path,
            &marketer.token,
            json!({"ends_at": "2027-02-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(fields(&bad_end), ["ends_at"]);
    let active = app
        .call_if_match(
            Method::PATCH,
            &path,
            &marketer.token,
            "\"1\"",
            Some(json!({"status": "active", "name": "Spring expo 2027", "budget": null})),
        )
        .await;
    active.assert_status(200);
    assert_eq!(active.header("etag"), Some("\"2\""));
    assert_eq!(active.body["status"], "active");
    assert_eq!(active.body["budget"], Value::Null);
    app.patch(&path, &marketer.token, json!({"status": "completed"}))
        .await
        .assert_status(200);
    let over = app
        .patch(&path, &marketer.token, json!({"status": "active"}))
        .await;
    over.assert_problem(409, "invalid_transition");
    assert_eq!(over.body["allowed"], json!([]));
    app.patch(&path, &manager.token, json!({"name": "Mine"}))
        .await
        .assert_problem(403, "forbidden");

    // The list filters by status, type and owner, newest first.
    let list = |q: &str| format!("/v1/campaigns?{q}");
    let names = |reply: Reply| -> Vec<String> {
        reply.assert_status(200);
        reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(app.get(&list("type=email"), &admin).await),
        ["December news"]
    );
    assert_eq!(
        names(app.get(&list("status=completed"), &admin).await),
        ["Spring expo 2027"]
    );
    assert_eq!(
        names(app.get(&list("owner_id=me"), &marketer.token).await),
        ["December news", "Spring expo 2027"]
    );
    app.get(&list("status=done"), &admin)
        .await
        .assert_problem(400, "malformed_request");

    // Delete: 412 on a stale tag, then gone.
    app.call_if_match(Method::DELETE, &email_path, &marketer.token, "\"1\"", None)
        .await
        .assert_problem(412, "precondition_failed");
    app.delete(&email_path, &marketer.token)
        .await
        .assert_status(204);
    app.get(&email_path, &marketer.token)
        .await
        .assert_problem(404, "not_found");
    app.delete(&email_path, &marketer.token)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/v1/campaigns/{}", Uuid::now_v7()), &admin)
        .await
        .assert_problem(404, "not_found");
}

async fn cost_entries_are_added_listed_and_deleted(app: TestApp) {
    let marketer = app.user("marketing", None).await;
    let manager = app.user("sales_manager", None).await;
    let c = campaign(&app, &marketer.token, json!({"name": "Ads", "type": "ads"})).await;
    let costs = format!("/v1/campaigns/{}/costs", id_of(&c));
    let first = app
        .post(
            &costs,
            &marketer.token,
            json!({"amount": money("1200.50", "CNY"), "description": "Banner",
                   "incurred_on": "2027-01-10"}),
        )
        .await;
    first.assert_status(201);
    assert_eq!(first.body["amount"], money("1200.50", "CNY"));
    let second = app
        .post(
            &costs,
            &marketer.token,
            json!({"amount": money("99", "USD"), "incurred_on": "2027-01-12"}),
        )
        .await;
    second.assert_status(201);
    let refused = app
        .post(
            &costs,
            &marketer.token,
            json!({"amount": money("-1", "CNY"), "incurred_on": "10/01/2027"}),
        )
        .await;
    assert_eq!(fields(&refused), ["amount.amount", "incurred_on"]);
    app.post(&costs, &manager.token, json!({"amount": money("1", "CNY")}))
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &format!("/v1/campaigns/{}/costs", Uuid::now_v7()),
        &marketer.token,
        json!({"amount": money("1", "CNY")}),
    )
    .await
    .assert_problem(404, "not_found");

    let listed = app.get(&format!("{costs}?limit=1"), &manager.token).await;
    listed.assert_status(200);
    assert_eq!(
        listed.body["data"][0]["id"], second.body["id"],
        "latest first"
    );
    let cursor = listed.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = app
        .get(
            &format!(
                "{costs}?limit=1&cursor={}",
                rapport_tests::query_value(&cursor)
            ),
            &manager.token,
        )
        .await;
    assert_eq!(rest.body["data"][0]["id"], first.body["id"]);
    assert_eq!(rest.body["next_cursor"], Value::Null);

    let one = format!("{costs}/{}", id_of(&first.body));
    app.delete(&one, &manager.token)
        .await
        .assert_problem(403, "forbidden");
    app.delete(&one, &marketer.token).await.assert_status(204);
    app.delete(&one, &marketer.token)
        .await
        .assert_problem(404, "not_found");
    let left = app.get(&costs, &marketer.token).await;
    assert_eq!(left.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(app.audit_count(&id_of(&first.body)).await, 2);
}

async fn members_are_added_only_with_marketing_consent(app: TestApp) {
    let admin = app.admin_token().await;
    let marketer = app.user("marketing", None).await;
    let token = &marketer.token;
    let c = campaign(&app, token, json!({"name": "Expo", "type": "event"})).await;
    let members = format!("/v1/campaigns/{}/members", id_of(&c));
    let (acme, acme_contacts) =
        customer_with(&app, &admin, json!({}), &[Some(true), Some(false), None]).await;
    let [yes, no, unknown] = [0, 1, 2].map(|i| acme_contacts[i].clone());

    // One contact: added (201), then a member already (200).
    let one = app.post(&members, token, json!({"contact_id": yes})).await;
    one.assert_status(201);
    assert_eq!(added(&one), std::slice::from_ref(&yes));
    assert_eq!(one.body["added"][0]["status"], "invited");
    assert_eq!(one.body["added"][0]["customer_id"], json!(acme));
    assert_eq!(one.body["counts"]["added"], 1);
    let again = app.post(&members, token, json!({"contact_id": yes})).await;
    again.assert_status(200);
    assert_eq!(
        skipped(&again),
        [(yes.clone(), "already_member".to_owned())]
    );
    for contact in [&no, &unknown] {
        let refused = app
            .post(&members, token, json!({"contact_id": contact}))
            .await;
        refused.assert_status(200);
        assert_eq!(
            skipped(&refused),
            [(contact.clone(), "no_marketing_consent".to_owned())]
        );
    }

    // A customer adds its consenting contacts; one without contacts is skipped.
    let (globex, globex_contacts) = customer_with(
        &app,
        &admin,
        json!({}),
        &[Some(true), Some(true), Some(false)],
    )
    .await;
    let (empty, _) = customer_with(&app, &admin, json!({}), &[]).await;
    let by_customer = app
        .post(&members, token, json!({"customer_id": globex}))
        .await;
    by_customer.assert_status(201);
    assert_eq!(added(&by_customer), sorted(globex_contacts[..2].to_vec()));
    assert_eq!(
        skipped(&by_customer),
        [(
            globex_contacts[2].clone(),
            "no_marketing_consent".to_owned()
        )]
    );
    let nobody = app
        .post(&members, token, json!({"customer_id": empty}))
        .await;
    nobody.assert_status(200);
    assert_eq!(
        skipped(&nobody),
        [(empty.clone(), "no_contacts".to_owned())]
    );

    // Refusals: neither or both ids, unknown ones, a closed campaign.
    let neither = app.post(&members, token, json!({})).await;
    assert_eq!(fields(&neither), ["contact_id"]);
    let both = app
        .post(
            &members,
            token,
            json!({"contact_id": yes, "customer_id": acme}),
        )
        .await;
    assert_eq!(fields(&both), ["customer_id"]);
    app.post(&members, token, json!({"contact_id": Uuid::now_v7()}))
        .await
        .assert_problem(404, "not_found");
    app.post(
        &format!("/v1/campaigns/{}/members", Uuid::now_v7()),
        token,
        json!({"contact_id": yes}),
    )
    .await
    .assert_problem(404, "not_found");

    // A batch: each item as above, unknown ones skipped as not found, in one answer.
    let (initech, initech_contacts) =
        customer_with(&app, &admin, json!({}), &[Some(true), None]).await;
    let ghost = Uuid::now_v7().to_string();
    let batch = app
        .post(
            &format!("{members}/batch"),
            token,
            json!({"items": [{"customer_id": initech}, {"contact_id": yes},
                             {"contact_id": ghost}, {"customer_id": acme}]}),
        )
        .await;
    batch.assert_status(201);
    assert_eq!(added(&batch), [initech_contacts[0].clone()]);
    assert_eq!(
        skipped(&batch),
        sorted_pairs(vec![
            (initech_contacts[1].clone(), "no_marketing_consent"),
            (yes.clone(), "already_member"),
            (ghost.clone(), "not_found"),
            (yes.clone(), "already_member"),
            (no.clone(), "no_marketing_consent"),
            (unknown.clone(), "no_marketing_consent"),
        ])
    );
    assert_eq!(
        batch.body["counts"],
        json!({"added": 1, "no_marketing_consent": 3, "already_member": 2,
               "no_contacts": 0, "not_found": 1})
    );
    let bad_batch = app
        .post(&format!("{members}/batch"), token, json!({"items": [{}]}))
        .await;
    assert_eq!(fields(&bad_batch), ["items[0].contact_id"]);

    // The list: every member, filtered by status.
    let listed = app.get(&members, token).await;
    listed.assert_status(200);
    let mut contacts: Vec<String> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["contact_id"].as_str().unwrap().to_owned())
        .collect();
    contacts.sort();
    let mut expected = vec![
        yes.clone(),
        globex_contacts[0].clone(),
        globex_contacts[1].clone(),
        initech_contacts[0].clone(),
    ];
    expected.sort();
    assert_eq!(contacts, expected);
    let none_responded = app.get(&format!("{members}?status=responded"), token).await;
    assert_eq!(none_responded.body["data"], json!([]));
    // One audit event per member added, on its customer's trail.
    assert_eq!(app.audit_count(&id_of(&one.body["added"][0])).await, 1);

    // A closed campaign takes no members.
    app.patch(
        &format!("/v1/campaigns/{}", id_of(&c)),
        token,
        json!({"status": "cancelled"}),
    )
    .await
    .assert_status(200);
    app.post(&members, token, json!({"customer_id": initech}))
        .await
        .assert_problem(409, "conflict");
}

fn sorted_pairs(v: Vec<(String, &str)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v.into_iter().map(|(a, b)| (a, b.to_owned())).collect();
    out.sort();
    out
}

async fn members_by_filter_honour_consent_and_count_each_reason(app: TestApp) {
    let admin = app.admin_token().await;
    let marketer = app.user("marketing", None).await;
    let token = &marketer.token;
    let c = campaign(&app, token, json!({"name": "VIP dinner", "type": "event"})).await;
    let by_filter = format!("/v1/campaigns/{}/members/from-filter", id_of(&c));
    let vip = json!({"grade": "vip", "tags": ["expo-2027"]});
    // Matching customers: a mix of consenting, withdrawn and unknown consent, and none.
    let (_, a) = customer_with(&app, &admin, vip.clone(), &[Some(true), Some(false)]).await;
    let (_, b) = customer_with(&app, &admin, vip.clone(), &[None, Some(true), Some(true)]).await;
    let (empty, _) = customer_with(&app, &admin, vip.clone(), &[]).await;
    // Not matching: another grade, another tag, and a deleted customer.
    customer_with(
        &app,
        &admin,
        json!({"grade": "standard", "tags": ["expo-2027"]}),
        &[Some(true)],
    )
    .await;
    customer_with(&app, &admin, json!({"grade": "vip"}), &[Some(true)]).await;
    let (gone, _) = customer_with(&app, &admin, vip.clone(), &[Some(true)]).await;
    app.delete(&format!("/v1/customers/{gone}"), &admin)
        .await
        .assert_status(204);

    let filter = json!({"filter": {"grade": "vip", "tag": "expo-2027"}});
    let first = app.post(&by_filter, token, filter.clone()).await;
    first.assert_status(201);
    assert_eq!(
        added(&first),
        sorted(vec![a[0].clone(), b[1].clone(), b[2].clone()])
    );
    assert_eq!(
        skipped(&first),
        sorted_pairs(vec![
            (a[1].clone(), "no_marketing_consent"),
            (b[0].clone(), "no_marketing_consent"),
            (empty.clone(), "no_contacts"),
        ])
    );
    assert_eq!(
        first.body["counts"],
        json!({"added": 3, "no_marketing_consent": 2, "already_member": 0,
               "no_contacts": 1, "not_found": 0})
    );
    // Again: the same contacts are members already, the others still lack consent.
    let second = app.post(&by_filter, token, filter).await;
    second.assert_status(200);
    assert_eq!(
        second.body["counts"],
        json!({"added": 0, "no_marketing_consent": 2, "already_member": 3,
               "no_contacts": 1, "not_found": 0})
    );
    // Free-text search is a filter too.
    let searched = app
        .post(
            &by_filter,
            token,
            json!({"filter": {"q": "Buyer", "grade": "standard"}}),
        )
        .await;
    assert_eq!(searched.body["counts"]["added"], 1, "{}", searched.body);

    // Refusals name the filter's fields.
    let bad = app
        .post(
            &by_filter,
            token,
            json!({"filter": {"grade": "gold", "colour": "red", "deleted": true, "contacted": "yes"}}),
        )
        .await;
    assert_eq!(
        fields(&bad),
        [
            "filter.colour",
            "filter.contacted",
            "filter.deleted",
            "filter.grade"
        ]
    );
    assert_eq!(code_at(&bad, "filter.colour"), "unknown_field");
    let missing = app.post(&by_filter, token, json!({})).await;
    assert_eq!(fields(&missing), ["filter"]);
}

async fn a_manager_sees_only_members_of_its_teams_customers(app: TestApp) {
    let north = app.team("North").await;
    let south = app.team("South").await;
    let marketer = app.user("marketing", None).await;
    let manager = app.user("sales_manager", Some(north)).await;
    let north_rep = app.user("sales_rep", Some(north)).await;
    let south_rep = app.user("sales_rep", Some(south)).await;
    let c = campaign(
        &app,
        &marketer.token,
        json!({"name": "Roadshow", "type": "event"}),
    )
    .await;
    let members = format!("/v1/campaigns/{}/members", id_of(&c));
    let (_, ours) = customer_with(
        &app,
        &north_rep.token,
        json!({"owner_id": north_rep.id, "team_id": north}),
        &[Some(true)],
    )
    .await;
    let (_, theirs) = customer_with(
        &app,
        &south_rep.token,
        json!({"owner_id": south_rep.id, "team_id": south}),
        &[Some(true)],
    )
    .await;
    let batch = app
        .post(
            &format!("{members}/batch"),
            &marketer.token,
            json!({"items": [{"contact_id": ours[0]}, {"contact_id": theirs[0]}]}),
        )
        .await;
    batch.assert_status(201);
    assert_eq!(batch.body["counts"]["added"], 2);
    let theirs_member = batch.body["added"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["contact_id"] == json!(theirs[0]))
        .map(id_of)
        .unwrap();

    let seen = app.get(&members, &manager.token).await;
    seen.assert_status(200);
    let contacts: Vec<&str> = seen.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["contact_id"].as_str().unwrap())
        .collect();
    assert_eq!(contacts, [ours[0].as_str()]);
    assert_eq!(
        app.get(&members, &marketer.token).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A rep has no campaigns:read; a manager may not change members.
    app.get(&members, &north_rep.token)
        .await
        .assert_problem(403, "forbidden");
    app.patch(
        &format!("{members}/{theirs_member}"),
        &manager.token,
        json!({"status": "responded"}),
    )
    .await
    .assert_problem(403, "forbidden");
    // A member of another campaign's path is unknown here.
    let other = campaign(
        &app,
        &marketer.token,
        json!({"name": "Other", "type": "other"}),
    )
    .await;
    app.patch(
        &format!("/v1/campaigns/{}/members/{theirs_member}", id_of(&other)),
        &marketer.token,
        json!({"status": "responded"}),
    )
    .await
    .assert_problem(404, "not_found");
}

async fn a_member_who_unsubscribes_withdraws_the_contacts_consent(app: TestApp) {
    let admin = app.admin_token().await;
    let marketer = app.user("marketing", None).await;
    let token = &marketer.token;
    let c = campaign(&app, token, json!({"name": "Newsletter", "type": "email"})).await;
    let members = format!("/v1/campaigns/{}/members", id_of(&c));
    let (_, contacts) = customer_with(&app, &admin, json!({}), &[Some(true)]).await;
    let added = app
        .post(&members, token, json!({"contact_id": contacts[0]}))
        .await;
    added.assert_status(201);
    let member = format!("{members}/{}", id_of(&added.body["added"][0]));

    let bad = app.patch(&member, token, json!({"status": "bored"})).await;
    assert_eq!(fields(&bad), ["status"]);
    let responded = app
        .call_if_match(
            Method::PATCH,
            &member,
            token,
            "\"1\"",
            Some(json!({"status": "responded"})),
        )
        .await;
    responded.assert_status(200);
    let responded_at = responded.body["responded_at"].clone();
    assert!(responded_at.is_string(), "{}", responded.body);
    app.clock.advance(Duration::minutes(5));
    let converted = app
        .patch(&member, token, json!({"status": "converted"}))
        .await;
    converted.assert_status(200);
    assert_eq!(
        converted.body["responded_at"], responded_at,
        "the first response"
    );
    app.call_if_match(
        Method::PATCH,
        &member,
        token,
        "\"1\"",
        Some(json!({"status": "attended"})),
    )
    .await
    .assert_problem(412, "precondition_failed");

    let unsubscribed = app
        .patch(&member, token, json!({"status": "unsubscribed"}))
        .await;
    unsubscribed.assert_status(200);
    let contact = app
        .get(&format!("/v1/contacts/{}", contacts[0]), &admin)
        .await;
    contact.assert_status(200);
    assert_eq!(contact.body["marketing_consent"]["granted"], false);
    assert_eq!(contact.body["marketing_consent"]["source"], "unsubscribe");
    let trail = app.audit_events(&contacts[0]).await;
    assert!(
        trail.iter().any(|e| e["action"] == "update"
            && e["changes"]["marketing_consent"]["after"]["granted"] == false),
        "{trail:?}"
    );
    // Without consent now: a new campaign skips the contact.
    let next = campaign(&app, token, json!({"name": "Next", "type": "email"})).await;
    let skipped_now = app
        .post(
            &format!("/v1/campaigns/{}/members", id_of(&next)),
            token,
            json!({"contact_id": contacts[0]}),
        )
        .await;
    assert_eq!(
        skipped(&skipped_now),
        [(contacts[0].clone(), "no_marketing_consent".to_owned())]
    );

    // Removed: 204, then unknown.
    app.delete(&member, token).await.assert_status(204);
    app.delete(&member, token)
        .await
        .assert_problem(404, "not_found");
}

async fn leads_and_deals_name_an_existing_campaign(app: TestApp) {
    let admin = app.admin_token().await;
    let marketer = app.user("marketing", None).await;
    let c = campaign(
        &app,
        &marketer.token,
        json!({"name": "Fair", "type": "event"}),
    )
    .await;
    let campaign_id = id_of(&c);

    // A lead of a campaign: its source defaults to `campaign`; an unknown campaign is refused.
    let lead = app
        .post(
            "/v1/customers",
            &admin,
            json!({"name": "Fair Lead Co", "campaign_id": campaign_id}),
        )
        .await;
    lead.assert_status(201);
    assert_eq!(lead.body["campaign_id"], json!(campaign_id));
    assert_eq!(lead.body["source"], "campaign");
    let referred = app
        .post(
            "/v1/customers",
            &admin,
            json!({"name": "Referred Co", "campaign_id": campaign_id, "source": "referral"}),
        )
        .await;
    assert_eq!(
        referred.body["source"], "referral",
        "a source given is kept"
    );
    let unknown = app
        .post(
            "/v1/customers",
            &admin,
            json!({"name": "Nowhere Co", "campaign_id": Uuid::now_v7()}),
        )
        .await;
    assert_eq!(fields(&unknown), ["campaign_id"]);
    assert_eq!(code_at(&unknown, "campaign_id"), "unknown_reference");
    let listed = app
        .get(&format!("/v1/customers?campaign_id={campaign_id}"), &admin)
        .await;
    listed.assert_status(200);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
    let other = app.customer(&admin, json!({"name": "Later Co"})).await;
    let path = format!("/v1/customers/{other}");
    let bad = app
        .patch(&path, &admin, json!({"campaign_id": Uuid::now_v7()}))
        .await;
    assert_eq!(fields(&bad), ["campaign_id"]);
    let set = app
        .patch(&path, &admin, json!({"campaign_id": campaign_id}))
        .await;
    set.assert_status(200);
    assert_eq!(set.body["campaign_id"], json!(campaign_id));

    // Deals: the campaign must exist.
    let deal = app
        .post(
            "/v1/opportunities",
            &admin,
            json!({"customer_id": other, "title": "Fair deal", "campaign_id": Uuid::now_v7()}),
        )
        .await;
    assert_eq!(fields(&deal), ["campaign_id"]);
    assert_eq!(code_at(&deal, "campaign_id"), "unknown_reference");
    let good = app
        .post(
            "/v1/opportunities",
            &admin,
            json!({"customer_id": other, "title": "Fair deal", "campaign_id": campaign_id}),
        )
        .await;
    good.assert_status(201);
    let changed = app
        .patch(
            &format!("/v1/opportunities/{}", id_of(&good.body)),
            &admin,
            json!({"campaign_id": Uuid::now_v7()}),
        )
        .await;
    assert_eq!(fields(&changed), ["campaign_id"]);
}

/// The id of the default pipeline's stage `name`.
async fn stage_id(app: &TestApp, token: &str, name: &str) -> String {
    let pipelines = app.get("/v1/pipelines", token).await;
    pipelines.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["is_default"] == true)
        .flat_map(|p| p["stages"].as_array().unwrap().iter())
        .find(|s| s["name"] == name)
        .and_then(|s| s["id"].as_str())
        .unwrap_or_else(|| panic!("no stage {name}"))
        .to_owned()
}

/// What the test made for one campaign, to compute its report row.
#[derive(Default)]
struct Made {
    members: i64,
    responses: i64,
    leads: i64,
    opportunities: i64,
    won: i64,
    /// Minor units won and spent, by currency.
    won_minor: BTreeMap<&'static str, i64>,
    cost_minor: BTreeMap<&'static str, i64>,
}

/// `minor` (2 decimals) as an amount string.
fn amount(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// `num / den` in percent, 1 decimal, half away from zero (as the report rounds).
fn percent(num: i64, den: i64) -> f64 {
    if den == 0 {
        return 0.0;
    }
    let tenths = (num.abs() * 1000 + den / 2) / den;
    num.signum() as f64 * tenths as f64 / 10.0
}

/// The rows the report must give for `made` (one per currency), as JSON.
fn expected_rows(name: &str, kind: &str, made: &Made) -> Vec<Value> {
    let mut currencies: Vec<&str> = made
        .won_minor
        .keys()
        .chain(made.cost_minor.keys())
        .copied()
        .collect();
    currencies.sort();
    currencies.dedup();
    currencies
        .into_iter()
        .map(|currency| {
            let won = made.won_minor.get(currency).copied().unwrap_or(0);
            let cost = made.cost_minor.get(currency).copied().unwrap_or(0);
            json!({
                "name": name,
                "type": kind,
                "currency": currency,
                "members": made.members,
                "responses": made.responses,
                "response_rate": percent(made.responses, made.members),
                "leads": made.leads,
                "opportunities": made.opportunities,
                "won": made.won,
                "won_amount": money(&amount(won), currency),
                "conversion_rate": percent(made.won, made.leads),
                "cost": money(&amount(cost), currency),
                "cost_per_lead": if made.leads > 0 {
                    money(&amount((cost + made.leads / 2) / made.leads), currency)
                } else {
                    Value::Null
                },
                "roi": if cost > 0 { json!(percent(won - cost, cost)) } else { Value::Null },
                // Nothing is emailed here: campaign_email.rs checks these.
                "sent": 0, "bounced": 0, "opened": 0, "clicked": 0, "unsubscribed": 0,
                "open_rate": null, "click_rate": null,
            })
        })
        .collect()
}

async fn the_report_figures_match_what_was_made(app: TestApp) {
    let admin = app.admin_token().await;
    let marketer = app.user("marketing", None).await;
    let rep = app.user("sales_rep", None).await;
    let token = &marketer.token;
    let (won_stage, lost_stage) = (
        stage_id(&app, &admin, "Won").await,
        stage_id(&app, &admin, "Lost").await,
    );
    let expo = campaign(&app, token, json!({"name": "Expo", "type": "event"})).await;
    let mail = campaign(&app, token, json!({"name": "Mailing", "type": "email"})).await;
    let mut made: BTreeMap<String, Made> = BTreeMap::new();

    // Members: consenting contacts of a few customers; some respond.
    for (c, consents, responses) in [(&expo, 5, 2), (&mail, 3, 3)] {
        let (customer, _) =
            customer_with(&app, &admin, json!({}), &vec![Some(true); consents]).await;
        let reply = app
            .post(
                &format!("/v1/campaigns/{}/members", id_of(c)),
                token,
                json!({"customer_id": customer}),
            )
            .await;
        reply.assert_status(201);
        let statuses = ["responded", "attended", "converted"];
        for (i, m) in reply.body["added"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .take(responses)
        {
            app.patch(
                &format!("/v1/campaigns/{}/members/{}", id_of(c), id_of(m)),
                token,
                json!({"status": statuses[i % 3]}),
            )
            .await
            .assert_status(200);
        }
        let entry = made.entry(id_of(c)).or_default();
        entry.members += consents as i64;
        entry.responses += responses as i64;
    }

    // Leads of each campaign; deals on them in two currencies, won, lost and open.
    let deals: [(&Value, &str, i64, &str); 6] = [
        (&expo, "CNY", 1_000_000, "won"),
        (&expo, "CNY", 250_050, "won"),
        (&expo, "USD", 70_000, "won"),
        (&expo, "CNY", 99_900, "lost"),
        (&mail, "CNY", 33_333, "open"),
        (&mail, "USD", 12_345, "won"),
    ];
    let mut leads: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in [&expo, &mail, &expo] {
        let lead = app
            .customer(
                &admin,
                json!({"name": format!("Lead {}", Uuid::now_v7()), "campaign_id": id_of(c)}),
            )
            .await;
        leads.entry(id_of(c)).or_default().push(lead.to_string());
        made.entry(id_of(c)).or_default().leads += 1;
    }
    for (i, (c, currency, minor, end)) in deals.iter().enumerate() {
        let customer = &leads[&id_of(c)][i % leads[&id_of(c)].len()];
        let created = app
            .post(
                "/v1/opportunities",
                &admin,
                json!({"customer_id": customer, "title": format!("Deal {i}"),
                       "campaign_id": id_of(c), "amount": money(&amount(*minor), currency)}),
            )
            .await;
        created.assert_status(201);
        let entry = made.entry(id_of(c)).or_default();
        entry.opportunities += 1;
        let stage = match *end {
            "won" => Some(json!({"stage_id": won_stage})),
            "lost" => Some(json!({"stage_id": lost_stage, "lost_reason": "price"})),
            _ => None,
        };
        if let Some(stage) = stage {
            app.post(
                &format!("/v1/opportunities/{}/stage", id_of(&created.body)),
                &admin,
                stage,
            )
            .await
            .assert_status(200);
        }
        if *end == "won" {
            entry.won += 1;
            *entry.won_minor.entry(currency).or_default() += minor;
        }
    }
    // Costs, in both currencies for the expo, and one that a deletion takes back.
    let costs: [(&Value, &str, i64); 4] = [
        (&expo, "CNY", 300_000),
        (&expo, "CNY", 45_001),
        (&expo, "USD", 100_000),
        (&mail, "CNY", 5_000),
    ];
    for (c, currency, minor) in costs {
        app.post(
            &format!("/v1/campaigns/{}/costs", id_of(c)),
            token,
            json!({"amount": money(&amount(minor), currency)}),
        )
        .await
        .assert_status(201);
        *made
            .entry(id_of(c))
            .or_default()
            .cost_minor
            .entry(currency)
            .or_default() += minor;
    }
    let undone = app
        .post(
            &format!("/v1/campaigns/{}/costs", id_of(&mail)),
            token,
            json!({"amount": money("999", "CNY")}),
        )
        .await;
    app.delete(
        &format!(
            "/v1/campaigns/{}/costs/{}",
            id_of(&mail),
            id_of(&undone.body)
        ),
        token,
    )
    .await
    .assert_status(204);

    // By campaign: a row per campaign and currency.
    let report = app.get("/v1/reports/campaigns", token).await;
    report.assert_status(200);
    let strip = |rows: &Value| -> Vec<Value> {
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut r = r.clone();
                let o = r.as_object_mut().unwrap();
                o.remove("campaign_id");
                o.remove("status");
                r
            })
            .collect()
    };
    let mut expected = expected_rows("Expo", "event", &made[&id_of(&expo)]);
    expected.extend(expected_rows("Mailing", "email", &made[&id_of(&mail)]));
    let mut got = strip(&report.body["rows"]);
    let key = |v: &Value| format!("{}{}", v["name"], v["currency"]);
    got.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(got, expected);
    // The expo in CNY, spelled out: 12,500.50 won against 3,450.01 spent.
    let expo_cny = got
        .iter()
        .find(|r| r["name"] == "Expo" && r["currency"] == "CNY")
        .unwrap();
    assert_eq!(expo_cny["won_amount"], money("12500.50", "CNY"));
    assert_eq!(expo_cny["cost"], money("3450.01", "CNY"));
    assert_eq!(expo_cny["cost_per_lead"], money("1725.01", "CNY"));
    assert_eq!(expo_cny["roi"], json!(262.3));
    assert_eq!(expo_cny["response_rate"], json!(40.0));

    // The CSV holds the JSON's numbers.
    let csv = read(
        app.client
            .get(app.url("/v1/reports/campaigns"))
            .bearer_auth(token)
            .header("Accept", "text/csv")
            .send()
            .await
            .unwrap(),
    )
    .await;
    csv.assert_status(200);
    let text = csv.body.as_str().unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        lines[0],
        [
            "campaign_id",
            "name",
            "type",
            "status",
            "currency",
            "members",
            "responses",
            "response_rate",
            "leads",
            "opportunities",
            "won",
            "won_amount",
            "conversion_rate",
            "cost",
            "cost_per_lead",
            "roi",
            "sent",
            "bounced",
            "opened",
            "clicked",
            "unsubscribed",
            "open_rate",
            "click_rate"
        ]
    );
    assert_eq!(
        lines.len(),
        1 + report.body["rows"].as_array().unwrap().len()
    );
    for (row, line) in report.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&lines[1..])
    {
        assert_eq!(line[0], row["campaign_id"].as_str().unwrap());
        assert_eq!(line[4], row["currency"].as_str().unwrap());
        assert_eq!(line[5], row["members"].to_string());
        let number = |cell: &str| cell.parse::<f64>().unwrap();
        assert_eq!(number(line[7]), row["response_rate"].as_f64().unwrap());
        assert_eq!(line[11], row["won_amount"]["amount"].as_str().unwrap());
        assert_eq!(line[13], row["cost"]["amount"].as_str().unwrap());
        match row["roi"].as_f64() {
            Some(roi) => assert_eq!(number(line[15]), roi),
            None => assert_eq!(line[15], ""),
        }
    }

    // By type: the campaigns of a type summed, per currency.
    let by_type = app
        .get("/v1/reports/campaigns?group_by=type&type=event", token)
        .await;
    by_type.assert_status(200);
    let rows = by_type.body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{}", by_type.body);
    let event_usd = rows.iter().find(|r| r["currency"] == "USD").unwrap();
    assert_eq!(event_usd["type"], "event");
    assert_eq!(event_usd["campaign_id"], Value::Null);
    assert_eq!(event_usd["won_amount"], money("700.00", "USD"));
    assert_eq!(event_usd["roi"], json!(-30.0));

    // The period: campaigns that overlap it (without dates: from their creation, open-ended).
    let period = |from: Duration, to: Duration| {
        let at = |d: Duration| rapport_tests::query_value(&(app.clock.now() + d).to_rfc3339());
        format!("/v1/reports/campaigns?from={}&to={}", at(from), at(to))
    };
    let before = app
        .get(&period(Duration::days(-2), Duration::days(-1)), token)
        .await;
    before.assert_status(200);
    assert_eq!(before.body["rows"], json!([]), "made after the period");
    let after = app
        .get(&period(Duration::days(30), Duration::days(31)), token)
        .await;
    assert_eq!(
        after.body["rows"].as_array().unwrap().len(),
        4,
        "open-ended"
    );
    app.get("/v1/reports/campaigns?group_by=owner", token)
        .await
        .assert_problem(400, "malformed_request");
    app.get("/v1/reports/campaigns", &rep.token)
        .await
        .assert_problem(403, "forbidden");
}
