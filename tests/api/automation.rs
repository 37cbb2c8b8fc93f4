//! Automation rules over HTTP: rules are checked part by part, fire once per event even when
//! their job runs again, act through the API's own rules (a refused lifecycle move changes
//! nothing and is recorded), stop a loop at its bound and report it, audit every effect with
//! the rule as the actor, and try a record without changing anything (the dry run).

use rapport_tests::{Reply, TestApp, TestUser, backend_tests};
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    rules_are_checked_part_by_part,
    rules_need_settings_write_and_if_match,
    a_rule_fires_once_per_event_though_its_job_runs_again,
    a_refused_lifecycle_move_is_recorded_and_changes_nothing,
    a_loop_stops_at_its_bound_and_is_reported,
    a_complaint_notifies_the_assignees_manager,
    tags_owners_and_webhook_events_come_from_rules,
    the_dry_run_changes_nothing,
    conditions_decide_which_records_a_rule_acts_on,
    the_examples_are_seeded_disabled_and_work_once_enabled,
);

/// The seeded example rules (migration 37).
pub const EXAMPLE_CALLBACK: &str = "0193e5a0-0000-7000-8000-0000000a0001";
pub const EXAMPLE_COMPLAINT: &str = "0193e5a0-0000-7000-8000-0000000a0002";
pub const EXAMPLE_MONTHLY_REPORT: &str = "0193e5a0-0000-7000-8000-0000000a0003";

