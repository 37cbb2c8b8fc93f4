//! The record events automation rules fire on, beyond those of `automation.rs`: each fires its
//! rule once, with the event and the record on the run, and fires no rule on another event.
//! Sales (a stage move, a loss, an accepted quote, a confirmed order), tickets (a status change,
//! an SLA breach), a survey answered, a campaign member responding or clicking a tracked link;
//! and a rule whose action fails for real (a 5xx) retries it, then records it as failed while
//! its other actions still ran.

use chrono::{DateTime, Duration, Utc};
use rapport_domain::clock::Clock;
use rapport_tests::smtp::SmtpSink;
use rapport_tests::{TestApp, TestUser, backend_tests};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::automation::{automation_idle, rule, settled_runs};
use crate::campaign_email::{no_redirects, token_in};

backend_tests!(
    sales_events_fire_their_rules_once,
    ticket_events_fire_their_rules_once,
    survey_and_member_events_fire_their_rules_once,
    a_failing_action_is_retried_then_failed_while_the_others_run,
);

backend_tests!(smtp; a_tracked_click_fires_clicked_and_responded_once);

/// Creates an enabled rule on `event` that notifies `user` with the rule's name; answers its
/// id.
async fn watch(app: &TestApp, admin: &str, name: &str, event: &str, user: &TestUser) -> String {
    let body = json!({
        "name": name,
        "trigger": {"type": "record_event", "event": event},
        "actions": [{"type": "notify", "recipient": {"type": "user", "user_id": user.id},
                     "title": "{{rule.name}}"}],
    });
    rule(app, admin, body).await
}

/// The runs of `rule`, newest first (call once [`automation_idle`]).
async fn runs_of(app: &TestApp, token: &str, rule: &str) -> Vec<Value> {
    let reply = app
        .get(
            &format!("/v1/automation-rules/{rule}/runs?limit=200"),
            token,
        )
        .await;
    reply.assert_status(200);
    reply.body["data"].as_array().unwrap().clone()
}

/// Checks that `run` was fired by `trigger` on the `record_type` record `record`, and that its
/// one action (the notification) was done.
#[track_caller]
fn assert_fired(run: &Value, trigger: &str, record_type: &str, record: &str) {
    assert_eq!(run["trigger"], trigger, "{run}");
    assert_eq!(run["record_type"], record_type, "{run}");
    assert_eq!(run["record_id"], record, "{run}");
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["chain_depth"], 0, "{run}");
    assert_eq!(run["actions"][0]["status"], "done", "{run}");
    assert_eq!(
        run["actions"][0]["effect"]["entity_type"], "notification",
        "{run}"
    );
}

/// The one run of `rule`, checked as [`assert_fired`] does.
async fn fired_once(
    app: &TestApp,
    token: &str,
    rule: &str,
    trigger: &str,
    record_type: &str,
    record: &str,
) {
    let runs = settled_runs(app, token, rule, 1).await;
    assert_eq!(runs.len(), 1, "{trigger} fires its rule once: {runs:#?}");
    assert_fired(&runs[0], trigger, record_type, record);
}

/// The titles of `user`'s notifications from rules, sorted.
async fn automated_titles(app: &TestApp, user: &TestUser) -> Vec<String> {
    let token = app.token_of(user).await;
    let reply = app.get("/v1/me/notifications?limit=200", &token).await;
    reply.assert_status(200);
    let mut titles: Vec<String> = reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "automation")
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    titles
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// `POST path` as `token`, expecting `status`; answers the body.
async fn posted(app: &TestApp, token: &str, path: &str, body: Value, status: u16) -> Value {
    let reply = app.post(path, token, body).await;
    reply.assert_status(status);
    reply.body
}

/// `PATCH path` as `token`, expecting 200; answers the body.
async fn patched(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let reply = app.patch(path, token, body).await;
    reply.assert_status(200);
    reply.body
}

