//! Several instances on one PostgreSQL database, and reads from a replica (PostgreSQL only:
//! SQLite is one process's file).

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use rapport_tests::{Backend, TestApp, pg};
use serde_json::json;

async fn two_instances() -> (TestApp, TestApp) {
    let first = TestApp::spawn(Backend::Postgres).await;
    let second = first.spawn_beside(|_| {}).await;
    (first, second)
}

/// Concurrent creates and changes through both instances: every write kept once, each
/// audited, and If-Match refuses every change made from a version another instance replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_lose_no_update_postgres() {
    let (a, b) = two_instances().await;
    let (admin_a, admin_b) = (a.admin_token().await, b.admin_token().await);
    let creates = (0..20).map(|i| {
        let (app, token) = if i % 2 == 0 {
            (&a, &admin_a)
        } else {
            (&b, &admin_b)
        };
        app.post(
            "/v1/customers",
            token,
            json!({"name": format!("Shared {i:02}")}),
        )
    });
    let created: Vec<String> = join_all(creates)
        .await
        .into_iter()
        .map(|r| {
            r.assert_status(201);
            r.body["id"].as_str().expect("id").to_owned()
        })
        .collect();
    for id in &created {
        assert_eq!(a.audit_count(id).await, 1, "one audit event for {id}");
    }

    // Twenty changes of one customer from version 1, half through each instance.
    let id = &created[0];
    let path = format!("/v1/customers/{id}");
    let patches = (0..20).map(|i| {
        let (app, token) = if i % 2 == 0 {
            (&a, &admin_a)
        } else {
            (&b, &admin_b)
        };
        app.client
            .patch(app.url(&path))
            .bearer_auth(token)
            .header("If-Match", "\"1\"")
            .json(&json!({"description": format!("change {i}")}))
            .send()
    });
    let statuses: Vec<u16> = join_all(patches)
        .await
        .into_iter()
        .map(|r| r.expect("answered").status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        19,
        "{statuses:?}"
    );
    let after = b.get(&path, &admin_b).await;
    assert_eq!(after.body["version"], 2);
    assert_eq!(a.audit_count(id).await, 2);
}

/// A user disabled through one instance is refused by the other, which had its token
/// checked (and cached), within one second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_disabled_on_one_instance_is_refused_on_the_other_within_a_second_postgres() {
    let (a, b) = two_instances().await;
    let admin = a.admin_token().await;
    let rep = a.user("sales_rep", None).await;
    b.get("/v1/me", &rep.token).await.assert_status(200);
    b.get("/v1/me", &rep.token).await.assert_status(200);

    a.post(&format!("/v1/users/{}/disable", rep.id), &admin, json!({}))
        .await
        .assert_status(200);
    a.get("/v1/me", &rep.token).await.assert_status(401);
    let disabled = Instant::now();
    loop {
        let status = b.get("/v1/me", &rep.token).await;
        if status.status == 401 {
            break;
        }
        assert!(
            disabled.elapsed() < Duration::from_secs(1),
            "still accepted {:?} after the user was disabled on the other instance",
            disabled.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// With `DATABASE_READ_URL`, lists read the replica, except for a caller that changed
/// something a moment ago; gets read the primary. The "replica" here is a second database
/// that never catches up, so each read shows where it went.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_read_the_replica_except_right_after_the_callers_own_write_postgres() {
    let replica = pg::TestDatabase::create().await;
    let primary = TestApp::spawn(Backend::Postgres).await;
    let app = primary
        .spawn_beside(|args| args.database_read_url = Some(replica.url.clone().into()))
        .await;
    let admin = app.admin_token().await;
    let reader = app.user("service_agent", None).await;

    let id = app.customer(&admin, json!({"name": "Fresh Trading"})).await;
    // The writer reads its own write, from the primary.
    let mine = app.get("/v1/customers?q=Fresh", &admin).await;
    mine.assert_status(200);
    assert_eq!(
        mine.body["data"].as_array().map(Vec::len),
        Some(1),
        "{}",
        mine.body
    );
    // Another caller's list goes to the replica, which has not seen it.
    let theirs = app.get("/v1/customers", &reader.token).await;
    theirs.assert_status(200);
    assert_eq!(
        theirs.body["data"].as_array().map(Vec::len),
        Some(0),
        "{}",
        theirs.body
    );
    // A get by id always reads the primary.
    app.get(&format!("/v1/customers/{id}"), &reader.token)
        .await
        .assert_status(200);
}
