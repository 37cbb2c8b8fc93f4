//! Customer lists: filters, free-text search, keyset pages on four sorts.

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::customer::Customer;
use rapport_domain::enums::{
    Channel, CustomerKind, Grade, Industry, LifecycleStage, SizeBand, Source,
};
use rapport_domain::search::{Rank, SearchQuery, TermShares, Tier};
use sea_orm::sea_query::{Alias, Expr, Query, SimpleExpr};
use sea_orm::{ColumnTrait, DatabaseBackend, EntityTrait, QueryFilter, Select};
use uuid::Uuid;

use super::term_shares::term_shares;
use super::{epoch, to_domain};
use crate::entities::customer::{Column, Entity};
use crate::page::{Cursor, Page, SortDir, SortValue, keyset};
use crate::{Conn, ReadConn, StoreError};

/// What a customer list is ordered by (then by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerSort {
    CreatedAt,
    UpdatedAt,
    /// Case-insensitive.
    Name,
    /// Customers without activity come first ascending, last descending.
    LastActivityAt,
    /// With a search: the search index's own order, newest entries first. The index walks
    /// its matches in this order and stops at a page, so a common word costs what a rare one
    /// does. Without a search: `CreatedAt` descending.
    SearchOrder,
}

/// Filters of the customer list; all combine with AND.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    pub kind: Option<CustomerKind>,
    pub industry: Option<Industry>,
    pub size: Option<SizeBand>,
    pub grade: Option<Grade>,
    pub lifecycle_stage: Option<LifecycleStage>,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub tag: Option<String>,
    /// Holding this external id: `<system>:<id>` (live customers only).
    pub external_id: Option<String>,
    pub source: Option<Source>,
    /// Leads of this campaign.
    pub campaign_id: Option<Uuid>,
    pub channel: Option<Channel>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
    /// Leads whose first contact is overdue at this time.
    pub first_contact_overdue_at: Option<DateTime<Utc>>,
    /// Contacted at least once (`true`), or never (`false`).
    pub contacted: Option<bool>,
    /// Without activity since this time (those that never had one: created before it).
    pub inactive_since: Option<DateTime<Utc>>,
    pub search: Option<SearchQuery>,
    /// List soft-deleted customers instead of live ones.
    pub deleted: bool,
    /// List live and deleted customers (the change feed, where deleted ones are tombstones).
    pub with_deleted: bool,
}

/// Restricts a customer query to what `visibility` allows.
pub(crate) fn visible(select: Select<Entity>, visibility: Visibility) -> Select<Entity> {
    match visibility {
        Visibility::All => select,
        Visibility::Owner(user) => select.filter(Column::OwnerId.eq(user)),
        Visibility::Team(team) => select.filter(Column::TeamId.eq(team)),
        Visibility::Nothing => select.filter(Expr::cust("1 = 0")),
    }
}

fn search_condition(backend: DatabaseBackend, query: &SearchQuery) -> SimpleExpr {
    match backend {
        DatabaseBackend::Postgres => Expr::cust_with_values(
            "customers.id IN (SELECT customer_id FROM customer_terms WHERE terms @@ CAST($1 AS tsquery))",
            [query.to_tsquery()],
        ),
        _ => Expr::cust_with_values(
            "search_rowid IN (SELECT rowid FROM customer_search WHERE customer_search MATCH ?)",
            [query.to_fts5()],
        ),
    }
}

