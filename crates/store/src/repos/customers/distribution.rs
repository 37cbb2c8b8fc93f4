//! How the customers a caller sees spread over one or two of their fields: one GROUP BY in
//! the database.

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::report::CustomerDimension;
use sea_orm::sea_query::{NullOrdering, Order};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::list::visible;
use crate::entities::customer::{Column, Entity};
use crate::page::in_range;
use crate::{Conn, StoreError};

fn column(d: CustomerDimension) -> Column {
    match d {
        CustomerDimension::Kind => Column::Kind,
        CustomerDimension::Industry => Column::Industry,
        CustomerDimension::Size => Column::Size,
        CustomerDimension::Grade => Column::Grade,
        CustomerDimension::LifecycleStage => Column::LifecycleStage,
        CustomerDimension::Country => Column::Country,
        CustomerDimension::Source => Column::Source,
        CustomerDimension::Channel => Column::Channel,
    }
}

/// The live customers `visibility` allows, created in `[created.0, created.1)`, counted per
/// value of `first` (and of `second`): each group's values (`None` for customers without one,
/// last among equals) and count, largest first.
///
/// # Errors
/// Database failures.
pub async fn distribution(
    db: &impl Conn,
    visibility: Visibility,
    first: CustomerDimension,
    second: Option<CustomerDimension>,
    created: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
) -> Result<Vec<(Vec<Option<String>>, i64)>, StoreError> {
    let count = Column::Id.count();
    let live = visible(Entity::find(), visibility).filter(Column::DeletedAt.is_null());
    let mut select = in_range(live, Column::CreatedAt, created.0, created.1)
        .select_only()
        .column(column(first))
        .group_by(column(first));
    if let Some(second) = second {
        select = select.column(column(second)).group_by(column(second));
    }
    let select = select
        .column_as(count.clone(), "n")
        .order_by_desc(count)
        .order_by_with_nulls(column(first), Order::Asc, NullOrdering::Last);
    Ok(match second {
        None => select
            .into_tuple::<(Option<String>, i64)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(a, n)| (vec![a], n))
            .collect(),
        Some(second) => select
            .order_by_with_nulls(column(second), Order::Asc, NullOrdering::Last)
            .into_tuple::<(Option<String>, Option<String>, i64)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(a, b, n)| (vec![a, b], n))
            .collect(),
    })
}
