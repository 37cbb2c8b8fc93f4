//! Webhooks: subscriptions, signed deliveries to a receiver the test starts, retries with
//! backoff, order per record, pausing after a day of failures, replays, the SSRF guard, and
//! who sees which subscription.

use chrono::Duration;
use hmac::{Hmac, Mac};
use rapport_tests::receiver::{Received, Receiver};
use rapport_tests::{TestApp, backend_tests};
use serde_json::{Value, json};
use sha2::Sha256;

backend_tests!(
    settings = |a| a.webhooks_allow_private = Some(true);
    deliveries_are_signed_and_in_order,
    a_failing_receiver_gets_the_event_on_the_fourth_attempt,
    a_day_of_failures_pauses_the_subscription_until_resumed,
    events_of_contacts_and_tickets_are_delivered,
);

backend_tests!(
    private_addresses_are_refused,
    subscriptions_are_their_owners
);

/// Checks `Rapport-Signature` as a receiver would: HMAC-SHA256 of `<t>.<body>`.
fn assert_signed(received: &Received, secret: &str) {
    let header = received.header("Rapport-Signature").expect("signed");
    let (t, v1) = header
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .expect("t=…,v1=…");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&received.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        v1,
        expected,
        "signature of {}",
        received.header("Rapport-Event-Type").unwrap()
    );
}

