//! Repository tests, each on SQLite and PostgreSQL (`<name>::sqlite`, `<name>::postgres`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::both;
use rapport_domain::assignment::AssignmentRule;

use chrono::{Duration, Utc};
use rapport_domain::audit::AuditEvent;
use rapport_domain::auth::Role;
use rapport_domain::clock::{Clock, SystemClock};
use rapport_domain::email::Email;
use rapport_domain::identity::Actor;
use rapport_domain::name::{OrgName, PersonName};
use rapport_store::repos::audit::{self, AuditFilter};
use rapport_store::repos::refresh_tokens::NewRefreshToken;
use rapport_store::repos::{self, refresh_tokens, teams, users};
use rapport_store::{DbOptions, Store, StoreError};
use uuid::Uuid;

both!(
    users_round_trip_and_refuse_a_taken_email,
    saves_are_refused_when_stale,
    password_changes_revoke_tokens,
    user_lists_page_by_keyset,
    audit_events_roll_back_with_their_write,
    audit_lists_newest_first_and_filter,
    refresh_tokens_are_used_once,
    refresh_tokens_purge_when_expired,
    teams_refuse_a_taken_name,
    insert_all_spans_statements_and_rolls_back_whole,
    subscription_changes_reach_the_next_write,
);

/// A refresh token of `family` whose sign-in began `now`.
fn new_token(
    hash: &str,
    family: Uuid,
    user_id: Uuid,
    expires_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> NewRefreshToken {
    NewRefreshToken {
        token_hash: hash.into(),
        family_id: family,
        user_id,
        scope: String::new(),
        expires_at,
        session_started_at: now,
    }
}

fn new_user(email: &str, role: Role) -> users::NewUser {
    users::NewUser {
        id: Uuid::now_v7(),
        email: Email::parse(email).unwrap(),
        name: PersonName::parse("Test").unwrap(),
        role,
        team_id: None,
        password_hash: "$argon2id$placeholder".into(),
        one_time_until: None,
    }
}

fn event(entity_id: Uuid, action: &str) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        occurred_at: SystemClock.now(),
        actor: Actor::System,
        entity_type: "user".into(),
        entity_id,
        customer_id: None,
        action: action.into(),
        request_id: Some("req-1".into()),
        ip: None,
        changes: serde_json::json!({"name": {"before": null, "after": "Test"}}),
    }
}

