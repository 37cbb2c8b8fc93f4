//! SLA policies over HTTP: which policy a ticket gets, due times in business hours across a
//! weekend and a holiday in Asia/Shanghai, `pending` pausing the clock, and the policies'
//! own API.

use chrono::{DateTime, Datelike, Duration, FixedOffset, TimeZone, Utc, Weekday};
use rapport_tests::{TestApp, backend_tests};
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    the_most_specific_policy_wins,
    business_hours_skip_a_weekend_and_a_holiday_in_shanghai,
    pending_pauses_the_resolution_clock,
    policies_are_validated_scoped_and_audited,
    a_missed_target_is_breached_once_escalated_and_notified,
    an_uncontacted_lead_is_escalated_once,
    the_assignee_is_reminded_once_before_the_resolution_is_due,
);

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

async fn open(app: &TestApp, token: &str, customer: Uuid, category: &str, priority: &str) -> Value {
    let reply = app
        .post(
            "/v1/tickets",
            token,
            json!({"customer_id": customer, "subject": "Help", "channel": "phone", "category": category, "priority": priority}),
        )
        .await;
    reply.assert_status(201);
    reply.body
}

/// The due times of `ticket` from its creation, in minutes.
fn targets(ticket: &Value) -> (i64, i64) {
    let created = time(&ticket["created_at"]);
    (
        (time(&ticket["first_response_due_at"]) - created).num_minutes(),
        (time(&ticket["resolution_due_at"]) - created).num_minutes(),
    )
}

async fn policy_named(app: &TestApp, token: &str, name: &str) -> Value {
    let all = app.get("/v1/sla-policies", token).await;
    all.assert_status(200);
    all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no policy {name}"))
}

async fn the_most_specific_policy_wins(app: TestApp) {
    let admin = app.admin_token().await;
    let vip = app
        .customer(&admin, json!({"name": "Big Spender", "grade": "vip"}))
        .await;
    let plain = app.customer(&admin, json!({"name": "Small Shop"})).await;

    // The defaults of product.md: complaints within 48 hours, VIP complaints within 24.
    let vip_complaint = open(&app, &admin, vip, "complaint", "normal").await;
    assert_eq!(
        vip_complaint["sla_policy_id"],
        policy_named(&app, &admin, "VIP complaints").await["id"]
    );
    assert_eq!(targets(&vip_complaint), (30, 24 * 60));
    let complaint = open(&app, &admin, plain, "complaint", "normal").await;
    assert_eq!(targets(&complaint), (2 * 60, 48 * 60));
    let inquiry = open(&app, &admin, plain, "inquiry", "normal").await;
    assert_eq!(targets(&inquiry), (8 * 60, 5 * 24 * 60));
    // Equally specific (a category, a priority): the tighter resolution target wins.
    let urgent = open(&app, &admin, plain, "complaint", "urgent").await;
    assert_eq!(
        urgent["sla_policy_id"],
        policy_named(&app, &admin, "Urgent").await["id"]
    );
    assert_eq!(targets(&urgent), (60, 8 * 60));

    // A new priority takes the due times of the policy that matches now.
    let id = inquiry["id"].as_str().unwrap();
    let raised = app
        .patch(
            &format!("/v1/tickets/{id}"),
            &admin,
            json!({"priority": "urgent"}),
        )
        .await;
    raised.assert_status(200);
    assert_eq!(targets(&raised.body), (60, 8 * 60));

    // The agents' queue: soonest resolution first.
    let queue = app
        .get("/v1/tickets?status=new&sort=resolution_due_at", &admin)
        .await;
    queue.assert_status(200);
    let dues: Vec<DateTime<Utc>> = queue.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| time(&t["resolution_due_at"]))
        .collect();
    assert_eq!(dues.len(), 4);
    assert!(dues.windows(2).all(|w| w[0] <= w[1]), "{dues:?}");
    app.get("/v1/tickets?sort=priority", &admin)
        .await
        .assert_problem(400, "malformed_request");
}