/// A customer named `name` with one contact holding marketing consent (and `email`, if any);
/// answers the customer's id and the contact's.
async fn customer_with_contact(
    app: &TestApp,
    token: &str,
    name: &str,
    email: Option<&str>,
) -> (String, String) {
    let mut contact = json!({"first_name": "Lei", "last_name": "Li",
                             "marketing_consent": {"granted": true, "source": "web_form"}});
    if let Some(address) = email {
        contact["emails"] = json!([{"address": address, "label": "work"}]);
    }
    let body = json!({"name": name, "contacts": [contact]});
    let created = posted(app, token, "/v1/customers?allow_duplicate=true", body, 201).await;
    (id_of(&created), id_of(&created["contacts"][0]))
}

/// Adds `contact` to campaign `campaign`; answers the member's id.
async fn member(app: &TestApp, token: &str, campaign: &str, contact: &str) -> String {
    let path = format!("/v1/campaigns/{campaign}/members");
    let added = posted(app, token, &path, json!({"contact_id": contact}), 201).await;
    id_of(&added["added"][0])
}

/// Creates an opportunity about `customer` (in the default pipeline's first stage); answers
/// its id.
async fn opportunity(app: &TestApp, token: &str, customer: Uuid, title: &str) -> String {
    let body = json!({"customer_id": customer, "title": title});
    id_of(&posted(app, token, "/v1/opportunities", body, 201).await)
}

async fn sales_events_fire_their_rules_once(app: TestApp) {
    let admin = app.admin_token().await;
    let watcher = app.user("sales_manager", None).await;
    let moved = watch(
        &app,
        &admin,
        "Stage changed",
        "opportunity.stage_changed",
        &watcher,
    )
    .await;
    let lost = watch(&app, &admin, "Lost", "opportunity.lost", &watcher).await;
    let accepted = watch(&app, &admin, "Quote accepted", "quote.accepted", &watcher).await;
    let confirmed = watch(&app, &admin, "Order confirmed", "order.confirmed", &watcher).await;
    // Nothing below wins a deal.
    let won = watch(&app, &admin, "Won", "opportunity.won", &watcher).await;

    let customer = app.customer(&admin, json!({"name": "Northwind"})).await;
    let pipelines = app.get("/v1/pipelines", &admin).await;
    pipelines.assert_status(200);
    let sales = pipelines.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["is_default"] == true)
        .unwrap()
        .clone();
    let stage = |name: &str| {
        sales["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .map(id_of)
            .unwrap_or_else(|| panic!("no stage {name}"))
    };

    // A move to another open stage.
    let advancing = opportunity(&app, &admin, customer, "Printers").await;
    let path = format!("/v1/opportunities/{advancing}/stage");
    let body = json!({"stage_id": stage("Needs analysis")});
    let reply = posted(&app, &admin, &path, body, 200).await;
    assert_eq!(reply["status"], "open");
    // A loss.
    let losing = opportunity(&app, &admin, customer, "Toner").await;
    let path = format!("/v1/opportunities/{losing}/stage");
    let body = json!({"stage_id": stage("Lost"), "lost_reason": "competitor"});
    let reply = posted(&app, &admin, &path, body, 200).await;
    assert_eq!(reply["status"], "lost");
    // A quote sent, then accepted (which sets its opportunity's amount: no stage change).
    let quoted = opportunity(&app, &admin, customer, "Paper").await;
    let body = json!({"opportunity_id": quoted, "currency": "CNY", "lines": [
        {"description": "Service", "quantity": "2", "unit_price": "50.00"},
    ]});
    let quote = id_of(&posted(&app, &admin, "/v1/quotes", body, 201).await);
    let path = format!("/v1/quotes/{quote}");
    patched(&app, &admin, &path, json!({"status": "sent"})).await;
    let reply = patched(&app, &admin, &path, json!({"status": "accepted"})).await;
    assert_eq!(reply["status"], "accepted");
    // A direct order is confirmed as it is made.
    let body = json!({"customer_id": customer, "currency": "CNY", "lines": [
        {"description": "Service", "quantity": "1", "unit_price": "10.00"},
    ]});
    let order = posted(&app, &admin, "/v1/orders", body, 201).await;
    assert_eq!(order["status"], "confirmed");
    let order = id_of(&order);

    automation_idle(&app).await;
    let opp = "opportunity";
    fired_once(&app, &admin, &lost, "opportunity.lost", opp, &losing).await;
    fired_once(&app, &admin, &accepted, "quote.accepted", "quote", &quote).await;
    fired_once(&app, &admin, &confirmed, "order.confirmed", "order", &order).await;
    // The move to another open stage fired it once; the loss moved its deal to the lost stage,
    // a stage change too (as a win is): once each.
    let runs = settled_runs(&app, &admin, &moved, 2).await;
    assert_eq!(runs.len(), 2, "{runs:#?}");
    for record in [&advancing, &losing] {
        let on: Vec<&Value> = runs.iter().filter(|r| r["record_id"] == *record).collect();
        assert_eq!(on.len(), 1, "{record}: {runs:#?}");
        assert_fired(on[0], "opportunity.stage_changed", opp, record);
    }
    assert_eq!(runs_of(&app, &admin, &won).await, Vec::<Value>::new());
    assert_eq!(
        automated_titles(&app, &watcher).await,
        [
            "Lost",
            "Order confirmed",
            "Quote accepted",
            "Stage changed",
            "Stage changed"
        ]
    );
}

