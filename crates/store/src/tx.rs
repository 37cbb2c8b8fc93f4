//! One request's transaction, and group commit on SQLite.
//!
//! SQLite has one writer, and each commit writes every page its transaction touched to the
//! WAL and waits for an fsync. Creating a customer touches about 110 pages (its rows, their
//! indexes, a new FTS5 segment; counted with `strace`), so on SQLite commits, not statements,
//! bound how many writes a second the server takes. Requests there share commits:
//!
//! - the writer keeps one transaction open (a *batch*); each request works in a savepoint of
//!   it, holding the writer alone while it does, as before;
//! - a request that commits releases its savepoint, leaves the writer to the next request and
//!   waits; a committer queued on the same lock commits the whole batch when its turn comes,
//!   so every request that got the writer before it shares its commit;
//! - each request is answered after the commit that holds its work: an acknowledged write is
//!   as durable as before (`synchronous=FULL`). If that commit fails, every request of the
//!   batch fails, and none was acknowledged;
//! - a request that ends without committing (an error, a dropped connection) leaves its
//!   savepoint to be rolled back before anything else uses the writer.
//!
//! PostgreSQL takes concurrent writers, and its transactions stay one per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, Statement, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use crate::StoreError;
use rapport_domain::automation::run::Link;

use crate::listeners::{EventRule, Listeners, Subscribed};

/// What a batch's commit came to: `None` until it is done, then the error if it failed.
type Outcome = Option<Result<(), Failed>>;

/// Why a batch failed, for each of its requests.
#[derive(Debug, Clone)]
struct Failed {
    message: Arc<str>,
    /// The database was unreachable, or its storage failed (a full disk): a 503, not a bug.
    unavailable: bool,
}

impl Failed {
    fn new(error: &DbErr) -> Failed {
        Failed {
            message: Arc::from(error.to_string()),
            unavailable: crate::error::is_unreachable(error),
        }
    }

    fn to_error(&self) -> StoreError {
        let error = DbErr::Custom(format!("the group commit failed: {}", self.message));
        if self.unavailable {
            StoreError::Unavailable(error)
        } else {
            StoreError::Db(error)
        }
    }
}

/// One request's transaction. Commit it with [`crate::commit`]; dropping it undoes its work.
pub struct Tx {
    inner: Inner,
    listeners: Arc<Listeners>,
    /// It changed a webhook subscription or a rule: the lists kept in memory are forgotten on
    /// commit.
    listeners_changed: AtomicBool,
    /// The rules whose actions make this write, first one first (empty for a request's).
    chain: Vec<Link>,
}

enum Inner {
    Alone(DatabaseTransaction),
    InBatch(Member),
}

/// The single writer of a SQLite database, shared by a batch of requests.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    conn: DatabaseConnection,
    batch: Arc<Mutex<Batch>>,
}

#[derive(Debug, Default)]
struct Batch {
    open: Option<Open>,
    /// A request left without committing: its savepoint is rolled back first thing.
    abandoned: bool,
    /// A batch failed: the connection is replaced before the next one (see [`Writer::renew`]).
    renew: bool,
}

#[derive(Debug)]
struct Open {
    tx: DatabaseTransaction,
    outcome: watch::Sender<Outcome>,
    commit_queued: bool,
}

/// A request holding the writer, inside the open batch.
struct Member {
    batch: OwnedMutexGuard<Batch>,
    writer: Writer,
    finished: bool,
}

/// A write that changes nothing, run first in each batch: the batch holds SQLite's write lock
/// from its start, as `BEGIN IMMEDIATE` would (sea-orm opens transactions with a plain
/// `BEGIN`). Otherwise a request that read first, then wrote after another process (`rapport
/// create-user`, `rapport reindex`) had written, failed with SQLITE_BUSY_SNAPSHOT ("database
/// is locked") instead of waiting its turn; now the other process waits (busy timeout).
const TAKE_WRITE_LOCK: &str = "DELETE FROM seaql_migrations WHERE 0";
const SAVEPOINT: &str = "SAVEPOINT request";
const RELEASE: &str = "RELEASE SAVEPOINT request";
const UNDO: &str = "ROLLBACK TO SAVEPOINT request; RELEASE SAVEPOINT request";

