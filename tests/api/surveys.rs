//! Satisfaction surveys over HTTP: surveys and their versions, invitations by hand, in batches
//! and by triggers (once per ticket, however often the job runs), quiet periods and consent,
//! the public answer page (exact keys, once, until it expires, rate limited), follow-up
//! tickets for low scores, results checked against values computed here from the answers
//! sent, and invitations emailed to an SMTP sink the test starts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration as StdDuration, Instant};

use base64::Engine;
use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, Utc};
use rapport_domain::clock::Clock;
use rapport_domain::job::{Job, JobKind};
use rapport_store::repos::jobs;
use rapport_tests::smtp::SmtpSink;
use rapport_tests::{Backend, Reply, TestApp, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    surveys_are_created_with_defaults_read_listed_and_patched,
    a_bad_survey_names_every_bad_field,
    surveys_are_written_by_survey_writers_and_read_by_sales_managers,
    an_answered_survey_is_versioned_not_edited,
    triggers_are_settings_and_one_per_survey_and_event,
    a_resolved_ticket_invites_its_contact_exactly_once,
    a_resolved_ticket_without_a_contact_invites_the_primary_contact_for_enabled_triggers_only,
    a_won_opportunity_invites_the_customers_primary_contact,
    the_quiet_period_of_the_inviting_survey_holds_across_surveys,
    a_contact_who_withdrew_consent_is_never_invited,
    a_batch_by_filter_invites_primary_contacts_and_reports_the_skipped,
    the_public_page_shows_exactly_the_questions_and_marks_the_invitation_opened,
    a_token_answers_once,
    unknown_and_malformed_tokens_are_404_alike,
    an_expired_invitation_is_410,
    invalid_answers_are_named_per_question,
    tokens_are_shown_only_when_invitations_are_created,
    a_low_score_opens_one_complaint_in_the_tickets_team,
    a_low_nps_without_a_ticket_opens_a_request_for_the_customers_owner,
    good_scores_or_no_thresholds_open_no_ticket,
    free_text_answers_are_on_the_customers_timeline,
    results_match_the_answers_sent,
    the_satisfaction_report_matches_the_results,
    results_break_down_by_agent_and_channel,
    results_trend_by_month_and_week_and_filter_by_time,
    the_public_endpoint_is_rate_limited_after_a_burst,
    invitations_are_for_survey_writers_and_unknown_ids_are_404,
    a_sales_manager_sees_only_invitations_of_its_teams_customers,
    erasure_and_deletion_close_the_public_link,
    an_invitation_is_about_what_its_sender_may_read,
);

// Behind a trusted proxy, `X-Forwarded-For` names the client: two clients, two budgets.
backend_tests!(
    settings = |a| a.trusted_proxies = Some("127.0.0.0/8".into());
    the_public_rate_limit_is_per_client_address,
);

const TRIGGER_JOB: &str = "surveys.trigger";
const EMAIL_JOB: &str = "surveys.email";

// ---------------------------------------------------------------------------------------------
// Helpers

/// The `id` of an answer.
fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap()
}

/// An RFC 3339 time for a query string.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The sorted keys of an object.
fn keys(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// `body` with the fields of `extra` set.
fn with(mut body: Value, extra: Value) -> Value {
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

/// A survey with one question of each kind.
fn survey_body(title: &str) -> Value {
    json!({
        "title": title,
        "questions": [
            {"id": "speed", "kind": "csat", "text": "How fast did we help?", "dimension": "response_speed"},
            {"id": "recommend", "kind": "nps", "text": "Would you recommend us to a friend?"},
            {"id": "staff", "kind": "rating", "text": "How was our staff?", "max": 7, "required": false},
            {"id": "why", "kind": "single_choice", "text": "What matters most to you?", "required": false,
             "options": [{"code": "price", "label": "Price"}, {"code": "quality", "label": "Quality"}, {"code": "service", "label": "Service"}]},
            {"id": "what", "kind": "multi_choice", "text": "Which did you use?", "required": false,
             "options": [{"code": "app", "label": "App"}, {"code": "web", "label": "Web"}, {"code": "phone", "label": "Phone"}]},
            {"id": "comment", "kind": "text", "text": "Anything else?", "required": false},
        ],
    })
}

/// The scale of a numeric question of a create body: csat 1–5, nps 0–10, rating 1–max.
fn scale(question: &Value) -> Option<(i64, i64)> {
    match question["kind"].as_str() {
        Some("csat") => Some((1, 5)),
        Some("nps") => Some((0, 10)),
        Some("rating") => Some((1, question["max"].as_i64().unwrap())),
        _ => None,
    }
}

/// `[{"question_id", "value"}, …]`.
fn answers(pairs: &[(&str, Value)]) -> Value {
    pairs
        .iter()
        .map(|(q, v)| json!({"question_id": q, "value": v}))
        .collect()
}

/// The value given to `question` in an `answers` list.
fn answer_of<'a>(answers: &'a Value, question: &str) -> Option<&'a Value> {
    answers
        .as_array()?
        .iter()
        .find(|a| a["question_id"] == question)
        .map(|a| &a["value"])
}

async fn create_survey(app: &TestApp, token: &str, body: Value) -> Value {
    let reply = app.post("/v1/surveys", token, body).await;
    reply.assert_status(201);
    reply.body
}

/// A customer made by `token` with one contact (`Lei` plus the fields of `contact`), answering
/// the customer's id and the contact's.
async fn customer_with_contact(
    app: &TestApp,
    token: &str,
    name: &str,
    contact: Value,
) -> (String, String) {
    customer_with(app, token, json!({"name": name}), contact).await
}

/// A customer made by `token` from `body` with one contact, answering both ids.
async fn customer_with(
    app: &TestApp,
    token: &str,
    body: Value,
    contact: Value,
) -> (String, String) {
    let contact = with(json!({"first_name": "Lei", "last_name": "Li"}), contact);
    let reply = app
        .post(
            "/v1/customers?allow_duplicate=true",
            token,
            with(body, json!({"contacts": [contact]})),
        )
        .await;
    reply.assert_status(201);
    (id_of(&reply.body), id_of(&reply.body["contacts"][0]))
}

/// Adds a contact to a customer, answering its id.
async fn add_contact(app: &TestApp, token: &str, customer: &str, body: Value) -> String {
    let reply = app
        .post(&format!("/v1/customers/{customer}/contacts"), token, body)
        .await;
    reply.assert_status(201);
    id_of(&reply.body)
}

/// Withdraws a contact's marketing consent.
async fn withdraw_consent(app: &TestApp, token: &str, contact: &str) {
    let reply = app
        .patch(
            &format!("/v1/contacts/{contact}"),
            token,
            json!({"marketing_consent": {"granted": false, "source": "email"}}),
        )
        .await;
    reply.assert_status(200);
    assert_eq!(reply.body["marketing_consent"]["granted"], false);
}

/// Opens a ticket about `customer` (an inquiry on the web unless `extra` says otherwise).
async fn open_ticket(app: &TestApp, token: &str, customer: &str, extra: Value) -> Value {
    let body = with(
        json!({"customer_id": customer, "subject": "The printer jams", "channel": "web", "category": "inquiry"}),
        extra,
    );
    let reply = app.post("/v1/tickets", token, body).await;
    reply.assert_status(201);
    reply.body
}

async fn move_ticket(app: &TestApp, token: &str, id: &str, status: &str) {
    app.patch(
        &format!("/v1/tickets/{id}"),
        token,
        json!({"status": status}),
    )
    .await
    .assert_status(200);
}

async fn invite(app: &TestApp, token: &str, survey: &str, body: Value) -> Reply {
    app.post(&format!("/v1/surveys/{survey}/invitations"), token, body)
        .await
}

/// Invites `contact` with `survey` by hand (about what `extra` names), answering the
/// invitation with its token and URL.
async fn invited(app: &TestApp, token: &str, survey: &str, contact: &str, extra: Value) -> Value {
    let reply = invite(
        app,
        token,
        survey,
        with(json!({"contact_id": contact}), extra),
    )
    .await;
    reply.assert_status(201);
    reply.body
}

/// A batch's skipped entries by their `key` field: the `other` field and the reason.
fn skipped_by(batch: &Value, key: &str, other: &str) -> BTreeMap<String, (Value, Value)> {
    batch["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let k = s[key].as_str().unwrap().to_owned();
            (k, (s[other].clone(), s["reason"].clone()))
        })
        .collect()
}

fn token_of(invitation: &Value) -> String {
    invitation["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {invitation}"))
        .to_owned()
}

fn public(token: &str) -> String {
    format!("/v1/public/surveys/{token}")
}

/// `GET /v1/public/surveys/{token}`, without credentials.
async fn open_page(app: &TestApp, token: &str) -> Reply {
    app.call(Method::GET, &public(token), None, None).await
}

/// `POST /v1/public/surveys/{token}` with `answers`, without credentials.
async fn answer(app: &TestApp, token: &str, answers: Value) -> Reply {
    app.call(
        Method::POST,
        &public(token),
        None,
        Some(json!({"answers": answers})),
    )
    .await
}

async fn invitation(app: &TestApp, token: &str, survey: &str, id: &str) -> Value {
    let reply = app
        .get(&format!("/v1/surveys/{survey}/invitations/{id}"), token)
        .await;
    reply.assert_status(200);
    reply.body
}

/// The `data` of a list.
async fn list(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let reply = app.get(path, token).await;
    reply.assert_status(200);
    reply.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {}", reply.body))
        .clone()
}

async fn invitations(app: &TestApp, token: &str, survey: &str) -> Vec<Value> {
    list(
        app,
        token,
        &format!("/v1/surveys/{survey}/invitations?limit=200"),
    )
    .await
}

async fn add_trigger(
    app: &TestApp,
    token: &str,
    survey: &str,
    event: &str,
    enabled: bool,
) -> Value {
    let reply = app
        .post(
            "/v1/survey-triggers",
            token,
            json!({"survey_id": survey, "event": event, "enabled": enabled}),
        )
        .await;
    reply.assert_status(201);
    reply.body
}

