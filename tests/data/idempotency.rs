//! `Idempotency-Key` on creating `POST`s: a retry answers the first answer and creates nothing.

use chrono::Duration;
use futures_util::future::join_all;
use rapport_tests::{Reply, TestApp, backend_tests, read};
use reqwest::Method;
use serde_json::{Value, json};

backend_tests!(
    a_replay_answers_the_first_answer_and_creates_nothing,
    the_same_key_with_another_request_is_refused,
    keys_are_per_caller,
    concurrent_requests_with_one_key_create_one_customer,
    tasks_and_teams_are_idempotent_too,
    a_replayed_user_or_client_shows_no_secret,
    a_replayed_survey_invitation_shows_no_token,
    a_malformed_key_is_a_400,
    a_key_is_forgotten_after_24_hours,
    a_replay_needs_a_live_session,
    erasure_forgets_the_answers_that_would_replay_it,
);

/// `POST path` with a bearer token, an `Idempotency-Key` and a JSON body.
async fn post_keyed(app: &TestApp, path: &str, token: &str, key: &str, body: &Value) -> Reply {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("request sent");
    read(response).await
}

fn replayed(reply: &Reply) -> bool {
    reply.header("idempotent-replayed") == Some("true")
}

/// How many records `GET path` lists.
async fn listed(app: &TestApp, path: &str, token: &str) -> usize {
    let reply = app.get(path, token).await;
    reply.assert_status(200);
    reply.body["data"].as_array().unwrap().len()
}

async fn a_replay_answers_the_first_answer_and_creates_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    let body = json!({"name": "Acme", "contacts": [{"first_name": "Lei",
                      "emails": [{"address": "li.lei@example.cn"}]}]});

    let first = post_keyed(&app, "/v1/customers", &admin, "order-42", &body).await;
    first.assert_status(201);
    assert!(!replayed(&first));
    let id = first.body["id"].as_str().unwrap();

    // Without the key, the retry would be refused as a duplicate; with it, it is the same answer.
    let again = post_keyed(&app, "/v1/customers", &admin, "order-42", &body).await;
    again.assert_status(201);
    assert!(replayed(&again), "{:?}", again.headers);
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(
        again.header("content-type"),
        Some("application/json"),
        "{:?}",
        again.headers
    );

    assert_eq!(listed(&app, "/v1/customers", &admin).await, 1);
    assert_eq!(app.audit_count(id).await, 1, "one creation");
}

async fn the_same_key_with_another_request_is_refused(app: TestApp) {
    let admin = app.admin_token().await;
    post_keyed(
        &app,
        "/v1/customers",
        &admin,
        "k-1",
        &json!({"name": "Acme"}),
    )
    .await
    .assert_status(201);
    let other_body = post_keyed(
        &app,
        "/v1/customers",
        &admin,
        "k-1",
        &json!({"name": "Globex"}),
    )
    .await;
    other_body.assert_problem(422, "idempotency_key_reused");
    assert!(!replayed(&other_body));
    let other_path = post_keyed(&app, "/v1/teams", &admin, "k-1", &json!({"name": "Acme"})).await;
    other_path.assert_problem(422, "idempotency_key_reused");

    assert_eq!(listed(&app, "/v1/customers", &admin).await, 1);
    assert_eq!(listed(&app, "/v1/teams", &admin).await, 0);
    // The first request is still the one replayed.
    let again = post_keyed(
        &app,
        "/v1/customers",
        &admin,
        "k-1",
        &json!({"name": "Acme"}),
    )
    .await;
    again.assert_status(201);
    assert!(replayed(&again));
    assert_eq!(again.body["name"], "Acme");
}

async fn keys_are_per_caller(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app.team("East").await;
    let rep_a = app.user("sales_rep", Some(team)).await;
    let rep_b = app.user("sales_rep", Some(team)).await;
    let body = json!({"name": "Acme"});

    let of_a = post_keyed(&app, "/v1/customers", &rep_a.token, "same-key", &body).await;
    of_a.assert_status(201);
    let of_b = post_keyed(&app, "/v1/customers", &rep_b.token, "same-key", &body).await;
    of_b.assert_status(201);
    assert!(!replayed(&of_b), "rep B's key is its own");
    assert_ne!(of_a.body["id"], of_b.body["id"]);
    assert_eq!(of_a.body["owner_id"], json!(rep_a.id));
    assert_eq!(of_b.body["owner_id"], json!(rep_b.id));

    // Rep B cannot read rep A's answer by replaying its key.
    let again = post_keyed(&app, "/v1/customers", &rep_b.token, "same-key", &body).await;
    assert!(replayed(&again));
    assert_eq!(again.body["id"], of_b.body["id"]);
    assert_eq!(listed(&app, "/v1/customers", &admin).await, 2);
}

