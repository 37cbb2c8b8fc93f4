//! Two years of business around the seeded customers, for the reports: activities,
//! opportunities in the default pipeline, orders (some of them of won deals) and service
//! tickets with their SLA due times, first responses, resolutions and breaches. Made from a
//! seeded `StdRng` (the same `--seed` makes the same records; times are relative to the
//! anchor, the start of the current UTC day) and inserted through the store with
//! `repos::insert_all`, one transaction per batch. Generation runs on its own thread, one
//! batch ahead of the database, as the customers' does.
//!
//! Opportunities are inserted without the first entry of their stage history (the row
//! `opportunities::insert` adds beside each): no report reads it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Datelike, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rapport_domain::activity::{Activity, Details, Outcome, Summary};
use rapport_domain::clock::to_micros;
use rapport_domain::currency::CurrencyCode;
use rapport_domain::enums::{ActivityKind, Channel, Direction, Grade, Source};
use rapport_domain::money::Money;
use rapport_domain::name::Title;
use rapport_domain::opportunity::{LostReason, Opportunity, OpportunityStatus, SalesNote};
use rapport_domain::pipeline::{Pipeline, Probability, Stage, StageKind};
use rapport_domain::pricing::{Line, Percent, Quantity, Totals};
use rapport_domain::quote::{DocumentNotes, Order, OrderStatus, document_number};
use rapport_domain::sla::{SlaPolicy, SlaSubject, choose};
use rapport_domain::ticket::{
    SlaTarget, Ticket, TicketCategory, TicketChannel, TicketPriority, TicketStatus, TicketText,
};
use rapport_migrations::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use rapport_store::Store;
use rapport_store::repos::{self, pipelines, sla_policies};
use uuid::Uuid;

use crate::data::{pick, uuid_at};
use crate::report::thousands;

/// Rows per transaction.
const TX_ROWS: usize = 5_000;
/// Customers read back per query.
const READ_PAGE: u64 = 50_000;
/// Progress is printed every this many rows of a kind.
const PROGRESS_EVERY: u64 = 200_000;
/// How far back the records go.
const HISTORY: TimeDelta = TimeDelta::days(2 * 365);

/// How many of each record to make.
#[derive(Debug, Clone, Copy, Default)]
pub struct Volumes {
    pub activities: u64,
    pub opportunities: u64,
    pub orders: u64,
    pub tickets: u64,
}

/// What the reports over the range should count, from what was made: the checks that the
/// timed answers are real ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts {
    /// Live customers created in the range (`customer-distribution`'s total).
    pub customers: i64,
    /// Leads created in the range (`lead-response`'s total).
    pub leads: i64,
    /// Every opportunity (all in the default pipeline: `pipeline`'s count).
    pub opportunities: i64,
    /// Opportunities created in the range, won and lost in it (`sales-performance`).
    pub opportunities_created: i64,
    pub won: i64,
    pub lost: i64,
    /// Activities in the range, all recorded by a user (`sales-performance`).
    pub activities: i64,
    /// Tickets created in the range (`service-levels`).
    pub tickets: i64,
}

/// What seeding made and how long it took.
pub struct Seeded {
    pub facts: Facts,
    pub elapsed: Duration,
    /// Time spent waiting for the generator (the rest is the database).
    pub waiting: Duration,
    /// Time per kind, in the database and waiting.
    pub per_kind: Vec<(&'static str, u64, Duration)>,
}

/// A live customer as read back.
#[derive(Debug, Clone, Copy)]
struct Account {
    id: Uuid,
    owner: Option<Uuid>,
    created_at: DateTime<Utc>,
    grade: Grade,
    lead: bool,
}

/// A batch for the database.
enum Batch {
    Activities(Vec<Activity>),
    Opportunities(Vec<Opportunity>),
    Orders(Vec<Order>),
    Tickets(Vec<Ticket>),
}

impl Batch {
    fn kind(&self) -> &'static str {
        match self {
            Batch::Activities(_) => "activities",
            Batch::Opportunities(_) => "opportunities",
            Batch::Orders(_) => "orders",
            Batch::Tickets(_) => "tickets",
        }
    }

    fn len(&self) -> usize {
        match self {
            Batch::Activities(v) => v.len(),
            Batch::Opportunities(v) => v.len(),
            Batch::Orders(v) => v.len(),
            Batch::Tickets(v) => v.len(),
        }
    }
}

/// Reads the live customers back, in id order (so that the records made of them repeat).
async fn accounts(store: &Store) -> anyhow::Result<Vec<Account>> {
    let db = store.conn();
    let backend = db.get_database_backend();
    let placeholder = if backend == DatabaseBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let sql = format!(
        "SELECT id, owner_id, created_at, grade, lifecycle_stage FROM customers \
         WHERE deleted_at IS NULL AND id > {placeholder} ORDER BY id LIMIT {READ_PAGE}"
    );
    let mut out = Vec::new();
    let mut after = Uuid::nil();
    loop {
        let rows = db
            .query_all(Statement::from_sql_and_values(
                backend,
                sql.as_str(),
                [after.into()],
            ))
            .await?;
        for row in &rows {
            let grade: String = row.try_get("", "grade")?;
            let stage: String = row.try_get("", "lifecycle_stage")?;
            out.push(Account {
                id: row.try_get("", "id")?,
                owner: row.try_get("", "owner_id")?,
                created_at: row.try_get("", "created_at")?,
                grade: Grade::parse(&grade).map_err(|e| anyhow::anyhow!("grade {grade}: {e}"))?,
                lead: stage == "lead",
            });
        }
        match out.last() {
            Some(last) if rows.len() as u64 == READ_PAGE => after = last.id,
            _ => break,
        }
    }
    Ok(out)
}

