//! The timed operations, the inputs they run on, and the checks that they find what they
//! should before anything is timed.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use rand::Rng;
use rand::rngs::StdRng;
use rapport_domain::access::Visibility;
use rapport_domain::contact::Contact;
use rapport_domain::customer::Customer;
use rapport_domain::enums::LifecycleStage;
use rapport_domain::phone::Region;
use rapport_domain::search::{Rank, SearchQuery};
use rapport_migrations::sea_orm::{ConnectionTrait, Statement};
use rapport_store::repos::contacts;
use rapport_store::repos::customers::{self, CustomerFilter, CustomerSort};
use rapport_store::{Cursor, SortDir, SortValue, Store};
use uuid::Uuid;

use crate::data::Sample;

/// Rows per page, as the API's default.
pub const PAGE: u64 = 50;
/// The deep page the target is about.
pub const DEEP_PAGE: u64 = 10_000;

/// One timed call.
#[derive(Debug, Clone)]
pub enum Op {
    /// `customers::get` and `contacts::of_customer`.
    Get(Uuid),
    /// The list of live `customer`-stage customers, newest first, from a cursor.
    Page(Option<Cursor>),
    /// A `q` search, in the search index's order; `text` is what was typed.
    Search { text: String, query: SearchQuery },
}

/// How one operation went.
#[derive(Debug, Clone)]
pub struct Timings {
    pub times: Vec<Duration>,
    /// Rows answered by each timed call.
    pub rows: Vec<usize>,
    /// The slowest timed call, described.
    pub slowest: String,
}

fn stage_filter(search: Option<SearchQuery>) -> CustomerFilter {
    match search {
        Some(query) => CustomerFilter {
            search: Some(query),
            ..Default::default()
        },
        None => CustomerFilter {
            lifecycle_stage: Some(LifecycleStage::Customer),
            ..Default::default()
        },
    }
}

/// A page as the API lists it: newest first, or with a search in the search index's order
/// (what `GET /v1/customers?q=...` does when no `sort` is given).
async fn list(
    store: &Store,
    filter: &CustomerFilter,
    after: Option<Cursor>,
) -> anyhow::Result<Vec<Customer>> {
    let sort = if filter.search.is_some() {
        CustomerSort::SearchOrder
    } else {
        CustomerSort::CreatedAt
    };
    let page = customers::list(
        store.conn(),
        Visibility::All,
        filter,
        sort,
        SortDir::Desc,
        after,
        PAGE,
    )
    .await?;
    Ok(page.items)
}

/// Runs one operation; the rows it answered.
async fn run(store: &Store, op: &Op) -> anyhow::Result<usize> {
    match op {
        Op::Get(id) => {
            let customer = customers::get(store.conn(), *id).await?;
            let contacts = contacts::of_customer(store.conn(), customer.id).await?;
            Ok(1 + contacts.len())
        }
        Op::Page(after) => Ok(list(store, &stage_filter(None), after.clone()).await?.len()),
        Op::Search { query, .. } => Ok(list(store, &stage_filter(Some(query.clone())), None)
            .await?
            .len()),
    }
}

/// Runs the first `warmup` operations untimed, then times the rest one by one.
pub async fn time(store: &Store, ops: &[Op], warmup: usize) -> anyhow::Result<Timings> {
    let mut timings = Timings {
        times: Vec::with_capacity(ops.len()),
        rows: Vec::with_capacity(ops.len()),
        slowest: String::new(),
    };
    let mut slowest = Duration::ZERO;
    for (i, op) in ops.iter().enumerate() {
        let start = Instant::now();
        let rows = run(store, op).await?;
        let elapsed = start.elapsed();
        if i < warmup {
            continue;
        }
        if elapsed > slowest {
            slowest = elapsed;
            let what = match op {
                Op::Get(id) => format!("id {id}"),
                Op::Page(_) => "the page".to_owned(),
                Op::Search { text, .. } => format!("q={text:?}"),
            };
            timings.slowest = format!("{what}: {:.2} ms, {rows} rows", elapsed.as_secs_f64() * 1e3);
        }
        timings.times.push(elapsed);
        timings.rows.push(rows);
    }
    Ok(timings)
}

