//! Upgrading a database that holds data: what the migrations do to the rows already there,
//! on SQLite and PostgreSQL.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::auth::Role;
use rapport_domain::clock::{Clock, SystemClock};
use rapport_domain::customer::Customer;
use rapport_domain::email::Email;
use rapport_domain::enums::{CustomerKind, Grade, LifecycleStage};
use rapport_domain::name::{OrgName, PersonName};
use rapport_domain::phone::Region;
use rapport_domain::search::SearchQuery;
use rapport_migrations::{Migrator, MigratorTrait};
use rapport_store::page::SortDir;
use rapport_store::repos::customers::{CustomerFilter, CustomerSort, INDEX_VERSION};
use rapport_store::repos::{customers, lead_escalations, users};
use rapport_store::{Conn, DbOptions, Store};
use rapport_testdb::{Backend, FreshDb};
use sea_orm::Statement;
use uuid::Uuid;

/// Migrations before the one that adds lead escalations.
const BEFORE_ESCALATIONS: u32 = 15;
/// Migrations before the one that keeps duplicate groups.
const BEFORE_KEPT_GROUPS: u32 = 22;

#[tokio::test]
async fn duplicates_before_kept_groups_are_grouped_at_the_upgrade_sqlite() {
    duplicates_before_kept_groups_are_grouped(Backend::Sqlite).await;
}

#[tokio::test]
async fn duplicates_before_kept_groups_are_grouped_at_the_upgrade_postgres() {
    duplicates_before_kept_groups_are_grouped(Backend::Postgres).await;
}

