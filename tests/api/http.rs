//! HTTP basics: problem+json for every error, body limits, content types, request ids, health,
//! metrics, the OpenAPI document and the docs page.

use rapport_tests::{TestApp, backend_tests, proxy::Proxy};
use reqwest::Method;
use serde_json::json;

backend_tests!(
    malformed_json_is_400_problem,
    unknown_body_fields_are_422_naming_the_field,
    wrong_json_types_are_422_naming_the_field,
    non_json_body_is_415,
    too_large_body_is_413,
    unknown_routes_are_404_problem,
    request_ids_are_echoed_or_made,
    problems_speak_chinese_on_request,
    health_and_metrics,
    openapi_is_served_as_committed,
    docs_page_works_offline,
);

async fn malformed_json_is_400_problem(app: TestApp) {
    let admin = app.admin_token().await;
    let response = app
        .client
        .post(app.url("/v1/teams"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    rapport_tests::read(response)
        .await
        .assert_problem(400, "malformed_request");
}

async fn unknown_body_fields_are_422_naming_the_field(app: TestApp) {
    let admin = app.admin_token().await;
    let reply = app
        .post("/v1/teams", &admin, json!({"name": "x", "nmae": "typo"}))
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.body["errors"][0]["field"], "nmae");
    assert_eq!(reply.body["errors"][0]["code"], "unknown_field");
}

async fn wrong_json_types_are_422_naming_the_field(app: TestApp) {
    let admin = app.admin_token().await;
    let reply = app.post("/v1/teams", &admin, json!({"name": 42})).await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.body["errors"][0]["field"], "name");
    assert_eq!(reply.body["errors"][0]["code"], "invalid_type");
    let missing = app.post("/v1/teams", &admin, json!({})).await;
    assert_eq!(missing.body["errors"][0]["field"], "name");
    assert_eq!(missing.body["errors"][0]["code"], "required");
}

async fn non_json_body_is_415(app: TestApp) {
    let admin = app.admin_token().await;
    let response = app
        .client
        .post(app.url("/v1/teams"))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    rapport_tests::read(response)
        .await
        .assert_problem(415, "unsupported_media_type");
}

async fn too_large_body_is_413(app: TestApp) {
    let admin = app.admin_token().await;
    let big = json!({"name": "x".repeat(2 * 1024 * 1024)});
    app.post("/v1/teams", &admin, big)
        .await
        .assert_problem(413, "payload_too_large");
    // Without a Content-Length (chunked), the limit holds too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..40).map(|_| Ok(vec![b' '; 64 * 1024])).collect();
    let response = app
        .client
        .post(app.url("/v1/teams"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    rapport_tests::read(response)
        .await
        .assert_problem(413, "payload_too_large");
}

async fn unknown_routes_are_404_problem(app: TestApp) {
    app.call(Method::GET, "/v1/nowhere", None, None)
        .await
        .assert_problem(404, "not_found");
    app.call(Method::GET, "/", None, None)
        .await
        .assert_problem(404, "not_found");
}

async fn request_ids_are_echoed_or_made(app: TestApp) {
    let given = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "abc-123");
    let made = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(made.headers()["x-request-id"].len(), 36);
    let problem = app.call(Method::GET, "/v1/me", None, None).await;
    assert_eq!(
        problem.body["request_id"].as_str(),
        problem.header("x-request-id")
    );
}

async fn problems_speak_chinese_on_request(app: TestApp) {
    let admin = app.admin_token().await;
    let response = app
        .client
        .post(app.url("/v1/teams"))
        .bearer_auth(&admin)
        .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.5")
        .json(&json!({"name": ""}))
        .send()
        .await
        .unwrap();
    let reply = rapport_tests::read(response).await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.header("content-language"), Some("zh-CN"));
    assert_eq!(reply.body["title"], "数据校验失败");
    assert_eq!(reply.body["errors"][0]["message"], "此字段为必填项。");
}

async fn health_and_metrics(app: TestApp) {
    let live = app.call(Method::GET, "/health/live", None, None).await;
    live.assert_status(200);
    app.call(Method::GET, "/health/ready", None, None)
        .await
        .assert_status(200);
    app.call(Method::GET, "/v1/me", None, None).await;
    // Made-up methods are one label, not a series each.
    for i in 1..=5 {
        let made_up = Method::from_bytes(format!("FOO{i}").as_bytes()).unwrap();
        app.call(made_up, "/health/live", None, None).await;
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            r#"rapport_http_requests_total{method="GET",route="/health/live",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="/v1/me",status="401""#));
    assert!(metrics.contains("rapport_http_request_duration_seconds_bucket"));
    assert!(!metrics.contains("FOO"), "{metrics}");
    assert!(
        metrics
            .contains(r#"rapport_http_requests_total{method="OTHER",route="/health/live",status="#),
        "{metrics}"
    );
}

async fn openapi_is_served_as_committed(app: TestApp) {
    let served = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/openapi.json"
    ))
    .expect("openapi/openapi.json is committed (run `make openapi`)");
    assert!(
        served == committed,
        "openapi/openapi.json differs from the served document: run `make openapi`"
    );
    let doc: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}

async fn docs_page_works_offline(app: TestApp) {
    let redirect = app.client.get(app.url("/docs")).send().await.unwrap();
    assert!(
        redirect.status().is_success(),
        "the redirect is followed to the page"
    );
    let page = app
        .client
        .get(app.url("/docs/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("swagger-ui"));
    // Every script and stylesheet of the page is served by Rapport itself.
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        let reply = app
            .client
            .get(app.url(&format!("/docs/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "{asset}");
    }
    assert!(
        !page.contains("https://"),
        "the page loads nothing from the internet"
    );
    let initializer = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/openapi.json"));
}

/// Readiness follows the database: 503 while it is unreachable, 200 again when it is back,
/// without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_turns_503_when_postgres_is_unreachable_and_recovers() {
    let db = rapport_tests::pg::TestDatabase::create().await;
    let target = db
        .url
        .split('@')
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let proxy = Proxy::start(target.clone()).await;
    let through_proxy = db
        .url
        .replace(&target, &format!("127.0.0.1:{}", proxy.port));
    let app = TestApp::spawn_with(rapport_tests::Backend::Sqlite, |args| {
        args.database_url = Some(through_proxy.into());
    })
    .await;
    app.call(Method::GET, "/health/ready", None, None)
        .await
        .assert_status(200);
    proxy.down();
    let down = app.call(Method::GET, "/health/ready", None, None).await;
    down.assert_problem(503, "service_unavailable");
    assert!(down.header("retry-after").is_some());
    // Requests that need the database say so too, and leak nothing.
    let token_attempt = app
        .sign_in(rapport_tests::ADMIN_EMAIL, rapport_tests::ADMIN_PASSWORD)
        .await;
    token_attempt.assert_problem(503, "service_unavailable");
    assert!(!token_attempt.body.to_string().contains("127.0.0.1"));
    proxy.up();
    let mut recovered = false;
    for _ in 0..20 {
        if app
            .call(Method::GET, "/health/ready", None, None)
            .await
            .status
            == 200
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(recovered, "readiness recovers without a restart");
    drop(app);
    db.drop_now().await;
}
