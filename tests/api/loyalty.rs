//! Loyalty points over HTTP: orders earn once (the job run again writes nothing), a
//! cancellation takes them back within the balance, redemptions never overdraw (fifty at
//! once), points expire oldest first, tiers follow the last 12 months' earnings, adjustments
//! are for settings writers with a reason, and the program's settings are validated and
//! guarded by `If-Match`.

use std::sync::Arc;

use chrono::Duration;
use futures_util::future::join_all;
use rapport_domain::clock::Clock;
use rapport_domain::job::{Job, JobKind};
use rapport_server::jobs::{Handler, JobContext, loyalty};
use rapport_tests::{Reply, TestApp, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    an_order_earns_its_points_once_though_the_job_runs_again,
    a_cancelled_order_gives_its_points_back_within_the_balance,
    fifty_concurrent_redemptions_never_overdraw,
    points_expire_oldest_first,
    a_tier_rises_at_its_threshold_and_falls_as_earnings_age_out,
    adjusting_needs_settings_write_and_a_reason,
    a_customer_outside_the_view_has_no_loyalty,
    the_program_is_validated_and_guarded_by_if_match,
);

/// An order of `customer` for `amount` in `currency`; waits for its earning job to finish.
async fn order(app: &TestApp, token: &str, customer: Uuid, currency: &str, amount: &str) -> String {
    let reply = app
        .post(
            "/v1/orders",
            token,
            json!({"customer_id": customer, "currency": currency,
                   "lines": [{"description": "Goods", "quantity": "1", "unit_price": amount}]}),
        )
        .await;
    reply.assert_status(201);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    job_done(app, "loyalty.earn", &id).await;
    id
}

/// Waits until the job `<kind>:<order>` has succeeded.
async fn job_done(app: &TestApp, kind: &str, order: &str) {
    let admin = app.admin_token().await;
    let key = format!("{kind}:{order}");
    for _ in 0..400 {
        let jobs = app
            .get(&format!("/v1/jobs?kind={kind}&limit=200"), &admin)
            .await;
        jobs.assert_status(200);
        let job = jobs.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["key"] == key.as_str())
            .cloned();
        match job.as_ref().and_then(|j| j["status"].as_str()) {
            Some("succeeded") => return,
            Some("dead") => panic!("{key} died: {}", job.unwrap()),
            _ => tokio::time::sleep(std::time::Duration::from_millis(25)).await,
        }
    }
    panic!("{key} did not finish");
}

/// Runs a loyalty job's handler here, as a worker would (again, if it ran already).
async fn run(app: &TestApp, kind: &str, handler: &dyn Handler, payload: Value) {
    let now = app.clock.now();
    let ctx = JobContext {
        job: Job::new(JobKind::parse(kind).unwrap(), payload, None, now, now),
        store: app.store().await,
        clock: Arc::new(app.clock.clone()),
        worker: Arc::from("test"),
    };
    handler.run(&ctx).await.unwrap();
}

async fn standing(app: &TestApp, token: &str, customer: Uuid) -> Value {
    let reply = app
        .get(&format!("/v1/customers/{customer}/loyalty"), token)
        .await;
    reply.assert_status(200);
    reply.body
}

async fn ledger(app: &TestApp, token: &str, customer: Uuid, query: &str) -> Vec<Value> {
    let reply = app
        .get(
            &format!("/v1/customers/{customer}/loyalty/transactions?limit=200{query}"),
            token,
        )
        .await;
    reply.assert_status(200);
    reply.body["data"].as_array().unwrap().clone()
}

async fn transact(app: &TestApp, token: &str, customer: Uuid, body: Value) -> Reply {
    app.post(
        &format!("/v1/customers/{customer}/loyalty/transactions"),
        token,
        body,
    )
    .await
}

fn points(rows: &[Value]) -> Vec<i64> {
    rows.iter().map(|r| r["points"].as_i64().unwrap()).collect()
}