/// Seeds `volumes` of records around the live customers, and counts what the reports over
/// `range` should find.
///
/// # Errors
/// A database failure, a generated value the domain refuses, or the generator thread died.
pub async fn seed(
    store: &Store,
    label: &str,
    volumes: Volumes,
    seed: u64,
    anchor: DateTime<Utc>,
    range: (DateTime<Utc>, DateTime<Utc>),
) -> anyhow::Result<Seeded> {
    let start = Instant::now();
    let accounts = accounts(store).await?;
    anyhow::ensure!(!accounts.is_empty(), "no customers to seed records for");
    let pipeline = pipelines::default_pipeline(store.conn())
        .await
        .context("reading the default pipeline")?;
    let policies = sla_policies::all(store.conn()).await?;
    println!(
        "  {label}: read back {} customers in {:.1} s",
        thousands(accounts.len() as u64),
        start.elapsed().as_secs_f64()
    );
    let mut generator = Generator::new(seed, anchor, range, accounts, pipeline, policies)?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Batch>(2);
    let producer = std::thread::spawn(move || -> anyhow::Result<(Facts, BTreeMap<i32, i64>)> {
        generator.run(volumes, |batch| sender.blocking_send(batch).is_ok())?;
        Ok((generator.facts, generator.order_numbers))
    });

    let mut made: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut per_kind: Vec<(&'static str, u64, Duration)> = Vec::new();
    let mut kind_start = Instant::now();
    let mut waiting = Duration::ZERO;
    loop {
        let wait = Instant::now();
        let Some(batch) = receiver.recv().await else {
            break;
        };
        waiting += wait.elapsed();
        let kind = batch.kind();
        if per_kind.last().is_none_or(|(k, _, _)| *k != kind) {
            kind_start = Instant::now();
            per_kind.push((kind, 0, Duration::ZERO));
        }
        let tx = store.begin().await?;
        match &batch {
            Batch::Activities(v) => repos::insert_all(&tx, v).await,
            Batch::Opportunities(v) => repos::insert_all(&tx, v).await,
            Batch::Orders(v) => repos::insert_all(&tx, v).await,
            Batch::Tickets(v) => repos::insert_all(&tx, v).await,
        }
        .with_context(|| format!("inserting {kind}"))?;
        rapport_store::commit(tx).await?;
        let done = made.entry(kind).or_default();
        let before = *done;
        *done += batch.len() as u64;
        let total = match kind {
            "activities" => volumes.activities,
            "opportunities" => volumes.opportunities,
            "orders" => volumes.orders,
            _ => volumes.tickets,
        };
        if let Some(last) = per_kind.last_mut() {
            *last = (kind, *done, kind_start.elapsed());
        }
        if *done / PROGRESS_EVERY > before / PROGRESS_EVERY || *done >= total {
            let secs = kind_start.elapsed().as_secs_f64();
            println!(
                "  {label}: {:>9} / {} {kind} seeded  ({secs:7.1} s, {:>6.0} rows/s)",
                *done,
                total,
                *done as f64 / secs.max(f64::EPSILON)
            );
        }
    }
    let (facts, numbers) = producer
        .join()
        .map_err(|_| anyhow::anyhow!("the generator thread panicked"))??;
    order_counters(store, &numbers).await?;
    let got = |kind| made.get(kind).copied().unwrap_or(0);
    let made = Volumes {
        activities: got("activities"),
        opportunities: got("opportunities"),
        orders: got("orders"),
        tickets: got("tickets"),
    };
    anyhow::ensure!(
        made.activities == volumes.activities
            && made.opportunities == volumes.opportunities
            && made.orders == volumes.orders
            && made.tickets == volumes.tickets,
        "seeded {made:?} instead of {volumes:?}"
    );
    Ok(Seeded {
        facts,
        elapsed: start.elapsed(),
        waiting,
        per_kind,
    })
}

/// Sets the order number counters to the last number seeded in each year, so that the app's
/// next order of a year takes the number after them (`repos::numbers::next`).
async fn order_counters(store: &Store, last: &BTreeMap<i32, i64>) -> anyhow::Result<()> {
    let db = store.writer();
    let backend = db.get_database_backend();
    let sql = if backend == DatabaseBackend::Postgres {
        "INSERT INTO document_numbers (prefix, year, last) VALUES ($1, $2, $3) \
         ON CONFLICT (prefix, year) DO UPDATE SET last = excluded.last"
    } else {
        "INSERT INTO document_numbers (prefix, year, last) VALUES (?, ?, ?) \
         ON CONFLICT (prefix, year) DO UPDATE SET last = excluded.last"
    };
    for (year, n) in last {
        db.execute(Statement::from_sql_and_values(
            backend,
            sql,
            [ORDER_PREFIX.into(), (*year).into(), (*n).into()],
        ))
        .await
        .context("setting the order number counters")?;
    }
    Ok(())
}

/// The prefix of order numbers, as the app gives them (`O-2026-000123`).
const ORDER_PREFIX: &str = "O";

/// A won deal an order may be made of.
#[derive(Debug, Clone, Copy)]
struct WonDeal {
    id: Uuid,
    account: usize,
    closed_at: DateTime<Utc>,
    amount: Money,
}

/// An order before it is made: orders are numbered in the order they were placed.
#[derive(Debug, Clone, Copy)]
struct OrderPlan {
    account: usize,
    at: DateTime<Utc>,
    deal: Option<WonDeal>,
}

/// A domain value from a fixed list of valid texts: a refusal is a bug in the lists.
fn valid<T>(what: &str, result: Result<T, rapport_domain::Invalid>) -> anyhow::Result<T> {
    result.map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

fn parse_all<T>(
    texts: &[&str],
    parse: impl Fn(&str) -> Result<T, rapport_domain::Invalid>,
) -> anyhow::Result<Vec<T>> {
    texts.iter().map(|t| valid(t, parse(t))).collect()
}

/// Picks by weight: `(item, weight)` pairs, weights summing to more than 0.
fn weighted<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut roll = rng.gen_range(0..total.max(1));
    for (item, w) in items {
        if roll < *w {
            return *item;
        }
        roll -= w;
    }
    items[0].0
}

/// The texts of the records, parsed once.
struct Texts {
    summaries: Vec<(ActivityKind, Vec<Summary>)>,
    details: Vec<Details>,
    outcomes: Vec<Outcome>,
    deal_titles: Vec<Title>,
    next_steps: Vec<SalesNote>,
    lost_notes: Vec<SalesNote>,
    products: Vec<(Title, i64)>,
    won_line: Title,
    order_notes: Vec<DocumentNotes>,
    subjects: Vec<(TicketCategory, Vec<Title>)>,
    descriptions: Vec<TicketText>,
}

impl Texts {
    fn new() -> anyhow::Result<Texts> {
        Ok(Texts {
            summaries: SUMMARIES
                .iter()
                .map(|(kind, texts)| Ok((*kind, parse_all(texts, Summary::parse)?)))
                .collect::<anyhow::Result<_>>()?,
            details: parse_all(DETAILS, Details::parse)?,
            outcomes: parse_all(OUTCOMES, Outcome::parse)?,
            deal_titles: parse_all(DEAL_TITLES, Title::parse)?,
            next_steps: parse_all(NEXT_STEPS, SalesNote::parse)?,
            lost_notes: parse_all(LOST_NOTES, SalesNote::parse)?,
            products: PRODUCTS
                .iter()
                .map(|(name, yuan)| Ok((valid(name, Title::parse(name))?, *yuan)))
                .collect::<anyhow::Result<_>>()?,
            won_line: valid("won line", Title::parse("As agreed in the won deal"))?,
            order_notes: parse_all(ORDER_NOTES, DocumentNotes::parse)?,
            subjects: SUBJECTS
                .iter()
                .map(|(category, texts)| Ok((*category, parse_all(texts, Title::parse)?)))
                .collect::<anyhow::Result<_>>()?,
            descriptions: parse_all(TICKET_TEXTS, TicketText::parse)?,
        })
    }
}

struct Generator {
    rng: StdRng,
    anchor: DateTime<Utc>,
    range: (DateTime<Utc>, DateTime<Utc>),
    accounts: Vec<Account>,
    pipeline: Pipeline,
    open_stages: Vec<(Stage, u32)>,
    won_stage: Stage,
    lost_stage: Stage,
    policies: Vec<SlaPolicy>,
    cny: CurrencyCode,
    usd: CurrencyCode,
    texts: Texts,
    won: Vec<WonDeal>,
    facts: Facts,
    /// The last order number of each year.
    order_numbers: BTreeMap<i32, i64>,
}

impl Generator {
    fn new(
        seed: u64,
        anchor: DateTime<Utc>,
        range: (DateTime<Utc>, DateTime<Utc>),
        accounts: Vec<Account>,
        pipeline: Pipeline,
        policies: Vec<SlaPolicy>,
    ) -> anyhow::Result<Generator> {
        let open: Vec<&Stage> = pipeline
            .stages
            .iter()
            .filter(|s| s.kind == StageKind::Open)
            .collect();
        anyhow::ensure!(!open.is_empty(), "the default pipeline has no open stage");
        // Earlier stages hold more deals.
        let open_stages = open
            .iter()
            .enumerate()
            .map(|(i, s)| ((*s).clone(), (open.len() - i) as u32 + 1))
            .collect();
        let won_stage = pipeline
            .won_stage()
            .cloned()
            .context("the default pipeline has no won stage")?;
        let lost_stage = pipeline
            .stages
            .iter()
            .find(|s| s.kind == StageKind::Lost)
            .cloned()
            .context("the default pipeline has no lost stage")?;
        let currency = |code: &str| valid(code, CurrencyCode::parse(code));
        let (from, to) = range;
        let facts = Facts {
            customers: accounts
                .iter()
                .filter(|a| a.created_at >= from && a.created_at < to)
                .count() as i64,
            leads: accounts
                .iter()
                .filter(|a| a.lead && a.created_at >= from && a.created_at < to)
                .count() as i64,
            ..Facts::default()
        };
        Ok(Generator {
            rng: StdRng::seed_from_u64(seed ^ 0x6869_7374_6f72_7921),
            anchor,
            range,
            accounts,
            pipeline,
            open_stages,
            won_stage,
            lost_stage,
            policies,
            cny: currency("CNY")?,
            usd: currency("USD")?,
            texts: Texts::new()?,
            won: Vec::new(),
            facts,
            order_numbers: BTreeMap::new(),
        })
    }

    fn in_range(&self, t: DateTime<Utc>) -> bool {
        t >= self.range.0 && t < self.range.1
    }

    /// A time in `[from, to)` (at `from` when the span is empty), to the microsecond.
    fn between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
        let span = (to - from).num_microseconds().unwrap_or(0);
        if span <= 0 {
            return from;
        }
        to_micros(from + TimeDelta::microseconds(self.rng.gen_range(0..span)))
    }

    /// A time in the last two years, after the customer's creation.
    fn after_creation(&mut self, account: usize) -> DateTime<Utc> {
        let created = self.accounts[account].created_at;
        let start = created.max(self.anchor - HISTORY);
        self.between(start, self.anchor)
    }

    fn account(&mut self) -> usize {
        self.rng.gen_range(0..self.accounts.len())
    }

    /// `minutes` × a factor in `[low, high)`, as a duration.
    fn scaled(&mut self, minutes: i64, low: f64, high: f64) -> TimeDelta {
        let seconds = minutes as f64 * 60.0 * self.rng.gen_range(low..high);
        TimeDelta::seconds(seconds.max(1.0) as i64)
    }

    /// Makes every record, in batches handed to `send` (false: stop, the receiver is gone).
    fn run(&mut self, v: Volumes, mut send: impl FnMut(Batch) -> bool) -> anyhow::Result<()> {
        let batches = |n: u64| {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            (0..n.div_ceil(TX_ROWS)).map(move |i| TX_ROWS.min(n - i * TX_ROWS))
        };
        for n in batches(v.activities) {
            let batch = (0..n)
                .map(|_| self.activity())
                .collect::<anyhow::Result<_>>()?;
            if !send(Batch::Activities(batch)) {
                return Ok(());
            }
        }
        for n in batches(v.opportunities) {
            let batch = (0..n)
                .map(|_| self.opportunity())
                .collect::<anyhow::Result<_>>()?;
            if !send(Batch::Opportunities(batch)) {
                return Ok(());
            }
        }
        let plans = self.order_plans(v.orders);
        for chunk in plans.chunks(TX_ROWS) {
            let batch = chunk
                .iter()
                .map(|plan| self.order(plan))
                .collect::<anyhow::Result<_>>()?;
            if !send(Batch::Orders(batch)) {
                return Ok(());
            }
        }
        for n in batches(v.tickets) {
            let batch = (0..n)
                .map(|_| self.ticket())
                .collect::<anyhow::Result<_>>()?;
            if !send(Batch::Tickets(batch)) {
                return Ok(());
            }
        }
        Ok(())
    }

    fn activity(&mut self) -> anyhow::Result<Activity> {
        let a = self.account();
        let account = self.accounts[a];
        let occurred_at = self.after_creation(a);
        // A lead has not been contacted yet (its customer says so): only notes about it.
        let kind = if account.lead {
            ActivityKind::Note
        } else {
            weighted(&mut self.rng, ACTIVITY_KINDS)
        };
        let rng = &mut self.rng;
        let (direction, channel) = match kind {
            ActivityKind::Call => (Some(inbound_or_out(rng, 0.3)), Some(Channel::Phone)),
            ActivityKind::Email => (Some(inbound_or_out(rng, 0.4)), Some(Channel::Email)),
            ActivityKind::Chat => (Some(inbound_or_out(rng, 0.5)), Some(Channel::Wechat)),
            ActivityKind::Meeting | ActivityKind::Visit => (None, Some(Channel::InPerson)),
            ActivityKind::Note => (None, None),
        };
        let summaries = self
            .texts
            .summaries
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| s.as_slice())
            .unwrap_or_default();
        anyhow::ensure!(!summaries.is_empty(), "no summaries for {kind}");
        let summary = pick(rng, summaries).clone();
        let details = rng
            .gen_bool(0.25)
            .then(|| pick(rng, &self.texts.details).clone());
        let outcome = (kind != ActivityKind::Note && rng.gen_bool(0.4))
            .then(|| pick(rng, &self.texts.outcomes).clone());
        let logged = occurred_at + TimeDelta::seconds(rng.gen_range(0..2 * 3600));
        let created_at = if logged < self.anchor {
            logged
        } else {
            occurred_at
        };
        if account.owner.is_some() && self.in_range(occurred_at) {
            self.facts.activities += 1;
        }
        Ok(Activity {
            id: uuid_at(&mut self.rng, created_at),
            customer_id: account.id,
            contact_id: None,
            kind,
            direction,
            channel,
            occurred_at,
            summary,
            details,
            outcome,
            recorded_by: account.owner,
            created_at,
            updated_at: created_at,
            version: 1,
        })
    }

    /// An amount: mostly CNY (5,000 to 2,000,000 yuan), some USD (1,000 to 300,000 dollars).
    fn amount(&mut self) -> anyhow::Result<Money> {
        let (currency, units) = if self.rng.gen_bool(0.85) {
            (self.cny, self.rng.gen_range(50..20_000) * 100)
        } else {
            (self.usd, self.rng.gen_range(10..3_000) * 100)
        };
        valid("amount", Money::from_minor(units * 100, currency))
    }

    fn opportunity(&mut self) -> anyhow::Result<Opportunity> {
        let a = self.account();
        let account = self.accounts[a];
        let created_at = self.after_creation(a);
        let age = self.anchor - created_at;
        let open_share = if age < TimeDelta::days(60) { 0.7 } else { 0.25 };
        let status = if self.rng.gen_bool(open_share) {
            OpportunityStatus::Open
        } else if self.rng.gen_bool(0.45) {
            OpportunityStatus::Won
        } else {
            OpportunityStatus::Lost
        };
        let closed_at = match status {
            OpportunityStatus::Open => None,
            _ => {
                let cycle = TimeDelta::seconds(self.rng.gen_range(86_400..150 * 86_400));
                let closed = to_micros(created_at + cycle);
                Some(if closed < self.anchor {
                    closed
                } else {
                    self.between(created_at, self.anchor)
                })
            }
        };
        let amount = if status == OpportunityStatus::Won || self.rng.gen_bool(0.9) {
            Some(self.amount()?)
        } else {
            None
        };
        let (stage, probability, overridden) = match status {
            OpportunityStatus::Open => {
                let stage = weighted_stage(&mut self.rng, &self.open_stages);
                if self.rng.gen_bool(0.05) {
                    let p = valid("probability", Probability::new(self.rng.gen_range(5..96)))?;
                    (stage, p, true)
                } else {
                    let p = stage.probability;
                    (stage, p, false)
                }
            }
            OpportunityStatus::Won => (self.won_stage.clone(), Probability::CERTAIN, false),
            OpportunityStatus::Lost => (self.lost_stage.clone(), Probability::NONE, false),
        };
        let stage_entered_at = match closed_at {
            Some(closed) => closed,
            None => self.between(created_at, self.anchor),
        };
        let expected_close_date = Some(match closed_at {
            Some(closed) => closed.date_naive(),
            None => (created_at + TimeDelta::days(self.rng.gen_range(30..180))).date_naive(),
        });
        let rng = &mut self.rng;
        let (lost_reason, lost_note) = if status == OpportunityStatus::Lost {
            (
                Some(*pick(rng, LostReason::ALL)),
                rng.gen_bool(0.3)
                    .then(|| pick(rng, &self.texts.lost_notes).clone()),
            )
        } else {
            (None, None)
        };
        let next_step = (status == OpportunityStatus::Open && rng.gen_bool(0.5))
            .then(|| pick(rng, &self.texts.next_steps).clone());
        let title = pick(rng, &self.texts.deal_titles).clone();
        let source = rng.gen_bool(0.7).then(|| *pick(rng, Source::ALL));
        let id = uuid_at(rng, created_at);
        self.facts.opportunities += 1;
        if self.in_range(created_at) {
            self.facts.opportunities_created += 1;
        }
        if let Some(closed) = closed_at
            && self.in_range(closed)
        {
            match status {
                OpportunityStatus::Won => self.facts.won += 1,
                OpportunityStatus::Lost => self.facts.lost += 1,
                OpportunityStatus::Open => {}
            }
        }
        if let (OpportunityStatus::Won, Some(closed), Some(amount)) = (status, closed_at, amount) {
            self.won.push(WonDeal {
                id,
                account: a,
                closed_at: closed,
                amount,
            });
        }
        Ok(Opportunity {
            id,
            customer_id: account.id,
            contact_id: None,
            title,
            source,
            campaign_id: None,
            amount,
            expected_close_date,
            pipeline_id: self.pipeline.id,
            stage_id: stage.id,
            status,
            probability,
            probability_overridden: overridden,
            owner_id: account.owner,
            team_id: None,
            next_step,
            tags: Vec::new(),
            lost_reason,
            lost_note,
            closed_at,
            stage_entered_at,
            created_by: account.owner,
            created_at,
            updated_at: stage_entered_at,
            version: 1,
        })
    }

    /// When and for whom each order is placed, in the order they were placed (their numbers
    /// follow it). Two in five are orders of won deals, one each, while there are deals.
    fn order_plans(&mut self, n: u64) -> Vec<OrderPlan> {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let mut deals = std::mem::take(&mut self.won);
        deals.shuffle(&mut self.rng);
        deals.truncate(n * 2 / 5);
        let mut plans: Vec<OrderPlan> = Vec::with_capacity(n);
        for deal in &deals {
            let after = deal.closed_at + TimeDelta::seconds(self.rng.gen_range(0..14 * 86_400));
            let at = if after < self.anchor {
                to_micros(after)
            } else {
                deal.closed_at
            };
            plans.push(OrderPlan {
                account: deal.account,
                at,
                deal: Some(*deal),
            });
        }
        while plans.len() < n {
            let account = self.account();
            let at = self.after_creation(account);
            plans.push(OrderPlan {
                account,
                at,
                deal: None,
            });
        }
        plans.sort_by_key(|p| p.at);
        plans
    }

    fn order(&mut self, plan: &OrderPlan) -> anyhow::Result<Order> {
        let account = self.accounts[plan.account];
        let ordered_at = plan.at;
        let (currency, lines) = match plan.deal {
            Some(deal) => {
                let line = valid(
                    "won line",
                    Line::priced(
                        None,
                        &self.texts.won_line,
                        valid("quantity", Quantity::parse("1"))?,
                        deal.amount,
                        Percent::default(),
                        Percent::default(),
                    ),
                )?;
                (deal.amount.currency(), vec![line])
            }
            None => {
                let currency = if self.rng.gen_bool(0.85) {
                    self.cny
                } else {
                    self.usd
                };
                // China's VAT on goods; none on exports priced in dollars.
                let tax = if currency == self.cny { "13" } else { "0" };
                let count = self.rng.gen_range(1..=3);
                let mut lines = Vec::with_capacity(count);
                for _ in 0..count {
                    let (name, yuan) = pick(&mut self.rng, &self.texts.products).clone();
                    // Dollar prices are about a seventh of the yuan ones.
                    let minor = if currency == self.cny {
                        yuan * 100
                    } else {
                        yuan * 100 / 7
                    };
                    let quantity = self.rng.gen_range(1..=50).to_string();
                    let discount = *pick(&mut self.rng, &["0", "0", "5", "10"]);
                    lines.push(valid(
                        "order line",
                        Line::priced(
                            None,
                            &name,
                            valid("quantity", Quantity::parse(&quantity))?,
                            valid("price", Money::from_minor(minor, currency))?,
                            valid("discount", Percent::parse(discount))?,
                            valid("tax", Percent::parse(tax))?,
                        ),
                    )?);
                }
                (currency, lines)
            }
        };
        let totals = valid("totals", Totals::of(&lines, currency))?;
        let rng = &mut self.rng;
        let roll = rng.gen_range(0..100);
        let later = |rng: &mut StdRng, days: i64| {
            to_micros(ordered_at + TimeDelta::seconds(rng.gen_range(3600..days * 86_400)))
        };
        let (mut status, mut fulfilled_at, mut cancelled_at) = (OrderStatus::Confirmed, None, None);
        if roll < 80 {
            let at = later(rng, 20);
            if at < self.anchor {
                (status, fulfilled_at) = (OrderStatus::Fulfilled, Some(at));
            }
        } else if roll < 88 {
            let at = later(rng, 5);
            if at < self.anchor {
                (status, cancelled_at) = (OrderStatus::Cancelled, Some(at));
            }
        }
        let notes = rng
            .gen_bool(0.1)
            .then(|| pick(rng, &self.texts.order_notes).clone());
        let year = ordered_at.year();
        let sequence = self.order_numbers.entry(year).or_default();
        *sequence += 1;
        let number = document_number(ORDER_PREFIX, year, *sequence);
        let updated_at = fulfilled_at.or(cancelled_at).unwrap_or(ordered_at);
        Ok(Order {
            id: uuid_at(&mut self.rng, ordered_at),
            number,
            customer_id: account.id,
            opportunity_id: plan.deal.map(|d| d.id),
            quote_id: None,
            currency,
            status,
            lines,
            totals,
            notes,
            ordered_at,
            fulfilled_at,
            cancelled_at,
            created_by: account.owner,
            created_at: ordered_at,
            updated_at,
            version: 1,
        })
    }

    fn ticket(&mut self) -> anyhow::Result<Ticket> {
        let a = self.account();
        let account = self.accounts[a];
        let created_at = self.after_creation(a);
        let rng = &mut self.rng;
        let category = weighted(rng, TICKET_CATEGORIES);
        let priority = weighted(rng, TICKET_PRIORITIES);
        let subjects = self
            .texts
            .subjects
            .iter()
            .find(|(c, _)| *c == category)
            .map(|(_, s)| s.as_slice())
            .unwrap_or_default();
        anyhow::ensure!(!subjects.is_empty(), "no subjects for {category}");
        let subject = pick(rng, subjects).clone();
        let description = rng
            .gen_bool(0.5)
            .then(|| pick(rng, &self.texts.descriptions).clone());
        let channel = *pick(rng, TicketChannel::ALL);
        let mut t = Ticket {
            id: uuid_at(rng, created_at),
            customer_id: account.id,
            contact_id: None,
            subject,
            description,
            channel,
            category,
            priority,
            status: TicketStatus::New,
            assignee_id: account.owner,
            team_id: None,
            tags: Vec::new(),
            first_responded_at: None,
            resolved_at: None,
            closed_at: None,
            sla_policy_id: None,
            first_response_due_at: None,
            resolution_due_at: None,
            paused_at: None,
            paused_minutes: 0,
            first_response_breached_at: None,
            resolution_breached_at: None,
            reminded_at: None,
            created_by: account.owner,
            created_at,
            updated_at: created_at,
            version: 1,
        };
        let subject = SlaSubject {
            category,
            priority,
            grade: Some(account.grade),
        };
        let policy = choose(&self.policies, subject).cloned();
        t.apply_sla(policy.as_ref());
        let (first_minutes, resolution_minutes) =
            policy.as_ref().map_or((8 * 60, 5 * 24 * 60), |p| {
                (p.first_response_minutes, p.resolution_minutes)
            });
        // The breach job finds a late target within a minute of its due time.
        let found = |due: Option<DateTime<Utc>>| due.map(|d| d + TimeDelta::minutes(1));
        let old = self.anchor - created_at > TimeDelta::days(14);
        let status = if old {
            weighted(&mut self.rng, OLD_TICKET_STATUSES)
        } else {
            weighted(&mut self.rng, NEW_TICKET_STATUSES)
        };
        if status != TicketStatus::New {
            let delay = if self.rng.gen_bool(0.85) {
                self.scaled(first_minutes, 0.05, 1.0)
            } else {
                self.scaled(first_minutes, 1.05, 4.0)
            };
            let responded = to_micros(created_at + delay);
            let responded = if responded < self.anchor {
                responded
            } else {
                self.between(created_at, self.anchor)
            };
            t.first_responded_at = Some(responded);
            if let Some(at) = found(t.first_response_due_at).filter(|at| *at < responded) {
                t.record_breach(SlaTarget::FirstResponse, at);
            }
        }
        let mut status = status;
        if matches!(status, TicketStatus::Resolved | TicketStatus::Closed) {
            let delay = if self.rng.gen_bool(0.8) {
                self.scaled(resolution_minutes, 0.1, 1.0)
            } else {
                self.scaled(resolution_minutes, 1.05, 3.0)
            };
            let responded = t.first_responded_at.unwrap_or(created_at);
            let resolved = to_micros((created_at + delay).max(responded + TimeDelta::minutes(5)));
            if resolved < self.anchor {
                t.resolved_at = Some(resolved);
                if let Some(at) = found(t.resolution_due_at).filter(|at| *at < resolved) {
                    t.record_breach(SlaTarget::Resolution, at);
                }
                if status == TicketStatus::Closed {
                    let closed =
                        resolved + TimeDelta::seconds(self.rng.gen_range(3600..7 * 86_400));
                    if closed < self.anchor {
                        t.closed_at = Some(closed);
                    } else {
                        status = TicketStatus::Resolved;
                    }
                }
            } else {
                status = TicketStatus::Open;
            }
        }
        // Still being worked: late targets are breached (as the breach job records them).
        if status.is_active() {
            if status == TicketStatus::Pending {
                let since = t.first_responded_at.unwrap_or(created_at);
                t.paused_at = Some(self.between(since, self.anchor));
            }
            let clock_until = t.paused_at.unwrap_or(self.anchor);
            if t.first_responded_at.is_none()
                && let Some(at) = found(t.first_response_due_at).filter(|at| *at < self.anchor)
            {
                t.record_breach(SlaTarget::FirstResponse, at);
            }
            if let Some(at) = found(t.resolution_due_at).filter(|at| *at < clock_until) {
                t.record_breach(SlaTarget::Resolution, at);
            }
        }
        t.status = status;
        t.updated_at = [
            Some(t.created_at),
            t.first_responded_at,
            t.resolved_at,
            t.closed_at,
            t.paused_at,
            t.first_response_breached_at,
            t.resolution_breached_at,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(created_at);
        if self.in_range(created_at) {
            self.facts.tickets += 1;
        }
        Ok(t)
    }
}

