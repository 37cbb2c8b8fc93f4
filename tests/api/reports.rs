//! Reports over HTTP: the customer distribution against counts made here, scoped to the
//! caller's view; and every report's CSV (`Accept: text/csv`) giving the JSON's numbers.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rapport_tests::{Reply, TestApp, backend_tests, read};
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    the_customer_distribution_counts_what_the_caller_sees,
    reports_answer_csv_with_the_json_numbers,
    lead_response_counts_first_contacts_against_their_due_time,
    sales_performance_counts_each_reps_deals,
);

/// `GET path` asking for CSV: its lines, split into cells (no cell here holds a comma).
async fn csv_of(app: &TestApp, path: &str, token: &str) -> Vec<Vec<String>> {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .header("Accept", "text/csv")
        .send()
        .await
        .expect("request sent");
    let reply: Reply = read(response).await;
    reply.assert_status(200);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/csv")),
        "{:?}",
        reply.headers
    );
    reply
        .body
        .as_str()
        .expect("a CSV body")
        .lines()
        .map(|line| line.split(',').map(str::to_owned).collect())
        .collect()
}

async fn the_customer_distribution_counts_what_the_caller_sees(app: TestApp) {
    let admin = app.admin_token().await;
    let north = app.team("North").await;
    let south = app.team("South").await;
    let manager = app.user("sales_manager", Some(north)).await;
    let rep = app.user("sales_rep", Some(north)).await;
    // (industry, grade, team): what is created, and so what each caller must count.
    let made = [
        (Some("manufacturing"), "vip", north),
        (Some("manufacturing"), "standard", north),
        (Some("manufacturing"), "standard", south),
        (Some("agriculture"), "standard", north),
        (None, "potential", south),
    ];
    for (i, (industry, grade, team)) in made.iter().enumerate() {
        app.customer(
            &admin,
            json!({"name": format!("Distributed {i}"), "industry": industry, "grade": grade,
                   "team_id": team}),
        )
        .await;
    }
    // A deleted customer counts for no one.
    let gone = app
        .customer(&admin, json!({"name": "Deleted Co", "industry": "mining"}))
        .await;
    app.delete(&format!("/v1/customers/{gone}"), &admin)
        .await
        .assert_status(204);

    let expected = |team: Option<Uuid>| {
        let mut counts: BTreeMap<(Option<&str>, &str), i64> = BTreeMap::new();
        for (industry, grade, t) in &made {
            if team.is_none_or(|team| team == *t) {
                *counts.entry((*industry, *grade)).or_default() += 1;
            }
        }
        counts
    };
    for (token, team) in [(&admin, None), (&manager.token, Some(north))] {
        let want = expected(team);
        let total: i64 = want.values().sum();
        let reply = app
            .get("/v1/reports/customer-distribution?by=industry,grade", token)
            .await;
        reply.assert_status(200);
        assert_eq!(reply.body["by"], json!(["industry", "grade"]));
        assert_eq!(reply.body["total"], total);
        let got: BTreeMap<(Option<&str>, &str), i64> = reply.body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let share = r["share"].as_f64().unwrap();
                let count = r["count"].as_i64().unwrap();
                let exact = (count as f64 * 1000.0 / total as f64).round() / 10.0;
                assert_eq!(share, exact, "{r}");
                (
                    (r["values"][0].as_str(), r["values"][1].as_str().unwrap()),
                    count,
                )
            })
            .collect();
        assert_eq!(got, want);

        let by_industry = app
            .get("/v1/reports/customer-distribution?by=industry", token)
            .await;
        let first = &by_industry.body["rows"][0];
        assert_eq!(first["values"], json!(["manufacturing"]), "largest first");
        let manufacturing = want
            .iter()
            .filter(|((i, _), _)| *i == Some("manufacturing"))
            .map(|(_, n)| n)
            .sum::<i64>();
        assert_eq!(first["count"], manufacturing);
    }

    app.get("/v1/reports/customer-distribution?by=industry", &rep.token)
        .await
        .assert_problem(403, "forbidden");
    for bad in ["", "?by=colour", "?by=grade,grade", "?by=kind,grade,size"] {
        app.get(&format!("/v1/reports/customer-distribution{bad}"), &admin)
            .await
            .assert_problem(400, "malformed_request");
    }
}