/// What the searches are made of, by kind.
pub struct Searches {
    pub chinese: Vec<(Op, Uuid)>,
    pub english: Vec<(Op, Uuid)>,
    pub phone: Vec<(Op, Uuid)>,
    pub email: Vec<(Op, Uuid)>,
    pub pinyin: Vec<(Op, Uuid)>,
    pub tail: Vec<(Op, Uuid)>,
    pub infix: Vec<(Op, Uuid)>,
}

impl Searches {
    /// Each kind with its name in the reports, in the order of the HTTP scenarios.
    pub fn kinds(&self) -> [(&'static str, &Vec<(Op, Uuid)>); 7] {
        [
            ("q: Chinese name fragment (2 chars)", &self.chinese),
            ("q: English name prefix (4–6 letters)", &self.english),
            ("q: phone, typed nationally", &self.phone),
            ("q: email", &self.email),
            ("q: pinyin of 2 characters", &self.pinyin),
            ("q: phone tail (last 4 digits)", &self.tail),
            ("q: inside of an English word (4 letters)", &self.infix),
        ]
    }
}

fn search(text: String, region: Region, expected: Uuid) -> anyhow::Result<(Op, Uuid)> {
    let query =
        SearchQuery::parse(&text, region).with_context(|| format!("{text:?} is no search"))?;
    Ok((Op::Search { text, query }, expected))
}

/// A real two-character piece of a Chinese name (`圳张`, `科技`), never across a number.
fn chinese_fragment(name: &str, rng: &mut StdRng) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    let pairs: Vec<String> = chars
        .windows(2)
        .filter(|w| w.iter().all(|c| !c.is_ascii()))
        .map(|w| w.iter().collect())
        .collect();
    (!pairs.is_empty()).then(|| pairs[rng.gen_range(0..pairs.len())].clone())
}

/// The first 4–6 letters of one of the name's words (`Robo`, `Pinnac`).
fn english_prefix(name: &str, rng: &mut StdRng) -> Option<String> {
    let words: Vec<&str> = name
        .split_whitespace()
        .filter(|w| w.len() >= 4 && w.chars().all(|c| c.is_ascii_alphabetic()))
        .collect();
    if words.is_empty() {
        return None;
    }
    let word = words[rng.gen_range(0..words.len())];
    let len = rng.gen_range(4..=word.len().min(6));
    word.get(..len).map(str::to_owned)
}

/// The pinyin of two neighbouring Chinese characters of a name (`zhangshi`).
fn pinyin_pair(name: &str, rng: &mut StdRng) -> Option<String> {
    let pair = chinese_fragment(name, rng)?;
    let spelled = rapport_domain::search::spell(&pair);
    (!spelled.is_empty()).then_some(spelled)
}

/// The last four digits of a phone as typed (a 尾号).
fn phone_tail(typed: &str) -> Option<String> {
    let digits: Vec<char> = typed.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 8).then(|| digits[digits.len() - 4..].iter().collect())
}

/// Four letters from inside one of the name's words of seven letters or more (`thwi`).
fn english_infix(name: &str, rng: &mut StdRng) -> Option<String> {
    let words: Vec<&str> = name
        .split_whitespace()
        .filter(|w| w.len() >= 7 && w.chars().all(|c| c.is_ascii_alphabetic()))
        .collect();
    if words.is_empty() {
        return None;
    }
    let word = words[rng.gen_range(0..words.len())];
    let start = rng.gen_range(1..=word.len() - 5);
    word.get(start..start + 4).map(str::to_owned)
}

