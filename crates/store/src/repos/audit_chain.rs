//! Sealing the audit trail into its hash chain, and walking the chain to verify it
//! ([`rapport_domain::audit_chain`] holds the hashing and the checks).
//!
//! Events are written unsealed, by the writes they describe, so that writers never wait for
//! one another; [`seal`] (the `audit.seal` job, every minute) chains what has been committed
//! since, in `(occurred_at, id)` order. It locks the chain's head first, so that sealers on
//! several instances take turns, and each place is sealed once: an event committed late is
//! sealed by the next pass, at the end of the chain.

use chrono::{DateTime, Duration, Utc};
use rapport_domain::audit_chain::{self as chain, Sealed, Verification, Verifier};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::entities::{audit_chain, audit_event, audit_seal};
use crate::page::{Cursor, SortDir, SortValue, keyset};
use crate::repos::audit::to_domain;
use crate::{Conn, Store, StoreError, Tx};

/// Events sealed per transaction.
const BATCH: u64 = 1000;

/// How far before the latest sealed event a pass looks for unsealed ones: longer than any
/// transaction that writes audit events stays open.
const SLACK: Duration = Duration::hours(1);

/// The chain's head: its last place and link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

/// Seals every committed, unsealed event of the last hour before the latest sealed one, and
/// since (all of them the first time), in batches. Answers how many were sealed.
///
/// # Errors
/// Database failures.
pub async fn seal(store: &Store, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let mut sealed = 0;
    let mut after: Option<Cursor> = None;
    loop {
        let tx = store.begin().await?;
        let head = lock_head(&tx).await?;
        let from = after.or_else(|| {
            head.sealed_through.map(|t| Cursor {
                value: SortValue::Time(t - SLACK),
                id: Uuid::nil(),
            })
        });
        let events = unsealed(&tx, from).await?;
        let Some(last) = events.last().map(|e| (e.occurred_at, e.id)) else {
            return Ok(sealed);
        };
        let mut seq = head.seq;
        let mut hash = head.hash;
        let mut seals = Vec::with_capacity(events.len());
        for event in &events {
            seq += 1;
            let changes = chain::changes_digest(&event.changes);
            hash = chain::link(&hash, seq, &chain::content_digest(event), &changes);
            seals.push(audit_seal::ActiveModel {
                seq: Set(seq),
                event_id: Set(event.id),
                changes_digest: Set(changes),
                hash: Set(hash.clone()),
                sealed_at: Set(now),
                erased_at: Set(None),
            });
        }
        let count = seals.len() as u64;
        audit_seal::Entity::insert_many(seals)
            .exec_without_returning(&tx)
            .await?;
        let through = head.sealed_through.map_or(last.0, |t| t.max(last.0));
        audit_chain::Entity::update_many()
            .col_expr(audit_chain::Column::Seq, Expr::value(seq))
            .col_expr(audit_chain::Column::Hash, Expr::value(hash))
            .col_expr(audit_chain::Column::SealedThrough, Expr::value(through))
            .filter(audit_chain::Column::Id.eq(1))
            .exec(&tx)
            .await?;
        crate::commit(tx).await?;
        sealed += count;
        if count < BATCH {
            return Ok(sealed);
        }
        after = Some(Cursor {
            value: SortValue::Time(last.0),
            id: last.1,
        });
    }
}

/// The head as stored, locked for this transaction: a write to its row first, which waits for
/// any other sealer (PostgreSQL's row lock, SQLite's one writer).
async fn lock_head(tx: &Tx) -> Result<audit_chain::Model, StoreError> {
    audit_chain::Entity::update_many()
        .col_expr(
            audit_chain::Column::Seq,
            Expr::col(audit_chain::Column::Seq).into(),
        )
        .filter(audit_chain::Column::Id.eq(1))
        .exec(tx)
        .await?;
    head_row(tx).await
}

/// The head row, made by the migration and never deleted.
async fn head_row(db: &impl Conn) -> Result<audit_chain::Model, StoreError> {
    audit_chain::Entity::find_by_id(1_i16)
        .one(db)
        .await?
        .ok_or_else(|| {
            StoreError::Db(sea_orm::DbErr::RecordNotFound(
                "the audit chain's head row (audit_chain, id 1)".into(),
            ))
        })
}

/// Events without a seal.
fn without_seal() -> sea_orm::sea_query::SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(audit_seal::Entity)
            .and_where(
                Expr::col((audit_seal::Entity, audit_seal::Column::EventId))
                    .equals((audit_event::Entity, audit_event::Column::Id)),
            )
            .to_owned(),
    )
    .not()
}

/// Up to [`BATCH`] unsealed events after `after` in `(occurred_at, id)` order, oldest first.
async fn unsealed(
    db: &impl Conn,
    after: Option<Cursor>,
) -> Result<Vec<rapport_domain::audit::AuditEvent>, StoreError> {
    use audit_event::Column as C;
    let select = audit_event::Entity::find().filter(without_seal());
    // `keyset` fetches one row past its limit (to tell whether a page follows).
    let rows = keyset(select, C::OccurredAt, C::Id, SortDir::Asc, after, BATCH - 1)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(to_domain).collect())
}

/// The chain's head.
///
/// # Errors
/// Database failures.
pub async fn head(db: &impl Conn) -> Result<Head, StoreError> {
    let row = head_row(db).await?;
    Ok(Head {
        seq: row.seq,
        hash: row.hash,
    })
}

/// How many events are not sealed yet.
///
/// # Errors
/// Database failures.
pub async fn unsealed_count(db: &impl Conn) -> Result<u64, StoreError> {
    Ok(audit_event::Entity::find()
        .filter(without_seal())
        .count(db)
        .await?)
}

/// Walks the chain up to `head`, in pages, and verifies each place.
///
/// # Errors
/// Database failures.
pub async fn verify(db: &impl Conn, head: &Head) -> Result<Verification, StoreError> {
    let mut verifier = Verifier::default();
    let mut after = 0;
    loop {
        let seals = audit_seal::Entity::find()
            .filter(audit_seal::Column::Seq.gt(after))
            .filter(audit_seal::Column::Seq.lte(head.seq))
            .order_by_asc(audit_seal::Column::Seq)
            .limit(BATCH)
            .all(db)
            .await?;
        let Some(last) = seals.last().map(|s| s.seq) else {
            break;
        };
        let ids: Vec<Uuid> = seals.iter().map(|s| s.event_id).collect();
        let mut events: std::collections::HashMap<Uuid, _> = audit_event::Entity::find()
            .filter(audit_event::Column::Id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|m| (m.id, to_domain(m)))
            .collect();
        for seal in seals {
            verifier.check(&Sealed {
                seq: seal.seq,
                event_id: seal.event_id,
                event: events.remove(&seal.event_id),
                erased: seal.erased_at.is_some(),
                changes_digest: seal.changes_digest,
                hash: seal.hash,
            });
        }
        after = last;
    }
    Ok(verifier.finish(head.seq, &head.hash))
}

/// Marks an event's changes as scrubbed by erasure (its sealed digest is the original's).
///
/// # Errors
/// Database failures.
pub(crate) async fn mark_erased(
    db: &impl Conn,
    event_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    audit_seal::Entity::update_many()
        .col_expr(audit_seal::Column::ErasedAt, Expr::value(at))
        .filter(audit_seal::Column::EventId.eq(event_id))
        .exec(db)
        .await?;
    Ok(())
}