async fn reports_answer_csv_with_the_json_numbers(app: TestApp) {
    let admin = app.admin_token().await;
    for (i, industry) in ["mining", "mining", "agriculture"].iter().enumerate() {
        let customer = app
            .customer(
                &admin,
                json!({"name": format!("Csv {i}"), "industry": industry}),
            )
            .await;
        app.post(
            "/v1/opportunities",
            &admin,
            json!({"customer_id": customer, "title": format!("Deal {i}"),
                   "amount": {"amount": "100.50", "currency": "CNY"}}),
        )
        .await
        .assert_status(201);
    }

    // The distribution: a column per field, then count and share.
    let path = "/v1/reports/customer-distribution?by=industry";
    let json = app.get(path, &admin).await.body;
    let csv = csv_of(&app, path, &admin).await;
    assert_eq!(csv[0], ["industry", "count", "share"]);
    let rows: Vec<Vec<String>> = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            vec![
                r["values"][0].as_str().unwrap_or_default().to_owned(),
                r["count"].to_string(),
                r["share"].to_string(),
            ]
        })
        .collect();
    assert_eq!(csv[1..], rows[..]);

    // The forecast: one line per stage and currency, the JSON's amounts.
    let path = "/v1/reports/pipeline";
    let json = app.get(path, &admin).await.body;
    let csv = csv_of(&app, path, &admin).await;
    assert_eq!(csv[0][..3], ["stage_id", "stage_name", "stage_kind"]);
    let rows = json["rows"].as_array().unwrap();
    let totals = json["totals"].as_array().unwrap();
    assert_eq!(csv.len() - 1, rows.len() + totals.len());
    let total_line = csv.iter().find(|l| l[1] == "total").unwrap();
    assert_eq!(total_line[7], totals[0]["count"].to_string());
    assert_eq!(
        total_line[8],
        totals[0]["total"]["amount"].as_str().unwrap()
    );
    for (line, row) in csv[1..].iter().zip(rows) {
        assert_eq!(line[0], row["stage_id"].as_str().unwrap());
        assert_eq!(line[4], row["currency"].as_str().unwrap_or_default());
        assert_eq!(line[7], row["count"].to_string());
        assert_eq!(line[8], row["total"]["amount"].as_str().unwrap_or_default());
    }
    assert!(
        csv[1..].iter().any(|l| l[8] == "301.50"),
        "the three deals' total: {csv:?}"
    );

    // Satisfaction: a line per figure, with no answers yet.
    let csv = csv_of(&app, "/v1/reports/satisfaction", &admin).await;
    assert_eq!(csv[0], ["section", "key", "figure", "value"]);
    assert_eq!(csv[1], ["total", "", "invited", "0"]);
    assert_eq!(csv[4], ["total", "", "response_rate", ""]);
}

/// A lead owned by `owner` in `team`, answering its id and creation time.
async fn lead(
    app: &TestApp,
    token: &str,
    name: &str,
    owner: Uuid,
    team: Uuid,
) -> (String, DateTime<Utc>) {
    let reply = app
        .post(
            "/v1/customers",
            token,
            json!({"name": name, "lifecycle_stage": "lead", "owner_id": owner, "team_id": team}),
        )
        .await;
    reply.assert_status(201);
    assert!(
        reply.body["first_contact_due_at"].is_string(),
        "{}",
        reply.body
    );
    let created = reply.body["created_at"].as_str().unwrap().parse().unwrap();
    (reply.body["id"].as_str().unwrap().to_owned(), created)
}

/// A call to `customer` at `at`.
async fn call(app: &TestApp, token: &str, customer: &str, at: DateTime<Utc>) {
    app.post(
        "/v1/activities",
        token,
        json!({"customer_id": customer, "kind": "call", "direction": "outbound",
               "channel": "phone", "summary": "First call",
               "occurred_at": at.to_rfc3339_opts(SecondsFormat::Micros, true)}),
    )
    .await
    .assert_status(201);
}

/// leads, contacted, in time, in-time share, overdue, median seconds to a first contact.
type LeadFigures = (i64, i64, i64, f64, i64, Option<i64>);

fn counts(row: &Value) -> LeadFigures {
    (
        row["leads"].as_i64().unwrap(),
        row["contacted"].as_i64().unwrap(),
        row["in_time"].as_i64().unwrap(),
        row["in_time_share"].as_f64().unwrap(),
        row["overdue"].as_i64().unwrap(),
        row["median_seconds_to_first_contact"].as_i64(),
    )
}

