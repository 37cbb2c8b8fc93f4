//! The emailing actions of automation rules, through an SMTP sink each test starts:
//! `send_email` to the record's contact (with marketing consent only) or to a user, rendered
//! over the record, sent once however often its job runs, a refused recipient recorded as a
//! bounce rather than retried; `email_report` sending the report's CSV exactly as
//! `GET /v1/reports/<name>` answers it; and the report actions' checks when a rule is saved.

use chrono::{Datelike, Timelike};
use rapport_domain::clock::Clock;
use rapport_domain::job::{Job, JobKind};
use rapport_store::repos::jobs;
use rapport_tests::smtp::{Mail, SmtpSink};
use rapport_tests::{TestApp, backend_tests};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::automation::{EXAMPLE_MONTHLY_REPORT, enable, rule, settled_runs};
use crate::automation_time::{move_to, quiet, ticked};

backend_tests!(smtp;
    a_customers_primary_contact_gets_the_email_once,
    a_contact_without_consent_gets_nothing,
    a_rule_emails_users_and_a_refused_one_bounces,
    a_won_deal_emails_the_sales_performance_report,
    the_monthly_example_reaches_every_sales_manager,
);

backend_tests!(report_actions_are_checked_when_saved);

/// Waits until there are `count` jobs of `kind`, all succeeded (10 s at most).
async fn jobs_done(app: &TestApp, token: &str, kind: &str, count: usize) -> Vec<Value> {
    let path = format!("/v1/jobs?kind={kind}&limit=200");
    for _ in 0..400 {
        let reply = app.get(&path, token).await;
        reply.assert_status(200);
        let jobs = reply.body["data"].as_array().unwrap().clone();
        if jobs.len() >= count && jobs.iter().all(|j| j["status"] == "succeeded") {
            assert_eq!(jobs.len(), count, "{jobs:#?}");
            return jobs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{kind}: not {count} succeeded jobs");
}

/// Enqueues a job of `kind` with `payload`, due now, without a key: its work run again.
async fn run_again(app: &TestApp, kind: &str, payload: Value) {
    let now = app.clock.now();
    let job = Job::new(JobKind::parse(kind).unwrap(), payload, None, now, now);
    let store = app.store().await;
    let tx = store.begin().await.unwrap();
    jobs::enqueue(&tx, &job).await.unwrap();
    rapport_store::commit(tx).await.unwrap();
    store.close().await.unwrap();
}

/// The only run of `rule`, settled.
async fn the_run(app: &TestApp, token: &str, rule: &str) -> Value {
    let runs = settled_runs(app, token, rule, 1).await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    runs[0].clone()
}

/// The run of `rule` once the emails of its action `index` are `count` and none is `sending`.
async fn emails_of(app: &TestApp, token: &str, rule: &str, index: usize, count: usize) -> Value {
    for _ in 0..400 {
        let run = the_run(app, token, rule).await;
        let emails = run["actions"][index]["emails"].as_array().unwrap().clone();
        if emails.len() == count && emails.iter().all(|e| e["status"] != "sending") {
            return run["actions"][index]["emails"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the emails of {rule} did not settle");
}

/// A customer made by `token` with one contact (`contact`), answering the customer's and the
/// contact's ids.
async fn customer_with_contact(
    app: &TestApp,
    token: &str,
    name: &str,
    contact: Value,
) -> (Uuid, Uuid) {
    let reply = app
        .post(
            "/v1/customers?allow_duplicate=true",
            token,
            json!({"name": name, "industry": "manufacturing", "contacts": [contact]}),
        )
        .await;
    reply.assert_status(201);
    let id = |v: &Value| v["id"].as_str().unwrap().parse::<Uuid>().unwrap();
    (id(&reply.body), id(&reply.body["contacts"][0]))
}

fn contact(first_name: &str, email: &str, consent: bool) -> Value {
    json!({
        "first_name": first_name,
        "emails": [{"address": email, "label": "work"}],
        "marketing_consent": {"granted": consent, "source": "web_form"},
    })
}

const WELCOME: &str = "Welcome, {{name}}";
const BODY: &str = "Dear friends at {{name}} ({{industry}}),\n\
                    thank you for choosing us. <b>Not bold</b> & plain.\n-- {{rule.name}}";

fn welcome_rule() -> Value {
    json!({
        "name": "Welcome mail",
        "trigger": {"type": "record_event", "event": "customer.created"},
        "actions": [{"type": "send_email", "to": {"type": "contact"},
                     "subject": WELCOME, "body": BODY}],
    })
}

fn assert_welcome(mail: &Mail, to: &str, name: &str) {
    assert_eq!(mail.to, [to]);
    assert_eq!(
        mail.header("subject").as_deref(),
        Some(format!("Welcome, {name}").as_str())
    );
    let text = mail.text().replace("\r\n", "\n");
    let body = format!(
        "Dear friends at {name} (manufacturing),\nthank you for choosing us. <b>Not bold</b> & plain.\n-- Welcome mail"
    );
    assert!(text.contains(&body), "{text}");
    // The HTML part holds the text escaped.
    assert!(
        text.contains("&lt;b&gt;Not bold&lt;/b&gt; &amp; plain.<br>"),
        "{text}"
    );
}

async fn a_customers_primary_contact_gets_the_email_once(app: TestApp, sink: SmtpSink) {
    let admin = app.admin_token().await;
    let rule = rule(&app, &admin, welcome_rule()).await;
    let (customer, lei) = customer_with_contact(
        &app,
        &admin,
        "Lotus Trading",
        contact("Lei", "lei@lotus.example", true),
    )
    .await;

    let email_jobs = jobs_done(&app, &admin, "automation.email", 1).await;
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_welcome(&mails[0], "lei@lotus.example", "Lotus Trading");
    let run = the_run(&app, &admin, &rule).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["record_id"], customer.to_string());
    let action = &run["actions"][0];
    assert_eq!(action["status"], "done", "{action}");
    assert_eq!(action["effect"]["entity_type"], "job");
    assert_eq!(action["effect"]["id"], email_jobs[0]["id"]);
    let emails = emails_of(&app, &admin, &rule, 0, 1).await;
    assert_eq!(emails[0]["recipient_type"], "contact");
    assert_eq!(emails[0]["recipient_id"], lei.to_string());
    assert_eq!(emails[0]["status"], "sent");
    // The job's payload holds ids only.
    let payload = email_jobs[0]["payload"].clone();
    assert!(!payload.to_string().contains("lotus"), "{payload}");

    // The worker died after sending, before saying so: the job runs again, and sends nothing.
    let store = app.store().await;
    rapport_tests::jobs::execute(
        &store,
        "UPDATE jobs SET status = 'queued', lease_expires_at = NULL, worker = NULL, finished_at = NULL WHERE kind = 'automation.email'",
        vec![],
    )
    .await
    .unwrap();
    store.close().await.unwrap();
    let ran_again = "SELECT COUNT(*) FROM jobs WHERE kind = 'automation.email' AND attempts = 2 AND status = 'succeeded'";
    for _ in 0..400 {
        if app.scalar::<i64>(ran_again).await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(app.scalar::<i64>(ran_again).await, 1, "the job ran again");
    // Its work queued again as another job: nothing sent either.
    run_again(&app, "automation.email", payload.clone()).await;
    jobs_done(&app, &admin, "automation.email", 2).await;
    assert_eq!(sink.mails().len(), 1, "sent once");
    assert_eq!(
        emails_of(&app, &admin, &rule, 0, 1).await[0]["status"],
        "sent"
    );
    // The email is audited once, with the rule as its actor, on the customer's trail.
    let sent = email_events(&app, &rule).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["action"], "email_sent");
    assert_eq!(sent[0]["actor_type"], "automation_rule");
    assert_eq!(sent[0]["actor_id"], rule.as_str());
    assert_eq!(sent[0]["customer_id"], customer.to_string());
    assert_eq!(sent[0]["changes"]["recipient_id"]["after"], lei.to_string());

    // Consent withdrawn while an email waits (to another contact of the customer, queued
    // below the API): it is not sent, and the outcome says why.
    let added = app
        .post(
            &format!("/v1/customers/{customer}/contacts"),
            &admin,
            contact("Wu", "wu@lotus.example", true),
        )
        .await;
    added.assert_status(201);
    let wu = added.body["id"].as_str().unwrap().to_owned();
    app.patch(
        &format!("/v1/contacts/{wu}"),
        &admin,
        json!({"marketing_consent": {"granted": false, "source": "phone"}}),
    )
    .await
    .assert_status(200);
    let mut late = payload;
    late["recipient"] = json!({"type": "contact", "id": wu});
    run_again(&app, "automation.email", late).await;
    jobs_done(&app, &admin, "automation.email", 3).await;
    let emails = emails_of(&app, &admin, &rule, 0, 2).await;
    let withdrawn = emails
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["recipient_id"] == wu.as_str())
        .unwrap();
    assert_eq!(withdrawn["status"], "not_sent", "{emails}");
    assert_eq!(withdrawn["reason"], "consent_withdrawn");
    assert_eq!(sink.mails().len(), 1);
}

async fn a_contact_without_consent_gets_nothing(app: TestApp, sink: SmtpSink) {
    let admin = app.admin_token().await;
    let rule = rule(&app, &admin, welcome_rule()).await;
    customer_with_contact(
        &app,
        &admin,
        "Quiet Co",
        contact("Zhao", "zhao@quiet.example", false),
    )
    .await;
    let run = the_run(&app, &admin, &rule).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let action = &run["actions"][0];
    assert_eq!(action["status"], "refused", "{action}");
    assert_eq!(action["code"], "consent_withdrawn");
    assert_eq!(action["effect"], Value::Null);
    assert_eq!(action["emails"], json!([]));
    // Refused with the run: no email was queued, so none can come.
    let queued: i64 = app
        .scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'automation.email'")
        .await;
    assert_eq!(queued, 0);
    assert!(sink.mails().is_empty());
}

async fn a_rule_emails_users_and_a_refused_one_bounces(app: TestApp, sink: SmtpSink) {
    let admin = app.admin_token().await;
    let manager = app.user("sales_manager", None).await;
    let rep = app.user("sales_rep", None).await;
    sink.refuse(&rep.email);
    let rule = rule(
        &app,
        &admin,
        json!({
            "name": "New customer alert",
            "trigger": {"type": "record_event", "event": "customer.created"},
            "actions": [
                {"type": "send_email", "to": {"type": "user", "user_id": manager.id},
                 "subject": "New customer: {{name}}", "body": "{{name}} was just added."},
                {"type": "send_email", "to": {"type": "owner"},
                 "subject": "Yours: {{name}}", "body": "Call {{name}}."},
            ],
        }),
    )
    .await;
    app.customer(
        &admin,
        json!({"name": "Harbour Logistics", "owner_id": rep.id}),
    )
    .await;

    let done = jobs_done(&app, &admin, "automation.email", 2).await;
    // The bounce is recorded, not retried: both jobs succeeded at their first run.
    assert!(done.iter().all(|j| j["attempts"] == 1), "{done:#?}");
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails[0].to, std::slice::from_ref(&manager.email));
    assert_eq!(
        mails[0].header("subject").as_deref(),
        Some("New customer: Harbour Logistics")
    );
    assert!(
        mails[0]
            .text()
            .contains("Harbour Logistics was just added.")
    );
    let sent = emails_of(&app, &admin, &rule, 0, 1).await;
    assert_eq!(sent[0]["recipient_type"], "user");
    assert_eq!(sent[0]["recipient_id"], manager.id.to_string());
    assert_eq!(sent[0]["status"], "sent");
    let bounced = emails_of(&app, &admin, &rule, 1, 1).await;
    assert_eq!(bounced[0]["recipient_id"], rep.id.to_string());
    assert_eq!(bounced[0]["status"], "bounced");
    assert_eq!(bounced[0]["reason"], "550");
    let mut audited: Vec<(String, String)> = email_events(&app, &rule)
        .await
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["changes"]["recipient_id"]["after"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    audited.sort();
    assert_eq!(
        audited,
        [
            ("email_bounced".to_owned(), rep.id.to_string()),
            ("email_sent".to_owned(), manager.id.to_string()),
        ]
    );
}

/// `GET /v1/reports/sales-performance?<query>` as CSV, as `token` sees it.
async fn sales_csv(app: &TestApp, token: &str, query: &str) -> Vec<u8> {
    let answer = app
        .client
        .get(app.url(&format!("/v1/reports/sales-performance?{query}")))
        .bearer_auth(token)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    answer.bytes().await.unwrap().to_vec()
}

/// The audit events of the emails `rule` sent or saw bounce.
async fn email_events(app: &TestApp, rule: &str) -> Vec<Value> {
    app.audit_events(rule)
        .await
        .into_iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("email_"))
        })
        .collect()
}