fn filtered(
    backend: DatabaseBackend,
    visibility: Visibility,
    f: &CustomerFilter,
) -> Select<Entity> {
    let mut s = visible(Entity::find(), visibility);
    s = match (f.with_deleted, f.deleted) {
        (true, _) => s,
        (false, true) => s.filter(Column::DeletedAt.is_not_null()),
        (false, false) => s.filter(Column::DeletedAt.is_null()),
    };
    let eq_str = |s: Select<Entity>, col: Column, v: Option<&'static str>| match v {
        Some(v) => s.filter(col.eq(v)),
        None => s,
    };
    s = eq_str(s, Column::Kind, f.kind.map(CustomerKind::as_str));
    s = eq_str(s, Column::Industry, f.industry.map(Industry::as_str));
    s = eq_str(s, Column::Size, f.size.map(SizeBand::as_str));
    s = eq_str(s, Column::Grade, f.grade.map(Grade::as_str));
    s = eq_str(
        s,
        Column::LifecycleStage,
        f.lifecycle_stage.map(LifecycleStage::as_str),
    );
    s = eq_str(s, Column::Source, f.source.map(Source::as_str));
    s = eq_str(s, Column::Channel, f.channel.map(Channel::as_str));
    if let Some(owner) = f.owner_id {
        s = s.filter(Column::OwnerId.eq(owner));
    }
    if let Some(campaign) = f.campaign_id {
        s = s.filter(Column::CampaignId.eq(campaign));
    }
    if let Some(team) = f.team_id {
        s = s.filter(Column::TeamId.eq(team));
    }
    let keys = [("tag", &f.tag), ("external_id", &f.external_id)];
    for (kind, value) in keys {
        if let Some(value) = value {
            let holders = Query::select()
                .column(Alias::new("customer_id"))
                .from(Alias::new("customer_keys"))
                .and_where(Expr::col(Alias::new("kind")).eq(kind))
                .and_where(Expr::col(Alias::new("value")).eq(value.clone()))
                .to_owned();
            s = s.filter(Column::Id.in_subquery(holders));
        }
    }
    if let Some(t) = f.created_from {
        s = s.filter(Column::CreatedAt.gte(t));
    }
    if let Some(t) = f.created_to {
        s = s.filter(Column::CreatedAt.lt(t));
    }
    if let Some(t) = f.updated_from {
        s = s.filter(Column::UpdatedAt.gte(t));
    }
    if let Some(t) = f.updated_to {
        s = s.filter(Column::UpdatedAt.lt(t));
    }
    if let Some(now) = f.first_contact_overdue_at {
        s = s
            .filter(Column::FirstContactedAt.is_null())
            .filter(Column::FirstContactDueAt.lt(now));
    }
    if let Some(contacted) = f.contacted {
        s = s.filter(if contacted {
            Column::FirstContactedAt.is_not_null()
        } else {
            Column::FirstContactedAt.is_null()
        });
    }
    if let Some(since) = f.inactive_since {
        s = s.filter(
            Column::LastActivityAt.lt(since).or(Column::LastActivityAt
                .is_null()
                .and(Column::CreatedAt.lt(since))),
        );
    }
    if let Some(query) = &f.search {
        s = s.filter(search_condition(backend, query));
    }
    s
}

/// One page of the customers `visibility` allows that match `filter`, in `sort` order.
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl ReadConn,
    visibility: Visibility,
    filter: &CustomerFilter,
    sort: CustomerSort,
    dir: SortDir,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Customer>, StoreError> {
    let (sort, dir) = match (sort, &filter.search) {
        (CustomerSort::SearchOrder, Some(query)) => {
            return in_search_order(db, visibility, filter, query, after, limit).await;
        }
        (CustomerSort::SearchOrder, None) => (CustomerSort::CreatedAt, SortDir::Desc),
        other => (other.0, dir),
    };
    let select = filtered(db.get_database_backend(), visibility, filter);
    let column = match sort {
        CustomerSort::SearchOrder | CustomerSort::CreatedAt => Column::CreatedAt,
        CustomerSort::UpdatedAt => Column::UpdatedAt,
        CustomerSort::Name => Column::SortName,
        CustomerSort::LastActivityAt => Column::LastActivitySort,
    };
    let rows = keyset(select, column, Column::Id, dir, after, limit)
        .all(db)
        .await?;
    Page::from_models(rows, limit, to_domain, |c| Cursor {
        value: match sort {
            CustomerSort::SearchOrder | CustomerSort::CreatedAt => SortValue::Time(c.created_at),
            CustomerSort::UpdatedAt => SortValue::Time(c.updated_at),
            CustomerSort::Name => SortValue::Text(c.name.as_str().to_lowercase()),
            CustomerSort::LastActivityAt => {
                SortValue::Time(c.last_activity_at.unwrap_or_else(epoch))
            }
        },
        id: c.id,
    })
}

