//! The one way a changed record is read and saved: [`get_locked`] before the change, [`save`]
//! after it, with the optimistic version that `If-Match` and `ETag` speak.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, EntityTrait, IntoActiveModel, Iterable, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::{Conn, StoreError};

/// A domain record kept in one row with a version that every save bumps.
pub trait Record: Sized + Clone {
    type Entity: EntityTrait;
    /// The primary key and version columns.
    const ID: <Self::Entity as EntityTrait>::Column;
    const VERSION: <Self::Entity as EntityTrait>::Column;

    fn id(&self) -> Uuid;
    fn version(&self) -> i32;
    /// The record as saved at `now`: the next version.
    fn next_version(&self, now: DateTime<Utc>) -> Self;
    /// The columns a save writes. Columns kept beside the record (a password hash, the
    /// creation time) stay `NotSet` and are not touched.
    ///
    /// # Errors
    /// A value that cannot be stored (sealing failed).
    fn to_active(&self) -> Result<<Self::Entity as EntityTrait>::ActiveModel, StoreError>;
    /// # Errors
    /// A stored value that no longer parses.
    fn from_model(model: <Self::Entity as EntityTrait>::Model) -> Result<Self, StoreError>;
}

/// Implements [`Record`] for a domain type with `id`, `version` and `updated_at` fields.
macro_rules! record {
    ($record:ty, $entity:ty, to_active: $to_active:expr, from_model: $from_model:expr $(,)?) => {
        impl $crate::repos::record::Record for $record {
            type Entity = $entity;
            const ID: <$entity as sea_orm::EntityTrait>::Column =
                <$entity as sea_orm::EntityTrait>::Column::Id;
            const VERSION: <$entity as sea_orm::EntityTrait>::Column =
                <$entity as sea_orm::EntityTrait>::Column::Version;

            fn id(&self) -> uuid::Uuid {
                self.id
            }

            fn version(&self) -> i32 {
                self.version
            }

            fn next_version(&self, now: chrono::DateTime<chrono::Utc>) -> Self {
                Self {
                    version: self.version + 1,
                    updated_at: now,
                    ..self.clone()
                }
            }

            fn to_active(
                &self,
            ) -> Result<<$entity as sea_orm::EntityTrait>::ActiveModel, $crate::StoreError> {
                $to_active(self)
            }

            fn from_model(
                model: <$entity as sea_orm::EntityTrait>::Model,
            ) -> Result<Self, $crate::StoreError> {
                $from_model(model)
            }
        }
    };
}
pub(crate) use record;

/// Whether a read locks the row for a change in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// A plain read, to answer it.
    No,
    /// On PostgreSQL the row stays locked until the transaction ends, so concurrent changes
    /// of one record queue up instead of failing the version check of [`save`]. SQLite runs
    /// one write transaction at a time and needs no lock.
    ForUpdate,
    /// On PostgreSQL a shared lock: others may read and share-lock the row, but a change of
    /// it waits until this transaction ends (answers read the survey they answer this way,
    /// so that an edit cannot slip between the check and the commit).
    Share,
}

/// The record `id`, read with `lock`.
///
/// # Errors
/// `NotFound` when there is none.
pub async fn fetch<R: Record>(db: &impl Conn, id: Uuid, lock: Lock) -> Result<R, StoreError> {
    let mut select = R::Entity::find().filter(R::ID.eq(id));
    match lock {
        Lock::No => {}
        Lock::ForUpdate => select = select.lock_exclusive(),
        Lock::Share => select = select.lock_shared(),
    }
    R::from_model(select.one(db).await?.ok_or(StoreError::NotFound)?)
}

/// The record `id`.
///
/// # Errors
/// `NotFound` when there is none.
pub async fn get<R: Record>(db: &impl Conn, id: Uuid) -> Result<R, StoreError> {
    fetch(db, id, Lock::No).await
}

/// The record `id`, read to be changed in this transaction (see [`Lock::ForUpdate`]).
///
/// # Errors
/// `NotFound` when there is none.
pub async fn get_locked<R: Record>(db: &impl Conn, id: Uuid) -> Result<R, StoreError> {
    fetch(db, id, Lock::ForUpdate).await
}

/// Locks the rows of `ids` in id order, for a change of several records in one transaction:
/// two transactions that change overlapping sets then queue instead of deadlocking, which
/// locking each record as it is read would risk. Ids that name nothing are skipped.
///
/// # Errors
/// Database failures.
pub async fn lock_all<R: Record>(db: &impl Conn, ids: &[Uuid]) -> Result<(), StoreError> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    R::Entity::find()
        .select_only()
        .column(R::ID)
        .filter(R::ID.is_in(ids))
        .order_by_asc(R::ID)
        .lock_exclusive()
        .into_tuple::<Uuid>()
        .all(db)
        .await?;
    Ok(())
}

/// Writes `record` if its stored version is still `record.version()`; answers it as saved
/// (the next version, `updated_at` = `now`).
///
/// # Errors
/// `Stale` when someone saved it in between (or it is gone).
pub async fn save<R: Record>(
    db: &impl Conn,
    record: &R,
    now: DateTime<Utc>,
) -> Result<R, StoreError> {
    let saved = record.next_version(now);
    let result = R::Entity::update_many()
        .set(saved.to_active()?)
        .filter(R::ID.eq(record.id()))
        .filter(R::VERSION.eq(record.version()))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::Stale);
    }
    Ok(saved)
}

/// The bound values one statement of [`insert_all`] may carry: under SQLite's limit of 32,766
/// (PostgreSQL's is 65,535).
const BOUND_VALUES: usize = 32_000;

/// Inserts new records, as many rows per statement as [`BOUND_VALUES`] allows (bulk loads: the
/// benchmark's seeding). Only for records whose [`Record::to_active`] sets every column (a
/// team's leaves its id and creation time to `teams::insert`), and only their own rows:
/// what a repository's insert writes beside a record (an opportunity's first stage move) is
/// not written.
///
/// # Errors
/// Database failures (a duplicate key among them).
pub async fn insert_all<R: Record>(db: &impl Conn, records: &[R]) -> Result<(), StoreError>
where
    <R::Entity as EntityTrait>::Model: IntoActiveModel<<R::Entity as EntityTrait>::ActiveModel>,
{
    let columns = <<R::Entity as EntityTrait>::Column as Iterable>::iter()
        .count()
        .max(1);
    for chunk in records.chunks((BOUND_VALUES / columns).max(1)) {
        let rows = chunk
            .iter()
            .map(Record::to_active)
            .collect::<Result<Vec<_>, _>>()?;
        R::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Saves `change` of each record, each in a new version; answers how many.
pub(crate) async fn save_each<R: Record>(
    db: &impl Conn,
    records: &[R],
    change: impl Fn(&R) -> R,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, StoreError> {
    for record in records {
        save(db, &change(record), now).await?;
    }
    Ok(records.len() as u64)
}