impl Writer {
    pub(crate) fn new(conn: DatabaseConnection) -> Writer {
        Writer {
            conn,
            batch: Arc::default(),
        }
    }

    /// Waits for the writer and opens a savepoint for one request in the open batch.
    pub(crate) async fn begin(&self, listeners: Arc<Listeners>) -> Result<Tx, StoreError> {
        let mut batch = self.batch.clone().lock_owned().await;
        settle(&mut batch).await;
        if batch.renew && batch.open.is_none() {
            self.renew().await?;
            batch.renew = false;
        }
        if batch.open.is_none() {
            let tx = self.conn.begin().await?;
            tx.execute_unprepared(TAKE_WRITE_LOCK).await?;
            batch.open = Some(Open {
                tx,
                outcome: watch::Sender::new(None),
                commit_queued: false,
            });
        }
        if let Err(e) = open(&batch)?.tx.execute_unprepared(SAVEPOINT).await {
            fail(&mut batch, &e);
            return Err(e.into());
        }
        Ok(Tx::new(
            Inner::InBatch(Member {
                batch,
                writer: self.clone(),
                finished: false,
            }),
            listeners,
        ))
    }

    /// Closes the writer's connection; the pool opens a fresh one for the next batch. After a
    /// failed batch, SQLite may have rolled its transaction back by itself (a full disk or an
    /// I/O error does), and sqlx's count of the transactions and savepoints open on the
    /// connection no longer matches it: a later "commit" could then release a savepoint inside
    /// a transaction that never commits, acknowledging writes a later failure undoes.
    async fn renew(&self) -> Result<(), StoreError> {
        let connection = self
            .conn
            .get_sqlite_connection_pool()
            .acquire()
            .await
            .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)))?;
        connection
            .close()
            .await
            .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)))?;
        Ok(())
    }

    /// Queues a commit of the open batch behind the requests waiting for the writer now.
    fn queue_commit(&self, batch: &mut Batch) {
        let Some(open) = batch.open.as_mut() else {
            return;
        };
        if open.commit_queued {
            return;
        }
        open.commit_queued = true;
        let lock = self.batch.clone();
        let spawned = tokio::runtime::Handle::try_current().map(|runtime| {
            runtime.spawn(async move {
                let mut batch = lock.lock_owned().await;
                settle(&mut batch).await;
                if let Some(open) = batch.open.take() {
                    let result = open.tx.commit().await.map_err(|e| Failed::new(&e));
                    batch.renew |= result.is_err();
                    if let Err(e) = &result {
                        tracing::error!(error = %e.message, "a group commit failed; its requests fail");
                    }
                    open.outcome.send_replace(Some(result));
                }
            })
        });
        if spawned.is_err() {
            // No runtime (a drop during shutdown): nothing can be committed, nothing is lost
            // that was acknowledged.
            open.commit_queued = false;
        }
    }
}

/// Rolls back what an abandoned request left; when even that fails, the batch ends.
async fn settle(batch: &mut Batch) {
    if !std::mem::take(&mut batch.abandoned) {
        return;
    }
    let Some(open) = batch.open.as_ref() else {
        return;
    };
    if let Err(e) = open.tx.execute_unprepared(UNDO).await {
        fail(batch, &e);
    }
}

/// Ends the open batch without committing: its requests are told it failed.
fn fail(batch: &mut Batch, error: &DbErr) {
    if let Some(open) = batch.open.take() {
        batch.renew = true;
        tracing::error!(error = %error, "the write batch is rolled back; its requests fail");
        open.outcome.send_replace(Some(Err(Failed::new(error))));
        // Dropping the transaction rolls it back.
    }
}

