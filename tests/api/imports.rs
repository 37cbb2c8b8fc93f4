//! CSV imports: `POST /v1/imports/customers` takes a file and its column mapping, imports the
//! good rows in the background and reports each bad one (`GET /v1/imports/{id}`, `/errors`);
//! `rapport import` does the same from the command line.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rapport_server::import_client::{self, ImportRequest};
use rapport_tests::{Reply, TestApp, backend_tests, read};
use serde_json::Value;

// The big import may outlast an access token (15 minutes) on a loaded machine: its token
// lasts an hour.
backend_tests!(
    settings = |a| a.access_token_ttl = Some(3600);
    a_hundred_thousand_rows_import_except_exactly_the_bad_ones
);

backend_tests!(
    columns_are_mapped_and_named_in_row_errors,
    an_import_goes_on_where_a_stopped_server_left_it,
    the_command_line_imports_with_progress
);

backend_tests!(
    settings = |a| a.max_import_bytes = Some(4096);
    what_an_import_refuses
);

/// Posts `file` as CSV to `/v1/imports/customers?query`.
async fn post_csv(app: &TestApp, token: &str, query: &str, file: Vec<u8>) -> Reply {
    let response = app
        .client
        .post(app.url(&format!("/v1/imports/customers?{query}")))
        .bearer_auth(token)
        .header("content-type", "text/csv; charset=utf-8")
        .body(file)
        .send()
        .await
        .expect("request sent");
    read(response).await
}

