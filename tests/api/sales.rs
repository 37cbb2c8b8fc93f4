//! The sales domain over HTTP: pipelines and their stages, opportunities and their moves,
//! products, exactly priced quotes and orders, who sees which, and the pipeline forecast.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration};
use futures_util::future::join_all;
use rapport_domain::clock::Clock;
use rapport_tests::{Reply, TestApp, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    the_default_pipeline_exists_and_pipelines_keep_their_ends,
    won_needs_an_amount_lost_a_reason_and_a_win_makes_a_prospect_a_customer,
    a_rep_cannot_see_or_move_another_reps_opportunity_quote_or_order,
    deleting_a_stage_with_opportunities_is_409_unless_they_move,
    concurrent_quote_numbers_are_distinct_and_consecutive,
    quote_totals_are_exact_and_rounded_per_currency,
    the_forecast_sums_each_currency_apart,
    the_opportunity_list_filters_sorts_and_pages,
    every_sales_refusal_names_its_field_or_its_state,
);

// Tokens outlive the hour the clock jumps, so no sign-in (real time) falls between two moves.
backend_tests!(
    settings = |a| a.access_token_ttl = Some(86_400);
    history_records_every_move_with_its_duration,
);

/// `{"amount": amount, "currency": currency}`.
fn money(amount: &str, currency: &str) -> Value {
    json!({"amount": amount, "currency": currency})
}

/// The `id` of an answer.
fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// The ids of a list's `data`.
fn ids(reply: &Reply) -> BTreeSet<String> {
    reply.assert_status(200);
    reply.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {}", reply.body))
        .iter()
        .map(id_of)
        .collect()
}

/// The default pipeline, read as `token`.
async fn default_pipeline(app: &TestApp, token: &str) -> Value {
    let reply = app.get("/v1/pipelines", token).await;
    reply.assert_status(200);
    let defaults: Vec<&Value> = reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["is_default"] == true)
        .collect();
    assert_eq!(defaults.len(), 1, "exactly one default: {}", reply.body);
    defaults[0].clone()
}

