//! User accounts.

use rapport_tests::{TestApp, USER_PASSWORD, backend_tests};
use reqwest::Method;
use serde_json::json;

backend_tests!(
    admin_creates_reads_lists_and_updates_users,
    creation_without_password_answers_a_one_time_password,
    every_bad_field_is_listed,
    duplicate_email_is_409,
    unknown_team_is_422,
    stale_if_match_is_412,
    role_change_ends_the_users_sessions,
    reset_password_ends_sessions_and_sets_the_new_one,
    the_last_admin_cannot_be_disabled_or_demoted,
    users_change_their_own_password,
    guessing_the_current_password_is_rate_limited,
    user_endpoints_need_users_write,
);

async fn admin_creates_reads_lists_and_updates_users(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app.team("East").await;
    let created = app
        .post(
            "/v1/users",
            &admin,
            json!({"email": " Li.Lei@Example.CN ", "name": "Li Lei", "role": "sales_rep", "team_id": team, "password": USER_PASSWORD}),
        )
        .await;
    created.assert_status(201);
    assert_eq!(created.body["email"], "li.lei@example.cn");
    assert!(created.body.get("one_time_password").is_none());
    assert!(created.body.get("password").is_none() && created.body.get("password_hash").is_none());
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(
        created.header("location"),
        Some(format!("/v1/users/{id}").as_str())
    );
    assert_eq!(created.header("etag"), Some("\"1\""));

    let got = app.get(&format!("/v1/users/{id}"), &admin).await;
    got.assert_status(200);
    assert_eq!(got.body["team_id"], json!(team));

    let listed = app
        .get(&format!("/v1/users?role=sales_rep&team_id={team}"), &admin)
        .await;
    listed.assert_status(200);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["next_cursor"], json!(null));

    let updated = app
        .patch(
            &format!("/v1/users/{id}"),
            &admin,
            json!({"name": "Lei Li", "team_id": null}),
        )
        .await;
    updated.assert_status(200);
    assert_eq!(updated.body["name"], "Lei Li");
    assert_eq!(updated.body["team_id"], json!(null));
    assert_eq!(updated.body["version"], 2);
    assert_eq!(updated.header("etag"), Some("\"2\""));
}

async fn creation_without_password_answers_a_one_time_password(app: TestApp) {
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/v1/users",
            &admin,
            json!({"email": "otp@rapport.test", "name": "O", "role": "auditor"}),
        )
        .await;
    created.assert_status(201);
    let otp = created.body["one_time_password"].as_str().unwrap();
    assert_eq!(created.body["must_change_password"], true);
    app.sign_in("otp@rapport.test", otp)
        .await
        .assert_status(200);
    let id = created.body["id"].as_str().unwrap();
    let again = app.get(&format!("/v1/users/{id}"), &admin).await;
    assert!(again.body.get("one_time_password").is_none(), "shown once");
}

async fn every_bad_field_is_listed(app: TestApp) {
    let admin = app.admin_token().await;
    let reply = app
        .post(
            "/v1/users",
            &admin,
            json!({"email": "not-an-email", "name": "  ", "role": "boss", "password": "short"}),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["email", "name", "role", "password"]);
    let codes: Vec<_> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].clone())
        .collect();
    assert_eq!(
        codes,
        [
            json!("invalid_email"),
            json!("required"),
            json!("invalid_choice"),
            json!("weak_password")
        ]
    );
}

async fn duplicate_email_is_409(app: TestApp) {
    let admin = app.admin_token().await;
    let body = json!({"email": "dup@rapport.test", "name": "D", "role": "marketing", "password": USER_PASSWORD});
    app.post("/v1/users", &admin, body.clone())
        .await
        .assert_status(201);
    let mut upper = body;
    upper["email"] = json!("DUP@rapport.test");
    app.post("/v1/users", &admin, upper)
        .await
        .assert_problem(409, "duplicate");
}

async fn unknown_team_is_422(app: TestApp) {
    let admin = app.admin_token().await;
    let reply = app
        .post(
            "/v1/users",
            &admin,
            json!({"email": "t@rapport.test", "name": "T", "role": "sales_rep", "team_id": uuid::Uuid::now_v7()}),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.body["errors"][0]["field"], "team_id");
    assert_eq!(reply.body["errors"][0]["code"], "unknown_reference");
}

async fn stale_if_match_is_412(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let path = format!("/v1/users/{}", rep.id);
    let send = |etag: &'static str, name: &'static str| {
        app.client
            .patch(app.url(&path))
            .bearer_auth(&admin)
            .header("if-match", etag)
            .json(&json!({"name": name}))
            .send()
    };
    let first = rapport_tests::read(send("\"1\"", "A").await.unwrap()).await;
    first.assert_status(200);
    let stale = rapport_tests::read(send("\"1\"", "B").await.unwrap()).await;
    stale.assert_problem(412, "precondition_failed");
    assert_eq!(stale.body["current_version"], 2);
    assert_eq!(app.get(&path, &admin).await.body["name"], "A");
}