/// A page of search matches, best ranked first and newest index entries first within a
/// rank: one query per rank (see [`SearchQuery::tiers`]), each driven by the search index
/// (SQLite's FTS5 table, PostgreSQL's `customer_terms`), joined to its customers, and stopped
/// at the page's end. A rank's query leaves out the records of the ranks above it, so no
/// record appears twice; the cursor holds the rank and the entry the page stopped at.
async fn in_search_order(
    db: &impl ReadConn,
    visibility: Visibility,
    filter: &CustomerFilter,
    query: &SearchQuery,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Customer>, StoreError> {
    let (from, after_entry) = match after.map(|c| c.value) {
        Some(SortValue::Ranked(rank, entry)) => match Rank::from_number(rank) {
            Some(rank) => (rank, Some(entry)),
            // Past the last rank: nothing follows.
            None => {
                return Ok(Page {
                    items: Vec::new(),
                    next: None,
                });
            }
        },
        _ => (Rank::Identifier, None),
    };
    let tiers = query.tiers(from);
    let ranks = Ranks {
        tiers: &tiers,
        from,
        after_entry,
    };
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return ranked_page(db, visibility, filter, ranks, limit).await;
    }
    // PostgreSQL plans a prepared statement again at each run while it expects a plan made
    // for its values to be cheaper than one made for any values. For these statements it
    // always does (it cannot estimate their `LIMIT`), and planning one costs 0.3–2 ms, more
    // than running it, when the plans made for any values are the same (see `tier_page`).
    const GENERIC_PLANS: &str = "SET LOCAL plan_cache_mode = force_generic_plan";
    let own = db.own_transaction().await?;
    let page = match &own {
        Some(tx) => {
            tx.execute_unprepared(GENERIC_PLANS).await?;
            ranked_page(tx, visibility, filter, ranks, limit).await?
        }
        None => {
            db.execute_unprepared(GENERIC_PLANS).await?;
            ranked_page(db, visibility, filter, ranks, limit).await?
        }
    };
    if let Some(tx) = own {
        tx.commit().await?;
    }
    Ok(page)
}

/// The ranks a page reads: from `from` on, past `after_entry` in that first rank.
#[derive(Clone, Copy)]
struct Ranks<'a> {
    tiers: &'a [Tier],
    from: Rank,
    after_entry: Option<i64>,
}

/// [`in_search_order`] on one connection.
async fn ranked_page(
    db: &impl Conn,
    visibility: Visibility,
    filter: &CustomerFilter,
    Ranks {
        tiers,
        from,
        after_entry,
    }: Ranks<'_>,
    limit: u64,
) -> Result<Page<Customer>, StoreError> {
    let reads = match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let shares = term_shares(db).await;
            tiers.iter().map(|t| read_for(&shares, t, limit)).collect()
        }
        _ => vec![Read::Index; tiers.len()],
    };
    // Entries before this one are searched: past the newest, or where the page before ended.
    // Only walks and windows count back from the newest; FTS5 rowids and `seq` never reach
    // `i64::MAX`.
    let top = if reads.iter().any(|read| *read != Read::Index) {
        newest_entry(db).await? + 1
    } else {
        i64::MAX
    };
    let mut found: Vec<(Customer, Rank, i64)> = Vec::new();
    for (tier, read) in tiers.iter().zip(reads) {
        let wanted = limit + 1 - found.len() as u64;
        let before = after_entry.filter(|_| tier.rank == from).unwrap_or(top);
        let page = tier_page(db, visibility, filter, tier, read, before, wanted).await?;
        for (customer, entry) in page {
            found.push((customer, tier.rank, entry));
        }
        if found.len() as u64 > limit {
            break;
        }
    }
    let page = Page::from_rows(found, limit, |(c, rank, entry)| Cursor {
        value: SortValue::Ranked(rank.number(), *entry),
        id: c.id,
    });
    Ok(page.map(|(c, _, _)| c))
}

/// Entries a walk reads at most, newest first: about 1 µs each at 1,000,000 customers, so
/// at most 10 ms.
const RANGE: i64 = 10_000;

