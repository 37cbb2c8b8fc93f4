//! Sign-in limits: one account however it is spelled, lockout per client address, trusted
//! proxies, and memory that stays bounded however many usernames fail.

use futures_util::StreamExt;
use futures_util::stream;
use rapport_tests::{ADMIN_EMAIL, ADMIN_PASSWORD, Reply, TestApp, backend_tests};
use serde_json::json;

backend_tests!(
    every_spelling_of_an_account_shares_its_limit,
    a_locked_out_address_does_not_lock_the_account_elsewhere,
    forwarding_headers_are_ignored_from_untrusted_peers,
    usernames_that_are_no_email_cost_no_tries,
    distinct_failing_usernames_leave_memory_bounded,
);

backend_tests!(
    settings = |a| a.trusted_proxies = Some("127.0.0.0/8".into());
    trusted_proxies_name_the_client,
);

const GUESS: &str = "guess-guess-guess";

/// Signs in with the password grant, claiming to come through a proxy for `forwarded_for`.
async fn sign_in_via(app: &TestApp, forwarded_for: &str, email: &str, password: &str) -> Reply {
    let response = app
        .client
        .post(app.url("/v1/auth/token"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"grant_type": "password", "username": email, "password": password}))
        .send()
        .await
        .unwrap();
    rapport_tests::read(response).await
}

/// Fails five times: the per-(account, address) burst.
async fn exhaust(app: &TestApp, forwarded_for: &str, email: &str) {
    for _ in 0..5 {
        sign_in_via(app, forwarded_for, email, GUESS)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    sign_in_via(app, forwarded_for, email, GUESS)
        .await
        .assert_problem(429, "rate_limited");
}

async fn every_spelling_of_an_account_shares_its_limit(app: TestApp) {
    for _ in 0..5 {
        app.sign_in(ADMIN_EMAIL, GUESS)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let shouting = format!("  {} ", ADMIN_EMAIL.to_uppercase());
    for spelling in [
        format!(" {ADMIN_EMAIL}"),
        format!("{ADMIN_EMAIL} "),
        shouting,
    ] {
        app.sign_in(&spelling, GUESS)
            .await
            .assert_problem(429, "rate_limited");
    }
}

async fn a_locked_out_address_does_not_lock_the_account_elsewhere(app: TestApp) {
    for _ in 0..5 {
        app.sign_in(ADMIN_EMAIL, GUESS).await.assert_status(401);
    }
    app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .assert_problem(429, "rate_limited");
    // The owner, from another address, signs in; a wrong password there is a plain 401.
    let elsewhere = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let from_elsewhere = |password: &str| {
        let body = json!({"grant_type": "password", "username": ADMIN_EMAIL, "password": password});
        let request = elsewhere.post(app.url("/v1/auth/token")).json(&body);
        async move { rapport_tests::read(request.send().await.unwrap()).await }
    };
    from_elsewhere(GUESS)
        .await
        .assert_problem(401, "invalid_credentials");
    from_elsewhere(ADMIN_PASSWORD).await.assert_status(200);
}

async fn forwarding_headers_are_ignored_from_untrusted_peers(app: TestApp) {
    exhaust(&app, "203.0.113.5", ADMIN_EMAIL).await;
    // No proxy is trusted: the header is the client's own claim, and changes nothing.
    sign_in_via(&app, "203.0.113.6", ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .assert_problem(429, "rate_limited");
}

async fn trusted_proxies_name_the_client(app: TestApp) {
    exhaust(&app, "203.0.113.5", ADMIN_EMAIL).await;
    let signed_in = sign_in_via(&app, "203.0.113.6", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    signed_in.assert_status(200);
    // The audit trail names the client, not the proxy.
    let token = signed_in.body["access_token"].as_str().unwrap();
    let events = app
        .get("/v1/audit-events?action=sign_in&limit=200", token)
        .await;
    events.assert_status(200);
    let ips: Vec<&str> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["ip"].as_str())
        .collect();
    assert!(ips.contains(&"203.0.113.6"), "{ips:?}");
}

async fn usernames_that_are_no_email_cost_no_tries(app: TestApp) {
    let long = format!("{}@rapport.test", "a".repeat(300));
    for username in ["admin", long.as_str(), "", "admin@@rapport.test"] {
        for _ in 0..6 {
            app.sign_in(username, GUESS)
                .await
                .assert_problem(401, "invalid_credentials");
        }
    }
    app.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .assert_status(200);
}

async fn distinct_failing_usernames_leave_memory_bounded(app: TestApp) {
    let statuses: Vec<u16> = stream::iter(0..10_000)
        .map(|i| {
            let app = &app;
            async move {
                app.sign_in(&format!("nobody{i}@rapport.test"), GUESS)
                    .await
                    .status
                    .as_u16()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut counts = std::collections::BTreeMap::<u16, usize>::new();
    for status in statuses {
        *counts.entry(status).or_default() += 1;
    }
    // 503: the hashes of the first tries waited too long on a busy machine.
    assert!(
        counts.keys().all(|s| [401, 429, 503].contains(s)),
        "{counts:?}"
    );
    assert!(counts[&429] >= 9_900, "{counts:?}");
    let buckets = app.gauge("rapport_login_limiter_buckets").await;
    assert!(buckets <= 100.0, "{buckets} buckets for 10,000 usernames");
}