async fn subscribe(app: &TestApp, token: &str, url: &str, types: &[&str]) -> (String, String) {
    let created = app
        .post(
            "/v1/webhooks",
            token,
            json!({"url": url, "event_types": types, "description": "ERP"}),
        )
        .await;
    created.assert_status(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(
        created.header("Location"),
        Some(format!("/v1/webhooks/{id}").as_str())
    );
    (id, secret)
}

fn types(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn deliveries(app: &TestApp, token: &str, hook: &str) -> Vec<Value> {
    let page = app
        .get(&format!("/v1/webhooks/{hook}/deliveries"), token)
        .await;
    page.assert_status(200);
    page.body["data"].as_array().unwrap().clone()
}

/// A subscription's deliveries once none is pending: an attempt is recorded just after the
/// receiver answers it.
async fn settled(app: &TestApp, token: &str, hook: &str) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let listed = deliveries(app, token, hook).await;
        if listed.iter().all(|d| d["status"] != "pending") {
            return listed;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still pending: {listed:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn deliveries_are_signed_and_in_order(app: TestApp) {
    let receiver = Receiver::start().await;
    let admin = app.admin_token().await;
    let (hook, secret) = subscribe(
        &app,
        &admin,
        &receiver.url(),
        &["customer.created", "customer.updated", "customer.deleted"],
    )
    .await;
    // The secret is shown once.
    let got = app.get(&format!("/v1/webhooks/{hook}"), &admin).await;
    got.assert_status(200);
    assert!(!got.body.to_string().contains(&secret));
    assert_eq!(got.body["status"], "active");

    // A grade given by hand: the grading run that the server starts leaves it, so the only
    // updates are the test's own.
    let customer = app
        .customer(
            &admin,
            json!({"name": "Northwind Traders", "kind": "enterprise", "grade": "standard"}),
        )
        .await;
    let path = format!("/v1/customers/{customer}");
    app.patch(&path, &admin, json!({"industry": "wholesale_retail"}))
        .await
        .assert_status(200);
    app.patch(&path, &admin, json!({"size": "medium"}))
        .await
        .assert_status(200);
    app.delete(&path, &admin).await.assert_status(204);
    // Refused writes raise nothing.
    app.post("/v1/customers", &admin, json!({"name": ""}))
        .await
        .assert_status(422);

    let received = receiver.wait_for(4).await;
    assert_eq!(
        types(&received),
        [
            "customer.created",
            "customer.updated",
            "customer.updated",
            "customer.deleted"
        ]
    );
    for r in &received {
        assert_signed(r, &secret);
        assert_eq!(r.path, "/hooks");
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        let event = r.json();
        assert_eq!(r.header("Rapport-Event-Id"), event["id"].as_str());
        assert_eq!(r.header("Rapport-Event-Type"), event["type"].as_str());
        assert_eq!(event["data"]["object"], "customer");
        assert_eq!(event["data"]["id"], customer.to_string());
        assert_eq!(event["actor"]["type"], "user");
    }
    let created = received[0].json();
    assert_eq!(
        created["data"]["changes"]["name"]["after"],
        "Northwind Traders"
    );
    assert_eq!(
        received[1].json()["data"]["changes"]["industry"],
        json!({"before": null, "after": "wholesale_retail"})
    );

    let listed = settled(&app, &admin, &hook).await;
    assert_eq!(listed.len(), 4);
    for d in &listed {
        assert_eq!(d["status"], "succeeded");
        assert_eq!(d["attempts"].as_array().unwrap().len(), 1);
        assert_eq!(d["attempts"][0]["response_status"], 204);
        assert!(d["attempts"][0]["latency_ms"].is_u64());
    }
    // Newest first; one by id; unknown ones are 404.
    assert_eq!(listed[0]["event_type"], "customer.deleted");
    let one = app
        .get(
            &format!(
                "/v1/webhooks/{hook}/deliveries/{}",
                listed[3]["id"].as_str().unwrap()
            ),
            &admin,
        )
        .await;
    one.assert_status(200);
    assert_eq!(one.body["payload"], created);
    app.get(
        &format!("/v1/webhooks/{hook}/deliveries/{}", uuid::Uuid::now_v7()),
        &admin,
    )
    .await
    .assert_problem(404, "not_found");
    let failed = app
        .get(
            &format!("/v1/webhooks/{hook}/deliveries?status=failed"),
            &admin,
        )
        .await;
    assert_eq!(failed.body["data"], json!([]));
    app.get(
        &format!("/v1/webhooks/{hook}/deliveries?status=lost"),
        &admin,
    )
    .await
    .assert_problem(400, "malformed_request");

    // Finished deliveries are purged after 30 days.
    app.clock.advance(Duration::days(31));
    let admin = app.admin_token().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !deliveries(&app, &admin, &hook).await.is_empty() {
        assert!(std::time::Instant::now() < deadline, "deliveries kept");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits until the receiver has `count` requests, moving the clock past each retry's backoff.
async fn retried_until(app: &TestApp, receiver: &Receiver, count: usize) -> Vec<Received> {
    for _ in 0..200 {
        if receiver.received().len() >= count {
            break;
        }
        app.clock.advance(Duration::seconds(15));
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    }
    receiver.wait_for(count).await
}

async fn a_failing_receiver_gets_the_event_on_the_fourth_attempt(app: TestApp) {
    let receiver = Receiver::start().await;
    receiver.answer(&[500, 500, 503]);
    let admin = app.admin_token().await;
    let (hook, secret) = subscribe(
        &app,
        &admin,
        &receiver.url(),
        &["customer.created", "customer.updated"],
    )
    .await;
    // A grade given by hand: neither the grading run that the server starts nor the one the
    // moving clock reaches at 02:00 updates it behind the test's back.
    let customer = app
        .customer(&admin, json!({"name": "Acme", "grade": "standard"}))
        .await;
    receiver.wait_for(1).await;
    // Raised while the creation is still failing: it waits for it.
    app.patch(
        &format!("/v1/customers/{customer}"),
        &admin,
        json!({"industry": "wholesale_retail"}),
    )
    .await
    .assert_status(200);

    let received = retried_until(&app, &receiver, 5).await;
    assert_eq!(
        types(&received),
        [
            "customer.created",
            "customer.created",
            "customer.created",
            "customer.created",
            "customer.updated"
        ]
    );
    let answered: Vec<u16> = received.iter().map(|r| r.answered).collect();
    assert_eq!(answered, [500, 500, 503, 204, 204]);
    // Every attempt is the same event, each signed.
    let event_id = received[0].json()["id"].clone();
    for r in &received[..4] {
        assert_eq!(r.json()["id"], event_id);
        assert_signed(r, &secret);
    }

    let listed = settled(&app, &admin, &hook).await;
    let created = listed
        .iter()
        .find(|d| d["event_type"] == "customer.created")
        .unwrap();
    assert_eq!(created["status"], "succeeded");
    let statuses: Vec<&Value> = created["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["response_status"])
        .collect();
    assert_eq!(
        statuses,
        [&json!(500), &json!(500), &json!(503), &json!(204)]
    );
}

async fn a_day_of_failures_pauses_the_subscription_until_resumed(app: TestApp) {
    let receiver = Receiver::start().await;
    receiver.always(Some(500));
    let admin = app.admin_token().await;
    let (hook, _) = subscribe(&app, &admin, &receiver.url(), &["customer.created"]).await;
    app.customer(&admin, json!({"name": "Acme"})).await;
    receiver.wait_for(1).await;

    // Retries back off to an hour; after 24 hours of them the delivery is given up.
    for _ in 0..40 {
        app.clock.advance(Duration::minutes(61));
        let seen = receiver.received().len();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while receiver.received().len() == seen && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let admin = app.admin_token().await;
        let got = app.get(&format!("/v1/webhooks/{hook}"), &admin).await;
        if got.body["status"] == "paused" {
            break;
        }
    }
    let admin = app.admin_token().await;
    let got = app.get(&format!("/v1/webhooks/{hook}"), &admin).await;
    assert_eq!(got.body["status"], "paused");
    assert_eq!(got.body["paused_reason"], "deliveries failed for 24 hours");
    let listed = deliveries(&app, &admin, &hook).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["status"], "failed");
    let attempts = receiver.received().len();
    assert!(attempts >= 24, "{attempts} attempts");

    // Paused: new events are not queued for it.
    app.customer(&admin, json!({"name": "Globex"})).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), attempts);
    assert_eq!(deliveries(&app, &admin, &hook).await.len(), 1);

    // Resumed, and the failed delivery replayed: the same event, delivered.
    receiver.always(None);
    let version = got.body["version"].as_i64().unwrap();
    let resumed = app
        .call_if_match(
            reqwest::Method::PATCH,
            &format!("/v1/webhooks/{hook}"),
            &admin,
            &format!("\"{version}\""),
            Some(json!({"status": "active"})),
        )
        .await;
    resumed.assert_status(200);
    assert_eq!(resumed.body["paused_reason"], Value::Null);
    let failed_id = listed[0]["id"].as_str().unwrap();
    let replay = app
        .post(
            &format!("/v1/webhooks/{hook}/deliveries/{failed_id}/replay"),
            &admin,
            json!({}),
        )
        .await;
    replay.assert_status(201);
    assert_eq!(replay.body["event_id"], listed[0]["event_id"]);
    assert_eq!(replay.body["status"], "pending");
    let received = receiver.wait_for(attempts + 1).await;
    let last = received.last().unwrap();
    assert_eq!(last.answered, 204);
    assert_eq!(last.json()["id"], listed[0]["event_id"]);
    app.post(
        &format!(
            "/v1/webhooks/{hook}/deliveries/{}/replay",
            uuid::Uuid::now_v7()
        ),
        &admin,
        json!({}),
    )
    .await
    .assert_problem(404, "not_found");
}

async fn events_of_contacts_and_tickets_are_delivered(app: TestApp) {
    let receiver = Receiver::start().await;
    let admin = app.admin_token().await;
    let (_, secret) = subscribe(
        &app,
        &admin,
        &receiver.url(),
        &["ticket.created", "ticket.updated", "contact.created"],
    )
    .await;
    let customer = app
        .customer(
            &admin,
            json!({"name": "Acme", "contacts": [{"first_name": "Li", "last_name": "Lei"}]}),
        )
        .await;
    let ticket = app
        .post(
            "/v1/tickets",
            &admin,
            json!({"customer_id": customer, "subject": "Printer jams", "category": "complaint", "channel": "email"}),
        )
        .await;
    ticket.assert_status(201);
    // Two records: each record's events are in order, not events of different records.
    let mut received = receiver.wait_for(2).await;
    received.sort_by_key(|r| r.json()["type"].as_str().unwrap().to_owned());
    assert_eq!(types(&received), ["contact.created", "ticket.created"]);
    assert_eq!(
        received[0].json()["data"]["customer_id"],
        customer.to_string()
    );
    let event = received[1].json();
    assert_eq!(event["data"]["object"], "ticket");
    assert_eq!(event["data"]["id"], ticket.body["id"]);
    assert_eq!(event["data"]["customer_id"], customer.to_string());
    for r in &received {
        assert_signed(r, &secret);
    }
}

async fn private_addresses_are_refused(app: TestApp) {
    let admin = app.admin_token().await;
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.8/hooks",
        "http://[::1]:8080/hooks",
    ] {
        let refused = app
            .post(
                "/v1/webhooks",
                &admin,
                json!({"url": url, "event_types": ["customer.created"]}),
            )
            .await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.error_fields(), ["url"], "{url}");
        assert_eq!(
            refused.body["errors"][0]["code"], "private_address",
            "{url}"
        );
    }
    let bad = app
        .post(
            "/v1/webhooks",
            &admin,
            json!({"url": "ftp://example.com/x", "event_types": ["customer.exploded", "customer.created", "customer.created"]}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(
        bad.error_fields(),
        ["url", "event_types[0]", "event_types[2]"]
    );
    let empty = app
        .post(
            "/v1/webhooks",
            &admin,
            json!({"url": "https://93.184.216.34/hooks", "event_types": []}),
        )
        .await;
    assert_eq!(empty.error_fields(), ["event_types"]);
    // A public address is taken (nothing is sent until an event happens).
    app.post(
        "/v1/webhooks",
        &admin,
        json!({"url": "https://93.184.216.34/hooks", "event_types": ["customer.created"]}),
    )
    .await
    .assert_status(201);
}

async fn subscriptions_are_their_owners(app: TestApp) {
    let url = "https://93.184.216.34/hooks";
    let body = json!({"url": url, "event_types": ["customer.created"]});
    let erp = app
        .client_token(&["webhooks:write", "customers:read"])
        .await;
    let bi = app
        .client_token(&["webhooks:write", "customers:read"])
        .await;
    let mine = app.post("/v1/webhooks", &erp, body.clone()).await;
    mine.assert_status(201);
    assert_eq!(mine.body["owner_type"], "client");
    let id = mine.body["id"].as_str().unwrap();
    let path = format!("/v1/webhooks/{id}");

    // Another client sees nothing of it.
    app.get(&path, &bi).await.assert_problem(404, "not_found");
    app.patch(&path, &bi, json!({"description": "mine now"}))
        .await
        .assert_problem(404, "not_found");
    app.delete(&path, &bi)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("{path}/deliveries"), &bi)
        .await
        .assert_problem(404, "not_found");
    let listed = app.get("/v1/webhooks", &bi).await;
    assert_eq!(listed.body["data"], json!([]));

    // Its owner and admins do.
    let listed = app.get("/v1/webhooks", &erp).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    let admin = app.admin_token().await;
    app.get(&path, &admin).await.assert_status(200);
    // A replay answers the same subscription, without its secret (shown once).
    let keyed = |body: serde_json::Value| {
        app.client
            .post(app.url("/v1/webhooks"))
            .bearer_auth(&admin)
            .header("idempotency-key", "admin-hook-1")
            .json(&body)
            .send()
    };
    let admins = rapport_tests::read(keyed(body.clone()).await.unwrap()).await;
    admins.assert_status(201);
    assert!(
        admins.body["secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    let replayed = rapport_tests::read(keyed(body.clone()).await.unwrap()).await;
    replayed.assert_status(201);
    assert_eq!(replayed.body["id"], admins.body["id"]);
    assert_eq!(replayed.body["secret"], serde_json::Value::Null);
    assert_eq!(
        app.get("/v1/webhooks", &admin).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.get(
        &format!("/v1/webhooks/{}", admins.body["id"].as_str().unwrap()),
        &erp,
    )
    .await
    .assert_problem(404, "not_found");

    // An event type needs the scope that reads its record.
    let tickets = app
        .post(
            "/v1/webhooks",
            &erp,
            json!({"url": url, "event_types": ["ticket.created"]}),
        )
        .await;
    tickets.assert_problem(422, "validation_failed");
    assert_eq!(tickets.body["errors"][0]["code"], "not_allowed");

    // Other roles and anonymous callers.
    let rep = app.user("sales_rep", None).await;
    let rep = app.token_of(&rep).await;
    app.get("/v1/webhooks", &rep)
        .await
        .assert_problem(403, "forbidden");
    app.post("/v1/webhooks", &rep, body)
        .await
        .assert_problem(403, "forbidden");

    // The owner edits and deletes it, with If-Match.
    let renamed = app
        .patch(
            &path,
            &erp,
            json!({"description": "ERP sync", "status": "paused"}),
        )
        .await;
    renamed.assert_status(200);
    assert_eq!(renamed.body["status"], "paused");
    app.patch(&path, &erp, json!({"status": "stopped"}))
        .await
        .assert_problem(422, "validation_failed");
    app.call_if_match(reqwest::Method::DELETE, &path, &erp, "\"1\"", None)
        .await
        .assert_problem(412, "precondition_failed");
    app.delete(&path, &erp).await.assert_status(204);
    app.get(&path, &erp).await.assert_problem(404, "not_found");
}
