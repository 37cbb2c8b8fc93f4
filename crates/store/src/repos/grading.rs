//! Value grading: the RFM scores of every buying customer, computed in one query with window
//! functions, and the grade changes of customers, for their timelines.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rapport_domain::enums::Grade;
use rapport_domain::grading::{GradeChange, QUANTILES, RfmScores};
use sea_orm::{ActiveValue::Set, ColumnTrait, DbBackend, EntityTrait, QueryFilter, Statement};
use uuid::Uuid;

use crate::entities::grade_change::{self, Column, Entity};
use crate::page::{Cursor, Page, SortDir, SortValue, keyset};
use crate::repos::{parse_column, parse_optional};
use crate::{Conn, StoreError};

/// The 1-to-5 score of each row's value among those of its window (`partition`, ordered by
/// `value`, ascending), as [`rapport_domain::grading::quantile_score`] has it.
fn score(value: &str, partition: &str) -> String {
    format!(
        "1 + ({QUANTILES} * (RANK() OVER ({partition}ORDER BY {value}) - 1)) \
         / COUNT(*) OVER ({partition})"
    )
}

/// The scores of every live customer with a purchase since `since`: orders not cancelled
/// (by their order time) and deals won without an order (by their close). Recency ranks the
/// last purchase, frequency the number of purchases, monetary the amount spent within each
/// currency (a customer buying in several takes its best score); a deal without an amount
/// counts for recency and frequency only (monetary 1 without any amount).
///
/// # Errors
/// Database failures.
pub async fn scores(
    db: &impl Conn,
    since: DateTime<Utc>,
) -> Result<HashMap<Uuid, RfmScores>, StoreError> {
    let backend = db.get_database_backend();
    let (a, b) = match backend {
        DbBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    let recency = score("p.last_at", "");
    let frequency = score("p.n", "");
    let monetary = score("m.total", "PARTITION BY m.currency ");
    let sql = format!(
        "WITH purchases AS (\
           SELECT customer_id, ordered_at AS at, currency, total_minor AS amount FROM orders \
           WHERE status <> 'cancelled' AND ordered_at >= {a} \
           UNION ALL \
           SELECT customer_id, closed_at AS at, currency, amount_minor AS amount \
           FROM opportunities o WHERE status = 'won' AND closed_at >= {b} \
           AND NOT EXISTS (SELECT 1 FROM orders x WHERE x.opportunity_id = o.id)), \
         buyers AS (\
           SELECT p.customer_id, MAX(p.at) AS last_at, COUNT(*) AS n FROM purchases p \
           JOIN customers c ON c.id = p.customer_id AND c.deleted_at IS NULL \
           GROUP BY p.customer_id), \
         spent AS (\
           SELECT customer_id, currency, SUM(amount) AS total FROM purchases \
           WHERE currency IS NOT NULL AND amount IS NOT NULL \
           AND customer_id IN (SELECT customer_id FROM buyers) \
           GROUP BY customer_id, currency), \
         monetary AS (\
           SELECT customer_id, MAX(score) AS score FROM (\
             SELECT m.customer_id, {monetary} AS score FROM spent m) s \
           GROUP BY customer_id) \
         SELECT p.customer_id, {recency} AS r, {frequency} AS f, \
           COALESCE(monetary.score, 1) AS m \
         FROM buyers p LEFT JOIN monetary ON monetary.customer_id = p.customer_id"
    );
    let statement = Statement::from_sql_and_values(backend, sql, [since.into(), since.into()]);
    let mut out = HashMap::new();
    for row in db.query_all(statement).await? {
        let narrow = |name: &str| -> Result<i16, StoreError> {
            let v: i64 = row.try_get("", name)?;
            Ok(i16::try_from(v).unwrap_or(1))
        };
        out.insert(
            row.try_get("", "customer_id")?,
            RfmScores {
                recency: narrow("r")?,
                frequency: narrow("f")?,
                monetary: narrow("m")?,
            },
        );
    }
    Ok(out)
}

fn to_domain(m: grade_change::Model) -> Result<GradeChange, StoreError> {
    let scores = match (m.recency, m.frequency, m.monetary) {
        (Some(recency), Some(frequency), Some(monetary)) => Some(RfmScores {
            recency,
            frequency,
            monetary,
        }),
        _ => None,
    };
    Ok(GradeChange {
        id: m.id,
        customer_id: m.customer_id,
        from: parse_optional(
            "grade_changes.from_grade",
            m.from_grade.as_deref(),
            Grade::parse,
        )?,
        to: parse_column("grade_changes.to_grade", &m.to_grade, Grade::parse)?,
        scores,
        changed_at: m.changed_at,
        changed_by: m.changed_by,
    })
}

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, change: &GradeChange) -> Result<(), StoreError> {
    let model = grade_change::ActiveModel {
        id: Set(change.id),
        customer_id: Set(change.customer_id),
        from_grade: Set(change.from.map(|g| g.as_str().to_owned())),
        to_grade: Set(change.to.as_str().to_owned()),
        recency: Set(change.scores.map(|s| s.recency)),
        frequency: Set(change.scores.map(|s| s.frequency)),
        monetary: Set(change.scores.map(|s| s.monetary)),
        changed_at: Set(change.changed_at),
        changed_by: Set(change.changed_by),
    };
    Entity::insert(model).exec_without_returning(db).await?;
    Ok(())
}

/// A customer's grade changes, newest first.
///
/// # Errors
/// Database failures.
pub async fn of_customer(
    db: &impl Conn,
    customer_id: Uuid,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<GradeChange>, StoreError> {
    let select = Entity::find().filter(Column::CustomerId.eq(customer_id));
    let rows = keyset(
        select,
        Column::ChangedAt,
        Column::Id,
        SortDir::Desc,
        after,
        limit,
    )
    .all(db)
    .await?;
    Page::from_models(rows, limit, to_domain, |c| Cursor {
        value: SortValue::Time(c.changed_at),
        id: c.id,
    })
}

/// One page of the live customers whose grade is not locked, in id order after `after`:
/// each id with its grade.
///
/// # Errors
/// Database failures.
pub async fn gradable(
    db: &impl Conn,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<(Uuid, Grade)>, StoreError> {
    use crate::entities::customer::{Column as C, Entity as Customers};
    use sea_orm::{QueryOrder, QuerySelect};
    let mut select = Customers::find()
        .filter(C::DeletedAt.is_null())
        .filter(C::GradeLocked.eq(false));
    if let Some(after) = after {
        select = select.filter(C::Id.gt(after));
    }
    let rows: Vec<(Uuid, String)> = select
        .select_only()
        .column(C::Id)
        .column(C::Grade)
        .order_by_asc(C::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    rows.into_iter()
        .map(|(id, grade)| Ok((id, parse_column("customers.grade", &grade, Grade::parse)?)))
        .collect()
}
