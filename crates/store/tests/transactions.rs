//! Request transactions, each test on SQLite (where they share group commits) and PostgreSQL.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::both;
use rapport_domain::assignment::AssignmentRule;

use rapport_domain::clock::{Clock, SystemClock};
use rapport_domain::name::OrgName;
use rapport_store::repos::teams;
use rapport_store::{DbOptions, Store, StoreError};
use uuid::Uuid;

both!(
    concurrent_writers_all_commit_and_are_read_at_once,
    an_abandoned_transaction_leaves_nothing_and_spares_the_others,
    a_refused_statement_spares_the_others,
    another_process_writing_meanwhile_waits_its_turn,
);

async fn team_names(store: &Store) -> Vec<String> {
    let mut names: Vec<String> = teams::list(store.conn(), None, None, 200)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

/// Creates team `name` in a transaction of its own.
async fn create(store: Store, name: String) -> Result<(), StoreError> {
    let tx = store.begin().await?;
    let name = OrgName::parse(&name).unwrap();
    teams::insert(
        &tx,
        Uuid::now_v7(),
        name,
        None,
        AssignmentRule::None,
        SystemClock.now(),
    )
    .await?;
    // Yield while holding the transaction, so that others queue behind it.
    tokio::task::yield_now().await;
    rapport_store::commit(tx).await
}

async fn concurrent_writers_all_commit_and_are_read_at_once(store: Store) {
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                create(store.clone(), format!("Team {i:02}")).await.unwrap();
                // Acknowledged means committed: a reader sees it at once.
                let seen = team_names(&store).await;
                assert!(seen.contains(&format!("Team {i:02}")), "{seen:?}");
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(team_names(&store).await.len(), 20);
}

async fn an_abandoned_transaction_leaves_nothing_and_spares_the_others(store: Store) {
    let abandoned = {
        let store = store.clone();
        tokio::spawn(async move {
            let tx = store.begin().await.unwrap();
            let name = OrgName::parse("Abandoned").unwrap();
            teams::insert(
                &tx,
                Uuid::now_v7(),
                name,
                None,
                AssignmentRule::None,
                SystemClock.now(),
            )
            .await
            .unwrap();
            // Dropped without a commit, as when a handler fails half-way.
        })
    };
    let kept = tokio::spawn(create(store.clone(), "Kept".into()));
    abandoned.await.unwrap();
    kept.await.unwrap().unwrap();
    create(store.clone(), "After".into()).await.unwrap();
    assert_eq!(team_names(&store).await, ["After", "Kept"]);
}

async fn a_refused_statement_spares_the_others(store: Store) {
    create(store.clone(), "Taken".into()).await.unwrap();
    let refused = tokio::spawn(create(store.clone(), "Taken".into()));
    let others: Vec<_> = ["One", "Two"]
        .into_iter()
        .map(|name| tokio::spawn(create(store.clone(), name.into())))
        .collect();
    let err = refused.await.unwrap().unwrap_err();
    assert!(err.is_conflict_on(&teams::NAME_TAKEN), "{err}");
    for task in others {
        task.await.unwrap().unwrap();
    }
    assert_eq!(team_names(&store).await, ["One", "Taken", "Two"]);
}

/// Another process on the same database (`rapport create-user` beside a running server) writes
/// while a request's transaction has read and not yet written. On SQLite the request's write
/// must not fail for it ("database is locked", SQLITE_BUSY_SNAPSHOT): the transaction holds
/// the write lock from its start, and the other process waits its turn.
async fn another_process_writing_meanwhile_waits_its_turn(store: Store) {
    let tx = store.begin().await.unwrap();
    assert!(
        teams::list(&tx, None, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let other = Store::connect(&DbOptions::new(store.url().to_owned()))
        .await
        .unwrap();
    let meanwhile = tokio::spawn(create(other.clone(), "Other".into()));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let name = OrgName::parse("Mine").unwrap();
    teams::insert(
        &tx,
        Uuid::now_v7(),
        name,
        None,
        AssignmentRule::None,
        SystemClock.now(),
    )
    .await
    .unwrap();
    rapport_store::commit(tx).await.unwrap();
    meanwhile.await.unwrap().unwrap();
    other.close().await.unwrap();
    assert_eq!(team_names(&store).await, ["Mine", "Other"]);
}