async fn an_order_earns_its_points_once_though_the_job_runs_again(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app.customer(&admin, json!({"name": "Earning Co"})).await;
    let fresh = standing(&app, &admin, customer).await;
    assert_eq!(fresh["balance"], 0);
    assert_eq!(fresh["tier"], "member");
    assert_eq!(fresh["updated_at"], Value::Null);

    // 250.99 CNY at one point per yuan: 250 points, rounded down.
    let id = order(&app, &admin, customer, "CNY", "250.99").await;
    for _ in 0..2 {
        run(&app, loyalty::EARN, &loyalty::Earn, json!({"order_id": id})).await;
    }
    let rows = ledger(&app, &admin, customer, "").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["kind"], "earn");
    assert_eq!(row["points"], 250);
    assert_eq!(row["order_id"], id.as_str());
    assert_eq!(row["balance_after"], 250);
    assert_eq!(row["created_by"], Value::Null);
    assert!(row["expires_at"].is_string());
    let s = standing(&app, &admin, customer).await;
    assert_eq!(s["balance"], 250);
    assert_eq!(s["earned_12m"], 250);
    assert_eq!(s["next_tier"], "silver");
    assert_eq!(s["points_to_next_tier"], 750);
    assert_eq!(s["expiring_30d"], 0);
    let events = app.audit_events(row["id"].as_str().unwrap()).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["action"], "create");

    // A currency without a rate earns nothing.
    order(&app, &admin, customer, "JPY", "10000").await;
    assert_eq!(ledger(&app, &admin, customer, "").await.len(), 1);
    assert_eq!(standing(&app, &admin, customer).await["balance"], 250);

    // The ledger is in the customer's export.
    let export = app
        .get(&format!("/v1/customers/{customer}/export"), &admin)
        .await;
    export.assert_status(200);
    assert_eq!(
        points(export.body["loyalty_transactions"].as_array().unwrap()),
        [250]
    );
}

async fn a_cancelled_order_gives_its_points_back_within_the_balance(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app.customer(&admin, json!({"name": "Cancelling Co"})).await;
    let first = order(&app, &admin, customer, "CNY", "100").await;
    let second = order(&app, &admin, customer, "CNY", "50").await;
    let cancel = |id: String| {
        let (app, admin) = (&app, &admin);
        async move {
            let reply = app
                .patch(
                    &format!("/v1/orders/{id}"),
                    admin,
                    json!({"status": "cancelled"}),
                )
                .await;
            reply.assert_status(200);
            job_done(app, "loyalty.reverse", &id).await;
        }
    };
    // All of it back while the balance covers it.
    cancel(second.clone()).await;
    assert_eq!(standing(&app, &admin, customer).await["balance"], 100);
    // Spent meanwhile: only what is left comes back, and the row says so.
    transact(
        &app,
        &admin,
        customer,
        json!({"kind": "redeem", "points": 80}),
    )
    .await
    .assert_status(201);
    cancel(first.clone()).await;
    run(
        &app,
        loyalty::REVERSE,
        &loyalty::Reverse,
        json!({"order_id": first}),
    )
    .await;
    let reversals = ledger(&app, &admin, customer, "&kind=reversal").await;
    assert_eq!(points(&reversals), [-20, -50]);
    assert_eq!(reversals[0]["order_id"], first.as_str());
    assert!(
        reversals[0]["reason"].as_str().unwrap().contains("100"),
        "{}",
        reversals[0]
    );
    assert_eq!(reversals[1]["reason"], Value::Null);
    let s = standing(&app, &admin, customer).await;
    assert_eq!(s["balance"], 0);
    // Reversals leave the tier's earnings too.
    assert_eq!(s["earned_12m"], 80);
}