/// Waits until there are at least `count` jobs of `kind` and every one of them succeeded
/// (10 s at most), and answers them. A change enqueues its jobs in its own transaction, so
/// right after the change its jobs are listed.
async fn jobs_done(app: &TestApp, token: &str, kind: &str, count: usize) -> Vec<Value> {
    let path = format!("/v1/jobs?kind={kind}&limit=200");
    let deadline = Instant::now() + StdDuration::from_secs(10);
    loop {
        let jobs = list(app, token, &path).await;
        if jobs.len() >= count && jobs.iter().all(|j| j["status"] == "succeeded") {
            return jobs;
        }
        assert!(
            Instant::now() < deadline,
            "{kind}: not {count} succeeded jobs: {jobs:#?}"
        );
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

/// Enqueues a `surveys.trigger` job with `payload`, due now, as a second run of the same work.
async fn enqueue_trigger_job(app: &TestApp, payload: Value) {
    let now = app.clock.now();
    let job = Job::new(
        JobKind::parse(TRIGGER_JOB).unwrap(),
        payload,
        None,
        now,
        now,
    );
    let store = app.store().await;
    let tx = store.begin().await.unwrap();
    assert!(jobs::enqueue(&tx, &job).await.unwrap());
    rapport_store::commit(tx).await.unwrap();
    store.close().await.unwrap();
}

/// A token that names no invitation: 32 random bytes in base64url, like a real one.
fn unknown_token() -> String {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(Uuid::now_v7().as_bytes());
    bytes.extend_from_slice(Uuid::now_v7().as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A problem without its `request_id`, to compare two problems.
fn without_request_id(body: &Value) -> Value {
    let mut body = body.clone();
    body.as_object_mut().unwrap().remove("request_id");
    body
}

/// The (field, code) pairs of a validation problem.
fn error_codes(reply: &Reply) -> BTreeMap<String, String> {
    reply.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {}", reply.body))
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Surveys

async fn surveys_are_created_with_defaults_read_listed_and_patched(app: TestApp) {
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/v1/surveys",
            &admin,
            json!({
                "title": "After your ticket",
                "questions": [
                    {"id": "speed", "kind": "csat", "text": "How fast?", "required": true, "dimension": "response_speed"},
                    {"kind": "nps", "text": "Recommend us?"},
                    {"kind": "rating", "text": "Staff?", "max": 7, "dimension": "front_desk"},
                    {"kind": "single_choice", "text": "Why?", "options": [{"code": "price", "label": "Price"}, {"code": "quality", "label": "Quality"}]},
                    {"kind": "text", "text": "Anything else?", "required": false},
                ],
            }),
        )
        .await;
    created.assert_status(201);
    let s = &created.body;
    let id = id_of(s);
    let path = format!("/v1/surveys/{id}");
    assert_eq!(created.header("location"), Some(path.as_str()));
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(
        (
            s["language"].as_str(),
            s["revision"].as_i64(),
            &s["previous_id"],
            &s["superseded_by_id"],
            s["answered"].as_i64(),
        ),
        (Some("en"), Some(1), &Value::Null, &Value::Null, Some(0))
    );
    assert_eq!(
        (
            s["expires_in_days"].as_i64(),
            s["quiet_days"].as_i64(),
            s["follow_up_csat_at_most"].as_i64(),
            s["follow_up_nps_at_most"].as_i64(),
        ),
        (Some(14), Some(30), Some(2), Some(6)),
        "the defaults"
    );
    assert_eq!(
        s["questions"],
        json!([
            {"id": "speed", "kind": "csat", "text": "How fast?", "required": true, "dimension": "response_speed", "max": null, "options": []},
            {"id": "q2", "kind": "nps", "text": "Recommend us?", "required": true, "dimension": "overall", "max": null, "options": []},
            {"id": "q3", "kind": "rating", "text": "Staff?", "required": true, "dimension": "front_desk", "max": 7, "options": []},
            {"id": "q4", "kind": "single_choice", "text": "Why?", "required": true, "dimension": "overall", "max": null,
             "options": [{"code": "price", "label": "Price"}, {"code": "quality", "label": "Quality"}]},
            {"id": "q5", "kind": "text", "text": "Anything else?", "required": false, "dimension": "overall", "max": null, "options": []},
        ]),
        "ids, required and dimensions default; order is kept"
    );
    let got = app.get(&path, &admin).await;
    got.assert_status(200);
    assert_eq!(got.header("etag"), Some("\"1\""));
    assert_eq!(got.body, created.body);

    // Newest first, in pages.
    let newer = create_survey(
        &app,
        &admin,
        with(survey_body("售后回访"), json!({"language": "zh-CN"})),
    )
    .await;
    assert_eq!(newer["language"], "zh-CN");
    let all = list(&app, &admin, "/v1/surveys").await;
    assert_eq!(
        all.iter().map(id_of).collect::<Vec<_>>(),
        [id_of(&newer), id.clone()]
    );
    let first = app.get("/v1/surveys?limit=1", &admin).await;
    assert_eq!(first.body["data"][0]["id"], newer["id"]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("/v1/surveys?limit=1&cursor={cursor}"), &admin)
        .await;
    assert_eq!(second.body["data"][0]["id"], json!(id));

    // Any field of the create body; a stale If-Match is refused.
    let patched = app
        .patch(
            &path,
            &admin,
            json!({"title": "After your visit", "quiet_days": 60, "follow_up_nps_at_most": null}),
        )
        .await;
    patched.assert_status(200);
    assert_eq!(patched.header("etag"), Some("\"2\""));
    assert_eq!(
        (
            patched.body["title"].as_str(),
            patched.body["quiet_days"].as_i64(),
            &patched.body["follow_up_nps_at_most"],
            patched.body["version"].as_i64(),
        ),
        (Some("After your visit"), Some(60), &Value::Null, Some(2))
    );
    app.call_if_match(
        Method::PATCH,
        &path,
        &admin,
        "\"1\"",
        Some(json!({"title": "Stale"})),
    )
    .await
    .assert_problem(412, "precondition_failed");
    let questions = app
        .call_if_match(
            Method::PATCH,
            &path,
            &admin,
            "\"2\"",
            Some(json!({"questions": [{"kind": "csat", "text": "Happy?"}]})),
        )
        .await;
    questions.assert_status(200);
    assert_eq!(questions.body["questions"][0]["id"], "q1");
    assert_eq!(questions.body["questions"].as_array().unwrap().len(), 1);
    let refused = app.patch(&path, &admin, json!({"quiet_days": 366})).await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["quiet_days"]);

    let unknown = format!("/v1/surveys/{}", Uuid::now_v7());
    app.get(&unknown, &admin)
        .await
        .assert_problem(404, "not_found");
    app.patch(&unknown, &admin, json!({"title": "x"}))
        .await
        .assert_problem(404, "not_found");
}

async fn a_bad_survey_names_every_bad_field(app: TestApp) {
    let admin = app.admin_token().await;
    let refused = app
        .post(
            "/v1/surveys",
            &admin,
            json!({
                "title": " ",
                "language": "not a language",
                "expires_in_days": 0,
                "quiet_days": 366,
                "questions": [
                    {"id": "a", "kind": "csat", "text": "?"},
                    {"id": "a", "kind": "nps", "text": "?"},
                    {"id": "c", "kind": "stars", "text": "?"},
                    {"id": "d", "kind": "rating", "text": "?"},
                    {"id": "e", "kind": "single_choice", "text": "?", "options": [{"code": "x", "label": "X"}]},
                    {"id": "f", "kind": "csat", "text": "?", "dimension": "Not A Code"},
                    {"id": "Bad Id!", "kind": "nps", "text": "?"},
                    {"id": "h", "kind": "rating", "text": "?", "max": 11},
                ],
            }),
        )
        .await;
    refused.assert_problem(422, "validation_failed");
    let mut fields = refused.error_fields();
    fields.sort();
    let mut expected = vec![
        "expires_in_days",
        "language",
        "questions[1].id",
        "questions[2].kind",
        "questions[3].max",
        "questions[4].options",
        "questions[5].dimension",
        "questions[6].id",
        "questions[7].max",
        "quiet_days",
        "title",
    ];
    expected.sort_unstable();
    assert_eq!(fields, expected);

    let none = app
        .post(
            "/v1/surveys",
            &admin,
            json!({"title": "Empty", "questions": []}),
        )
        .await;
    none.assert_problem(422, "validation_failed");
    assert_eq!(none.error_fields(), ["questions"]);
    let many: Vec<Value> = (0..51)
        .map(|_| json!({"kind": "csat", "text": "?"}))
        .collect();
    let too_many = app
        .post(
            "/v1/surveys",
            &admin,
            json!({"title": "Long", "questions": many}),
        )
        .await;
    assert_eq!(too_many.error_fields(), ["questions"]);
    let missing = app.post("/v1/surveys", &admin, json!({})).await;
    let mut fields = missing.error_fields();
    fields.sort();
    assert_eq!(fields, ["questions", "title"]);
    let unknown_field = app
        .post(
            "/v1/surveys",
            &admin,
            with(survey_body("Typo"), json!({"quiet_dayz": 3})),
        )
        .await;
    unknown_field.assert_problem(422, "validation_failed");

    assert!(
        list(&app, &admin, "/v1/surveys").await.is_empty(),
        "nothing is kept"
    );
}

async fn surveys_are_written_by_survey_writers_and_read_by_sales_managers(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = create_survey(&app, &admin, survey_body("Scoped")).await;
    let path = format!("/v1/surveys/{}", id_of(&survey));
    let body = survey_body("Another");

    app.get("/v1/surveys", "").await.assert_status(401);
    for role in ["sales_rep", "service_agent"] {
        let user = app.user(role, None).await;
        app.get("/v1/surveys", &user.token)
            .await
            .assert_problem(403, "forbidden");
        app.post("/v1/surveys", &user.token, body.clone())
            .await
            .assert_problem(403, "forbidden");
    }

    let manager = app.user("sales_manager", None).await;
    app.get("/v1/surveys", &manager.token)
        .await
        .assert_status(200);
    app.get(&path, &manager.token).await.assert_status(200);
    app.post("/v1/surveys", &manager.token, body.clone())
        .await
        .assert_problem(403, "forbidden");
    app.patch(&path, &manager.token, json!({"title": "Mine"}))
        .await
        .assert_problem(403, "forbidden");
    app.post(&format!("{path}/versions"), &manager.token, body.clone())
        .await
        .assert_problem(403, "forbidden");

    for role in ["marketing", "service_manager"] {
        let writer = app.user(role, None).await;
        app.post("/v1/surveys", &writer.token, body.clone())
            .await
            .assert_status(201);
        app.patch(&path, &writer.token, json!({"title": format!("By {role}")}))
            .await
            .assert_status(200);
    }
    let reader = app.client_token(&["surveys:read"]).await;
    app.get(&path, &reader).await.assert_status(200);
    app.post("/v1/surveys", &reader, body)
        .await
        .assert_problem(403, "forbidden");
}

async fn an_answered_survey_is_versioned_not_edited(app: TestApp) {
    let admin = app.admin_token().await;
    let old = create_survey(&app, &admin, survey_body("After your ticket")).await;
    let old_id = id_of(&old);
    let old_path = format!("/v1/surveys/{old_id}");
    let trigger = add_trigger(&app, &admin, &old_id, "ticket_resolved", true).await;

    // Before any answer it can be edited in place.
    app.patch(&old_path, &admin, json!({"title": "After your ticket (1)"}))
        .await
        .assert_status(200);
    let (_, contact) = customer_with_contact(&app, &admin, "Answering Co", json!({})).await;
    let sent = invited(&app, &admin, &old_id, &contact, json!({})).await;
    answer(
        &app,
        &token_of(&sent),
        answers(&[("speed", json!(4)), ("recommend", json!(9))]),
    )
    .await
    .assert_status(204);
    let answered = app.get(&old_path, &admin).await.body;
    assert_eq!(answered["answered"], 1);

    // Answered: no edit in place, so results stay comparable.
    app.patch(&old_path, &admin, json!({"title": "Changed"}))
        .await
        .assert_problem(409, "survey_answered");
    let unchanged = app.get(&old_path, &admin).await.body;
    assert_eq!(unchanged["title"], "After your ticket (1)");

    // A new version: revision 2, linked both ways, and the triggers follow it.
    let versioned = app
        .post(
            &format!("{old_path}/versions"),
            &admin,
            survey_body("After your ticket (2)"),
        )
        .await;
    versioned.assert_status(201);
    let new = &versioned.body;
    let new_id = id_of(new);
    assert_ne!(new_id, old_id);
    assert_eq!(
        (
            new["revision"].as_i64(),
            &new["previous_id"],
            &new["superseded_by_id"],
            new["answered"].as_i64(),
            new["title"].as_str(),
        ),
        (
            Some(2),
            &json!(old_id),
            &Value::Null,
            Some(0),
            Some("After your ticket (2)")
        )
    );
    let old_now = app.get(&old_path, &admin).await.body;
    assert_eq!(
        (
            old_now["superseded_by_id"].as_str(),
            old_now["revision"].as_i64(),
            old_now["answered"].as_i64()
        ),
        (Some(new_id.as_str()), Some(1), Some(1))
    );
    let followed = app
        .get(&format!("/v1/survey-triggers/{}", id_of(&trigger)), &admin)
        .await;
    followed.assert_status(200);
    assert_eq!(followed.body["survey_id"], json!(new_id));

    // A superseded survey is neither versioned again nor used for new invitations.
    app.post(&format!("{old_path}/versions"), &admin, survey_body("Fork"))
        .await
        .assert_problem(409, "conflict");
    let (_, other) = customer_with_contact(&app, &admin, "Late Co", json!({})).await;
    invite(&app, &admin, &old_id, json!({"contact_id": other}))
        .await
        .assert_problem(409, "conflict");
    // The new version, unanswered, is edited in place.
    app.patch(
        &format!("/v1/surveys/{new_id}"),
        &admin,
        json!({"title": "After your ticket (v2)"}),
    )
    .await
    .assert_status(200);

    // Superseded but never answered: still no edit in place.
    let draft = create_survey(&app, &admin, survey_body("Draft")).await;
    let draft_path = format!("/v1/surveys/{}", id_of(&draft));
    app.post(
        &format!("{draft_path}/versions"),
        &admin,
        survey_body("Draft (2)"),
    )
    .await
    .assert_status(201);
    app.patch(&draft_path, &admin, json!({"title": "Draft again"}))
        .await
        .assert_problem(409, "conflict");
    app.post(
        &format!("/v1/surveys/{}/versions", Uuid::now_v7()),
        &admin,
        survey_body("Nothing"),
    )
    .await
    .assert_problem(404, "not_found");
}

async fn triggers_are_settings_and_one_per_survey_and_event(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("Triggered")).await);
    let created = app
        .post(
            "/v1/survey-triggers",
            &admin,
            json!({"survey_id": survey, "event": "ticket_resolved", "enabled": true}),
        )
        .await;
    created.assert_status(201);
    let t = &created.body;
    assert_eq!(
        keys(t),
        [
            "created_at",
            "enabled",
            "event",
            "id",
            "survey_id",
            "updated_at",
            "version"
        ]
    );
    assert_eq!(
        (
            t["survey_id"].as_str(),
            t["event"].as_str(),
            t["enabled"].as_bool()
        ),
        (Some(survey.as_str()), Some("ticket_resolved"), Some(true))
    );
    let path = format!("/v1/survey-triggers/{}", id_of(t));

    app.post(
        "/v1/survey-triggers",
        &admin,
        json!({"survey_id": survey, "event": "ticket_resolved", "enabled": false}),
    )
    .await
    .assert_problem(409, "duplicate");
    let bad = app
        .post(
            "/v1/survey-triggers",
            &admin,
            json!({"survey_id": survey, "event": "ticket_closed", "enabled": true}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.error_fields(), ["event"]);

    // settings:write: a service manager may, a marketer (surveys:write only) may not.
    let manager = app.user("service_manager", None).await;
    let quarterly = app
        .post(
            "/v1/survey-triggers",
            &manager.token,
            json!({"survey_id": survey, "event": "quarterly", "enabled": true}),
        )
        .await;
    quarterly.assert_status(201);
    let marketer = app.user("marketing", None).await;
    app.post(
        "/v1/survey-triggers",
        &marketer.token,
        json!({"survey_id": survey, "event": "opportunity_won", "enabled": true}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.patch(&path, &marketer.token, json!({"enabled": false}))
        .await
        .assert_problem(403, "forbidden");
    app.delete(&path, &marketer.token)
        .await
        .assert_problem(403, "forbidden");
    let listed = list(&app, &marketer.token, "/v1/survey-triggers").await;
    let events: BTreeSet<&str> = listed.iter().filter_map(|t| t["event"].as_str()).collect();
    assert_eq!(events, BTreeSet::from(["quarterly", "ticket_resolved"]));
    let rep = app.user("sales_rep", None).await;
    app.get("/v1/survey-triggers", &rep.token)
        .await
        .assert_problem(403, "forbidden");

    let disabled = app.patch(&path, &admin, json!({"enabled": false})).await;
    disabled.assert_status(200);
    assert_eq!(
        (
            disabled.body["enabled"].as_bool(),
            disabled.body["version"].as_i64()
        ),
        (Some(false), Some(2))
    );
    let moved = app
        .patch(&path, &admin, json!({"event": "order_fulfilled"}))
        .await;
    moved.assert_status(200);
    assert_eq!(moved.body["event"], "order_fulfilled");
    app.delete(&path, &admin).await.assert_status(204);
    app.get(&path, &admin)
        .await
        .assert_problem(404, "not_found");
}

// ---------------------------------------------------------------------------------------------
// Triggers

async fn a_resolved_ticket_invites_its_contact_exactly_once(app: TestApp) {
    let admin = app.admin_token().await;
    // No quiet period: only "once per trigger and ticket" keeps a second invitation away.
    let survey = id_of(
        &create_survey(
            &app,
            &admin,
            with(survey_body("After your ticket"), json!({"quiet_days": 0})),
        )
        .await,
    );
    add_trigger(&app, &admin, &survey, "ticket_resolved", true).await;
    let (customer, _primary) = customer_with_contact(&app, &admin, "Resolved Co", json!({})).await;
    let caller = add_contact(&app, &admin, &customer, json!({"first_name": "Mei"})).await;
    let ticket = open_ticket(&app, &admin, &customer, json!({"contact_id": caller})).await;
    let ticket_id = id_of(&ticket);
    move_ticket(&app, &admin, &ticket_id, "open").await;
    assert!(
        invitations(&app, &admin, &survey).await.is_empty(),
        "an open ticket invites no one"
    );

    move_ticket(&app, &admin, &ticket_id, "resolved").await;
    let done = jobs_done(&app, &admin, TRIGGER_JOB, 1).await;
    let sent = invitations(&app, &admin, &survey).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let i = &sent[0];
    assert_eq!(
        (
            i["trigger"].as_str(),
            i["ticket_id"].as_str(),
            i["contact_id"].as_str(),
            i["customer_id"].as_str(),
            i["status"].as_str(),
        ),
        (
            Some("ticket_resolved"),
            Some(ticket_id.as_str()),
            Some(caller.as_str()),
            Some(customer.as_str()),
            Some("sent")
        ),
        "the ticket's contact, not the primary one"
    );
    assert!(i.get("token").is_none() && i.get("url").is_none(), "{i}");

    // The same job runs a second time (as after a worker died past its work): still one.
    let this = done
        .iter()
        .find(|j| j["payload"].to_string().contains(&ticket_id))
        .unwrap_or_else(|| panic!("no job names the ticket: {done:#?}"));
    enqueue_trigger_job(&app, this["payload"].clone()).await;
    jobs_done(&app, &admin, TRIGGER_JOB, done.len() + 1).await;
    assert_eq!(invitations(&app, &admin, &survey).await.len(), 1);

    // Reopened and resolved again: still one invitation for this ticket and trigger.
    move_ticket(&app, &admin, &ticket_id, "reopened").await;
    move_ticket(&app, &admin, &ticket_id, "resolved").await;
    jobs_done(&app, &admin, TRIGGER_JOB, done.len() + 1).await;
    let after = invitations(&app, &admin, &survey).await;
    assert_eq!(after.len(), 1, "{after:#?}");
    assert_eq!(after[0]["id"], i["id"]);
}

async fn a_resolved_ticket_without_a_contact_invites_the_primary_contact_for_enabled_triggers_only(
    app: TestApp,
) {
    let admin = app.admin_token().await;
    let quiet = json!({"quiet_days": 0});
    let enabled = id_of(&create_survey(&app, &admin, with(survey_body("On"), quiet.clone())).await);
    let disabled = id_of(&create_survey(&app, &admin, with(survey_body("Off"), quiet)).await);
    add_trigger(&app, &admin, &enabled, "ticket_resolved", true).await;
    add_trigger(&app, &admin, &disabled, "ticket_resolved", false).await;
    let (customer, primary) = customer_with_contact(&app, &admin, "Primary Co", json!({})).await;
    add_contact(&app, &admin, &customer, json!({"first_name": "Second"})).await;
    let ticket = open_ticket(&app, &admin, &customer, json!({})).await;
    move_ticket(&app, &admin, &id_of(&ticket), "resolved").await;
    jobs_done(&app, &admin, TRIGGER_JOB, 1).await;

    let sent = invitations(&app, &admin, &enabled).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["contact_id"], json!(primary));
    assert_eq!(sent[0]["ticket_id"], ticket["id"]);
    assert!(
        invitations(&app, &admin, &disabled).await.is_empty(),
        "a disabled trigger invites no one"
    );
}

async fn a_won_opportunity_invites_the_customers_primary_contact(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("After your purchase")).await);
    add_trigger(&app, &admin, &survey, "opportunity_won", true).await;
    let rep = app.user("sales_rep", None).await;
    let (customer, primary) = customer_with(
        &app,
        &rep.token,
        json!({"name": "Buyer Co", "lifecycle_stage": "prospect"}),
        json!({}),
    )
    .await;
    let pipelines = list(&app, &rep.token, "/v1/pipelines").await;
    let pipeline = pipelines
        .iter()
        .find(|p| p["is_default"] == true)
        .expect("a default pipeline");
    let won = pipeline["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Won")
        .map(id_of)
        .expect("a Won stage");
    let created = app
        .post(
            "/v1/opportunities",
            &rep.token,
            json!({"customer_id": customer, "title": "20 printers"}),
        )
        .await;
    created.assert_status(201);
    let opportunity = id_of(&created.body);
    app.post(
        &format!("/v1/opportunities/{opportunity}/stage"),
        &rep.token,
        json!({"stage_id": won, "amount": {"amount": "8000.00", "currency": "CNY"}}),
    )
    .await
    .assert_status(200);

    jobs_done(&app, &admin, TRIGGER_JOB, 1).await;
    let sent = invitations(&app, &admin, &survey).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(
        (
            sent[0]["trigger"].as_str(),
            sent[0]["opportunity_id"].as_str(),
            sent[0]["contact_id"].as_str(),
            &sent[0]["ticket_id"],
        ),
        (
            Some("opportunity_won"),
            Some(opportunity.as_str()),
            Some(primary.as_str()),
            &Value::Null
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Quiet period, consent, batches

async fn the_quiet_period_of_the_inviting_survey_holds_across_surveys(app: TestApp) {
    let admin = app.admin_token().await;
    let monthly = id_of(&create_survey(&app, &admin, survey_body("Monthly")).await);
    let weekly = id_of(
        &create_survey(
            &app,
            &admin,
            with(survey_body("Weekly"), json!({"quiet_days": 7})),
        )
        .await,
    );
    let (_, contact) = customer_with_contact(&app, &admin, "Asked Co", json!({})).await;
    let body = json!({"contact_id": contact});

    // Day 0: invited once; by no survey again for now.
    invited(&app, &admin, &monthly, &contact, json!({})).await;
    invite(&app, &admin, &monthly, body.clone())
        .await
        .assert_problem(409, "quiet_period");
    invite(&app, &admin, &weekly, body.clone())
        .await
        .assert_problem(409, "quiet_period");

    // Day 8: past the weekly survey's 7 days, within the monthly one's 30.
    app.clock.advance(Duration::days(8));
    let admin = app.admin_token().await;
    invite(&app, &admin, &monthly, body.clone())
        .await
        .assert_problem(409, "quiet_period");
    invited(&app, &admin, &weekly, &contact, json!({})).await;

    // Day 37: 29 days after the last invitation, by whichever survey: still quiet.
    app.clock.advance(Duration::days(29));
    let admin = app.admin_token().await;
    invite(&app, &admin, &monthly, body.clone())
        .await
        .assert_problem(409, "quiet_period");

    // Day 39: 31 days on, the contact may be asked again.
    app.clock.advance(Duration::days(2));
    let admin = app.admin_token().await;
    invited(&app, &admin, &monthly, &contact, json!({})).await;
    assert_eq!(invitations(&app, &admin, &monthly).await.len(), 2);
}

async fn a_contact_who_withdrew_consent_is_never_invited(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("Consent")).await);
    let granted = json!({"marketing_consent": {"granted": true, "source": "web_form"}});
    let (withdrawn_customer, withdrawn) =
        customer_with_contact(&app, &admin, "Withdrawn Co", granted.clone()).await;
    withdraw_consent(&app, &admin, &withdrawn).await;
    let (_, consenting) = customer_with_contact(&app, &admin, "Granted Co", granted).await;
    let (_, no_record) = customer_with_contact(&app, &admin, "No Record Co", json!({})).await;
    let (other_customer, other) = customer_with_contact(&app, &admin, "Other Co", json!({})).await;

    invite(&app, &admin, &survey, json!({"contact_id": withdrawn}))
        .await
        .assert_problem(409, "consent_withdrawn");
    invited(&app, &admin, &survey, &consenting, json!({})).await;
    invited(&app, &admin, &survey, &no_record, json!({})).await;

    // A batch invites the others and says why it skipped each one.
    let nobody = Uuid::now_v7().to_string();
    let batch = app
        .post(
            &format!("/v1/surveys/{survey}/invitations/batch"),
            &admin,
            json!({"contact_ids": [withdrawn, other, no_record, nobody]}),
        )
        .await;
    batch.assert_status(200);
    let invited: Vec<&Value> = batch.body["invited"].as_array().unwrap().iter().collect();
    assert_eq!(invited.len(), 1, "{}", batch.body);
    assert_eq!(invited[0]["contact_id"], json!(other));
    assert_eq!(invited[0]["customer_id"], json!(other_customer));
    assert_eq!(token_of(invited[0]).len(), 43);
    let skipped = skipped_by(&batch.body, "contact_id", "customer_id");
    assert_eq!(skipped.len(), 3, "{}", batch.body);
    assert_eq!(
        skipped[&withdrawn],
        (json!(withdrawn_customer), json!("consent_withdrawn"))
    );
    assert_eq!(skipped[&no_record].1, "quiet_period");
    assert_eq!(skipped[&nobody].1, "not_found");

    // Past every quiet period, still never.
    app.clock.advance(Duration::days(31));
    let admin = app.admin_token().await;
    invite(&app, &admin, &survey, json!({"contact_id": withdrawn}))
        .await
        .assert_problem(409, "consent_withdrawn");
    assert!(
        invitations(&app, &admin, &survey)
            .await
            .iter()
            .all(|i| i["contact_id"] != json!(withdrawn))
    );
}

async fn a_batch_by_filter_invites_primary_contacts_and_reports_the_skipped(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("Wave")).await);
    let tagged = |name: &str| json!({"name": name, "tags": ["survey-wave"]});
    let (ready_customer, ready) = customer_with(&app, &admin, tagged("Ready Co"), json!({})).await;
    add_contact(
        &app,
        &admin,
        &ready_customer,
        json!({"first_name": "Not primary"}),
    )
    .await;
    let empty_customer = app.customer(&admin, tagged("No Contact Co")).await;
    let (withdrawn_customer, withdrawn) = customer_with(
        &app,
        &admin,
        tagged("Withdrawn Co"),
        json!({"marketing_consent": {"granted": true, "source": "web_form"}}),
    )
    .await;
    withdraw_consent(&app, &admin, &withdrawn).await;
    let (asked_customer, asked) = customer_with(&app, &admin, tagged("Asked Co"), json!({})).await;
    invited(&app, &admin, &survey, &asked, json!({})).await;
    customer_with_contact(&app, &admin, "Untagged Co", json!({})).await;

    let batch = app
        .post(
            &format!("/v1/surveys/{survey}/invitations/batch"),
            &admin,
            json!({"filter": {"tag": "survey-wave"}}),
        )
        .await;
    batch.assert_status(200);
    let invited = batch.body["invited"].as_array().unwrap();
    assert_eq!(invited.len(), 1, "{}", batch.body);
    let one = &invited[0];
    assert_eq!(
        (
            one["contact_id"].as_str(),
            one["customer_id"].as_str(),
            one["trigger"].as_str(),
            one["status"].as_str()
        ),
        (
            Some(ready.as_str()),
            Some(ready_customer.as_str()),
            Some("manual"),
            Some("sent")
        )
    );
    let token = token_of(one);
    assert!(
        one["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v1/public/surveys/{token}"))
    );
    let skipped = skipped_by(&batch.body, "customer_id", "contact_id");
    assert_eq!(
        skipped,
        BTreeMap::from([
            (
                empty_customer.to_string(),
                (Value::Null, json!("no_contact"))
            ),
            (
                withdrawn_customer,
                (json!(withdrawn), json!("consent_withdrawn"))
            ),
            (asked_customer, (json!(asked), json!("quiet_period"))),
        ]),
        "{}",
        batch.body
    );

    let empty = app
        .post(
            &format!("/v1/surveys/{survey}/invitations/batch"),
            &admin,
            json!({"contact_ids": []}),
        )
        .await;
    empty.assert_problem(422, "validation_failed");
    assert_eq!(empty.error_fields(), ["contact_ids"]);
}

