//! Seeding through the store: owners with `users::insert`, then customers with their
//! contacts with `customers::insert_batch`, one transaction per batch. Generation runs on its
//! own thread, one batch ahead of the database.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rapport_domain::auth::Role;
use rapport_domain::email::Email;
use rapport_domain::name::PersonName;
use rapport_store::Store;
use rapport_store::repos::customers;
use rapport_store::repos::users::{self, NewUser};
use uuid::Uuid;

use crate::data::{GenStats, Generator, Sample};

/// Customers per transaction.
const TX_CUSTOMERS: usize = 5_000;
/// Progress is printed every this many customers.
const PROGRESS_EVERY: u64 = 100_000;
const OWNERS: usize = 50;

/// What seeding made and how long it took.
pub struct Seeded {
    pub stats: GenStats,
    pub samples: Vec<Sample>,
    pub elapsed: Duration,
    /// Time spent waiting for the generator (the rest is the database).
    pub waiting: Duration,
}

impl Seeded {
    pub fn per_second(&self) -> f64 {
        self.stats.customers as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Creates the owners; their ids.
async fn owners(store: &Store, seed: u64, now: DateTime<Utc>) -> anyhow::Result<Vec<Uuid>> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x6f77_6e65_7273);
    let tx = store.begin().await?;
    let mut ids = Vec::with_capacity(OWNERS);
    for i in 1..=OWNERS {
        let id = uuid::Builder::from_random_bytes(rng.r#gen()).into_uuid();
        let email = Email::parse(&format!("owner{i:02}@bench.rapport.example"))
            .map_err(|e| anyhow::anyhow!("owner email: {e:?}"))?;
        let name = PersonName::parse(&format!("Owner {i:02}"))
            .map_err(|e| anyhow::anyhow!("owner name: {e:?}"))?;
        let user = users::insert(
            &tx,
            NewUser {
                id,
                email,
                name,
                role: Role::SalesRep,
                team_id: None,
                password_hash: "bench-placeholder-not-a-password-hash".to_owned(),
                one_time_until: None,
            },
            now,
        )
        .await?;
        ids.push(user.id);
    }
    rapport_store::commit(tx).await?;
    Ok(ids)
}

/// Seeds `count` customers made from `seed`, keeping about `keep` of them as samples.
///
/// # Errors
/// A database failure, or the generator thread died.
pub async fn seed(
    store: &Store,
    label: &str,
    count: u64,
    seed: u64,
    keep: u64,
    anchor: DateTime<Utc>,
) -> anyhow::Result<Seeded> {
    let start = Instant::now();
    let owner_ids = owners(store, seed, anchor).await?;
    let mut generator = Generator::new(seed, anchor, owner_ids, count / keep.max(1))?;
    let (sender, mut receiver) = tokio::sync::mpsc::channel(2);
    let producer = std::thread::spawn(move || {
        let mut left = count;
        while left > 0 {
            let n = usize::try_from(left)
                .unwrap_or(TX_CUSTOMERS)
                .min(TX_CUSTOMERS);
            if sender.blocking_send(generator.batch(n)).is_err() {
                break;
            }
            left -= n as u64;
        }
        (generator.stats, generator.samples)
    });

    let mut done = 0u64;
    let mut waiting = Duration::ZERO;
    loop {
        let wait = Instant::now();
        let Some(batch) = receiver.recv().await else {
            break;
        };
        waiting += wait.elapsed();
        let tx = store.begin().await?;
        customers::insert_batch(&tx, &batch)
            .await
            .with_context(|| format!("inserting customers {}..", done + 1))?;
        rapport_store::commit(tx).await?;
        let before = done;
        done += batch.len() as u64;
        if done / PROGRESS_EVERY > before / PROGRESS_EVERY || done == count {
            let secs = start.elapsed().as_secs_f64();
            println!(
                "  {label}: {done:>9} customers seeded  ({secs:7.1} s, {:>6.0} customers/s)",
                done as f64 / secs.max(f64::EPSILON)
            );
        }
    }
    // As a bulk import would: the duplicate groups once, after the load.
    let tx = store.begin().await?;
    customers::rebuild_groups(&tx).await?;
    rapport_store::commit(tx).await?;
    let (stats, samples) = producer
        .join()
        .map_err(|_| anyhow::anyhow!("the generator thread panicked"))?;
    anyhow::ensure!(done == count, "seeded {done} customers instead of {count}");
    Ok(Seeded {
        stats,
        samples,
        elapsed: start.elapsed(),
        waiting,
    })
}
