//! Customer lists: free-text search (Chinese, phones typed any way, emails), filters, sorts
//! and keyset pagination.

use std::collections::HashSet;

use rapport_tests::{TestApp, backend_tests, query_value};
use serde_json::{Value, json};

backend_tests!(region = "CN"; search_finds_chinese_fragments_phones_and_emails);
backend_tests!(
    search_respects_ownership,
    filters_narrow_the_list,
    keyset_pages_return_every_row_once_while_rows_are_inserted,
    bad_list_parameters_are_400,
);

async fn ids(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let reply = app.get(&format!("/v1/customers?{query}"), token).await;
    reply.assert_status(200);
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn search_finds_chinese_fragments_phones_and_emails(app: TestApp) {
    let admin = app.admin_token().await;
    let zhang = app
        .customer(
            &admin,
            json!({
                "name": "深圳张氏科技有限公司",
                "registration_number": "91350100M000100Y43",
                "contacts": [{"first_name": "伟", "last_name": "张", "emails": [{"address": "zhang.wei@zhangshi.cn"}], "phones": [{"number": "138 0013 8000"}]}]
            }),
        )
        .await
        .to_string();
    let li = app
        .customer(&admin, json!({"name": "北京李氏贸易有限公司", "contacts": [{"first_name": "Lei", "last_name": "Li", "phones": [{"number": "+1 415 555 2671"}]}]}))
        .await
        .to_string();
    let acme = app
        .customer(&admin, json!({"name": "Acme Robotics Ltd"}))
        .await
        .to_string();

    let find = |q: &str| {
        let query = format!("q={}", query_value(q));
        let app = &app;
        let admin = admin.clone();
        async move { ids(app, &admin, &query).await }
    };
    assert_eq!(find("张").await, vec![zhang.clone()]);
    assert_eq!(find("科技").await, vec![zhang.clone()]);
    assert_eq!(find("张氏科技").await, vec![zhang.clone()]);
    let mut both: Vec<String> = find("有限公司").await;
    both.sort();
    let mut expected = vec![zhang.clone(), li.clone()];
    expected.sort();
    assert_eq!(both, expected);
    assert!(find("上海").await.is_empty());
    // A phone typed any way finds its E.164 form.
    // On this server (region CN), a US number typed nationally is found by its digits.
    for typed in [
        "138 0013 8000",
        "+86 138-0013-8000",
        "13800138000",
        "(415) 555-2671",
        "+1 415-555-2671",
    ] {
        let found = find(typed).await;
        assert_eq!(found.len(), 1, "{typed}");
    }
    assert_eq!(find("+1 415 555 2671").await, vec![li.clone()]);
    assert_eq!(find("ZHANG.WEI@zhangshi.cn").await, vec![zhang.clone()]);
    assert_eq!(find("zhangshi.cn").await, vec![zhang.clone()]);
    assert_eq!(find("91350100M000100Y43").await, vec![zhang.clone()]);
    assert_eq!(find("acme rob").await, vec![acme.clone()]);
    assert_eq!(
        find("Lei").await,
        vec![li.clone()],
        "contact names are searched too"
    );
    assert!(find("!!!").await.is_empty());
    // Search results page like any list.
    let first = app
        .get("/v1/customers?q=%E5%85%AC%E5%8F%B8&limit=1", &admin)
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .get(
            &format!("/v1/customers?q=%E5%85%AC%E5%8F%B8&limit=1&cursor={cursor}"),
            &admin,
        )
        .await;
    second.assert_status(200);
    assert_eq!(second.body["next_cursor"], Value::Null);
    assert_ne!(first.body["data"][0]["id"], second.body["data"][0]["id"]);
    // Search follows changes: a renamed customer is found by its new name only.
    app.patch(
        &format!("/v1/customers/{acme}"),
        &admin,
        json!({"name": "Zenith Motors"}),
    )
    .await
    .assert_status(200);
    assert!(find("acme").await.is_empty());
    assert_eq!(find("zenith").await, [acme]);
}

async fn search_respects_ownership(app: TestApp) {
    let rep_a = app.user("sales_rep", None).await;
    let rep_b = app.user("sales_rep", None).await;
    app.customer(&rep_a.token, json!({"name": "Hidden Gem Trading"}))
        .await;
    assert_eq!(ids(&app, &rep_a.token, "q=gem").await.len(), 1);
    assert!(ids(&app, &rep_b.token, "q=gem").await.is_empty());
}

async fn filters_narrow_the_list(app: TestApp) {
    let admin = app.admin_token().await;
    let rep = app.user("sales_rep", None).await;
    let a = app
        .customer(&admin, json!({"name": "A", "kind": "sme", "grade": "vip", "tags": ["expo"], "industry": "finance", "source": "event", "channel": "web"}))
        .await
        .to_string();
    let b = app
        .customer(
            &rep.token,
            json!({"name": "B", "kind": "individual", "lifecycle_stage": "customer"}),
        )
        .await
        .to_string();
    assert_eq!(ids(&app, &admin, "kind=sme").await, vec![a.clone()]);
    assert_eq!(ids(&app, &admin, "grade=vip").await, vec![a.clone()]);
    assert_eq!(ids(&app, &admin, "tag=expo").await, vec![a.clone()]);
    assert_eq!(
        ids(&app, &admin, "industry=finance&source=event&channel=web").await,
        vec![a.clone()]
    );
    assert_eq!(
        ids(&app, &admin, "lifecycle_stage=customer").await,
        vec![b.clone()]
    );
    assert_eq!(
        ids(&app, &admin, &format!("owner_id={}", rep.id)).await,
        vec![b.clone()]
    );
    assert_eq!(
        ids(&app, &admin, "created_after=2999-01-01T00:00:00Z")
            .await
            .len(),
        0
    );
    assert_eq!(
        ids(&app, &admin, "created_before=2999-01-01T00:00:00Z")
            .await
            .len(),
        2
    );
    assert_eq!(ids(&app, &admin, "sort=name").await, [a.clone(), b.clone()]);
    assert_eq!(ids(&app, &admin, "sort=-name").await, [b, a]);
}

/// Walks every page of `sort` while inserting new customers between pages: every customer
/// that existed at the start is seen exactly once, and nothing is seen twice.
async fn keyset_pages_return_every_row_once_while_rows_are_inserted(app: TestApp) {
    let admin = app.admin_token().await;
    let mut original = HashSet::new();
    for i in 0..23 {
        original.insert(
            app.customer(&admin, json!({"name": format!("Co {:02}", (i * 7) % 23)}))
                .await
                .to_string(),
        );
    }
    for sort in [
        "-created_at",
        "created_at",
        "name",
        "-name",
        "updated_at",
        "-last_activity_at",
    ] {
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut inserted = 0;
        loop {
            let query = match &cursor {
                Some(c) => format!("sort={sort}&limit=4&cursor={c}"),
                None => format!("sort={sort}&limit=4"),
            };
            let page = app.get(&format!("/v1/customers?{query}"), &admin).await;
            page.assert_status(200);
            let data = page.body["data"].as_array().unwrap();
            assert!(data.len() <= 4);
            seen.extend(data.iter().map(|c| c["id"].as_str().unwrap().to_owned()));
            // Rows arrive during the walk, before and after the cursor.
            app.customer(&admin, json!({"name": format!("New {sort} {inserted}")}))
                .await;
            app.customer(&admin, json!({"name": format!("AAA {sort} {inserted}")}))
                .await;
            inserted += 1;
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: a row came twice");
        for id in &original {
            assert!(unique.contains(id), "{sort}: row {id} was skipped");
        }
    }
}

async fn bad_list_parameters_are_400(app: TestApp) {
    let admin = app.admin_token().await;
    for (query, field) in [
        ("sort=size", "sort"),
        ("limit=201", "limit"),
        ("kind=giant", "kind"),
        ("cursor=nope", "cursor"),
        ("owner_id=me", "owner_id"),
    ] {
        let reply = app.get(&format!("/v1/customers?{query}"), &admin).await;
        reply.assert_problem(400, "malformed_request");
        assert_eq!(reply.body["errors"][0]["field"], field, "{query}");
    }
    // A cursor from one sort is refused by another.
    app.customer(&admin, json!({"name": "One"})).await;
    app.customer(&admin, json!({"name": "Two"})).await;
    let page = app.get("/v1/customers?sort=name&limit=1", &admin).await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    app.get(
        &format!("/v1/customers?sort=-created_at&cursor={cursor}"),
        &admin,
    )
    .await
    .assert_problem(400, "malformed_request");
    let _: Value = Value::Null;
}