/// What each way of reading costs, in µs, measured with `EXPLAIN (ANALYZE, BUFFERS)` at
/// 1,000,000 customers: walking one entry (unpacking its terms), one entry of a window's
/// bitmap of the entries' own index, one match in the GIN index's bitmap, and visiting one
/// match's row.
const WALK_COST: f64 = 1.0;
const WINDOW_COST: f64 = 0.07;
const POSTING_COST: f64 = 0.15;
const VISIT_COST: f64 = 1.3;

/// How PostgreSQL reads a rank's matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Walks the newest entries one by one and stops at the page: dense matches.
    Walk,
    /// Intersects the GIN index's matches with this many newest entries, both as bitmaps
    /// read from the indexes alone, and visits only the matches inside: matches neither
    /// dense nor few.
    Window(i64),
    /// Visits every match the GIN index holds: few matches. SQLite's FTS5 always reads
    /// this way, lazily, newest first.
    Index,
}

/// The cheapest way by the terms' shares (see [`term_shares`]) and the costs above. A walk
/// reads about `limit / share` entries, and must be expected to fill the page within half
/// its [`RANGE`]; a window spans twice the entries expected to hold the page (shares are
/// estimates, and a read that falls short is followed by reading every older match).
/// Without statistics (a table not analyzed yet, or before they are first read) it walks:
/// a walk's cost is bounded, reading a common word's every match is not. Whole identifiers
/// are rare by nature.
fn read_for(shares: &TermShares, tier: &Tier, limit: u64) -> Read {
    if tier.rank == Rank::Identifier {
        return Read::Index;
    }
    if shares.is_empty() {
        return Read::Walk;
    }
    let share = shares.of_tier(tier);
    if share <= 0.0 {
        return Read::Index;
    }
    let page = (limit + 1) as f64;
    // Entries expected to hold a page, and matches in all.
    let walked = page / share;
    let matches = share * shares.records();
    let walk = walked * WALK_COST;
    let windowed = 2.0 * walked * WINDOW_COST + matches * POSTING_COST + 2.0 * page * VISIT_COST;
    let index = matches * (POSTING_COST + VISIT_COST);
    if walked <= (RANGE / 2) as f64 && walk <= windowed.min(index) {
        Read::Walk
    } else if windowed < index {
        Read::Window((2.0 * walked).ceil() as i64)
    } else {
        Read::Index
    }
}

/// Up to `limit` customers of one rank, newest index entries first, entries before `before`.
///
/// On PostgreSQL no statement lets the planner estimate the `tsquery` (that costs more than
/// running it, see [`term_shares`]), and each is planned once for any values (see
/// [`in_search_order`]); `read` chooses the way instead. A walk or a window covers the
/// newest entries only, and when they hold less than a page (the shares were wrong, or the
/// caller sees few of the matches), the older matches are read through the GIN index.
async fn tier_page(
    db: &impl Conn,
    visibility: Visibility,
    filter: &CustomerFilter,
    tier: &Tier,
    read: Read,
    before: i64,
    limit: u64,
) -> Result<Vec<(Customer, i64)>, StoreError> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        let matches = Expr::cust_with_values("customer_search MATCH ?", [tier.to_fts5()]);
        return entries_page(db, visibility, filter, vec![matches], before, limit).await;
    }
    let mut found = Vec::new();
    let mut top = before;
    let newest = match read {
        Read::Walk => Some(RANGE),
        Read::Window(span) => Some(span),
        Read::Index => None,
    };
    if let Some(span) = newest {
        let floor = (before - span).max(0);
        let conditions = if read == Read::Walk {
            // `ts_match_vq` is `@@` as a function: the planner neither estimates it nor
            // answers it from the GIN index, so it walks the entries' own index. The query
            // is a subquery's value so that a plan for any values parses it once, not for
            // each entry.
            vec![
                Expr::cust_with_values(
                    "ts_match_vq(customer_terms.terms, (SELECT CAST($1 AS tsquery)))",
                    [tier.to_tsquery()],
                ),
                Expr::cust_with_values("customer_terms.seq >= $1", [floor]),
            ]
        } else {
            // Bounded on both sides inside the subquery, the entries' bitmap is ANDed with
            // the GIN index's, both read from the indexes alone.
            let window = format!("{MATCHES} AND seq >= $2 AND seq < $3))");
            let mut conditions = vec![Expr::cust_with_values(
                window,
                [
                    sea_orm::Value::from(tier.matching.to_tsquery()),
                    sea_orm::Value::from(floor),
                    sea_orm::Value::from(before),
                ],
            )];
            conditions.extend(not_above(tier));
            conditions
        };
        found = entries_page(db, visibility, filter, conditions, before, limit).await?;
        top = floor;
    }
    if found.len() as u64 >= limit || top == 0 {
        return Ok(found);
    }
    // `seq + 0` keeps the planner off the entries' own index, which it would otherwise AND
    // with the GIN index's matches across all older entries.
    let mut older = vec![Expr::cust_with_values(
        format!("{MATCHES} AND seq + 0 < $2))"),
        [
            sea_orm::Value::from(tier.matching.to_tsquery()),
            sea_orm::Value::from(top),
        ],
    )];
    older.extend(not_above(tier));
    let wanted = limit - found.len() as u64;
    found.extend(entries_page(db, visibility, filter, older, top, wanted).await?);
    Ok(found)
}

