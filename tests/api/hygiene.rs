//! The hygiene lists: inactive customers, customers never contacted, and contacts without an
//! email or a phone; each filtered by the caller's view.

use std::collections::BTreeSet;

use chrono::Duration;
use rapport_tests::{TestApp, backend_tests};
use serde_json::json;
use uuid::Uuid;

backend_tests!(
    inactive_and_uncontacted_customers_are_listed,
    contacts_without_an_email_or_a_phone_are_listed,
);

/// The names on every page of `path` (walked with `limit=1`).
async fn names(app: &TestApp, path: &str, token: &str, field: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut next = format!("{path}{sep}limit=1");
    loop {
        let reply = app.get(&next, token).await;
        reply.assert_status(200);
        for item in reply.body["data"].as_array().unwrap() {
            assert!(
                out.insert(item[field].as_str().unwrap().to_owned()),
                "listed twice: {item}"
            );
        }
        match reply.body["next_cursor"].as_str() {
            Some(cursor) => next = format!("{path}{sep}limit=1&cursor={cursor}"),
            None => return out,
        }
    }
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

async fn activity(app: &TestApp, token: &str, customer: Uuid, kind: &str) {
    app.post(
        "/v1/activities",
        token,
        json!({"customer_id": customer, "kind": kind, "summary": "Touch"}),
    )
    .await
    .assert_status(201);
}

async fn inactive_and_uncontacted_customers_are_listed(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    // Created now: a lead never touched, one called now, one with only a note later.
    app.customer(
        &admin,
        json!({"name": "Silent Lead", "lifecycle_stage": "lead"}),
    )
    .await;
    let called = app
        .customer(
            &admin,
            json!({"name": "Called Early", "lifecycle_stage": "lead"}),
        )
        .await;
    let noted = app
        .customer(
            &admin,
            json!({"name": "Noted Late", "lifecycle_stage": "customer"}),
        )
        .await;
    app.customer(
        &rep.token,
        json!({"name": "Rep Owned", "lifecycle_stage": "prospect"}),
    )
    .await;
    activity(&app, &admin, called, "call").await;

    app.clock.advance(Duration::days(40));
    let admin = app.admin_token().await;
    activity(&app, &admin, noted, "note").await;
    app.customer(
        &admin,
        json!({"name": "Fresh Lead", "lifecycle_stage": "lead"}),
    )
    .await;

    let list = |query: &str| format!("/v1/customers?{query}");
    assert_eq!(
        names(&app, &list("inactive_days=30"), &admin, "name").await,
        set(&["Silent Lead", "Called Early", "Rep Owned"]),
        "no activity for 30 days: never any since a creation 40 days ago, or the last 40 days ago"
    );
    assert_eq!(
        names(&app, &list("inactive_days=41"), &admin, "name").await,
        set(&[])
    );
    assert_eq!(
        names(&app, &list("contacted=false"), &admin, "name").await,
        set(&["Silent Lead", "Noted Late", "Rep Owned", "Fresh Lead"]),
        "a note is no contact"
    );
    assert_eq!(
        names(&app, &list("contacted=true"), &admin, "name").await,
        set(&["Called Early"])
    );
    assert_eq!(
        names(
            &app,
            &list("lifecycle_stage=lead&contacted=false&inactive_days=30"),
            &admin,
            "name"
        )
        .await,
        set(&["Silent Lead"]),
        "the leads never followed up, and quiet for a month"
    );

    // A rep's list holds only its own customers.
    let rep_token = app.token_of(&rep).await;
    assert_eq!(
        names(&app, &list("inactive_days=30"), &rep_token, "name").await,
        set(&["Rep Owned"])
    );

    for bad in ["inactive_days=0", "inactive_days=3651", "inactive_days=x"] {
        let reply = app.get(&list(bad), &admin).await;
        reply.assert_status(400);
        assert!(
            reply.body.to_string().contains("inactive_days"),
            "{bad}: {}",
            reply.body
        );
    }
    app.get(&list("contacted=maybe"), &admin)
        .await
        .assert_status(400);
}

async fn contacts_without_an_email_or_a_phone_are_listed(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let theirs = app
        .customer(
            &admin,
            json!({"name": "Contacts Co", "contacts": [
                {"first_name": "Both", "emails": [{"address": "both@example.com"}],
                 "phones": [{"number": "+86 138 0013 8000"}]},
                {"first_name": "EmailOnly", "emails": [{"address": "email@example.com"}]},
                {"first_name": "PhoneOnly", "phones": [{"number": "+86 138 0013 8001"}]},
                {"first_name": "Neither"}
            ]}),
        )
        .await;
    app.customer(
        &rep.token,
        json!({"name": "Rep Co", "contacts": [{"first_name": "RepNeither"}]}),
    )
    .await;
    // A deleted customer's contacts are listed for no one.
    let gone = app
        .customer(
            &admin,
            json!({"name": "Gone Co", "contacts": [{"first_name": "GoneNeither"}]}),
        )
        .await;
    app.delete(&format!("/v1/customers/{gone}"), &admin)
        .await
        .assert_status(204);

    let list = |query: &str| format!("/v1/contacts?{query}");
    let first = "first_name";
    assert_eq!(
        names(&app, "/v1/contacts", &admin, first).await,
        set(&["Both", "EmailOnly", "PhoneOnly", "Neither", "RepNeither"])
    );
    assert_eq!(
        names(&app, &list("missing=email"), &admin, first).await,
        set(&["PhoneOnly", "Neither", "RepNeither"])
    );
    assert_eq!(
        names(&app, &list("missing=phone"), &admin, first).await,
        set(&["EmailOnly", "Neither", "RepNeither"])
    );
    assert_eq!(
        names(&app, &list("missing=email,phone"), &admin, first).await,
        set(&["Neither", "RepNeither"])
    );
    assert_eq!(
        names(
            &app,
            &list(&format!("missing=phone&customer_id={theirs}")),
            &admin,
            first
        )
        .await,
        set(&["EmailOnly", "Neither"])
    );
    assert_eq!(
        names(&app, &list("missing=email"), &rep.token, first).await,
        set(&["RepNeither"]),
        "a rep sees only its customers' contacts"
    );

    let reply = app.get(&list("missing=fax"), &admin).await;
    reply.assert_status(400);
    assert!(reply.body.to_string().contains("missing"), "{}", reply.body);
    let auditor = app.user("auditor", None).await;
    app.get("/v1/contacts", &auditor.token)
        .await
        .assert_status(200);
    let no_scope = app.client_token(&["reports:read"]).await;
    app.get("/v1/contacts", &no_scope).await.assert_status(403);
}
