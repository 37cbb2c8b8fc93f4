//! A fresh database for one run: a SQLite file in a folder of its own under the temporary
//! folder, or a uniquely named PostgreSQL database on the server of
//! `RAPPORT_TEST_POSTGRES_URL` (created empty, dropped afterwards).

use std::path::PathBuf;

use anyhow::Context;
use rapport_store::{DbOptions, Store};
use rapport_testdb::TestDatabase;

/// The database kind to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Its name in reports and folder names.
    pub fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A fresh database for one run.
pub enum Db {
    Sqlite { dir: PathBuf, url: String },
    Postgres(TestDatabase),
}

impl Db {
    /// Creates an empty database; `tool` names the SQLite folder (`<tool>-<uuid>`).
    ///
    /// # Errors
    /// PostgreSQL is not reachable, or the folder cannot be made.
    pub async fn create(backend: Backend, tool: &str) -> anyhow::Result<Db> {
        if backend == Backend::Postgres {
            let admin = rapport_testdb::admin_url();
            // Probed first: `TestDatabase` panics when the server is down.
            let probe = Store::connect(&DbOptions::new(admin.clone()))
                .await
                .with_context(|| {
                    format!(
                        "PostgreSQL is not reachable at {admin} (set RAPPORT_TEST_POSTGRES_URL)"
                    )
                })?;
            probe.close().await.ok();
            return Ok(Db::Postgres(TestDatabase::create_empty().await));
        }
        let dir = std::env::temp_dir().join(format!("{tool}-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
        Ok(Db::Sqlite { dir, url })
    }

    pub fn url(&self) -> &str {
        match self {
            Db::Sqlite { url, .. } => url,
            Db::Postgres(db) => &db.url,
        }
    }

    /// Removes the database, or with `keep` prints where it is.
    pub async fn finish(self, keep: bool) {
        match (self, keep) {
            (Db::Sqlite { url, .. }, true) => println!("Kept the SQLite database: {url}"),
            (Db::Postgres(db), true) => println!("Kept the PostgreSQL database: {}", db.keep()),
            (Db::Sqlite { dir, .. }, false) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            (Db::Postgres(db), false) => db.drop_now().await,
        }
    }
}
