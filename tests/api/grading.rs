//! Value grading (RFM) over HTTP: `POST /v1/customers/grading/run` queues the grading job,
//! which grades every unlocked customer from its purchases, with each change on the
//! customer's timeline and in the audit trail; grades set by hand stay.

use std::collections::BTreeMap;

use chrono::Duration;
use rapport_domain::clock::Clock;
use rapport_tests::{Reply, TestApp, backend_tests};
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    grading_scores_purchases_by_quintile_and_keeps_grades_set_by_hand,
    grading_is_for_settings_writers_and_hand_grades_lock,
);

fn line(unit_price: &str) -> Value {
    json!({"description": "Service", "quantity": "1", "unit_price": unit_price})
}

/// An order of `customer` for `unit_price` in `currency`, answering its id.
async fn order(
    app: &TestApp,
    token: &str,
    customer: Uuid,
    currency: &str,
    unit_price: &str,
) -> String {
    let reply = app
        .post(
            "/v1/orders",
            token,
            json!({"customer_id": customer, "currency": currency, "lines": [line(unit_price)]}),
        )
        .await;
    reply.assert_status(201);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn won_stage(app: &TestApp, token: &str) -> String {
    let pipelines = app.get("/v1/pipelines", token).await;
    pipelines.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["is_default"] == true)
        .flat_map(|p| p["stages"].as_array().unwrap().iter())
        .find(|s| s["kind"] == "won")
        .and_then(|s| s["id"].as_str())
        .unwrap()
        .to_owned()
}