async fn users_round_trip_and_refuse_a_taken_email(store: Store) {
    let now = SystemClock.now();
    let user = users::insert(
        store.writer(),
        new_user("a@rapport.test", Role::SalesRep),
        now,
    )
    .await
    .unwrap();
    let got = users::get(store.writer(), user.id).await.unwrap();
    assert_eq!(got, user);
    assert_eq!(got.created_at, now, "times keep microsecond precision");
    let (found, hash) =
        users::find_credentials(store.writer(), &Email::parse("A@rapport.test").unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(found.id, user.id);
    assert_eq!(hash, "$argon2id$placeholder");
    let err = users::insert(store.writer(), new_user("a@rapport.test", Role::Admin), now)
        .await
        .unwrap_err();
    assert!(err.is_conflict_on(&users::EMAIL_TAKEN), "{err}");
    assert!(matches!(
        users::get(store.writer(), Uuid::now_v7()).await,
        Err(StoreError::NotFound)
    ));
}

async fn saves_are_refused_when_stale(store: Store) {
    let now = SystemClock.now();
    let user = users::insert(
        store.writer(),
        new_user("s@rapport.test", Role::SalesRep),
        now,
    )
    .await
    .unwrap();
    let mut changed = user.clone();
    changed.name = PersonName::parse("Changed").unwrap();
    let saved = repos::save(store.writer(), &changed, now).await.unwrap();
    assert_eq!(saved.version, 2);
    assert_eq!(saved.token_version, user.token_version);
    // `changed` still says version 1: someone else saved in between.
    assert!(matches!(
        repos::save(store.writer(), &changed, now).await,
        Err(StoreError::Stale)
    ));
    let mut revoking = saved.clone();
    revoking.revoke_tokens();
    let revoked = repos::save(store.writer(), &revoking, now).await.unwrap();
    assert_eq!(revoked.token_version, user.token_version + 1);
}

async fn password_changes_revoke_tokens(store: Store) {
    let now = SystemClock.now();
    let user = users::insert(
        store.writer(),
        new_user("p@rapport.test", Role::Auditor),
        now,
    )
    .await
    .unwrap();
    let before = users::auth_state(store.writer(), user.id, None)
        .await
        .unwrap();
    let until = now + Duration::hours(72);
    let changed = users::set_password(store.writer(), user.id, "$new".into(), Some(until), now)
        .await
        .unwrap();
    assert!(changed.must_change_password);
    assert!(!changed.password_expired(until - Duration::seconds(1)));
    assert!(changed.password_expired(until));
    let after = users::auth_state(store.writer(), user.id, None)
        .await
        .unwrap();
    assert_eq!(after.token_version, before.token_version + 1);
    let chosen = users::set_password(store.writer(), user.id, "$mine".into(), None, now)
        .await
        .unwrap();
    assert!(!chosen.must_change_password && chosen.password_expires_at.is_none());
    assert_eq!(
        users::password_hash(store.writer(), user.id).await.unwrap(),
        "$mine"
    );
}

async fn user_lists_page_by_keyset(store: Store) {
    let now = SystemClock.now();
    for i in 0..7 {
        let role = if i % 2 == 0 {
            Role::SalesRep
        } else {
            Role::Marketing
        };
        users::insert(
            store.writer(),
            new_user(&format!("u{i}@rapport.test"), role),
            now,
        )
        .await
        .unwrap();
    }
    let filter = users::UserFilter {
        role: Some(Role::SalesRep),
        ..Default::default()
    };
    let first = users::list(store.writer(), &filter, None, 3).await.unwrap();
    assert_eq!(first.items.len(), 3);
    let second = users::list(store.writer(), &filter, first.next.clone(), 3)
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert!(second.next.is_none());
    assert!(
        first
            .items
            .iter()
            .chain(&second.items)
            .all(|u| u.role == Role::SalesRep)
    );
    assert!(
        first.items.last().unwrap().id < second.items[0].id,
        "ordered by id"
    );
}

async fn audit_events_roll_back_with_their_write(store: Store) {
    let now = SystemClock.now();
    let tx = store.begin().await.unwrap();
    let user = users::insert(&tx, new_user("r@rapport.test", Role::SalesRep), now)
        .await
        .unwrap();
    audit::record(&tx, event(user.id, "create")).await.unwrap();
    drop(tx); // rolled back: a failure after the audit insert
    let filter = AuditFilter {
        entity_id: Some(user.id),
        ..Default::default()
    };
    assert_eq!(audit::count(store.writer(), &filter).await.unwrap(), 0);
    assert!(matches!(
        users::get(store.writer(), user.id).await,
        Err(StoreError::NotFound)
    ));

    let tx = store.begin().await.unwrap();
    let user = users::insert(&tx, new_user("r@rapport.test", Role::SalesRep), now)
        .await
        .unwrap();
    audit::record(&tx, event(user.id, "create")).await.unwrap();
    rapport_store::commit(tx).await.unwrap();
    let filter = AuditFilter {
        entity_id: Some(user.id),
        ..Default::default()
    };
    assert_eq!(audit::count(store.writer(), &filter).await.unwrap(), 1);
}

async fn audit_lists_newest_first_and_filter(store: Store) {
    let entity = Uuid::now_v7();
    let tx = store.begin().await.unwrap();
    for action in ["create", "update", "update", "delete"] {
        audit::record(&tx, event(entity, action)).await.unwrap();
    }
    audit::record(&tx, event(Uuid::now_v7(), "create"))
        .await
        .unwrap();
    rapport_store::commit(tx).await.unwrap();
    let filter = AuditFilter {
        entity_id: Some(entity),
        ..Default::default()
    };
    let page = audit::list(store.writer(), &filter, None, 3).await.unwrap();
    let actions: Vec<_> = page.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["delete", "update", "update"]);
    let rest = audit::list(store.writer(), &filter, page.next, 3)
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].action, "create");
    let updates = AuditFilter {
        action: Some("update".into()),
        ..Default::default()
    };
    assert_eq!(audit::count(store.writer(), &updates).await.unwrap(), 2);
    let future = AuditFilter {
        from: Some(Utc::now() + Duration::hours(1)),
        ..Default::default()
    };
    assert_eq!(audit::count(store.writer(), &future).await.unwrap(), 0);
}

