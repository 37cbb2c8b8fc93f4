//! The test harness itself: a test that fails leaves no database behind, on either backend.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use rapport_store::Store;
use rapport_testdb::Backend;

/// Runs a store test that panics; answers the URL of the database it was given.
async fn url_of_a_failing_test(backend: Backend) -> String {
    let url = Arc::new(Mutex::new(String::new()));
    let seen = url.clone();
    let test = common::run(backend, move |store: Store| async move {
        *seen.lock().unwrap() = store.url().to_owned();
        panic!("a deliberately failing test");
    });
    let outcome = tokio::spawn(test).await;
    assert!(outcome.is_err_and(|e| e.is_panic()), "the test failed");
    let url = url.lock().unwrap().clone();
    assert!(!url.is_empty(), "the test ran");
    url
}

#[tokio::test]
async fn a_failing_test_drops_its_postgres_database() {
    let url = url_of_a_failing_test(Backend::Postgres).await;
    let name = url.rsplit('/').next().unwrap();
    assert!(name.starts_with("rapport_test_"), "{url}");
    assert!(
        !rapport_testdb::database_exists(name).await,
        "{name} was left behind"
    );
}

#[tokio::test]
async fn a_failing_test_removes_its_sqlite_file() {
    let url = url_of_a_failing_test(Backend::Sqlite).await;
    let file = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap();
    let dir = std::path::Path::new(file).parent().unwrap();
    assert!(file.ends_with("test.db"), "{url}");
    assert!(!dir.exists(), "{} was left behind", dir.display());
}