// ---------------------------------------------------------------------------------------------
// The public page

async fn the_public_page_shows_exactly_the_questions_and_marks_the_invitation_opened(app: TestApp) {
    let admin = app.admin_token().await;
    let body = with(
        survey_body("您对我们的服务满意吗?"),
        json!({"language": "zh-CN"}),
    );
    let survey = create_survey(&app, &admin, body.clone()).await;
    let survey_id = id_of(&survey);
    let (customer, contact) =
        customer_with_contact(&app, &admin, "深圳张氏科技有限公司", json!({})).await;
    let ticket = open_ticket(&app, &admin, &customer, json!({"contact_id": contact})).await;
    let sent = invited(
        &app,
        &admin,
        &survey_id,
        &contact,
        json!({"ticket_id": ticket["id"]}),
    )
    .await;
    let token = token_of(&sent);

    let page = open_page(&app, &token).await;
    page.assert_status(200);
    let p = &page.body;
    assert_eq!(keys(p), ["expires_at", "language", "questions", "title"]);
    for q in p["questions"].as_array().unwrap() {
        assert_eq!(
            keys(q),
            ["id", "kind", "max", "min", "options", "required", "text"],
            "{q}"
        );
    }
    assert_eq!(
        (p["title"].as_str(), p["language"].as_str()),
        (Some("您对我们的服务满意吗?"), Some("zh-CN"))
    );
    assert_eq!(time(&p["expires_at"]), time(&sent["expires_at"]));
    let expected: Vec<Value> = body["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            let (min, max) =
                scale(q).map_or((Value::Null, Value::Null), |(a, b)| (json!(a), json!(b)));
            json!({
                "id": q["id"],
                "kind": q["kind"],
                "text": q["text"],
                "required": q.get("required").cloned().unwrap_or(json!(true)),
                "min": min,
                "max": max,
                "options": q.get("options").cloned().unwrap_or(json!([])),
            })
        })
        .collect();
    assert_eq!(p["questions"], json!(expected));
    let text = p.to_string();
    for internal in [
        &survey_id,
        &id_of(&sent),
        &contact,
        &customer,
        &id_of(&ticket),
    ] {
        assert!(
            !text.contains(internal.as_str()),
            "{internal} leaks: {text}"
        );
    }

    // Opening it is recorded, once.
    let opened = invitation(&app, &admin, &survey_id, &id_of(&sent)).await;
    assert_eq!(opened["status"], "opened");
    let at = opened["opened_at"].clone();
    assert!(at.is_string(), "{opened}");
    open_page(&app, &token).await.assert_status(200);
    assert_eq!(
        invitation(&app, &admin, &survey_id, &id_of(&sent)).await["opened_at"],
        at
    );
    let path = format!("/v1/surveys/{survey_id}/invitations");
    assert_eq!(
        list(&app, &admin, &format!("{path}?status=opened"))
            .await
            .len(),
        1
    );
    assert!(
        list(&app, &admin, &format!("{path}?status=sent"))
            .await
            .is_empty()
    );
}

