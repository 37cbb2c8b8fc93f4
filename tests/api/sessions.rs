//! Sign-ins that end: one-time passwords that expire and must be changed before anything
//! else, sessions with an absolute age, and access tokens that end with their sign-in.

use chrono::Duration;
use rapport_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, Reply, TestApp, backend_tests};
use reqwest::Method;
use serde_json::json;

backend_tests!(
    a_one_time_password_opens_only_the_password_change,
    a_one_time_password_expires,
    revoking_a_sign_in_ends_its_access_tokens,
    a_reused_refresh_token_ends_the_access_tokens_too,
);

backend_tests!(
    settings = |a| a.session_max_age = Some(3600);
    a_sign_in_ends_at_its_maximum_age,
);

/// A new auditor with a one-time password: (email, password).
async fn user_with_one_time_password(app: &TestApp) -> (String, String) {
    let admin = app.admin_token().await;
    let email = format!("otp-{}@rapport.test", uuid::Uuid::now_v7());
    let created = app
        .post(
            "/v1/users",
            &admin,
            json!({"email": email, "name": "Otto", "role": "auditor"}),
        )
        .await;
    created.assert_status(201);
    let otp = created.body["one_time_password"]
        .as_str()
        .unwrap()
        .to_owned();
    (email, otp)
}

fn access(reply: &Reply) -> String {
    reply.assert_status(200);
    reply.body["access_token"].as_str().unwrap().to_owned()
}

fn refresh(reply: &Reply) -> String {
    reply.body["refresh_token"].as_str().unwrap().to_owned()
}

async fn grant_refresh(app: &TestApp, refresh_token: &str) -> Reply {
    app.call(
        Method::POST,
        "/v1/auth/token",
        None,
        Some(json!({"grant_type": "refresh_token", "refresh_token": refresh_token})),
    )
    .await
}

async fn a_one_time_password_opens_only_the_password_change(app: TestApp) {
    let (email, otp) = user_with_one_time_password(&app).await;
    let signed_in = app.sign_in(&email, &otp).await;
    let token = access(&signed_in);
    let me = app.get("/v1/me", &token).await;
    me.assert_status(200);
    assert_eq!(me.body["must_change_password"], true);
    for path in ["/v1/customers", "/v1/audit-events"] {
        let refused = app.get(path, &token).await;
        refused.assert_problem(403, "password_change_required");
        assert!(
            refused.body["detail"]
                .as_str()
                .unwrap()
                .contains("/v1/me/password")
        );
    }
    // A refreshed token is held to the same.
    let refreshed = access(&grant_refresh(&app, &refresh(&signed_in)).await);
    app.get("/v1/customers", &refreshed)
        .await
        .assert_problem(403, "password_change_required");

    app.post(
        "/v1/me/password",
        &token,
        json!({"current_password": otp, "new_password": "my-own-password-now"}),
    )
    .await
    .assert_status(204);
    let mine = access(&app.sign_in(&email, "my-own-password-now").await);
    app.get("/v1/customers", &mine).await.assert_status(200);
    assert_eq!(
        app.get("/v1/me", &mine).await.body["must_change_password"],
        false
    );
}

async fn a_one_time_password_expires(app: TestApp) {
    let (email, otp) = user_with_one_time_password(&app).await;
    let signed_in = app.sign_in(&email, &otp).await;
    signed_in.assert_status(200);
    app.clock.advance(Duration::hours(73));
    let expired = app.sign_in(&email, &otp).await;
    expired.assert_problem(401, "password_expired");
    // Its sign-in cannot be stretched past the expiry by refreshing either.
    grant_refresh(&app, &refresh(&signed_in))
        .await
        .assert_problem(401, "invalid_credentials");
    // A wrong password still answers as any wrong password does.
    app.sign_in(&email, "not-the-password")
        .await
        .assert_problem(401, "invalid_credentials");
}

async fn revoking_a_sign_in_ends_its_access_tokens(app: TestApp) {
    let first = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let second = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (token, other) = (access(&first), access(&second));
    app.call(
        Method::POST,
        "/v1/auth/revoke",
        None,
        Some(json!({"token": refresh(&first)})),
    )
    .await
    .assert_status(200);
    app.get("/v1/me", &token)
        .await
        .assert_problem(401, "unauthorized");
    // Another sign-in of the same user goes on.
    app.get("/v1/me", &other).await.assert_status(200);
}

async fn a_reused_refresh_token_ends_the_access_tokens_too(app: TestApp) {
    let signed_in = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let stolen = refresh(&signed_in);
    let rotated = grant_refresh(&app, &stolen).await;
    let token = access(&rotated);
    app.get("/v1/me", &token).await.assert_status(200);
    grant_refresh(&app, &stolen)
        .await
        .assert_problem(401, "invalid_credentials");
    for ended in [access(&signed_in), token] {
        app.get("/v1/me", &ended)
            .await
            .assert_problem(401, "unauthorized");
    }
    grant_refresh(&app, &refresh(&rotated))
        .await
        .assert_problem(401, "invalid_credentials");
}

async fn a_sign_in_ends_at_its_maximum_age(app: TestApp) {
    let mut current = app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    // Refreshing every 20 minutes keeps it going, but only for the hour.
    for _ in 0..2 {
        app.clock.advance(Duration::minutes(20));
        current = grant_refresh(&app, &refresh(&current)).await;
        current.assert_status(200);
    }
    app.clock.advance(Duration::minutes(21));
    grant_refresh(&app, &refresh(&current))
        .await
        .assert_problem(401, "invalid_credentials");
    // Signing in again starts a new one.
    access(&app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await);
}
