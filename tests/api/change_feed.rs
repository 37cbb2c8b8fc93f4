//! The customer change feed: `GET /v1/customers?updated_since=` walks every change in order,
//! deletions as tombstones, and a walk misses nothing written while it runs.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rapport_domain::clock::Clock;
use rapport_tests::{TestApp, backend_tests, query_value};
use serde_json::{Value, json};

backend_tests!(
    a_walk_sees_every_change_made_during_it,
    changes_show_once_settled,
    a_rep_follows_its_own_customers,
    what_a_feed_cannot_take,
    opportunities_and_tickets_have_feeds
);

/// One page of the feed from `since` (2 records at most) and the cursor of the next.
async fn page(
    app: &TestApp,
    token: &str,
    since: &str,
    cursor: Option<&str>,
) -> (Vec<Value>, Option<String>) {
    let mut path = format!("/v1/customers?updated_since={}&limit=2", query_value(since));
    if let Some(c) = cursor {
        path.push_str(&format!("&cursor={}", query_value(c)));
    }
    let reply = app.get(&path, token).await;
    reply.assert_status(200);
    let data = reply.body["data"].as_array().unwrap().clone();
    assert!(data.len() <= 2);
    (data, reply.body["next_cursor"].as_str().map(str::to_owned))
}

/// Walks the feed on from `cursor` to its end; answers every record seen, in order.
async fn walk_on(
    app: &TestApp,
    token: &str,
    since: &str,
    mut cursor: Option<String>,
) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let (data, next) = page(app, token, since, cursor.as_deref()).await;
        seen.extend(data);
        match next {
            Some(next) => cursor = Some(next),
            None => {
                assert_in_order(&seen);
                return seen;
            }
        }
    }
}

/// Walks the whole feed from `since`.
async fn walk(app: &TestApp, token: &str, since: &str) -> Vec<Value> {
    walk_on(app, token, since, None).await
}

fn settle(app: &TestApp) {
    app.clock.advance(Duration::seconds(6));
}

/// The latest version of each record seen.
fn latest(seen: &[Value]) -> HashMap<String, Value> {
    let mut by_id: HashMap<String, Value> = HashMap::new();
    for record in seen {
        let id = record["id"].as_str().unwrap().to_owned();
        let newer = by_id
            .get(&id)
            .is_none_or(|old| old["version"].as_i64() <= record["version"].as_i64());
        if newer {
            by_id.insert(id, record.clone());
        }
    }
    by_id
}

async fn a_walk_sees_every_change_made_during_it(app: TestApp) {
    let admin = app.admin_token().await;
    let start = app.clock.now().to_rfc3339();
    let mut ids = Vec::new();
    for name in ["Acme", "Globex", "Initech", "Umbrella", "Hooli"] {
        ids.push(
            app.customer(&admin, json!({"name": name}))
                .await
                .to_string(),
        );
    }
    settle(&app);

    // The first page, then changes while the walk goes on.
    let (first, cursor) = page(&app, &admin, &start, None).await;
    let first_ids: Vec<&str> = first.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        first_ids,
        [ids[0].as_str(), ids[1].as_str()],
        "oldest change first"
    );
    // Seen already, changed again; not seen yet, changed; deleted; new.
    app.patch(
        &format!("/v1/customers/{}", ids[0]),
        &admin,
        json!({"industry": "finance"}),
    )
    .await
    .assert_status(200);
    app.patch(
        &format!("/v1/customers/{}", ids[3]),
        &admin,
        json!({"industry": "education"}),
    )
    .await
    .assert_status(200);
    app.delete(&format!("/v1/customers/{}", ids[2]), &admin)
        .await
        .assert_status(204);
    let late = app
        .customer(&admin, json!({"name": "Late Arrival"}))
        .await
        .to_string();

    // The rest of this walk, then the next one from the last change seen.
    let mut seen = first.clone();
    seen.extend(walk_on(&app, &admin, &start, cursor).await);
    assert_in_order(&seen);
    settle(&app);
    let last = seen.last().unwrap()["updated_at"]
        .as_str()
        .unwrap()
        .to_owned();
    seen.extend(walk(&app, &admin, &last).await);

    // Every record at its latest version, the deleted one as a tombstone.
    let latest = latest(&seen);
    for id in ids.iter().chain([&late]) {
        let record = latest.get(id).unwrap_or_else(|| panic!("{id} never seen"));
        let current = app.get(&format!("/v1/customers/{id}"), &admin).await;
        if id == &ids[2] {
            current.assert_status(404);
            assert!(record["deleted_at"].is_string(), "tombstone: {record}");
        } else {
            assert_eq!(record["version"], current.body["version"], "{id}");
            assert_eq!(record["deleted_at"], Value::Null);
        }
    }
    assert_eq!(latest[&ids[0]]["industry"], "finance");
    assert_eq!(latest[&ids[3]]["industry"], "education");
}