/// The next Wednesday 16:00 in Shanghai at least a week after `now`, as UTC.
fn a_wednesday_evening(now: DateTime<Utc>) -> DateTime<Utc> {
    let shanghai = FixedOffset::east_opt(8 * 3600).unwrap();
    let mut day = (now + Duration::days(7))
        .with_timezone(&shanghai)
        .date_naive();
    while day.weekday() != Weekday::Wed {
        day = day.succ_opt().unwrap();
    }
    let local = day.and_hms_opt(16, 0, 0).unwrap();
    shanghai
        .from_local_datetime(&local)
        .unwrap()
        .with_timezone(&Utc)
}

async fn business_hours_skip_a_weekend_and_a_holiday_in_shanghai(app: TestApp) {
    use rapport_domain::clock::Clock;
    let admin = app.admin_token().await;
    let wednesday = a_wednesday_evening(app.clock.now());
    let thursday =
        (wednesday + Duration::days(1)).with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap());
    let weekdays: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .map(|d| json!({"day": d, "start": "09:00", "end": "18:00"}))
        .into();
    let created = app
        .post(
            "/v1/sla-policies",
            &admin,
            json!({
                "name": "Incidents, office hours",
                "category": "incident",
                "priority": "high",
                "first_response_minutes": 60,
                "resolution_minutes": 12 * 60,
                "clock": "business",
                "business_hours": {
                    "time_zone": "Asia/Shanghai",
                    "weekly": weekdays,
                    "holidays": [thursday.date_naive().to_string()],
                },
            }),
        )
        .await;
    created.assert_status(201);
    assert_eq!(
        created.body["business_hours"]["weekly"][0],
        json!({"day": "mon", "start": "09:00", "end": "18:00"})
    );

    // Opened Wednesday 16:00 (and the moment the test took): the first response is due at
    // 17:00 the same day; twelve working hours are Wednesday's last two, Friday's nine
    // (Thursday is a holiday), then Monday 09:00 to 10:00, past the weekend.
    app.clock.advance(wednesday - app.clock.now());
    let admin = app.admin_token().await;
    let customer = app
        .customer(&admin, json!({"name": "深圳张氏科技有限公司"}))
        .await;
    let ticket = open(&app, &admin, customer, "incident", "high").await;
    assert_eq!(ticket["sla_policy_id"], created.body["id"]);
    let opened = time(&ticket["created_at"]);
    let late = opened - wednesday;
    assert!(late < Duration::minutes(5), "{late}");
    assert_eq!(
        time(&ticket["first_response_due_at"]),
        opened + Duration::hours(1)
    );
    let monday_ten = wednesday + Duration::days(5) - Duration::hours(6);
    assert_eq!(time(&ticket["resolution_due_at"]), monday_ten + late);
}

async fn pending_pauses_the_resolution_clock(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app.customer(&admin, json!({"name": "Waiting Co"})).await;
    let t = open(&app, &admin, customer, "complaint", "normal").await;
    let id = t["id"].as_str().unwrap();
    let due = time(&t["resolution_due_at"]);
    let path = format!("/v1/tickets/{id}");

    let pending = app.patch(&path, &admin, json!({"status": "pending"})).await;
    pending.assert_status(200);
    assert!(pending.body["paused_at"].is_string());
    app.clock.advance(Duration::hours(5));
    let admin = app.admin_token().await;
    let back = app.patch(&path, &admin, json!({"status": "open"})).await;
    back.assert_status(200);
    assert_eq!(back.body["paused_at"], Value::Null);
    let moved = time(&back.body["resolution_due_at"]) - due;
    assert!(
        moved >= Duration::hours(5) && moved < Duration::hours(5) + Duration::minutes(1),
        "moved by {moved}"
    );
    // The first response is not paused.
    assert_eq!(
        back.body["first_response_due_at"],
        t["first_response_due_at"]
    );
}