/// The default pipeline's stage of `kind`.
async fn stage(app: &TestApp, token: &str, kind: &str) -> String {
    let pipelines = app.get("/v1/pipelines", token).await;
    pipelines.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["is_default"] == true)
        .flat_map(|p| p["stages"].as_array().unwrap().iter())
        .find(|s| s["kind"] == kind)
        .and_then(|s| s["id"].as_str())
        .unwrap()
        .to_owned()
}

/// A deal of `owner` in `team` on a new customer, answering its id.
async fn deal(app: &TestApp, token: &str, owner: Uuid, team: Uuid, amount: &str) -> String {
    let customer = app
        .customer(
            token,
            json!({"name": format!("Buyer {}", Uuid::now_v7()), "owner_id": owner, "team_id": team}),
        )
        .await;
    let created = app
        .post(
            "/v1/opportunities",
            token,
            json!({"customer_id": customer, "title": "Toner", "owner_id": owner, "team_id": team,
                   "amount": {"amount": amount, "currency": "CNY"}}),
        )
        .await;
    created.assert_status(201);
    created.body["id"].as_str().unwrap().to_owned()
}

async fn a_won_deal_emails_the_sales_performance_report(app: TestApp, sink: SmtpSink) {
    let admin = app.admin_token().await;
    let north = app.team("North").await;
    let south = app.team("South").await;
    let manager = app.user("sales_manager", Some(north)).await;
    let ann = app.user("sales_rep", Some(north)).await;
    let bob = app.user("sales_rep", Some(south)).await;
    let parameters = json!({"group_by": "team", "from": "2020-01-01T00:00:00Z"});
    let rule = rule(
        &app,
        &admin,
        json!({
            "name": "Sales after each win",
            "trigger": {"type": "record_event", "event": "opportunity.won"},
            "actions": [{"type": "email_report", "report": "sales-performance",
                         "parameters": parameters, "to": [manager.id]}],
        }),
    )
    .await;
    let won = deal(&app, &admin, ann.id, north, "1234.50").await;
    deal(&app, &admin, ann.id, north, "99.99").await;
    deal(&app, &admin, bob.id, south, "10.00").await;
    let lost = deal(&app, &admin, bob.id, south, "20.00").await;
    let to_lost = json!({"stage_id": stage(&app, &admin, "lost").await, "lost_reason": "price"});
    app.post(&format!("/v1/opportunities/{lost}/stage"), &admin, to_lost)
        .await
        .assert_status(200);
    let to_won = json!({"stage_id": stage(&app, &admin, "won").await});
    app.post(&format!("/v1/opportunities/{won}/stage"), &admin, to_won)
        .await
        .assert_status(200);

    let run = the_run(&app, &admin, &rule).await;
    assert_eq!(run["trigger"], "opportunity.won");
    assert_eq!(run["actions"][0]["status"], "done", "{run}");
    jobs_done(&app, &admin, "automation.report", 1).await;
    let mails = sink.wait_for(1).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.to, std::slice::from_ref(&manager.email));
    assert_eq!(
        mail.header("subject").as_deref(),
        Some("Sales after each win: sales-performance")
    );
    let attached = mail
        .attachment("sales-performance.csv")
        .expect("the report attached");

    // The API's CSV of the same query, as an admin sees it: the same bytes.
    let csv = sales_csv(&app, &admin, "group_by=team&from=2020-01-01T00%3A00%3A00Z").await;
    assert_eq!(
        String::from_utf8_lossy(&attached),
        String::from_utf8_lossy(&csv)
    );
    assert_eq!(attached, csv);
    let text = String::from_utf8(attached).unwrap();
    assert!(text.contains("1234.50"), "{text}");
    assert!(text.contains(&north.to_string()), "{text}");
    let emails = emails_of(&app, &admin, &rule, 0, 1).await;
    assert_eq!(emails[0]["recipient_id"], manager.id.to_string());
    assert_eq!(emails[0]["status"], "sent");
}

