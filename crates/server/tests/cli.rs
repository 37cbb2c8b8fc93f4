//! The real `rapport` binary as a child process: the banner and first admin, signals, restarts,
//! configuration errors and the subcommands. Tests that use a database run on SQLite and
//! PostgreSQL (`<name>::sqlite`, `<name>::postgres`).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::{Db, ONE_TIME_PASSWORD, PATIENCE, Rapport, eventually, http, me, sign_in};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

const FIRST_ADMIN: &str = "admin@rapport.local";
const ADMIN_ENV: &[(&str, &str)] = &[
    ("RAPPORT_ADMIN_EMAIL", "boss@rapport.test"),
    ("RAPPORT_ADMIN_PASSWORD", "correct horse battery"),
];

both!(
    serve_prints_the_admin_password_and_the_token_works,
    admin_from_environment_prints_no_password,
    restart_keeps_data_and_tokens,
    sigterm_finishes_in_flight_requests,
    migrate_then_create_user,
    two_instances_migrate_at_once,
    the_data_folder_is_private,
    reindex_rebuilds_an_outdated_search_index,
);

async fn serve_prints_the_admin_password_and_the_token_works(db: Db) {
    let mut server = Rapport::serve(&db, &[]).await;
    let password = server.one_time_password().await;
    let base = server.base.clone();
    let banner = server.seen.concat();
    for path in ["/v1", "/docs", "/openapi.json"] {
        assert!(banner.contains(&format!(" {base}{path}\n")), "{banner}");
    }
    assert!(server.printed(&format!("Created the first admin: {FIRST_ADMIN}")));
    for path in ["/docs", "/openapi.json"] {
        let response = http().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    }

    let me = me(&base, &sign_in(&base, FIRST_ADMIN, &password).await).await;
    assert_eq!(me["role"], "admin");
    assert_eq!(me["email"], FIRST_ADMIN);
    assert_eq!(me["must_change_password"], true);

    server.stop().await;
    let logs = server.stderr();
    assert!(
        logs.contains("/v1/auth/token"),
        "requests are logged:\n{logs}"
    );
    assert!(!logs.contains(&password), "{logs}");
}

async fn admin_from_environment_prints_no_password(db: Db) {
    let mut server = Rapport::serve(&db, ADMIN_ENV).await;
    let token = sign_in(&server.base, ADMIN_ENV[0].1, ADMIN_ENV[1].1).await;
    let me = me(&server.base, &token).await;
    assert_eq!(me["role"], "admin");
    assert_eq!(me["must_change_password"], false);

    server.stop().await;
    server.assert_not_printed(ONE_TIME_PASSWORD);
    let output = server.output();
    assert!(!output.contains(ADMIN_ENV[1].1), "{output}");
}

async fn restart_keeps_data_and_tokens(db: Db) {
    let mut first = Rapport::serve(&db, &[]).await;
    let password = first.one_time_password().await;
    let token = sign_in(&first.base, FIRST_ADMIN, &password).await;
    first.stop().await;

    let mut second = Rapport::serve(&db, &[]).await;
    assert_eq!(me(&second.base, &token).await["email"], FIRST_ADMIN);
    sign_in(&second.base, FIRST_ADMIN, &password).await;
    second.stop().await;
    second.assert_not_printed("Created the first admin");
    second.assert_not_printed(ONE_TIME_PASSWORD);
}

async fn the_data_folder_is_private(mut db: Db) {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    db.dir = db.dir.join("private");
    let mut server = Rapport::serve(&db, ADMIN_ENV).await;
    server.stop().await;
    assert_eq!(mode(&db.dir), 0o700);
    let secret = db.dir.join("jwt_secret");
    assert_eq!(mode(&secret), 0o600);
    if db.url.is_none() {
        for file in ["rapport.db", "rapport.db-wal", "rapport.db-shm"] {
            let path = db.dir.join(file);
            if file == "rapport.db" || path.exists() {
                assert_eq!(mode(&path), 0o600, "{file}");
            }
        }
    }
    server.assert_not_printed("readable by other users");
    assert!(!server.stderr().contains("readable by other users"));

    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut again = Rapport::serve(&db, ADMIN_ENV).await;
    again.stop().await;
    let logs = again.stderr();
    assert!(
        logs.contains("readable by other users") && logs.contains("jwt_secret"),
        "{logs}"
    );
}