/// The id of the stage called `name` in `pipeline`.
fn stage(pipeline: &Value, name: &str) -> String {
    pipeline["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .map(id_of)
        .unwrap_or_else(|| panic!("no stage {name} in {pipeline}"))
}

/// Creates an opportunity about `customer` as `token` (title and `extra`), answering it.
async fn opportunity(app: &TestApp, token: &str, customer: Uuid, extra: Value) -> Value {
    let mut body = json!({"customer_id": customer, "title": "Printers for the Shenzhen office"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let reply = app.post("/v1/opportunities", token, body).await;
    reply.assert_status(201);
    reply.body
}

/// `POST /v1/opportunities/{id}/stage`.
async fn move_stage(app: &TestApp, token: &str, id: &str, body: Value) -> Reply {
    app.post(&format!("/v1/opportunities/{id}/stage"), token, body)
        .await
}

/// The history of an opportunity, oldest first.
async fn history(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let reply = app
        .get(&format!("/v1/opportunities/{id}/history"), token)
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["next_cursor"], Value::Null, "{}", reply.body);
    reply.body["data"].as_array().unwrap().clone()
}

/// Creates a quote as `token`, answering it.
async fn quote(app: &TestApp, token: &str, body: Value) -> Value {
    let reply = app.post("/v1/quotes", token, body).await;
    reply.assert_status(201);
    reply.body
}

/// A line without a product.
fn line(quantity: &str, unit_price: &str) -> Value {
    json!({"description": "Service", "quantity": quantity, "unit_price": unit_price})
}

/// The year of the server's clock.
fn year(app: &TestApp) -> i32 {
    app.clock.now().year()
}

/// The sequence part of a document number `P-YYYY-NNNNNN`, checking its form.
fn sequence(number: &str, prefix: &str, year: i32) -> u32 {
    let start = format!("{prefix}-{year}-");
    let rest = number
        .strip_prefix(&start)
        .unwrap_or_else(|| panic!("{number} does not start with {start}"));
    assert_eq!(rest.len(), 6, "six digits, zero padded: {number}");
    assert!(rest.bytes().all(|b| b.is_ascii_digit()), "{number}");
    rest.parse().unwrap()
}

/// A customer's lifecycle stage, read as `token`.
async fn lifecycle(app: &TestApp, token: &str, customer: Uuid) -> String {
    let reply = app.get(&format!("/v1/customers/{customer}"), token).await;
    reply.assert_status(200);
    reply.body["lifecycle_stage"].as_str().unwrap().to_owned()
}

async fn the_default_pipeline_exists_and_pipelines_keep_their_ends(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;

    // Migrations leave one default pipeline, readable by everyone who reads opportunities.
    let sales = default_pipeline(&app, &rep.token).await;
    assert_eq!(sales["name"], "Sales");
    let stages: Vec<(String, u64, String, u64)> = sales["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert!(s["id"].as_str().unwrap().parse::<Uuid>().is_ok(), "{s}");
            (
                s["name"].as_str().unwrap().to_owned(),
                s["probability"].as_u64().unwrap(),
                s["kind"].as_str().unwrap().to_owned(),
                s["position"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, u64, String, u64)> = [
        ("Qualification", 10, "open"),
        ("Needs analysis", 25, "open"),
        ("Proposal", 50, "open"),
        ("Negotiation", 75, "open"),
        ("Won", 100, "won"),
        ("Lost", 0, "lost"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (n, p, k))| ((*n).to_owned(), *p, (*k).to_owned(), i as u64))
    .collect();
    assert_eq!(stages, expected, "the default stages, in order");
    assert_eq!(
        app.get("/v1/pipelines", &admin).await.body["next_cursor"],
        Value::Null
    );

    // A pipeline has exactly one won stage, at least one lost and one open stage.
    for (case, stages) in [
        (
            "two won stages",
            json!([{"name": "Talk", "kind": "open"}, {"name": "Won", "kind": "won"},
                   {"name": "Won again", "kind": "won"}, {"name": "Lost", "kind": "lost"}]),
        ),
        (
            "no lost stage",
            json!([{"name": "Talk", "kind": "open"}, {"name": "Won", "kind": "won"}]),
        ),
        (
            "no open stage",
            json!([{"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}]),
        ),
        ("no stages", json!([])),
    ] {
        let refused = app
            .post(
                "/v1/pipelines",
                &admin,
                json!({"name": "Broken", "stages": stages}),
            )
            .await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(
            refused.error_fields(),
            ["stages"],
            "{case}: {}",
            refused.body
        );
        assert_eq!(
            refused.body["errors"][0]["code"], "invalid_stages",
            "{case}: {}",
            refused.body
        );
    }

    // Only settings:write creates pipelines.
    app.post(
        "/v1/pipelines",
        &rep.token,
        json!({"name": "Mine", "stages": [{"name": "Talk", "kind": "open"},
               {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}]}),
    )
    .await
    .assert_problem(403, "forbidden");

    let created = app
        .post(
            "/v1/pipelines",
            &admin,
            json!({"name": "Key accounts", "stages": [
                {"name": "Discovery", "probability": 20, "kind": "open"},
                {"name": "Demo", "kind": "open"},
                {"name": "Signed", "kind": "won"},
                {"name": "Dropped", "kind": "lost"},
            ]}),
        )
        .await;
    created.assert_status(201);
    let key = created.body.clone();
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(key["is_default"], false, "the default stays the default");
    let summary: Vec<(Value, Value, Value, Value)> = key["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].clone(),
                s["probability"].clone(),
                s["kind"].clone(),
                s["position"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (json!("Discovery"), json!(20), json!("open"), json!(0)),
            (json!("Demo"), json!(50), json!("open"), json!(1)),
            (json!("Signed"), json!(100), json!("won"), json!(2)),
            (json!("Dropped"), json!(0), json!("lost"), json!(3)),
        ],
        "new stages take their kind's probability, else 50"
    );
    assert_eq!(
        default_pipeline(&app, &admin).await["id"],
        sales["id"],
        "still the default"
    );

    // A change keeps the ends too: every existing stage listed, one won stage.
    let path = format!("/v1/pipelines/{}", id_of(&key));
    let [discovery, demo, signed, dropped] =
        ["Discovery", "Demo", "Signed", "Dropped"].map(|n| stage(&key, n));
    let forgotten = app
        .patch(
            &path,
            &admin,
            json!({"stages": [{"id": discovery}, {"id": signed}, {"id": dropped}]}),
        )
        .await;
    forgotten.assert_problem(422, "validation_failed");
    assert_eq!(forgotten.error_fields(), ["stages"], "{}", forgotten.body);
    assert_eq!(forgotten.body["errors"][0]["code"], "invalid_stages");
    let no_won = app
        .patch(
            &path,
            &admin,
            json!({"stages": [{"id": discovery}, {"id": demo},
                              {"id": signed, "kind": "open"}, {"id": dropped}]}),
        )
        .await;
    no_won.assert_problem(422, "validation_failed");
    assert_eq!(no_won.error_fields(), ["stages"], "{}", no_won.body);
    assert_eq!(no_won.body["errors"][0]["code"], "invalid_stages");

    let changed = app
        .patch(
            &path,
            &admin,
            json!({"name": "Key accounts 2026", "stages": [
                {"id": discovery},
                {"name": "Workshop", "probability": 35, "kind": "open"},
                {"id": demo, "name": "Live demo", "probability": 60},
                {"id": signed},
                {"id": dropped},
            ]}),
        )
        .await;
    changed.assert_status(200);
    assert_eq!(changed.body["name"], "Key accounts 2026");
    assert_eq!(changed.header("etag"), Some("\"2\""));
    let names: Vec<&str> = changed.body["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Discovery", "Workshop", "Live demo", "Signed", "Dropped"]
    );
    assert_eq!(stage(&changed.body, "Live demo"), demo, "renamed, same id");
    assert_eq!(changed.body["stages"][2]["probability"], 60);
    assert_eq!(changed.body["stages"][2]["position"], 2);

    // A stale version is refused.
    app.call_if_match(
        Method::PATCH,
        &path,
        &admin,
        "\"1\"",
        Some(json!({"name": "Stale"})),
    )
    .await
    .assert_problem(412, "precondition_failed");
    let read = app.get(&path, &rep.token).await;
    read.assert_status(200);
    assert_eq!(read.body["name"], "Key accounts 2026");
}

async fn won_needs_an_amount_lost_a_reason_and_a_win_makes_a_prospect_a_customer(app: TestApp) {
    let team = app.team("East").await;
    let rep = app.user("sales_rep", Some(team)).await;
    let customer = app
        .customer(
            &rep.token,
            json!({"name": "深圳张氏科技有限公司", "lifecycle_stage": "prospect"}),
        )
        .await;
    assert_eq!(lifecycle(&app, &rep.token, customer).await, "prospect");
    let sales = default_pipeline(&app, &rep.token).await;

    let created = app
        .post(
            "/v1/opportunities",
            &rep.token,
            json!({"customer_id": customer, "title": "打印机 × 20"}),
        )
        .await;
    created.assert_status(201);
    let o = &created.body;
    let id = id_of(o);
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/opportunities/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(o["status"], "open");
    assert_eq!(o["pipeline_id"], sales["id"], "the default pipeline");
    assert_eq!(
        o["stage_id"],
        json!(stage(&sales, "Qualification")),
        "the first open stage"
    );
    assert_eq!(o["probability"], 10, "the stage's probability");
    assert_eq!(o["owner_id"], json!(rep.id));
    assert_eq!(o["closed_at"], Value::Null);
    assert_eq!(o["amount"], Value::Null);

    // Won needs an amount, lost a reason among the known ones.
    let won = stage(&sales, "Won");
    let lost = stage(&sales, "Lost");
    let no_amount = move_stage(&app, &rep.token, &id, json!({"stage_id": won})).await;
    no_amount.assert_problem(422, "validation_failed");
    assert_eq!(
        no_amount.body["errors"][0]["field"], "amount",
        "{}",
        no_amount.body
    );
    let no_reason = move_stage(&app, &rep.token, &id, json!({"stage_id": lost})).await;
    no_reason.assert_problem(422, "validation_failed");
    assert_eq!(
        no_reason.body["errors"][0]["field"], "lost_reason",
        "{}",
        no_reason.body
    );
    let bad_reason = move_stage(
        &app,
        &rep.token,
        &id,
        json!({"stage_id": lost, "lost_reason": "bored"}),
    )
    .await;
    bad_reason.assert_problem(422, "validation_failed");
    assert_eq!(bad_reason.error_fields(), ["lost_reason"]);
    let unchanged = app
        .get(&format!("/v1/opportunities/{id}"), &rep.token)
        .await;
    assert_eq!(
        unchanged.body["status"], "open",
        "refused moves change nothing"
    );
    assert_eq!(unchanged.body["version"], 1);
    assert_eq!(history(&app, &rep.token, &id).await.len(), 1);

    let closed = move_stage(
        &app,
        &rep.token,
        &id,
        json!({"stage_id": won, "amount": money("1234.50", "CNY")}),
    )
    .await;
    closed.assert_status(200);
    assert_eq!(closed.body["status"], "won");
    assert_eq!(closed.body["stage_id"], json!(won));
    assert_eq!(closed.body["probability"], 100);
    assert_eq!(closed.body["amount"], money("1234.50", "CNY"));
    assert!(closed.body["closed_at"].is_string(), "{}", closed.body);
    assert_eq!(
        lifecycle(&app, &rep.token, customer).await,
        "customer",
        "a won deal makes a prospect a customer"
    );

    // A lost deal moves no one; a repeat win makes a customer loyal.
    let second = opportunity(
        &app,
        &rep.token,
        customer,
        json!({"amount": money("99.00", "CNY")}),
    )
    .await;
    let lost_reply = move_stage(
        &app,
        &rep.token,
        &id_of(&second),
        json!({"stage_id": lost, "lost_reason": "competitor", "lost_note": "Went with a rival"}),
    )
    .await;
    lost_reply.assert_status(200);
    assert_eq!(lost_reply.body["status"], "lost");
    assert_eq!(lost_reply.body["probability"], 0);
    assert_eq!(lost_reply.body["lost_reason"], "competitor");
    assert!(lost_reply.body["closed_at"].is_string());
    assert_eq!(lifecycle(&app, &rep.token, customer).await, "customer");

    let third = opportunity(
        &app,
        &rep.token,
        customer,
        json!({"amount": money("500", "CNY")}),
    )
    .await;
    assert_eq!(
        third["amount"],
        money("500.00", "CNY"),
        "two decimals for CNY"
    );
    let repeat = move_stage(&app, &rep.token, &id_of(&third), json!({"stage_id": won})).await;
    repeat.assert_status(200);
    assert_eq!(repeat.body["status"], "won", "the amount it has is enough");
    assert_eq!(
        lifecycle(&app, &rep.token, customer).await,
        "loyal",
        "a second win makes a customer loyal"
    );

    let timeline = app
        .get(&format!("/v1/customers/{customer}/timeline"), &rep.token)
        .await;
    timeline.assert_status(200);
    let entries = timeline.body["data"].as_array().unwrap();
    let stage_changes: Vec<&Value> = entries
        .iter()
        .filter(|e| e["type"] == "stage_change")
        .map(|e| &e["stage_change"]["to"])
        .collect();
    assert!(
        stage_changes.contains(&&json!("customer")) && stage_changes.contains(&&json!("loyal")),
        "the wins' lifecycle moves are on the timeline: {}",
        timeline.body
    );
    assert!(
        entries
            .iter()
            .any(|e| e["type"] == "opportunity" && e["id"] == json!(id)),
        "the opportunity is on its customer's timeline: {}",
        timeline.body
    );
}

async fn history_records_every_move_with_its_duration(app: TestApp) {
    let team = app.team("East").await;
    let rep = app.user("sales_rep", Some(team)).await;
    let manager = app.user("sales_manager", Some(team)).await;
    let customer = app.customer(&rep.token, json!({"name": "Northwind"})).await;
    let sales = default_pipeline(&app, &rep.token).await;
    let [qualification, needs, proposal, negotiation, won] = [
        "Qualification",
        "Needs analysis",
        "Proposal",
        "Negotiation",
        "Won",
    ]
    .map(|n| stage(&sales, n));
    let o = opportunity(&app, &rep.token, customer, json!({})).await;
    let id = id_of(&o);
    let path = format!("/v1/opportunities/{id}");

    let admin = app.admin_token().await;
    app.clock.advance(Duration::seconds(3600));
    let rep_token = rep.token.clone();
    let proposed = move_stage(&app, &rep_token, &id, json!({"stage_id": proposal})).await;
    proposed.assert_status(200);
    assert_eq!(proposed.body["probability"], 50);
    assert_eq!(proposed.header("etag"), Some("\"2\""));

    // A stale If-Match is refused, a current one accepted.
    app.call_if_match(
        Method::PATCH,
        &path,
        &rep_token,
        "\"1\"",
        Some(json!({"next_step": "Call"})),
    )
    .await
    .assert_problem(412, "precondition_failed");
    let noted = app
        .call_if_match(
            Method::PATCH,
            &path,
            &rep_token,
            "\"2\"",
            Some(json!({"next_step": "Call"})),
        )
        .await;
    noted.assert_status(200);
    assert_eq!(noted.body["next_step"], "Call");
    assert_eq!(noted.header("etag"), Some("\"3\""));

    app.clock.advance(Duration::seconds(120));
    let closed = move_stage(
        &app,
        &rep_token,
        &id,
        json!({"stage_id": won, "amount": money("8000", "CNY")}),
    )
    .await;
    closed.assert_status(200);
    assert_eq!(closed.body["status"], "won");

    let moves = history(&app, &rep_token, &id).await;
    assert_eq!(moves.len(), 3, "creation and two moves: {moves:?}");
    let steps: Vec<(Value, Value, Value)> = moves
        .iter()
        .map(|m| {
            (
                m["from_stage_id"].clone(),
                m["to_stage_id"].clone(),
                m["changed_by"].clone(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            (Value::Null, json!(qualification), json!(rep.id)),
            (json!(qualification), json!(proposal), json!(rep.id)),
            (json!(proposal), json!(won), json!(rep.id)),
        ]
    );
    assert_eq!(moves[1]["seconds_in_previous"], 3600, "{moves:?}");
    assert_eq!(moves[2]["seconds_in_previous"], 120, "{moves:?}");
    let times: Vec<&str> = moves
        .iter()
        .map(|m| m["changed_at"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {times:?}"
    );

    // Only a manager of the team or an admin reopens a won deal.
    move_stage(&app, &rep_token, &id, json!({"stage_id": negotiation}))
        .await
        .assert_problem(403, "forbidden");
    app.patch(&path, &rep_token, json!({"stage_id": negotiation}))
        .await
        .assert_problem(403, "forbidden");
    let reopened = move_stage(&app, &admin, &id, json!({"stage_id": negotiation})).await;
    reopened.assert_status(200);
    assert_eq!(reopened.body["status"], "open");
    assert_eq!(reopened.body["closed_at"], Value::Null);
    assert_eq!(reopened.body["probability"], 75);
    let admin_id = app.get("/v1/me", &admin).await.body["id"].clone();
    let moves = history(&app, &rep_token, &id).await;
    assert_eq!(moves.len(), 4, "{moves:?}");
    assert_eq!(moves[3]["from_stage_id"], json!(won));
    assert_eq!(moves[3]["to_stage_id"], json!(negotiation));
    assert_eq!(moves[3]["changed_by"], admin_id);
    assert!(
        moves[3]["seconds_in_previous"]
            .as_i64()
            .is_some_and(|s| (0..=1).contains(&s)),
        "reopened at once: {moves:?}"
    );

    // The rep may close it again; its team's manager reopens it.
    move_stage(
        &app,
        &rep_token,
        &id,
        json!({"stage_id": stage(&sales, "Lost"), "lost_reason": "no_budget"}),
    )
    .await
    .assert_status(200);
    let by_manager = move_stage(&app, &manager.token, &id, json!({"stage_id": needs})).await;
    by_manager.assert_status(200);
    assert_eq!(by_manager.body["status"], "open");
    assert_eq!(history(&app, &rep_token, &id).await.len(), 6);
}

async fn a_rep_cannot_see_or_move_another_reps_opportunity_quote_or_order(app: TestApp) {
    let team = app.team("East").await;
    let owner = app.user("sales_rep", Some(team)).await;
    let other = app.user("sales_rep", Some(team)).await;
    let sales = default_pipeline(&app, &owner.token).await;
    let customer = app
        .customer(&owner.token, json!({"name": "Mine Ltd"}))
        .await;
    let o = opportunity(
        &app,
        &owner.token,
        customer,
        json!({"amount": money("100", "CNY")}),
    )
    .await;
    let oid = id_of(&o);
    let q = quote(
        &app,
        &owner.token,
        json!({"opportunity_id": oid, "currency": "CNY", "lines": [line("1", "100")]}),
    )
    .await;
    let qid = id_of(&q);
    let order = app
        .post(
            "/v1/orders",
            &owner.token,
            json!({"customer_id": customer, "currency": "CNY", "lines": [line("2", "5")]}),
        )
        .await;
    order.assert_status(201);
    let order_id = id_of(&order.body);

    // The other rep's own deal, for the lists.
    let theirs_customer = app
        .customer(&other.token, json!({"name": "Theirs Ltd"}))
        .await;
    let theirs = opportunity(&app, &other.token, theirs_customer, json!({})).await;

    let t = &other.token;
    for path in [
        format!("/v1/opportunities/{oid}"),
        format!("/v1/opportunities/{oid}/history"),
        format!("/v1/quotes/{qid}"),
        format!("/v1/orders/{order_id}"),
    ] {
        app.get(&path, t).await.assert_problem(404, "not_found");
    }
    move_stage(
        &app,
        t,
        &oid,
        json!({"stage_id": stage(&sales, "Proposal")}),
    )
    .await
    .assert_problem(404, "not_found");
    app.patch(
        &format!("/v1/opportunities/{oid}"),
        t,
        json!({"title": "Mine now"}),
    )
    .await
    .assert_problem(404, "not_found");
    app.patch(&format!("/v1/quotes/{qid}"), t, json!({"status": "sent"}))
        .await
        .assert_problem(404, "not_found");
    app.patch(
        &format!("/v1/orders/{order_id}"),
        t,
        json!({"status": "cancelled"}),
    )
    .await
    .assert_problem(404, "not_found");

    // Nothing changed, and the owner still sees all of it.
    let read = app
        .get(&format!("/v1/opportunities/{oid}"), &owner.token)
        .await;
    read.assert_status(200);
    assert_eq!(read.body["version"], 1, "{}", read.body);
    assert_eq!(read.body["title"], o["title"]);
    let read_quote = app.get(&format!("/v1/quotes/{qid}"), &owner.token).await;
    read_quote.assert_status(200);
    assert_eq!(read_quote.body["status"], "draft");
    let read_order = app
        .get(&format!("/v1/orders/{order_id}"), &owner.token)
        .await;
    read_order.assert_status(200);
    assert_eq!(read_order.body["status"], "confirmed");

    // Lists leave out what a rep does not see.
    assert_eq!(
        ids(&app.get("/v1/opportunities", t).await),
        BTreeSet::from([id_of(&theirs)])
    );
    assert!(ids(&app.get("/v1/quotes", t).await).is_empty());
    assert!(ids(&app.get("/v1/orders", t).await).is_empty());
    assert!(
        ids(&app
            .get(&format!("/v1/opportunities?customer_id={customer}"), t)
            .await)
        .is_empty()
    );
    assert_eq!(
        ids(&app.get("/v1/opportunities", &owner.token).await),
        BTreeSet::from([oid.clone()])
    );
    assert_eq!(
        ids(&app.get("/v1/quotes", &owner.token).await),
        BTreeSet::from([qid.clone()])
    );
    assert_eq!(
        ids(&app.get("/v1/orders", &owner.token).await),
        BTreeSet::from([order_id.clone()])
    );
    let admin = app.admin_token().await;
    assert_eq!(ids(&app.get("/v1/opportunities", &admin).await).len(), 2);
}

async fn deleting_a_stage_with_opportunities_is_409_unless_they_move(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let created = app
        .post(
            "/v1/pipelines",
            &admin,
            json!({"name": "Key accounts", "stages": [
                {"name": "Discovery", "probability": 20, "kind": "open"},
                {"name": "Demo", "probability": 60, "kind": "open"},
                {"name": "Signed", "kind": "won"},
                {"name": "Dropped", "kind": "lost"},
            ]}),
        )
        .await;
    created.assert_status(201);
    let p = created.body;
    let pid = id_of(&p);
    let [discovery, demo, signed] = ["Discovery", "Demo", "Signed"].map(|n| stage(&p, n));
    let customer = app.customer(&rep.token, json!({"name": "Contoso"})).await;
    let o = opportunity(
        &app,
        &rep.token,
        customer,
        json!({"pipeline_id": pid, "stage_id": demo}),
    )
    .await;
    let oid = id_of(&o);
    assert_eq!(o["pipeline_id"], json!(pid));
    assert_eq!(o["stage_id"], json!(demo));
    assert_eq!(o["probability"], 60);

    let stage_path = format!("/v1/pipelines/{pid}/stages/{demo}");
    let held = app.delete(&stage_path, &admin).await;
    held.assert_problem(409, "conflict");
    assert_eq!(held.body["opportunities"], 1, "{}", held.body);
    // Only into a stage of the same kind.
    let wrong_kind = app
        .delete(&format!("{stage_path}?move_to={signed}"), &admin)
        .await;
    assert!(
        wrong_kind.status.is_client_error(),
        "a won stage takes no open deals: {} {}",
        wrong_kind.status,
        wrong_kind.body
    );
    // A pipeline keeps its one won stage.
    let last_won = app
        .delete(&format!("/v1/pipelines/{pid}/stages/{signed}"), &admin)
        .await;
    last_won.assert_status(409);
    // Only settings:write removes stages.
    app.delete(&format!("{stage_path}?move_to={discovery}"), &rep.token)
        .await
        .assert_problem(403, "forbidden");
    let still = app
        .get(&format!("/v1/opportunities/{oid}"), &rep.token)
        .await;
    assert_eq!(still.body["stage_id"], json!(demo), "nothing moved yet");

    app.delete(&format!("{stage_path}?move_to={discovery}"), &admin)
        .await
        .assert_status(204);
    let moved = app
        .get(&format!("/v1/opportunities/{oid}"), &rep.token)
        .await;
    moved.assert_status(200);
    assert_eq!(moved.body["stage_id"], json!(discovery), "{}", moved.body);
    assert_eq!(moved.body["status"], "open");
    let moves = history(&app, &rep.token, &oid).await;
    assert_eq!(moves.len(), 2, "{moves:?}");
    let last = moves.last().unwrap();
    assert_eq!(last["from_stage_id"], json!(demo), "{moves:?}");
    assert_eq!(last["to_stage_id"], json!(discovery), "{moves:?}");

    let after = app.get(&format!("/v1/pipelines/{pid}"), &admin).await;
    after.assert_status(200);
    let names: Vec<(&str, u64)> = after.body["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["position"].as_u64().unwrap()))
        .collect();
    assert_eq!(names, [("Discovery", 0), ("Signed", 1), ("Dropped", 2)]);
    app.delete(&stage_path, &admin)
        .await
        .assert_problem(404, "not_found");
}

async fn concurrent_quote_numbers_are_distinct_and_consecutive(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app.customer(&admin, json!({"name": "Busy Co"})).await;
    let o = opportunity(
        &app,
        &admin,
        customer,
        json!({"amount": money("200", "CNY")}),
    )
    .await;
    let oid = id_of(&o);
    let body = json!({"opportunity_id": oid, "lines": [line("2", "10")]});
    let replies = join_all((0..20).map(|_| app.post("/v1/quotes", &admin, body.clone()))).await;
    let year = year(&app);
    let mut numbers = Vec::new();
    for reply in &replies {
        reply.assert_status(201);
        assert_eq!(reply.body["status"], "draft");
        assert_eq!(reply.body["currency"], "CNY", "the opportunity's currency");
        let number = reply.body["number"].as_str().unwrap();
        numbers.push(sequence(number, "Q", year));
    }
    let distinct: BTreeSet<u32> = numbers.iter().copied().collect();
    assert_eq!(distinct.len(), 20, "distinct numbers: {numbers:?}");
    let first = *distinct.first().unwrap();
    let expected: BTreeSet<u32> = (first..first + 20).collect();
    assert_eq!(distinct, expected, "no gaps");
    assert_eq!(first, 1, "the first quote of a fresh database is number 1");

    let next = quote(&app, &admin, body).await;
    assert_eq!(
        next["number"],
        format!("Q-{year}-{:06}", first + 20),
        "the next number follows"
    );
    let listed = app
        .get(
            &format!("/v1/quotes?opportunity_id={oid}&limit=200"),
            &admin,
        )
        .await;
    assert_eq!(ids(&listed).len(), 21);
}

async fn quote_totals_are_exact_and_rounded_per_currency(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;

    // Products: settings:write creates, opportunities:read lists; codes are unique.
    let paper = app
        .post(
            "/v1/products",
            &admin,
            json!({"code": "PAPER-A4", "name": "A4 paper",
                   "prices": [money("3.35", "CNY"), money("0.25", "USD")], "tax_rate": "13"}),
        )
        .await;
    paper.assert_status(201);
    assert_eq!(paper.body["active"], true);
    assert_eq!(
        paper.body["prices"],
        json!([money("3.35", "CNY"), money("0.25", "USD")])
    );
    let paper_id = id_of(&paper.body);
    let twin = app
        .post(
            "/v1/products",
            &admin,
            json!({"code": "paper-a4", "name": "Other paper", "prices": [money("1", "CNY")], "tax_rate": "13"}),
        )
        .await;
    twin.assert_status(409);
    let retired = app
        .post(
            "/v1/products",
            &admin,
            json!({"code": "TONER-OLD", "name": "Old toner", "prices": [money("80", "CNY")],
                   "tax_rate": "13", "active": false}),
        )
        .await;
    retired.assert_status(201);
    assert_eq!(retired.body["active"], false);
    app.post(
        "/v1/products",
        &rep.token,
        json!({"code": "MINE", "name": "Mine", "prices": [money("1", "CNY")], "tax_rate": "0"}),
    )
    .await
    .assert_problem(403, "forbidden");
    let catalogue = app.get("/v1/products", &rep.token).await;
    assert!(ids(&catalogue).contains(&paper_id));

    let customer = app.customer(&rep.token, json!({"name": "Fabrikam"})).await;
    let o = opportunity(&app, &rep.token, customer, json!({})).await;
    let oid = id_of(&o);
    let year = year(&app);

    // 3 × 3.35 CNY, 5% off, 13% tax.
    let cny = quote(
        &app,
        &rep.token,
        json!({"opportunity_id": oid, "currency": "CNY", "notes": "Net 30", "lines": [
            {"product_id": paper_id, "quantity": "3", "unit_price": "3.35",
             "discount_percent": "5", "tax_rate": "13"},
        ]}),
    )
    .await;
    assert_eq!(cny["number"], format!("Q-{year}-000001"));
    assert_eq!(cny["status"], "draft");
    assert_eq!(cny["currency"], "CNY");
    assert_eq!(cny["opportunity_id"], json!(oid));
    assert_eq!(cny["customer_id"], json!(customer));
    let l = &cny["lines"][0];
    assert_eq!(l["product_id"], json!(paper_id));
    assert_eq!(l["description"], "A4 paper", "the product's name");
    assert_eq!(
        [&l["subtotal"], &l["discount"], &l["tax"], &l["total"]],
        [
            &json!("10.05"),
            &json!("0.50"),
            &json!("1.24"),
            &json!("10.79")
        ],
        "{l}"
    );
    assert_eq!(
        cny["totals"],
        json!({"subtotal": money("10.05", "CNY"), "discount": money("0.50", "CNY"),
               "tax": money("1.24", "CNY"), "total": money("10.79", "CNY")})
    );

    // 1 × 0.25 USD, 10% off: the discount 0.025 rounds half away from zero.
    let usd = quote(
        &app,
        &rep.token,
        json!({"opportunity_id": oid, "currency": "USD", "lines": [
            {"description": "Sample", "quantity": "1", "unit_price": "0.25", "discount_percent": "10"},
        ]}),
    )
    .await;
    assert_eq!(usd["number"], format!("Q-{year}-000002"));
    let l = &usd["lines"][0];
    assert_eq!(
        [&l["subtotal"], &l["discount"], &l["tax"], &l["total"]],
        [
            &json!("0.25"),
            &json!("0.03"),
            &json!("0.00"),
            &json!("0.22")
        ],
        "{l}"
    );
    assert_eq!(usd["totals"]["discount"], money("0.03", "USD"));
    assert_eq!(usd["totals"]["total"], money("0.22", "USD"));

    // JPY has no minor units: 1.5 × 333 = 499.5 → 500, 10% tax → 50.
    let jpy = quote(
        &app,
        &rep.token,
        json!({"opportunity_id": oid, "currency": "JPY", "lines": [
            {"description": "Toner", "quantity": "1.5", "unit_price": "333", "tax_rate": "10"},
        ]}),
    )
    .await;
    let l = &jpy["lines"][0];
    assert_eq!(
        [&l["subtotal"], &l["discount"], &l["tax"], &l["total"]],
        [&json!("500"), &json!("0"), &json!("50"), &json!("550")],
        "{l}"
    );
    assert_eq!(
        jpy["totals"],
        json!({"subtotal": money("500", "JPY"), "discount": money("0", "JPY"),
               "tax": money("50", "JPY"), "total": money("550", "JPY")})
    );

    // Sums are exact: 0.10 + 0.20 is 0.30.
    let tenths = quote(
        &app,
        &rep.token,
        json!({"opportunity_id": oid, "currency": "USD",
               "lines": [line("1", "0.10"), line("1", "0.20")]}),
    )
    .await;
    assert_eq!(tenths["lines"][0]["total"], "0.10");
    assert_eq!(tenths["lines"][1]["total"], "0.20");
    assert_eq!(tenths["totals"]["subtotal"], money("0.30", "USD"));
    assert_eq!(tenths["totals"]["total"], money("0.30", "USD"));

    // An inactive product is refused.
    let inactive = app
        .post(
            "/v1/quotes",
            &rep.token,
            json!({"opportunity_id": oid, "currency": "CNY", "lines": [
                {"product_id": id_of(&retired.body), "quantity": "1", "unit_price": "80"},
            ]}),
        )
        .await;
    inactive.assert_problem(422, "validation_failed");
    assert_eq!(
        inactive.error_fields(),
        ["lines[0].product_id"],
        "{}",
        inactive.body
    );

    // The workflow: a draft is sent, then accepted; only drafts are edited.
    let qpath = format!("/v1/quotes/{}", id_of(&cny));
    let jump = app
        .patch(
            &format!("/v1/quotes/{}", id_of(&usd)),
            &rep.token,
            json!({"status": "accepted"}),
        )
        .await;
    jump.assert_problem(409, "invalid_transition");
    assert!(
        jump.body["allowed"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("sent"))),
        "{}",
        jump.body
    );
    let sent = app
        .patch(&qpath, &rep.token, json!({"status": "sent"}))
        .await;
    sent.assert_status(200);
    assert_eq!(sent.body["status"], "sent");
    app.patch(&qpath, &rep.token, json!({"lines": [line("1", "1")]}))
        .await
        .assert_status(409);
    let accepted = app
        .patch(&qpath, &rep.token, json!({"status": "accepted"}))
        .await;
    accepted.assert_status(200);
    assert_eq!(accepted.body["status"], "accepted");
    assert_eq!(
        accepted.body["totals"], cny["totals"],
        "unchanged by the moves"
    );
    let o_now = app
        .get(&format!("/v1/opportunities/{oid}"), &rep.token)
        .await;
    assert_eq!(
        o_now.body["amount"],
        money("10.79", "CNY"),
        "accepting sets the opportunity's amount to the quote's total"
    );
    assert_eq!(o_now.body["status"], "open");
    app.patch(&qpath, &rep.token, json!({"status": "rejected"}))
        .await
        .assert_problem(409, "invalid_transition");

    // Orders come from accepted quotes, one each, and win the opportunity.
    app.post("/v1/orders", &rep.token, json!({"quote_id": id_of(&jpy)}))
        .await
        .assert_status(409);
    let order = app
        .post("/v1/orders", &rep.token, json!({"quote_id": id_of(&cny)}))
        .await;
    order.assert_status(201);
    let ord = &order.body;
    assert_eq!(ord["number"], format!("O-{year}-000001"));
    assert_eq!(ord["status"], "confirmed");
    assert_eq!(ord["quote_id"], cny["id"]);
    assert_eq!(ord["opportunity_id"], json!(oid));
    assert_eq!(ord["customer_id"], json!(customer));
    assert_eq!(ord["currency"], "CNY");
    assert_eq!(ord["totals"], cny["totals"], "the quote's totals");
    assert_eq!(ord["lines"], cny["lines"], "the quote's lines");
    let o_won = app
        .get(&format!("/v1/opportunities/{oid}"), &rep.token)
        .await;
    assert_eq!(o_won.body["status"], "won", "{}", o_won.body);
    assert_eq!(o_won.body["amount"], money("10.79", "CNY"));
    assert_eq!(o_won.body["probability"], 100);
    app.post("/v1/orders", &rep.token, json!({"quote_id": id_of(&cny)}))
        .await
        .assert_status(409);

    // A direct order is numbered next; orders are fulfilled or cancelled.
    let direct = app
        .post(
            "/v1/orders",
            &rep.token,
            json!({"customer_id": customer, "currency": "USD",
                   "lines": [line("1", "0.10"), line("1", "0.20")]}),
        )
        .await;
    direct.assert_status(201);
    assert_eq!(direct.body["number"], format!("O-{year}-000002"));
    assert_eq!(direct.body["totals"]["total"], money("0.30", "USD"));
    let fulfilled = app
        .patch(
            &format!("/v1/orders/{}", id_of(ord)),
            &rep.token,
            json!({"status": "fulfilled"}),
        )
        .await;
    fulfilled.assert_status(200);
    assert_eq!(fulfilled.body["status"], "fulfilled");
    assert!(fulfilled.body["fulfilled_at"].is_string());
    let cancelled = app
        .patch(
            &format!("/v1/orders/{}", id_of(&direct.body)),
            &rep.token,
            json!({"status": "cancelled"}),
        )
        .await;
    cancelled.assert_status(200);
    assert_eq!(cancelled.body["status"], "cancelled");
}

/// What a test expects of one row or total of the forecast.
#[derive(Debug, Default)]
struct Sums {
    count: i64,
    total_minor: i64,
    /// Σ amount in minor units × probability (percent): minor units × 100.
    weighted_centi_minor: i64,
}

/// An amount in minor units of a two-decimal currency, as the API writes it.
fn cents(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

/// Minor units × 100 to minor units, half away from zero (all amounts here are positive).
fn round_centi(centi: i64) -> i64 {
    (centi + 50) / 100
}

/// `{"amount", "currency"}` or null, from the expected sums.
fn expected_money(currency: Option<&str>, minor: i64) -> Value {
    match currency {
        Some(c) => money(&cents(minor), c),
        None => Value::Null,
    }
}

/// A deal of the forecast test: stage name, amount in minor units and currency (or none).
struct Deal {
    stage: &'static str,
    amount: Option<(i64, &'static str)>,
    close: Option<&'static str>,
}

const fn deal(
    stage: &'static str,
    amount: Option<(i64, &'static str)>,
    close: Option<&'static str>,
) -> Deal {
    Deal {
        stage,
        amount,
        close,
    }
}

/// A forecast row as `(position, stage_name, stage_kind, currency, count, total, weighted)`.
type Row = (u64, String, String, Value, i64, Value, Value);

/// The forecast's rows, sorted by stage and currency.
fn report_rows(reply: &Reply) -> Vec<Row> {
    reply.assert_status(200);
    let mut rows: Vec<_> = reply.body["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows: {}", reply.body))
        .iter()
        .map(|r| {
            (
                r["position"].as_u64().unwrap(),
                r["stage_name"].as_str().unwrap().to_owned(),
                r["stage_kind"].as_str().unwrap().to_owned(),
                r["currency"].clone(),
                r["count"].as_i64().unwrap(),
                r["total"].clone(),
                r["weighted"].clone(),
            )
        })
        .collect();
    rows.sort_by_key(|r| (r.0, r.3.to_string()));
    rows
}

/// The rows and totals the deals of `deals` give, by the default pipeline `sales`.
fn expected_report(sales: &Value, deals: &[&Deal]) -> (Vec<Row>, BTreeMap<Option<String>, Sums>) {
    let mut rows: BTreeMap<(u64, Option<String>), Sums> = BTreeMap::new();
    let mut totals: BTreeMap<Option<String>, Sums> = BTreeMap::new();
    let stages = sales["stages"].as_array().unwrap();
    for d in deals {
        let s = stages.iter().find(|s| s["name"] == d.stage).unwrap();
        let position = s["position"].as_u64().unwrap();
        let probability = s["probability"].as_i64().unwrap();
        let currency = d.amount.map(|(_, c)| c.to_owned());
        let minor = d.amount.map_or(0, |(m, _)| m);
        for sums in [
            rows.entry((position, currency.clone())).or_default(),
            totals.entry(currency.clone()).or_default(),
        ] {
            sums.count += 1;
            sums.total_minor += minor;
            sums.weighted_centi_minor += minor * probability;
        }
    }
    let mut expected: Vec<_> = rows
        .into_iter()
        .map(|((position, currency), sums)| {
            let s = &stages[position as usize];
            (
                position,
                s["name"].as_str().unwrap().to_owned(),
                s["kind"].as_str().unwrap().to_owned(),
                currency.as_deref().map_or(Value::Null, |c| json!(c)),
                sums.count,
                expected_money(currency.as_deref(), sums.total_minor),
                expected_money(currency.as_deref(), round_centi(sums.weighted_centi_minor)),
            )
        })
        .collect();
    expected.sort_by_key(|r| (r.0, r.3.to_string()));
    (expected, totals)
}

/// Checks the report's `totals` against the expected sums per currency.
#[track_caller]
fn assert_totals(reply: &Reply, expected: &BTreeMap<Option<String>, Sums>) {
    let totals = reply.body["totals"]
        .as_array()
        .unwrap_or_else(|| panic!("no totals: {}", reply.body));
    let currencies: BTreeSet<String> = totals.iter().map(|t| t["currency"].to_string()).collect();
    let wanted: BTreeSet<String> = expected
        .keys()
        .map(|c| c.as_deref().map_or(Value::Null, |c| json!(c)).to_string())
        .collect();
    assert_eq!(currencies, wanted, "one total per currency: {}", reply.body);
    for (currency, sums) in expected {
        let key = currency.as_deref().map_or(Value::Null, |c| json!(c));
        let t = totals.iter().find(|t| t["currency"] == key).unwrap();
        assert_eq!(t["count"], sums.count, "{currency:?}: {t}");
        assert_eq!(
            t["total"],
            expected_money(currency.as_deref(), sums.total_minor),
            "{currency:?}: {t}"
        );
        assert_eq!(
            t["weighted"],
            expected_money(currency.as_deref(), round_centi(sums.weighted_centi_minor)),
            "{currency:?}: {t}"
        );
    }
}

async fn the_forecast_sums_each_currency_apart(app: TestApp) {
    let (east, west) = (app.team("East").await, app.team("West").await);
    let rep_east = app.user("sales_rep", Some(east)).await;
    let rep_west = app.user("sales_rep", Some(west)).await;
    let manager = app.user("sales_manager", Some(east)).await;
    let admin = app.admin_token().await;
    let sales = default_pipeline(&app, &admin).await;

    let east_deals = [
        // 1000.00 + 0.05 at 10%: 100.005 rounds half away from zero to 100.01.
        deal("Qualification", Some((100_000, "CNY")), Some("2026-07-15")),
        deal("Qualification", Some((5, "CNY")), None),
        deal("Qualification", None, None),
        deal("Qualification", Some((1_000, "USD")), None),
        // 0.05 at 25%: 0.0125 → 0.01.
        deal("Needs analysis", Some((5, "CNY")), None),
        deal("Proposal", Some((33_333, "CNY")), None),
        // 0.10 + 0.20 at 50%: 0.15; each alone would be 0.05 and 0.10.
        deal("Proposal", Some((10, "USD")), None),
        deal("Proposal", Some((20, "USD")), None),
        deal("Negotiation", Some((9_999, "USD")), Some("2026-09-30")),
        deal("Won", Some((1_000, "USD")), None),
        deal("Won", Some((10, "CNY")), None),
    ];
    let west_deals = [
        deal("Proposal", Some((50_000, "CNY")), None),
        deal("Qualification", Some((777, "USD")), None),
        deal("Lost", Some((1_234, "USD")), None),
    ];
    for (rep, deals) in [(&rep_east, &east_deals[..]), (&rep_west, &west_deals[..])] {
        let customer = app
            .customer(
                &rep.token,
                json!({"name": format!("Customer of {}", rep.email)}),
            )
            .await;
        for d in deals {
            let mut body = json!({});
            if let Some((minor, currency)) = d.amount {
                body["amount"] = money(&cents(minor), currency);
            }
            if let Some(close) = d.close {
                body["expected_close_date"] = json!(close);
            }
            let kind = sales["stages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"] == d.stage)
                .unwrap()["kind"]
                .clone();
            if kind == "open" {
                body["stage_id"] = json!(stage(&sales, d.stage));
            }
            let o = opportunity(&app, &rep.token, customer, body).await;
            if kind != "open" {
                move_stage(
                    &app,
                    &rep.token,
                    &id_of(&o),
                    json!({"stage_id": stage(&sales, d.stage), "lost_reason": (kind == "lost").then_some("price")}),
                )
                .await
                .assert_status(200);
            }
        }
    }

    // The admin sees every deal; each currency is summed apart.
    let all: Vec<&Deal> = east_deals.iter().chain(&west_deals).collect();
    let (rows, totals) = expected_report(&sales, &all);
    let report = app.get("/v1/reports/pipeline", &admin).await;
    report.assert_status(200);
    assert_eq!(report.body["pipeline_id"], sales["id"]);
    assert_eq!(report_rows(&report), rows, "{}", report.body);
    assert_totals(&report, &totals);
    // Spot checks of the arithmetic above.
    let qualification_cny = report.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["stage_name"] == "Qualification" && r["currency"] == "CNY")
        .unwrap();
    assert_eq!(qualification_cny["total"], money("1000.05", "CNY"));
    assert_eq!(qualification_cny["weighted"], money("100.01", "CNY"));
    let named = app
        .get(
            &format!("/v1/reports/pipeline?pipeline_id={}", id_of(&sales)),
            &admin,
        )
        .await;
    assert_eq!(report_rows(&named), rows);

    // Only open deals.
    let open: Vec<&Deal> = all
        .iter()
        .copied()
        .filter(|d| !matches!(d.stage, "Won" | "Lost"))
        .collect();
    let (open_rows, open_totals) = expected_report(&sales, &open);
    let report = app.get("/v1/reports/pipeline?status=open", &admin).await;
    assert_eq!(report_rows(&report), open_rows, "{}", report.body);
    assert_totals(&report, &open_totals);

    // By owner: the groups split between the two reps and add up to the same counts.
    let by_owner = app.get("/v1/reports/pipeline?by=owner", &admin).await;
    by_owner.assert_status(200);
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for r in by_owner.body["rows"].as_array().unwrap() {
        *counts.entry(r["owner_id"].to_string()).or_default() += r["count"].as_i64().unwrap();
        assert!(r.get("month").is_none(), "no month unless asked: {r}");
    }
    assert_eq!(
        counts,
        BTreeMap::from([
            (json!(rep_east.id).to_string(), east_deals.len() as i64),
            (json!(rep_west.id).to_string(), west_deals.len() as i64),
        ]),
        "{}",
        by_owner.body
    );
    let by_month = app.get("/v1/reports/pipeline?by=month", &admin).await;
    by_month.assert_status(200);
    let negotiation = by_month.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["stage_name"] == "Negotiation")
        .unwrap();
    assert_eq!(negotiation["month"], "2026-09", "{negotiation}");
    assert_eq!(
        negotiation["weighted"],
        money("74.99", "USD"),
        "99.99 × 75% = 74.9925"
    );

    // A manager sees its team's deals; a rep no report.
    let (east_rows, east_totals) = expected_report(&sales, &east_deals.iter().collect::<Vec<_>>());
    let report = app.get("/v1/reports/pipeline", &manager.token).await;
    assert_eq!(report_rows(&report), east_rows, "{}", report.body);
    assert_totals(&report, &east_totals);
    app.get("/v1/reports/pipeline", &rep_east.token)
        .await
        .assert_problem(403, "forbidden");
}

async fn the_opportunity_list_filters_sorts_and_pages(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    let other = app.user("sales_rep", None).await;
    let customer = app.customer(&rep.token, json!({"name": "Lister"})).await;
    let sales = default_pipeline(&app, &rep.token).await;
    let mut made = BTreeMap::new();
    for (title, amount, close) in [
        ("small", Some(money("0.10", "CNY")), "2026-03-01"),
        ("medium", Some(money("250.00", "CNY")), "2026-04-15"),
        ("large", Some(money("9000", "CNY")), "2026-05-31"),
        ("dollars", Some(money("500", "USD")), "2026-04-01"),
        ("none", None, "2026-04-02"),
    ] {
        let o = opportunity(
            &app,
            &rep.token,
            customer,
            json!({"title": title, "amount": amount, "expected_close_date": close}),
        )
        .await;
        assert_eq!(o["expected_close_date"], close);
        made.insert(title, id_of(&o));
    }
    let won = opportunity(
        &app,
        &rep.token,
        customer,
        json!({"title": "won", "amount": money("100", "CNY")}),
    )
    .await;
    move_stage(
        &app,
        &rep.token,
        &id_of(&won),
        json!({"stage_id": stage(&sales, "Won")}),
    )
    .await
    .assert_status(200);
    let titles = |reply: &Reply| -> Vec<String> {
        reply.assert_status(200);
        reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["title"].as_str().unwrap().to_owned())
            .collect()
    };

    let sorted = app
        .get(
            "/v1/opportunities?status=open&owner_id=me&currency=CNY&sort=-amount",
            &rep.token,
        )
        .await;
    assert_eq!(titles(&sorted), ["large", "medium", "small"]);
    let ranged = app
        .get(
            "/v1/opportunities?currency=CNY&amount_min=0.10&amount_max=250&sort=amount",
            &rep.token,
        )
        .await;
    assert_eq!(
        titles(&ranged),
        ["small", "won", "medium"],
        "bounds included"
    );
    let dated = app
        .get(
            "/v1/opportunities?expected_close_from=2026-04-01&expected_close_to=2026-04-15&sort=expected_close_date",
            &rep.token,
        )
        .await;
    assert_eq!(titles(&dated), ["dollars", "none", "medium"]);
    let closed = app.get("/v1/opportunities?status=won", &rep.token).await;
    assert_eq!(titles(&closed), ["won"]);
    assert!(
        titles(&app.get("/v1/opportunities?owner_id=me", &other.token).await).is_empty(),
        "another rep sees none"
    );

    app.get("/v1/opportunities?amount_min=1", &rep.token)
        .await
        .assert_problem(400, "malformed_request");
    app.get("/v1/opportunities?sort=title", &rep.token)
        .await
        .assert_problem(400, "malformed_request");

    // Pages of two cover the list once, in the default order and by amount.
    for (first, expected) in [
        (
            "/v1/opportunities?limit=2",
            vec!["won", "none", "dollars", "large", "medium", "small"],
        ),
        (
            "/v1/opportunities?limit=2&sort=-amount&currency=CNY",
            vec!["large", "medium", "won", "small"],
        ),
    ] {
        let mut seen = Vec::new();
        let mut path = first.to_owned();
        loop {
            let page = app.get(&path, &rep.token).await;
            assert_eq!(page.status, 200, "GET {path}: {}", page.body);
            let got = titles(&page);
            assert!(got.len() <= 2, "{}", page.body);
            seen.extend(got);
            match page.body["next_cursor"].as_str() {
                Some(cursor) => {
                    path = format!("{first}&cursor={}", rapport_tests::query_value(cursor));
                }
                None => break,
            }
            assert!(seen.len() < 10, "pages never end: {seen:?}");
        }
        assert_eq!(seen, expected, "the pages of {first}");
    }
}

/// The fields of a 422, sorted.
fn fields(reply: &Reply) -> Vec<String> {
    reply.assert_problem(422, "validation_failed");
    let mut fields = reply.error_fields();
    fields.sort();
    fields
}

/// What the other tests do not reach: every create and change refuses bad fields by name
/// (422), a stale `If-Match` (412), a state that forbids it (409), and ids the caller does not
/// see as unknown references.
async fn every_sales_refusal_names_its_field_or_its_state(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app.team("East").await;
    let rep = app.user("sales_rep", Some(team)).await;
    let other = app.user("sales_rep", Some(team)).await;
    let sales = default_pipeline(&app, &admin).await;
    let pid = id_of(&sales);
    let mine = app.customer(&rep.token, json!({"name": "Mine Ltd"})).await;
    let theirs = app
        .customer(&other.token, json!({"name": "Theirs Ltd"}))
        .await;
    let theirs_deal = id_of(&opportunity(&app, &other.token, theirs, json!({})).await);

    // Opportunities.
    let bad = app
        .post(
            "/v1/opportunities",
            &rep.token,
            json!({"customer_id": theirs, "stage_id": stage(&sales, "Won"), "probability": 101}),
        )
        .await;
    assert_eq!(
        fields(&bad),
        ["customer_id", "probability", "stage_id", "title"],
        "another rep's customer is unknown, and a deal starts open"
    );
    let unknown = app
        .post(
            "/v1/opportunities",
            &rep.token,
            json!({"customer_id": mine, "title": "X", "pipeline_id": Uuid::now_v7()}),
        )
        .await;
    assert_eq!(fields(&unknown), ["pipeline_id"]);
    let deal = id_of(&opportunity(&app, &rep.token, mine, json!({})).await);
    let path = format!("/v1/opportunities/{deal}");
    let won = app
        .patch(&path, &rep.token, json!({"stage_id": stage(&sales, "Won")}))
        .await;
    assert_eq!(fields(&won), ["amount"], "a PATCH moves by the same rules");
    app.call_if_match(
        Method::POST,
        &format!("{path}/stage"),
        &rep.token,
        "\"9\"",
        Some(json!({"stage_id": stage(&sales, "Proposal")})),
    )
    .await
    .assert_problem(412, "precondition_failed");

    // Products.
    let product =
        |code: &str| json!({"code": code, "name": "Toner", "prices": [money("1", "CNY")]});
    app.post("/v1/products", &admin, product("TNR-1"))
        .await
        .assert_status(201);
    let second = app.post("/v1/products", &admin, product("TNR-2")).await;
    second.assert_status(201);
    let second = format!("/v1/products/{}", id_of(&second.body));
    app.patch(&second, &admin, json!({"code": "tnr-1"}))
        .await
        .assert_problem(409, "duplicate");
    app.call_if_match(
        Method::PATCH,
        &second,
        &admin,
        "\"9\"",
        Some(json!({"active": false})),
    )
    .await
    .assert_problem(412, "precondition_failed");
    let bad = app
        .post(
            "/v1/products",
            &admin,
            json!({"code": "a b", "prices": [money("1.234", "CNY"), money("1", "RMB")], "tax_rate": "101"}),
        )
        .await;
    assert_eq!(
        fields(&bad),
        [
            "code",
            "name",
            "prices[0].amount",
            "prices[1].currency",
            "tax_rate"
        ]
    );

    // Quotes.
    let unseen = app
        .post(
            "/v1/quotes",
            &rep.token,
            json!({"opportunity_id": theirs_deal, "currency": "CNY", "lines": [line("1", "1")]}),
        )
        .await;
    assert_eq!(fields(&unseen), ["opportunity_id"]);
    let bare = app
        .post("/v1/quotes", &rep.token, json!({"opportunity_id": deal}))
        .await;
    assert_eq!(
        fields(&bare),
        ["currency", "lines"],
        "no amount to take a currency from"
    );
    let draft = quote(
        &app,
        &rep.token,
        json!({"opportunity_id": deal, "currency": "CNY", "lines": [line("1", "10")]}),
    )
    .await;
    let qpath = format!("/v1/quotes/{}", id_of(&draft));
    let bad = app
        .patch(
            &qpath,
            &rep.token,
            json!({"lines": [{"quantity": "0", "unit_price": "1.234"}], "valid_until": "tomorrow"}),
        )
        .await;
    assert_eq!(
        fields(&bad),
        [
            "lines[0].description",
            "lines[0].quantity",
            "lines[0].unit_price",
            "valid_until"
        ]
    );
    app.call_if_match(
        Method::PATCH,
        &qpath,
        &rep.token,
        "\"9\"",
        Some(json!({"status": "sent"})),
    )
    .await
    .assert_problem(412, "precondition_failed");
    for status in ["sent", "accepted"] {
        app.patch(&qpath, &rep.token, json!({"status": status}))
            .await
            .assert_status(200);
    }

    // Orders.
    let copied = app
        .post(
            "/v1/orders",
            &rep.token,
            json!({"quote_id": id_of(&draft), "currency": "CNY", "lines": [line("1", "1")]}),
        )
        .await;
    assert_eq!(
        fields(&copied),
        ["currency", "lines"],
        "a quote's order copies them"
    );
    let direct = app
        .post(
            "/v1/orders",
            &rep.token,
            json!({"customer_id": mine, "opportunity_id": theirs_deal, "lines": [line("1", "1")]}),
        )
        .await;
    assert_eq!(fields(&direct), ["currency", "opportunity_id"]);
    let order = app
        .post("/v1/orders", &rep.token, json!({"quote_id": id_of(&draft)}))
        .await;
    order.assert_status(201);
    let opath = format!("/v1/orders/{}", id_of(&order.body));
    app.call_if_match(
        Method::PATCH,
        &opath,
        &rep.token,
        "\"9\"",
        Some(json!({"status": "cancelled"})),
    )
    .await
    .assert_problem(412, "precondition_failed");
    app.patch(&opath, &rep.token, json!({"status": "cancelled"}))
        .await
        .assert_status(200);
    let refused = app
        .patch(&opath, &rep.token, json!({"status": "fulfilled"}))
        .await;
    refused.assert_problem(409, "invalid_transition");
    assert_eq!(
        refused.body["allowed"],
        json!([]),
        "a cancelled order stays so"
    );

    // Pipelines: a stage with opportunities keeps its kind; the default pipeline and one with
    // opportunities stay; an empty one goes, once, at its version.
    let mut stages: Vec<Value> = sales["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!({"id": s["id"]}))
        .collect();
    // An empty stage may change its kind.
    stages[1]["kind"] = json!("lost");
    let emptied = app
        .patch(
            &format!("/v1/pipelines/{pid}"),
            &admin,
            json!({"stages": stages}),
        )
        .await;
    emptied.assert_status(200);
    stages[1]["kind"] = json!("open");
    stages[0]["kind"] = json!("lost");
    app.patch(
        &format!("/v1/pipelines/{pid}"),
        &admin,
        json!({"stages": stages}),
    )
    .await
    .assert_problem(409, "conflict");
    app.delete(&format!("/v1/pipelines/{pid}"), &admin)
        .await
        .assert_problem(409, "conflict");
    let new_pipeline = |name: &str| {
        json!({"name": name, "stages": [
            {"name": "Talk", "kind": "open"}, {"name": "Signed", "kind": "won"},
            {"name": "Dropped", "kind": "lost"}]})
    };
    let partners = app
        .post("/v1/pipelines", &admin, new_pipeline("Partners"))
        .await;
    partners.assert_status(201);
    let partners = id_of(&partners.body);
    opportunity(&app, &rep.token, mine, json!({"pipeline_id": partners})).await;
    app.delete(&format!("/v1/pipelines/{partners}"), &admin)
        .await
        .assert_problem(409, "conflict");
    let empty = app
        .post("/v1/pipelines", &admin, new_pipeline("Empty"))
        .await;
    empty.assert_status(201);
    let empty = format!("/v1/pipelines/{}", id_of(&empty.body));
    app.call_if_match(Method::DELETE, &empty, &admin, "\"9\"", None)
        .await
        .assert_problem(412, "precondition_failed");
    app.delete(&empty, &admin).await.assert_status(204);
    app.get(&empty, &admin)
        .await
        .assert_problem(404, "not_found");

    // Reports and lists name their bad parameters.
    let manager = app.user("sales_manager", Some(team)).await;
    for (path, field) in [
        ("/v1/reports/pipeline?by=team", "by"),
        ("/v1/reports/pipeline?status=maybe", "status"),
        ("/v1/quotes?status=maybe", "status"),
        ("/v1/orders?status=maybe", "status"),
        ("/v1/opportunities?amount_min=5", "currency"),
    ] {
        let reply = app.get(path, &manager.token).await;
        reply.assert_problem(400, "malformed_request");
        assert_eq!(reply.error_fields(), [field], "{path}");
    }
    app.get(
        &format!("/v1/reports/pipeline?pipeline_id={}", Uuid::now_v7()),
        &manager.token,
    )
    .await
    .assert_problem(404, "not_found");
}