async fn lead_response_counts_first_contacts_against_their_due_time(app: TestApp) {
    let admin = app.admin_token().await;
    let north = app.team("North").await;
    let south = app.team("South").await;
    let manager = app.user("sales_manager", Some(north)).await;
    let ann = app.user("sales_rep", Some(north)).await;
    let bob = app.user("sales_rep", Some(south)).await;
    let (quick, quick_at) = lead(&app, &admin, "Quick Ltd", ann.id, north).await;
    let (late, late_at) = lead(&app, &admin, "Late Ltd", ann.id, north).await;
    let (forgotten, _) = lead(&app, &admin, "Forgotten Ltd", ann.id, north).await;
    let (ignored, _) = lead(&app, &admin, "Ignored Ltd", bob.id, south).await;
    // Moved on without a first contact: late, but no longer a lead to chase.
    let (converted, _) = lead(&app, &admin, "Converted Ltd", bob.id, south).await;
    app.patch(
        &format!("/v1/customers/{converted}"),
        &admin,
        json!({"lifecycle_stage": "prospect"}),
    )
    .await
    .assert_status(200);
    // Two days on: calls 2 h and 30 h after creation; the other two are overdue now.
    app.clock.advance(Duration::hours(48));
    // Tokens signed two days ago have expired: sign in again.
    let admin = app.admin_token().await;
    let manager = app.token_of(&manager).await;
    let ann_token = app.token_of(&ann).await;
    call(&app, &admin, &quick, quick_at + Duration::hours(2)).await;
    call(&app, &admin, &late, late_at + Duration::hours(30)).await;
    let median = (2 * 3600 + 30 * 3600) / 2;

    let all = app.get("/v1/reports/lead-response", &admin).await;
    all.assert_status(200);
    assert_eq!(counts(&all.body["total"]), (5, 2, 1, 20.0, 2, Some(median)));
    assert_eq!(all.body["groups"], json!([]));
    let overdue: Vec<&str> = all.body["overdue_leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        overdue,
        [forgotten.as_str(), ignored.as_str()],
        "longest overdue first"
    );

    let by_owner = app
        .get("/v1/reports/lead-response?group_by=owner", &admin)
        .await;
    let groups: Vec<(String, LeadFigures)> = by_owner.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap().to_owned(), counts(g)))
        .collect();
    let mut want = vec![
        (ann.id.to_string(), (3, 2, 1, 33.3, 1, Some(median))),
        (bob.id.to_string(), (2, 0, 0, 0.0, 1, None)),
    ];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(groups, want);

    // A manager's report covers its team's leads only.
    let team = app.get("/v1/reports/lead-response", &manager).await;
    assert_eq!(
        counts(&team.body["total"]),
        (3, 2, 1, 33.3, 1, Some(median))
    );
    assert_eq!(team.body["overdue_leads"].as_array().unwrap().len(), 1);
    // A range of creation times.
    let after_all = (Utc::now() + Duration::days(30)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let none = app
        .get(
            &format!("/v1/reports/lead-response?from={after_all}"),
            &admin,
        )
        .await;
    assert_eq!(counts(&none.body["total"]), (0, 0, 0, 0.0, 0, None));

    let csv = csv_of(&app, "/v1/reports/lead-response?group_by=owner", &admin).await;
    assert_eq!(csv[0][0], "group");
    assert_eq!(
        csv[1],
        [
            "total",
            "",
            "5",
            "2",
            "1",
            "5",
            "20",
            "2",
            &median.to_string()
        ]
    );
    assert_eq!(csv.len(), 4);

    app.get("/v1/reports/lead-response", &ann_token)
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/reports/lead-response?group_by=colour", &admin)
        .await
        .assert_problem(400, "malformed_request");
}

/// The default pipeline's stage called `name`.
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

/// A deal of `owner` on a new customer of `team`, answering its id.
async fn deal(app: &TestApp, token: &str, owner: Uuid, team: Uuid, amount: Option<&str>) -> String {
    let customer = app
        .customer(token, json!({"name": format!("Buyer {}", Uuid::now_v7()), "owner_id": owner, "team_id": team}))
        .await;
    let mut body =
        json!({"customer_id": customer, "title": "Toner", "owner_id": owner, "team_id": team});
    if let Some(amount) = amount {
        body["amount"] = json!({"amount": amount, "currency": "CNY"});
    }
    let created = app.post("/v1/opportunities", token, body).await;
    created.assert_status(201);
    created.body["id"].as_str().unwrap().to_owned()
}

/// Moves deal `id` to the default pipeline's `Won` or `Lost` stage.
async fn close(app: &TestApp, token: &str, id: &str, end: &str) {
    let mut moved = json!({"stage_id": stage_id(app, token, end).await});
    if end == "Lost" {
        moved["lost_reason"] = json!("price");
    }
    app.post(&format!("/v1/opportunities/{id}/stage"), token, moved)
        .await
        .assert_status(200);
}

