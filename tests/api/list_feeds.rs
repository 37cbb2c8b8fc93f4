//! Change feeds of every list of records (`updated_since`; the customer, opportunity and
//! ticket feeds have their own tests in `change_feed.rs`). Records deleted for good (contacts,
//! activities, tasks, teams, clients, webhooks) come as tombstones in `deleted`, in one order
//! with the changes, under one cursor, to whoever saw the record.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rapport_domain::clock::Clock;
use rapport_tests::{TestApp, USER_PASSWORD, backend_tests, query_value};
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    settings = |a| a.webhooks_allow_private = Some(true);
    each_list_walks_changes_and_deletions_in_one_order,
    deletions_show_once_settled_and_only_in_feeds,
    a_rep_sees_deletions_of_what_it_saw,
    deletions_follow_the_filters_they_can,
    every_list_of_versioned_records_has_a_feed,
    lists_of_settings_and_catalogues_walk_their_changes,
    a_client_sees_only_its_own_webhooks_go,
    an_article_feed_takes_no_search
);

/// What a feed walk saw: records and tombstones, each with the time that orders it.
#[derive(Default)]
struct Walk {
    records: Vec<Value>,
    deleted: Vec<Value>,
    /// `(time, id, deleted?)` in the order the pages gave them.
    order: Vec<(DateTime<Utc>, String, bool)>,
}

impl Walk {
    fn deleted_ids(&self) -> HashSet<String> {
        self.deleted
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The latest version of each record seen.
    fn latest(&self) -> HashMap<String, Value> {
        let mut by_id: HashMap<String, Value> = HashMap::new();
        for r in &self.records {
            let id = r["id"].as_str().unwrap().to_owned();
            if by_id
                .get(&id)
                .is_none_or(|old| old["version"].as_i64() <= r["version"].as_i64())
            {
                by_id.insert(id, r.clone());
            }
        }
        by_id
    }
}

fn time(value: &Value, field: &str) -> DateTime<Utc> {
    value[field].as_str().unwrap().parse().unwrap()
}

/// The lists of records deleted for good: their feeds answer `deleted`, the others do not.
const DELETED_FOR_GOOD: [&str; 7] = [
    "/v1/contacts",
    "/v1/activities",
    "/v1/tasks",
    "/v1/teams",
    "/v1/clients",
    "/v1/webhooks",
    "/v1/campaigns",
];

/// Walks the feed of `list` from `since`, `limit` a page (`extra`: more parameters).
async fn walk(app: &TestApp, token: &str, list: &str, since: &str, extra: &str) -> Walk {
    let mut seen = Walk::default();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{list}?updated_since={}&limit=2{extra}", query_value(since));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", query_value(c)));
        }
        let reply = app.get(&path, token).await;
        reply.assert_status(200);
        let data = reply.body["data"].as_array().unwrap();
        let none = Vec::new();
        let deleted = match reply.body.get("deleted") {
            Some(d) => d.as_array().unwrap(),
            None => &none,
        };
        let with_deletions = DELETED_FOR_GOOD.contains(&list);
        assert_eq!(
            reply.body.get("deleted").is_some(),
            with_deletions,
            "{list}"
        );
        assert!(data.len() + deleted.len() <= 2, "{}", reply.body);
        let mut page: Vec<_> = data
            .iter()
            .map(|r| {
                (
                    time(r, "updated_at"),
                    r["id"].as_str().unwrap().to_owned(),
                    false,
                )
            })
            .chain(deleted.iter().map(|d| {
                (
                    time(d, "deleted_at"),
                    d["id"].as_str().unwrap().to_owned(),
                    true,
                )
            }))
            .collect();
        page.sort();
        seen.order.extend(page);
        seen.records.extend(data.iter().cloned());
        seen.deleted.extend(deleted.iter().cloned());
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let keys: Vec<_> = seen
        .order
        .iter()
        .map(|(t, id, _)| (*t, id.clone()))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "one order: {keys:?}");
    seen
}

fn settle(app: &TestApp) {
    app.clock.advance(Duration::seconds(6));
}