/// Runs the grading now and waits for its job to succeed.
async fn run_grading(app: &TestApp, token: &str) {
    let started = app
        .post("/v1/customers/grading/run", token, json!({}))
        .await;
    started.assert_status(202);
    let location = started.header("location").expect("a Location").to_owned();
    assert_eq!(
        location,
        format!("/v1/jobs/{}", started.body["id"].as_str().unwrap())
    );
    assert_eq!(started.body["kind"], "customers.grading");
    for _ in 0..200 {
        let job = app.get(&location, token).await;
        job.assert_status(200);
        match job.body["status"].as_str() {
            Some("succeeded") => return,
            Some("dead") => panic!("grading died: {}", job.body),
            _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    panic!("grading did not finish");
}

/// Waits until the scheduled grading job of `key` has succeeded.
async fn scheduled_run_done(app: &TestApp, token: &str, key: &str) {
    for _ in 0..200 {
        let jobs = app
            .get("/v1/jobs?kind=customers.grading&limit=200", token)
            .await;
        jobs.assert_status(200);
        let done = jobs.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["key"] == key && j["status"] == "succeeded");
        if done {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no scheduled grading {key}");
}

/// The 1–5 quintile score of each value (higher values score higher; ties share a score):
/// `1 + 5 × (rank − 1) / n` with rank the 1-based position of the first equal value.
fn quintiles(values: &BTreeMap<&str, i64>) -> BTreeMap<String, i64> {
    let n = i64::try_from(values.len()).unwrap();
    values
        .iter()
        .map(|(k, v)| {
            let below = i64::try_from(values.values().filter(|o| *o < v).count()).unwrap();
            ((*k).to_owned(), 1 + 5 * below / n)
        })
        .collect()
}

async fn grade_of(app: &TestApp, token: &str, id: Uuid) -> (String, bool) {
    let reply = app.get(&format!("/v1/customers/{id}"), token).await;
    reply.assert_status(200);
    (
        reply.body["grade"].as_str().unwrap().to_owned(),
        reply.body["grade_locked"].as_bool().unwrap(),
    )
}

async fn grade_changes(app: &TestApp, token: &str, id: Uuid) -> Vec<Value> {
    let reply = app
        .get(&format!("/v1/customers/{id}/timeline?limit=200"), token)
        .await;
    reply.assert_status(200);
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "grade_change")
        .map(|e| e["grade_change"].clone())
        .collect()
}

async fn graded_events(app: &TestApp, token: &str, id: Uuid) -> usize {
    let reply: Reply = app
        .get(&format!("/v1/audit-events?entity_id={id}&limit=200"), token)
        .await;
    reply.assert_status(200);
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "graded")
        .count()
}

async fn grading_scores_purchases_by_quintile_and_keeps_grades_set_by_hand(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = |name: &str| json!({"name": name, "lifecycle_stage": "customer"});
    // Bought only long ago: outside the 24 months that count.
    let lapsed = app.customer(&admin, customer("Lapsed")).await;
    order(&app, &admin, lapsed, "CNY", "90000").await;
    app.clock.advance(Duration::days(800));
    // On to 02:30 UTC, past the daily grading at 02:00: the data set is built in the hours
    // before the next one, so only the runs asked for here grade it.
    let now = app.clock.now().time();
    let target = chrono::NaiveTime::from_hms_opt(2, 30, 0).unwrap();
    let wait = ((target - now).num_seconds() + 86_400) % 86_400;
    app.clock.advance(Duration::seconds(wait));
    let admin = app.admin_token().await;
    let due = app
        .clock
        .now()
        .date_naive()
        .and_time(chrono::NaiveTime::from_hms_opt(2, 0, 0).unwrap())
        .and_utc();
    scheduled_run_done(
        &app,
        &admin,
        &format!("schedule:customers.grading:{}", due.to_rfc3339()),
    )
    .await;

    let names = ["Alpha", "Bravo", "Charlie", "Delta", "Echo"];
    let mut ids: BTreeMap<&str, Uuid> = BTreeMap::new();
    for name in names {
        ids.insert(name, app.customer(&admin, customer(name)).await);
    }
    // Purchases, oldest first, an hour apart: (customer, currency, amount).
    let purchases = [
        ("Alpha", "CNY", "100"),
        ("Bravo", "CNY", "300"),
        ("Alpha", "CNY", "50"),
        ("Charlie", "CNY", "1000"),
        ("Echo", "USD", "20"),
        ("Delta", "CNY", "700"),
        ("Bravo", "CNY", "100"),
        ("Bravo", "CNY", "100"),
        ("Delta", "CNY", "500"),
        ("Delta", "CNY", "1000"),
    ];
    let mut last: BTreeMap<&str, i64> = BTreeMap::new();
    let mut count: BTreeMap<&str, i64> = BTreeMap::new();
    let mut spent: BTreeMap<&str, i64> = BTreeMap::new();
    for (day, (name, currency, amount)) in purchases.iter().enumerate() {
        app.clock.advance(Duration::hours(1));
        let admin = app.admin_token().await;
        order(&app, &admin, ids[name], currency, amount).await;
        last.insert(name, i64::try_from(day).unwrap());
        *count.entry(name).or_default() += 1;
        if *currency == "CNY" {
            *spent.entry(name).or_default() += amount.parse::<i64>().unwrap();
        }
    }
    let admin = app.admin_token().await;
    // A cancelled order counts for nothing.
    let cancelled = order(&app, &admin, ids["Alpha"], "CNY", "99999").await;
    app.patch(
        &format!("/v1/orders/{cancelled}"),
        &admin,
        json!({"status": "cancelled"}),
    )
    .await
    .assert_status(200);
    // A deal won without an order is a purchase (Foxtrot's only one, the latest of all).
    app.clock.advance(Duration::hours(1));
    let admin = app.admin_token().await;
    let foxtrot = app.customer(&admin, customer("Foxtrot")).await;
    ids.insert("Foxtrot", foxtrot);
    let deal = app
        .post(
            "/v1/opportunities",
            &admin,
            json!({"customer_id": foxtrot, "title": "Big deal",
                   "amount": {"amount": "2000", "currency": "CNY"}}),
        )
        .await;
    deal.assert_status(201);
    let won = json!({"stage_id": won_stage(&app, &admin).await});
    app.post(
        &format!(
            "/v1/opportunities/{}/stage",
            deal.body["id"].as_str().unwrap()
        ),
        &admin,
        won,
    )
    .await
    .assert_status(200);
    last.insert("Foxtrot", 100);
    count.insert("Foxtrot", 1);
    spent.insert("Foxtrot", 2000);

    // Without purchases: one left to the grading, one graded by hand, one deleted.
    let idle = app.customer(&admin, customer("Idle")).await;
    let by_hand = app
        .customer(
            &admin,
            json!({"name": "By Hand", "lifecycle_stage": "customer", "grade": "vip"}),
        )
        .await;
    let deleted = app.customer(&admin, customer("Deleted")).await;
    app.delete(&format!("/v1/customers/{deleted}"), &admin)
        .await
        .assert_status(204);

    run_grading(&app, &admin).await;

    // The expected scores, computed here: recency and frequency among all six buyers,
    // monetary within CNY (Echo alone in USD scores 1).
    let recency = quintiles(&last);
    let frequency = quintiles(&count);
    let monetary = quintiles(&spent);
    for name in ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"] {
        let r = recency[name];
        let f = frequency[name];
        let m = monetary.get(name).copied().unwrap_or(1);
        let total = r + f + m;
        let expected = if total >= 13 {
            "vip"
        } else if total >= 7 {
            "standard"
        } else {
            "potential"
        };
        let id = ids[name];
        assert_eq!(
            grade_of(&app, &admin, id).await,
            (expected.to_owned(), false),
            "{name}: R{r} F{f} M{m}"
        );
        let changes = grade_changes(&app, &admin, id).await;
        if expected == "standard" {
            assert!(changes.is_empty(), "{name} kept its grade: {changes:?}");
            continue;
        }
        assert_eq!(changes.len(), 1, "{name}: {changes:?}");
        let change = &changes[0];
        assert_eq!(change["from"], "standard");
        assert_eq!(change["to"], expected);
        assert_eq!(
            change["scores"],
            json!({"recency": r, "frequency": f, "monetary": m}),
            "{name}"
        );
        assert_eq!(change["changed_by"], Value::Null);
        assert_eq!(graded_events(&app, &admin, id).await, 1, "{name}");
    }
    // Every grade the data set can give is reached.
    let mut grades = Vec::new();
    for id in ids.values() {
        grades.push(grade_of(&app, &admin, *id).await.0);
    }
    for grade in ["vip", "standard", "potential"] {
        assert!(grades.iter().any(|g| g == grade), "no {grade}: {grades:?}");
    }
    assert_eq!(
        grade_of(&app, &admin, lapsed).await,
        ("potential".to_owned(), false),
        "a purchase before the window does not count"
    );
    assert_eq!(
        grade_of(&app, &admin, idle).await,
        ("potential".to_owned(), false)
    );
    assert_eq!(
        grade_of(&app, &admin, by_hand).await,
        ("vip".to_owned(), true),
        "a grade given by hand stays"
    );
    let restored = app
        .post(
            &format!("/v1/customers/{deleted}/restore"),
            &admin,
            json!({}),
        )
        .await;
    restored.assert_status(200);
    assert_eq!(
        restored.body["grade"], "standard",
        "a deleted customer is not graded"
    );

    // Running again changes nothing.
    let before = grade_changes(&app, &admin, idle).await;
    run_grading(&app, &admin).await;
    assert_eq!(grade_changes(&app, &admin, idle).await, before);
    assert_eq!(graded_events(&app, &admin, idle).await, 1);
}

