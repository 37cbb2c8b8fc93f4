//! The tamper-evident audit trail: every event is sealed into a hash chain within a minute
//! (the `audit.seal` job); `GET /v1/audit-events/verify` walks the chain and names the first
//! event changed or deleted since; erasure keeps the chain verifiable; concurrent writers and
//! sealers make one chain.

use std::time::{Duration, Instant};

use rapport_domain::clock::Clock;
use rapport_store::repos::audit::{self, AuditFilter};
use rapport_store::repos::audit_chain;
use rapport_tests::jobs::execute;
use rapport_tests::{TestApp, backend_tests};
use serde_json::{Value, json};

backend_tests!(
    writes_are_sealed_and_the_chain_verifies,
    the_first_event_changed_or_deleted_is_named,
    erasure_keeps_the_chain_verifiable,
    concurrent_writers_and_sealers_make_one_chain
);

const VERIFY: &str = "/v1/audit-events/verify";

/// Moves the clock past the next minute and waits until the seal job has chained every event.
async fn sealed(app: &TestApp, token: &str) -> Value {
    app.clock.advance(chrono::Duration::minutes(1));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = app.get(VERIFY, token).await;
        reply.assert_status(200);
        if reply.body["unsealed"] == 0 {
            return reply.body;
        }
        assert!(Instant::now() < deadline, "still unsealed: {}", reply.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `sql` on the database behind the API's back, with the event's id as `$1`.
async fn tamper(store: &rapport_store::Store, sql: &str, event: &str) {
    let id = event.parse::<uuid::Uuid>().unwrap();
    execute(store, sql, vec![id.into()]).await.unwrap();
}

/// The ids of the audit trail's events, oldest first: the order they are sealed in.
async fn events_oldest_first(app: &TestApp, token: &str) -> Vec<String> {
    let reply = app.get("/v1/audit-events?limit=200", token).await;
    reply.assert_status(200);
    let mut ids: Vec<String> = reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    ids.reverse();
    ids
}

async fn writes_are_sealed_and_the_chain_verifies(app: TestApp) {
    let admin = app.admin_token().await;
    for n in 0..3 {
        app.customer(&admin, json!({"name": format!("Chained {n} Ltd")}))
            .await;
    }
    let auditor = app.user("auditor", None).await;
    let found = sealed(&app, &auditor.token).await;
    // Jobs (grading) may write more events after this answer, so the trail holds at least
    // what the chain does.
    let events = audit::count(app.store().await.conn(), &AuditFilter::default())
        .await
        .unwrap();
    assert_eq!(found["valid"], true, "{found}");
    assert_eq!(found["first_broken"], Value::Null);
    assert_eq!(found["sealed"], found["head_seq"]);
    let chained = found["head_seq"].as_u64().unwrap();
    assert!(
        (5..=events).contains(&chained),
        "{chained} of {events}: {found}"
    );
    assert_eq!(found["head_hash"].as_str().unwrap().len(), 64);

    // Later writes extend the chain from its head.
    app.customer(&admin, json!({"name": "Chained later Ltd"}))
        .await;
    let later = sealed(&app, &auditor.token).await;
    assert_eq!(later["valid"], true, "{later}");
    assert!(later["head_seq"].as_u64().unwrap() > chained);
}

async fn the_first_event_changed_or_deleted_is_named(app: TestApp) {
    let admin = app.admin_token().await;
    for n in 0..4 {
        app.customer(&admin, json!({"name": format!("Evidence {n} Ltd")}))
            .await;
    }
    sealed(&app, &admin).await;
    let events = events_oldest_first(&app, &admin).await;
    let store = app.store().await;

    // The changes of the fourth event are rewritten in the database.
    tamper(
        &store,
        r#"UPDATE audit_events SET changes = '{"name": {"after": "Someone else"}}' WHERE id = $1"#,
        &events[3],
    )
    .await;
    let found = app.get(VERIFY, &admin).await.body;
    assert_eq!(found["valid"], false, "{found}");
    assert_eq!(found["first_broken"]["seq"], 4, "{found}");
    assert_eq!(found["first_broken"]["event_id"], events[3].as_str());
    assert_eq!(found["first_broken"]["reason"], "changes");
    assert_eq!(found["sealed"], 3);

    // Who did it is rewritten on the third: the break moves up to it.
    tamper(
        &store,
        "UPDATE audit_events SET action = 'tampered' WHERE id = $1",
        &events[2],
    )
    .await;
    let found = app.get(VERIFY, &admin).await.body;
    assert_eq!(found["first_broken"]["seq"], 3, "{found}");
    assert_eq!(found["first_broken"]["reason"], "content");

    // The second is deleted.
    tamper(&store, "DELETE FROM audit_events WHERE id = $1", &events[1]).await;
    let found = app.get(VERIFY, &admin).await.body;
    assert_eq!(found["first_broken"]["seq"], 2, "{found}");
    assert_eq!(found["first_broken"]["reason"], "missing");
    assert_eq!(found["sealed"], 1);
}

async fn erasure_keeps_the_chain_verifiable(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app
        .customer(
            &admin,
            json!({"name": "Private Person", "kind": "individual",
                   "contacts": [{"first_name": "Wei", "last_name": "Wang",
                                 "emails": [{"address": "wang.wei@example.cn"}]}]}),
        )
        .await;
    sealed(&app, &admin).await;
    app.post(
        &format!("/v1/customers/{customer}/erase"),
        &admin,
        json!({}),
    )
    .await
    .assert_status(200);
    let found = sealed(&app, &admin).await;
    assert_eq!(found["valid"], true, "{found}");
    assert!(found["erased"].as_u64().unwrap() >= 1, "{found}");
    // The scrubbed events' other fields are still checked.
    let events = events_oldest_first(&app, &admin).await;
    let store = app.store().await;
    tamper(
        &store,
        "UPDATE audit_events SET entity_type = 'tampered' WHERE id = $1",
        &events[1],
    )
    .await;
    let found = app.get(VERIFY, &admin).await.body;
    assert_eq!(found["first_broken"]["reason"], "content", "{found}");
}

/// Twenty writers through the API while four sealers chain what is committed, each from its
/// own connection: one chain, every event in it once, and it verifies.
async fn concurrent_writers_and_sealers_make_one_chain(app: TestApp) {
    let admin = app.admin_token().await;
    let store = app.store().await;
    let writing = futures_util::future::join_all((0..20).map(|n| {
        let (app, admin) = (&app, &admin);
        async move {
            app.customer(admin, json!({"name": format!("Concurrent {n} Ltd")}))
                .await;
        }
    }));
    let sealing = futures_util::future::join_all((0..4).map(|_| {
        let (store, clock) = (&store, &app.clock);
        async move {
            for _ in 0..10 {
                audit_chain::seal(store, clock.now()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }));
    futures_util::future::join(writing, sealing).await;
    let found = sealed(&app, &admin).await;
    let events = audit::count(store.conn(), &AuditFilter::default())
        .await
        .unwrap();
    assert_eq!(found["valid"], true, "{found}");
    assert_eq!(found["sealed"], found["head_seq"]);
    let chained = found["head_seq"].as_u64().unwrap();
    assert!(
        (20..=events).contains(&chained),
        "{chained} of {events}: {found}"
    );
}