/// Creates an enabled rule; answers its id.
pub async fn rule(app: &TestApp, token: &str, body: Value) -> String {
    let mut body = body;
    body["enabled"] = json!(true);
    if body.get("name").is_none() {
        body["name"] = json!("A rule");
    }
    let reply = app.post("/v1/automation-rules", token, body).await;
    reply.assert_status(201);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// Enables rule `id`, saved once (version 1), through `PATCH` with `If-Match`.
pub async fn enable(app: &TestApp, admin: &str, id: &str) -> Reply {
    app.call_if_match(
        reqwest::Method::PATCH,
        &format!("/v1/automation-rules/{id}"),
        admin,
        "\"1\"",
        Some(json!({"enabled": true})),
    )
    .await
}

/// The runs of `rule` once none is running (its jobs are done), newest first.
pub async fn settled_runs(app: &TestApp, token: &str, rule: &str, count: usize) -> Vec<Value> {
    for _ in 0..400 {
        let reply = app
            .get(
                &format!("/v1/automation-rules/{rule}/runs?limit=200"),
                token,
            )
            .await;
        reply.assert_status(200);
        let runs = reply.body["data"].as_array().unwrap().clone();
        if runs.len() >= count && runs.iter().all(|r| r["status"] != "running") {
            return runs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the runs of {rule} did not settle");
}

/// Waits until no `automation.run` job is queued or running: every rule the test's writes
/// fired has its run (a write queues its firings in its own transaction).
pub async fn automation_idle(app: &TestApp) {
    for _ in 0..400 {
        let pending: i64 = app
            .scalar(
                "SELECT COUNT(*) FROM jobs WHERE kind = 'automation.run' AND status <> 'succeeded'",
            )
            .await;
        if pending == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("automation.run jobs are still pending");
}

/// A service team with its manager and an agent: (manager, agent).
async fn service_team(app: &TestApp, admin: &str) -> (TestUser, TestUser) {
    let team = app.team("Support").await;
    let manager = app.user("service_manager", Some(team)).await;
    let agent = app.user("service_agent", Some(team)).await;
    app.call_if_match(
        reqwest::Method::PATCH,
        &format!("/v1/teams/{team}"),
        admin,
        "\"1\"",
        Some(json!({"manager_id": manager.id})),
    )
    .await
    .assert_status(200);
    (manager, agent)
}

async fn customer(app: &TestApp, token: &str, body: Value) -> Uuid {
    app.customer(token, body).await
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let reply = app.get(path, token).await;
    reply.assert_status(200);
    reply.body
}

async fn tasks_of(app: &TestApp, customer: Uuid) -> Vec<Value> {
    let admin = app.admin_token().await;
    let body = get(
        app,
        &admin,
        &format!("/v1/tasks?customer_id={customer}&limit=200"),
    )
    .await;
    body["data"].as_array().unwrap().clone()
}

async fn rules_are_checked_part_by_part(app: TestApp) {
    let admin = app.admin_token().await;
    let nobody = Uuid::now_v7();
    let reply = app
        .post(
            "/v1/automation-rules",
            &admin,
            json!({
                "name": "",
                "trigger": {"type": "record_event", "event": "customer.exploded"},
                "actions": [],
            }),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["name", "trigger.event", "actions"]);

    let reply = app
        .post(
            "/v1/automation-rules",
            &admin,
            json!({
                "name": "Bad value",
                "trigger": {"type": "record_event", "event": "customer.updated", "field": "grade", "to": "z"},
                "actions": [{"type": "add_tag", "tag": "x"}],
            }),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["trigger.to"]);

    let reply = app
        .post(
            "/v1/automation-rules",
            &admin,
            json!({
                "name": "Bad parts",
                "trigger": {"type": "record_event", "event": "customer.updated", "field": "grade", "to": "vip"},
                "conditions": {"all": [
                    {"field": "grade", "op": "gt", "value": "vip"},
                    {"field": "colour", "op": "eq", "value": "red"},
                ]},
                "actions": [
                    {"type": "create_task", "title": "Call {{colour}}", "assignee": {"type": "user", "user_id": nobody}},
                    {"type": "update_record", "changes": {"lifecycle_stage": "king", "colour": 1}},
                    {"type": "add_tag", "tag": ""},
                ],
            }),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "actions[0].title",
            "actions[2].tag",
            "conditions.all[0].op",
            "conditions.all[1].field",
        ],
        "{:?}",
        reply.body
    );
    // With those mended, the database's checks: an unknown user, changes the PATCH refuses.
    let reply = app
        .post(
            "/v1/automation-rules",
            &admin,
            json!({
                "name": "Bad references",
                "trigger": {"type": "record_event", "event": "customer.created"},
                "actions": [
                    {"type": "create_task", "title": "Call {{name}}", "assignee": {"type": "user", "user_id": nobody}},
                    {"type": "update_record", "changes": {"colour": 1}},
                ],
            }),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(
        reply.error_fields(),
        ["actions[0].assignee.user_id", "actions[1].changes.colour"]
    );
    // A schedule fires on no record: no conditions, no record actions.
    let reply = app
        .post(
            "/v1/automation-rules",
            &admin,
            json!({
                "name": "Monthly",
                "trigger": {"type": "schedule", "cron": "0 9 1 * *", "time_zone": "Asia/Shanghai"},
                "conditions": {"field": "grade", "op": "eq", "value": "vip"},
                "actions": [{"type": "add_tag", "tag": "x"}],
            }),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["conditions", "actions[0].type"]);
}

async fn rules_need_settings_write_and_if_match(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app.team("North").await;
    let manager = app.user("sales_manager", Some(team)).await;
    let body = json!({
        "name": "Welcome",
        "trigger": {"type": "record_event", "event": "customer.created"},
        "actions": [{"type": "add_tag", "tag": "new"}],
    });
    app.post("/v1/automation-rules", &manager.token, body.clone())
        .await
        .assert_problem(403, "forbidden");
    app.get("/v1/automation-rules", &manager.token)
        .await
        .assert_problem(403, "forbidden");
    let reply = app.post("/v1/automation-rules", &admin, body).await;
    reply.assert_status(201);
    assert_eq!(
        reply.body["enabled"], false,
        "a new rule is off until enabled"
    );
    assert_eq!(reply.body["record_type"], "customer");
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/automation-rules/{id}");
    app.get(&format!("/v1/automation-rules/{}", Uuid::now_v7()), &admin)
        .await
        .assert_problem(404, "not_found");
    app.get(
        &format!("/v1/automation-rules/{}/runs", Uuid::now_v7()),
        &admin,
    )
    .await
    .assert_problem(404, "not_found");
    let stale = app
        .call_if_match(
            reqwest::Method::PATCH,
            &path,
            &admin,
            "\"0\"",
            Some(json!({"enabled": true})),
        )
        .await;
    stale.assert_problem(412, "precondition_failed");
    let on = enable(&app, &admin, &id).await;
    on.assert_status(200);
    assert_eq!(on.body["enabled"], true);
    assert_eq!(on.body["version"], 2);
    let listed = get(&app, &admin, "/v1/automation-rules?enabled=true").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    // Its changes are audited as a settings change.
    assert_eq!(app.audit_count(&id).await, 2);
    app.delete(&path, &admin).await.assert_status(204);
    app.get(&path, &admin)
        .await
        .assert_problem(404, "not_found");
}

async fn a_rule_fires_once_per_event_though_its_job_runs_again(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let id = rule(
        &app,
        &admin,
        json!({
            "name": "Call new leads",
            "trigger": {"type": "record_event", "event": "customer.created"},
            "actions": [{"type": "create_task", "title": "Call {{name}} ({{rule.name}})",
                         "assignee": {"type": "owner"}, "due_in_hours": 4}],
        }),
    )
    .await;
    let c = customer(&app, &rep.token, json!({"name": "深圳张氏科技有限公司"})).await;
    let runs = settled_runs(&app, &admin, &id, 1).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["trigger"], "customer.created");
    assert_eq!(run["record_id"], c.to_string());
    assert_eq!(run["chain_depth"], 0);
    assert_eq!(run["actions"][0]["status"], "done");
    let tasks = tasks_of(&app, c).await;
    let automated: Vec<&Value> = tasks
        .iter()
        .filter(|t| t["origin"] == "automation")
        .collect();
    assert_eq!(automated.len(), 1, "{tasks:?}");
    assert_eq!(
        automated[0]["title"],
        "Call 深圳张氏科技有限公司 (Call new leads)"
    );
    assert_eq!(automated[0]["assignee_id"], rep.id.to_string());
    assert_eq!(run["actions"][0]["effect"]["id"], automated[0]["id"]);
    // The task's audit event names the rule as its actor.
    let events = app.audit_events(automated[0]["id"].as_str().unwrap()).await;
    assert_eq!(events[0]["actor_type"], "automation_rule");
    assert_eq!(events[0]["actor_id"], id.as_str());

    // The worker died after the work, before saying so: the job runs again.
    let store = app.store().await;
    rapport_tests::jobs::execute(
        &store,
        "UPDATE jobs SET status = 'queued', lease_expires_at = NULL, worker = NULL, finished_at = NULL WHERE kind = 'automation.run'",
        vec![],
    )
    .await
    .unwrap();
    automation_idle(&app).await;
    let again: i64 = app
        .scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'automation.run' AND attempts = 2")
        .await;
    assert_eq!(again, 1, "the job ran again");
    let again = tasks_of(&app, c).await;
    assert_eq!(
        again.iter().filter(|t| t["origin"] == "automation").count(),
        1,
        "no second task"
    );
    assert_eq!(settled_runs(&app, &admin, &id, 1).await.len(), 1);
}

async fn a_refused_lifecycle_move_is_recorded_and_changes_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    let id = rule(
        &app,
        &admin,
        json!({
            "trigger": {"type": "record_event", "event": "customer.created"},
            "actions": [
                {"type": "update_record", "changes": {"lifecycle_stage": "loyal"}},
                {"type": "add_tag", "tag": "seen"},
            ],
        }),
    )
    .await;
    let c = customer(&app, &admin, json!({"name": "Northwind Traders"})).await;
    let runs = settled_runs(&app, &admin, &id, 1).await;
    let run = &runs[0];
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["actions"][0]["status"], "refused");
    assert_eq!(run["actions"][0]["code"], "invalid_transition");
    assert!(run["actions"][0]["effect"].is_null());
    // The other action still ran.
    assert_eq!(run["actions"][1]["status"], "done");
    let after = get(&app, &admin, &format!("/v1/customers/{c}")).await;
    assert_eq!(after["lifecycle_stage"], "lead");
    assert_eq!(after["tags"], json!(["seen"]));
}

async fn a_loop_stops_at_its_bound_and_is_reported(app: TestApp) {
    let admin = app.admin_token().await;
    // A sets the size when the industry changes; B sets the industry when the size changes.
    let a = rule(
        &app,
        &admin,
        json!({
            "name": "A",
            "trigger": {"type": "record_event", "event": "customer.updated", "field": "industry"},
            "actions": [{"type": "update_record", "changes": {"size": "medium"}}],
        }),
    )
    .await;
    let b = rule(
        &app,
        &admin,
        json!({
            "name": "B",
            "trigger": {"type": "record_event", "event": "customer.updated", "field": "size"},
            "actions": [{"type": "update_record", "changes": {"industry": "wholesale_retail"}}],
        }),
    )
    .await;
    let c = customer(&app, &admin, json!({"name": "Looping Ltd"})).await;
    app.patch(
        &format!("/v1/customers/{c}"),
        &admin,
        json!({"industry": "manufacturing"}),
    )
    .await
    .assert_status(200);
    let runs_a = settled_runs(&app, &admin, &a, 2).await;
    let runs_b = settled_runs(&app, &admin, &b, 1).await;
    assert_eq!(runs_b.len(), 1);
    assert_eq!(runs_b[0]["status"], "succeeded");
    assert_eq!(runs_b[0]["chain_depth"], 1);
    assert_eq!(runs_b[0]["chain"][0]["rule_id"], a.as_str());
    // A ran once, and was stopped when B's change would have fired it again.
    assert_eq!(runs_a.len(), 2, "{runs_a:?}");
    let stopped = &runs_a[0];
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(stopped["reason"], "loop");
    assert_eq!(stopped["chain_depth"], 2);
    assert_eq!(runs_a[1]["status"], "succeeded");
    let after = get(&app, &admin, &format!("/v1/customers/{c}")).await;
    assert_eq!(after["size"], "medium");
    assert_eq!(after["industry"], "wholesale_retail");
}

async fn a_complaint_notifies_the_assignees_manager(app: TestApp) {
    let admin = app.admin_token().await;
    let (manager, agent) = service_team(&app, &admin).await;
    let rep = app.user("sales_rep", None).await;
    let id = rule(
        &app,
        &admin,
        json!({
            "trigger": {"type": "record_event", "event": "ticket.created"},
            "conditions": {"field": "category", "op": "eq", "value": "complaint"},
            "actions": [{"type": "notify", "recipient": {"type": "owner_manager"},
                         "title": "Complaint from {{customer.name}}: {{subject}}"}],
        }),
    )
    .await;
    let c = customer(&app, &rep.token, json!({"name": "Contoso"})).await;
    for (category, subject) in [("inquiry", "A question"), ("complaint", "Broken again")] {
        let reply = app
            .post(
                "/v1/tickets",
                &agent.token,
                json!({"customer_id": c, "subject": subject, "category": category,
                       "channel": "email", "assignee_id": agent.id}),
            )
            .await;
        reply.assert_status(201);
    }
    let runs = settled_runs(&app, &admin, &id, 2).await;
    let mut statuses: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap(),
                r["reason"].as_str().unwrap_or(""),
            )
        })
        .collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [("skipped", "conditions_not_met"), ("succeeded", "")]
    );
    let done = runs.iter().find(|r| r["status"] == "succeeded").unwrap();
    assert_eq!(done["actions"][0]["status"], "done", "{done}");
    let notes = get(&app, &manager.token, "/v1/me/notifications").await;
    let notes = notes["data"].as_array().unwrap();
    let automated: Vec<&Value> = notes.iter().filter(|n| n["kind"] == "automation").collect();
    assert_eq!(automated.len(), 1, "{notes:?}");
    assert_eq!(
        automated[0]["title"],
        "Complaint from Contoso: Broken again"
    );
}

