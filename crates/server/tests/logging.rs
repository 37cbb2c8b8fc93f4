//! What operators read: with `RAPPORT_LOG_FORMAT=json`, a request that fails inside a handler
//! leaves one JSON line naming the request, its route and caller, and the error's causes; and
//! no secret reaches the log. Runs on SQLite and PostgreSQL.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{Db, Rapport, http, me, sign_in};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

both!(a_failure_in_a_handler_is_logged_once_with_its_request_and_causes);

const ADMIN_EMAIL: &str = "boss@rapport.test";
const ADMIN_PASSWORD: &str = "admin-password-never-logged";
const JWT_SECRET: &str = "jwt-secret-never-logged-0123456789abcdef";
const ENCRYPTION_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";

async fn a_failure_in_a_handler_is_logged_once_with_its_request_and_causes(db: Db) {
    let mut server = Rapport::serve(
        &db,
        &[
            ("RAPPORT_LOG_FORMAT", "json"),
            ("RAPPORT_ADMIN_EMAIL", ADMIN_EMAIL),
            ("RAPPORT_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("RAPPORT_JWT_SECRET", JWT_SECRET),
            ("RAPPORT_ENCRYPTION_KEY", ENCRYPTION_KEY),
        ],
    )
    .await;
    let base = server.base.clone();
    let token = sign_in(&base, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let created = http()
        .post(format!("{base}/v1/customers"))
        .bearer_auth(&token)
        .json(&json!({"name": "Corrupted Co"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let customer: Value = created.json().await.unwrap();
    let admin_id = me(&base, &token).await["id"].clone();

    // A stored value the store cannot read back: an internal error from inside the handler.
    corrupt_lifecycle_stage(&db, "Corrupted Co").await;
    let response = http()
        .get(format!(
            "{base}/v1/customers/{}",
            customer["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "internal_error");
    assert_eq!(problem["request_id"], request_id.as_str());
    assert!(
        !problem.to_string().contains("lifecycle_stage"),
        "the answer tells nothing of the cause: {problem}"
    );

    // Stopping waits for the exit and reads stderr to its end: the whole log.
    server.stop().await;
    let stderr = server.stderr();
    let lines: Vec<Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();

    let failures: Vec<&Value> = lines
        .iter()
        .filter(|line| line["level"] == "ERROR")
        .collect();
    assert_eq!(failures.len(), 1, "one line for one failure:\n{stderr}");
    let failure = failures[0];
    let span = &failure["span"];
    assert_eq!(span["request_id"], request_id.as_str(), "{failure}");
    assert_eq!(span["route"], "/v1/customers/{id}", "{failure}");
    assert_eq!(span["method"], "GET", "{failure}");
    assert_eq!(span["user_id"], admin_id, "{failure}");
    assert_eq!(span["role"], "admin", "{failure}");
    assert_eq!(failure["fields"]["status"], 500, "{failure}");
    let chain = failure["fields"]["error"].as_str().unwrap();
    for cause in [
        "querying the database: ",
        "database error: ",
        "customers.lifecycle_stage",
    ] {
        assert!(chain.contains(cause), "{cause} in {chain}");
    }
    let mentions = stderr.matches("customers.lifecycle_stage").count();
    assert_eq!(mentions, 1, "logged once:\n{stderr}");

    let whole_log = format!("{}{stderr}", server.seen.concat());
    for secret in [ADMIN_PASSWORD, JWT_SECRET, ENCRYPTION_KEY, token.as_str()] {
        assert!(
            !whole_log.contains(secret),
            "{secret} in the log:\n{whole_log}"
        );
    }
}

/// Writes a lifecycle stage that no version of Rapport knows, behind the server's back.
async fn corrupt_lifecycle_stage(db: &Db, name: &str) {
    let url = db
        .url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rw", db.dir.join("rapport.db").display()));
    let conn = Database::connect(url).await.unwrap();
    let updated = conn
        .execute_unprepared(&format!(
            "UPDATE customers SET lifecycle_stage = 'no-such-stage' WHERE name = '{name}'"
        ))
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 1);
    conn.close().await.unwrap();
}
