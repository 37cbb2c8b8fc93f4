//! SQL for reports, written once for both databases: counts under a condition, seconds between
//! two times, the start of a period, and medians and 90th percentiles by window functions (so a
//! report reads a few rows per group, never the rows it summarizes).

use std::collections::HashMap;
use std::hash::Hash;

use rapport_domain::report::{Interval, middle, quantile_ranks};
use sea_orm::sea_query::{Expr, Func, SimpleExpr};
use sea_orm::{DbBackend, Statement, TryGetable};

use crate::{Conn, StoreError};

/// `SUM(CASE WHEN condition THEN 1 ELSE 0 END)`: how many rows of a group meet `condition`.
pub(crate) fn count_where(condition: SimpleExpr) -> SimpleExpr {
    Func::sum(Expr::case(condition, 1).finally(0)).into()
}

/// Whole seconds from column `from` to column `to` of a row (rounded), as a 64-bit integer.
pub(crate) fn seconds_between(backend: DbBackend, from: &str, to: &str) -> SimpleExpr {
    Expr::cust(seconds_sql(backend, from, to))
}

/// The sum of [`seconds_between`] over a group, as a 64-bit integer (0 for no rows).
pub(crate) fn sum_of_seconds(backend: DbBackend, from: &str, to: &str) -> SimpleExpr {
    let bigint = match backend {
        DbBackend::Sqlite => "INTEGER",
        _ => "BIGINT",
    };
    Expr::cust(format!(
        "CAST(COALESCE(SUM({}), 0) AS {bigint})",
        seconds_sql(backend, from, to)
    ))
}

fn seconds_sql(backend: DbBackend, from: &str, to: &str) -> String {
    match backend {
        DbBackend::Sqlite => {
            format!("CAST(ROUND((julianday({to}) - julianday({from})) * 86400.0) AS INTEGER)")
        }
        _ => format!("CAST(ROUND(EXTRACT(EPOCH FROM ({to} - {from}))) AS BIGINT)"),
    }
}

/// The first day (`YYYY-MM-DD`, UTC) of the week (from Monday) or month holding column `time`,
/// as [`Interval::start`] has it.
pub(crate) fn period_start(backend: DbBackend, interval: Interval, time: &str) -> SimpleExpr {
    Expr::cust(match (backend, interval) {
        // 'weekday 0' moves on to the Sunday ending the week; six days back is its Monday.
        (DbBackend::Sqlite, Interval::Week) => format!("date({time}, 'weekday 0', '-6 days')"),
        (DbBackend::Sqlite, Interval::Month) => format!("date({time}, 'start of month')"),
        (_, interval) => format!(
            "to_char(date_trunc('{}', {time} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
            interval.as_str()
        ),
    })
}

/// How a group's values spread: their count, median and 90th percentile (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spread {
    pub count: i64,
    pub median: Option<i64>,
    pub p90: Option<i64>,
}

/// A value and its rank in its group.
type Ranked = (i64, i64);

/// The spread of `values`, a query of one integer column `secs` and, when `keyed`, a group
/// column `grp`: per group (or of them all, with the key `None`), in no order.
///
/// Ranks each group's values with `ROW_NUMBER()` and reads back only the rows at the median's
/// and the 90th percentile's ranks.
///
/// # Errors
/// Database failures.
pub(crate) async fn spread<K: TryGetable + Eq + Hash>(
    db: &impl Conn,
    values: Statement,
    keyed: bool,
) -> Result<Vec<(Option<K>, Spread)>, StoreError> {
    let (key, partition) = if keyed {
        ("grp, ", "PARTITION BY grp ")
    } else {
        ("", "")
    };
    let sql = format!(
        "SELECT {key}secs, rn, n FROM (SELECT {key}secs, \
         ROW_NUMBER() OVER ({partition}ORDER BY secs) AS rn, \
         COUNT(*) OVER ({partition}) AS n FROM ({inner}) AS d) AS r \
         WHERE rn = (n + 1) / 2 OR rn = (n + 2) / 2 OR rn = (9 * n + 9) / 10",
        inner = values.sql
    );
    let statement = Statement {
        sql,
        values: values.values,
        db_backend: values.db_backend,
    };
    // Each group's count and its values at their ranks.
    let mut groups: HashMap<Option<K>, (i64, Vec<Ranked>)> = HashMap::new();
    for row in db.query_all(statement).await? {
        let key: Option<K> = if keyed { row.try_get("", "grp")? } else { None };
        let group = groups
            .entry(key)
            .or_insert((row.try_get("", "n")?, Vec::new()));
        group
            .1
            .push((row.try_get("", "rn")?, row.try_get("", "secs")?));
    }
    Ok(groups
        .into_iter()
        .map(|(key, (n, ranked))| {
            let ranks = quantile_ranks(n);
            let at = |r: i64| ranked.iter().find(|(rank, _)| *rank == r).map(|(_, s)| *s);
            let median = at(ranks.median.0)
                .zip(at(ranks.median.1))
                .map(|(a, b)| middle(a, b));
            (
                key,
                Spread {
                    count: n,
                    median,
                    p90: at(ranks.p90),
                },
            )
        })
        .collect())
}