fn open(batch: &Batch) -> Result<&Open, DbErr> {
    batch
        .open
        .as_ref()
        .ok_or_else(|| DbErr::Custom("the write batch ended".into()))
}

impl Tx {
    pub(crate) fn alone(tx: DatabaseTransaction, listeners: Arc<Listeners>) -> Tx {
        Tx::new(Inner::Alone(tx), listeners)
    }

    fn new(inner: Inner, listeners: Arc<Listeners>) -> Tx {
        Tx {
            inner,
            listeners,
            listeners_changed: AtomicBool::new(false),
            chain: Vec::new(),
        }
    }

    /// This transaction as the next step of `chain`: the writes of a rule's action, whose
    /// events fire other rules only as far as [`rapport_domain::automation::run::may_fire`]
    /// lets them.
    #[must_use]
    pub fn with_chain(mut self, chain: Vec<Link>) -> Tx {
        self.chain = chain;
        self
    }

    /// The rules whose actions make this write.
    pub fn chain(&self) -> &[Link] {
        &self.chain
    }

    /// The active webhook subscriptions (kept in memory, see [`crate::listeners`]).
    pub(crate) async fn subscriptions(&self) -> Result<Arc<[Subscribed]>, StoreError> {
        self.listeners.subscriptions(self).await
    }

    /// The enabled rules with a record-event trigger (kept in memory).
    pub(crate) async fn event_rules(&self) -> Result<Arc<[EventRule]>, StoreError> {
        self.listeners.event_rules(self).await
    }

    /// Marks that this transaction changes a subscription or a rule: the lists kept are
    /// forgotten now (a request after this one in the same SQLite batch reads the change) and
    /// again when it commits (a list read meanwhile, without the change, is not kept).
    pub(crate) fn changes_listeners(&self) {
        self.listeners_changed.store(true, Ordering::Relaxed);
        self.listeners.forget();
    }

    fn conn(&self) -> Result<&DatabaseTransaction, DbErr> {
        match &self.inner {
            Inner::Alone(tx) => Ok(tx),
            Inner::InBatch(member) => Ok(&open(&member.batch)?.tx),
        }
    }

    /// Commits: at once when alone, with its batch on SQLite.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        let changed = self.listeners_changed.load(Ordering::Relaxed);
        let listeners = self.listeners.clone();
        self.commit_inner().await?;
        if changed {
            listeners.forget();
        }
        Ok(())
    }

    async fn commit_inner(self) -> Result<(), StoreError> {
        let mut member = match self.inner {
            Inner::Alone(tx) => return Ok(tx.commit().await?),
            Inner::InBatch(member) => member,
        };
        // On an error `member` is dropped unfinished: its savepoint is rolled back.
        open(&member.batch)?.tx.execute_unprepared(RELEASE).await?;
        member.finished = true;
        let mut outcome = open(&member.batch)?.outcome.subscribe();
        let writer = member.writer.clone();
        writer.queue_commit(&mut member.batch);
        drop(member);
        let done = outcome
            .wait_for(Option::is_some)
            .await
            .map_err(|_| StoreError::Db(DbErr::Custom("the write batch was dropped".into())))?;
        match done.as_ref() {
            Some(Ok(())) => Ok(()),
            Some(Err(failed)) => Err(failed.to_error()),
            None => unreachable!("wait_for returns a value that is Some"),
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.batch.abandoned = true;
        // Someone must close the batch even when no other request comes.
        let writer = self.writer.clone();
        writer.queue_commit(&mut self.batch);
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Tx {
    fn get_database_backend(&self) -> DbBackend {
        match &self.inner {
            Inner::Alone(tx) => tx.get_database_backend(),
            Inner::InBatch(member) => member.writer.conn.get_database_backend(),
        }
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.conn()?.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.conn()?.execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.conn()?.query_one(stmt).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.conn()?.query_all(stmt).await
    }
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Alone(_) => f.write_str("Tx(alone)"),
            Inner::InBatch(_) => f.write_str("Tx(in a batch)"),
        }
    }
}