async fn policies_are_validated_scoped_and_audited(app: TestApp) {
    let admin = app.admin_token().await;
    let refused = app
        .post(
            "/v1/sla-policies",
            &admin,
            json!({
                "category": "praise",
                "first_response_minutes": 0,
                "resolution_minutes": 60,
                "clock": "business",
            }),
        )
        .await;
    refused.assert_problem(422, "validation_failed");
    let mut fields = refused.error_fields();
    fields.sort();
    assert_eq!(fields, ["category", "first_response_minutes", "name"]);
    let no_hours = app
        .post(
            "/v1/sla-policies",
            &admin,
            json!({"name": "Office", "first_response_minutes": 60, "resolution_minutes": 600, "clock": "business"}),
        )
        .await;
    assert_eq!(no_hours.error_fields(), ["business_hours"]);
    let bad_hours = app
        .post(
            "/v1/sla-policies",
            &admin,
            json!({"name": "Office", "first_response_minutes": 60, "resolution_minutes": 600, "clock": "business",
                   "business_hours": {"time_zone": "Asia/Beijing", "weekly": [{"day": "mon", "start": "18:00", "end": "09:00"}], "holidays": ["2026-13-01"]}}),
        )
        .await;
    let mut fields = bad_hours.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "business_hours.holidays[0]",
            "business_hours.time_zone",
            "business_hours.weekly[0].end"
        ]
    );

    // Agents read policies; changing them needs settings:write.
    let agent = app.user("service_agent", None).await;
    app.get("/v1/sla-policies", &agent.token)
        .await
        .assert_status(200);
    app.get("/v1/sla-policies", "").await.assert_status(401);
    let rep = app.user("sales_rep", None).await;
    app.get("/v1/sla-policies", &rep.token)
        .await
        .assert_problem(403, "forbidden");
    let body = json!({"name": "Requests", "category": "request", "first_response_minutes": 240, "resolution_minutes": 2880});
    app.post("/v1/sla-policies", &agent.token, body.clone())
        .await
        .assert_problem(403, "forbidden");
    let manager = app.user("service_manager", None).await;
    let created = app.post("/v1/sla-policies", &manager.token, body).await;
    created.assert_status(201);
    let id = created.body["id"].as_str().unwrap();
    let path = format!("/v1/sla-policies/{id}");
    assert_eq!(created.header("location"), Some(path.as_str()));

    let customer = app.customer(&admin, json!({"name": "Requester"})).await;
    let ticket = open(&app, &admin, customer, "request", "normal").await;
    assert_eq!(ticket["sla_policy_id"], json!(id));
    let changed = app
        .patch(
            &path,
            &manager.token,
            json!({"resolution_minutes": 1440, "category": null}),
        )
        .await;
    changed.assert_status(200);
    assert_eq!(
        (
            changed.body["resolution_minutes"].as_i64(),
            &changed.body["category"]
        ),
        (Some(1440), &Value::Null)
    );
    app.patch(&path, &agent.token, json!({"name": "x"}))
        .await
        .assert_problem(403, "forbidden");
    app.delete(&path, &manager.token).await.assert_status(204);
    app.get(&path, &admin)
        .await
        .assert_problem(404, "not_found");
    // Its tickets keep their due times.
    let kept = app
        .get(
            &format!("/v1/tickets/{}", ticket["id"].as_str().unwrap()),
            &admin,
        )
        .await
        .body;
    assert_eq!(kept["sla_policy_id"], Value::Null);
    assert_eq!(kept["resolution_due_at"], ticket["resolution_due_at"]);
    assert_eq!(app.audit_count(id).await, 3);
}