async fn tags_owners_and_webhook_events_come_from_rules(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app.team("East").await;
    let rep = app.user("sales_rep", Some(team)).await;
    let _assignment = app
        .call_if_match(
            reqwest::Method::PATCH,
            &format!("/v1/teams/{team}"),
            &admin,
            "\"1\"",
            Some(json!({"assignment": "round_robin"})),
        )
        .await
        .assert_status(200);
    let id = rule(
        &app,
        &admin,
        json!({
            "trigger": {"type": "record_event", "event": "customer.updated", "field": "grade", "to": "vip"},
            "actions": [
                {"type": "add_tag", "tag": "vip"},
                {"type": "assign_owner"},
                {"type": "webhook_event"},
            ],
        }),
    )
    .await;
    let c = customer(&app, &admin, json!({"name": "Fabrikam", "team_id": team})).await;
    app.patch(
        &format!("/v1/customers/{c}"),
        &admin,
        json!({"grade": "standard"}),
    )
    .await
    .assert_status(200);
    app.patch(
        &format!("/v1/customers/{c}"),
        &admin,
        json!({"grade": "vip"}),
    )
    .await
    .assert_status(200);
    let runs = settled_runs(&app, &admin, &id, 1).await;
    assert_eq!(runs.len(), 1, "only the change to `vip` fires: {runs:?}");
    let outcomes: Vec<&str> = runs[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["done", "done", "done"], "{}", runs[0]);
    let after = get(&app, &admin, &format!("/v1/customers/{c}")).await;
    assert_eq!(after["tags"], json!(["vip"]));
    assert_eq!(after["owner_id"], rep.id.to_string());
    let triggered = app.audit_events(&id).await;
    assert!(
        triggered
            .iter()
            .any(|e| e["action"] == "triggered"
                && e["changes"]["record_id"]["after"] == c.to_string()),
        "{triggered:?}"
    );
}