async fn a_token_answers_once(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("Once")).await);
    let (_, contact) = customer_with_contact(&app, &admin, "Once Co", json!({})).await;
    let sent = invited(&app, &admin, &survey, &contact, json!({})).await;
    let token = token_of(&sent);
    let given = answers(&[
        ("speed", json!(5)),
        ("recommend", json!(9)),
        ("staff", json!(6)),
        ("why", json!("quality")),
        ("what", json!(["app", "phone"])),
        ("comment", json!("Quick and kind.")),
    ]);

    let first = answer(&app, &token, given.clone()).await;
    first.assert_status(204);
    assert_eq!(first.body, Value::Null);
    let answered = invitation(&app, &admin, &survey, &id_of(&sent)).await;
    assert_eq!(answered["status"], "answered");
    assert!(answered["answered_at"].is_string());
    for a in given.as_array().unwrap() {
        let q = a["question_id"].as_str().unwrap();
        assert_eq!(
            answer_of(&answered["answers"], q),
            Some(&a["value"]),
            "{q}: {}",
            answered["answers"]
        );
    }
    assert_eq!(
        app.get(&format!("/v1/surveys/{survey}"), &admin).await.body["answered"],
        1
    );

    // Never twice, whatever the second answer says.
    answer(
        &app,
        &token,
        answers(&[("speed", json!(1)), ("recommend", json!(0))]),
    )
    .await
    .assert_problem(409, "already_answered");
    open_page(&app, &token)
        .await
        .assert_problem(409, "already_answered");
    let after = invitation(&app, &admin, &survey, &id_of(&sent)).await;
    assert_eq!(after["answers"], answered["answers"]);
    assert_eq!(after["answered_at"], answered["answered_at"]);
}