async fn sigterm_finishes_in_flight_requests(db: Db) {
    let env = [ADMIN_ENV, &[("RAPPORT_WORKERS", "4")]].concat();
    let mut server = Rapport::serve(&db, &env).await;
    let token = sign_in(&server.base, ADMIN_ENV[0].1, ADMIN_ENV[1].1).await;
    // As under load, every worker opens pooled connections of its own (each call is a new
    // connection, and the server hands connections to its workers in turn). The in-flight
    // request below then takes some the other workers opened, after those have stopped.
    let calls = (0..40).map(|_| me(&server.base, &token));
    futures_util::future::join_all(calls).await;
    let address = server.base["http://".len()..].to_owned();
    // Sent by hand, to know when the server has the request: it answers `100 Continue` once
    // it has read the head and handed the request to the app.
    let (head, tail) = (r#"{"name": "slow"#, r#" team"}"#);
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let request = format!(
        "POST /v1/teams HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\
         Connection: close\r\n\r\n",
        head.len() + tail.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let interim = read_head(&mut stream).await;
    assert!(interim.starts_with("HTTP/1.1 100 "), "{interim}");
    stream.write_all(head.as_bytes()).await.unwrap();

    server.sigterm();
    // The shutdown has begun once new connections are refused.
    let refusing = eventually(async || TcpStream::connect(&address).await.is_err()).await;
    assert!(
        refusing,
        "still accepting after SIGTERM\n{}",
        server.output()
    );
    stream.write_all(tail.as_bytes()).await.unwrap();
    let mut answer = String::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_string(&mut answer)).await;
    assert!(
        read.is_ok_and(|r| r.is_ok()),
        "{answer}\n{}",
        server.output()
    );
    let (status, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    assert!(
        status.starts_with("HTTP/1.1 201 "),
        "{answer}\n{}",
        server.output()
    );
    let team: Value = serde_json::from_str(body).unwrap();
    assert_eq!(team["name"], "slow team");
    let exit = server.wait().await;
    assert!(exit.success(), "{exit}\n{}", server.output());
}

/// Reads one response head (the status line and headers) from `stream`.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        let read = tokio::time::timeout(PATIENCE, stream.read_exact(&mut byte)).await;
        assert!(
            read.is_ok_and(|r| r.is_ok()),
            "no answer: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

async fn migrate_then_create_user(db: Db) {
    let migrated = Rapport::run(&db, &["migrate"], &[]).await;
    assert!(migrated.status.success(), "{migrated:?}");

    let command = "create-user --email x@rapport.test --name X --role sales_rep";
    let created = Rapport::run(&db, &command.split(' ').collect::<Vec<_>>(), &[]).await;
    assert!(created.status.success(), "{created:?}");
    let password = (created.stdout.lines())
        .find_map(|line| line.trim_start().strip_prefix(ONE_TIME_PASSWORD))
        .unwrap_or_else(|| panic!("no one-time password: {created:?}"));

    let mut server = Rapport::serve(&db, &[]).await;
    let token = sign_in(&server.base, "x@rapport.test", password).await;
    assert_eq!(me(&server.base, &token).await["role"], "sales_rep");
    server.stop().await;
    server.assert_not_printed("Created the first admin");
}

async fn two_instances_migrate_at_once(db: Db) {
    let (one, two) = tokio::join!(
        Rapport::run(&db, &["migrate"], &[]),
        Rapport::run(&db, &["migrate"], &[])
    );
    for finished in [one, two] {
        assert!(finished.status.success(), "{finished:?}");
        assert!(finished.stdout.contains("up to date"), "{finished:?}");
    }
    let again = Rapport::run(&db, &["migrate"], &[]).await;
    assert!(again.status.success(), "{again:?}");
}

/// Empties the search index and marks it as built by an older version, as a database from
/// before pinyin search looks to this one.
async fn outdate_search_index(db: &Db) {
    use sea_orm::ConnectionTrait;
    let url = db
        .url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", db.dir.join("rapport.db").display()));
    let conn = sea_orm::Database::connect(url).await.unwrap();
    let empty = match conn.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "UPDATE customer_terms SET terms = ''::tsvector",
        _ => "DELETE FROM customer_search",
    };
    conn.execute_unprepared(empty).await.unwrap();
    conn.execute_unprepared("UPDATE search_index SET version = 0")
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// Ids of the customers `q` finds.
async fn search(base: &str, token: &str, q: &str) -> Vec<String> {
    let response = http()
        .get(format!("{base}/v1/customers"))
        .query(&[("q", q)])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// An index built by an older version is rebuilt by `rapport reindex`, and by the server
/// by itself at its start.
async fn reindex_rebuilds_an_outdated_search_index(db: Db) {
    let mut server = Rapport::serve(&db, ADMIN_ENV).await;
    let token = sign_in(&server.base, ADMIN_ENV[0].1, ADMIN_ENV[1].1).await;
    let created = http()
        .post(format!("{}/v1/customers", server.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "深圳张氏科技有限公司"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        search(&server.base, &token, "zhangshi").await,
        vec![id.clone()]
    );
    server.stop().await;

    outdate_search_index(&db).await;
    let reindexed = Rapport::run(&db, &["reindex"], ADMIN_ENV).await;
    assert!(reindexed.status.success(), "{reindexed:?}");
    assert!(
        reindexed.stdout.contains("Reindexed 1 customers"),
        "{reindexed:?}"
    );
    assert!(
        !reindexed.stderr.contains('\u{1b}'),
        "no progress bar off a terminal: {reindexed:?}"
    );
    let mut server = Rapport::serve(&db, ADMIN_ENV).await;
    assert_eq!(
        search(&server.base, &token, "zhangshi").await,
        vec![id.clone()]
    );
    server.stop().await;
    assert!(!server.stderr().contains("search index: rebuilding"));

    outdate_search_index(&db).await;
    let mut server = Rapport::serve(&db, ADMIN_ENV).await;
    let base = server.base.clone();
    assert!(
        eventually(async || search(&base, &token, "szzs").await == [id.clone()]).await,
        "the server rebuilds the index at start"
    );
    // The last batch's terms are found a moment before the rebuild records its version and
    // says so: wait for that, as a stop would cut it short.
    assert!(
        eventually(async || server.stderr().contains("search index: rebuilt")).await,
        "{}",
        server.output()
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_configuration_exits_2_naming_the_variable() {
    let db = Db::unused();
    let secret = "tooshort-s3cr3t";
    let cases = [("RAPPORT_BIND", "nowhere"), ("RAPPORT_JWT_SECRET", secret)];
    for (name, value) in cases {
        let run = Rapport::run(&db, &["serve"], &[(name, value)]).await;
        assert_eq!(run.status.code(), Some(2), "{run:?}");
        assert!(run.stderr.contains(name), "{run:?}");
        assert!(!run.stderr.contains(secret), "{run:?}");
    }

    let dir = std::env::temp_dir().join(format!("rapport-cli-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rapport.toml");
    std::fs::write(&file, "bnid = \"0.0.0.0:9000\"\n").unwrap();
    let run = Rapport::run(&db, &["--config", file.to_str().unwrap(), "serve"], &[]).await;
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(run.status.code(), Some(2), "{run:?}");
    assert!(run.stderr.contains("bnid"), "{run:?}");
    assert!(
        !db.dir.exists(),
        "nothing is made before the settings are valid"
    );
}

#[tokio::test]
async fn help_documents_every_subcommand() {
    let db = Db::unused();
    let help = Rapport::run(&db, &["--help"], &[]).await;
    assert!(help.status.success(), "{help:?}");
    for command in ["serve", "migrate", "openapi", "create-user"] {
        let listed = help.stdout.contains(&format!("\n  {command} "));
        assert!(listed, "{command} is not listed:\n{}", help.stdout);
    }
    let serve = Rapport::run(&db, &["serve", "--help"], &[]).await;
    assert!(serve.status.success(), "{serve:?}");
    for variable in ["RAPPORT_BIND", "DATABASE_URL"] {
        assert!(serve.stdout.contains(variable), "{}", serve.stdout);
    }
}

#[tokio::test]
async fn openapi_subcommand_prints_the_committed_document() {
    let printed = Rapport::run(&Db::unused(), &["openapi"], &[]).await;
    assert!(printed.status.success(), "{}", printed.stderr);
    // Read now, not at build time: the document may be regenerated meanwhile.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap();
    if printed.stdout != committed {
        let same = printed.stdout.lines().zip(committed.lines());
        let line = same.take_while(|(a, b)| a == b).count() + 1;
        panic!("`rapport openapi` differs from openapi/openapi.json at line {line}");
    }
}