/// A walk answers changes oldest first.
fn assert_in_order(walked: &[Value]) {
    let times: Vec<DateTime<Utc>> = walked
        .iter()
        .map(|c| c["updated_at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

async fn changes_show_once_settled(app: TestApp) {
    let admin = app.admin_token().await;
    let since = app.clock.now().to_rfc3339();
    let id = app.customer(&admin, json!({"name": "Fresh"})).await;
    // Written a moment ago: a write still committing could be older, so the feed waits.
    assert!(walk(&app, &admin, &since).await.is_empty());
    settle(&app);
    let seen = walk(&app, &admin, &since).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["id"], id.to_string());
}

async fn a_rep_follows_its_own_customers(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let rep_token = app.token_of(&rep).await;
    let since = app.clock.now().to_rfc3339();
    let mine = app.customer(&rep_token, json!({"name": "Mine"})).await;
    let gone = app
        .customer(&rep_token, json!({"name": "Mine, deleted"}))
        .await;
    let other = app.customer(&admin, json!({"name": "Not mine"})).await;
    app.delete(&format!("/v1/customers/{gone}"), &admin)
        .await
        .assert_status(204);
    settle(&app);
    let seen = latest(&walk(&app, &rep_token, &since).await);
    assert!(seen.contains_key(&mine.to_string()));
    assert!(seen[&gone.to_string()]["deleted_at"].is_string());
    assert!(!seen.contains_key(&other.to_string()));
    assert_eq!(seen.len(), 2);
}

async fn what_a_feed_cannot_take(app: TestApp) {
    let admin = app.admin_token().await;
    let since = query_value(&app.clock.now().to_rfc3339());
    for (extra, field) in [
        ("&q=acme", "q"),
        ("&sort=name", "sort"),
        ("&deleted=true", "deleted"),
    ] {
        let reply = app
            .get(
                &format!("/v1/customers?updated_since={since}{extra}"),
                &admin,
            )
            .await;
        reply.assert_problem(400, "malformed_request");
        assert_eq!(reply.error_fields(), [field], "{extra}");
    }
    app.get("/v1/customers?updated_since=yesterday", &admin)
        .await
        .assert_problem(400, "malformed_request");
    // Filters still apply.
    app.customer(&admin, json!({"name": "Acme", "industry": "finance"}))
        .await;
    app.customer(&admin, json!({"name": "Globex", "industry": "education"}))
        .await;
    settle(&app);
    let reply = app
        .get(
            &format!("/v1/customers?updated_since={since}&industry=finance&sort=updated_at"),
            &admin,
        )
        .await;
    reply.assert_status(200);
    let names: Vec<&str> = reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme"]);
}

/// Walks the feed of `list` (`/v1/opportunities`, …) from `since`, a record a page.
async fn walk_list(app: &TestApp, token: &str, list: &str, since: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{list}?updated_since={}&limit=1", query_value(since));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", query_value(c)));
        }
        let reply = app.get(&path, token).await;
        reply.assert_status(200);
        seen.extend(reply.body["data"].as_array().unwrap().iter().cloned());
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_in_order(&seen);
    seen
}

async fn opportunities_and_tickets_have_feeds(app: TestApp) {
    let admin = app.admin_token().await;
    let start = app.clock.now().to_rfc3339();
    let survivor = app.customer(&admin, json!({"name": "Feed Survivor"})).await;
    let duplicate = app
        .customer(&admin, json!({"name": "Feed Duplicate"}))
        .await;
    let mut deals = Vec::new();
    let mut tickets = Vec::new();
    for title in ["First", "Second", "Third"] {
        let reply = app
            .post(
                "/v1/opportunities",
                &admin,
                json!({"customer_id": duplicate, "title": title}),
            )
            .await;
        reply.assert_status(201);
        deals.push(reply.body["id"].as_str().unwrap().to_owned());
        let reply = app
            .post(
                "/v1/tickets",
                &admin,
                json!({"customer_id": duplicate, "subject": title, "channel": "email", "category": "inquiry"}),
            )
            .await;
        reply.assert_status(201);
        tickets.push(reply.body["id"].as_str().unwrap().to_owned());
    }
    // Changes too fresh to be settled are not shown yet.
    assert!(
        walk_list(&app, &admin, "/v1/opportunities", &start)
            .await
            .is_empty()
    );
    settle(&app);
    let ids = |seen: &[Value]| -> Vec<String> {
        seen.iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&walk_list(&app, &admin, "/v1/opportunities", &start).await),
        deals
    );
    assert_eq!(
        ids(&walk_list(&app, &admin, "/v1/tickets", &start).await),
        tickets
    );

    // A change and a merge that moves them: each shows again, last, at its new version.
    let since = app.clock.now().to_rfc3339();
    app.patch(
        &format!("/v1/opportunities/{}", deals[0]),
        &admin,
        json!({"next_step": "Call back"}),
    )
    .await
    .assert_status(200);
    app.post(
        &format!("/v1/customers/{survivor}/merge"),
        &admin,
        json!({"duplicate_ids": [duplicate]}),
    )
    .await
    .assert_status(200);
    settle(&app);
    for (list, expected) in [("/v1/opportunities", &deals), ("/v1/tickets", &tickets)] {
        let seen = walk_list(&app, &admin, list, &since).await;
        let latest = latest(&seen);
        assert_eq!(latest.len(), 3, "{list}: {seen:?}");
        for id in expected {
            assert_eq!(latest[id]["customer_id"], survivor.to_string(), "{list}");
        }
    }

    // A feed has one order.
    let reply = app
        .get(
            &format!(
                "/v1/opportunities?updated_since={}&sort=amount",
                query_value(&start)
            ),
            &admin,
        )
        .await;
    reply.assert_problem(400, "malformed_request");
    let reply = app
        .get(
            &format!(
                "/v1/tickets?updated_since={}&sort=resolution_due_at",
                query_value(&start)
            ),
            &admin,
        )
        .await;
    reply.assert_problem(400, "malformed_request");
}