/// The seeded example, enabled as it is: on the 1st of the month at 08:00 UTC the
/// sales-performance report goes to every enabled sales manager, found by role when it is
/// sent, and to no one else.
async fn the_monthly_example_reaches_every_sales_manager(app: TestApp, sink: SmtpSink) {
    let admin = app.admin_token().await;
    let north = app.user("sales_manager", None).await;
    let south = app.user("sales_manager", None).await;
    let gone = app.user("sales_manager", None).await;
    app.user("sales_rep", None).await;
    app.post(&format!("/v1/users/{}/disable", gone.id), &admin, json!({}))
        .await
        .assert_status(200);
    let path = format!("/v1/automation-rules/{EXAMPLE_MONTHLY_REPORT}");
    enable(&app, &admin, EXAMPLE_MONTHLY_REPORT)
        .await
        .assert_status(200);
    let next = app.get(&path, &admin).await.body["next_run_at"]
        .as_str()
        .unwrap()
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    assert_eq!((next.day(), next.hour(), next.minute()), (1, 8, 0));
    let at = next + chrono::Duration::minutes(1);
    move_to(&[&app], at);
    ticked(&app, at).await;
    quiet(&app).await;
    let admin = app.admin_token().await;
    let run = the_run(&app, &admin, EXAMPLE_MONTHLY_REPORT).await;
    assert_eq!(run["actions"][0]["status"], "done", "{run}");
    let mut mails = sink.wait_for(2).await;
    mails.sort_by(|a, b| a.to.cmp(&b.to));
    let mut managers = vec![north.email.clone(), south.email.clone()];
    managers.sort();
    let to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    assert_eq!(to, managers, "{mails:#?}");
    // The previous month's figures, as the API answers them for that range.
    let to = next.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let from = to - chrono::Months::new(1);
    let query = format!(
        "group_by=owner&from={}&to={}",
        from.format("%Y-%m-%dT%H:%M:%SZ"),
        to.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let csv = sales_csv(&app, &admin, &query).await;
    for mail in &mails {
        assert_eq!(mail.attachment("sales-performance.csv"), Some(csv.clone()));
    }
    let emails = emails_of(&app, &admin, EXAMPLE_MONTHLY_REPORT, 0, 2).await;
    assert!(
        emails
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "sent"),
        "{emails}"
    );
}