/// Follows import `id` until it ends; asserts that its progress only grows.
async fn wait_done(app: &TestApp, token: &str, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    let mut seen = 0;
    loop {
        let reply = app.get(&format!("/v1/imports/{id}"), token).await;
        reply.assert_status(200);
        let processed = reply.body["processed_rows"].as_i64().unwrap();
        assert!(
            processed >= seen,
            "progress went back: {processed} < {seen}"
        );
        assert!(processed <= reply.body["total_rows"].as_i64().unwrap());
        seen = processed;
        if matches!(reply.body["status"].as_str(), Some("completed" | "failed")) {
            return reply.body;
        }
        assert!(Instant::now() < deadline, "import not done: {}", reply.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every refused row of import `id`, paged through `/errors`.
async fn all_errors(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let mut errors = Vec::new();
    let mut cursor = String::new();
    loop {
        let reply = app
            .get(
                &format!("/v1/imports/{id}/errors?limit=200&cursor={cursor}"),
                token,
            )
            .await;
        reply.assert_status(200);
        errors.extend(reply.body["data"].as_array().unwrap().iter().cloned());
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => return errors,
        }
    }
}

/// The names of every customer the token sees, from the NDJSON export.
async fn exported_names(app: &TestApp, token: &str) -> Vec<String> {
    let text = app
        .client
        .get(app.url("/v1/exports/customers"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .map(|line| {
            let customer: Value = serde_json::from_str(line).unwrap();
            customer["name"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// 100,000 rows, every hundredth bad in one of four ways: the import reports exactly those
/// rows, each naming its column, and imports every other one, once.
async fn a_hundred_thousand_rows_import_except_exactly_the_bad_ones(app: TestApp) {
    let admin = app.admin_token().await;
    // A spreadsheet's export: byte order mark, semicolons, Windows line ends.
    let mut file = "\u{FEFF}name;lifecycle_stage;website;country\r\n".to_owned();
    let mut bad = BTreeSet::new();
    let mut good = BTreeSet::new();
    for i in 0..100_000 {
        let name = format!("Import {i:06}");
        let row = if i % 100 == 37 {
            bad.insert(i + 2);
            match (i / 100) % 4 {
                0 => ";customer;https://example.com;CN".to_owned(),
                1 => format!("{name};prospective;;CN"),
                2 => format!("{name};customer;not a url;CN"),
                _ => format!("{name};customer;;CN;extra"),
            }
        } else {
            good.insert(name.clone());
            format!("{name};customer;https://c{i}.example.com;CN")
        };
        file.push_str(&row);
        file.push_str("\r\n");
    }
    let reply = post_csv(&app, &admin, "file_name=big.csv", file.into_bytes()).await;
    reply.assert_status(202);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.header("location"),
        Some(format!("/v1/imports/{id}").as_str())
    );
    assert_eq!(reply.body["delimiter"], ";");
    assert_eq!(reply.body["total_rows"], 100_000);

    // A behaviour test, not a timing one (the release-build figure is in the README): on a
    // debug build beside the whole suite on 2 cores it took 10 to 16 minutes; nextest stops it
    // at 25.
    let done = wait_done(&app, &admin, &id, Duration::from_secs(24 * 60)).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(
        (
            done["processed_rows"].as_i64(),
            done["created"].as_i64(),
            done["updated"].as_i64(),
            done["failed"].as_i64()
        ),
        (Some(100_000), Some(99_000), Some(0), Some(1_000))
    );
    assert_eq!(done["errors"].as_array().unwrap().len(), 100);

    let errors = all_errors(&app, &admin, &id).await;
    let rows: BTreeSet<i64> = errors.iter().map(|e| e["row"].as_i64().unwrap()).collect();
    assert_eq!(rows.len(), errors.len(), "a row reported twice");
    assert_eq!(rows, bad);
    for e in &errors {
        let row = e["row"].as_i64().unwrap();
        let field = e["error"]["errors"][0]["field"].as_str().unwrap();
        let expected = match ((row - 2) / 100) % 4 {
            0 => "name",
            1 => "lifecycle_stage",
            2 => "website",
            _ => "row",
        };
        assert_eq!((e["status"].as_i64(), field), (Some(422), expected), "{e}");
    }

    let names = exported_names(&app, &admin).await;
    assert_eq!(names.len(), 99_000, "each good row once");
    assert_eq!(names.into_iter().collect::<BTreeSet<_>>(), good);
}

/// A file whose headers are not field names, mapped by hand: the rows are written as the
/// API writes them (phones in E.164, the importer as owner), and a bad cell is reported
/// under its own column.
async fn columns_are_mapped_and_named_in_row_errors(app: TestApp) {
    let rep = app.user("sales_rep", None).await;
    let file = "Firma,Vorname,Telefon,E-Mail,ERP,Notizen\n\
                深圳张氏科技有限公司,Wei,+86 138 0013 8000,wei@zhangshi.example.cn,Z-1,first\n\
                Bad Phone GmbH,Anna,12,anna@bad.example,Z-2,second\n\
                Half Contact AG,,,no-name@half.example,Z-3,third\n";
    let mapping = r#"{"Firma":"name","Vorname":"contact.first_name","Telefon":"contact.phone","E-Mail":"contact.email","ERP":"external_ids.erp","Notizen":null}"#;
    let query = format!("mapping={}", rapport_tests::query_value(mapping));
    let reply = post_csv(&app, &rep.token, &query, file.as_bytes().to_vec()).await;
    reply.assert_status(202);
    assert_eq!(
        reply.body["ignored_columns"],
        serde_json::json!(["Notizen"])
    );
    assert_eq!(reply.body["columns"][2]["field"], "contact.phone");
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let done = wait_done(&app, &rep.token, &id, Duration::from_secs(60)).await;
    assert_eq!(
        (done["created"].as_i64(), done["failed"].as_i64()),
        (Some(1), Some(2)),
        "{done}"
    );
    let errors = done["errors"].as_array().unwrap();
    assert_eq!(errors[0]["row"], 3);
    assert_eq!(errors[0]["error"]["code"], "validation_failed");
    assert_eq!(errors[0]["error"]["errors"][0]["field"], "Telefon");
    assert_eq!(errors[0]["error"]["errors"][0]["code"], "invalid_phone");
    // A blank cell of a required field is named by its column too.
    assert_eq!(errors[1]["row"], 4);
    assert_eq!(errors[1]["error"]["errors"][0]["field"], "Vorname");
    assert_eq!(errors[1]["error"]["errors"][0]["code"], "required");

    let found = app
        .get("/v1/customers?external_id=erp:Z-1", &rep.token)
        .await;
    found.assert_status(200);
    let customer_id = found.body["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(found.body["data"][0]["owner_id"], rep.id.to_string());
    let customer = app
        .get(&format!("/v1/customers/{customer_id}"), &rep.token)
        .await;
    assert_eq!(
        customer.body["contacts"][0]["phones"][0]["number"],
        "+8613800138000"
    );
    // Each row is audited as the importer's own write.
    let admin = app.admin_token().await;
    let trail = app
        .get(&format!("/v1/audit-events?entity_id={customer_id}"), &admin)
        .await;
    assert_eq!(trail.body["data"][0]["actor_id"], rep.id.to_string());

    // Only the importer (and admins) see the import.
    let other = app.user("sales_rep", None).await;
    app.get(&format!("/v1/imports/{id}"), &other.token)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/v1/imports/{id}/errors"), &other.token)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/v1/imports/{id}"), &admin)
        .await
        .assert_status(200);
}

async fn what_an_import_refuses(app: TestApp) {
    let admin = app.admin_token().await;
    let csv = |s: &str| s.as_bytes().to_vec();
    let refused = |reply: Reply, status: u16, code: &str, fields: &[&str]| {
        reply.assert_problem(status, code);
        assert_eq!(reply.error_fields(), fields, "{}", reply.body);
    };
    refused(
        post_csv(&app, &admin, "", csv("Company\nAcme\n")).await,
        422,
        "validation_failed",
        &["mapping"],
    );
    refused(
        post_csv(
            &app,
            &admin,
            "mapping=%7B%22Firm%22%3A%22name%22%7D",
            csv("Company\nAcme\n"),
        )
        .await,
        422,
        "validation_failed",
        &["mapping.Firm", "mapping"],
    );
    refused(
        post_csv(
            &app,
            &admin,
            "mapping=%7B%22Company%22%3A%22nom%22%7D",
            csv("Company\nAcme\n"),
        )
        .await,
        422,
        "validation_failed",
        &["mapping.Company", "mapping"],
    );
    refused(
        post_csv(&app, &admin, "", b"name\n\xC4cme\n".to_vec()).await,
        422,
        "validation_failed",
        &["file"],
    );
    refused(
        post_csv(&app, &admin, "", csv("name\n")).await,
        422,
        "validation_failed",
        &["file"],
    );
    refused(
        post_csv(&app, &admin, "mapping=not-json", csv("name\nAcme\n")).await,
        400,
        "malformed_request",
        &["mapping"],
    );
    refused(
        post_csv(&app, &admin, "delimiter=%7C", csv("name\nAcme\n")).await,
        400,
        "malformed_request",
        &["delimiter"],
    );
    refused(
        post_csv(&app, &admin, "upsert_on=phone", csv("name\nAcme\n")).await,
        422,
        "validation_failed",
        &["upsert_on"],
    );
    // Over RAPPORT_MAX_IMPORT_BYTES (4 KiB here), announced or not.
    let big = format!("name\n{}", "Acme\n".repeat(1000));
    post_csv(&app, &admin, "", big.into_bytes())
        .await
        .assert_problem(413, "payload_too_large");
    // JSON is not a CSV file.
    app.post(
        "/v1/imports/customers",
        &admin,
        serde_json::json!({"name": "Acme"}),
    )
    .await
    .assert_problem(415, "unsupported_media_type");
    // Importing writes customers.
    let reader = app.client_token(&["customers:read"]).await;
    post_csv(&app, &reader, "", csv("name\nAcme\n"))
        .await
        .assert_problem(403, "forbidden");
    app.get(&format!("/v1/imports/{}", uuid::Uuid::now_v7()), &admin)
        .await
        .assert_problem(404, "not_found");
    let anonymous = app
        .client
        .post(app.url("/v1/imports/customers"))
        .header("content-type", "text/csv")
        .body("name\nAcme\n")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    // Nothing of the refused files was imported.
    assert!(exported_names(&app, &admin).await.is_empty());
}

/// A server stopped in the middle of an import gives its job back; another one on the same
/// database takes it and goes on after the last chunk saved: every row once.
async fn an_import_goes_on_where_a_stopped_server_left_it(app: TestApp) {
    const ROWS: i64 = 4_000;
    let admin = app.admin_token().await;
    let mut file = "name,lifecycle_stage\n".to_owned();
    // Enough rows that the first server is stopped mid-file (it imports a few hundred a
    // second in a debug build), few enough for a loaded CI machine.
    for i in 0..ROWS {
        file.push_str(&format!("Resumed {i:05},customer\n"));
    }
    let reply = post_csv(&app, &admin, "", file.into_bytes()).await;
    reply.assert_status(202);
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = app.get(&format!("/v1/imports/{id}"), &admin).await;
        if reply.body["processed_rows"].as_i64().unwrap() >= 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the import never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = app.spawn_beside(|_| {}).await;
    app.stop().await;
    let left = second.get(&format!("/v1/imports/{id}"), &admin).await;
    assert!(
        left.body["processed_rows"].as_i64().unwrap() < ROWS,
        "the first server was stopped mid-file: {}",
        left.body
    );
    let done = wait_done(&second, &admin, &id, Duration::from_secs(300)).await;
    assert_eq!(
        (done["created"].as_i64(), done["failed"].as_i64()),
        (Some(ROWS), Some(0)),
        "{done}"
    );
    let names = exported_names(&second, &admin).await;
    let rows = usize::try_from(ROWS).unwrap();
    assert_eq!(names.len(), rows);
    assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), rows);
}

/// `rapport import` uploads the file, follows its progress and says what became of it.
async fn the_command_line_imports_with_progress(app: TestApp) {
    let admin = app.admin_token().await;
    let dir = rapport_tests::TempDir::new();
    let path = dir.0.join("customers.csv");
    let mut file = "Company;E-mail;First name\n".to_owned();
    for i in 0..250 {
        file.push_str(&format!("Cli {i};cli{i}@example.com;Ann\n"));
    }
    file.push_str("Cli bad;not-an-email;Ann\n");
    std::fs::write(&path, file).unwrap();
    let request = ImportRequest {
        base: app.base.clone(),
        token: admin.clone(),
        mapping: vec![
            "Company=name".into(),
            "E-mail=contact.email".into(),
            "First name=contact.first_name".into(),
        ],
        ..ImportRequest::default()
    };
    let mut seen = Vec::new();
    let done = import_client::import(&request, &path, |i| {
        seen.push(i["processed_rows"].as_i64().unwrap());
    })
    .await
    .unwrap();
    assert_eq!(done["file_name"], "customers.csv");
    assert_eq!(
        (done["created"].as_i64(), done["failed"].as_i64()),
        (Some(250), Some(1))
    );
    assert_eq!(seen.first(), Some(&0));
    assert_eq!(seen.last(), Some(&251));
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));
    let summary = import_client::summary(&done);
    assert!(summary.contains("250 created"), "{summary}");
    assert!(summary.contains("row 252: E-mail"), "{summary}");

    // A refused file is an error that says why.
    let request = ImportRequest {
        mapping: vec!["Company".into()],
        ..request
    };
    assert!(
        import_client::import(&request, &path, |_| {})
            .await
            .is_err()
    );
    let request = ImportRequest {
        mapping: vec!["Nope=name".into()],
        ..request
    };
    let err = import_client::import(&request, &path, |_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("mapping.Nope"), "{err}");
}