/// `n` inputs of each search kind, from random samples.
pub fn searches(samples: &[Sample], n: usize, rng: &mut StdRng) -> anyhow::Result<Searches> {
    let cn: Vec<&Sample> = samples.iter().filter(|s| s.chinese).collect();
    let en: Vec<&Sample> = samples.iter().filter(|s| !s.chinese).collect();
    ensure!(
        !cn.is_empty() && !en.is_empty(),
        "too few customers to sample from"
    );
    let us = Region::parse("US").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let cn_region = Region::parse("CN").map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut out = Searches {
        chinese: Vec::new(),
        english: Vec::new(),
        phone: Vec::new(),
        email: Vec::new(),
        pinyin: Vec::new(),
        tail: Vec::new(),
        infix: Vec::new(),
    };
    let mut tries = 0;
    while out.chinese.len() < n
        || out.english.len() < n
        || out.phone.len() < n
        || out.email.len() < n
        || out.pinyin.len() < n
        || out.tail.len() < n
        || out.infix.len() < n
    {
        tries += 1;
        ensure!(
            tries < 100 * n + 1000,
            "could not make enough searches from the samples"
        );
        let c = cn[rng.gen_range(0..cn.len())];
        let e = en[rng.gen_range(0..en.len())];
        if out.chinese.len() < n
            && let Some(f) = chinese_fragment(&c.name, rng)
        {
            out.chinese.push(search(f, cn_region, c.id)?);
        }
        if out.english.len() < n
            && let Some(p) = english_prefix(&e.name, rng)
        {
            out.english.push(search(p, us, e.id)?);
        }
        let any = if rng.gen_bool(0.5) { c } else { e };
        if out.phone.len() < n && !any.phones.is_empty() {
            let (typed, region) = &any.phones[rng.gen_range(0..any.phones.len())];
            out.phone.push(search(typed.clone(), *region, any.id)?);
        }
        if out.email.len() < n && !any.emails.is_empty() {
            let email = &any.emails[rng.gen_range(0..any.emails.len())];
            out.email.push(search(email.clone(), us, any.id)?);
        }
        if out.pinyin.len() < n
            && let Some(p) = pinyin_pair(&c.name, rng)
        {
            out.pinyin.push(search(p, cn_region, c.id)?);
        }
        if out.tail.len() < n
            && let Some(t) = any.phones.first().and_then(|(typed, _)| phone_tail(typed))
        {
            out.tail.push(search(t, cn_region, any.id)?);
        }
        if out.infix.len() < n
            && let Some(i) = english_infix(&e.name, rng)
        {
            out.infix.push(search(i, us, e.id)?);
        }
    }
    Ok(out)
}

/// How well `query` matches the terms the store indexes for this customer.
fn rank(query: &SearchQuery, customer: &Customer, contacts: &[Contact]) -> Option<Rank> {
    customers::search_document(customer, contacts, None).rank(query)
}

/// Checks a search: every row matches, rows come best ranked first, and the customer the input
/// came from is among them (always for exact phones and emails; for names when the page
/// is not full, since a full page may have cut it off).
pub async fn check_search(
    store: &Store,
    op: &Op,
    expected: Uuid,
    exact: bool,
) -> anyhow::Result<()> {
    let Op::Search { text, query } = op else {
        bail!("not a search");
    };
    let rows = list(store, &stage_filter(Some(query.clone())), None).await?;
    ensure!(!rows.is_empty(), "q={text:?} found nothing");
    let mut ranks = Vec::with_capacity(rows.len());
    for c in &rows {
        let contacts = contacts::of_customer(store.conn(), c.id).await?;
        let rank = rank(query, c, &contacts);
        ensure!(
            rank.is_some(),
            "q={text:?} answered {:?}, which does not match",
            c.name
        );
        ranks.push(rank);
    }
    ensure!(
        ranks.is_sorted(),
        "q={text:?}: rows are not best ranked first: {ranks:?}"
    );
    // Within a rank, searches come in the search index's order (see
    // `CustomerSort::SearchOrder`), not by creation time; a page never holds a customer twice.
    let distinct: std::collections::HashSet<Uuid> = rows.iter().map(|c| c.id).collect();
    ensure!(
        distinct.len() == rows.len(),
        "q={text:?}: a customer came twice"
    );
    let found = rows.iter().any(|c| c.id == expected);
    if exact || rows.len() < PAGE as usize {
        ensure!(
            found,
            "q={text:?} did not find customer {expected} ({} rows)",
            rows.len()
        );
    }
    Ok(())
}

/// Checks a get answers the customer with its contacts.
pub async fn check_get(store: &Store, id: Uuid) -> anyhow::Result<()> {
    let customer = customers::get(store.conn(), id).await?;
    ensure!(customer.id == id, "get answered another customer");
    let contacts = contacts::of_customer(store.conn(), id).await?;
    ensure!(
        !contacts.is_empty() && contacts.iter().all(|c| c.customer_id == id),
        "contacts of {id}"
    );
    ensure!(contacts[0].is_primary, "the primary contact comes first");
    Ok(())
}

