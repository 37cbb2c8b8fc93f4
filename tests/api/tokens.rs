//! Access tokens that must be refused: expired, tampered, unsigned, signed with another key;
//! and tokens that lack the scope.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use jsonwebtoken::{EncodingKey, Header, encode};
use rapport_tests::{JWT_SECRET, TestApp, backend_tests};
use serde_json::{Value, json};

backend_tests!(
    a_forged_token_with_the_right_key_works,
    expired_token_is_401,
    tampered_token_is_401,
    alg_none_token_is_401,
    wrong_key_token_is_401,
    other_algorithm_token_is_401,
    token_without_the_scope_is_403,
    tokens_expire_on_the_servers_clock,
);

/// The claims the server issues for its admin.
async fn admin_claims(app: &TestApp) -> Value {
    let token = app.admin_token().await;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn sign(claims: &Value, secret: &str) -> String {
    encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn a_forged_token_with_the_right_key_works(app: TestApp) {
    // The control for the tests below: only the change under test makes them fail.
    let claims = admin_claims(&app).await;
    app.get("/v1/me", &sign(&claims, JWT_SECRET))
        .await
        .assert_status(200);
}

async fn expired_token_is_401(app: TestApp) {
    let mut claims = admin_claims(&app).await;
    let past = (Utc::now() - Duration::minutes(5)).timestamp();
    claims["iat"] = json!(past - 900);
    claims["exp"] = json!(past);
    app.get("/v1/me", &sign(&claims, JWT_SECRET))
        .await
        .assert_problem(401, "unauthorized");
}

async fn tampered_token_is_401(app: TestApp) {
    // A sales rep's token: tampering would make it more powerful.
    let token = app.user("sales_rep", None).await.token;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["role"] = json!("admin");
    claims["scope"] = json!("users:write audit:read");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    app.get("/v1/me", &parts.join("."))
        .await
        .assert_problem(401, "unauthorized");
}

async fn alg_none_token_is_401(app: TestApp) {
    let claims = admin_claims(&app).await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    app.get("/v1/me", &format!("{header}.{payload}."))
        .await
        .assert_problem(401, "unauthorized");
}

async fn wrong_key_token_is_401(app: TestApp) {
    let claims = admin_claims(&app).await;
    let forged = sign(&claims, "another-secret-another-secret-another-secret");
    app.get("/v1/me", &forged)
        .await
        .assert_problem(401, "unauthorized");
}

async fn other_algorithm_token_is_401(app: TestApp) {
    let claims = admin_claims(&app).await;
    let header = Header::new(jsonwebtoken::Algorithm::HS512);
    let forged = encode(
        &header,
        &claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    app.get("/v1/me", &forged)
        .await
        .assert_problem(401, "unauthorized");
}

async fn token_without_the_scope_is_403(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    let reply = app.get("/v1/audit-events", &rep.token).await;
    reply.assert_problem(403, "forbidden");
    assert_eq!(reply.body["required_scope"], "audit:read");
    app.get("/v1/users", &rep.token)
        .await
        .assert_problem(403, "forbidden");
    let client = app.client_token(&["customers:read"]).await;
    app.get("/v1/clients", &client)
        .await
        .assert_problem(403, "forbidden");
}

async fn tokens_expire_on_the_servers_clock(app: TestApp) {
    let token = app.admin_token().await;
    app.get("/v1/me", &token).await.assert_status(200);
    app.clock.advance(Duration::minutes(16));
    app.get("/v1/me", &token)
        .await
        .assert_problem(401, "unauthorized");
}
