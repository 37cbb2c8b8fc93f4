//! Fresh PostgreSQL databases for tests: a template migrated once per build, and a
//! `CREATE DATABASE ... TEMPLATE` per test, dropped with its guard (also when the test panics).
//! Used by the store's tests, the process tests and the black-box API tests.

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

/// A database made for one test, dropped with this guard: by [`TestDatabase::drop_now`] in
/// async code, else when the guard is dropped, which a failing test does while it unwinds.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    /// Whether the database still has to be dropped.
    armed: bool,
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

/// Whether database `name` exists on the test server.
pub async fn database_exists(name: &str) -> bool {
    let conn = admin().await;
    let found = exists(&conn, name).await;
    conn.close().await.ok();
    found
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
        TestDatabase::guarding(name)
    }

    /// An empty database with no schema (for migration tests).
    pub async fn create_empty() -> TestDatabase {
        let conn = admin().await;
        let name = format!("rapport_test_{}", Uuid::now_v7().simple());
        conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        conn.close().await.ok();
        TestDatabase::guarding(name)
    }

    fn guarding(name: String) -> TestDatabase {
        let url = url_of(&name);
        TestDatabase {
            name,
            url,
            armed: true,
        }
    }

    /// Drops the database now, disconnecting whoever still uses it.
    pub async fn drop_now(mut self) {
        self.armed = false;
        drop_database(&self.name).await;
    }

    /// Keeps the database after the guard is gone (to look at it); answers its name.
    pub fn keep(mut self) -> String {
        self.armed = false;
        std::mem::take(&mut self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // Drop cannot await, and blocking on the test's runtime from inside it panics: drop
        // the database on a thread with a runtime of its own.
        let name = std::mem::take(&mut self.name);
        let dropping = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(drop_database(&name));
            }
        });
        let _ = dropping.join();
    }
}

/// Drops database `name`, disconnecting whoever still uses it; never panics, as it runs in
/// `Drop`.
async fn drop_database(name: &str) {
    let Ok(conn) = Database::connect(admin_url()).await else {
        return;
    };
    let _ = conn
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    conn.close().await.ok();
}

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, migrated database of either backend, removed when dropped (also when the test
/// using it panics).
pub struct FreshDb {
    pub url: String,
    // Held to be dropped with it.
    _postgres: Option<TestDatabase>,
    _sqlite_dir: Option<SqliteDir>,
}

/// The folder of a test's SQLite file, removed when dropped.
struct SqliteDir(std::path::PathBuf);

impl Drop for SqliteDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl FreshDb {
    /// A fresh database with every migration applied.
    pub async fn create(backend: Backend) -> FreshDb {
        FreshDb::with_schema(backend, true).await
    }

    /// A fresh database with no schema, for a test that migrates it step by step.
    pub async fn empty(backend: Backend) -> FreshDb {
        FreshDb::with_schema(backend, false).await
    }

    async fn with_schema(backend: Backend, migrated: bool) -> FreshDb {
        match backend {
            Backend::Postgres => {
                let db = if migrated {
                    TestDatabase::create().await
                } else {
                    TestDatabase::create_empty().await
                };
                FreshDb {
                    url: db.url.clone(),
                    _postgres: Some(db),
                    _sqlite_dir: None,
                }
            }
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("rapport-testdb-{}", Uuid::now_v7()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                // Held before migrating, so a failed migration removes the folder too.
                let held = SqliteDir(dir);
                let url = format!("sqlite://{}?mode=rwc", held.0.join("test.db").display());
                let conn = Database::connect(&url).await.expect("open sqlite");
                if migrated {
                    Migrator::up(&conn, None).await.expect("migrate sqlite");
                }
                conn.close().await.ok();
                FreshDb {
                    url,
                    _postgres: None,
                    _sqlite_dir: Some(held),
                }
            }
        }
    }
}
