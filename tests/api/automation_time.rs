//! Automation rules with time triggers, moving the injected clock instead of waiting: a
//! schedule fires once per occurrence with two instances on one database, and the relative
//! triggers (birthday, call-back cadence, inactivity, days before the expected close) act on
//! the right local day in Asia/Shanghai, once per period.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Asia::Shanghai;
use rapport_domain::clock::Clock;
use rapport_tests::{Backend, TestApp, backend_tests};
use serde_json::{Value, json};

use crate::automation::{rule, settled_runs};

backend_tests!(
    a_birthday_rule_acts_on_the_day_in_shanghai,
    a_callback_cadence_comes_due_per_grade,
    inactivity_and_closing_dates_fire_once_per_period,
);

/// The first 09:00 in Shanghai after `now`, plus `extra`.
fn next_nine(now: DateTime<Utc>, extra: Duration) -> DateTime<Utc> {
    let local = now.with_timezone(&Shanghai);
    let mut day = local.date_naive();
    if local.time() >= NaiveTime::from_hms_opt(9, 0, 0).unwrap() {
        day = day.succ_opt().unwrap();
    }
    let nine = Shanghai
        .from_local_datetime(&day.and_hms_opt(9, 0, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc);
    nine + extra
}

/// Moves `apps`' clocks to `to`.
pub fn move_to(apps: &[&TestApp], to: DateTime<Utc>) {
    for app in apps {
        let by = to - app.clock.now();
        app.clock.advance(by);
    }
}

/// Waits until the scheduler's tick for the minute of `at` (or a later one) has run.
pub async fn ticked(app: &TestApp, at: DateTime<Utc>) {
    let minute = at.with_second(0).unwrap().with_nanosecond(0).unwrap();
    let admin = app.admin_token().await;
    for _ in 0..800 {
        let jobs = app
            .get(
                "/v1/jobs?kind=automation.tick&status=succeeded&limit=200",
                &admin,
            )
            .await;
        jobs.assert_status(200);
        let done = jobs.body["data"].as_array().unwrap().iter().any(|j| {
            j["key"]
                .as_str()
                .and_then(|k| k.strip_prefix("schedule:automation.tick:"))
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| t >= minute)
        });
        if done {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no tick ran at {minute}");
}

/// Waits until no `automation.*` job is left to run.
pub async fn quiet(app: &TestApp) {
    for _ in 0..800 {
        let left: i64 = app
            .scalar("SELECT COUNT(*) FROM jobs WHERE kind LIKE 'automation.%' AND status IN ('queued', 'running')")
            .await;
        if left == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("automation jobs did not finish");
}

async fn runs(app: &TestApp, rule: &str) -> Vec<Value> {
    let admin = app.admin_token().await;
    let reply = app
        .get(
            &format!("/v1/automation-rules/{rule}/runs?limit=200"),
            &admin,
        )
        .await;
    reply.assert_status(200);
    reply.body["data"].as_array().unwrap().clone()
}

async fn automated_tasks(app: &TestApp) -> Vec<Value> {
    let admin = app.admin_token().await;
    let reply = app.get("/v1/tasks?limit=200", &admin).await;
    reply.assert_status(200);
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["origin"] == "automation")
        .cloned()
        .collect()
}

async fn a_birthday_rule_acts_on_the_day_in_shanghai(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    // The birthday is the local day after the next 09:00 in Shanghai.
    let nine = next_nine(app.clock.now(), Duration::zero());
    let day = nine
        .with_timezone(&Shanghai)
        .date_naive()
        .succ_opt()
        .unwrap();
    let c = app
        .customer(
            &rep.token,
            json!({"name": "北京华为终端有限公司", "contacts": [
                {"first_name": "伟", "last_name": "王",
                 "birthday": {"month": day.month(), "day": day.day()}},
                {"first_name": "Other", "birthday": {"month": (day.month() % 12) + 1, "day": 1}},
            ]}),
        )
        .await;
    let id = rule(
        &app,
        &admin,
        json!({
            "name": "Birthday gift",
            "trigger": {"type": "birthday", "at": "09:00", "time_zone": "Asia/Shanghai"},
            "actions": [{"type": "create_task", "title": "Birthday at {{customer.name}}",
                         "assignee": {"type": "owner"}, "due_in_hours": 8}],
        }),
    )
    .await;
    // 08:59 on the birthday in Shanghai: not yet.
    let before = nine + Duration::days(1) - Duration::minutes(1);
    move_to(&[&app], before);
    ticked(&app, before).await;
    quiet(&app).await;
    assert!(runs(&app, &id).await.is_empty());
    // 09:00: the task, for the owner, on that day.
    let at = nine + Duration::days(1);
    move_to(&[&app], at);
    let done = settled_runs(&app, &app.admin_token().await, &id, 1).await;
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["trigger"], "birthday");
    assert_eq!(done[0]["record_type"], "contact");
    let tasks = automated_tasks(&app).await;
    assert_eq!(tasks.len(), 1, "{tasks:?} {:?}", runs(&app, &id).await);
    assert_eq!(tasks[0]["title"], "Birthday at 北京华为终端有限公司");
    assert_eq!(tasks[0]["customer_id"], c.to_string());
    assert_eq!(tasks[0]["assignee_id"], rep.id.to_string());
    let created: DateTime<Utc> = tasks[0]["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(created.with_timezone(&Shanghai).date_naive(), day);
    // Later that day and the next, nothing more: once a year.
    let later = at + Duration::hours(26);
    move_to(&[&app], later);
    ticked(&app, later).await;
    quiet(&app).await;
    assert_eq!(automated_tasks(&app).await.len(), 1);
}

async fn a_callback_cadence_comes_due_per_grade(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let vip = app
        .customer(&rep.token, json!({"name": "VIP Trading", "grade": "vip"}))
        .await;
    let _standard = app
        .customer(
            &rep.token,
            json!({"name": "Standard Trading", "grade": "standard"}),
        )
        .await;
    let id = rule(
        &app,
        &admin,
        json!({
            "name": "VIP call-back",
            "trigger": {"type": "callback_cadence", "days_by_grade": {"vip": 30},
                        "at": "09:00", "time_zone": "Asia/Shanghai"},
            "actions": [{"type": "create_task", "title": "Call {{name}} back",
                         "assignee": {"type": "owner"}}],
        }),
    )
    .await;
    let start = app.clock.now();
    // 29 days on: not due yet.
    let early = next_nine(start + Duration::days(29), Duration::zero());
    move_to(&[&app], early);
    ticked(&app, early).await;
    quiet(&app).await;
    assert!(early < start + Duration::days(30));
    assert!(runs(&app, &id).await.is_empty());
    // The first 09:00 after 30 days: one task for the VIP, none for the standard customer.
    let due = next_nine(start + Duration::days(30), Duration::zero());
    move_to(&[&app], due);
    let done = settled_runs(&app, &app.admin_token().await, &id, 1).await;
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["record_id"], vip.to_string());
    let tasks = automated_tasks(&app).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["title"], "Call VIP Trading back");
    let created: DateTime<Utc> = tasks[0]["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        created.with_timezone(&Shanghai).date_naive(),
        due.with_timezone(&Shanghai).date_naive()
    );
    // The next day's scan finds the same call-back due: nothing twice.
    let next = due + Duration::days(1);
    move_to(&[&app], next);
    ticked(&app, next).await;
    quiet(&app).await;
    assert_eq!(automated_tasks(&app).await.len(), 1);
    // A call made now: the next call-back is due 30 days after it.
    let token = app.token_of(&rep).await;
    app.post(
        "/v1/activities",
        &token,
        json!({"customer_id": vip, "kind": "call", "summary": "Called back",
               "occurred_at": app.clock.now()}),
    )
    .await
    .assert_status(201);
    let again = next_nine(app.clock.now() + Duration::days(30), Duration::zero());
    move_to(&[&app], again);
    settled_runs(&app, &app.admin_token().await, &id, 2).await;
    assert_eq!(automated_tasks(&app).await.len(), 2);
}

