//! Keyset pagination: a page starts after the last row of the previous one, so its cost does
//! not grow with its depth (no OFFSET).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select, Value,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The value of the sort column at the last row of a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortValue {
    Text(String),
    Time(DateTime<Utc>),
    Date(chrono::NaiveDate),
    Int(i64),
    /// A search rank and a search index entry.
    Ranked(u8, i64),
    Id,
}

/// Where the next page starts: after the row with this sort value and id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "v")]
    pub value: SortValue,
    #[serde(rename = "i")]
    pub id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDir {
    Asc,
    Desc,
}

/// One page of rows and where the next one starts (`None` on the last page).
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only says there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: u64, cursor_of: impl Fn(&T) -> Cursor) -> Page<T> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(cursor_of)
        } else {
            None
        };
        Page { items: rows, next }
    }

    /// Like [`Page::from_rows`] for stored rows, each read into its domain value first.
    ///
    /// # Errors
    /// The first row that does not read.
    pub(crate) fn from_models<M>(
        rows: Vec<M>,
        limit: u64,
        read: impl Fn(M) -> Result<T, crate::StoreError>,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> Result<Page<T>, crate::StoreError> {
        let items = rows.into_iter().map(read).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, limit, cursor_of))
    }

    /// A page with nothing on it.
    pub fn empty() -> Page<T> {
        Page {
            items: Vec::new(),
            next: None,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

impl SortValue {
    fn into_value(self, id: Uuid) -> Value {
        match self {
            SortValue::Text(s) => s.into(),
            SortValue::Time(t) => t.into(),
            SortValue::Date(d) => d.into(),
            SortValue::Int(i) | SortValue::Ranked(_, i) => i.into(),
            SortValue::Id => id.into(),
        }
    }
}

/// Orders `select` by (`sort`, `id`) in `dir`, starts after `after`, and fetches `limit + 1`
/// rows. With an index on (`sort`, `id`) both databases walk it without a sort step.
pub fn keyset<E, C>(
    select: Select<E>,
    sort: C,
    id: C,
    dir: SortDir,
    after: Option<Cursor>,
    limit: u64,
) -> Select<E>
where
    E: EntityTrait<Column = C>,
    C: ColumnTrait,
{
    let order = match dir {
        SortDir::Asc => Order::Asc,
        SortDir::Desc => Order::Desc,
    };
    let same_column = sort.as_column_ref() == id.as_column_ref();
    let mut select = select;
    if let Some(cursor) = after {
        let condition: SimpleExpr = if same_column || cursor.value == SortValue::Id {
            match dir {
                SortDir::Asc => id.gt(cursor.id),
                SortDir::Desc => id.lt(cursor.id),
            }
        } else {
            let left = Expr::tuple([Expr::col(sort).into(), Expr::col(id).into()]);
            let right = Expr::tuple([
                Expr::value(cursor.value.into_value(cursor.id)),
                Expr::value(cursor.id),
            ]);
            match dir {
                SortDir::Asc => left.gt(right),
                SortDir::Desc => left.lt(right),
            }
        };
        select = select.filter(condition);
    }
    if !same_column {
        select = select.order_by(sort, order.clone());
    }
    select.order_by(id, order).limit(limit + 1)
}

/// The span of a change feed: records changed in `[from, to]`, walked by their change time
/// and id, oldest first, instead of in their list's own order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Changes {
    /// `select` kept to rows whose `changed_at` is in the span, in feed order, after `after`,
    /// `limit + 1` rows (see [`keyset`]).
    pub fn walk<E, C>(
        self,
        select: Select<E>,
        changed_at: C,
        id: C,
        after: Option<Cursor>,
        limit: u64,
    ) -> Select<E>
    where
        E: EntityTrait<Column = C>,
        C: ColumnTrait,
    {
        let select = select
            .filter(changed_at.gte(self.from))
            .filter(changed_at.lte(self.to));
        keyset(select, changed_at, id, SortDir::Asc, after, limit)
    }
}

/// A list in its own order (`own`: its sort column and direction), or in a change feed's
/// when `changes` is set (by `updated_at`), from `after`, `limit + 1` rows.
pub fn list_order<E, C>(
    select: Select<E>,
    changes: Option<Changes>,
    (sort, dir): (C, SortDir),
    updated_at: C,
    id: C,
    after: Option<Cursor>,
    limit: u64,
) -> Select<E>
where
    E: EntityTrait<Column = C>,
    C: ColumnTrait,
{
    match changes {
        Some(changes) => changes.walk(select, updated_at, id, after, limit),
        None => keyset(select, sort, id, dir, after, limit),
    }
}

/// Where the page after a row of [`list_order`] starts: at its change time in a change feed,
/// else at its value in the list's own order.
pub fn list_cursor(
    changes: Option<Changes>,
    updated_at: DateTime<Utc>,
    own: SortValue,
    id: Uuid,
) -> Cursor {
    let value = match changes {
        Some(_) => SortValue::Time(updated_at),
        None => own,
    };
    Cursor { value, id }
}

/// `select` kept to rows whose `column` lies in `[from, to)` (either end open when `None`).
pub fn in_range<E: sea_orm::EntityTrait>(
    mut select: sea_orm::Select<E>,
    column: E::Column,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> sea_orm::Select<E> {
    use sea_orm::{ColumnTrait, QueryFilter};
    if let Some(from) = from {
        select = select.filter(column.gte(from));
    }
    if let Some(to) = to {
        select = select.filter(column.lt(to));
    }
    select
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_page_points_at_its_last_row() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| Cursor {
            value: SortValue::Int(*n),
            id: Uuid::nil(),
        });
        assert_eq!(page.items, [1, 2]);
        assert_eq!(page.next.unwrap().value, SortValue::Int(2));
    }

    #[test]
    fn the_last_page_has_no_next() {
        let page = Page::from_rows(vec![1, 2], 2, |_| Cursor {
            value: SortValue::Id,
            id: Uuid::nil(),
        });
        assert_eq!(page.items.len(), 2);
        assert!(page.next.is_none());
    }
}