/// The entries whose terms match `$1`, found in the GIN index and then visited by `seq`.
/// The query reaches the index as a subquery's value, which the planner cannot estimate: it
/// takes its default (rare) and reads the index, never the table. Each use adds its bounds
/// on `seq` and closes both parentheses.
const MATCHES: &str = "customer_terms.seq = ANY(ARRAY(SELECT seq FROM customer_terms \
                       WHERE terms @@ (SELECT CAST($1 AS tsquery))";

/// Leaves out what the ranks above `tier` took. The GIN index is asked only what the rank
/// matches, and this is tested on the entries the page reads: a `!` in the index's query
/// makes it unpack every match's terms (twice the time).
fn not_above(tier: &Tier) -> Option<SimpleExpr> {
    tier.excluding.as_ref().map(|above| {
        Expr::cust_with_values(
            "NOT ts_match_vq(customer_terms.terms, (SELECT CAST($1 AS tsquery)))",
            [above.to_tsquery()],
        )
    })
}

/// The newest entry of PostgreSQL's `customer_terms` (0 when it is empty).
async fn newest_entry(db: &impl Conn) -> Result<i64, StoreError> {
    let backend = db.get_database_backend();
    let row = db
        .query_one(sea_orm::Statement::from_string(
            backend,
            "SELECT COALESCE(MAX(seq), 0) AS top FROM customer_terms",
        ))
        .await?;
    Ok(row.map_or(Ok(0), |r| r.try_get("", "top"))?)
}

/// Up to `limit` visible customers joined to their search index entry, where `conditions`
/// hold, entries before `before`, newest first.
async fn entries_page(
    db: &impl Conn,
    visibility: Visibility,
    filter: &CustomerFilter,
    conditions: Vec<SimpleExpr>,
    before: i64,
    limit: u64,
) -> Result<Vec<(Customer, i64)>, StoreError> {
    use sea_orm::{JoinType, Order, QuerySelect, QueryTrait};
    let backend = db.get_database_backend();
    let without_search = CustomerFilter {
        search: None,
        ..filter.clone()
    };
    let mut select = filtered(backend, visibility, &without_search);
    let (table, entry, join) = match backend {
        DatabaseBackend::Postgres => (
            "customer_terms",
            "customer_terms.seq",
            "customer_terms.customer_id = customers.id",
        ),
        _ => (
            "customer_search",
            "customer_search.rowid",
            "customer_search.rowid = customers.search_rowid",
        ),
    };
    let statement = QueryTrait::query(&mut select);
    statement.join(JoinType::InnerJoin, Alias::new(table), Expr::cust(join));
    for condition in conditions {
        statement.and_where(condition);
    }
    statement.and_where(Expr::expr(Expr::cust(entry)).lt(before));
    statement.order_by_expr(Expr::cust(entry), Order::Desc);
    let rows = select.limit(limit).all(db).await?;
    rows.into_iter()
        .map(|row| {
            let entry = row.search_rowid.unwrap_or(0);
            Ok((to_domain(row)?, entry))
        })
        .collect()
}
