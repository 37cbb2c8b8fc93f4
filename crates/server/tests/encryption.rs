//! Encryption at rest: registration numbers (and kept idempotent answers) never reach the
//! database in plaintext, are still found by search and duplicate checks, and `rapport
//! rotate-key` moves them to a new key. Runs on SQLite and PostgreSQL.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{Db, Rapport, http, sign_in};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

both!(registration_numbers_are_encrypted_at_rest_and_keys_rotate);

const NUMBER: &str = "91350100M000100Y43";
const KEY_A: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const KEY_B: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
const ADMIN: (&str, &str) = ("boss@rapport.test", "correct horse battery");

fn env(key: &'static str, old: Option<&'static str>) -> Vec<(&'static str, &'static str)> {
    let mut env = vec![
        ("RAPPORT_ADMIN_EMAIL", ADMIN.0),
        ("RAPPORT_ADMIN_PASSWORD", ADMIN.1),
        ("RAPPORT_ENCRYPTION_KEY", key),
    ];
    env.extend(old.map(|old| ("RAPPORT_ENCRYPTION_OLD_KEYS", old)));
    env
}

async fn call(
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http()
        .request(method, format!("{base}{path}"))
        .bearer_auth(token)
        .header("Idempotency-Key", uuid::Uuid::now_v7().to_string());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap_or_default())
}

/// Searches by the number and tries a duplicate: both must find the customer `id`.
async fn found_by_its_number(base: &str, token: &str, id: &str) {
    let (status, page) = call(
        base,
        token,
        reqwest::Method::GET,
        &format!("/v1/customers?q={NUMBER}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["data"][0]["id"], json!(id), "{page}");
    assert_eq!(page["data"][0]["registration_number"], NUMBER);
    let (status, refused) = call(
        base,
        token,
        reqwest::Method::POST,
        "/v1/customers",
        Some(json!({"name": "Copycat Lanterns", "country": "CN", "registration_number": NUMBER})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["duplicate_ids"], json!([id]));
}

/// Everything the database holds, as text: the SQLite files' bytes, or PostgreSQL's rows.
async fn stored_text(db: &Db) -> String {
    match &db.url {
        None => ["rapport.db", "rapport.db-wal"]
            .iter()
            .filter_map(|f| std::fs::read(db.dir.join(f)).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect(),
        Some(url) => {
            let conn = Database::connect(url).await.unwrap();
            let mut text = String::new();
            for table in [
                "customers",
                "customer_keys",
                "customer_terms",
                "audit_events",
                "idempotency_keys",
            ] {
                let rows = conn
                    .query_all(Statement::from_string(
                        conn.get_database_backend(),
                        format!("SELECT row_to_json(t)::text AS row FROM {table} t"),
                    ))
                    .await
                    .unwrap();
                for row in rows {
                    text.push_str(&row.try_get::<String>("", "row").unwrap());
                }
            }
            conn.close().await.unwrap();
            text
        }
    }
}

async fn registration_numbers_are_encrypted_at_rest_and_keys_rotate(db: Db) {
    let mut server = Rapport::serve(&db, &env(KEY_A, None)).await;
    let token = sign_in(&server.base, ADMIN.0, ADMIN.1).await;
    let (status, created) = call(
        &server.base,
        &token,
        reqwest::Method::POST,
        "/v1/customers",
        Some(
            json!({"name": "Qilin Lantern Works", "country": "CN", "registration_number": NUMBER}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["registration_number"], NUMBER);
    let id = created["id"].as_str().unwrap().to_owned();
    found_by_its_number(&server.base, &token, &id).await;
    server.stop().await;

    let stored = stored_text(&db).await;
    assert!(
        stored.contains("Qilin Lantern Works"),
        "the scan reads the data"
    );
    for plain in [NUMBER, &NUMBER.to_lowercase()] {
        assert!(!stored.contains(plain), "{plain} is stored in plaintext");
    }

    // A new key, with the old one to read what it sealed.
    let rotated = Rapport::run(&db, &["rotate-key"], &env(KEY_B, Some(KEY_A))).await;
    assert!(
        rotated.status.success(),
        "{}\n{}",
        rotated.stdout,
        rotated.stderr
    );
    assert!(
        rotated.stdout.contains("1 registration numbers"),
        "{}",
        rotated.stdout
    );
    let again = Rapport::run(&db, &["rotate-key"], &env(KEY_B, Some(KEY_A))).await;
    assert!(
        again.stdout.contains("0 registration numbers"),
        "{}",
        again.stdout
    );

    // The old key is gone: what it sealed is all under the new one, and still found.
    let mut server = Rapport::serve(&db, &env(KEY_B, None)).await;
    let token = sign_in(&server.base, ADMIN.0, ADMIN.1).await;
    let (status, customer) = call(
        &server.base,
        &token,
        reqwest::Method::GET,
        &format!("/v1/customers/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(customer["registration_number"], NUMBER);
    found_by_its_number(&server.base, &token, &id).await;
    server.stop().await;
    assert!(!stored_text(&db).await.contains(NUMBER));
}
