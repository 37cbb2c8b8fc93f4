//! What browsers see: CORS for the configured origins only, security headers everywhere, and
//! API answers that no cache keeps.

use rapport_tests::{Reply, TestApp, backend_tests};
use reqwest::Method;

const FRONTEND: &str = "https://app.example.cn";

backend_tests!(
    settings = |a| a.cors_origins = Some("https://app.example.cn, http://localhost:5173".into());
    an_allowed_origin_passes_preflight_and_reads_answers,
    another_origin_gets_no_cors_headers,
);

backend_tests!(
    no_origin_is_allowed_by_default,
    every_answer_carries_security_headers,
    api_answers_are_not_stored,
);

async fn preflight(app: &TestApp, origin: &str, method: &str) -> Reply {
    let response = app
        .client
        .request(Method::OPTIONS, app.url("/v1/customers"))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization, content-type, idempotency-key",
        )
        .send()
        .await
        .unwrap();
    rapport_tests::read(response).await
}

async fn get_from(app: &TestApp, origin: &str, path: &str, token: Option<&str>) -> Reply {
    let mut request = app.client.get(app.url(path)).header("origin", origin);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    rapport_tests::read(request.send().await.unwrap()).await
}

async fn an_allowed_origin_passes_preflight_and_reads_answers(app: TestApp) {
    let reply = preflight(&app, FRONTEND, "POST").await;
    reply.assert_status(200);
    assert_eq!(reply.header("access-control-allow-origin"), Some(FRONTEND));
    assert_eq!(reply.header("access-control-max-age"), Some("600"));
    assert!(
        reply
            .header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    let allowed = reply
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("idempotency-key") && allowed.contains("authorization"));
    assert_eq!(reply.header("access-control-allow-credentials"), None);

    let token = app.admin_token().await;
    let me = get_from(&app, FRONTEND, "/v1/me", Some(&token)).await;
    me.assert_status(200);
    assert_eq!(me.header("access-control-allow-origin"), Some(FRONTEND));
    let exposed = me
        .header("access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    for header in ["etag", "location", "retry-after", "x-request-id"] {
        assert!(exposed.contains(header), "{exposed}");
    }
    // A refusal is readable too, so the frontend can show the problem.
    let refused = get_from(&app, "http://localhost:5173", "/v1/me", None).await;
    refused.assert_problem(401, "unauthorized");
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
}

async fn another_origin_gets_no_cors_headers(app: TestApp) {
    for origin in [
        "https://evil.example",
        "https://app.example.cn.evil.example",
    ] {
        let reply = preflight(&app, origin, "POST").await;
        assert_eq!(
            reply.header("access-control-allow-origin"),
            None,
            "{origin}"
        );
        assert_eq!(
            reply.header("access-control-allow-methods"),
            None,
            "{origin}"
        );
        let token = app.admin_token().await;
        let me = get_from(&app, origin, "/v1/me", Some(&token)).await;
        assert_eq!(me.header("access-control-allow-origin"), None, "{origin}");
    }
}

async fn no_origin_is_allowed_by_default(app: TestApp) {
    let reply = preflight(&app, FRONTEND, "GET").await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
    let me = get_from(&app, FRONTEND, "/v1/me", None).await;
    assert_eq!(me.header("access-control-allow-origin"), None);
}

async fn every_answer_carries_security_headers(app: TestApp) {
    for path in [
        "/v1/me",
        "/health/live",
        "/openapi.json",
        "/docs/",
        "/nowhere",
    ] {
        let reply = app.call(Method::GET, path, None, None).await;
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            reply.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        let csp = reply.header("content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        if path == "/docs/" {
            assert!(csp.contains("script-src 'self'"), "{csp}");
        } else {
            assert!(csp.starts_with("default-src 'none'"), "{path}: {csp}");
        }
    }
}

async fn api_answers_are_not_stored(app: TestApp) {
    let token = app.admin_token().await;
    let customer = app
        .customer(
            &token,
            serde_json::json!({"name": "Keep Out Of Caches Ltd"}),
        )
        .await;
    for path in [
        "/v1/me".to_owned(),
        format!("/v1/customers/{customer}"),
        format!("/v1/customers/{customer}/export"),
        "/v1/customers".to_owned(),
    ] {
        let reply = app.get(&path, &token).await;
        reply.assert_status(200);
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
    }
    let signed_in = app
        .sign_in(rapport_tests::ADMIN_EMAIL, rapport_tests::ADMIN_PASSWORD)
        .await;
    assert_eq!(signed_in.header("cache-control"), Some("no-store"));
    // The document and the docs page are public and may be cached.
    let doc = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.header("cache-control"), None);
}