async fn inactivity_and_closing_dates_fire_once_per_period(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let quiet_one = app
        .customer(&rep.token, json!({"name": "Quiet Corp"}))
        .await;
    let inactive = rule(
        &app,
        &admin,
        json!({
            "name": "Wake up",
            "trigger": {"type": "inactivity", "days": 10, "at": "09:00", "time_zone": "Asia/Shanghai"},
            "actions": [{"type": "add_tag", "tag": "dormant"}],
        }),
    )
    .await;
    let closing = rule(
        &app,
        &admin,
        json!({
            "name": "Closing soon",
            "trigger": {"type": "before_close", "days": 3, "at": "09:00", "time_zone": "Asia/Shanghai"},
            "actions": [{"type": "notify", "recipient": {"type": "owner"}, "title": "{{title}} closes in 3 days"}],
        }),
    )
    .await;
    let due = next_nine(app.clock.now() + Duration::days(10), Duration::zero());
    let close = due.with_timezone(&Shanghai).date_naive() + Duration::days(3);
    let opportunity = app
        .post(
            "/v1/opportunities",
            &rep.token,
            json!({"customer_id": quiet_one, "title": "Big deal", "expected_close_date": close}),
        )
        .await;
    opportunity.assert_status(201);
    // Creating the opportunity is not an activity: the customer is still quiet.
    move_to(&[&app], due);
    let woke = settled_runs(&app, &app.admin_token().await, &inactive, 1).await;
    assert_eq!(woke.len(), 1);
    assert_eq!(woke[0]["record_id"], quiet_one.to_string());
    let closes = settled_runs(&app, &app.admin_token().await, &closing, 1).await;
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0]["record_type"], "opportunity");
    let token = app.token_of(&rep).await;
    let notes = app.get("/v1/me/notifications", &token).await;
    let titles: Vec<&str> = notes.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "automation")
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Big deal closes in 3 days"]);
    let admin = app.admin_token().await;
    let tags = app.get(&format!("/v1/customers/{quiet_one}"), &admin).await;
    assert_eq!(tags.body["tags"], json!(["dormant"]));
    // Two more days: the same quiet spell and close date fire nothing again.
    let later = due + Duration::days(2);
    move_to(&[&app], later);
    ticked(&app, later).await;
    quiet(&app).await;
    assert_eq!(runs(&app, &inactive).await.len(), 1);
    assert_eq!(runs(&app, &closing).await.len(), 1);
}

