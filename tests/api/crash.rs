//! A killed process loses nothing it acknowledged: the server is killed (`SIGKILL`) while
//! sixteen clients create customers (every fourth invalid), then started again on the same
//! database. Every customer answered 201 is there, whole; none answered with a refusal is; a
//! request the kill cut off may have gone either way. On SQLite and PostgreSQL.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rapport_tests::process::{admin_token, start_server, wait_ready};
use rapport_tests::{TempDir, pg};
use serde_json::{Value, json};

/// What became of one create.
#[derive(Debug)]
enum Outcome {
    Created { id: String, name: String },
    Refused { status: u16, name: String },
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_writes_loses_no_acknowledged_write_on_sqlite() {
    let dir = TempDir::new();
    kill_during_writes(None, &dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_writes_loses_no_acknowledged_write_on_postgres() {
    let db = pg::TestDatabase::create().await;
    let dir = TempDir::new();
    kill_during_writes(Some(&db.url), &dir).await;
    db.drop_now().await;
}

async fn kill_during_writes(database_url: Option<&str>, dir: &TempDir) {
    let probe = env!("CARGO_BIN_EXE_rapport-job-probe");
    let (mut server, port) = start_server(probe, database_url, &dir.0);
    wait_ready(port).await;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let token = admin_token(&http, &base).await;

    // Sixteen writers until the server goes away under them.
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let acknowledged = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            let (outcomes, acknowledged) = (outcomes.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let name = format!("Durable {w}-{i} Ltd");
                    // Every fourth is refused (422): it must leave nothing behind.
                    let website = if i % 4 == 3 {
                        "not a web address"
                    } else {
                        "https://durable.example.com/"
                    };
                    let sent = http
                        .post(format!("{base}/v1/customers?allow_duplicate=true"))
                        .bearer_auth(&token)
                        .json(&json!({"name": name, "tags": ["durable"], "website": website}))
                        .send()
                        .await;
                    let Ok(response) = sent else { break };
                    let status = response.status().as_u16();
                    let Ok(body) = response.json::<Value>().await else {
                        break;
                    };
                    let outcome = if status == 201 {
                        acknowledged.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        Outcome::Created {
                            id: body["id"].as_str().unwrap().to_owned(),
                            name,
                        }
                    } else {
                        Outcome::Refused { status, name }
                    };
                    outcomes.lock().unwrap().push(outcome);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.load(std::sync::atomic::Ordering::SeqCst) < 100 {
        assert!(Instant::now() < deadline, "the writes did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    for writer in writers {
        writer.await.unwrap();
    }

    let (mut server, port) = start_server(probe, database_url, &dir.0);
    wait_ready(port).await;
    let base = format!("http://127.0.0.1:{port}");
    let token = admin_token(&http, &base).await;
    let stored = names_of_every_customer(&http, &base, &token).await;
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let mut created = 0;
    for outcome in outcomes.iter() {
        match outcome {
            Outcome::Created { id, name } => {
                created += 1;
                let reply = http
                    .get(format!("{base}/v1/customers/{id}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(reply.status(), 200, "acknowledged customer {id} is gone");
                let customer: Value = reply.json().await.unwrap();
                assert_eq!(customer["name"], name.as_str());
                assert_eq!(customer["tags"], json!(["durable"]), "{customer}");
            }
            Outcome::Refused { status, name } => {
                assert!(
                    !stored.contains(name),
                    "{name} was refused ({status}) yet stored"
                );
            }
        }
    }
    assert!(created >= 100, "only {created} writes were acknowledged");
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Outcome::Refused { status: 422, .. })),
        "no write was refused"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

/// The names of every customer, walking the list.
async fn names_of_every_customer(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> HashSet<String> {
    let mut names = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/customers?limit=200&tag=durable");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for customer in page["data"].as_array().unwrap() {
            names.insert(customer["name"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return names,
        }
    }
}