/// Polls `done` over the ticket `id` until it holds (10 s at most).
async fn wait_for_ticket(
    app: &TestApp,
    token: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let t = app.get(&format!("/v1/tickets/{id}"), token).await.body;
        if done(&t) {
            return t;
        }
        assert!(std::time::Instant::now() < deadline, "still {t:#}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Waits until the occurrence at `at` (by the server's clock) of `kind`, scheduled every
/// `minutes`, has run.
async fn checked(app: &TestApp, token: &str, kind: &str, minutes: u32, at: DateTime<Utc>) {
    let since = rapport_domain::job::Schedule::EveryMinutes(minutes).latest(at);
    let path = format!("/v1/jobs?kind={kind}&status=succeeded&limit=1");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let jobs = app.get(&path, token).await.body;
        if jobs["data"][0]["run_at"]
            .as_str()
            .is_some_and(|t| t.parse::<DateTime<Utc>>().unwrap() >= since)
        {
            return;
        }
        if std::time::Instant::now() > deadline {
            let all = app
                .get(&format!("/v1/jobs?kind={kind}&limit=5"), token)
                .await
                .body;
            panic!("no check since {since}: {all:#}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn notes_of(app: &TestApp, token: &str) -> Vec<Value> {
    let reply = app.get("/v1/me/notifications", token).await;
    reply.assert_status(200);
    reply.body["data"].as_array().unwrap().clone()
}

async fn a_missed_target_is_breached_once_escalated_and_notified(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app.team("Complaints desk").await;
    let manager = app.user("service_manager", Some(team)).await;
    app.patch(
        &format!("/v1/teams/{team}"),
        &admin,
        json!({"manager_id": manager.id}),
    )
    .await
    .assert_status(200);
    let agent = app.user("service_agent", Some(team)).await;
    let customer = app.customer(&admin, json!({"name": "Angry Ltd"})).await;
    let t = open(&app, &admin, customer, "complaint", "normal").await;
    let id = t["id"].as_str().unwrap();
    app.patch(
        &format!("/v1/tickets/{id}"),
        &admin,
        json!({"team_id": team, "assignee_id": agent.id}),
    )
    .await
    .assert_status(200);
    let assigned = notes_of(&app, &agent.token).await;
    assert_eq!(assigned.len(), 1);
    assert_eq!(
        (assigned[0]["kind"].as_str(), &assigned[0]["ticket_id"]),
        (Some("ticket_assigned"), &json!(id))
    );

    // Two hours without a public reply: the first response is late.
    app.clock.advance(Duration::hours(2) + Duration::minutes(1));
    let admin = app.admin_token().await;
    let late = wait_for_ticket(&app, &admin, id, |t| t["sla_breached"] == true).await;
    assert!(late["first_response_breached_at"].is_string());
    assert_eq!(late["resolution_breached_at"], Value::Null);
    assert_eq!(late["priority"], "high");
    let manager_token = app.token_of(&manager).await;
    let notes = notes_of(&app, &manager_token).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (notes[0]["kind"].as_str(), notes[0]["read"].as_bool()),
        (Some("sla_breached"), Some(false))
    );

    // Later checks find it recorded: once.
    app.clock.advance(Duration::minutes(2));
    let at = {
        use rapport_domain::clock::Clock;
        app.clock.now()
    };
    let admin = app.admin_token().await;
    checked(&app, &admin, "sla.check", 1, at).await;
    let again = app.get(&format!("/v1/tickets/{id}"), &admin).await.body;
    assert_eq!(
        (
            again["priority"].as_str(),
            &again["first_response_breached_at"]
        ),
        (Some("high"), &late["first_response_breached_at"])
    );
    let manager_token = app.token_of(&manager).await;
    assert_eq!(notes_of(&app, &manager_token).await.len(), 1);
    let events = app
        .get(
            &format!("/v1/audit-events?entity_id={id}&action=sla_breached"),
            &admin,
        )
        .await;
    let breaches: Vec<&Value> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "sla_breached")
        .collect();
    assert_eq!(breaches.len(), 1);
    assert_eq!(breaches[0]["actor_type"], "system");

    // Two days on, the resolution is late too: urgent, and the manager hears again.
    app.clock.advance(Duration::hours(46));
    let admin = app.admin_token().await;
    let later = wait_for_ticket(&app, &admin, id, |t| {
        t["resolution_breached_at"].is_string()
    })
    .await;
    assert_eq!(later["priority"], "urgent");
    let manager_token = app.token_of(&manager).await;
    let notes = notes_of(&app, &manager_token).await;
    assert_eq!(notes.len(), 2);

    // Read: it goes after the unread ones; nobody else may read it.
    let first = notes[1]["id"].as_str().unwrap();
    let read = app
        .post(
            &format!("/v1/me/notifications/{first}/read"),
            &manager_token,
            json!({}),
        )
        .await;
    read.assert_status(200);
    assert_eq!(read.body["read"], true);
    let notes = notes_of(&app, &manager_token).await;
    assert_eq!(
        (notes[0]["read"].as_bool(), notes[1]["read"].as_bool()),
        (Some(false), Some(true))
    );
    let agent_token = app.token_of(&agent).await;
    app.post(
        &format!("/v1/me/notifications/{first}/read"),
        &agent_token,
        json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    let client = app.client_token(&["tickets:read"]).await;
    app.get("/v1/me/notifications", &client)
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/me/notifications", "").await.assert_status(401);
}

async fn an_uncontacted_lead_is_escalated_once(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app.team("East sales").await;
    let manager = app.user("sales_manager", Some(team)).await;
    app.patch(
        &format!("/v1/teams/{team}"),
        &admin,
        json!({"manager_id": manager.id}),
    )
    .await
    .assert_status(200);
    let rep = app.user("sales_rep", Some(team)).await;
    let forgotten = app
        .customer(&rep.token, json!({"name": "Forgotten Lead"}))
        .await;
    let called = app
        .customer(&rep.token, json!({"name": "Called Lead"}))
        .await;
    app.post(
        "/v1/activities",
        &rep.token,
        json!({"customer_id": called, "kind": "call", "summary": "First call"}),
    )
    .await
    .assert_status(201);

    // 24 hours on, the uncontacted lead is escalated to the rep's manager; the called one not.
    app.clock.advance(Duration::hours(25));
    let manager_token = app.token_of(&manager).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let notes = loop {
        let notes = notes_of(&app, &manager_token).await;
        if !notes.is_empty() {
            break notes;
        }
        assert!(std::time::Instant::now() < deadline, "no escalation");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (notes[0]["kind"].as_str(), &notes[0]["customer_id"]),
        (Some("lead_overdue"), &json!(forgotten))
    );

    // Later runs find it escalated: once.
    app.clock.advance(Duration::minutes(5));
    let at = {
        use rapport_domain::clock::Clock;
        app.clock.now()
    };
    let admin = app.admin_token().await;
    checked(&app, &admin, "leads.escalate", 5, at).await;
    let manager_token = app.token_of(&manager).await;
    assert_eq!(notes_of(&app, &manager_token).await.len(), 1);
    let events = app
        .get(&format!("/v1/audit-events?entity_id={forgotten}"), &admin)
        .await;
    let escalations: Vec<&Value> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "follow_up_escalated")
        .collect();
    assert_eq!(escalations.len(), 1);
    assert_eq!(escalations[0]["actor_type"], "system");
}

async fn the_assignee_is_reminded_once_before_the_resolution_is_due(app: TestApp) {
    let admin = app.admin_token().await;
    let agent = app.user("service_agent", None).await;
    let customer = app.customer(&admin, json!({"name": "Patient Co"})).await;
    let reply = app
        .post(
            "/v1/tickets",
            &admin,
            json!({"customer_id": customer, "subject": "Slow", "channel": "web", "category": "complaint", "assignee_id": agent.id}),
        )
        .await;
    reply.assert_status(201);
    let id = reply.body["id"].clone();
    // The first response is given, so only the resolution (48 hours) is left to remind of.
    app.post(
        &format!("/v1/tickets/{}/comments", id.as_str().unwrap()),
        &agent.token,
        json!({"body": "On it.", "public": true}),
    )
    .await
    .assert_status(201);
    let reminders = |notes: Vec<Value>| -> Vec<Value> {
        notes
            .into_iter()
            .filter(|n| n["kind"] == "sla_reminder")
            .collect()
    };

    app.clock
        .advance(Duration::hours(47) + Duration::minutes(1));
    let token = app.token_of(&agent).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let found = loop {
        let found = reminders(notes_of(&app, &token).await);
        if !found.is_empty() {
            break found;
        }
        assert!(std::time::Instant::now() < deadline, "no reminder");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["ticket_id"], id);

    app.clock.advance(Duration::minutes(2));
    let at = {
        use rapport_domain::clock::Clock;
        app.clock.now()
    };
    let admin = app.admin_token().await;
    checked(&app, &admin, "sla.check", 1, at).await;
    let token = app.token_of(&agent).await;
    assert_eq!(reminders(notes_of(&app, &token).await).len(), 1);
    let ticket = app
        .get(&format!("/v1/tickets/{}", id.as_str().unwrap()), &admin)
        .await
        .body;
    assert_eq!(ticket["sla_breached"], false);
}