async fn unknown_and_malformed_tokens_are_404_alike(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("Guess")).await);
    let (_, contact) = customer_with_contact(&app, &admin, "Real Co", json!({})).await;
    let real = token_of(&invited(&app, &admin, &survey, &contact, json!({})).await);

    let unknown = open_page(&app, &unknown_token()).await;
    unknown.assert_problem(404, "not_found");
    // One character off a real token, and not a token at all: the same answer.
    let first = if real.starts_with('A') { 'B' } else { 'A' };
    let near = format!("{first}{}", &real[1..]);
    for token in [near.as_str(), "abc", "not-a-token-at-all"] {
        let reply = open_page(&app, token).await;
        reply.assert_problem(404, "not_found");
        assert_eq!(
            without_request_id(&reply.body),
            without_request_id(&unknown.body)
        );
        let posted = answer(&app, token, answers(&[("speed", json!(5))])).await;
        posted.assert_problem(404, "not_found");
        assert_eq!(
            without_request_id(&posted.body),
            without_request_id(&unknown.body)
        );
    }
    open_page(&app, &real).await.assert_status(200);
}

async fn an_expired_invitation_is_410(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(
        &create_survey(
            &app,
            &admin,
            with(survey_body("Short-lived"), json!({"expires_in_days": 3})),
        )
        .await,
    );
    let (_, contact) = customer_with_contact(&app, &admin, "Late Co", json!({})).await;
    let sent = invited(&app, &admin, &survey, &contact, json!({})).await;
    let token = token_of(&sent);
    let expires = time(&sent["expires_at"]);
    let created = time(&sent["created_at"]);
    assert_eq!(expires - created, Duration::days(3));

    // Just before: still answerable.
    app.clock.advance(Duration::days(3) - Duration::hours(1));
    open_page(&app, &token).await.assert_status(200);

    app.clock.advance(Duration::hours(2));
    open_page(&app, &token).await.assert_problem(410, "expired");
    answer(
        &app,
        &token,
        answers(&[("speed", json!(5)), ("recommend", json!(10))]),
    )
    .await
    .assert_problem(410, "expired");
    let admin = app.admin_token().await;
    let shown = invitation(&app, &admin, &survey, &id_of(&sent)).await;
    assert_eq!(shown["status"], "expired");
    assert_eq!(shown["answers"], Value::Null);
    let expired = list(
        &app,
        &admin,
        &format!("/v1/surveys/{survey}/invitations?status=expired"),
    )
    .await;
    assert_eq!(
        expired.iter().map(id_of).collect::<Vec<_>>(),
        [id_of(&sent)]
    );
}

async fn invalid_answers_are_named_per_question(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("Strict")).await);
    let (_, contact) = customer_with_contact(&app, &admin, "Strict Co", json!({})).await;
    let sent = invited(&app, &admin, &survey, &contact, json!({})).await;
    let token = token_of(&sent);

    let bad = answer(
        &app,
        &token,
        answers(&[
            ("speed", json!("five")),
            ("recommend", json!(11)),
            ("staff", json!(0)),
            ("why", json!("colour")),
            ("what", json!(["app", "fax"])),
            ("comment", json!("x".repeat(2001))),
            ("nope", json!(1)),
        ]),
    )
    .await;
    bad.assert_problem(422, "validation_failed");
    let codes = error_codes(&bad);
    assert_eq!(
        codes.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "answers.comment",
            "answers.recommend",
            "answers.speed",
            "answers.staff",
            "answers.what",
            "answers.why",
            "answers[6].question_id",
        ],
        "{}",
        bad.body
    );
    for (field, code) in [
        ("answers.speed", "invalid_type"),
        ("answers.recommend", "out_of_range"),
        ("answers.staff", "out_of_range"),
        ("answers.why", "not_allowed"),
        ("answers.what", "not_allowed"),
    ] {
        assert_eq!(codes[field], code, "{field}: {}", bad.body);
    }

    let missing = answer(&app, &token, answers(&[("comment", json!("Only this"))])).await;
    missing.assert_problem(422, "validation_failed");
    assert_eq!(
        error_codes(&missing),
        BTreeMap::from([
            ("answers.recommend".to_owned(), "required".to_owned()),
            ("answers.speed".to_owned(), "required".to_owned()),
        ])
    );

    // Refused answers are not kept: the invitation is still open, and answers once.
    assert_ne!(
        invitation(&app, &admin, &survey, &id_of(&sent)).await["status"],
        "answered"
    );
    answer(
        &app,
        &token,
        answers(&[("speed", json!(3)), ("recommend", json!(0))]),
    )
    .await
    .assert_status(204);
}

async fn tokens_are_shown_only_when_invitations_are_created(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("Secret")).await);
    let (_, a) = customer_with_contact(&app, &admin, "A Co", json!({})).await;
    let (_, b) = customer_with_contact(&app, &admin, "B Co", json!({})).await;
    let first = invited(&app, &admin, &survey, &a, json!({})).await;
    let second = invited(&app, &admin, &survey, &b, json!({})).await;
    let tokens = [token_of(&first), token_of(&second)];
    assert_ne!(tokens[0], tokens[1]);
    for (sent, token) in [(&first, &tokens[0]), (&second, &tokens[1])] {
        assert_eq!(token.len(), 43, "{token}");
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "base64url: {token}"
        );
        assert!(
            sent["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/v1/public/surveys/{token}")),
            "{sent}"
        );
        assert_eq!(
            (
                sent["status"].as_str(),
                sent["trigger"].as_str(),
                &sent["emailed_at"]
            ),
            (Some("sent"), Some("manual"), &Value::Null),
            "no SMTP server: no email"
        );
    }

    let got = invitation(&app, &admin, &survey, &id_of(&first)).await;
    let listed = invitations(&app, &admin, &survey).await;
    assert_eq!(listed.len(), 2);
    for shown in listed.iter().chain([&got]) {
        assert!(
            shown.get("token").is_none() && shown.get("url").is_none(),
            "{shown}"
        );
        let text = shown.to_string();
        assert!(tokens.iter().all(|t| !text.contains(t.as_str())), "{text}");
    }
    let manager = app.user("sales_manager", None).await;
    let text = app
        .get(&format!("/v1/surveys/{survey}/invitations"), &manager.token)
        .await
        .body
        .to_string();
    assert!(tokens.iter().all(|t| !text.contains(t.as_str())));
}

// ---------------------------------------------------------------------------------------------
// Closing the loop

async fn a_low_score_opens_one_complaint_in_the_tickets_team(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app.team("Care desk").await;
    app.user("service_agent", Some(team)).await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("After your ticket")).await);
    let (customer, contact) = customer_with_contact(&app, &admin, "Unhappy Co", json!({})).await;
    let ticket = open_ticket(
        &app,
        &admin,
        &customer,
        json!({"contact_id": contact, "team_id": team, "channel": "phone"}),
    )
    .await;
    let sent = invited(
        &app,
        &admin,
        &survey,
        &contact,
        json!({"ticket_id": ticket["id"]}),
    )
    .await;

    // Both the CSAT and the NPS are low: one follow-up all the same.
    answer(
        &app,
        &token_of(&sent),
        answers(&[
            ("speed", json!(1)),
            ("recommend", json!(2)),
            ("comment", json!("Nobody called back.")),
        ]),
    )
    .await
    .assert_status(204);
    let answered = invitation(&app, &admin, &survey, &id_of(&sent)).await;
    let follow_up = answered["follow_up_ticket_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no follow-up: {answered}"))
        .to_owned();
    let opened = app.get(&format!("/v1/tickets/{follow_up}"), &admin).await;
    opened.assert_status(200);
    assert_eq!(
        (
            opened.body["category"].as_str(),
            opened.body["team_id"].as_str(),
            opened.body["customer_id"].as_str(),
        ),
        (
            Some("complaint"),
            Some(team.to_string().as_str()),
            Some(customer.as_str())
        )
    );
    let tickets = list(&app, &admin, &format!("/v1/tickets?customer_id={customer}")).await;
    let ids: BTreeSet<String> = tickets.iter().map(id_of).collect();
    assert_eq!(ids, BTreeSet::from([id_of(&ticket), follow_up]));
}

async fn a_low_nps_without_a_ticket_opens_a_request_for_the_customers_owner(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("Quarterly check")).await);
    let (customer, contact) = customer_with_contact(&app, &rep.token, "Owned Co", json!({})).await;
    let sent = invited(&app, &admin, &survey, &contact, json!({})).await;
    // A fine CSAT; an NPS at the threshold (6).
    answer(
        &app,
        &token_of(&sent),
        answers(&[("speed", json!(4)), ("recommend", json!(6))]),
    )
    .await
    .assert_status(204);
    let answered = invitation(&app, &admin, &survey, &id_of(&sent)).await;
    let follow_up = answered["follow_up_ticket_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no follow-up: {answered}"))
        .to_owned();
    let opened = app
        .get(&format!("/v1/tickets/{follow_up}"), &admin)
        .await
        .body;
    assert_eq!(
        (
            opened["category"].as_str(),
            &opened["assignee_id"],
            opened["customer_id"].as_str()
        ),
        (Some("request"), &json!(rep.id), Some(customer.as_str()))
    );
    assert_eq!(
        list(&app, &admin, &format!("/v1/tickets?customer_id={customer}"))
            .await
            .len(),
        1
    );
}

async fn good_scores_or_no_thresholds_open_no_ticket(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("Defaults")).await);
    let lenient = id_of(
        &create_survey(
            &app,
            &admin,
            with(
                survey_body("No follow-ups"),
                json!({"follow_up_csat_at_most": null, "follow_up_nps_at_most": null}),
            ),
        )
        .await,
    );
    // Just above the thresholds (csat 3 > 2, nps 7 > 6); the lowest scores without thresholds.
    for (survey, speed, recommend) in [(&survey, 3, 7), (&lenient, 1, 0)] {
        let (customer, contact) = customer_with_contact(&app, &admin, "Fine Co", json!({})).await;
        let ticket = open_ticket(&app, &admin, &customer, json!({"contact_id": contact})).await;
        let sent = invited(
            &app,
            &admin,
            survey,
            &contact,
            json!({"ticket_id": ticket["id"]}),
        )
        .await;
        answer(
            &app,
            &token_of(&sent),
            answers(&[("speed", json!(speed)), ("recommend", json!(recommend))]),
        )
        .await
        .assert_status(204);
        let answered = invitation(&app, &admin, survey, &id_of(&sent)).await;
        assert_eq!(answered["status"], "answered");
        assert_eq!(answered["follow_up_ticket_id"], Value::Null);
        let tickets = list(&app, &admin, &format!("/v1/tickets?customer_id={customer}")).await;
        assert_eq!(
            tickets.iter().map(id_of).collect::<Vec<_>>(),
            [id_of(&ticket)]
        );
    }
}