async fn report_actions_are_checked_when_saved(app: TestApp) {
    let admin = app.admin_token().await;
    let manager = app.user("sales_manager", None).await;
    let nobody = Uuid::now_v7();
    let report = |report: &str, parameters: Value, to: Uuid| json!({"type": "email_report", "report": report, "parameters": parameters, "to": [to]});
    let reply = app
        .post(
            "/v1/automation-rules",
            &admin,
            json!({
                "name": "Bad reports",
                "trigger": {"type": "record_event", "event": "opportunity.won"},
                "actions": [
                    report("churn", json!({}), manager.id),
                    report("sales-performance", json!({"period": "month", "group_by": "team"}), manager.id),
                    report("sales-performance", json!({"group_by": "stage"}), manager.id),
                    report("sales-performance", json!({"from": "yesterday"}), manager.id),
                    report("pipeline", json!({"pipeline_id": nobody}), nobody),
                    report("customer-distribution", json!({}), manager.id),
                    report("campaigns", json!({"type": "billboard"}), manager.id),
                    {"type": "email_report", "report": "pipeline", "period": "previous_week",
                     "to": [manager.id]},
                ],
            }),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    let codes: Vec<(String, String)> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("actions[0].report", "invalid_choice"),
        ("actions[1].parameters.period", "unknown_field"),
        ("actions[2].parameters.group_by", "invalid_choice"),
        ("actions[3].parameters.from", "invalid_type"),
        ("actions[4].to[0]", "unknown_reference"),
        ("actions[4].parameters.pipeline_id", "unknown_reference"),
        ("actions[5].parameters.by", "required"),
        ("actions[6].parameters.type", "invalid_choice"),
        ("actions[7].period", "not_allowed"),
    ];
    assert_eq!(
        codes,
        expected
            .iter()
            .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
            .collect::<Vec<_>>(),
        "{}",
        reply.body
    );

    // A period sets the range itself, and only roles that read reports get them.
    let reply = app
        .post(
            "/v1/automation-rules",
            &admin,
            json!({
                "name": "Bad recipients",
                "trigger": {"type": "schedule", "cron": "0 8 * * 1", "time_zone": "UTC"},
                "actions": [
                    {"type": "email_report", "report": "sales-performance", "period": "previous_week",
                     "parameters": {"to": "2026-01-01T00:00:00Z"}, "to_roles": ["sales_manager"]},
                    {"type": "email_report", "report": "sales-performance", "to_roles": ["sales_rep"]},
                    {"type": "email_report", "report": "sales-performance", "period": "yesterday",
                     "to": [manager.id]},
                ],
            }),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(
        reply.error_fields(),
        [
            "actions[0].parameters.to",
            "actions[1].to_roles[0]",
            "actions[2].period"
        ]
    );

    // Mended, the rule is kept as sent.
    let good = report(
        "sales-performance",
        json!({"group_by": "team", "from": "2026-01-01T00:00:00Z"}),
        manager.id,
    );
    let id = rule(
        &app,
        &admin,
        json!({
            "trigger": {"type": "record_event", "event": "opportunity.won"},
            "actions": [good.clone(), {"type": "send_email", "to": {"type": "owner"},
                                       "subject": "Won: {{title}}", "body": "Well done."}],
        }),
    )
    .await;
    let saved = app.get(&format!("/v1/automation-rules/{id}"), &admin).await;
    saved.assert_status(200);
    let mut kept = good.clone();
    kept["to_roles"] = json!([]);
    kept["period"] = Value::Null;
    assert_eq!(saved.body["actions"][0], kept);

    // Without SMTP the emailing actions are refused when they run, and nothing is queued.
    let rep = app.user("sales_rep", None).await;
    let deal = deal_of(&app, &admin, rep.id).await;
    let to_won = json!({"stage_id": stage(&app, &admin, "won").await});
    app.post(&format!("/v1/opportunities/{deal}/stage"), &admin, to_won)
        .await
        .assert_status(200);
    let run = the_run(&app, &admin, &id).await;
    for action in run["actions"].as_array().unwrap() {
        assert_eq!(action["status"], "refused", "{run}");
        assert_eq!(action["code"], "email_not_configured");
    }
    let queued: i64 = app
        .scalar("SELECT COUNT(*) FROM jobs WHERE kind IN ('automation.email', 'automation.report')")
        .await;
    assert_eq!(queued, 0);
}

/// A deal of `owner` on a new customer of theirs, answering its id.
async fn deal_of(app: &TestApp, token: &str, owner: Uuid) -> String {
    let customer = app
        .customer(token, json!({"name": "Won Co", "owner_id": owner}))
        .await;
    let created = app
        .post(
            "/v1/opportunities",
            token,
            json!({"customer_id": customer, "title": "Paper", "owner_id": owner,
                   "amount": {"amount": "10.00", "currency": "CNY"}}),
        )
        .await;
    created.assert_status(201);
    created.body["id"].as_str().unwrap().to_owned()
}