fn inbound_or_out(rng: &mut StdRng, inbound: f64) -> Direction {
    if rng.gen_bool(inbound) {
        Direction::Inbound
    } else {
        Direction::Outbound
    }
}

fn weighted_stage(rng: &mut StdRng, stages: &[(Stage, u32)]) -> Stage {
    let total: u32 = stages.iter().map(|(_, w)| w).sum();
    let mut roll = rng.gen_range(0..total.max(1));
    for (stage, w) in stages {
        if roll < *w {
            return stage.clone();
        }
        roll -= w;
    }
    stages[0].0.clone()
}

const ACTIVITY_KINDS: &[(ActivityKind, u32)] = &[
    (ActivityKind::Call, 30),
    (ActivityKind::Email, 25),
    (ActivityKind::Chat, 17),
    (ActivityKind::Meeting, 10),
    (ActivityKind::Visit, 8),
    (ActivityKind::Note, 10),
];

const SUMMARIES: &[(ActivityKind, &[&str])] = &[
    (
        ActivityKind::Call,
        &[
            "电话沟通采购计划",
            "Follow-up call on the proposal",
            "电话确认交货时间",
            "Called about the renewal",
            "回访客户使用情况",
            "Pricing questions by phone",
        ],
    ),
    (
        ActivityKind::Email,
        &[
            "发送报价单",
            "Sent the product brochure",
            "邮件确认合同条款",
            "Emailed the revised quote",
            "Invoice sent by email",
        ],
    ),
    (
        ActivityKind::Chat,
        &[
            "微信沟通需求",
            "WeChat: delivery address changed",
            "微信发送产品资料",
            "Chat about the installation date",
        ],
    ),
    (
        ActivityKind::Meeting,
        &[
            "季度业务回顾会议",
            "Quarterly business review",
            "需求调研会",
            "Demo for the purchasing team",
        ],
    ),
    (
        ActivityKind::Visit,
        &[
            "上门拜访采购经理",
            "Site visit at the plant",
            "现场安装指导",
            "Visited the new branch office",
        ],
    ),
    (
        ActivityKind::Note,
        &[
            "客户预算下季度审批",
            "Decision maker changed",
            "竞争对手也在报价",
            "Prefers to be contacted in the morning",
        ],
    ),
];