/// The deep page: its number and the cursor that starts it (the last row of the page
/// before, read once with OFFSET), checked against the rows OFFSET finds for it.
pub async fn deep_page(store: &Store) -> anyhow::Result<(u64, Option<Cursor>)> {
    let backend = store.conn().get_database_backend();
    let filter = "deleted_at IS NULL AND lifecycle_stage = 'customer'";
    let count = store
        .conn()
        .query_one(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) AS n FROM customers WHERE {filter}"),
        ))
        .await?
        .context("COUNT answered no row")?
        .try_get::<i64>("", "n")?;
    let full_pages = u64::try_from(count).unwrap_or(0) / PAGE;
    ensure!(
        full_pages >= 1,
        "fewer than {PAGE} customers in stage customer"
    );
    let page = full_pages.min(DEEP_PAGE);
    let first_page = list(store, &stage_filter(None), None).await?;
    ensure!(
        first_page.len() == PAGE as usize,
        "page 1 has {} rows",
        first_page.len()
    );
    ensure!(
        first_page
            .iter()
            .all(|c| c.lifecycle_stage == LifecycleStage::Customer),
        "page 1 holds customers of another stage"
    );
    if page == 1 {
        return Ok((1, None));
    }
    // The row before the page, then the page itself.
    let offset = (page - 1) * PAGE - 1;
    let rows = store
        .conn()
        .query_all(Statement::from_string(
            backend,
            format!(
                "SELECT created_at, id FROM customers WHERE {filter} \
                 ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {offset}",
                PAGE + 1
            ),
        ))
        .await?;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        keys.push((
            row.try_get::<chrono::DateTime<chrono::Utc>>("", "created_at")?,
            row.try_get::<Uuid>("", "id")?,
        ));
    }
    let Some(&(created_at, id)) = keys.first() else {
        bail!("OFFSET {offset} found no row");
    };
    let cursor = Cursor {
        value: SortValue::Time(created_at),
        id,
    };
    let got = list(store, &stage_filter(None), Some(cursor.clone())).await?;
    ensure!(
        got.len() == PAGE as usize,
        "page {page} has {} rows, not {PAGE}",
        got.len()
    );
    let want: Vec<Uuid> = keys.iter().skip(1).map(|(_, id)| *id).collect();
    let have: Vec<Uuid> = got.iter().map(|c| c.id).collect();
    ensure!(
        have == want,
        "page {page} by cursor differs from page {page} by OFFSET"
    );
    Ok((page, Some(cursor)))
}

/// `n` random ids of seeded customers.
pub fn ids(samples: &[Sample], n: usize, rng: &mut StdRng) -> Vec<Uuid> {
    (0..n)
        .map(|_| samples[rng.gen_range(0..samples.len())].id)
        .collect()
}

/// The database's size in bytes, and its search index's when the database can tell: on
/// SQLite after a checkpoint (the file alone, no WAL), on PostgreSQL all relations.
pub async fn database_size(store: &Store) -> anyhow::Result<(u64, Option<u64>)> {
    let conn = store.writer();
    let backend = conn.get_database_backend();
    let one = |sql: &str| Statement::from_string(backend, sql.to_owned());
    let number = |row: Option<rapport_migrations::sea_orm::QueryResult>, column: &str| {
        row.and_then(|r| r.try_get::<i64>("", column).ok())
            .and_then(|n| u64::try_from(n).ok())
    };
    match backend {
        rapport_migrations::sea_orm::DatabaseBackend::Postgres => {
            let total = number(
                conn.query_one(one("SELECT pg_database_size(current_database()) AS n"))
                    .await?,
                "n",
            )
            .context("pg_database_size")?;
            let search = number(
                conn.query_one(one("SELECT pg_total_relation_size('customer_terms') AS n"))
                    .await?,
                "n",
            );
            Ok((total, search))
        }
        _ => {
            conn.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await?;
            let pages = number(
                conn.query_one(one("PRAGMA page_count")).await?,
                "page_count",
            )
            .context("page_count")?;
            let size = number(conn.query_one(one("PRAGMA page_size")).await?, "page_size")
                .context("page_size")?;
            // dbstat exists only when SQLite was built with it.
            let search = match conn
                .query_one(one(
                    "SELECT SUM(pgsize) AS n FROM dbstat WHERE name LIKE 'customer_search%'",
                ))
                .await
            {
                Ok(row) => number(row, "n"),
                Err(_) => None,
            };
            Ok((pages * size, search))
        }
    }
}
