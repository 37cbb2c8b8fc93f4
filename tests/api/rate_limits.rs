//! Request limits: per caller (by role) and per client address, told in `RateLimit-*` headers
//! on every `/v1` response, 429 with `Retry-After` past them.

use rapport_tests::{Reply, TestApp, backend_tests};
use reqwest::Method;

backend_tests!(
    settings = |a| a.rate_limits = Some("ip=100000,default=6,sales_rep=3".into());
    each_caller_has_its_own_limit_by_role,
);

backend_tests!(
    settings = |a| a.rate_limits = Some("ip=4,default=100000".into());
    an_address_is_limited_whoever_calls,
);

backend_tests!(a_client_can_have_its_own_limit);

fn header(reply: &Reply, name: &str) -> u64 {
    reply
        .header(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .parse()
        .unwrap()
}

async fn each_caller_has_its_own_limit_by_role(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let rep = app.token_of(&rep).await;

    // The rep: 3 a minute.
    for left in (0..3).rev() {
        let reply = app.get("/v1/me", &rep).await;
        reply.assert_status(200);
        assert_eq!(header(&reply, "RateLimit-Limit"), 3);
        assert_eq!(header(&reply, "RateLimit-Remaining"), left);
        assert_eq!(reply.header("RateLimit-Policy"), Some("3;w=60"));
        // Each spent request is back in 20 s; the reset is when all are.
        let reset = header(&reply, "RateLimit-Reset");
        assert!((1..=60).contains(&reset), "{reset}");
    }
    let refused = app.get("/v1/customers", &rep).await;
    refused.assert_problem(429, "rate_limited");
    assert_eq!(header(&refused, "RateLimit-Remaining"), 0);
    let retry = header(&refused, "Retry-After");
    assert!((1..=20).contains(&retry), "{retry}");
    assert_eq!(refused.body["retry_after"], retry);

    // The admin (the default, 6) is counted apart: the user's creation took one.
    let reply = app.get("/v1/me", &admin).await;
    reply.assert_status(200);
    assert_eq!(header(&reply, "RateLimit-Limit"), 6);
    assert_eq!(header(&reply, "RateLimit-Remaining"), 4);
    // Refusals that are not the limit's count too (a 404 is a request).
    let missing = app
        .get(&format!("/v1/customers/{}", uuid::Uuid::now_v7()), &admin)
        .await;
    missing.assert_problem(404, "not_found");
    assert_eq!(header(&missing, "RateLimit-Remaining"), 3);

    // Outside /v1 nothing is limited or told.
    let live = app.call(Method::GET, "/health/live", None, None).await;
    live.assert_status(200);
    assert!(live.header("RateLimit-Limit").is_none());
}

async fn an_address_is_limited_whoever_calls(app: TestApp) {
    // Anonymous requests count against the address, and say so.
    for left in (0..4).rev() {
        let reply = app.call(Method::GET, "/v1/me", None, None).await;
        reply.assert_problem(401, "unauthorized");
        assert_eq!(header(&reply, "RateLimit-Limit"), 4);
        assert_eq!(header(&reply, "RateLimit-Remaining"), left);
    }
    let refused = app.call(Method::GET, "/v1/me", None, None).await;
    refused.assert_problem(429, "rate_limited");
    assert!(header(&refused, "Retry-After") >= 1);
    // Signing in is refused too: the address is out of requests.
    let sign_in = app
        .sign_in(rapport_tests::ADMIN_EMAIL, rapport_tests::ADMIN_PASSWORD)
        .await;
    sign_in.assert_problem(429, "rate_limited");
    let live = app.call(Method::GET, "/health/live", None, None).await;
    live.assert_status(200);
}

/// `client:<id>=N` gives one integration client its own limit; others keep the default. The
/// client exists before the setting names it: a second instance beside the first reads it.
async fn a_client_can_have_its_own_limit(app: TestApp) {
    let admin = app.admin_token().await;
    let mut clients = Vec::new();
    for name in ["nightly sync", "other integration"] {
        let created = app
            .post(
                "/v1/clients",
                &admin,
                serde_json::json!({"name": name, "scopes": ["customers:read"]}),
            )
            .await;
        created.assert_status(201);
        clients.push(created.body);
    }
    let limited = clients[0]["id"].as_str().unwrap().to_owned();
    let beside = app
        .spawn_beside(|a| {
            a.rate_limits = Some(format!("ip=100000,default=5,client:{limited}=2"));
        })
        .await;
    let mut tokens = Vec::new();
    for client in &clients {
        let reply = beside
            .call(
                Method::POST,
                "/v1/auth/token",
                None,
                Some(serde_json::json!({
                    "grant_type": "client_credentials",
                    "client_id": client["client_id"],
                    "client_secret": client["client_secret"],
                })),
            )
            .await;
        reply.assert_status(200);
        tokens.push(reply.body["access_token"].as_str().unwrap().to_owned());
    }
    for left in [1, 0] {
        let reply = beside.get("/v1/customers", &tokens[0]).await;
        reply.assert_status(200);
        assert_eq!(header(&reply, "RateLimit-Limit"), 2);
        assert_eq!(header(&reply, "RateLimit-Remaining"), left);
    }
    beside
        .get("/v1/customers", &tokens[0])
        .await
        .assert_problem(429, "rate_limited");
    // The other client has the default, and is not charged for the first.
    let reply = beside.get("/v1/customers", &tokens[1]).await;
    reply.assert_status(200);
    assert_eq!(header(&reply, "RateLimit-Limit"), 5);
    assert_eq!(header(&reply, "RateLimit-Remaining"), 4);
}