const DETAILS: &[&str] = &[
    "客户对价格比较敏感，希望在下个月前拿到最终报价。",
    "They compared us with two other vendors and asked for references in their industry.",
    "采购流程需要三家比价，预计两周内出结果。",
    "The plant manager wants a trial of two weeks before signing.",
    "客户反馈上次交付的包装有破损，已承诺改进。",
];

const OUTCOMES: &[&str] = &[
    "同意安排演示",
    "Will decide next week",
    "需要内部审批",
    "Asked for a discount",
    "已确认下单意向",
    "No interest for now",
];

const DEAL_TITLES: &[&str] = &[
    "年度续约",
    "Annual renewal",
    "设备采购项目",
    "ERP rollout",
    "扩容订单",
    "Pilot project",
    "维保服务合同",
    "Support contract",
    "培训服务",
    "Cloud migration",
    "耗材年度框架协议",
    "New production line",
];

const NEXT_STEPS: &[&str] = &[
    "发送修订后的报价",
    "Schedule a demo with the IT team",
    "等待客户预算审批",
    "Send the contract draft",
    "安排技术交流",
];

const LOST_NOTES: &[&str] = &[
    "对方选择了更便宜的方案",
    "Budget moved to next year",
    "项目暂停",
    "Went with their incumbent vendor",
];