async fn the_dry_run_changes_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let c = customer(&app, &rep.token, json!({"name": "Dry Goods Co"})).await;
    // Made after the customer: the rule never fires on it, only the dry run tries it.
    let id = rule(
        &app,
        &admin,
        json!({
            "trigger": {"type": "record_event", "event": "customer.created"},
            "actions": [
                {"type": "create_task", "title": "Call {{name}}", "assignee": {"type": "owner"}},
                {"type": "update_record", "changes": {"lifecycle_stage": "churned"}},
                {"type": "update_record", "changes": {"lifecycle_stage": "loyal"}},
            ],
        }),
    )
    .await;
    let before = get(&app, &admin, &format!("/v1/customers/{c}")).await;
    let audits = app.audit_count(&c.to_string()).await;
    let path = format!("/v1/automation-rules/{id}/test");
    let reply = app.post(&path, &admin, json!({"record_id": c})).await;
    reply.assert_status(200);
    assert_eq!(reply.body["conditions_met"], true);
    let actions = reply.body["actions"].as_array().unwrap();
    assert_eq!(actions[0]["status"], "done");
    assert_eq!(actions[0]["effect"]["entity_type"], "task");
    assert_eq!(actions[1]["status"], "done");
    // Each action is tried on the record as it is: lead → loyal is refused.
    assert_eq!(actions[2]["status"], "refused");
    assert_eq!(actions[2]["code"], "invalid_transition");
    let after = get(&app, &admin, &format!("/v1/customers/{c}")).await;
    assert_eq!(after, before);
    assert_eq!(app.audit_count(&c.to_string()).await, audits);
    assert!(
        tasks_of(&app, c)
            .await
            .iter()
            .all(|t| t["origin"] != "automation")
    );
    let runs = get(&app, &admin, &format!("/v1/automation-rules/{id}/runs")).await;
    assert_eq!(runs["data"], json!([]));
    // Refusals: no record, a record that is not there, a stranger.
    app.post(&path, &admin, json!({}))
        .await
        .assert_problem(422, "validation_failed");
    let unknown: Reply = app
        .post(&path, &admin, json!({"record_id": Uuid::now_v7()}))
        .await;
    unknown.assert_problem(422, "validation_failed");
    assert_eq!(unknown.error_fields(), ["record_id"]);
    app.post(&path, &rep.token, json!({"record_id": c}))
        .await
        .assert_problem(403, "forbidden");
}