async fn fifty_concurrent_redemptions_never_overdraw(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app.customer(&admin, json!({"name": "Redeeming Co"})).await;
    order(&app, &admin, customer, "CNY", "100").await;

    let over = transact(
        &app,
        &admin,
        customer,
        json!({"kind": "redeem", "points": 101}),
    )
    .await;
    over.assert_problem(409, "insufficient_points");
    assert_eq!(over.body["balance"], 100);

    let replies = join_all((0..50).map(|_| {
        transact(
            &app,
            &admin,
            customer,
            json!({"kind": "redeem", "points": 10, "reason": "Voucher"}),
        )
    }))
    .await;
    let status = |s: u16| replies.iter().filter(|r| r.status == s).count();
    assert_eq!(
        status(201),
        10,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(status(409), 40);
    let s = standing(&app, &admin, customer).await;
    assert_eq!(s["balance"], 0);
    let redeemed = ledger(&app, &admin, customer, "&kind=redeem").await;
    assert_eq!(redeemed.len(), 10);
    let mut after: Vec<i64> = redeemed
        .iter()
        .map(|r| r["balance_after"].as_i64().unwrap())
        .collect();
    after.sort_unstable();
    assert_eq!(after, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    let ok = replies.iter().find(|r| r.status == 201).unwrap();
    assert_eq!(ok.body["kind"], "redeem");
    assert_eq!(ok.body["points"], -10);
    assert_eq!(ok.body["reason"], "Voucher");
    assert_eq!(
        ok.header("location"),
        Some(format!("/v1/customers/{customer}/loyalty").as_str())
    );
}

async fn points_expire_oldest_first(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app.customer(&admin, json!({"name": "Expiring Co"})).await;
    // Day 0: 100 points (expire at month 24). Day 183: 50 more (expire at month 30).
    order(&app, &admin, customer, "CNY", "100").await;
    app.clock.advance(Duration::days(183));
    let admin = app.admin_token().await;
    order(&app, &admin, customer, "CNY", "50").await;
    // Day 213: 80 redeemed. Oldest first, they came out of the first 100.
    app.clock.advance(Duration::days(30));
    let admin = app.admin_token().await;
    transact(
        &app,
        &admin,
        customer,
        json!({"kind": "redeem", "points": 80}),
    )
    .await
    .assert_status(201);
    assert_eq!(standing(&app, &admin, customer).await["expiring_30d"], 0);

    // Day 720: the first earning's 20 left expire within 30 days (LIFO would say 70).
    app.clock.advance(Duration::days(507));
    let admin = app.admin_token().await;
    assert_eq!(standing(&app, &admin, customer).await["expiring_30d"], 20);
    // Day 740: past month 24.
    app.clock.advance(Duration::days(20));
    let admin = app.admin_token().await;
    for _ in 0..2 {
        run(&app, loyalty::EXPIRE, &loyalty::Expire, json!({})).await;
    }
    let expired = ledger(&app, &admin, customer, "&kind=expire").await;
    assert_eq!(points(&expired), [-20]);
    let s = standing(&app, &admin, customer).await;
    assert_eq!(s["balance"], 50);
    assert_eq!(s["expiring_30d"], 0);

    // Day 920: past month 30, the second earning goes too.
    app.clock.advance(Duration::days(180));
    let admin = app.admin_token().await;
    for _ in 0..2 {
        run(&app, loyalty::EXPIRE, &loyalty::Expire, json!({})).await;
    }
    let expired = ledger(&app, &admin, customer, "&kind=expire").await;
    assert_eq!(points(&expired), [-50, -20]);
    assert_eq!(standing(&app, &admin, customer).await["balance"], 0);
    assert_eq!(expired[0]["balance_after"], 0);
}

async fn a_tier_rises_at_its_threshold_and_falls_as_earnings_age_out(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app.customer(&admin, json!({"name": "Tiered Co"})).await;
    order(&app, &admin, customer, "CNY", "600").await;
    let s = standing(&app, &admin, customer).await;
    assert_eq!(s["tier"], "member");
    assert_eq!(s["points_to_next_tier"], 400);
    order(&app, &admin, customer, "USD", "500").await;
    let s = standing(&app, &admin, customer).await;
    assert_eq!(s["tier"], "silver");
    assert_eq!(s["earned_12m"], 1100);
    assert_eq!(s["next_tier"], "gold");
    assert_eq!(s["points_to_next_tier"], 3900);
    let changes: Vec<Value> = app
        .audit_events(&customer.to_string())
        .await
        .into_iter()
        .filter(|e| e["action"] == "tier_changed")
        .collect();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["entity_type"], "loyalty_account");
    assert_eq!(changes[0]["changes"]["tier"]["after"], "silver");

    // A year and a few days on, those earnings no longer count; the points stay.
    app.clock.advance(Duration::days(370));
    let admin = app.admin_token().await;
    run(&app, loyalty::EXPIRE, &loyalty::Expire, json!({})).await;
    let s = standing(&app, &admin, customer).await;
    assert_eq!(s["tier"], "member");
    assert_eq!(s["earned_12m"], 0);
    assert_eq!(s["balance"], 1100);
    let changes = app
        .audit_events(&customer.to_string())
        .await
        .into_iter()
        .filter(|e| e["action"] == "tier_changed")
        .count();
    assert_eq!(changes, 2);
}

async fn adjusting_needs_settings_write_and_a_reason(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app.team("Loyal").await;
    let rep = app.user("sales_rep", Some(team)).await;
    let marketing = app.user("marketing", None).await;
    let customer = app
        .customer(&rep.token, json!({"name": "Adjusted Co"}))
        .await;
    let adjust = json!({"kind": "adjust", "points": 50, "reason": "Goodwill"});

    let anonymous = app
        .call(
            Method::POST,
            &format!("/v1/customers/{customer}/loyalty/transactions"),
            None,
            Some(adjust.clone()),
        )
        .await;
    anonymous.assert_status(401);
    transact(&app, &rep.token, customer, adjust.clone())
        .await
        .assert_problem(403, "forbidden");
    transact(&app, &marketing.token, customer, adjust.clone())
        .await
        .assert_problem(403, "forbidden");
    transact(
        &app,
        &marketing.token,
        customer,
        json!({"kind": "redeem", "points": 1}),
    )
    .await
    .assert_problem(403, "forbidden");

    let no_reason = transact(
        &app,
        &admin,
        customer,
        json!({"kind": "adjust", "points": 50}),
    )
    .await;
    no_reason.assert_problem(422, "validation_failed");
    assert_eq!(no_reason.error_fields(), ["reason"]);
    let bad = transact(&app, &admin, customer, json!({"kind": "earn", "points": 0})).await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.error_fields(), ["kind", "points"]);
    let zero = transact(
        &app,
        &admin,
        customer,
        json!({"kind": "adjust", "points": 0, "reason": "Nothing"}),
    )
    .await;
    assert_eq!(zero.error_fields(), ["points"]);

    let added = transact(&app, &admin, customer, adjust.clone()).await;
    added.assert_status(201);
    assert_eq!(added.body["balance_after"], 50);
    assert_eq!(added.body["reason"], "Goodwill");
    // An adjustment is not an earning: no tier from it.
    assert_eq!(standing(&app, &rep.token, customer).await["earned_12m"], 0);
    transact(
        &app,
        &admin,
        customer,
        json!({"kind": "adjust", "points": -60, "reason": "Correction"}),
    )
    .await
    .assert_problem(409, "insufficient_points");
    // The rep redeems on its own customer.
    let redeemed = transact(
        &app,
        &rep.token,
        customer,
        json!({"kind": "redeem", "points": 20}),
    )
    .await;
    redeemed.assert_status(201);
    assert_eq!(redeemed.body["created_by"], rep.id.to_string());
    let taken = transact(
        &app,
        &admin,
        customer,
        json!({"kind": "adjust", "points": -30, "reason": "Correction"}),
    )
    .await;
    taken.assert_status(201);
    assert_eq!(taken.body["balance_after"], 0);
    assert_eq!(
        points(&ledger(&app, &rep.token, customer, "").await),
        [-30, -20, 50]
    );
    assert_eq!(
        points(&ledger(&app, &rep.token, customer, "&kind=adjust").await),
        [-30, 50]
    );
    let bad_filter = app
        .get(
            &format!("/v1/customers/{customer}/loyalty/transactions?kind=bonus"),
            &rep.token,
        )
        .await;
    bad_filter.assert_status(400);

    // Erasure blanks the reasons; the points stay.
    app.post(
        &format!("/v1/customers/{customer}/erase"),
        &admin,
        json!({}),
    )
    .await
    .assert_status(200);
    let rows = ledger(&app, &admin, customer, "&kind=adjust").await;
    assert!(rows.iter().all(|r| r["reason"] == "[erased]"), "{rows:?}");
    assert_eq!(points(&rows), [-30, 50]);
}

