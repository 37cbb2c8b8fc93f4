//! Idempotency keys: the first answer to a `POST` with an `Idempotency-Key`, kept to replay.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::entities::idempotency_key::{self, Column, Entity};
use crate::{Conn, StoreError, crypto};

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: this request runs, and must [`complete`] or [`release`] it.
    Claimed,
    /// Another request with the key is still running.
    InProgress { request_hash: String },
    /// A request with the key was answered.
    Done {
        request_hash: String,
        response: StoredResponse,
    },
}

/// A pending claim older than this belongs to a request that died (a crash or a killed
/// process): the key is free again.
const ABANDONED_AFTER: Duration = Duration::seconds(60);

/// Claims `key` for `caller` with a request of hash `request_hash`, valid `ttl`.
///
/// # Errors
/// Database failures.
pub async fn claim(
    db: &impl Conn,
    caller: &str,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<Claim, StoreError> {
    for _ in 0..2 {
        let row = idempotency_key::ActiveModel {
            caller: Set(caller.to_owned()),
            key: Set(key.to_owned()),
            request_hash: Set(request_hash.to_owned()),
            state: Set("pending".into()),
            status: Set(None),
            headers: Set(None),
            body: Set(None),
            created_at: Set(now),
            expires_at: Set(now + ttl),
        };
        // ON CONFLICT DO NOTHING rather than catching the violation: inside a transaction,
        // PostgreSQL refuses every statement after a failed one.
        let inserted = Entity::insert(row)
            .on_conflict(
                OnConflict::columns([Column::Caller, Column::Key])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        if inserted == 1 {
            return Ok(Claim::Claimed);
        }
        let Some(existing) = Entity::find_by_id((caller.to_owned(), key.to_owned()))
            .one(db)
            .await?
        else {
            continue;
        };
        let abandoned = existing.state == "pending" && existing.created_at < now - ABANDONED_AFTER;
        if existing.expires_at <= now || abandoned {
            Entity::delete_many()
                .filter(Column::Caller.eq(caller))
                .filter(Column::Key.eq(key))
                .filter(Column::CreatedAt.eq(existing.created_at))
                .exec(db)
                .await?;
            continue;
        }
        return Ok(match (existing.state.as_str(), existing.status) {
            ("done", Some(status)) => Claim::Done {
                request_hash: existing.request_hash,
                response: StoredResponse {
                    status: u16::try_from(status).unwrap_or(500),
                    headers: existing
                        .headers
                        .and_then(|h| serde_json::from_value(h).ok())
                        .unwrap_or_default(),
                    // Kept answers hold personal data: encrypted at rest like other secrets.
                    body: crypto::open(&existing.body.unwrap_or_default())?,
                },
            },
            _ => Claim::InProgress {
                request_hash: existing.request_hash,
            },
        });
    }
    Ok(Claim::InProgress {
        request_hash: request_hash.to_owned(),
    })
}

/// Stores the answer of a claimed key.
///
/// # Errors
/// Database failures.
pub async fn complete(
    db: &impl Conn,
    caller: &str,
    key: &str,
    response: &StoredResponse,
) -> Result<(), StoreError> {
    Entity::update_many()
        .col_expr(Column::State, Expr::value("done"))
        .col_expr(Column::Status, Expr::value(i32::from(response.status)))
        .col_expr(
            Column::Headers,
            Expr::value(serde_json::to_value(&response.headers).unwrap_or_default()),
        )
        .col_expr(Column::Body, Expr::value(crypto::seal(&response.body)?))
        .filter(Column::Caller.eq(caller))
        .filter(Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

/// Frees a claimed key whose request failed on the server's side, so a retry can run.
///
/// # Errors
/// Database failures.
pub async fn release(db: &impl Conn, caller: &str, key: &str) -> Result<(), StoreError> {
    Entity::delete_many()
        .filter(Column::Caller.eq(caller))
        .filter(Column::Key.eq(key))
        .filter(Column::State.eq("pending"))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes expired keys. Idempotent: safe on several instances.
///
/// # Errors
/// Database failures.
pub async fn purge_expired(db: &impl Conn, now: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(Entity::delete_many()
        .filter(Column::ExpiresAt.lt(now))
        .exec(db)
        .await?
        .rows_affected)
}

/// Every kept answer as stored (sealed): `(caller, key, body)`.
async fn kept_answers(db: &impl Conn) -> Result<Vec<(String, String, String)>, StoreError> {
    Ok(Entity::find()
        .select_only()
        .column(Column::Caller)
        .column(Column::Key)
        .column(Column::Body)
        .filter(Column::Body.is_not_null())
        .into_tuple()
        .all(db)
        .await?)
}

/// The row of one caller's key.
fn row(caller: String, key: String) -> Condition {
    Condition::all()
        .add(Column::Caller.eq(caller))
        .add(Column::Key.eq(key))
}

/// Deletes the kept answers that mention any of `ids` (a customer erased: its data must not
/// live on in a replay). Answers are encrypted and kept a day at most: they are opened and
/// read here, one day's worth at the most.
///
/// # Errors
/// Database failures, or a kept answer that does not open.
pub async fn forget_answers_mentioning(db: &impl Conn, ids: &[Uuid]) -> Result<u64, StoreError> {
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let mut forgotten = 0;
    for (caller, key, body) in kept_answers(db).await? {
        let body = crypto::open(&body)?;
        if ids.iter().any(|id| body.contains(id.as_str())) {
            forgotten += Entity::delete_many()
                .filter(row(caller, key))
                .exec(db)
                .await?
                .rows_affected;
        }
    }
    Ok(forgotten)
}

/// Seals every kept answer not yet under the current key.
///
/// # Errors
/// Database failures, or an answer sealed under a key that is not configured.
pub async fn reseal(db: &impl Conn) -> Result<u64, StoreError> {
    let mut resealed = 0;
    for (caller, key, body) in kept_answers(db).await? {
        if crypto::is_current(&body)? {
            continue;
        }
        Entity::update_many()
            .col_expr(
                Column::Body,
                Expr::value(crypto::seal(&crypto::open(&body)?)?),
            )
            .filter(row(caller, key))
            .exec(db)
            .await?;
        resealed += 1;
    }
    Ok(resealed)
}