async fn concurrent_requests_with_one_key_create_one_customer(app: TestApp) {
    let admin = app.admin_token().await;
    let body = json!({"name": "Acme", "tags": ["rush"]});
    let replies =
        join_all((0..10).map(|_| post_keyed(&app, "/v1/customers", &admin, "one-click", &body)))
            .await;

    for reply in &replies {
        reply.assert_status(201);
        assert_eq!(reply.body["id"], replies[0].body["id"]);
    }
    let ran = replies.iter().filter(|r| !replayed(r)).count();
    assert_eq!(
        ran, 1,
        "one request ran, the others were answered its answer"
    );
    assert_eq!(listed(&app, "/v1/customers", &admin).await, 1);
}

async fn tasks_and_teams_are_idempotent_too(app: TestApp) {
    let admin = app.admin_token().await;

    let task = json!({"title": "Call back Li Lei"});
    let first = post_keyed(&app, "/v1/tasks", &admin, "task-1", &task).await;
    first.assert_status(201);
    let again = post_keyed(&app, "/v1/tasks", &admin, "task-1", &task).await;
    again.assert_status(201);
    assert!(replayed(&again));
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(listed(&app, "/v1/tasks?assignee_id=me", &admin).await, 1);

    // Without the key the retry would be a 409: the name is taken.
    let team = json!({"name": "East"});
    let first = post_keyed(&app, "/v1/teams", &admin, "team-1", &team).await;
    first.assert_status(201);
    let again = post_keyed(&app, "/v1/teams", &admin, "team-1", &team).await;
    again.assert_status(201);
    assert!(replayed(&again));
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(listed(&app, "/v1/teams", &admin).await, 1);
    app.post("/v1/teams", &admin, team)
        .await
        .assert_problem(409, "duplicate");
}

async fn a_replayed_user_or_client_shows_no_secret(app: TestApp) {
    let admin = app.admin_token().await;

    let user = json!({"email": "otp@rapport.test", "name": "O", "role": "auditor"});
    let first = post_keyed(&app, "/v1/users", &admin, "user-1", &user).await;
    first.assert_status(201);
    let otp = first.body["one_time_password"].as_str().unwrap().to_owned();
    let again = post_keyed(&app, "/v1/users", &admin, "user-1", &user).await;
    again.assert_status(201);
    assert!(replayed(&again));
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.body["email"], "otp@rapport.test");
    assert_eq!(again.body["one_time_password"], json!(null));
    assert!(
        !again.body.to_string().contains(&otp),
        "the secret is not kept"
    );
    assert_eq!(listed(&app, "/v1/users?role=auditor", &admin).await, 1);
    app.sign_in("otp@rapport.test", &otp)
        .await
        .assert_status(200);

    let client = json!({"name": "ERP sync", "scopes": ["customers:read"]});
    let first = post_keyed(&app, "/v1/clients", &admin, "client-1", &client).await;
    first.assert_status(201);
    let secret = first.body["client_secret"].as_str().unwrap().to_owned();
    let again = post_keyed(&app, "/v1/clients", &admin, "client-1", &client).await;
    again.assert_status(201);
    assert!(replayed(&again));
    assert_eq!(again.body["client_id"], first.body["client_id"]);
    assert_eq!(again.body["client_secret"], json!(null));
    assert!(!again.body.to_string().contains(&secret));
    assert_eq!(listed(&app, "/v1/clients", &admin).await, 1);
    app.call(
        Method::POST,
        "/v1/auth/token",
        None,
        Some(json!({"grant_type": "client_credentials",
                    "client_id": first.body["client_id"], "client_secret": secret})),
    )
    .await
    .assert_status(200);
}

async fn a_replayed_survey_invitation_shows_no_token(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = app
        .post(
            "/v1/surveys",
            &admin,
            json!({"title": "How did we do?", "questions": [{"kind": "csat", "text": "Happy?"}]}),
        )
        .await;
    survey.assert_status(201);
    let customer = app
        .post(
            "/v1/customers",
            &admin,
            json!({"name": "Replay Ltd", "contacts": [{"first_name": "Lei"}]}),
        )
        .await;
    customer.assert_status(201);
    let contact = &customer.body["contacts"][0]["id"];
    let survey_id = survey.body["id"].as_str().unwrap();

    let one = format!("/v1/surveys/{survey_id}/invitations");
    let body = json!({"contact_id": contact});
    let first = post_keyed(&app, &one, &admin, "invite-1", &body).await;
    first.assert_status(201);
    let token = first.body["token"].as_str().unwrap().to_owned();
    let again = post_keyed(&app, &one, &admin, "invite-1", &body).await;
    again.assert_status(201);
    assert!(replayed(&again));
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.body["token"], json!(null));
    assert_eq!(again.body["url"], json!(null));
    assert!(
        !again.body.to_string().contains(&token),
        "the token is not kept"
    );

    // In a batch, the tokens sit deeper: they are not kept either.
    let batch = format!("/v1/surveys/{survey_id}/invitations/batch");
    let other = app
        .post(
            "/v1/customers",
            &admin,
            json!({"name": "Replay Two", "contacts": [{"first_name": "Mei"}]}),
        )
        .await;
    let body = json!({"contact_ids": [other.body["contacts"][0]["id"]]});
    let first = post_keyed(&app, &batch, &admin, "batch-1", &body).await;
    first.assert_status(200);
    let token = first.body["invited"][0]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let again = post_keyed(&app, &batch, &admin, "batch-1", &body).await;
    assert!(replayed(&again));
    assert_eq!(
        again.body["invited"][0]["id"],
        first.body["invited"][0]["id"]
    );
    assert!(!again.body.to_string().contains(&token), "{}", again.body);
}

