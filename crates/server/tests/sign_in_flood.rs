//! A flood of concurrent sign-ins against the real `rapport` process: password hashing stays
//! bounded, so the server's memory does too. Runs on SQLite and PostgreSQL.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Db, Rapport, http};
use serde_json::json;

both!(concurrent_guesses_keep_hashing_and_memory_bounded);

/// Peak RSS allowed to the server through the flood (issue: 3 GB before the bound).
const FIRST_ADMIN: &str = "admin@rapport.local";
const PEAK_RSS_LIMIT_KIB: u64 = 200 * 1024;

/// 200 concurrent guesses, each for another unknown account from another client address (so
/// the per-address and per-account limits let every one of them through to argon2).
async fn concurrent_guesses_keep_hashing_and_memory_bounded(db: Db) {
    let mut server = Rapport::serve(&db, &[("RAPPORT_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let password = server.one_time_password().await;
    let base = server.base.clone();
    let guesses: Vec<_> = (0..200u32)
        .map(|i| {
            let [_, _, a, b] = i.to_be_bytes();
            let request = http()
                .post(format!("{base}/v1/auth/token"))
                .header("x-forwarded-for", format!("198.51.{a}.{b}"))
                .json(&json!({
                    "grant_type": "password",
                    "username": format!("nobody{i}@rapport.test"),
                    "password": "guess-guess-guess",
                }));
            tokio::spawn(async move {
                let reply = request.send().await.unwrap();
                let retry_after = reply.headers().get("retry-after").cloned();
                (reply.status().as_u16(), retry_after)
            })
        })
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let (base, done) = (base.clone(), done.clone());
        async move {
            let mut most = 0;
            while !done.load(Ordering::Relaxed) {
                most = most.max(hashes_in_flight(&base).await);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            most
        }
    });
    let mut statuses = BTreeMap::<u16, usize>::new();
    for guess in guesses {
        let (status, retry_after) = guess.await.unwrap();
        if status == 503 {
            assert_eq!(retry_after.unwrap(), "1");
        }
        *statuses.entry(status).or_default() += 1;
    }
    done.store(true, Ordering::Relaxed);
    let most_in_flight = sampler.await.unwrap();

    assert!(
        statuses.keys().all(|s| [401, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(
        statuses.get(&401).copied().unwrap_or(0) >= 2,
        "{statuses:?}"
    );
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    assert!(most_in_flight <= cores, "{most_in_flight} hashes at once");
    let peak = peak_rss_kib(&server);
    println!(
        "statuses {statuses:?}; at most {most_in_flight} hashes at once; peak RSS {} MiB",
        peak / 1024
    );
    assert!(
        peak < PEAK_RSS_LIMIT_KIB,
        "peak RSS {} MiB; {statuses:?}",
        peak / 1024
    );
    // The server still answers, and the right password of a real account still works.
    common::me(&base, &common::sign_in(&base, FIRST_ADMIN, &password).await).await;
}

/// `rapport_password_hashes_in_flight` from `/metrics`.
async fn hashes_in_flight(base: &str) -> usize {
    let text = http()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("rapport_password_hashes_in_flight "))
        .unwrap()
        .parse()
        .unwrap()
}

/// The server process's peak resident memory (`VmHWM`), in KiB.
fn peak_rss_kib(server: &Rapport) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