/// Products and their unit prices in yuan.
const PRODUCTS: &[(&str, i64)] = &[
    ("工业传感器 S200", 1_280),
    ("Barcode scanner X5", 860),
    ("激光打印机硒鼓", 420),
    ("Industrial router R8", 3_600),
    ("年度维保服务", 12_000),
    ("On-site training day", 6_800),
    ("服务器内存 64GB", 2_150),
    ("Label printer L40", 2_900),
    ("软件许可（年）", 18_000),
    ("Spare parts kit", 540),
];

const ORDER_NOTES: &[&str] = &[
    "请在工作日送货",
    "Deliver to the Suzhou warehouse",
    "发票抬头见合同",
    "Partial delivery accepted",
];

const TICKET_CATEGORIES: &[(TicketCategory, u32)] = &[
    (TicketCategory::Inquiry, 40),
    (TicketCategory::Request, 30),
    (TicketCategory::Incident, 20),
    (TicketCategory::Complaint, 10),
];

const TICKET_PRIORITIES: &[(TicketPriority, u32)] = &[
    (TicketPriority::Low, 20),
    (TicketPriority::Normal, 50),
    (TicketPriority::High, 22),
    (TicketPriority::Urgent, 8),
];

/// Tickets older than two weeks: almost all done.
const OLD_TICKET_STATUSES: &[(TicketStatus, u32)] = &[
    (TicketStatus::Closed, 76),
    (TicketStatus::Resolved, 20),
    (TicketStatus::Open, 2),
    (TicketStatus::Pending, 1),
    (TicketStatus::Reopened, 1),
];

