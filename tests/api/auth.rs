//! Signing in: every grant, and every way a token is refused.

use rapport_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, backend_tests};
use reqwest::Method;
use serde_json::json;

backend_tests!(
    password_grant_gives_tokens_and_me,
    password_grant_accepts_a_form_body,
    wrong_password_and_unknown_user_answer_the_same,
    refresh_token_rotates_and_reuse_revokes_the_family,
    revoke_ends_the_sign_in,
    client_credentials_grant_gives_the_granted_scopes,
    client_credentials_accepts_basic_auth,
    scope_can_be_narrowed_not_widened,
    unsupported_grant_is_400,
    disabled_users_token_fails_at_once,
    login_flooding_is_rate_limited,
    no_or_malformed_authorization_is_401,
);

async fn password_grant_gives_tokens_and_me(app: TestApp) {
    let reply = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    reply.assert_status(200);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 900);
    assert!(reply.body["refresh_token"].is_string());
    assert!(reply.body["scope"].as_str().unwrap().contains("audit:read"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let token = reply.body["access_token"].as_str().unwrap();
    let me = app.get("/v1/me", token).await;
    me.assert_status(200);
    assert_eq!(me.body["email"], ADMIN_EMAIL);
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["kind"], "user");
    assert!(
        me.body["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("users:write"))
    );
}

async fn password_grant_accepts_a_form_body(app: TestApp) {
    let response = app
        .client
        .post(app.url("/v1/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=password&username={ADMIN_EMAIL}&password={ADMIN_PASSWORD}"
        ))
        .send()
        .await
        .unwrap();
    let reply = rapport_tests::read(response).await;
    reply.assert_status(200);
    assert!(reply.body["access_token"].is_string());
}

async fn wrong_password_and_unknown_user_answer_the_same(app: TestApp) {
    let wrong = app.sign_in(ADMIN_EMAIL, "not-the-password").await;
    let unknown = app.sign_in("nobody@rapport.test", "not-the-password").await;
    wrong.assert_problem(401, "invalid_credentials");
    unknown.assert_problem(401, "invalid_credentials");
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));
    let strip = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("request_id");
        v
    };
    assert_eq!(strip(wrong.body.clone()), strip(unknown.body.clone()));
}

async fn refresh_token_rotates_and_reuse_revokes_the_family(app: TestApp) {
    let first = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let refresh = first.body["refresh_token"].as_str().unwrap().to_owned();
    let refresh_with = |token: String| {
        app.call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "refresh_token", "refresh_token": token})),
        )
    };
    let second = refresh_with(refresh.clone()).await;
    second.assert_status(200);
    let next = second.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, refresh);
    app.get("/v1/me", second.body["access_token"].as_str().unwrap())
        .await
        .assert_status(200);

    // The first token again: a thief or a replay. The whole sign-in ends.
    refresh_with(refresh)
        .await
        .assert_problem(401, "invalid_credentials");
    refresh_with(next)
        .await
        .assert_problem(401, "invalid_credentials");
    refresh_with("made-up".into())
        .await
        .assert_problem(401, "invalid_credentials");
}

async fn revoke_ends_the_sign_in(app: TestApp) {
    let signed_in = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let refresh = signed_in.body["refresh_token"].as_str().unwrap();
    let revoked = app
        .call(
            Method::POST,
            "/v1/auth/revoke",
            None,
            Some(json!({"token": refresh})),
        )
        .await;
    revoked.assert_status(200);
    let again = app
        .call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "refresh_token", "refresh_token": refresh})),
        )
        .await;
    again.assert_problem(401, "invalid_credentials");
    // Unknown tokens are "revoked" too (RFC 7009): nothing to learn from the answer.
    app.call(
        Method::POST,
        "/v1/auth/revoke",
        None,
        Some(json!({"token": "unknown"})),
    )
    .await
    .assert_status(200);
    app.call(Method::POST, "/v1/auth/revoke", None, Some(json!({})))
        .await
        .assert_problem(422, "validation_failed");
}