/// Customers written before the groups were kept: the upgrade groups shared names and keys,
/// and leaves deleted customers out.
async fn duplicates_before_kept_groups_are_grouped(backend: Backend) {
    let (_db, store) = unmigrated(backend).await;
    Migrator::up(store.writer(), Some(BEFORE_KEPT_GROUPS))
        .await
        .unwrap();
    let now = SystemClock.now();
    let unowned = |name: &str| Customer {
        owner_id: None,
        ..lead(name, Uuid::nil(), now)
    };
    let acme = unowned("Acme Co., Ltd.");
    let acme_too = unowned("ACME");
    let gone = Customer {
        deleted_at: Some(now),
        ..unowned("Acme")
    };
    let shared = [&acme_too, &gone];
    // Written by today's code: the column a later migration adds exists only for the write.
    store
        .writer()
        .execute_unprepared("ALTER TABLE customers ADD COLUMN campaign_id UUID")
        .await
        .unwrap();
    for customer in [&acme, &acme_too, &gone] {
        customers::insert(store.writer(), customer).await.unwrap();
    }
    store
        .writer()
        .execute_unprepared("ALTER TABLE customers DROP COLUMN campaign_id")
        .await
        .unwrap();
    // As the old code kept keys: every customer's, the deleted one's too, without names.
    let sql = match backend {
        Backend::Sqlite => {
            "INSERT INTO customer_keys (customer_id, kind, value) VALUES (?, 'email', ?)"
        }
        Backend::Postgres => {
            "INSERT INTO customer_keys (customer_id, kind, value) VALUES ($1, 'email', $2)"
        }
    };
    for customer in shared {
        store
            .writer()
            .execute(Statement::from_sql_and_values(
                store.writer().get_database_backend(),
                sql,
                [customer.id.into(), "buyer@acme.example".into()],
            ))
            .await
            .unwrap();
    }

    Migrator::up(store.writer(), None).await.unwrap();

    let groups = customers::duplicate_groups(store.conn(), Visibility::All, None, 10)
        .await
        .unwrap();
    let mut acmes = vec![acme.id, acme_too.id];
    acmes.sort();
    assert_eq!(
        groups
            .iter()
            .map(|g| (g.reason.as_str(), g.value.as_str(), g.customer_ids.clone()))
            .collect::<Vec<_>>(),
        [("name", "acme", acmes)],
        "the email's other holder is deleted: no group"
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn leads_overdue_before_escalations_existed_are_not_escalated_at_the_upgrade_sqlite() {
    leads_overdue_before_escalations_existed_are_not_escalated(Backend::Sqlite).await;
}

#[tokio::test]
async fn leads_overdue_before_escalations_existed_are_not_escalated_at_the_upgrade_postgres() {
    leads_overdue_before_escalations_existed_are_not_escalated(Backend::Postgres).await;
}

async fn leads_overdue_before_escalations_existed_are_not_escalated(backend: Backend) {
    let (_db, store) = unmigrated(backend).await;
    Migrator::up(store.writer(), Some(BEFORE_ESCALATIONS))
        .await
        .unwrap();
    let applied = Migrator::get_applied_migrations(store.writer())
        .await
        .unwrap();
    let last = applied.last().unwrap().name().to_owned();
    assert!(last.ends_with("_breaches_and_notifications"), "{last}");

    let now = SystemClock.now();
    let owner = users::insert(
        store.writer(),
        users::NewUser {
            id: Uuid::now_v7(),
            email: Email::parse("rep@rapport.test").unwrap(),
            name: PersonName::parse("Rep").unwrap(),
            role: Role::SalesRep,
            team_id: None,
            password_hash: "$argon2id$placeholder".into(),
            one_time_until: None,
        },
        now,
    )
    .await
    .unwrap();
    let missed = lead("Missed Long Ago", owner.id, now - Duration::days(30));
    let due_later = lead("Due Tomorrow", owner.id, now + Duration::days(1));
    // The leads are written by today's code: the customer columns added by later migrations
    // exist only for the write, so the upgrade below adds them itself.
    let later_columns = [
        ("grade_locked", "BOOLEAN NOT NULL DEFAULT FALSE"),
        ("campaign_id", "UUID"),
    ];
    for (column, kind) in later_columns {
        store
            .writer()
            .execute_unprepared(&format!("ALTER TABLE customers ADD COLUMN {column} {kind}"))
            .await
            .unwrap();
    }
    for lead in [&missed, &due_later] {
        customers::insert(store.writer(), lead).await.unwrap();
    }
    for (column, _) in later_columns {
        store
            .writer()
            .execute_unprepared(&format!("ALTER TABLE customers DROP COLUMN {column}"))
            .await
            .unwrap();
    }

    Migrator::up(store.writer(), None).await.unwrap();

    let overdue_now = lead_escalations::overdue(store.conn(), now, 10)
        .await
        .unwrap();
    assert_eq!(overdue_now, Vec::<Uuid>::new(), "counted as escalated");
    let overdue_in_two_days = lead_escalations::overdue(store.conn(), now + Duration::days(2), 10)
        .await
        .unwrap();
    assert_eq!(
        overdue_in_two_days,
        vec![due_later.id],
        "due after the upgrade"
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn search_prefixes_rebuild_the_sqlite_index_at_the_upgrade_sqlite() {
    search_prefixes_rebuild_the_sqlite_index(Backend::Sqlite).await;
}

#[tokio::test]
async fn search_prefixes_rebuild_the_sqlite_index_at_the_upgrade_postgres() {
    search_prefixes_rebuild_the_sqlite_index(Backend::Postgres).await;
}

/// Migration 38 makes SQLite's FTS5 table again with more prefix indexes: it comes back
/// empty and marked outdated, and the rebuild finds the customers again (by an inner part,
/// which the new prefix index of 6 answers). PostgreSQL's index is left as it was.
async fn search_prefixes_rebuild_the_sqlite_index(backend: Backend) {
    let (_db, store) = unmigrated(backend).await;
    let conn = store.writer();
    Migrator::up(conn, None).await.unwrap();
    let northwind = Customer {
        owner_id: None,
        ..lead("Northwind Traders", Uuid::nil(), SystemClock.now())
    };
    customers::insert(conn, &northwind).await.unwrap();
    customers::index_new(conn, &northwind, &[]).await.unwrap();
    // Back to before migration 38, as an older version left the database, and up again.
    let migrations = Migrator::migrations();
    let at_38 = migrations
        .iter()
        .position(|m| m.name().contains("_000038_"))
        .unwrap();
    let steps = u32::try_from(migrations.len() - at_38).unwrap();
    Migrator::down(conn, Some(steps)).await.unwrap();
    Migrator::up(conn, None).await.unwrap();

    let found = || async {
        let filter = CustomerFilter {
            search: SearchQuery::parse("thwi", Region::parse("US").unwrap()),
            ..CustomerFilter::default()
        };
        let page = customers::list(
            conn,
            Visibility::All,
            &filter,
            CustomerSort::SearchOrder,
            SortDir::Desc,
            None,
            10,
        )
        .await
        .unwrap();
        page.items.iter().map(|c| c.id).collect::<Vec<Uuid>>()
    };
    if backend == Backend::Sqlite {
        assert_eq!(customers::index_version(conn).await.unwrap(), 0);
        assert_eq!(
            found().await,
            Vec::<Uuid>::new(),
            "the index came back empty"
        );
        customers::rebuild_index(&store, |_| {}).await.unwrap();
    }
    assert_eq!(customers::index_version(conn).await.unwrap(), INDEX_VERSION);
    assert_eq!(found().await, vec![northwind.id]);
    store.close().await.unwrap();
}

/// A store on a fresh database that no migration has run on yet (the database is dropped
/// with the returned handle).
async fn unmigrated(backend: Backend) -> (FreshDb, Store) {
    let db = FreshDb::empty(backend).await;
    rapport_store::crypto::install(rapport_store::crypto::FieldCipher::new([7; 32], &[])).unwrap();
    let store = Store::connect(&DbOptions::new(db.url.clone()))
        .await
        .unwrap();
    (db, store)
}

fn lead(name: &str, owner: Uuid, due: DateTime<Utc>) -> Customer {
    let created = due - Duration::days(1);
    Customer {
        id: Uuid::now_v7(),
        name: OrgName::parse(name).unwrap(),
        kind: CustomerKind::Enterprise,
        industry: None,
        size: None,
        grade: Grade::Standard,
        grade_locked: false,
        lifecycle_stage: LifecycleStage::Lead,
        owner_id: Some(owner),
        team_id: None,
        tags: vec![],
        source: None,
        campaign_id: None,
        channel: None,
        website: None,
        registration_number: None,
        country: None,
        addresses: vec![],
        external_ids: BTreeMap::new(),
        description: None,
        first_contact_due_at: Some(due),
        first_contacted_at: None,
        last_activity_at: None,
        deleted_at: None,
        merged_into_id: None,
        erased_at: None,
        created_at: created,
        updated_at: created,
        version: 1,
    }
}