async fn role_change_ends_the_users_sessions(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    app.patch(
        &format!("/v1/users/{}", rep.id),
        &admin,
        json!({"role": "sales_manager"}),
    )
    .await
    .assert_status(200);
    app.get("/v1/me", &rep.token)
        .await
        .assert_problem(401, "unauthorized");
    let again = app.sign_in(&rep.email, USER_PASSWORD).await;
    let me = app
        .get("/v1/me", again.body["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.body["role"], "sales_manager");
}

async fn reset_password_ends_sessions_and_sets_the_new_one(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let reset = app
        .post(
            &format!("/v1/users/{}/reset-password", rep.id),
            &admin,
            json!({}),
        )
        .await;
    reset.assert_status(200);
    let otp = reset.body["one_time_password"].as_str().unwrap();
    app.get("/v1/me", &rep.token)
        .await
        .assert_problem(401, "unauthorized");
    app.sign_in(&rep.email, USER_PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    app.sign_in(&rep.email, otp).await.assert_status(200);

    let chosen = app
        .post(
            &format!("/v1/users/{}/reset-password", rep.id),
            &admin,
            json!({"password": "a-chosen-password"}),
        )
        .await;
    chosen.assert_status(200);
    assert!(chosen.body.get("one_time_password").is_none());
    app.sign_in(&rep.email, "a-chosen-password")
        .await
        .assert_status(200);
    // Without a body at all, a one-time password too.
    let bare = app
        .call(
            Method::POST,
            &format!("/v1/users/{}/reset-password", rep.id),
            Some(&admin),
            None,
        )
        .await;
    bare.assert_status(200);
    assert!(bare.body["one_time_password"].is_string());

    // Not one's own, which takes the current password (POST /v1/me/password): a stolen admin
    // token must not be enough to take the account. The admin's session goes on.
    let me = app.get("/v1/me", &admin).await;
    let own = format!(
        "/v1/users/{}/reset-password",
        me.body["id"].as_str().unwrap()
    );
    app.post(&own, &admin, json!({"password": "a-takeover-password"}))
        .await
        .assert_problem(409, "conflict");
    app.get("/v1/me", &admin).await.assert_status(200);
    app.sign_in(rapport_tests::ADMIN_EMAIL, rapport_tests::ADMIN_PASSWORD)
        .await
        .assert_status(200);
}

async fn the_last_admin_cannot_be_disabled_or_demoted(app: TestApp) {
    let admin = app.admin_token().await;
    let me = app.get("/v1/me", &admin).await;
    let id = me.body["id"].as_str().unwrap();
    app.post(&format!("/v1/users/{id}/disable"), &admin, json!({}))
        .await
        .assert_problem(409, "conflict");
    app.patch(
        &format!("/v1/users/{id}"),
        &admin,
        json!({"role": "auditor"}),
    )
    .await
    .assert_problem(409, "conflict");
    // With a second admin, the first can step down.
    let second = app.user("admin", None).await;
    app.patch(
        &format!("/v1/users/{id}"),
        &second.token,
        json!({"role": "auditor"}),
    )
    .await
    .assert_status(200);
}

async fn users_change_their_own_password(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    let wrong = app
        .post(
            "/v1/me/password",
            &rep.token,
            json!({"current_password": "nope-nope-nope", "new_password": "x"}),
        )
        .await;
    wrong.assert_problem(422, "validation_failed");
    assert_eq!(wrong.error_fields(), ["new_password", "current_password"]);
    app.post(
        "/v1/me/password",
        &rep.token,
        json!({"current_password": USER_PASSWORD, "new_password": "my-new-password"}),
    )
    .await
    .assert_status(204);
    app.get("/v1/me", &rep.token)
        .await
        .assert_problem(401, "unauthorized");
    app.sign_in(&rep.email, "my-new-password")
        .await
        .assert_status(200);
}

async fn guessing_the_current_password_is_rate_limited(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let reply = app
            .post("/v1/me/password", &rep.token, json!({"current_password": "guess-guess-guess", "new_password": "new-password-123"}))
            .await;
        statuses.push(reply.status.as_u16());
    }
    assert!(statuses[..5].iter().all(|s| *s == 422), "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
}

async fn user_endpoints_need_users_write(app: TestApp) {
    let manager = app.user("sales_manager", None).await;
    let id = manager.id;
    app.get("/v1/users", &manager.token)
        .await
        .assert_problem(403, "forbidden");
    app.get(&format!("/v1/users/{id}"), &manager.token)
        .await
        .assert_problem(403, "forbidden");
    app.post("/v1/users", &manager.token, json!({}))
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &format!("/v1/users/{id}/disable"),
        &manager.token,
        json!({}),
    )
    .await
    .assert_problem(403, "forbidden");
    let admin = app.admin_token().await;
    app.get(&format!("/v1/users/{}", uuid::Uuid::now_v7()), &admin)
        .await
        .assert_problem(404, "not_found");
    app.get("/v1/users/not-a-uuid", &admin)
        .await
        .assert_problem(404, "not_found");
}