async fn a_malformed_key_is_a_400(app: TestApp) {
    let admin = app.admin_token().await;
    let body = json!({"name": "Acme"});
    let too_long = "k".repeat(256);
    for key in ["has space", "", too_long.as_str()] {
        let reply = post_keyed(&app, "/v1/customers", &admin, key, &body).await;
        reply.assert_problem(400, "malformed_request");
        assert_eq!(reply.error_fields(), ["Idempotency-Key"], "{key:?}");
    }
    assert_eq!(listed(&app, "/v1/customers", &admin).await, 0);

    let longest = "k".repeat(255);
    post_keyed(&app, "/v1/customers", &admin, &longest, &body)
        .await
        .assert_status(201);
    assert_eq!(listed(&app, "/v1/customers", &admin).await, 1);
}

async fn a_key_is_forgotten_after_24_hours(app: TestApp) {
    let admin = app.admin_token().await;
    let body = json!({"name": "Acme"});
    let first = post_keyed(&app, "/v1/customers", &admin, "daily", &body).await;
    first.assert_status(201);

    app.clock.advance(Duration::hours(23));
    let admin = app.admin_token().await;
    let within = post_keyed(&app, "/v1/customers", &admin, "daily", &body).await;
    assert!(replayed(&within));
    assert_eq!(within.body["id"], first.body["id"]);

    app.clock.advance(Duration::hours(2));
    let admin = app.admin_token().await;
    let later = post_keyed(&app, "/v1/customers", &admin, "daily", &body).await;
    later.assert_status(201);
    assert!(!replayed(&later));
    assert_ne!(later.body["id"], first.body["id"]);
    assert_eq!(listed(&app, "/v1/customers", &admin).await, 2);
}

/// A disabled user's tokens fail at once: replaying an answer is no way around that.
async fn a_replay_needs_a_live_session(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let body = json!({"name": "Acme"});
    post_keyed(&app, "/v1/customers", &rep.token, "before-disable", &body)
        .await
        .assert_status(201);

    app.post(&format!("/v1/users/{}/disable", rep.id), &admin, json!({}))
        .await
        .assert_status(200);
    app.post("/v1/customers", &rep.token, json!({"name": "Globex"}))
        .await
        .assert_problem(401, "unauthorized");
    let replay = post_keyed(&app, "/v1/customers", &rep.token, "before-disable", &body).await;
    replay.assert_problem(401, "unauthorized");
    assert!(!replayed(&replay));
}

async fn erasure_forgets_the_answers_that_would_replay_it(app: TestApp) {
    let admin = app.admin_token().await;
    let body = json!({"name": "Forget Me Trading", "contacts": [
        {"first_name": "Wei", "last_name": "Lin",
         "emails": [{"address": "wei.lin@forget-me.example", "label": "work"}]}]});
    let first = post_keyed(&app, "/v1/customers", &admin, "create-forget-me", &body).await;
    first.assert_status(201);
    let id = first.body["id"].as_str().unwrap().to_owned();
    let contact = first.body["contacts"][0]["id"].as_str().unwrap().to_owned();
    let activity =
        json!({"customer_id": id, "kind": "call", "summary": "Wei Lin asked for a quote"});
    post_keyed(&app, "/v1/activities", &admin, "call-forget-me", &activity)
        .await
        .assert_status(201);
    let again = post_keyed(&app, "/v1/customers", &admin, "create-forget-me", &body).await;
    assert!(replayed(&again));

    app.post(&format!("/v1/customers/{id}/erase"), &admin, json!({}))
        .await
        .assert_status(200);
    // Nothing kept replays the erased data: the same keys now run as new requests.
    let after = post_keyed(&app, "/v1/customers", &admin, "create-forget-me", &body).await;
    after.assert_status(201);
    assert!(!replayed(&after));
    assert_ne!(after.body["id"], json!(id));
    let text = after.body.to_string();
    assert!(!text.contains(&contact), "{text}");
    let call = post_keyed(&app, "/v1/activities", &admin, "call-forget-me", &activity).await;
    assert!(!replayed(&call));
}
