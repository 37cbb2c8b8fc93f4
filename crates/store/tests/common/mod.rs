//! What the store's test files share: each test runs on a fresh SQLite file and a fresh
//! PostgreSQL database.

use rapport_store::{DbOptions, Store};
use rapport_testdb::{Backend, FreshDb};

/// Generates `name::sqlite` and `name::postgres` from `async fn name(store: Store)`.
// `harness.rs` calls `run` itself, without `both!`.
#[allow(unused_macros)]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                crate::common::run(rapport_testdb::Backend::Sqlite, super::$name).await
            }

            #[tokio::test]
            async fn postgres() {
                crate::common::run(rapport_testdb::Backend::Postgres, super::$name).await
            }
        }
    )*};
}

#[allow(unused_imports)]
pub(crate) use both;

/// Runs `test` on a store over a fresh, migrated database. The database goes with `db` when
/// this returns or unwinds: a failing test leaves none behind (`harness.rs` checks it).
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let db = FreshDb::create(backend).await;
    rapport_store::crypto::install(rapport_store::crypto::FieldCipher::new([7; 32], &[])).unwrap();
    let store = Store::connect(&DbOptions::new(db.url.clone()))
        .await
        .unwrap();
    test(store.clone()).await;
    store.close().await.unwrap();
}