async fn client_credentials_grant_gives_the_granted_scopes(app: TestApp) {
    let token = app.client_token(&["customers:read", "reports:read"]).await;
    let me = app.get("/v1/me", &token).await;
    me.assert_status(200);
    assert_eq!(me.body["kind"], "client");
    assert_eq!(me.body["role"], "integration");
    assert_eq!(me.body["scopes"], json!(["customers:read", "reports:read"]));
    // No refresh token for client credentials; a wrong secret is the same 401 as a wrong id.
    let admin = app.admin_token().await;
    let created = app
        .post("/v1/clients", &admin, json!({"name": "x", "scopes": []}))
        .await;
    let grant = |id: serde_json::Value, secret: &str| {
        app.call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret})),
        )
    };
    let ok = grant(
        created.body["client_id"].clone(),
        created.body["client_secret"].as_str().unwrap(),
    )
    .await;
    ok.assert_status(200);
    assert!(ok.body.get("refresh_token").is_none());
    grant(created.body["client_id"].clone(), "wrong")
        .await
        .assert_problem(401, "invalid_credentials");
    grant(json!(uuid::Uuid::now_v7()), "wrong")
        .await
        .assert_problem(401, "invalid_credentials");
}

async fn client_credentials_accepts_basic_auth(app: TestApp) {
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/v1/clients",
            &admin,
            json!({"name": "basic", "scopes": ["tasks:read"]}),
        )
        .await;
    let response = app
        .client
        .post(app.url("/v1/auth/token"))
        .basic_auth(
            created.body["client_id"].as_str().unwrap(),
            created.body["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let reply = rapport_tests::read(response).await;
    reply.assert_status(200);
    assert_eq!(reply.body["scope"], "tasks:read");
}

async fn scope_can_be_narrowed_not_widened(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    let narrow = app
        .call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "password", "username": rep.email, "password": rapport_tests::USER_PASSWORD, "scope": "customers:read"})),
        )
        .await;
    narrow.assert_status(200);
    assert_eq!(narrow.body["scope"], "customers:read");
    let wide = app
        .call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "password", "username": rep.email, "password": rapport_tests::USER_PASSWORD, "scope": "audit:read"})),
        )
        .await;
    wide.assert_problem(400, "invalid_scope");
}

async fn unsupported_grant_is_400(app: TestApp) {
    let reply = app
        .call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "implicit"})),
        )
        .await;
    reply.assert_problem(400, "unsupported_grant_type");
    let missing = app
        .call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "password"})),
        )
        .await;
    missing.assert_problem(422, "validation_failed");
    assert_eq!(missing.error_fields(), ["username", "password"]);
    // Only what is missing is named.
    let no_password = app
        .call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "password", "username": ADMIN_EMAIL})),
        )
        .await;
    no_password.assert_problem(422, "validation_failed");
    assert_eq!(no_password.error_fields(), ["password"]);
}

async fn disabled_users_token_fails_at_once(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    app.get("/v1/me", &rep.token).await.assert_status(200);
    let admin = app.admin_token().await;
    app.post(&format!("/v1/users/{}/disable", rep.id), &admin, json!({}))
        .await
        .assert_status(200);
    app.get("/v1/me", &rep.token)
        .await
        .assert_problem(401, "unauthorized");
    app.sign_in(&rep.email, rapport_tests::USER_PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    // Enabled again, it signs in again; the old token stays dead.
    app.post(&format!("/v1/users/{}/enable", rep.id), &admin, json!({}))
        .await
        .assert_status(200);
    app.sign_in(&rep.email, rapport_tests::USER_PASSWORD)
        .await
        .assert_status(200);
    app.get("/v1/me", &rep.token)
        .await
        .assert_problem(401, "unauthorized");
}

async fn login_flooding_is_rate_limited(app: TestApp) {
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            app.sign_in(ADMIN_EMAIL, "guess-guess-guess")
                .await
                .status
                .as_u16(),
        );
    }
    assert!(statuses[..5].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // Blocked means blocked: even the right password waits.
    let right = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    right.assert_problem(429, "rate_limited");
    let retry_after: u64 = right.header("retry-after").unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    // Another account from the same address is not blocked yet.
    app.sign_in("someone@rapport.test", "whatever-whatever")
        .await
        .assert_problem(401, "invalid_credentials");
}

async fn no_or_malformed_authorization_is_401(app: TestApp) {
    let none = app.call(Method::GET, "/v1/me", None, None).await;
    none.assert_problem(401, "unauthorized");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    let response = app
        .client
        .get(app.url("/v1/me"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    rapport_tests::read(response)
        .await
        .assert_problem(401, "unauthorized");
    app.get("/v1/me", "not.a.jwt")
        .await
        .assert_problem(401, "unauthorized");
}
