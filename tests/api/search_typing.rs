//! Search the way Chinese and English CRM users type: pinyin and initials, phone tails (尾号),
//! a contact's names in either order, inner parts of words; results ranked by the kind of
//! match and paged across ranks, within the caller's view.

use std::collections::HashSet;

use rapport_tests::{TestApp, backend_tests, query_value};
use serde_json::json;

backend_tests!(region = "CN";
    finds_pinyin_tails_full_names_and_inner_parts,
    ranks_exact_words_then_prefixes_then_pinyin_then_fragments,
    a_sales_rep_finds_none_of_another_reps_customers,
);

/// The ids `q` finds, in order, walking every page of `limit`.
async fn find(app: &TestApp, token: &str, q: &str, limit: u32) -> Vec<String> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/customers?q={}&limit={limit}", query_value(q));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let reply = app.get(&path, token).await;
        reply.assert_status(200);
        for c in reply.body["data"].as_array().unwrap() {
            found.push(c["id"].as_str().unwrap().to_owned());
        }
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return found,
        }
    }
}

async fn finds_pinyin_tails_full_names_and_inner_parts(app: TestApp) {
    let admin = app.admin_token().await;
    let zhang = app
        .customer(
            &admin,
            json!({
                "name": "深圳张氏科技有限公司",
                "contacts": [{"first_name": "三", "last_name": "张", "phones": [{"number": "138 0013 8000"}]}]
            }),
        )
        .await
        .to_string();
    let huawei = app
        .customer(
            &admin,
            json!({
                "name": "北京华为终端有限公司",
                "contacts": [{"first_name": "伟", "last_name": "王", "phones": [{"number": "139 1234 5678"}]}]
            }),
        )
        .await
        .to_string();
    let northwind = app
        .customer(
            &admin,
            json!({
                "name": "Northwind Traders",
                "contacts": [{"first_name": "John", "last_name": "Smith", "emails": [{"address": "orders@northwind.com"}]}]
            }),
        )
        .await
        .to_string();
    let bank = app
        .customer(&admin, json!({"name": "重庆银行股份有限公司"}))
        .await
        .to_string();

    let cases: &[(&str, &String)] = &[
        // 尾号: the last digits of a phone.
        ("8000", &zhang),
        ("138000", &zhang),
        ("5678", &huawei),
        // A contact's names together, in either order, in both scripts.
        ("王伟", &huawei),
        ("伟王", &huawei),
        ("王 伟", &huawei),
        ("wangwei", &huawei),
        ("johnsmith", &northwind),
        ("smithjohn", &northwind),
        ("smith john", &northwind),
        // Full pinyin, initials, and mixes with characters.
        ("shenzhen", &zhang),
        ("zhangshi", &zhang),
        ("zhang shi keji", &zhang),
        ("zskj", &zhang),
        ("szzs", &zhang),
        ("sz zhang", &zhang),
        ("深圳zhang", &zhang),
        ("huawei", &huawei),
        // Polyphonic characters by either common reading: 重 chong/zhong, 行 hang/xing.
        ("chongqing yinhang", &bank),
        ("zhongqing", &bank),
        ("cqyh", &bank),
        // Inner parts of names and emails.
        ("wind", &northwind),
        ("rthwi", &northwind),
        ("raders", &northwind),
        ("rders", &northwind),
    ];
    for (typed, expected) in cases {
        assert_eq!(
            find(&app, &admin, typed, 50).await,
            [(*expected).clone()],
            "q={typed}"
        );
    }
    for nothing in ["9999", "lisi", "windy", "伟张", "beijingzs"] {
        assert!(
            find(&app, &admin, nothing, 50).await.is_empty(),
            "q={nothing}"
        );
    }
    // The index follows changes: a new phone is found by its tail, the old one no longer.
    let customer = app.get(&format!("/v1/customers/{zhang}"), &admin).await;
    let contact = customer.body["contacts"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.patch(
        &format!("/v1/contacts/{contact}"),
        &admin,
        json!({"phones": [{"number": "137 0000 4321"}]}),
    )
    .await
    .assert_status(200);
    assert_eq!(find(&app, &admin, "4321", 50).await, vec![zhang.clone()]);
    assert!(find(&app, &admin, "8000", 50).await.is_empty());
}

async fn ranks_exact_words_then_prefixes_then_pinyin_then_fragments(app: TestApp) {
    let admin = app.admin_token().await;
    // Made best match first, so that the index's own order (newest first) is the reverse of
    // the ranking.
    let mut expected = Vec::new();
    for name in [
        "Zhang Trading",       // the word itself
        "Zhangjiang Holdings", // a word it starts
        "深圳张氏科技",        // pinyin
        "Lizhang Foods",       // the inside of a word
    ] {
        expected.push(
            app.customer(&admin, json!({"name": name}))
                .await
                .to_string(),
        );
    }
    for limit in [50, 1, 3] {
        assert_eq!(
            find(&app, &admin, "zhang", limit).await,
            expected,
            "limit={limit}"
        );
    }
    // A word of a name comes before a phone's tail, though the phone's customer is newer.
    let word = app
        .customer(&admin, json!({"name": "Room 1234 Trading"}))
        .await
        .to_string();
    let tail = app
        .customer(
            &admin,
            json!({"name": "Tail", "contacts": [{"first_name": "B", "phones": [{"number": "139 0000 1234"}]}]}),
        )
        .await
        .to_string();
    assert_eq!(find(&app, &admin, "1234", 1).await, [word, tail]);
}

async fn a_sales_rep_finds_none_of_another_reps_customers(app: TestApp) {
    let rep_a = app.user("sales_rep", None).await;
    let rep_b = app.user("sales_rep", None).await;
    let mine = app
        .customer(
            &rep_a.token,
            json!({
                "name": "深圳张氏科技有限公司",
                "contacts": [{"first_name": "伟", "last_name": "王", "phones": [{"number": "138 0013 8000"}], "emails": [{"address": "sales@northwind.com"}]}]
            }),
        )
        .await
        .to_string();
    let theirs = app
        .customer(&rep_b.token, json!({"name": "Northwind 张氏"}))
        .await
        .to_string();
    for typed in ["zhangshi", "szzs", "8000", "王伟", "wind"] {
        let a: HashSet<String> = find(&app, &rep_a.token, typed, 50)
            .await
            .into_iter()
            .collect();
        assert!(
            a.contains(&mine) && !a.contains(&theirs),
            "q={typed}: {a:?}"
        );
    }
    for typed in ["8000", "王伟"] {
        assert!(
            find(&app, &rep_b.token, typed, 50).await.is_empty(),
            "q={typed}"
        );
    }
    let b = find(&app, &rep_b.token, "zhangshi", 50).await;
    assert_eq!(b, [theirs], "rep B sees only its own");
}