async fn sales_performance_counts_each_reps_deals(app: TestApp) {
    let admin = app.admin_token().await;
    let north = app.team("North").await;
    let south = app.team("South").await;
    let manager = app.user("sales_manager", Some(north)).await;
    let ann = app.user("sales_rep", Some(north)).await;
    let bob = app.user("sales_rep", Some(south)).await;
    // Ann: two wins (100.00 and 50.01 CNY) after 2 and 3 days, one loss, one open; Bob: one
    // open.
    let big = deal(&app, &admin, ann.id, north, Some("100.00")).await;
    let small = deal(&app, &admin, ann.id, north, Some("50.01")).await;
    let lost = deal(&app, &admin, ann.id, north, None).await;
    deal(&app, &admin, ann.id, north, None).await;
    deal(&app, &admin, bob.id, south, Some("10.00")).await;
    app.clock.advance(Duration::days(2));
    let admin = app.admin_token().await;
    close(&app, &admin, &big, "Won").await;
    close(&app, &admin, &lost, "Lost").await;
    app.clock.advance(Duration::days(1));
    let admin = app.admin_token().await;
    let manager = app.token_of(&manager).await;
    let ann_token = app.token_of(&ann).await;
    close(&app, &admin, &small, "Won").await;
    // Ann logs a call on a customer of hers.
    let hers = app
        .customer(
            &admin,
            json!({"name": "Called Co", "owner_id": ann.id, "team_id": north}),
        )
        .await;
    app.post(
        "/v1/activities",
        &ann_token,
        json!({"customer_id": hers, "kind": "call", "direction": "outbound", "channel": "phone", "summary": "Hello"}),
    )
    .await
    .assert_status(201);

    let report = app.get("/v1/reports/sales-performance", &admin).await;
    report.assert_status(200);
    let body = &report.body;
    assert_eq!(body["group_by"], "owner");
    let group = |id: Uuid| {
        body["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == json!(id))
            .unwrap_or_else(|| panic!("no group {id} in {body}"))
            .clone()
    };
    let a = group(ann.id);
    assert_eq!(
        (&a["created"], &a["won"], &a["lost"]),
        (&json!(4), &json!(2), &json!(1))
    );
    assert_eq!(a["win_rate"], 66.7);
    assert_eq!(a["activities"], 1);
    assert_eq!(
        a["won_amounts"],
        json!([{"count": 2, "total": {"amount": "150.01", "currency": "CNY"},
                "average_deal": {"amount": "75.01", "currency": "CNY"}}]),
        "150.01 / 2 = 75.005, rounded half away from zero"
    );
    assert_eq!(a["average_sales_cycle_days"], 2.5, "won after 2 and 3 days");
    let b = group(bob.id);
    assert_eq!(
        (&b["created"], &b["won"], &b["lost"]),
        (&json!(1), &json!(0), &json!(0))
    );
    assert_eq!(b["win_rate"], Value::Null);
    assert_eq!(b["won_amounts"], json!([]));
    assert_eq!(body["total"]["created"], 5);
    assert_eq!(body["total"]["won"], 2);

    // Per team; a manager sees its team only.
    let teams = app
        .get("/v1/reports/sales-performance?group_by=team", &manager)
        .await;
    teams.assert_status(200);
    let keys: Vec<&Value> = teams.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["key"])
        .collect();
    assert_eq!(keys, [&json!(north)]);
    assert_eq!(teams.body["total"]["created"], 4);
    // Nothing closed before the deals existed.
    let before = app
        .get(
            "/v1/reports/sales-performance?to=2000-01-01T00:00:00Z",
            &admin,
        )
        .await;
    assert_eq!(before.body["groups"], json!([]));
    assert_eq!(before.body["total"]["won"], 0);

    let csv = csv_of(&app, "/v1/reports/sales-performance", &admin).await;
    assert_eq!(csv[0][..3], ["group", "key", "created"]);
    assert_eq!(csv[1][..5], ["total", "", "5", "2", "1"]);
    assert!(
        csv.iter()
            .any(|l| l[1] == ann.id.to_string() && l[10] == "150.01"),
        "{csv:?}"
    );
    app.get("/v1/reports/sales-performance", &ann_token)
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/reports/sales-performance?group_by=stage", &admin)
        .await
        .assert_problem(400, "malformed_request");
}