async fn a_customer_outside_the_view_has_no_loyalty(app: TestApp) {
    let team = app.team("Reps").await;
    let owner = app.user("sales_rep", Some(team)).await;
    let other = app.user("sales_rep", Some(team)).await;
    let customer = app.customer(&owner.token, json!({"name": "Mine Co"})).await;
    standing(&app, &owner.token, customer).await;
    for path in ["loyalty", "loyalty/transactions"] {
        app.get(&format!("/v1/customers/{customer}/{path}"), &other.token)
            .await
            .assert_problem(404, "not_found");
        app.get(
            &format!("/v1/customers/{}/{path}", Uuid::now_v7()),
            &owner.token,
        )
        .await
        .assert_problem(404, "not_found");
    }
    transact(
        &app,
        &other.token,
        customer,
        json!({"kind": "redeem", "points": 1}),
    )
    .await
    .assert_problem(404, "not_found");
    let nobody = app
        .call(
            Method::GET,
            &format!("/v1/customers/{customer}/loyalty"),
            None,
            None,
        )
        .await;
    nobody.assert_status(401);
}

async fn the_program_is_validated_and_guarded_by_if_match(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let program = app.get("/v1/loyalty-program", &rep.token).await;
    program.assert_status(200);
    assert_eq!(program.header("etag"), Some("\"1\""));
    assert_eq!(program.body["expiry_months"], 24);
    assert_eq!(
        program.body["tiers"],
        json!({"silver": 1000, "gold": 5000, "platinum": 20000})
    );
    assert_eq!(
        program.body["earn_rates"][0],
        json!({"currency": "CNY", "points_per_unit": "1"})
    );

    app.patch(
        "/v1/loyalty-program",
        &rep.token,
        json!({"expiry_months": 12}),
    )
    .await
    .assert_problem(403, "forbidden");
    let bad = app
        .patch(
            "/v1/loyalty-program",
            &admin,
            json!({
                "earn_rates": [{"currency": "XXX", "points_per_unit": "-1"},
                               {"currency": "CNY", "points_per_unit": "1"},
                               {"currency": "CNY", "points_per_unit": "2"}],
                "expiry_months": 0,
                "tiers": {"silver": 100, "gold": 100, "platinum": 50},
            }),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(
        bad.error_fields(),
        [
            "earn_rates[0].currency",
            "earn_rates[0].points_per_unit",
            "earn_rates[2].currency",
            "expiry_months",
            "tiers.gold",
            "tiers.platinum",
        ]
    );
    let nulls = app
        .patch(
            "/v1/loyalty-program",
            &admin,
            json!({"tiers": null, "typo": 1}),
        )
        .await;
    nulls.assert_status(422);

    let change = json!({
        "earn_rates": [{"currency": "JPY", "points_per_unit": "0.01"}],
        "expiry_months": 12,
        "tiers": {"silver": 10, "gold": 20, "platinum": 30},
    });
    let changed = app
        .call_if_match(
            Method::PATCH,
            "/v1/loyalty-program",
            &admin,
            "\"1\"",
            Some(change.clone()),
        )
        .await;
    changed.assert_status(200);
    assert_eq!(changed.body["version"], 2);
    assert_eq!(changed.body["earn_rates"], change["earn_rates"]);
    app.call_if_match(
        Method::PATCH,
        "/v1/loyalty-program",
        &admin,
        "\"1\"",
        Some(change),
    )
    .await
    .assert_problem(412, "precondition_failed");
    let events = app.audit_events(&Uuid::nil().to_string()).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["changes"]["expiry_months"]["after"], 12);

    // The new rates apply: 1999 yen at 0.01 is 19 points; yuan earn nothing now.
    let customer = app.customer(&admin, json!({"name": "Yen Co"})).await;
    order(&app, &admin, customer, "JPY", "1999").await;
    order(&app, &admin, customer, "CNY", "1000").await;
    let s = standing(&app, &admin, customer).await;
    assert_eq!(s["balance"], 19);
    assert_eq!(s["tier"], "silver");
}
