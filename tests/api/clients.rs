//! Integration clients.

use rapport_tests::{TestApp, backend_tests};
use reqwest::Method;
use serde_json::json;

backend_tests!(
    client_secret_is_shown_once_and_rotates,
    client_changes_end_its_tokens,
    client_refusals
);

async fn client_secret_is_shown_once_and_rotates(app: TestApp) {
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/v1/clients",
            &admin,
            json!({"name": "ERP", "scopes": ["customers:read"]}),
        )
        .await;
    created.assert_status(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let secret = created.body["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(created.body["client_id"], created.body["id"]);
    let got = app.get(&format!("/v1/clients/{id}"), &admin).await;
    assert!(got.body.get("client_secret").is_none());
    assert!(!got.body.to_string().contains(&secret));

    let rotated = app
        .post(
            &format!("/v1/clients/{id}/rotate-secret"),
            &admin,
            json!({}),
        )
        .await;
    rotated.assert_status(200);
    let new_secret = rotated.body["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let grant = |s: String| {
        app.call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": s})),
        )
    };
    grant(secret)
        .await
        .assert_problem(401, "invalid_credentials");
    grant(new_secret.to_owned()).await.assert_status(200);
}

async fn client_changes_end_its_tokens(app: TestApp) {
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/v1/clients",
            &admin,
            json!({"name": "BI", "scopes": ["reports:read"]}),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let token = app
        .call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": created.body["client_secret"]})),
        )
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get("/v1/me", &token).await.assert_status(200);
    let disabled = app
        .patch(
            &format!("/v1/clients/{id}"),
            &admin,
            json!({"disabled": true}),
        )
        .await;
    disabled.assert_status(200);
    app.get("/v1/me", &token)
        .await
        .assert_problem(401, "unauthorized");
    app.delete(&format!("/v1/clients/{id}"), &admin)
        .await
        .assert_status(204);
    app.get(&format!("/v1/clients/{id}"), &admin)
        .await
        .assert_problem(404, "not_found");
}

async fn client_refusals(app: TestApp) {
    let admin = app.admin_token().await;
    let bad = app
        .post(
            "/v1/clients",
            &admin,
            json!({"name": "x", "scopes": ["users:write", "nope"]}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.error_fields(), ["scopes[0]", "scopes[1]"]);
    let rep = app.user("sales_rep", None).await;
    app.get("/v1/clients", &rep.token)
        .await
        .assert_problem(403, "forbidden");
    app.post(
        "/v1/clients",
        &rep.token,
        json!({"name": "x", "scopes": []}),
    )
    .await
    .assert_problem(403, "forbidden");
}