async fn ticket_events_fire_their_rules_once(app: TestApp) {
    let admin = app.admin_token().await;
    let watcher = app.user("service_manager", None).await;
    let customer = app.customer(&admin, json!({"name": "Angry Ltd"})).await;
    let body = json!({"customer_id": customer, "subject": "The printer jams", "channel": "phone",
                      "category": "complaint", "priority": "normal"});
    let ticket = posted(&app, &admin, "/v1/tickets", body, 201).await;
    let id = id_of(&ticket);
    let due: DateTime<Utc> = ticket["resolution_due_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Made after the ticket: a rule on its creation that none of its later events fire.
    let created = watch(&app, &admin, "Ticket opened", "ticket.created", &watcher).await;
    let updated = watch(&app, &admin, "Ticket changed", "ticket.updated", &watcher).await;
    let breached = watch(
        &app,
        &admin,
        "SLA breached",
        "ticket.sla_breached",
        &watcher,
    )
    .await;

    let path = format!("/v1/tickets/{id}");
    let reply = patched(&app, &admin, &path, json!({"status": "open"})).await;
    assert_eq!(reply["status"], "open");
    automation_idle(&app).await;
    fired_once(&app, &admin, &updated, "ticket.updated", "ticket", &id).await;
    assert_eq!(
        runs_of(&app, &admin, &breached).await,
        Vec::<Value>::new(),
        "a status change is no breach"
    );

    // Past the resolution due time (and the first response's): the SLA check breaches it.
    app.clock
        .advance(due - app.clock.now() + Duration::minutes(1));
    let admin = app.admin_token().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let t = app.get(&path, &admin).await.body;
        if t["resolution_breached_at"].is_string() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not breached: {t:#}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    automation_idle(&app).await;
    fired_once(
        &app,
        &admin,
        &breached,
        "ticket.sla_breached",
        "ticket",
        &id,
    )
    .await;
    // The breach raised the priority, but it is a breach, not an update.
    fired_once(&app, &admin, &updated, "ticket.updated", "ticket", &id).await;
    assert_eq!(runs_of(&app, &admin, &created).await, Vec::<Value>::new());
    assert_eq!(
        automated_titles(&app, &watcher).await,
        ["SLA breached", "Ticket changed"]
    );
}

async fn survey_and_member_events_fire_their_rules_once(app: TestApp) {
    let admin = app.admin_token().await;
    let watcher = app.user("marketing", None).await;
    let answered = watch(&app, &admin, "Survey answered", "survey.answered", &watcher).await;
    let responded = watch(
        &app,
        &admin,
        "Member responded",
        "campaign_member.responded",
        &watcher,
    )
    .await;
    // Nobody clicks a link here.
    let clicked = watch(
        &app,
        &admin,
        "Member clicked",
        "campaign_member.clicked",
        &watcher,
    )
    .await;

    let (_, contact) = customer_with_contact(&app, &admin, "Li & Sons", None).await;
    let body = json!({"title": "How did we do?", "questions": [
        {"id": "speed", "kind": "csat", "text": "How fast did we help?"},
    ]});
    let survey = id_of(&posted(&app, &admin, "/v1/surveys", body, 201).await);
    let path = format!("/v1/surveys/{survey}/invitations");
    let invitation = posted(&app, &admin, &path, json!({"contact_id": contact}), 201).await;
    let public = format!(
        "/v1/public/surveys/{}",
        invitation["token"].as_str().unwrap()
    );
    // Opening the page changes the invitation too, without answering it.
    app.call(reqwest::Method::GET, &public, None, None)
        .await
        .assert_status(200);
    let body = json!({"answers": [{"question_id": "speed", "value": 5}]});
    app.call(reqwest::Method::POST, &public, None, Some(body))
        .await
        .assert_status(204);

    let body = json!({"name": "Spring fair", "type": "event"});
    let campaign = id_of(&posted(&app, &admin, "/v1/campaigns", body, 201).await);
    let member = member(&app, &admin, &campaign, &contact).await;
    let path = format!("/v1/campaigns/{campaign}/members/{member}");
    let reply = patched(&app, &admin, &path, json!({"status": "responded"})).await;
    assert_eq!(reply["status"], "responded");

    automation_idle(&app).await;
    let invitation = id_of(&invitation);
    let (survey_answered, invitation_type) = ("survey.answered", "survey_invitation");
    fired_once(
        &app,
        &admin,
        &answered,
        survey_answered,
        invitation_type,
        &invitation,
    )
    .await;
    let member_responded = "campaign_member.responded";
    fired_once(
        &app,
        &admin,
        &responded,
        member_responded,
        "campaign_member",
        &member,
    )
    .await;
    assert_eq!(runs_of(&app, &admin, &clicked).await, Vec::<Value>::new());
    assert_eq!(
        automated_titles(&app, &watcher).await,
        ["Member responded", "Survey answered"]
    );
}

async fn a_tracked_click_fires_clicked_and_responded_once(app: TestApp, sink: SmtpSink) {
    let admin = app.admin_token().await;
    let watcher = app.user("marketing", None).await;
    let clicked = watch(
        &app,
        &admin,
        "Member clicked",
        "campaign_member.clicked",
        &watcher,
    )
    .await;
    let responded = watch(
        &app,
        &admin,
        "Member responded",
        "campaign_member.responded",
        &watcher,
    )
    .await;
    let (_, li) = customer_with_contact(&app, &admin, "Li & Sons", Some("li@li.example")).await;
    let (_, wang) =
        customer_with_contact(&app, &admin, "Wang Trading", Some("wang@wang.example")).await;
    let body = json!({"name": "Spring mailing", "type": "email", "email_subject": "Spring news",
                      "email_body": "Our offers: https://shop.example/spring\n\
                                     Leave the list: {{unsubscribe_url}}"});
    let campaign = id_of(&posted(&app, &admin, "/v1/campaigns", body, 201).await);
    let li_member = member(&app, &admin, &campaign, &li).await;
    member(&app, &admin, &campaign, &wang).await;
    let path = format!("/v1/campaigns/{campaign}/send");
    posted(&app, &admin, &path, json!({}), 202).await;
    let mails = sink.wait_for(2).await;
    let token_to = |address: &str| {
        let mail = mails
            .iter()
            .find(|m| m.to == [address])
            .unwrap_or_else(|| panic!("no mail to {address}: {mails:#?}"));
        token_in(mail)
    };
    let (li_token, wang_token) = (token_to("li@li.example"), token_to("wang@wang.example"));

    // Li clicks the tracked link twice; Wang only opens the email.
    let client = no_redirects();
    for _ in 0..2 {
        let link = app.url(&format!("/v1/public/email/{li_token}/click/0"));
        let reply = client.get(link).send().await.unwrap();
        assert_eq!(reply.status(), 302);
    }
    let pixel = app.url(&format!("/v1/public/email/{wang_token}/open.gif"));
    assert_eq!(client.get(pixel).send().await.unwrap().status(), 200);

    automation_idle(&app).await;
    // A click is a response too (Li was invited): each rule fires once, on Li's membership.
    let member_responded = "campaign_member.responded";
    fired_once(
        &app,
        &admin,
        &responded,
        member_responded,
        "campaign_member",
        &li_member,
    )
    .await;
    // A click is recorded against the campaign message; its run names the member.
    let runs = settled_runs(&app, &admin, &clicked, 1).await;
    assert_eq!(runs.len(), 1, "one firing for two clicks: {runs:#?}");
    assert_fired(
        &runs[0],
        "campaign_member.clicked",
        "campaign_member",
        &li_member,
    );
    assert_eq!(
        automated_titles(&app, &watcher).await,
        ["Member clicked", "Member responded"]
    );
}

async fn a_failing_action_is_retried_then_failed_while_the_others_run(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let id = rule(
        &app,
        &admin,
        json!({
            "name": "Welcome",
            "trigger": {"type": "record_event", "event": "customer.created"},
            "actions": [
                {"type": "create_task", "title": "Call {{name}}",
                 "assignee": {"type": "user", "user_id": rep.id}},
                {"type": "add_tag", "tag": "welcomed"},
            ],
        }),
    )
    .await;
    // The tasks table gone: making the task fails in the database (a 500), every time.
    let store = app.store().await;
    rapport_tests::jobs::execute(&store, "ALTER TABLE tasks RENAME TO tasks_away", vec![])
        .await
        .unwrap();
    // A prospect: a new lead would get a follow-up task of its own, refused the same way.
    let body = json!({"name": "Fragile Ltd", "lifecycle_stage": "prospect"});
    let customer = app.customer(&admin, body).await;

    // Each failed attempt queues the job again after a backoff: move the clock past it.
    let mut seen = 0;
    let mut status = String::new();
    for _ in 0..800 {
        // Both read at once: `queued:2` is the second attempt failed and waiting.
        let job: String = app
            .scalar(
                "SELECT status || ':' || CAST(attempts AS TEXT) FROM jobs \
                 WHERE kind = 'automation.run'",
            )
            .await;
        let (now, attempts) = job.split_once(':').unwrap();
        let attempts: u32 = attempts.parse().unwrap();
        status = now.to_owned();
        if status != "queued" && status != "running" {
            break;
        }
        if status == "queued" && attempts > seen {
            seen = attempts;
            app.clock.advance(Duration::minutes(1));
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    rapport_tests::jobs::execute(&store, "ALTER TABLE tasks_away RENAME TO tasks", vec![])
        .await
        .unwrap();
    assert_eq!(
        status, "succeeded",
        "its job ends once the action has failed"
    );
    let ran: i64 = app
        .scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'automation.run' AND attempts = 3")
        .await;
    assert_eq!(ran, 1, "the job ran three times");

    let admin = app.admin_token().await;
    let runs = settled_runs(&app, &admin, &id, 1).await;
    assert_eq!(runs.len(), 1, "{runs:#?}");
    let run = &runs[0];
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["trigger"], "customer.created");
    assert_eq!(run["record_id"], customer.to_string());
    let task = &run["actions"][0];
    assert_eq!(
        (&task["type"], &task["status"], &task["attempts"]),
        (&json!("create_task"), &json!("failed"), &json!(3)),
        "{run}"
    );
    assert_eq!(task["code"], "internal_error", "{run}");
    assert!(task["effect"].is_null(), "{run}");
    // The tag was added at the first attempt, and not again.
    let tag = &run["actions"][1];
    assert_eq!(
        (&tag["type"], &tag["status"], &tag["attempts"]),
        (&json!("add_tag"), &json!("done"), &json!(1)),
        "{run}"
    );
    let after = app.get(&format!("/v1/customers/{customer}"), &admin).await;
    after.assert_status(200);
    assert_eq!(after.body["tags"], json!(["welcomed"]));
    let tasks = app
        .get(&format!("/v1/tasks?customer_id={customer}"), &admin)
        .await;
    tasks.assert_status(200);
    assert_eq!(tasks.body["data"], json!([]), "no task was made");
}