async fn grading_is_for_settings_writers_and_hand_grades_lock(app: TestApp) {
    let admin = app.admin_token().await;
    let manager = app.user("sales_manager", None).await;
    app.post("/v1/customers/grading/run", &manager.token, json!({}))
        .await
        .assert_status(403);
    let anonymous = app
        .client
        .post(app.url("/v1/customers/grading/run"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let service = app.user("service_manager", None).await;
    run_grading(&app, &service.token).await;

    // A grade set by hand locks it and is on the timeline with who set it.
    let id = app
        .customer(
            &admin,
            json!({"name": "Hand Graded", "lifecycle_stage": "customer"}),
        )
        .await;
    assert_eq!(
        grade_of(&app, &admin, id).await,
        ("standard".to_owned(), false)
    );
    let patched = app
        .patch(
            &format!("/v1/customers/{id}"),
            &admin,
            json!({"grade": "vip"}),
        )
        .await;
    patched.assert_status(200);
    assert_eq!(patched.body["grade_locked"], true);
    let changes = grade_changes(&app, &admin, id).await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["from"], "standard");
    assert_eq!(changes[0]["to"], "vip");
    assert_eq!(changes[0]["scores"], Value::Null);
    assert!(changes[0]["changed_by"].is_string());
    run_grading(&app, &admin).await;
    assert_eq!(grade_of(&app, &admin, id).await, ("vip".to_owned(), true));

    // Unlocked, the next run grades it (no purchases: potential).
    let unlocked = app
        .patch(
            &format!("/v1/customers/{id}"),
            &admin,
            json!({"grade_locked": false}),
        )
        .await;
    unlocked.assert_status(200);
    assert_eq!(unlocked.body["grade"], "vip");
    run_grading(&app, &admin).await;
    assert_eq!(
        grade_of(&app, &admin, id).await,
        ("potential".to_owned(), false)
    );
    let refused = app
        .patch(
            &format!("/v1/customers/{id}"),
            &admin,
            json!({"grade_locked": null}),
        )
        .await;
    refused.assert_status(422);
    assert_eq!(refused.error_fields(), ["grade_locked"], "{}", refused.body);
}
