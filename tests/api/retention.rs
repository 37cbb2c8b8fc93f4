//! Retention: the housekeeping job (`maintenance.purge`, every 15 minutes) erases deleted
//! customers once `RAPPORT_DELETED_RETENTION_DAYS` have passed (audited, by the system), and
//! drops the sealed tokens of survey invitations that expired unsent.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rapport_domain::clock::Clock;
use rapport_tests::{TestApp, backend_tests};
use serde_json::{Value, json};

backend_tests!(deleted_customers_are_erased_when_their_retention_ends);

// A mail server that refuses every connection: invitation emails keep failing.
backend_tests!(
    settings = |a| a.smtp_url = Some("smtp://127.0.0.1:1".to_owned().into());
    expired_invitations_keep_no_token,
);

const PURGE: &str = "maintenance.purge";

/// Waits until a housekeeping run of the 15 minutes up to `now` has succeeded (the schedule
/// puts its runs on multiples of 15 minutes).
async fn purged_since(app: &TestApp, token: &str, now: DateTime<Utc>) {
    let since = now - chrono::Duration::minutes(15);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = app
            .get(&format!("/v1/jobs?kind={PURGE}&limit=200"), token)
            .await;
        reply.assert_status(200);
        let done = reply.body["data"].as_array().unwrap().iter().any(|job| {
            job["status"] == "succeeded"
                && job["run_at"]
                    .as_str()
                    .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                    .is_some_and(|at| at >= since)
        });
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no purge since {since}: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The deleted customers, by id.
async fn deleted(app: &TestApp, token: &str, id: &str) -> Value {
    let reply = app.get("/v1/customers?deleted=true&limit=200", token).await;
    reply.assert_status(200);
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} is not listed as deleted: {}", reply.body))
}

/// Days past the retention erase a deleted customer (its contacts and audit trail too) and
/// record it; one deleted later, one restored, and one never deleted keep everything.
async fn deleted_customers_are_erased_when_their_retention_ends(app: TestApp) {
    let admin = app.admin_token().await;
    let body = |name: &str, email: &str| {
        json!({
            "name": name,
            "contacts": [{"first_name": "Lei", "last_name": "Li", "emails": [{"address": email}]}],
        })
    };
    let early = app
        .customer(&admin, body("Early Gone Ltd", "early@example.cn"))
        .await
        .to_string();
    let late = app
        .customer(&admin, body("Late Gone Ltd", "late@example.cn"))
        .await
        .to_string();
    let back = app
        .customer(&admin, body("Came Back Ltd", "back@example.cn"))
        .await
        .to_string();
    let kept = app
        .customer(&admin, body("Never Gone Ltd", "kept@example.cn"))
        .await
        .to_string();
    let delete = |id: String, token: String| {
        let app = &app;
        async move {
            app.delete(&format!("/v1/customers/{id}"), &token)
                .await
                .assert_status(204);
        }
    };
    delete(early.clone(), admin.clone()).await;
    delete(back.clone(), admin.clone()).await;
    app.clock.advance(chrono::Duration::days(20));
    delete(late.clone(), app.admin_token().await).await;

    // Day 29 of the first deletion: within its retention, nothing is erased.
    app.clock.advance(chrono::Duration::days(9));
    let admin = app.admin_token().await;
    purged_since(&app, &admin, app.clock.now()).await;
    assert_eq!(
        deleted(&app, &admin, &early).await["name"],
        "Early Gone Ltd"
    );
    app.post(&format!("/v1/customers/{back}/restore"), &admin, json!({}))
        .await
        .assert_status(200);

    // Day 31: the first deletion is past its 30 days.
    app.clock.advance(chrono::Duration::days(2));
    let admin = app.admin_token().await;
    purged_since(&app, &admin, app.clock.now()).await;
    let erased = deleted(&app, &admin, &early).await;
    assert_eq!(erased["name"], "[erased]", "{erased}");
    assert!(erased["erased_at"].is_string(), "{erased}");
    assert_eq!(deleted(&app, &admin, &late).await["name"], "Late Gone Ltd");
    for (id, name) in [(&back, "Came Back Ltd"), (&kept, "Never Gone Ltd")] {
        let reply = app.get(&format!("/v1/customers/{id}"), &admin).await;
        reply.assert_status(200);
        assert_eq!(reply.body["name"], name);
        assert!(reply.body["contacts"][0]["emails"][0]["address"].is_string());
    }

    // Its audit trail keeps the shape, not the values, and says who erased it and why.
    let events = app.audit_events(&early).await;
    let purges = |events: &[Value]| events.iter().filter(|e| e["action"] == "purge").count();
    let purge = events
        .iter()
        .find(|e| e["action"] == "purge")
        .unwrap_or_else(|| panic!("no purge event: {events:?}"));
    assert_eq!(purge["actor_type"], "system", "{purge}");
    assert_eq!(purge["changes"]["erased"], true, "{purge}");
    let text = Value::from(events.clone()).to_string();
    assert!(!text.contains("Early Gone"), "{text}");
    assert!(!text.contains("early@example.cn"), "{text}");

    // Erased is final: no restore, and the next run erases nothing more.
    app.post(&format!("/v1/customers/{early}/restore"), &admin, json!({}))
        .await
        .assert_problem(409, "conflict");
    app.clock.advance(chrono::Duration::minutes(16));
    let admin = app.admin_token().await;
    purged_since(&app, &admin, app.clock.now()).await;
    assert_eq!(purges(&app.audit_events(&early).await), purges(&events));
    // The audit chain still verifies after erasure by the job.
    app.clock.advance(chrono::Duration::minutes(1));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let verify = app.get("/v1/audit-events/verify", &admin).await;
        verify.assert_status(200);
        if verify.body["unsealed"] == 0 {
            assert_eq!(verify.body["broken"], Value::Null, "{}", verify.body);
            break;
        }
        assert!(Instant::now() < deadline, "{}", verify.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Invitations whose token is kept for an email: how many.
async fn sealed_tokens(app: &TestApp) -> i64 {
    app.scalar("SELECT COUNT(*) FROM survey_invitations WHERE token_sealed IS NOT NULL")
        .await
}

/// An invitation whose email cannot go (the mail server refuses) keeps its sealed token
/// until it expires; then the housekeeping job drops it.
async fn expired_invitations_keep_no_token(app: TestApp) {
    let admin = app.admin_token().await;
    let survey = app
        .post(
            "/v1/surveys",
            &admin,
            json!({"title": "How did we do?", "questions": [
                {"id": "speed", "kind": "csat", "text": "How fast did we help?"},
            ]}),
        )
        .await;
    survey.assert_status(201);
    let customer = app
        .post(
            "/v1/customers",
            &admin,
            json!({"name": "Unreachable Ltd", "contacts": [
                {"first_name": "Lei", "last_name": "Li", "emails": [{"address": "lei@example.cn"}]},
            ]}),
        )
        .await;
    customer.assert_status(201);
    let invitation = app
        .post(
            &format!(
                "/v1/surveys/{}/invitations",
                survey.body["id"].as_str().unwrap()
            ),
            &admin,
            json!({"contact_id": customer.body["contacts"][0]["id"]}),
        )
        .await;
    invitation.assert_status(201);
    assert_eq!(sealed_tokens(&app).await, 1);

    let expires: DateTime<Utc> = invitation.body["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = app.clock.now();
    app.clock
        .advance(expires - now + chrono::Duration::minutes(16));
    let admin = app.admin_token().await;
    purged_since(&app, &admin, app.clock.now()).await;
    assert_eq!(sealed_tokens(&app).await, 0);
}