async fn refresh_tokens_are_used_once(store: Store) {
    let now = SystemClock.now();
    let user = users::insert(
        store.writer(),
        new_user("t@rapport.test", Role::SalesRep),
        now,
    )
    .await
    .unwrap();
    let family = Uuid::now_v7();
    let token = refresh_tokens::insert(
        store.writer(),
        new_token("h1", family, user.id, now + Duration::days(1), now),
        now,
    )
    .await
    .unwrap();
    assert!(
        refresh_tokens::mark_used(store.writer(), token.id, now)
            .await
            .unwrap()
    );
    assert!(
        !refresh_tokens::mark_used(store.writer(), token.id, now)
            .await
            .unwrap(),
        "second use loses"
    );
    refresh_tokens::insert(
        store.writer(),
        new_token("h2", family, user.id, now + Duration::days(1), now),
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        refresh_tokens::revoke_family(store.writer(), family, now)
            .await
            .unwrap(),
        2
    );
    let stored = refresh_tokens::find_by_hash(store.writer(), "h2")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.revoked_at.is_some());
    assert_eq!(stored.session_started_at.timestamp(), now.timestamp());
    // The access tokens of the revoked sign-in see it revoked; those of another do not.
    let state = |session| users::auth_state(store.writer(), user.id, session);
    assert!(state(Some(family)).await.unwrap().session_revoked);
    assert!(!state(Some(Uuid::now_v7())).await.unwrap().session_revoked);
    assert!(!state(None).await.unwrap().session_revoked);
}

async fn refresh_tokens_purge_when_expired(store: Store) {
    let now = SystemClock.now();
    let user = users::insert(
        store.writer(),
        new_user("x@rapport.test", Role::SalesRep),
        now,
    )
    .await
    .unwrap();
    let family = Uuid::now_v7();
    refresh_tokens::insert(
        store.writer(),
        new_token("old", family, user.id, now - Duration::days(3), now),
        now,
    )
    .await
    .unwrap();
    refresh_tokens::insert(
        store.writer(),
        new_token("new", family, user.id, now + Duration::days(3), now),
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        refresh_tokens::purge_expired(store.writer(), now - Duration::days(1))
            .await
            .unwrap(),
        1
    );
    assert!(
        refresh_tokens::find_by_hash(store.writer(), "old")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        refresh_tokens::find_by_hash(store.writer(), "new")
            .await
            .unwrap()
            .is_some()
    );
}

async fn teams_refuse_a_taken_name(store: Store) {
    let now = SystemClock.now();
    let east = || OrgName::parse("East").unwrap();
    teams::insert(
        store.writer(),
        Uuid::now_v7(),
        east(),
        None,
        AssignmentRule::None,
        now,
    )
    .await
    .unwrap();
    let err = teams::insert(
        store.writer(),
        Uuid::now_v7(),
        east(),
        None,
        AssignmentRule::None,
        now,
    )
    .await
    .unwrap_err();
    assert!(err.is_conflict_on(&teams::NAME_TAKEN), "{err}");
}