fn id_of(reply: &rapport_tests::Reply) -> String {
    reply.assert_status(201);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// A contact, an activity and a task of `customer`, created with `token`.
async fn one_of_each(
    app: &TestApp,
    token: &str,
    customer: Uuid,
    user: &str,
    n: usize,
) -> [String; 3] {
    let contact = app
        .post(
            &format!("/v1/customers/{customer}/contacts"),
            token,
            json!({"first_name": format!("Person {n}")}),
        )
        .await;
    let activity = app
        .post(
            "/v1/activities",
            token,
            json!({"customer_id": customer, "kind": "note", "summary": format!("Note {n}")}),
        )
        .await;
    let task = app
        .post(
            "/v1/tasks",
            token,
            json!({"customer_id": customer, "title": format!("Task {n}"), "assignee_id": user}),
        )
        .await;
    [id_of(&contact), id_of(&activity), id_of(&task)]
}

/// Each list with deletions, and a field a test changes.
const LISTS: [(&str, &str); 3] = [
    ("/v1/contacts", "first_name"),
    ("/v1/activities", "summary"),
    ("/v1/tasks", "title"),
];

async fn each_list_walks_changes_and_deletions_in_one_order(app: TestApp) {
    let admin_user = app.user("admin", None).await;
    let admin = admin_user.token.clone();
    let start = app.clock.now().to_rfc3339();
    let customer = app.customer(&admin, json!({"name": "Feedful"})).await;
    let mut made = Vec::new();
    for n in 0..4 {
        made.push(one_of_each(&app, &admin, customer, &admin_user.id.to_string(), n).await);
        app.clock.advance(Duration::milliseconds(10));
    }
    settle(&app);
    for (i, (list, field)) in LISTS.iter().enumerate() {
        let ids: Vec<&String> = made.iter().map(|m| &m[i]).collect();
        // Deleted, changed, deleted after a change, created: interleaved in time.
        app.delete(&format!("{list}/{}", ids[1]), &admin)
            .await
            .assert_status(204);
        app.clock.advance(Duration::milliseconds(10));
        app.patch(
            &format!("{list}/{}", ids[2]),
            &admin,
            json!({*field: "Changed"}),
        )
        .await
        .assert_status(200);
        app.clock.advance(Duration::milliseconds(10));
        app.patch(
            &format!("{list}/{}", ids[3]),
            &admin,
            json!({*field: "Doomed"}),
        )
        .await
        .assert_status(200);
        app.delete(&format!("{list}/{}", ids[3]), &admin)
            .await
            .assert_status(204);
        settle(&app);

        let seen = walk(&app, &admin, list, &start, "").await;
        assert_eq!(
            seen.deleted_ids(),
            HashSet::from([ids[1].clone(), ids[3].clone()]),
            "{list}"
        );
        for d in &seen.deleted {
            assert_eq!(d["customer_id"], customer.to_string(), "{list}: {d}");
        }
        let latest = seen.latest();
        assert!(latest.contains_key(ids[0]), "{list}");
        assert_eq!(latest[ids[2]][*field], "Changed", "{list}");
        // A record gone for good shows only as gone; changes and deletions in time order.
        assert!(!latest.contains_key(ids[3]), "{list}");
        let at = |id: &str, deleted: bool| {
            seen.order
                .iter()
                .position(|(_, i, d)| i == id && *d == deleted)
                .unwrap_or_else(|| panic!("{list}: {id} not seen"))
        };
        assert!(at(ids[1], true) < at(ids[2], false), "{list}");
        assert!(at(ids[2], false) < at(ids[3], true), "{list}");

        // The next walk, from the last time seen, has only what changed since.
        let last = seen.order.last().unwrap().0.to_rfc3339();
        let again = walk(&app, &admin, list, &last, "").await;
        assert!(
            again
                .records
                .iter()
                .all(|r| time(r, "updated_at") >= seen.order.last().unwrap().0)
        );
        app.delete(&format!("{list}/{}", ids[0]), &admin)
            .await
            .assert_status(204);
        settle(&app);
        let again = walk(&app, &admin, list, &last, "").await;
        assert!(again.deleted_ids().contains(ids[0]), "{list}");
    }
}

async fn deletions_show_once_settled_and_only_in_feeds(app: TestApp) {
    let admin_user = app.user("admin", None).await;
    let admin = admin_user.token.clone();
    let customer = app.customer(&admin, json!({"name": "Patient"})).await;
    let ids = one_of_each(&app, &admin, customer, &admin_user.id.to_string(), 0).await;
    settle(&app);
    let since = app.clock.now().to_rfc3339();
    for ((list, _), id) in LISTS.iter().zip(&ids) {
        app.delete(&format!("{list}/{id}"), &admin)
            .await
            .assert_status(204);
        // Deleted a moment ago: not shown until settled.
        assert!(
            walk(&app, &admin, list, &since, "")
                .await
                .deleted
                .is_empty(),
            "{list}"
        );
        // A list that is not a feed has no `deleted`.
        let plain = app.get(list, &admin).await;
        plain.assert_status(200);
        assert!(
            plain.body.get("deleted").is_none(),
            "{list}: {}",
            plain.body
        );
    }
    settle(&app);
    for ((list, _), id) in LISTS.iter().zip(&ids) {
        let seen = walk(&app, &admin, list, &since, "").await;
        assert_eq!(seen.deleted_ids(), HashSet::from([id.clone()]), "{list}");
        assert!(seen.deleted[0]["deleted_at"].is_string());
    }
    // A feed of the customer's contacts still answers its plain list.
    let reply = app
        .get(&format!("/v1/customers/{customer}/contacts"), &admin)
        .await;
    reply.assert_status(200);
    assert!(reply.body.get("deleted").is_none());
    // A bad time is refused, as on every feed.
    for (list, _) in LISTS {
        app.get(&format!("{list}?updated_since=yesterday"), &admin)
            .await
            .assert_problem(400, "malformed_request");
    }
}

async fn a_rep_sees_deletions_of_what_it_saw(app: TestApp) {
    let admin_user = app.user("admin", None).await;
    let admin = admin_user.token.clone();
    let rep = app.user("sales_rep", None).await;
    let other = app.user("sales_rep", None).await;
    let since = app.clock.now().to_rfc3339();
    let mine = app.customer(&rep.token, json!({"name": "Mine"})).await;
    let theirs = app.customer(&other.token, json!({"name": "Theirs"})).await;
    let my_records = one_of_each(&app, &rep.token, mine, &rep.id.to_string(), 0).await;
    let their_records = one_of_each(&app, &other.token, theirs, &other.id.to_string(), 1).await;
    // Tasks about no customer: one the rep was given, one between others.
    let task = |title: &str, assignee: Uuid| json!({"title": title, "assignee_id": assignee});
    let given = id_of(&app.post("/v1/tasks", &admin, task("Given", rep.id)).await);
    let unseen = id_of(
        &app.post("/v1/tasks", &admin, task("Unseen", other.id))
            .await,
    );
    for (i, (list, _)) in LISTS.iter().enumerate() {
        for id in [&my_records[i], &their_records[i]] {
            app.delete(&format!("{list}/{id}"), &admin)
                .await
                .assert_status(204);
        }
    }
    for id in [&given, &unseen] {
        app.delete(&format!("/v1/tasks/{id}"), &admin)
            .await
            .assert_status(204);
    }
    settle(&app);
    for (i, (list, _)) in LISTS.iter().enumerate() {
        let seen = walk(&app, &rep.token, list, &since, "").await;
        let mut expected = HashSet::from([my_records[i].clone()]);
        if *list == "/v1/tasks" {
            expected.insert(given.clone());
        }
        assert_eq!(seen.deleted_ids(), expected, "{list}");
        // The admin sees every deletion.
        let all = walk(&app, &admin, list, &since, "").await.deleted_ids();
        assert!(
            all.contains(&their_records[i]) && all.contains(&my_records[i]),
            "{list}"
        );
    }
    // A deleted customer takes its records' tombstones with it (its own is in its feed).
    app.delete(&format!("/v1/customers/{mine}"), &admin)
        .await
        .assert_status(204);
    for (list, _) in LISTS {
        let seen = walk(&app, &rep.token, list, &since, "").await;
        assert!(!seen.deleted_ids().contains(&my_records[0]), "{list}");
    }
}

async fn deletions_follow_the_filters_they_can(app: TestApp) {
    let admin_user = app.user("admin", None).await;
    let admin = admin_user.token.clone();
    let rep = app.user("sales_rep", None).await;
    let since = app.clock.now().to_rfc3339();
    let one = app.customer(&admin, json!({"name": "One"})).await;
    let two = app.customer(&admin, json!({"name": "Two"})).await;
    let of_one = one_of_each(&app, &admin, one, &admin_user.id.to_string(), 0).await;
    let of_two = one_of_each(&app, &admin, two, &rep.id.to_string(), 1).await;
    for (i, (list, _)) in LISTS.iter().enumerate() {
        for id in [&of_one[i], &of_two[i]] {
            app.delete(&format!("{list}/{id}"), &admin)
                .await
                .assert_status(204);
        }
    }
    settle(&app);
    for (i, (list, _)) in LISTS.iter().enumerate() {
        let seen = walk(&app, &admin, list, &since, &format!("&customer_id={one}")).await;
        assert_eq!(
            seen.deleted_ids(),
            HashSet::from([of_one[i].clone()]),
            "{list}"
        );
    }
    // Tasks follow their assignee.
    let seen = walk(
        &app,
        &admin,
        "/v1/tasks",
        &since,
        &format!("&assignee_id={}", rep.id),
    )
    .await;
    assert_eq!(seen.deleted_ids(), HashSet::from([of_two[2].clone()]));
    // A filter a tombstone cannot answer leaves deletions in: dropping an unknown id is safe.
    let seen = walk(&app, &admin, "/v1/contacts", &since, "&missing=email").await;
    assert_eq!(
        seen.deleted_ids(),
        HashSet::from([of_one[0].clone(), of_two[0].clone()])
    );
}

/// Lists whose records carry a `version` but take no `updated_since`, and why.
const WITHOUT_FEED: [(&str, &str); 3] = [
    (
        "/v1/jobs",
        "the job runner's queue, for operators: not data to sync",
    ),
    ("/v1/me/notifications", "a personal inbox, unread first"),
    (
        "/v1/tickets/{id}/comments",
        "never changed: oldest first by id, new ones come last",
    ),
];

async fn every_list_of_versioned_records_has_a_feed(app: TestApp) {
    let doc = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    let doc: Value = doc.json().await.unwrap();
    let schema = |s: &Value| -> Value {
        match s["$ref"].as_str() {
            Some(r) => doc["components"]["schemas"][r.rsplit('/').next().unwrap()].clone(),
            None => s.clone(),
        }
    };
    let mut feeds = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let Some(get) = ops.get("get") else { continue };
        let params: Vec<&str> = get["parameters"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        if !params.contains(&"cursor") {
            continue;
        }
        let list = schema(&get["responses"]["200"]["content"]["application/json"]["schema"]);
        let item = schema(&list["properties"]["data"]["items"]);
        let versioned = ["updated_at", "version"]
            .iter()
            .all(|f| item["properties"].get(*f).is_some());
        if !versioned || WITHOUT_FEED.iter().any(|(p, _)| p == path) {
            continue;
        }
        assert!(
            params.contains(&"updated_since"),
            "{path} has no change feed"
        );
        feeds += 1;
    }
    assert!(feeds >= 16, "only {feeds} feeds");
}

/// A list, a record to create (`n` makes it unique; `of` holds a `customer` and an
/// `opportunity`),
/// a change to make to it, and whether it is deleted for good.
type Made = (&'static str, fn(usize, &Value) -> Value, Value, bool);

fn settings_and_catalogues() -> [Made; 10] {
    [
        (
            "/v1/campaigns",
            |n, _| json!({"name": format!("Feed campaign {n}"), "type": "event"}),
            json!({"name": "Renamed campaign"}),
            true,
        ),
        (
            "/v1/teams",
            |n, _| json!({"name": format!("Feed team {n}")}),
            json!({"name": "Renamed team"}),
            true,
        ),
        (
            "/v1/clients",
            |n, _| json!({"name": format!("Feed client {n}"), "scopes": ["customers:read"]}),
            json!({"name": "Renamed client"}),
            true,
        ),
        (
            "/v1/webhooks",
            |n, _| json!({"url": format!("http://127.0.0.1:9/hook/{n}"), "event_types": ["customer.created"]}),
            json!({"description": "Renamed hook"}),
            true,
        ),
        (
            "/v1/users",
            |n, _| {
                json!({"email": format!("feed.{n}.{}@rapport.test", Uuid::now_v7().simple()),
                    "name": format!("Feed user {n}"), "role": "sales_rep",
                    "password": USER_PASSWORD})
            },
            json!({"name": "Renamed user"}),
            false,
        ),
        (
            "/v1/products",
            |n, _| {
                json!({"code": format!("FEED-{n}"), "name": format!("Feed product {n}"),
                    "prices": [{"amount": "1", "currency": "CNY"}], "tax_rate": "13"})
            },
            json!({"name": "Renamed product"}),
            false,
        ),
        (
            "/v1/articles",
            |n, _| json!({"title": format!("Feed article {n}"), "body": "y", "kind": "faq"}),
            json!({"title": "Renamed article"}),
            false,
        ),
        (
            "/v1/quotes",
            |_, of| json!({"opportunity_id": of["opportunity"], "currency": "CNY", "lines": [{"description": "Service", "quantity": "1", "unit_price": "10"}]}),
            json!({"notes": "Changed quote"}),
            false,
        ),
        (
            "/v1/orders",
            |_, of| json!({"customer_id": of["customer"], "currency": "CNY", "lines": [{"description": "Service", "quantity": "1", "unit_price": "10"}]}),
            json!({"notes": "Changed order"}),
            false,
        ),
        (
            "/v1/surveys",
            |n, _| {
                json!({"title": format!("Feed survey {n}"),
                    "questions": [{"kind": "nps", "text": "Recommend us?"}]})
            },
            json!({"title": "Renamed survey"}),
            false,
        ),
    ]
}

async fn lists_of_settings_and_catalogues_walk_their_changes(app: TestApp) {
    let admin = app.admin_token().await;
    let customer = app.customer(&admin, json!({"name": "Buyer"})).await;
    let deal = app
        .post(
            "/v1/opportunities",
            &admin,
            json!({"customer_id": customer, "title": "Paper"}),
        )
        .await;
    let of = json!({"customer": customer, "opportunity": id_of(&deal)});
    for (list, make, change, deletable) in settings_and_catalogues() {
        let start = app.clock.now().to_rfc3339();
        let first = id_of(&app.post(list, &admin, make(0, &of)).await);
        app.clock.advance(Duration::milliseconds(10));
        let second = id_of(&app.post(list, &admin, make(1, &of)).await);
        settle(&app);
        app.patch(&format!("{list}/{first}"), &admin, change.clone())
            .await
            .assert_status(200);
        if deletable {
            app.delete(&format!("{list}/{second}"), &admin)
                .await
                .assert_status(204);
        }
        settle(&app);
        let seen = walk(&app, &admin, list, &start, "").await;
        let latest = seen.latest();
        let (field, value) = change.as_object().unwrap().iter().next().unwrap();
        assert_eq!(&latest[&first][field], value, "{list}");
        // The change came after the second record's creation: it is walked last.
        let order: Vec<&str> = seen.order.iter().map(|(_, id, _)| id.as_str()).collect();
        let at = |id: &str| order.iter().rposition(|i| *i == id).unwrap();
        if deletable {
            assert_eq!(
                seen.deleted_ids(),
                HashSet::from([second.clone()]),
                "{list}"
            );
            assert!(at(&first) < at(&second), "{list}: the deletion came last");
        } else {
            assert!(latest.contains_key(&second), "{list}");
            assert!(at(&second) < at(&first), "{list}: {order:?}");
        }
        // A list that is not a feed has no `deleted`.
        let plain = app.get(list, &admin).await;
        plain.assert_status(200);
        assert!(plain.body.get("deleted").is_none(), "{list}");
    }
}

async fn a_client_sees_only_its_own_webhooks_go(app: TestApp) {
    let admin = app.admin_token().await;
    let client = app
        .client_token(&["webhooks:write", "customers:read"])
        .await;
    let start = app.clock.now().to_rfc3339();
    let hook = |n: usize| json!({"url": format!("http://127.0.0.1:9/hook/{n}"), "event_types": ["customer.created"]});
    let its_own = id_of(&app.post("/v1/webhooks", &client, hook(0)).await);
    let the_admins = id_of(&app.post("/v1/webhooks", &admin, hook(1)).await);
    for (id, token) in [(&its_own, &client), (&the_admins, &admin)] {
        app.delete(&format!("/v1/webhooks/{id}"), token)
            .await
            .assert_status(204);
    }
    settle(&app);
    let seen = walk(&app, &client, "/v1/webhooks", &start, "").await;
    assert_eq!(seen.deleted_ids(), HashSet::from([its_own.clone()]));
    let all = walk(&app, &admin, "/v1/webhooks", &start, "").await;
    assert_eq!(all.deleted_ids(), HashSet::from([its_own, the_admins]));
}

async fn an_article_feed_takes_no_search(app: TestApp) {
    let admin = app.admin_token().await;
    let since = query_value(&app.clock.now().to_rfc3339());
    let reply = app
        .get(
            &format!("/v1/articles?updated_since={since}&q=invoice"),
            &admin,
        )
        .await;
    reply.assert_problem(400, "malformed_request");
    assert_eq!(reply.error_fields(), ["q"]);
}