/// A daily schedule fires once per occurrence though two instances tick on one database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_fires_once_per_period_on_two_instances_postgres() {
    let first = TestApp::spawn(Backend::Postgres).await;
    let second = first.spawn_beside(|_| {}).await;
    let admin = first.admin_token().await;
    let manager = first.user("sales_manager", None).await;
    let id = rule(
        &first,
        &admin,
        json!({
            "name": "Morning digest",
            "trigger": {"type": "schedule", "cron": "0 9 * * *", "time_zone": "Asia/Shanghai"},
            "actions": [{"type": "notify", "recipient": {"type": "user", "user_id": manager.id},
                         "title": "{{rule.name}}"}],
        }),
    )
    .await;
    let reply = first
        .get(&format!("/v1/automation-rules/{id}"), &admin)
        .await;
    let nine = next_nine(first.clock.now(), Duration::zero());
    assert_eq!(
        reply.body["next_run_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        nine
    );
    for day in 0..2 {
        let at = nine + Duration::days(day) + Duration::minutes(1);
        move_to(&[&first, &second], at);
        ticked(&first, at).await;
        ticked(&second, at).await;
        quiet(&first).await;
        let done = runs(&first, &id).await;
        assert_eq!(done.len(), usize::try_from(day + 1).unwrap(), "{done:?}");
        assert!(
            done.iter()
                .all(|r| r["status"] == "succeeded" && r["record_id"].is_null())
        );
    }
    let token = first.token_of(&manager).await;
    let notes = first.get("/v1/me/notifications", &token).await;
    let digests = notes.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["title"] == "Morning digest")
        .count();
    assert_eq!(digests, 2);
}
