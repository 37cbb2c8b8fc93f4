//! The change feed of a list (`?updated_since=`): every record changed at or after a time,
//! oldest change first by `(updated_at, id)`, each at its latest version, walked with the
//! list's cursor. Changes show once they are [`SETTLED_AFTER`] old, so that a write still
//! committing is never passed over. Lists of records deleted for good (contacts, activities,
//! tasks) show each deletion as a tombstone in `deleted`, merged with the records in one
//! order under one cursor.

use chrono::{DateTime, Duration, Utc};
use rapport_domain::Invalid;
use rapport_domain::validation::Errors;
use rapport_store::repos::deletions::Tombstone;
use rapport_store::{Changes, Cursor, Page, SortValue, StoreError};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// How old a change must be to be in a feed: older than any write still committing.
pub const SETTLED_AFTER: Duration = Duration::seconds(5);

/// The sort name of every feed's cursor.
pub const SORT: &str = "updated_at";

/// The `updated_at` window of a feed since `since`: `[since, now − SETTLED_AFTER]`.
pub fn window(state: &AppState, since: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (since, state.clock.now() - SETTLED_AFTER)
}

/// The sort name of a list's cursor: the feed's with `updated_since`, else the list's own.
pub fn sort_or(updated_since: Option<DateTime<Utc>>, own: &'static str) -> &'static str {
    if updated_since.is_some() { SORT } else { own }
}

/// The span of a feed since `since`, as the store walks it.
pub fn changes(state: &AppState, since: DateTime<Utc>) -> Changes {
    let (from, to) = window(state, since);
    Changes { from, to }
}

/// A record deleted for good, in a change feed: drop your copy of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Deletion {
    pub id: Uuid,
    /// The customer it belonged to; `null` for a record of no customer (a task about none,
    /// a team, a client, a webhook).
    pub customer_id: Option<Uuid>,
    pub deleted_at: DateTime<Utc>,
}

impl From<Tombstone> for Deletion {
    fn from(t: Tombstone) -> Self {
        Deletion {
            id: t.id,
            customer_id: t.customer_id,
            deleted_at: t.deleted_at,
        }
    }
}

/// A page of a list of records deleted for good, as it is answered: as read, or, in a change
/// feed (`changes` set), merged with the tombstones `deleted` reads from the same cursor.
///
/// # Errors
/// The tombstones' read failing.
pub async fn with_deletions<T, F>(
    page: Page<T>,
    changes: Option<Changes>,
    limit: u64,
    changed: impl Fn(&T) -> (DateTime<Utc>, Uuid),
    deleted: impl FnOnce(Changes) -> F,
) -> Result<(Page<T>, Option<Vec<Deletion>>), ApiError>
where
    F: Future<Output = Result<Page<Tombstone>, StoreError>>,
{
    let Some(changes) = changes else {
        return Ok((page, None));
    };
    let (page, gone) = merge(page, deleted(changes).await?, limit, changed);
    Ok((page, Some(gone)))
}

/// One page of a feed with deletions: the first `limit` of `records` and `deleted` (each a
/// page of up to `limit` from the same cursor) by (change time, id), and the cursor after the
/// last one taken when anything is left.
fn merge<T>(
    records: Page<T>,
    deleted: Page<Tombstone>,
    limit: u64,
    changed: impl Fn(&T) -> (DateTime<Utc>, Uuid),
) -> (Page<T>, Vec<Deletion>) {
    let more = records.next.is_some() || deleted.next.is_some();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut records = records.items.into_iter().peekable();
    let mut deleted = deleted.items.into_iter().peekable();
    let (mut data, mut gone) = (Vec::new(), Vec::new());
    let mut last = None;
    while data.len() + gone.len() < limit {
        let record_first = match (records.peek(), deleted.peek()) {
            (Some(r), Some(d)) => changed(r) < (d.deleted_at, d.id),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if let Some(r) = records.next_if(|_| record_first) {
            last = Some(changed(&r));
            data.push(r);
        } else if let Some(d) = deleted.next() {
            last = Some((d.deleted_at, d.id));
            gone.push(Deletion::from(d));
        }
    }
    let left = more || records.peek().is_some() || deleted.peek().is_some();
    let next = last.filter(|_| left).map(|(at, id)| Cursor {
        value: SortValue::Time(at),
        id,
    });
    (Page { items: data, next }, gone)
}

/// Refuses another order than the feed's.
pub fn check_sort(sort: Option<&str>, errors: &mut Errors) {
    if sort.is_some_and(|s| s != SORT) {
        errors.add("sort", Invalid::NotOneOf { allowed: &[SORT] });
    }
}

/// A feed's parameters that are nothing else's: refuses, with 400, another order.
///
/// # Errors
/// 400 naming `sort`.
pub fn check(sort: Option<&str>) -> Result<(), ApiError> {
    let mut errors = Errors::default();
    check_sort(sort, &mut errors);
    errors.finish().map_err(ApiError::BadParameters)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + second, 0).unwrap_or_default()
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn tombstone(second: i64, n: u128) -> Tombstone {
        Tombstone {
            id: id(n),
            customer_id: None,
            deleted_at: at(second),
        }
    }

    fn page<T>(items: Vec<T>, next: bool) -> Page<T> {
        Page {
            items,
            next: next.then(|| Cursor {
                value: SortValue::Id,
                id: Uuid::nil(),
            }),
        }
    }

    #[test]
    fn records_and_deletions_come_in_one_order() {
        let records = page(vec![(at(1), id(1)), (at(3), id(3))], false);
        let deleted = page(vec![tombstone(2, 2), tombstone(3, 4)], false);
        let (data, gone) = merge(records, deleted, 10, |r| *r);
        assert_eq!(data.items, [(at(1), id(1)), (at(3), id(3))]);
        assert_eq!(
            gone.iter().map(|d| d.id).collect::<Vec<_>>(),
            [id(2), id(4)]
        );
        assert!(data.next.is_none(), "nothing is left");
    }

    #[test]
    fn a_full_page_points_after_the_last_one_taken() {
        let records = page(vec![(at(1), id(1)), (at(4), id(4))], false);
        let deleted = page(vec![tombstone(2, 2), tombstone(3, 3)], false);
        let (data, gone) = merge(records, deleted, 3, |r| *r);
        assert_eq!(data.items, [(at(1), id(1))]);
        assert_eq!(gone.len(), 2);
        let next = data.next.expect("the record at 4 is left");
        assert_eq!((next.value, next.id), (SortValue::Time(at(3)), id(3)));
    }

    #[test]
    fn more_in_either_source_means_a_next_page() {
        let records = page(vec![(at(1), id(1))], true);
        let (data, gone) = merge(records, page(Vec::new(), false), 1, |r| *r);
        assert_eq!((data.items.len(), gone.len()), (1, 0));
        assert_eq!(data.next.map(|c| c.id), Some(id(1)));
        let deleted = page(vec![tombstone(5, 5)], true);
        let (data, gone) = merge(
            page(Vec::<(DateTime<Utc>, Uuid)>::new(), false),
            deleted,
            1,
            |r| *r,
        );
        assert_eq!((data.items.len(), gone.len()), (0, 1));
        assert_eq!(data.next.map(|c| c.id), Some(id(5)));
    }
}