/// More rows than one statement may bind (products have 12 columns: 2,666 a statement) go in
/// as they were; a duplicate among them fails the transaction and leaves nothing.
async fn insert_all_spans_statements_and_rolls_back_whole(store: Store) {
    use rapport_domain::money::Money;
    use rapport_domain::name::Title;
    use rapport_domain::pricing::Percent;
    use rapport_domain::product::{Product, ProductCode};
    use rapport_store::repos::products;
    use sea_orm::{ConnectionTrait, Statement};

    let now = rapport_domain::clock::to_micros(Utc::now());
    let product = |i: usize| Product {
        id: Uuid::now_v7(),
        code: ProductCode::parse(&format!("P-{i:05}")).unwrap(),
        name: Title::parse(&format!("Product {i}")).unwrap(),
        description: None,
        prices: vec![Money::parse("12.50", "CNY").unwrap()],
        tax_rate: Percent::parse("13").unwrap(),
        active: true,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let made: Vec<Product> = (0..6_000).map(product).collect();
    let tx = store.begin().await.unwrap();
    repos::insert_all(&tx, &made).await.unwrap();
    rapport_store::commit(tx).await.unwrap();
    let backend = store.conn().get_database_backend();
    let count = || async {
        store
            .conn()
            .query_one(Statement::from_string(
                backend,
                "SELECT COUNT(*) AS n FROM products",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap()
    };
    assert_eq!(count().await, 6_000);
    for p in [&made[0], &made[2_666], &made[5_999]] {
        assert_eq!(products::get(store.conn(), p.id).await.unwrap(), *p);
    }

    let again: Vec<Product> = (6_000..9_000).map(product).chain([product(1)]).collect();
    let tx = store.begin().await.unwrap();
    let err = repos::insert_all(&tx, &again).await.unwrap_err();
    assert!(err.is_conflict_on(products::CODE_TAKEN), "{err}");
    drop(tx);
    assert_eq!(count().await, 6_000);
}

/// An unreachable PostgreSQL is "unavailable", not a bug.
#[tokio::test]
async fn unreachable_database_is_unavailable() {
    let mut options = DbOptions::new("postgresql://postgres@127.0.0.1:1/none");
    options.acquire_timeout = std::time::Duration::from_millis(500);
    let err = Store::connect(&options).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

/// Writes `event` on its own transaction, as a request does.
async fn audited(store: &Store, event: AuditEvent) {
    let tx = store.begin().await.unwrap();
    audit::record(&tx, event).await.unwrap();
    rapport_store::commit(tx).await.unwrap();
}

fn customer_created() -> AuditEvent {
    AuditEvent {
        entity_type: "customer".into(),
        ..event(Uuid::now_v7(), "create")
    }
}

/// The active subscriptions are kept in memory between writes: a subscription made or paused
/// just now still takes, or stops taking, the very next write's events.
async fn subscription_changes_reach_the_next_write(store: Store) {
    use rapport_domain::web_url::WebUrl;
    use rapport_domain::webhook::{ENTITY_TYPE, EventType, Webhook, WebhookStatus};
    use rapport_store::repos::webhooks;

    let now = SystemClock.now();
    audited(&store, customer_created()).await; // the empty list is now kept
    let hook = Webhook {
        id: Uuid::now_v7(),
        url: WebUrl::parse("https://hooks.example.com/in").unwrap(),
        description: None,
        event_types: vec![EventType::parse("customer.created").unwrap()],
        status: WebhookStatus::Active,
        paused_reason: None,
        secret: "whsec_test".into(),
        owner: Actor::System,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let tx = store.begin().await.unwrap();
    webhooks::insert(&tx, &hook).await.unwrap();
    let subscribed = AuditEvent {
        entity_type: ENTITY_TYPE.into(),
        ..event(hook.id, "create")
    };
    audit::record(&tx, subscribed).await.unwrap();
    rapport_store::commit(tx).await.unwrap();

    audited(&store, customer_created()).await;
    let pending = webhooks::pending(store.conn(), hook.id).await.unwrap();
    assert_eq!(
        pending.len(),
        1,
        "the write after the subscription raised its event"
    );

    let tx = store.begin().await.unwrap();
    let paused = Webhook {
        status: WebhookStatus::Paused,
        ..hook.clone()
    };
    repos::save(&tx, &paused, now).await.unwrap();
    let pause = AuditEvent {
        entity_type: ENTITY_TYPE.into(),
        ..event(hook.id, "update")
    };
    audit::record(&tx, pause).await.unwrap();
    rapport_store::commit(tx).await.unwrap();

    audited(&store, customer_created()).await;
    let pending = webhooks::pending(store.conn(), hook.id).await.unwrap();
    assert_eq!(pending.len(), 1, "a paused subscription takes no new event");

    // Another instance deletes a subscription this one still keeps in its list: the next
    // write is not refused for it, and queues nothing.
    let other = Webhook {
        id: Uuid::now_v7(),
        ..hook.clone()
    };
    let tx = store.begin().await.unwrap();
    webhooks::insert(&tx, &other).await.unwrap();
    let subscribed = AuditEvent {
        entity_type: ENTITY_TYPE.into(),
        ..event(other.id, "create")
    };
    audit::record(&tx, subscribed).await.unwrap();
    rapport_store::commit(tx).await.unwrap();
    audited(&store, customer_created()).await; // the list with `other` is kept
    webhooks::delete(store.writer(), &other, Utc::now())
        .await
        .unwrap();
    audited(&store, customer_created()).await;
    assert!(
        webhooks::pending(store.conn(), other.id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A deadlock is the one contention PostgreSQL ends a transaction for: it is told apart from
/// a failing statement, as `Contended` (the API answers 503, retry).
#[tokio::test]
async fn a_deadlock_is_contention() {
    common::run(
        rapport_testdb::Backend::Postgres,
        |store: Store| async move {
            use rapport_store::Conn;
            let lock = |n: i64| format!("SELECT pg_advisory_xact_lock({n})");
            let (a, b) = (store.begin().await.unwrap(), store.begin().await.unwrap());
            a.execute_unprepared(&lock(1)).await.unwrap();
            b.execute_unprepared(&lock(2)).await.unwrap();
            let (two, one) = (lock(2), lock(1));
            let (first, second) =
                tokio::join!(a.execute_unprepared(&two), b.execute_unprepared(&one));
            let failed = [first, second]
                .into_iter()
                .filter_map(Result::err)
                .map(StoreError::from)
                .collect::<Vec<_>>();
            assert_eq!(failed.len(), 1, "{failed:?}");
            assert!(matches!(failed[0], StoreError::Contended(_)), "{failed:?}");
        },
    )
    .await;
}