async fn free_text_answers_are_on_the_customers_timeline(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("Tell us")).await);
    let (customer, contact) = customer_with_contact(&app, &admin, "Talkative Co", json!({})).await;
    let sent = invited(&app, &admin, &survey, &contact, json!({})).await;
    let words = "打印机还是卡纸 — the printer still jams";
    answer(
        &app,
        &token_of(&sent),
        answers(&[
            ("speed", json!(4)),
            ("recommend", json!(8)),
            ("comment", json!(words)),
        ]),
    )
    .await
    .assert_status(204);

    let timeline = list(&app, &admin, &format!("/v1/customers/{customer}/timeline")).await;
    let entries: Vec<&Value> = timeline
        .iter()
        .filter(|e| e["type"] == "survey_invitation")
        .filter(|e| e["survey_invitation"]["id"] == sent["id"])
        .collect();
    assert_eq!(entries.len(), 1, "{timeline:#?}");
    let shown = &entries[0]["survey_invitation"];
    assert_eq!(shown["status"], "answered");
    assert_eq!(answer_of(&shown["answers"], "comment"), Some(&json!(words)));
    assert!(shown.get("token").is_none(), "{shown}");
}

// ---------------------------------------------------------------------------------------------
// Results, computed here from the answers sent

/// An answered invitation of the results fixture.
struct Sent {
    answers: Value,
    answered_at: DateTime<Utc>,
    /// The breakdown key by agent: the ticket's assignee, or the customer's owner.
    agent: Value,
    /// The breakdown key by channel: the ticket's, or null.
    channel: Value,
}

/// A planned invitation of the results fixture: the answers it gets (none: left unanswered),
/// and the ticket it is about, as its channel and the index of its agent (none: about nothing).
type Plan = (Option<Value>, Option<(&'static str, usize)>);

struct Fixture {
    admin: String,
    survey: String,
    body: Value,
    invited: usize,
    sent: Vec<Sent>,
}

/// Five invitations to five customers of a sales rep: four answered with known values (three
/// about tickets of two agents on two channels, one about nothing), one left unanswered.
async fn answered_fixture(app: &TestApp) -> Fixture {
    let admin = app.admin_token().await;
    let agents = [
        app.user("service_agent", None).await,
        app.user("service_agent", None).await,
    ];
    let rep = app.user("sales_rep", None).await;
    let body = with(
        survey_body("Results"),
        json!({"follow_up_csat_at_most": null, "follow_up_nps_at_most": null}),
    );
    let survey = id_of(&create_survey(app, &admin, body.clone()).await);
    let plans: [Plan; 5] = [
        (
            Some(answers(&[
                ("speed", json!(5)),
                ("recommend", json!(10)),
                ("staff", json!(7)),
                ("why", json!("quality")),
                ("what", json!(["app", "web"])),
                ("comment", json!("Great")),
            ])),
            Some(("email", 0)),
        ),
        (
            Some(answers(&[
                ("speed", json!(4)),
                ("recommend", json!(8)),
                ("staff", json!(4)),
                ("why", json!("price")),
                ("what", json!(["web"])),
            ])),
            Some(("phone", 1)),
        ),
        (
            Some(answers(&[
                ("speed", json!(2)),
                ("recommend", json!(3)),
                ("why", json!("quality")),
            ])),
            Some(("email", 0)),
        ),
        (
            Some(answers(&[
                ("speed", json!(1)),
                ("recommend", json!(9)),
                ("staff", json!(2)),
                ("what", json!(["app", "phone"])),
                ("comment", json!("Slow")),
            ])),
            None,
        ),
        (None, Some(("phone", 1))),
    ];
    let invited_count = plans.len();
    let mut sent = Vec::new();
    for (n, (given, about)) in plans.into_iter().enumerate() {
        let (customer, contact) =
            customer_with_contact(app, &rep.token, &format!("Results {n}"), json!({})).await;
        let (extra, agent, channel) = match about {
            Some((channel, agent)) => {
                let ticket = open_ticket(
                    app,
                    &admin,
                    &customer,
                    json!({"contact_id": contact, "channel": channel, "assignee_id": agents[agent].id}),
                )
                .await;
                (
                    json!({"ticket_id": ticket["id"]}),
                    json!(agents[agent].id),
                    json!(channel),
                )
            }
            None => (json!({}), json!(rep.id), Value::Null),
        };
        let invitation_sent = invited(app, &admin, &survey, &contact, extra).await;
        if let Some(given) = given {
            answer(app, &token_of(&invitation_sent), given.clone())
                .await
                .assert_status(204);
            let answered = invitation(app, &admin, &survey, &id_of(&invitation_sent)).await;
            sent.push(Sent {
                answers: given,
                answered_at: time(&answered["answered_at"]),
                agent,
                channel,
            });
        }
    }
    Fixture {
        admin,
        survey,
        body,
        invited: invited_count,
        sent,
    }
}

/// Rounded to `places` decimals, half away from zero.
fn round(x: f64, places: i32) -> f64 {
    let factor = 10f64.powi(places);
    (x * factor).round() / factor
}

/// A percentage, one decimal.
fn percent(part: usize, whole: usize) -> f64 {
    round(part as f64 / whole as f64 * 100.0, 1)
}

/// The integer answers to `question`.
fn ints(sent: &[&Sent], question: &str) -> Vec<i64> {
    sent.iter()
        .filter_map(|s| answer_of(&s.answers, question))
        .filter_map(Value::as_i64)
        .collect()
}

/// The CSAT block of the answers to the csat question `speed`, or null.
fn csat(sent: &[&Sent]) -> Value {
    let values = ints(sent, "speed");
    if values.is_empty() {
        return Value::Null;
    }
    let satisfied = values.iter().filter(|v| **v >= 4).count();
    json!({"responses": values.len(), "satisfied": satisfied, "score": percent(satisfied, values.len())})
}

/// The NPS block of the answers to the nps question `recommend`, or null.
fn nps(sent: &[&Sent]) -> Value {
    let values = ints(sent, "recommend");
    if values.is_empty() {
        return Value::Null;
    }
    let promoters = values.iter().filter(|v| **v >= 9).count();
    let detractors = values.iter().filter(|v| **v <= 6).count();
    let score = round(
        (promoters as f64 - detractors as f64) / values.len() as f64 * 100.0,
        1,
    );
    json!({
        "responses": values.len(),
        "promoters": promoters,
        "passives": values.len() - promoters - detractors,
        "detractors": detractors,
        "score": score,
    })
}

/// A trend or breakdown row's scores: `{answered, csat, nps}`.
fn scores(sent: &[&Sent]) -> Value {
    json!({
        "answered": sent.len(),
        "csat": csat(sent).get("score").cloned().unwrap_or(Value::Null),
        "nps": nps(sent).get("score").cloned().unwrap_or(Value::Null),
    })
}

/// The results the spec's formulas give for `sent` out of `invited` invitations.
fn expected_results(body: &Value, invited: usize, sent: &[&Sent]) -> Value {
    let questions = body["questions"].as_array().unwrap();
    // Every numeric answer, scaled to 0–100, under its question's dimension.
    let mut dimensions: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for q in questions {
        let Some((min, max)) = scale(q) else { continue };
        let dimension = q["dimension"].as_str().unwrap_or("overall").to_owned();
        let scaled = ints(sent, q["id"].as_str().unwrap())
            .into_iter()
            .map(|v| (v - min) as f64 / (max - min) as f64 * 100.0);
        dimensions.entry(dimension).or_default().extend(scaled);
    }
    let dimensions: Vec<Value> = dimensions
        .into_iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(dimension, values)| {
            let average = values.iter().sum::<f64>() / values.len() as f64;
            json!({"dimension": dimension, "responses": values.len(), "average": round(average, 1)})
        })
        .collect();
    let per_question: Vec<Value> = questions
        .iter()
        .map(|q| {
            let id = q["id"].as_str().unwrap();
            let given: Vec<&Value> = sent.iter().filter_map(|s| answer_of(&s.answers, id)).collect();
            let codes = || q["options"].as_array().unwrap().iter().map(|o| o["code"].as_str().unwrap());
            let (average, distribution) = match (scale(q), q["kind"].as_str().unwrap()) {
                (Some((min, max)), _) => {
                    let values = ints(sent, id);
                    let average = (!values.is_empty()).then(|| {
                        round(values.iter().sum::<i64>() as f64 / values.len() as f64, 2)
                    });
                    let distribution: Vec<Value> = (min..=max)
                        .map(|v| json!({"value": v.to_string(), "count": values.iter().filter(|x| **x == v).count()}))
                        .collect();
                    (json!(average), distribution)
                }
                (None, "single_choice") => (
                    Value::Null,
                    codes()
                        .map(|c| json!({"value": c, "count": given.iter().filter(|v| **v == c).count()}))
                        .collect(),
                ),
                (None, "multi_choice") => (
                    Value::Null,
                    codes()
                        .map(|c| {
                            let count = given
                                .iter()
                                .filter(|v| v.as_array().unwrap().iter().any(|x| x == c))
                                .count();
                            json!({"value": c, "count": count})
                        })
                        .collect(),
                ),
                _ => (Value::Null, Vec::new()),
            };
            json!({
                "question_id": id,
                "kind": q["kind"],
                "responses": given.len(),
                "average": average,
                "distribution": distribution,
            })
        })
        .collect();
    json!({
        "invited": invited,
        "answered": sent.len(),
        "response_rate": percent(sent.len(), invited),
        "csat": csat(sent),
        "nps": nps(sent),
        "dimensions": dimensions,
        "questions": per_question,
        "breakdown": [],
    })
}

/// The first day of the month of `t`.
fn month_of(t: DateTime<Utc>) -> NaiveDate {
    NaiveDate::from_ymd_opt(t.year(), t.month(), 1).unwrap()
}

/// The Monday of the week of `t`.
fn week_of(t: DateTime<Utc>) -> NaiveDate {
    t.date_naive() - Duration::days(i64::from(t.weekday().num_days_from_monday()))
}

/// The trend rows of `sent`, by the period `period` puts each answer in, ascending.
fn expected_trend(sent: &[&Sent], period: fn(DateTime<Utc>) -> NaiveDate) -> Value {
    let mut periods: BTreeMap<NaiveDate, Vec<&Sent>> = BTreeMap::new();
    for s in sent {
        periods.entry(period(s.answered_at)).or_default().push(s);
    }
    periods
        .into_iter()
        .map(|(start, rows)| with(json!({"period": start.to_string()}), scores(&rows)))
        .collect()
}

/// The breakdown rows of `sent` by `key`, keyed by the key's JSON text.
fn expected_breakdown(sent: &[&Sent], key: fn(&Sent) -> &Value) -> BTreeMap<String, Value> {
    let mut groups: BTreeMap<String, Vec<&Sent>> = BTreeMap::new();
    for s in sent {
        groups.entry(key(s).to_string()).or_default().push(s);
    }
    groups
        .into_iter()
        .map(|(k, rows)| (k, scores(&rows)))
        .collect()
}

/// An answered breakdown, keyed by each row's key's JSON text.
fn breakdown_of(results: &Value) -> BTreeMap<String, Value> {
    results["breakdown"]
        .as_array()
        .unwrap_or_else(|| panic!("no breakdown in {results}"))
        .iter()
        .map(|row| (row["key"].to_string(), row.clone()))
        .collect()
}

/// Asserts that `actual` holds every field of `expected`, numbers equal to within rounding of
/// the JSON text, arrays of the same length in the same order.
#[track_caller]
fn assert_matches(actual: &Value, expected: &Value, path: &str) {
    match expected {
        Value::Number(e) => {
            let a = actual
                .as_f64()
                .unwrap_or_else(|| panic!("{path}: {actual} is not a number"));
            let e = e.as_f64().unwrap();
            assert!((a - e).abs() < 1e-9, "{path}: {a} is not {e}");
        }
        Value::Object(fields) => {
            assert!(actual.is_object(), "{path}: {actual} is not an object");
            for (k, v) in fields {
                assert_matches(&actual[k], v, &format!("{path}.{k}"));
            }
        }
        Value::Array(items) => {
            let got = actual
                .as_array()
                .unwrap_or_else(|| panic!("{path}: {actual} is not a list"));
            assert_eq!(got.len(), items.len(), "{path}: {actual} vs {expected}");
            for (n, (a, e)) in got.iter().zip(items).enumerate() {
                assert_matches(a, e, &format!("{path}[{n}]"));
            }
        }
        _ => assert_eq!(actual, expected, "{path}"),
    }
}

/// `results` with the distributions of choice questions sorted by value, as the spec leaves
/// their order open.
fn choices_sorted(mut results: Value) -> Value {
    if let Some(questions) = results["questions"].as_array_mut() {
        for q in questions {
            let choice = q["kind"] == "single_choice" || q["kind"] == "multi_choice";
            if choice && let Some(d) = q["distribution"].as_array_mut() {
                d.sort_by_key(|row| row["value"].to_string());
            }
        }
    }
    results
}

async fn results_of(app: &TestApp, token: &str, survey: &str, query: &str) -> Value {
    let reply = app
        .get(&format!("/v1/surveys/{survey}/results{query}"), token)
        .await;
    reply.assert_status(200);
    reply.body
}

async fn results_match_the_answers_sent(app: TestApp) {
    let f = answered_fixture(&app).await;
    let sent: Vec<&Sent> = f.sent.iter().collect();
    let results = results_of(&app, &f.admin, &f.survey, "").await;
    let expected = expected_results(&f.body, f.invited, &sent);
    assert_matches(
        &choices_sorted(results.clone()),
        &choices_sorted(expected),
        "results",
    );
    // The values the fixture's answers give, written out: 4 of 5 answered; CSAT 5, 4, 2, 1;
    // NPS 10, 8, 3, 9; overall mixes the NPS and the 1–7 staff rating, scaled to 0–100.
    assert_matches(
        &results,
        &json!({
            "invited": 5, "answered": 4, "response_rate": 80.0,
            "csat": {"responses": 4, "satisfied": 2, "score": 50.0},
            "nps": {"responses": 4, "promoters": 2, "passives": 1, "detractors": 1, "score": 25.0},
            "dimensions": [
                {"dimension": "overall", "responses": 7, "average": 66.7},
                {"dimension": "response_speed", "responses": 4, "average": 50.0},
            ],
        }),
        "results",
    );
    assert_eq!(results["questions"][2]["average"], json!(4.33));
    // The survey counts its answered invitations; a sales manager reads the results too.
    let survey = app
        .get(&format!("/v1/surveys/{}", f.survey), &f.admin)
        .await
        .body;
    assert_eq!(survey["answered"], 4);
    let manager = app.user("sales_manager", None).await;
    app.get(&format!("/v1/surveys/{}/results", f.survey), &manager.token)
        .await
        .assert_status(200);
    // As CSV, a line per figure with the same numbers.
    let csv = app
        .client
        .get(app.url(&format!("/v1/surveys/{}/results", f.survey)))
        .bearer_auth(&f.admin)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let figure = |section: &str, key: &str, name: &str| {
        csv.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|l| l[..3] == [section, key, name])
            .and_then(|l| l[3].parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {section},{key},{name} in {csv}"))
    };
    let number = |v: &Value| v.as_f64().unwrap();
    assert_eq!(
        figure("total", "", "csat"),
        number(&results["csat"]["score"])
    );
    assert_eq!(figure("total", "", "nps"), number(&results["nps"]["score"]));
    assert_eq!(
        figure("question", "speed", "average"),
        number(&results["questions"][0]["average"])
    );
    let rep = app.user("sales_rep", None).await;
    app.get(&format!("/v1/surveys/{}/results", f.survey), &rep.token)
        .await
        .assert_problem(403, "forbidden");
}

async fn the_satisfaction_report_matches_the_results(app: TestApp) {
    let f = answered_fixture(&app).await;
    for query in ["", "&group_by=channel", "&interval=week&group_by=agent"] {
        let results = results_of(&app, &f.admin, &f.survey, &query.replacen('&', "?", 1)).await;
        let report = app
            .get(
                &format!("/v1/reports/satisfaction?survey_id={}{query}", f.survey),
                &f.admin,
            )
            .await;
        report.assert_status(200);
        assert_eq!(report.body["questions"], json!([]), "{}", report.body);
        let mut report = report.body;
        let mut results = results;
        report.as_object_mut().unwrap().remove("questions");
        results.as_object_mut().unwrap().remove("questions");
        assert_eq!(report, results, "{query}");
    }
    let agent = app.user("service_agent", None).await;
    app.get(
        &format!("/v1/reports/satisfaction?survey_id={}", f.survey),
        &agent.token,
    )
    .await
    .assert_problem(403, "forbidden");
}

async fn results_break_down_by_agent_and_channel(app: TestApp) {
    let f = answered_fixture(&app).await;
    let sent: Vec<&Sent> = f.sent.iter().collect();
    let by_agent = results_of(&app, &f.admin, &f.survey, "?group_by=agent").await;
    let expected = expected_breakdown(&sent, |s| &s.agent);
    let actual = breakdown_of(&by_agent);
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{by_agent:#}"
    );
    for (key, row) in &expected {
        assert_matches(&actual[key], row, &format!("agent {key}"));
    }
    // The totals do not change with a breakdown.
    assert_matches(
        &by_agent,
        &json!({"invited": 5, "answered": 4, "csat": csat(&sent), "nps": nps(&sent)}),
        "totals",
    );

    let by_channel = results_of(&app, &f.admin, &f.survey, "?group_by=channel").await;
    let expected = expected_breakdown(&sent, |s| &s.channel);
    let actual = breakdown_of(&by_channel);
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        ["\"email\"", "\"phone\"", "null"],
        "{by_channel:#}"
    );
    for (key, row) in &expected {
        assert_matches(&actual[key], row, &format!("channel {key}"));
    }
    app.get(
        &format!("/v1/surveys/{}/results?group_by=mood", f.survey),
        &f.admin,
    )
    .await
    .assert_status(400);
}