async fn conditions_decide_which_records_a_rule_acts_on(app: TestApp) {
    let admin = app.admin_token().await;
    let id = rule(
        &app,
        &admin,
        json!({
            "trigger": {"type": "record_event", "event": "customer.created"},
            "conditions": {"all": [
                {"field": "industry", "op": "in", "value": ["manufacturing", "wholesale_retail"]},
                {"not": {"field": "tags", "op": "contains", "value": "partner"}},
                {"any": [{"field": "size", "op": "is_empty"}, {"field": "size", "op": "eq", "value": "large"}]},
            ]},
            "actions": [{"type": "add_tag", "tag": "target"}],
        }),
    )
    .await;
    let cases = [
        (json!({"name": "A1", "industry": "manufacturing"}), true),
        (
            json!({"name": "A2", "industry": "manufacturing", "size": "large"}),
            true,
        ),
        (
            json!({"name": "A3", "industry": "manufacturing", "size": "small"}),
            false,
        ),
        (
            json!({"name": "A4", "industry": "manufacturing", "tags": ["partner"]}),
            false,
        ),
        (json!({"name": "A5"}), false),
    ];
    let mut ids = Vec::new();
    for (body, _) in &cases {
        ids.push(customer(&app, &admin, body.clone()).await);
    }
    settled_runs(&app, &admin, &id, cases.len()).await;
    for ((body, tagged), c) in cases.iter().zip(ids) {
        let after = get(&app, &admin, &format!("/v1/customers/{c}")).await;
        let has = after["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "target");
        assert_eq!(has, *tagged, "{body}");
    }
}

async fn the_examples_are_seeded_disabled_and_work_once_enabled(app: TestApp) {
    let admin = app.admin_token().await;
    let listed = get(&app, &admin, "/v1/automation-rules?limit=100").await;
    let mut seeded: Vec<(String, String, bool)> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["trigger"]["type"].as_str().unwrap().to_owned(),
                r["enabled"].as_bool().unwrap(),
            )
        })
        .collect();
    seeded.sort();
    assert_eq!(
        seeded,
        [
            (
                EXAMPLE_CALLBACK.to_owned(),
                "callback_cadence".to_owned(),
                false
            ),
            (
                EXAMPLE_COMPLAINT.to_owned(),
                "record_event".to_owned(),
                false
            ),
            (
                EXAMPLE_MONTHLY_REPORT.to_owned(),
                "schedule".to_owned(),
                false
            ),
        ]
    );
    // Each is taken as it is by the API's own checks when enabled.
    for id in [EXAMPLE_CALLBACK, EXAMPLE_COMPLAINT, EXAMPLE_MONTHLY_REPORT] {
        let on = enable(&app, &admin, id).await;
        on.assert_status(200);
        assert_eq!(on.body["enabled"], true);
    }
    // The complaint example tells the manager of the assignee's team, and only of complaints.
    let (manager, agent) = service_team(&app, &admin).await;
    let c = customer(&app, &admin, json!({"name": "Contoso"})).await;
    for (category, subject) in [
        ("inquiry", "How do I export?"),
        ("complaint", "Late delivery"),
    ] {
        app.post(
            "/v1/tickets",
            &admin,
            json!({"customer_id": c, "subject": subject, "channel": "email",
                   "category": category, "assignee_id": agent.id}),
        )
        .await
        .assert_status(201);
    }
    let runs = settled_runs(&app, &admin, EXAMPLE_COMPLAINT, 2).await;
    let mut statuses: Vec<&str> = runs.iter().map(|r| r["status"].as_str().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["skipped", "succeeded"], "{runs:#?}");
    let token = app.token_of(&manager).await;
    let notes = get(&app, &token, "/v1/me/notifications").await;
    let titles: Vec<&str> = notes["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["title"].as_str())
        .filter(|t| t.starts_with("New complaint"))
        .collect();
    assert_eq!(titles, ["New complaint from Contoso: Late delivery"]);
}