/// The last two weeks' tickets: many still being worked.
const NEW_TICKET_STATUSES: &[(TicketStatus, u32)] = &[
    (TicketStatus::New, 15),
    (TicketStatus::Open, 25),
    (TicketStatus::Pending, 15),
    (TicketStatus::Resolved, 30),
    (TicketStatus::Closed, 15),
];

const SUBJECTS: &[(TicketCategory, &[&str])] = &[
    (
        TicketCategory::Inquiry,
        &[
            "咨询产品保修政策",
            "Question about the invoice",
            "询问发货进度",
            "How to export the usage report",
        ],
    ),
    (
        TicketCategory::Request,
        &[
            "申请开具增值税专用发票",
            "Add a user to our account",
            "更改收货地址",
            "Request for on-site training",
        ],
    ),
    (
        TicketCategory::Incident,
        &[
            "设备无法开机",
            "Scanner stops after an update",
            "打印机频繁卡纸",
            "Router drops the connection",
        ],
    ),
    (
        TicketCategory::Complaint,
        &[
            "送货延迟投诉",
            "Wrong items delivered",
            "售后响应太慢",
            "Charged twice for one order",
        ],
    ),
];

const TICKET_TEXTS: &[&str] = &[
    "客户来电反映问题，已记录设备序列号，等待技术支持回复。",
    "The customer attached photos of the damaged parcel and asks for a replacement.",
    "问题自上周五开始出现，重启后仍然存在。",
    "They need this fixed before their audit at the end of the month.",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn generator(seed: u64) -> Generator {
        let anchor = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::days(20_000);
        let mut rng = StdRng::seed_from_u64(1);
        let accounts = (0..200)
            .map(|i| Account {
                id: uuid_at(&mut rng, anchor - TimeDelta::days(i * 5)),
                owner: Some(Uuid::from_u128(7)),
                created_at: anchor - TimeDelta::days(i * 5),
                grade: Grade::Standard,
                lead: i % 10 == 0,
            })
            .collect();
        let stage = |name: &str, p: i64, kind| Stage {
            id: Uuid::from_u128(u128::from(p.unsigned_abs()) + 100),
            name: Title::parse(name).unwrap(),
            probability: Probability::new(p).unwrap(),
            kind,
        };
        let pipeline = Pipeline {
            id: Uuid::from_u128(1),
            name: Title::parse("Sales").unwrap(),
            is_default: true,
            stages: vec![
                stage("Qualification", 10, StageKind::Open),
                stage("Proposal", 50, StageKind::Open),
                stage("Won", 100, StageKind::Won),
                stage("Lost", 0, StageKind::Lost),
            ],
            created_at: anchor,
            updated_at: anchor,
            version: 1,
        };
        let range = (anchor - TimeDelta::days(365), anchor);
        Generator::new(seed, anchor, range, accounts, pipeline, Vec::new()).unwrap()
    }

    fn all(g: &mut Generator) -> Vec<Batch> {
        let mut out = Vec::new();
        let v = Volumes {
            activities: 400,
            opportunities: 300,
            orders: 100,
            tickets: 300,
        };
        g.run(v, |b| {
            out.push(b);
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn records_are_valid_and_repeat() {
        let mut g = generator(3);
        let batches = all(&mut g);
        let mut numbers = Vec::new();
        for b in &batches {
            match b {
                Batch::Orders(orders) => {
                    for o in orders {
                        assert_eq!(Totals::of(&o.lines, o.currency).unwrap(), o.totals);
                        for line in &o.lines {
                            assert_eq!(line.restored(o.currency).unwrap(), *line);
                        }
                        numbers.push((o.ordered_at, o.number.clone()));
                    }
                }
                Batch::Tickets(tickets) => {
                    for t in tickets {
                        assert!(t.first_responded_at.is_none_or(|r| r >= t.created_at));
                        assert!(t.resolved_at.is_none_or(|r| r < g.anchor));
                        assert_eq!(t.status.is_active(), t.resolved_at.is_none());
                    }
                }
                Batch::Opportunities(opps) => {
                    for o in opps {
                        assert_eq!(o.closed_at.is_some(), o.status != OpportunityStatus::Open);
                        assert!(o.status != OpportunityStatus::Won || o.amount.is_some());
                        assert!(o.status != OpportunityStatus::Lost || o.lost_reason.is_some());
                    }
                }
                Batch::Activities(_) => {}
            }
        }
        // Numbered in the order placed, without gaps per year.
        let sorted = numbers.windows(2).all(|w| w[0].1 < w[1].1);
        assert!(sorted, "{numbers:?}");
        assert!(g.facts.opportunities_created > 0 && g.facts.tickets > 0);
        let again = all(&mut generator(3));
        assert_eq!(again.len(), batches.len());
        let ids = |bs: &[Batch]| -> Vec<Uuid> {
            bs.iter()
                .flat_map(|b| match b {
                    Batch::Activities(v) => v.iter().map(|r| r.id).collect::<Vec<_>>(),
                    Batch::Opportunities(v) => v.iter().map(|r| r.id).collect(),
                    Batch::Orders(v) => v.iter().map(|r| r.id).collect(),
                    Batch::Tickets(v) => v.iter().map(|r| r.id).collect(),
                })
                .collect()
        };
        assert_eq!(ids(&again), ids(&batches));
    }
}