async fn results_trend_by_month_and_week_and_filter_by_time(app: TestApp) {
    let f = answered_fixture(&app).await;
    let mut sent: Vec<&Sent> = f.sent.iter().collect();
    let month = results_of(&app, &f.admin, &f.survey, "").await;
    assert_matches(&month["trend"], &expected_trend(&sent, month_of), "trend");
    let week = results_of(&app, &f.admin, &f.survey, "?interval=week").await;
    assert_matches(&week["trend"], &expected_trend(&sent, week_of), "weekly");

    // Forty days on (another month, another week), one more invitation, answered.
    let cut = app.clock.now() + Duration::days(20);
    app.clock.advance(Duration::days(40));
    let admin = app.admin_token().await;
    let (_, contact) = customer_with_contact(&app, &admin, "Later Co", json!({})).await;
    let later = invited(&app, &admin, &f.survey, &contact, json!({})).await;
    let given = answers(&[("speed", json!(5)), ("recommend", json!(6))]);
    answer(&app, &token_of(&later), given.clone())
        .await
        .assert_status(204);
    let answered = invitation(&app, &admin, &f.survey, &id_of(&later)).await;
    let last = Sent {
        answers: given,
        answered_at: time(&answered["answered_at"]),
        agent: Value::Null,
        channel: Value::Null,
    };

    // Before the cut: the first five invitations only; from it: the last one only.
    let before = results_of(&app, &admin, &f.survey, &format!("?to={}", rfc3339(cut))).await;
    assert_matches(
        &choices_sorted(before),
        &choices_sorted(expected_results(&f.body, f.invited, &sent)),
        "before the cut",
    );
    let after = results_of(&app, &admin, &f.survey, &format!("?from={}", rfc3339(cut))).await;
    assert_matches(
        &choices_sorted(after.clone()),
        &choices_sorted(expected_results(&f.body, 1, &[&last])),
        "from the cut",
    );
    assert_matches(
        &after["trend"],
        &expected_trend(&[&last], month_of),
        "trend from the cut",
    );

    sent.push(&last);
    let all = results_of(&app, &admin, &f.survey, "?interval=month").await;
    let trend = expected_trend(&sent, month_of);
    assert!(trend.as_array().unwrap().len() >= 2, "{trend}");
    assert_matches(&all["trend"], &trend, "monthly");
    assert_matches(
        &all,
        &json!({"invited": 6, "answered": 5, "response_rate": 83.3}),
        "all",
    );
    let weekly = results_of(&app, &admin, &f.survey, "?interval=week").await;
    assert_matches(&weekly["trend"], &expected_trend(&sent, week_of), "weekly");
    app.get(
        &format!("/v1/surveys/{}/results?interval=day", f.survey),
        &admin,
    )
    .await
    .assert_status(400);
}

// ---------------------------------------------------------------------------------------------
// Rate limits

