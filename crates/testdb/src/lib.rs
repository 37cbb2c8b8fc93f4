//! Fresh PostgreSQL databases for tests: a template migrated once per build, and a
//! `CREATE DATABASE ... TEMPLATE` per test, dropped afterwards. Used by the store's tests and
//! the black-box API tests.

// A test harness: a failed expectation is a failed test, so panicking is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rapport_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use uuid::Uuid;

/// The server to create test databases on (its `postgres` database).
pub fn admin_url() -> String {
    std::env::var("RAPPORT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of database `name` on the test server.
pub fn url_of(name: &str) -> String {
    let admin = admin_url();
    match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => admin,
    }
}

/// An arbitrary key for the advisory lock that serializes template creation across the test
/// processes of one run.
const TEMPLATE_LOCK: i64 = 0x0052_4150_5445_5354;

/// A database made for one test; dropped by [`TestDatabase::drop_now`].
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

/// The template's name follows the migrations' content (see `build.rs`): a changed migration
/// is never served from a stale template, and every test binary of one build shares it.
fn template_name() -> String {
    format!("rapport_tpl_{}", env!("RAPPORT_MIGRATIONS_FINGERPRINT"))
}

async fn admin() -> DatabaseConnection {
    Database::connect(admin_url())
        .await
        .expect("PostgreSQL is reachable (set RAPPORT_TEST_POSTGRES_URL)")
}

async fn exists(conn: &DatabaseConnection, name: &str) -> bool {
    let row = conn
        .query_one(sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
            [name.into()],
        ))
        .await
        .expect("query pg_database");
    row.is_some()
}

/// Creates and migrates the template once; other processes wait on the lock.
async fn ensure_template(conn: &DatabaseConnection) -> String {
    let name = template_name();
    if exists(conn, &name).await {
        return name;
    }
    conn.execute_unprepared(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
        .await
        .expect("lock");
    if !exists(conn, &name).await {
        let building = format!("{name}_building");
        conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .await
            .expect("drop");
        conn.execute_unprepared(&format!("CREATE DATABASE {building}"))
            .await
            .expect("create template");
        let tpl = Database::connect(url_of(&building))
            .await
            .expect("connect template");
        Migrator::up(&tpl, None).await.expect("migrate template");
        tpl.close().await.expect("close template");
        // Renamed only when complete, so a half-built template is never used.
        conn.execute_unprepared(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .await
            .expect("rename");
        drop_stale_templates(conn, &name).await;
    }
    conn.execute_unprepared(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"))
        .await
        .expect("unlock");
    name
}

/// Templates of earlier builds.
async fn drop_stale_templates(conn: &DatabaseConnection, keep: &str) {
    let rows = conn
        .query_all(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT datname FROM pg_database WHERE datname LIKE 'rapport_tpl_%'",
        ))
        .await
        .unwrap_or_default();
    for row in rows {
        if let Ok(name) = row.try_get::<String>("", "datname")
            && name != keep
        {
            let _ = conn
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

impl TestDatabase {
    /// A fresh, migrated database.
    pub async fn create() -> TestDatabase {
        let conn = admin().await;
        let name = format!("rapport_test_{}", Uuid::now_v7().simple());
        // A checkout with other migrations, testing on the same server, drops this build's
        // template as stale: build it again and retry.
        let mut tries = 0;
        loop {
            let template = ensure_template(&conn).await;
            let created = conn
                .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .await;
            match created {
                Ok(_) => break,
                Err(e) if tries < 3 && e.to_string().contains("does not exist") => tries += 1,
                Err(e) => panic!("create test database: {e}"),
            }
        }
        conn.close().await.ok();
        let url = url_of(&name);
        TestDatabase { name, url }
    }

    /// An empty database with no schema (for migration tests).
    pub async fn create_empty() -> TestDatabase {
        let conn = admin().await;
        let name = format!("rapport_test_{}", Uuid::now_v7().simple());
        conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        conn.close().await.ok();
        let url = url_of(&name);
        TestDatabase { name, url }
    }

    /// Drops the database, disconnecting whoever still uses it.
    pub async fn drop_now(self) {
        let conn = admin().await;
        let _ = conn
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
        conn.close().await.ok();
    }
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, migrated database of either backend, removed by [`FreshDb::drop_now`].
pub struct FreshDb {
    pub url: String,
    postgres: Option<TestDatabase>,
    sqlite_dir: Option<std::path::PathBuf>,
}

impl FreshDb {
    pub async fn create(backend: Backend) -> FreshDb {
        match backend {
            Backend::Postgres => {
                let db = TestDatabase::create().await;
                FreshDb {
                    url: db.url.clone(),
                    postgres: Some(db),
                    sqlite_dir: None,
                }
            }
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("rapport-testdb-{}", Uuid::now_v7()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.join("test.db").display());
                let conn = Database::connect(&url).await.expect("open sqlite");
                Migrator::up(&conn, None).await.expect("migrate sqlite");
                conn.close().await.ok();
                FreshDb {
                    url,
                    postgres: None,
                    sqlite_dir: Some(dir),
                }
            }
        }
    }

    pub async fn drop_now(self) {
        if let Some(db) = self.postgres {
            db.drop_now().await;
        }
        if let Some(dir) = self.sqlite_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
