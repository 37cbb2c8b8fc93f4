//! Reports over HTTP: the customer distribution against counts made here, scoped to the
//! caller's view; and every report's CSV (`Accept: text/csv`) giving the JSON's numbers.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use chrono::{Datelike, NaiveDate, Weekday};
use rapport_domain::clock::Clock;
use rapport_domain::job::Schedule;
use rapport_tests::{Reply, TestApp, backend_tests, read};
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    the_customer_distribution_counts_what_the_caller_sees,
    reports_answer_csv_with_the_json_numbers,
    lead_response_counts_first_contacts_against_their_due_time,
    sales_performance_counts_each_reps_deals,
    service_levels_count_targets_times_backlog_and_breaches,
    service_levels_are_scoped_and_csv_matches_json,
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
    // The admin (no team) logs one too: Ann's team counts its members' activities only.
    app.post(
        "/v1/activities",
        &admin,
        json!({"customer_id": hers, "kind": "note", "summary": "Checked"}),
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
    // The admin's note on a North customer: a member of no team.
    assert_eq!(keys, [&Value::Null, &json!(north)]);
    assert_eq!(teams.body["total"]["created"], 4);
    let (none, ours) = (&teams.body["groups"][0], &teams.body["groups"][1]);
    assert_eq!(ours["activities"], 1, "Ann's call, not the admin's note");
    assert_eq!(
        (&none["activities"], &none["created"]),
        (&json!(1), &json!(0))
    );
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

// The service-levels report: every figure against what the test did, on a known set of
// tickets.

/// A time of an API answer; `None` for `null`.
fn time_of(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str().map(|s| s.parse().unwrap())
}

/// `t` for a query string: RFC 3339 in UTC with a `Z`, so nothing needs escaping.
fn query_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The first Monday 09:00 UTC at least a day after `now`.
fn a_monday_morning(now: DateTime<Utc>) -> DateTime<Utc> {
    let mut day = (now + Duration::days(1)).date_naive().succ_opt().unwrap();
    while day.weekday() != Weekday::Mon {
        day = day.succ_opt().unwrap();
    }
    day.and_hms_opt(9, 0, 0).unwrap().and_utc()
}

/// Moves the test clock (the server's) on to `t` exactly.
fn clock_to(app: &TestApp, t: DateTime<Utc>) {
    let now = app.clock.now();
    assert!(
        now < t,
        "the clock is at {now}, past {t}: a step took too long"
    );
    app.clock.advance(t - now);
}

/// Waits until the SLA check (every minute) due at `at` by the server's clock has run.
async fn sla_checked(app: &TestApp, token: &str, at: DateTime<Utc>) {
    let since = Schedule::EveryMinutes(1).latest(at);
    let path = "/v1/jobs?kind=sla.check&status=succeeded&limit=1";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let jobs = app.get(path, token).await.body;
        if jobs["data"][0]["run_at"]
            .as_str()
            .is_some_and(|t| t.parse::<DateTime<Utc>>().unwrap() >= since)
        {
            return;
        }
        if std::time::Instant::now() > deadline {
            let all = app.get("/v1/jobs?kind=sla.check&limit=5", token).await.body;
            panic!("no SLA check since {since}: {all:#}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Moves the clock on to half a minute before `t` and waits for the SLA check that runs then
/// (so every target missed before `t` is recorded as breached, and its ticket raised a
/// priority step), then on to `t` exactly; answers an admin token signed before `t`, so what
/// the test does next happens within milliseconds of `t` (and every time taken from the
/// answers is `t` rounded to the second).
async fn step(app: &TestApp, t: DateTime<Utc>) -> String {
    let before = t - Duration::seconds(30);
    clock_to(app, before);
    let admin = app.admin_token().await;
    sla_checked(app, &admin, before).await;
    clock_to(app, t);
    admin
}

/// The policy of requests: a first response within 4 hours, a resolution within 24.
async fn requests_policy(app: &TestApp, token: &str) {
    app.post(
        "/v1/sla-policies",
        token,
        json!({"name": "Requests", "category": "request", "first_response_minutes": 240,
               "resolution_minutes": 1440, "clock": "calendar"}),
    )
    .await
    .assert_status(201);
}

/// Opens a ticket of `customer` worked by `team`, answering its id.
async fn ticket_for(
    app: &TestApp,
    token: &str,
    customer: Uuid,
    team: Option<Uuid>,
    category: &str,
    priority: &str,
) -> String {
    let reply = app
        .post(
            "/v1/tickets",
            token,
            json!({"customer_id": customer, "subject": "Service please", "channel": "phone",
                   "category": category, "priority": priority, "team_id": team}),
        )
        .await;
    reply.assert_status(201);
    assert!(
        reply.body["first_response_due_at"].is_string(),
        "{}",
        reply.body
    );
    reply.body["id"].as_str().unwrap().to_owned()
}

/// A public reply by staff: the ticket's first response.
async fn answer(app: &TestApp, token: &str, id: &str) {
    app.post(
        &format!("/v1/tickets/{id}/comments"),
        token,
        json!({"body": "We are on it.", "public": true}),
    )
    .await
    .assert_status(201);
}

async fn move_ticket(app: &TestApp, token: &str, id: &str, status: &str) {
    let moved = app
        .patch(
            &format!("/v1/tickets/{id}"),
            token,
            json!({"status": status}),
        )
        .await;
    moved.assert_status(200);
    assert_eq!(moved.body["status"], status);
}

async fn tickets_now(app: &TestApp, token: &str, ids: &[&str]) -> Vec<Value> {
    let mut out = Vec::new();
    for id in ids {
        let reply = app.get(&format!("/v1/tickets/{id}"), token).await;
        reply.assert_status(200);
        out.push(reply.body);
    }
    out
}

/// status, priority, first response breached, resolution breached: how a ticket ended up.
fn fate(t: &Value) -> (String, String, bool, bool) {
    (
        t["status"].as_str().unwrap().to_owned(),
        t["priority"].as_str().unwrap().to_owned(),
        t["first_response_breached_at"].is_string(),
        t["resolution_breached_at"].is_string(),
    )
}

const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];
const AGE_BANDS: [&str; 4] = ["under_1d", "1d_to_3d", "3d_to_7d", "over_7d"];
const CATEGORIES: [&str; 4] = ["inquiry", "request", "incident", "complaint"];

/// What the report reads of a ticket, from its API answer.
struct Seen {
    created: DateTime<Utc>,
    responded: Option<DateTime<Utc>>,
    resolved: Option<DateTime<Utc>>,
    first_response_due: Option<DateTime<Utc>>,
    resolution_due: Option<DateTime<Utc>>,
    first_response_breached: Option<DateTime<Utc>>,
    resolution_breached: Option<DateTime<Utc>>,
    /// `new`, `open`, `pending` or `reopened`.
    active: bool,
    /// `pending`: its resolution clock stands still.
    paused: bool,
    priority: String,
    team: Option<String>,
    category: String,
}

impl Seen {
    fn of(t: &Value) -> Seen {
        let status = t["status"].as_str().unwrap();
        Seen {
            created: time_of(&t["created_at"]).unwrap(),
            responded: time_of(&t["first_responded_at"]),
            resolved: time_of(&t["resolved_at"]),
            first_response_due: time_of(&t["first_response_due_at"]),
            resolution_due: time_of(&t["resolution_due_at"]),
            first_response_breached: time_of(&t["first_response_breached_at"]),
            resolution_breached: time_of(&t["resolution_breached_at"]),
            active: ["new", "open", "pending", "reopened"].contains(&status),
            paused: t["paused_at"].is_string(),
            priority: t["priority"].as_str().unwrap().to_owned(),
            team: t["team_id"].as_str().map(str::to_owned),
            category: t["category"].as_str().unwrap().to_owned(),
        }
    }
}

/// Whole seconds from `from` to `to`, rounded half away from zero.
fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    let micros = (to - from).num_microseconds().unwrap();
    let (whole, rest) = (micros / 1_000_000, micros % 1_000_000);
    if rest.abs() >= 500_000 {
        whole + rest.signum()
    } else {
        whole
    }
}

/// Met (`Some(true)`), missed (`Some(false)`) or not known yet (`None`): a target is met when
/// done by its due time and never breached; missed when breached, done late, or past due and
/// not done while its clock runs.
fn outcome(
    done: Option<DateTime<Utc>>,
    due: Option<DateTime<Utc>>,
    breached: Option<DateTime<Utc>>,
    clock_runs: bool,
    now: DateTime<Utc>,
) -> Option<bool> {
    if breached.is_some() {
        return Some(false);
    }
    let due = due?;
    match done {
        Some(done) => Some(done <= due),
        None => (clock_runs && due < now).then_some(false),
    }
}

/// How one target was kept: met, missed, compliance, and the times of those done.
fn target_figures(outcomes: &[Option<bool>], mut times: Vec<i64>) -> Value {
    let met = outcomes.iter().filter(|o| **o == Some(true)).count() as i64;
    let missed = outcomes.iter().filter(|o| **o == Some(false)).count() as i64;
    let known = met + missed;
    // Percent to one decimal, half up (they are positive): tenths of a percent, rounded.
    let compliance = (known > 0).then(|| ((met * 2000 + known) / (2 * known)) as f64 / 10.0);
    times.sort_unstable();
    let n = times.len();
    let median = (n > 0).then(|| {
        if n % 2 == 1 {
            times[n / 2]
        } else {
            // The mean of the two middle ones, half away from zero.
            let sum = times[n / 2 - 1] + times[n / 2];
            (sum + sum.signum()) / 2
        }
    });
    // The nearest rank: ⌈0.9·n⌉, 1-based.
    let p90 = (n > 0).then(|| times[(9 * n).div_ceil(10) - 1]);
    json!({"met": met, "missed": missed, "compliance": compliance, "done": n,
           "median_seconds": median, "p90_seconds": p90})
}

fn level_figures(period: Option<NaiveDate>, tickets: &[&Seen], now: DateTime<Utc>) -> Value {
    let first: Vec<Option<bool>> = tickets
        .iter()
        .map(|t| {
            outcome(
                t.responded,
                t.first_response_due,
                t.first_response_breached,
                t.active,
                now,
            )
        })
        .collect();
    let resolution: Vec<Option<bool>> = tickets
        .iter()
        .map(|t| {
            outcome(
                t.resolved,
                t.resolution_due,
                t.resolution_breached,
                t.active && !t.paused,
                now,
            )
        })
        .collect();
    let took = |done: fn(&Seen) -> Option<DateTime<Utc>>| -> Vec<i64> {
        tickets
            .iter()
            .filter_map(|t| done(t).map(|d| seconds(t.created, d)))
            .collect()
    };
    json!({
        "period": period,
        "tickets": tickets.len(),
        "first_response": target_figures(&first, took(|t| t.responded)),
        "resolution": target_figures(&resolution, took(|t| t.resolved)),
    })
}

/// The first day of the week (Monday) or month of `t`, in UTC.
fn period_of(t: DateTime<Utc>, period: &str) -> NaiveDate {
    let day = t.date_naive();
    match period {
        "week" => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        "month" => NaiveDate::from_ymd_opt(day.year(), day.month(), 1).unwrap(),
        other => panic!("no period {other}"),
    }
}

/// The report on `tickets` (those the caller sees) at `now`, computed here: the tickets
/// created in `[from, to)` (per `period` too), the active ones by priority and age, the
/// breaches recorded in `[from, to)` by team and category.
fn expected_service_levels(
    tickets: &[Seen],
    now: DateTime<Utc>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    period: Option<&str>,
) -> Value {
    let within = |t: DateTime<Utc>| from.is_none_or(|f| t >= f) && to.is_none_or(|to| t < to);
    let created: Vec<&Seen> = tickets.iter().filter(|t| within(t.created)).collect();
    let mut periods: BTreeMap<NaiveDate, Vec<&Seen>> = BTreeMap::new();
    if let Some(period) = period {
        for t in &created {
            periods
                .entry(period_of(t.created, period))
                .or_default()
                .push(t);
        }
    }
    let periods: Vec<Value> = periods
        .iter()
        .map(|(day, of)| level_figures(Some(*day), of, now))
        .collect();

    let mut backlog: BTreeMap<(usize, usize), i64> = BTreeMap::new();
    for t in tickets.iter().filter(|t| t.active) {
        let age = now - t.created;
        let band = if age < Duration::days(1) {
            0
        } else if age < Duration::days(3) {
            1
        } else if age < Duration::days(7) {
            2
        } else {
            3
        };
        let priority = PRIORITIES.iter().position(|p| *p == t.priority).unwrap();
        *backlog.entry((priority, band)).or_default() += 1;
    }
    let backlog: Vec<Value> = backlog
        .iter()
        .map(|((p, a), n)| json!({"priority": PRIORITIES[*p], "age": AGE_BANDS[*a], "count": n}))
        .collect();

    // By team (those without one last), then category.
    let mut breaches: BTreeMap<(bool, Option<&str>, usize), (i64, i64)> = BTreeMap::new();
    for t in tickets {
        let first = i64::from(t.first_response_breached.is_some_and(within));
        let resolution = i64::from(t.resolution_breached.is_some_and(within));
        if first + resolution > 0 {
            let category = CATEGORIES.iter().position(|c| *c == t.category).unwrap();
            let counts = breaches
                .entry((t.team.is_none(), t.team.as_deref(), category))
                .or_default();
            counts.0 += first;
            counts.1 += resolution;
        }
    }
    let breaches: Vec<Value> = breaches
        .iter()
        .map(|((_, team, c), (first, resolution))| {
            json!({"team_id": team, "category": CATEGORIES[*c], "first_response": first,
                   "resolution": resolution})
        })
        .collect();

    json!({
        "total": level_figures(None, &created, now),
        "periods": periods,
        "backlog": backlog,
        "breaches": breaches,
    })
}

/// One target's figures, written out.
fn target_of(
    (met, missed, compliance): (i64, i64, Option<f64>),
    done: i64,
    median: Option<i64>,
    p90: Option<i64>,
) -> Value {
    json!({"met": met, "missed": missed, "compliance": compliance, "done": done,
           "median_seconds": median, "p90_seconds": p90})
}

/// The figures of a report as its CSV lines must have them: `section, key, figure` and the
/// JSON value.
fn figures_of(report: &Value) -> Vec<([String; 3], Value)> {
    fn level(out: &mut Vec<([String; 3], Value)>, section: &str, l: &Value) {
        let key = l["period"].as_str().unwrap_or_default().to_owned();
        out.push((
            [section.into(), key.clone(), "tickets".into()],
            l["tickets"].clone(),
        ));
        for target in ["first_response", "resolution"] {
            for figure in [
                "met",
                "missed",
                "compliance",
                "done",
                "median_seconds",
                "p90_seconds",
            ] {
                out.push((
                    [section.into(), key.clone(), format!("{target}.{figure}")],
                    l[target][figure].clone(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    level(&mut out, "total", &report["total"]);
    for p in report["periods"].as_array().unwrap() {
        level(&mut out, "period", p);
    }
    for b in report["backlog"].as_array().unwrap() {
        let key = format!(
            "{}:{}",
            b["priority"].as_str().unwrap(),
            b["age"].as_str().unwrap()
        );
        out.push((["backlog".into(), key, "count".into()], b["count"].clone()));
    }
    for b in report["breaches"].as_array().unwrap() {
        let key = format!(
            "{}:{}",
            b["team_id"].as_str().unwrap_or_default(),
            b["category"].as_str().unwrap()
        );
        for figure in ["first_response", "resolution"] {
            out.push((
                ["breaches".into(), key.clone(), figure.into()],
                b[figure].clone(),
            ));
        }
    }
    out
}

/// Does a CSV cell hold the JSON value: empty for `null`, the same number otherwise?
fn cell_holds(cell: &str, value: &Value) -> bool {
    match value {
        Value::Null => cell.is_empty(),
        Value::Number(n) if n.is_f64() => cell.parse::<f64>().ok() == n.as_f64(),
        Value::Number(n) => n.to_string() == cell,
        other => panic!("a figure is a number or null, not {other}"),
    }
}

/// The CSV of `path` has the JSON `report`'s figures, a line each, in its order.
async fn assert_csv_matches(app: &TestApp, path: &str, token: &str, report: &Value) {
    let csv = csv_of(app, path, token).await;
    assert_eq!(csv[0], ["section", "key", "figure", "value"]);
    let want = figures_of(report);
    assert_eq!(csv.len() - 1, want.len(), "{path}: {csv:?}");
    for (line, (cells, value)) in csv[1..].iter().zip(&want) {
        assert_eq!(line.len(), 4, "{line:?}");
        assert_eq!(line[..3], cells[..], "{path}");
        assert!(
            cell_holds(&line[3], value),
            "{path}: {line:?}, the JSON has {value}"
        );
    }
}

async fn service_levels_count_targets_times_backlog_and_breaches(app: TestApp) {
    let t0 = a_monday_morning(app.clock.now());
    let h = |hours: i64| t0 + Duration::hours(hours);
    let s = Duration::seconds;
    let north = app.team("North").await;
    let south = app.team("South").await;
    let admin = app.admin_token().await;
    // Complaints (the default policy): a first response within 2 hours, a resolution within
    // 48. Requests: 4 and 24.
    requests_policy(&app, &admin).await;
    let north_co = app
        .customer(&admin, json!({"name": "Northern Mills", "team_id": north}))
        .await;
    let south_co = app
        .customer(&admin, json!({"name": "Southern Farms", "team_id": south}))
        .await;

    // Week one, Monday 09:00: A, B, C and J (a complaint no team works), ten seconds apart.
    let admin = step(&app, t0).await;
    let a = ticket_for(&app, &admin, north_co, Some(north), "complaint", "normal").await;
    clock_to(&app, t0 + s(10));
    let b = ticket_for(&app, &admin, south_co, Some(south), "request", "normal").await;
    clock_to(&app, t0 + s(20));
    let c = ticket_for(&app, &admin, south_co, Some(south), "complaint", "low").await;
    clock_to(&app, t0 + s(30));
    let j = ticket_for(&app, &admin, north_co, None, "complaint", "low").await;
    // 10:00: A answered in time.
    let admin = step(&app, h(1)).await;
    answer(&app, &admin, &a).await;
    // 12:00: C and J were found late (low → normal); B answered in time, C late.
    let admin = step(&app, h(3)).await;
    answer(&app, &admin, &b).await;
    clock_to(&app, h(3) + s(10));
    answer(&app, &admin, &c).await;
    // 14:00: A resolved in time.
    let admin = step(&app, h(5)).await;
    move_ticket(&app, &admin, &a, "resolved").await;
    // Tuesday 15:00: B's resolution was found late (normal → high); B resolved; D opened.
    let admin = step(&app, h(30)).await;
    move_ticket(&app, &admin, &b, "resolved").await;
    clock_to(&app, h(30) + s(10));
    let d = ticket_for(&app, &admin, north_co, Some(north), "request", "normal").await;
    // Thursday 09:00: C's and J's resolutions found late (→ high), D's response and
    // resolution both (normal → urgent); C resolved.
    let admin = step(&app, h(72)).await;
    move_ticket(&app, &admin, &c, "resolved").await;
    // Week two, Monday 09:00: E, F, G and H; H waits on the customer at once.
    let admin = step(&app, h(168)).await;
    let e = ticket_for(&app, &admin, north_co, Some(north), "complaint", "high").await;
    clock_to(&app, h(168) + s(10));
    let f = ticket_for(&app, &admin, north_co, Some(north), "request", "normal").await;
    clock_to(&app, h(168) + s(20));
    let g = ticket_for(&app, &admin, south_co, Some(south), "complaint", "normal").await;
    clock_to(&app, h(168) + s(30));
    let hh = ticket_for(&app, &admin, south_co, Some(south), "request", "normal").await;
    clock_to(&app, h(168) + s(40));
    move_ticket(&app, &admin, &hh, "pending").await;
    // F answered 1801 s after it was opened, E 5400 s.
    let admin = step(&app, h(168) + s(10 + 1801)).await;
    answer(&app, &admin, &f).await;
    let admin = step(&app, h(168) + s(5400)).await;
    answer(&app, &admin, &e).await;
    // 15:00: G's and H's responses found late (→ high); F resolved in time.
    let admin = step(&app, h(174)).await;
    move_ticket(&app, &admin, &f, "resolved").await;
    // Tuesday 11:00: H's resolution is past due, but its clock stands still; K opened.
    let admin = step(&app, h(194)).await;
    let k = ticket_for(&app, &admin, north_co, Some(north), "request", "low").await;

    let ids = [&a, &b, &c, &d, &e, &f, &g, &hh, &j, &k].map(String::as_str);
    let tickets = tickets_now(&app, &admin, &ids).await;
    let fates: Vec<(String, String, bool, bool)> = tickets.iter().map(fate).collect();
    let want: Vec<(String, String, bool, bool)> = [
        ("resolved", "normal", false, false),
        ("resolved", "high", false, true),
        ("resolved", "high", true, true),
        ("new", "urgent", true, true),
        ("open", "high", false, false),
        ("resolved", "normal", false, false),
        ("new", "high", true, false),
        ("pending", "high", true, false),
        ("new", "high", true, true),
        ("new", "low", false, false),
    ]
    .into_iter()
    .map(|(s, p, f, r)| (s.to_owned(), p.to_owned(), f, r))
    .collect();
    assert_eq!(fates, want, "the tickets went as planned");
    let seen: Vec<Seen> = tickets.iter().map(Seen::of).collect();

    // What the test did, worked out by hand: the computation below must agree.
    let week_one = t0.date_naive();
    let week_two = week_one + Duration::days(7);
    let mut by_team = vec![
        json!({"team_id": north, "category": "request", "first_response": 1, "resolution": 1}),
        json!({"team_id": south, "category": "request", "first_response": 1, "resolution": 1}),
        json!({"team_id": south, "category": "complaint", "first_response": 2, "resolution": 1}),
    ];
    // By team id, categories in their order (a stable sort keeps them).
    by_team.sort_by_key(|b| b["team_id"].as_str().unwrap().to_owned());
    by_team.push(
        json!({"team_id": null, "category": "complaint", "first_response": 1, "resolution": 1}),
    );
    let by_hand = json!({
        "total": {
            "period": null,
            "tickets": 10,
            // A, B, E, F met; C, D, G, H, J missed; K not due yet.
            "first_response": target_of((4, 5, Some(44.4)), 5, Some(5400), Some(10790)),
            // A, F met; B, C, D, J missed; E, G, K not due, H paused.
            "resolution": target_of((2, 4, Some(33.3)), 4, Some(64790), Some(259_180)),
        },
        "periods": [
            {
                "period": week_one,
                "tickets": 5,
                "first_response": target_of((2, 3, Some(40.0)), 3, Some(10790), Some(10790)),
                "resolution": target_of((1, 4, Some(20.0)), 3, Some(107_990), Some(259_180)),
            },
            {
                "period": week_two,
                "tickets": 5,
                // (1801 + 5400) / 2 = 3600.5
                "first_response": target_of((2, 2, Some(50.0)), 2, Some(3601), Some(5400)),
                "resolution": target_of((1, 0, Some(100.0)), 1, Some(21590), Some(21590)),
            },
        ],
        "backlog": [
            {"priority": "low", "age": "under_1d", "count": 1},
            {"priority": "high", "age": "1d_to_3d", "count": 3},
            {"priority": "high", "age": "over_7d", "count": 1},
            {"priority": "urgent", "age": "3d_to_7d", "count": 1},
        ],
        "breaches": by_team,
    });
    let now = app.clock.now();
    assert_eq!(
        expected_service_levels(&seen, now, None, None, Some("week")),
        by_hand
    );

    let q = query_time;
    let cases = [
        ("?period=week".to_owned(), None, None, Some("week")),
        (String::new(), None, None, None),
        ("?period=month".to_owned(), None, None, Some("month")),
        (
            format!("?period=week&from={}", q(h(168))),
            Some(h(168)),
            None,
            Some("week"),
        ),
        (format!("?to={}", q(h(168))), None, Some(h(168)), None),
        // No ticket created then, but C's, J's and D's breaches recorded.
        (
            format!("?period=week&from={}&to={}", q(h(60)), q(h(168))),
            Some(h(60)),
            Some(h(168)),
            Some("week"),
        ),
    ];
    for (query, from, to, period) in cases {
        let path = format!("/v1/reports/service-levels{query}");
        let now = app.clock.now();
        let reply = app.get(&path, &admin).await;
        reply.assert_status(200);
        let want = expected_service_levels(&seen, now, from, to, period);
        assert_eq!(reply.body, want, "{path}");
    }
    let quiet = app
        .get(
            &format!(
                "/v1/reports/service-levels?period=week&from={}&to={}",
                q(h(60)),
                q(h(168))
            ),
            &admin,
        )
        .await;
    assert_eq!(quiet.body["total"]["tickets"], 0);
    assert_eq!(
        quiet.body["total"]["first_response"]["compliance"],
        Value::Null
    );
    assert_eq!(quiet.body["periods"], json!([]));
    assert_eq!(
        quiet.body["breaches"].as_array().unwrap().len(),
        3,
        "{}",
        quiet.body
    );
}

async fn service_levels_are_scoped_and_csv_matches_json(app: TestApp) {
    let t0 = a_monday_morning(app.clock.now());
    let h = |hours: i64| t0 + Duration::hours(hours);
    let s = Duration::seconds;
    let north = app.team("North").await;
    let south = app.team("South").await;
    let manager = app.user("sales_manager", Some(north)).await;
    let rep = app.user("sales_rep", Some(north)).await;
    let agent = app.user("service_agent", Some(north)).await;
    let admin = app.admin_token().await;
    requests_policy(&app, &admin).await;
    let north_co = app
        .customer(&admin, json!({"name": "Northern Mills", "team_id": north}))
        .await;
    let south_co = app
        .customer(&admin, json!({"name": "Southern Farms", "team_id": south}))
        .await;

    // T1: North's customer, worked by South, never answered. T2: North's customer, answered
    // and resolved in time. T3: South's customer worked by North, answered late. T4: South's,
    // never answered.
    let admin = step(&app, t0).await;
    let t1 = ticket_for(&app, &admin, north_co, Some(south), "complaint", "normal").await;
    clock_to(&app, t0 + s(10));
    let t2 = ticket_for(&app, &admin, north_co, Some(north), "request", "normal").await;
    clock_to(&app, t0 + s(20));
    let t3 = ticket_for(&app, &admin, south_co, Some(north), "complaint", "normal").await;
    clock_to(&app, t0 + s(30));
    let t4 = ticket_for(&app, &admin, south_co, Some(south), "request", "high").await;
    let admin = step(&app, h(1)).await;
    answer(&app, &admin, &t2).await;
    // T1's and T3's responses found late (→ high).
    let admin = step(&app, h(3)).await;
    move_ticket(&app, &admin, &t2, "resolved").await;
    // T4's response found late (→ urgent).
    let admin = step(&app, h(5)).await;
    answer(&app, &admin, &t3).await;

    let ids = [&t1, &t2, &t3, &t4].map(String::as_str);
    let tickets = tickets_now(&app, &admin, &ids).await;
    let fates: Vec<(String, String, bool, bool)> = tickets.iter().map(fate).collect();
    let want: Vec<(String, String, bool, bool)> = [
        ("new", "high", true, false),
        ("resolved", "normal", false, false),
        ("open", "high", true, false),
        ("new", "urgent", true, false),
    ]
    .into_iter()
    .map(|(s, p, f, r)| (s.to_owned(), p.to_owned(), f, r))
    .collect();
    assert_eq!(fates, want, "the tickets went as planned");
    let seen: Vec<Seen> = tickets.iter().map(Seen::of).collect();
    let manager_token = app.token_of(&manager).await;
    let week = t0.date_naive().to_string();

    // The admin sees all four; North's manager the two of North's customer, whichever team
    // works them.
    for (who, token, visible) in [
        ("admin", &admin, &seen[..]),
        ("manager", &manager_token, &seen[..2]),
    ] {
        for query in ["?period=week", "?period=month", ""] {
            let path = format!("/v1/reports/service-levels{query}");
            let now = app.clock.now();
            let reply = app.get(&path, token).await;
            reply.assert_status(200);
            let period = query.strip_prefix("?period=");
            let want = expected_service_levels(visible, now, None, None, period);
            assert_eq!(reply.body, want, "{who}: {path}");
            assert_csv_matches(&app, &path, token, &reply.body).await;
        }
    }

    // The figures worked out by hand, as CSV lines.
    let admin_csv = csv_of(&app, "/v1/reports/service-levels?period=week", &admin).await;
    let manager_csv = csv_of(
        &app,
        "/v1/reports/service-levels?period=week",
        &manager_token,
    )
    .await;
    let line = |l: [&str; 4]| l.map(str::to_owned).to_vec();
    let south_complaint = format!("{south}:complaint");
    let north_complaint = format!("{north}:complaint");
    let south_request = format!("{south}:request");
    for l in [
        ["total", "", "tickets", "4"],
        ["total", "", "first_response.met", "1"],
        ["total", "", "first_response.missed", "3"],
        ["total", "", "first_response.compliance", "25"],
        ["total", "", "first_response.done", "2"],
        // T2 after 3590 s, T3 after 17980 s.
        ["total", "", "first_response.median_seconds", "10785"],
        ["total", "", "first_response.p90_seconds", "17980"],
        ["total", "", "resolution.met", "1"],
        ["total", "", "resolution.missed", "0"],
        ["total", "", "resolution.compliance", "100"],
        ["total", "", "resolution.median_seconds", "10790"],
        ["period", &week, "tickets", "4"],
        ["period", &week, "first_response.met", "1"],
        ["backlog", "high:under_1d", "count", "2"],
        ["backlog", "urgent:under_1d", "count", "1"],
        ["breaches", &south_complaint, "first_response", "1"],
        ["breaches", &south_complaint, "resolution", "0"],
        ["breaches", &north_complaint, "first_response", "1"],
        ["breaches", &south_request, "first_response", "1"],
    ] {
        assert!(admin_csv.contains(&line(l)), "no {l:?} in {admin_csv:?}");
    }
    for l in [
        ["total", "", "tickets", "2"],
        ["total", "", "first_response.met", "1"],
        ["total", "", "first_response.missed", "1"],
        ["total", "", "first_response.compliance", "50"],
        ["total", "", "first_response.median_seconds", "3590"],
        ["total", "", "resolution.compliance", "100"],
        ["period", &week, "tickets", "2"],
        ["backlog", "high:under_1d", "count", "1"],
        ["breaches", &south_complaint, "first_response", "1"],
        ["breaches", &south_complaint, "resolution", "0"],
    ] {
        assert!(
            manager_csv.contains(&line(l)),
            "no {l:?} in {manager_csv:?}"
        );
    }
    // One backlog line and one team's breaches: none of South's customer's tickets.
    assert_eq!(
        manager_csv.iter().filter(|l| l[0] == "backlog").count(),
        1,
        "{manager_csv:?}"
    );
    assert_eq!(
        manager_csv.iter().filter(|l| l[0] == "breaches").count(),
        2,
        "{manager_csv:?}"
    );

    // Without reports:read: a service agent and a sales rep.
    for user in [&agent, &rep] {
        let token = app.token_of(user).await;
        app.get("/v1/reports/service-levels", &token)
            .await
            .assert_problem(403, "forbidden");
    }
    let bad = app
        .get("/v1/reports/service-levels?period=year", &admin)
        .await;
    bad.assert_problem(400, "malformed_request");
    assert_eq!(bad.error_fields(), ["period"]);
    let bad = app
        .get("/v1/reports/service-levels?from=notadate", &admin)
        .await;
    bad.assert_problem(400, "malformed_request");
    assert_eq!(bad.error_fields(), ["from"]);
}