async fn the_public_endpoint_is_rate_limited_after_a_burst(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("Limited")).await);
    let (_, contact) = customer_with_contact(&app, &admin, "Limited Co", json!({})).await;
    let token = token_of(&invited(&app, &admin, &survey, &contact, json!({})).await);

    // A burst of 30 guesses is answered (404), however fast.
    for n in 0..30 {
        let reply = open_page(&app, &unknown_token()).await;
        assert_eq!(reply.status, 404, "request {n}: {}", reply.body);
    }
    // Then even a real token is refused, with the time to wait.
    let mut refused = None;
    for _ in 0..10 {
        let reply = open_page(&app, &token).await;
        if reply.status == 429 {
            refused = Some(reply);
            break;
        }
    }
    let refused = refused.expect("no 429 after the burst");
    refused.assert_problem(429, "rate_limited");
    let wait: u64 = refused
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    // The staff API is not the public page's budget.
    app.get(&format!("/v1/surveys/{survey}"), &admin)
        .await
        .assert_status(200);

    tokio::time::sleep(StdDuration::from_secs(wait)).await;
    open_page(&app, &token).await.assert_status(200);
}

/// `GET` of a public page as a client behind a trusted proxy.
async fn open_page_from(app: &TestApp, client_ip: &str, token: &str) -> Reply {
    let response = app
        .client
        .get(app.url(&public(token)))
        .header("x-forwarded-for", client_ip)
        .send()
        .await
        .unwrap();
    rapport_tests::read(response).await
}

async fn the_public_rate_limit_is_per_client_address(app: TestApp) {
    let mut limited = false;
    for _ in 0..40 {
        let reply = open_page_from(&app, "203.0.113.7", &unknown_token()).await;
        if reply.status == 429 {
            reply.assert_problem(429, "rate_limited");
            limited = true;
            break;
        }
        assert_eq!(reply.status, 404, "{}", reply.body);
    }
    assert!(limited, "203.0.113.7 is never limited");
    open_page_from(&app, "203.0.113.8", &unknown_token())
        .await
        .assert_problem(404, "not_found");
}

// ---------------------------------------------------------------------------------------------
// Who may

async fn invitations_are_for_survey_writers_and_unknown_ids_are_404(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("Guarded")).await);
    let other = id_of(&create_survey(&app, &admin, survey_body("Other")).await);
    let team = app.team("Guards").await;
    let seller = app.user("sales_rep", Some(team)).await;
    let (_, contact) = customer_with_contact(&app, &seller.token, "Guarded Co", json!({})).await;
    let sent = invited(&app, &admin, &survey, &contact, json!({})).await;
    let path = format!("/v1/surveys/{survey}/invitations");
    let one = format!("{path}/{}", id_of(&sent));

    app.get(&path, "").await.assert_status(401);
    let rep = app.user("sales_rep", None).await;
    app.get(&path, &rep.token)
        .await
        .assert_problem(403, "forbidden");
    // A sales manager of the customer's team reads, and may not invite.
    let manager = app.user("sales_manager", Some(team)).await;
    app.get(&path, &manager.token).await.assert_status(200);
    app.get(&one, &manager.token).await.assert_status(200);
    let (_, fresh) = customer_with_contact(&app, &admin, "Fresh Co", json!({})).await;
    app.post(&path, &manager.token, json!({"contact_id": fresh}))
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &format!("{path}/batch"),
        &manager.token,
        json!({"contact_ids": [fresh]}),
    )
    .await
    .assert_problem(403, "forbidden");
    let marketer = app.user("marketing", None).await;
    invited(&app, &marketer.token, &survey, &fresh, json!({})).await;

    let nowhere = Uuid::now_v7();
    app.get(&format!("/v1/surveys/{nowhere}/invitations"), &admin)
        .await
        .assert_problem(404, "not_found");
    app.post(
        &format!("/v1/surveys/{nowhere}/invitations"),
        &admin,
        json!({"contact_id": contact}),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(&format!("{path}/{nowhere}"), &admin)
        .await
        .assert_problem(404, "not_found");
    app.get(
        &format!("/v1/surveys/{other}/invitations/{}", id_of(&sent)),
        &admin,
    )
    .await
    .assert_problem(404, "not_found");
    app.get(&format!("/v1/surveys/{nowhere}/results"), &admin)
        .await
        .assert_problem(404, "not_found");

    // What an invitation names must exist and belong to the contact's customer.
    let unknown_contact = invite(&app, &admin, &other, json!({"contact_id": nowhere})).await;
    unknown_contact.assert_problem(422, "validation_failed");
    assert_eq!(unknown_contact.error_fields(), ["contact_id"]);
    let (stranger, _) = customer_with_contact(&app, &admin, "Stranger Co", json!({})).await;
    let foreign = open_ticket(&app, &admin, &stranger, json!({})).await;
    let (_, later) = customer_with_contact(&app, &admin, "Later Co", json!({})).await;
    let wrong = invite(
        &app,
        &admin,
        &other,
        json!({"contact_id": later, "ticket_id": foreign["id"]}),
    )
    .await;
    wrong.assert_problem(422, "validation_failed");
    assert_eq!(wrong.error_fields(), ["ticket_id"]);
}

async fn a_sales_manager_sees_only_invitations_of_its_teams_customers(app: TestApp) {
    let admin = app.admin_token().await;
    let (east, west) = (app.team("East").await, app.team("West").await);
    let east_manager = app.user("sales_manager", Some(east)).await;
    let west_manager = app.user("sales_manager", Some(west)).await;
    let rep = app.user("sales_rep", Some(east)).await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("Teams")).await);
    let (_, contact) = customer_with_contact(&app, &rep.token, "East Co", json!({})).await;
    let sent = invited(&app, &admin, &survey, &contact, json!({})).await;
    let one = format!("/v1/surveys/{survey}/invitations/{}", id_of(&sent));

    app.get(&one, &east_manager.token).await.assert_status(200);
    app.get(&one, &west_manager.token)
        .await
        .assert_problem(404, "not_found");
    let seen = list(
        &app,
        &west_manager.token,
        &format!("/v1/surveys/{survey}/invitations"),
    )
    .await;
    assert!(seen.is_empty(), "{seen:#?}");
    let east_seen = list(
        &app,
        &east_manager.token,
        &format!("/v1/surveys/{survey}/invitations"),
    )
    .await;
    assert_eq!(east_seen.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Email, through an SMTP sink the test starts

mod invitations_are_emailed_through_smtp {
    use rapport_tests::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::invitations_are_emailed_through_smtp(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::invitations_are_emailed_through_smtp(Backend::Postgres).await;
    }
}

async fn invitations_are_emailed_through_smtp(backend: Backend) {
    let sink = SmtpSink::start().await;
    let smtp_url = sink.url();
    let app = TestApp::spawn_with(backend, |a| a.smtp_url = Some(smtp_url.into())).await;
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("How did we do?")).await);
    let (_, silent) = customer_with_contact(&app, &admin, "No Address Co", json!({})).await;
    let (_, contact) = customer_with_contact(
        &app,
        &admin,
        "Mail Co",
        json!({"emails": [
            {"address": "Li.Lei@Example.CN", "label": "work"},
            {"address": "lei@home.example", "label": "home"},
        ]}),
    )
    .await;
    let unmailed = invited(&app, &admin, &survey, &silent, json!({})).await;
    let sent = invited(&app, &admin, &survey, &contact, json!({})).await;
    let url = sent["url"].as_str().unwrap().to_owned();

    let mails = sink.wait_for(1).await;
    let mail = &mails[0];
    assert_eq!(mail.to, ["li.lei@example.cn"], "to the primary address");
    assert_eq!(mail.from, "rapport@localhost");
    assert_eq!(mail.header("subject").as_deref(), Some("How did we do?"));
    let text = mail.text();
    assert!(
        text.contains(&url),
        "no {url} in:\n{text}\nraw:\n{}",
        mail.data
    );

    // The invitation records the sending.
    let deadline = Instant::now() + StdDuration::from_secs(10);
    loop {
        let shown = invitation(&app, &admin, &survey, &id_of(&sent)).await;
        if shown["emailed_at"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "never emailed: {shown}");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    // Once every email job is done: nothing for the contact without an address.
    jobs_done(&app, &admin, EMAIL_JOB, 1).await;
    assert_eq!(sink.mails().len(), 1, "{:#?}", sink.mails());
    assert_eq!(
        invitation(&app, &admin, &survey, &id_of(&unmailed)).await["emailed_at"],
        Value::Null
    );
}

async fn erasure_and_deletion_close_the_public_link(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("After your visit")).await);
    let (erased, erased_contact) =
        customer_with_contact(&app, &admin, "Erased Ltd", json!({})).await;
    let (deleted, deleted_contact) =
        customer_with_contact(&app, &admin, "Deleted Ltd", json!({})).await;
    let to_erase = invited(&app, &admin, &survey, &erased_contact, json!({})).await;
    let to_delete = invited(&app, &admin, &survey, &deleted_contact, json!({})).await;

    app.post(&format!("/v1/customers/{erased}/erase"), &admin, json!({}))
        .await
        .assert_status(200);
    // The link in the person's inbox stops working: nothing more is kept about them.
    open_page(&app, &token_of(&to_erase))
        .await
        .assert_problem(410, "expired");
    answer(&app, &token_of(&to_erase), answers(&[("speed", json!(1))]))
        .await
        .assert_problem(410, "expired");
    let kept = invitation(&app, &admin, &survey, &id_of(&to_erase)).await;
    assert_eq!(kept["status"], "expired");
    assert_eq!(kept["answers"], Value::Null);

    app.delete(&format!("/v1/customers/{deleted}"), &admin)
        .await
        .assert_status(204);
    open_page(&app, &token_of(&to_delete))
        .await
        .assert_problem(404, "not_found");
    answer(&app, &token_of(&to_delete), answers(&[("speed", json!(1))]))
        .await
        .assert_problem(404, "not_found");
    let tickets = list(&app, &admin, &format!("/v1/tickets?customer_id={deleted}")).await;
    assert!(tickets.is_empty(), "no follow-up for a deleted customer");
}

async fn an_invitation_is_about_what_its_sender_may_read(app: TestApp) {
    let admin = app.admin_token().await;
    let marketer = app.user("marketing", None).await;
    let marketer = app.token_of(&marketer).await;
    let survey = id_of(&create_survey(&app, &admin, survey_body("After your ticket")).await);
    let (customer, contact) = customer_with_contact(&app, &admin, "Scoped Ltd", json!({})).await;
    let ticket = id_of(&open_ticket(&app, &admin, &customer, json!({})).await);
    let deal = app
        .post(
            "/v1/opportunities",
            &admin,
            json!({"customer_id": customer, "title": "Toner"}),
        )
        .await;
    deal.assert_status(201);

    // Marketing sends surveys but reads no tickets: the ticket is not one it can name.
    let refused = invite(
        &app,
        &marketer,
        &survey,
        json!({"contact_id": contact, "ticket_id": ticket}),
    )
    .await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["ticket_id"]);
    // An invitation is about one record at most.
    let both = invite(
        &app,
        &admin,
        &survey,
        json!({"contact_id": contact, "ticket_id": ticket, "opportunity_id": id_of(&deal.body)}),
    )
    .await;
    both.assert_problem(422, "validation_failed");
    assert_eq!(both.error_fields(), ["opportunity_id"]);
    assert!(invitations(&app, &admin, &survey).await.is_empty());
    // Without the ticket, marketing invites.
    invited(&app, &marketer, &survey, &contact, json!({})).await;
}
