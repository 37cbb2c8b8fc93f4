//! The knowledge base over HTTP: drafts and versions, search, the category tree, links to
//! tickets and suggestions, and the public help center.

use std::collections::BTreeSet;

use rapport_tests::{TestApp, backend_tests};
use reqwest::Method;
use serde_json::{Value, json};

backend_tests!(
    drafts_are_invisible_to_readers_and_edits_keep_versions,
    search_finds_fragments_and_words_and_ranks_title_matches_first,
    categories_form_a_tree_without_loops,
    suggestions_rank_the_matching_solution_first_and_links_count_uses,
    public_articles_answer_only_their_keys_and_never_an_internal_one,
);

/// Writes an article as `token`, answering it.
async fn write(app: &TestApp, token: &str, body: Value) -> Value {
    let reply = app.post("/v1/articles", token, body).await;
    reply.assert_status(201);
    reply.body
}

async fn published(app: &TestApp, token: &str, title: &str, body: &str, extra: Value) -> Value {
    let mut article =
        json!({"title": title, "body": body, "kind": "solution", "status": "published"});
    article
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    write(app, token, article).await
}

fn titles(reply: &rapport_tests::Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn drafts_are_invisible_to_readers_and_edits_keep_versions(app: TestApp) {
    let writer = app.user("service_manager", None).await;
    let rep = app.user("sales_rep", None).await;
    let draft = write(
        &app,
        &writer.token,
        json!({"title": "打印机卡纸怎么办", "body": "1. 打开后盖\n2. 取出纸张", "kind": "solution", "tags": ["Printers"]}),
    )
    .await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["slug"], "dayinjikazhizenmeban");
    assert_eq!(draft["revision"], 0);
    assert_eq!(draft["audience"], "internal");
    assert_eq!(draft["language"], "en");
    assert_eq!(draft["author_id"], writer.id.to_string());
    assert_eq!(draft["body"], "1. 打开后盖\n2. 取出纸张", "kept as written");
    let id = draft["id"].as_str().unwrap();
    let path = format!("/v1/articles/{id}");

    // Readers do not see drafts, in a get, a list or its filter.
    app.get(&path, &rep.token)
        .await
        .assert_problem(404, "not_found");
    assert!(titles(&app.get("/v1/articles", &rep.token).await).is_empty());
    app.get("/v1/articles?status=draft", &rep.token)
        .await
        .assert_problem(400, "malformed_request");
    assert_eq!(
        titles(&app.get("/v1/articles?status=draft", &writer.token).await).len(),
        1
    );

    // A second article of the same title gets the next slug.
    let twin = write(
        &app,
        &writer.token,
        json!({"title": "打印机卡纸怎么办", "body": "Other", "kind": "faq"}),
    )
    .await;
    assert_eq!(twin["slug"], "dayinjikazhizenmeban-2");

    app.get(&format!("{path}/versions"), &rep.token)
        .await
        .assert_problem(404, "not_found");
    let published = app
        .patch(&path, &writer.token, json!({"status": "published"}))
        .await;
    published.assert_status(200);
    assert_eq!(published.body["revision"], 1);
    assert!(published.body["published_at"].is_string());
    let read = app.get(&path, &rep.token).await;
    read.assert_status(200);
    assert_eq!(read.body["title"], "打印机卡纸怎么办");

    let edited = app
        .patch(
            &path,
            &writer.token,
            json!({"body": "1. 关机\n2. 打开后盖"}),
        )
        .await;
    edited.assert_status(200);
    assert_eq!(edited.body["revision"], 2);
    let versions = app.get(&format!("{path}/versions"), &rep.token).await;
    versions.assert_status(200);
    let numbers: Vec<i64> = versions.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 1]);
    let first = app.get(&format!("{path}/versions/1"), &rep.token).await;
    first.assert_status(200);
    assert_eq!(
        first.body["body"], "1. 打开后盖\n2. 取出纸张",
        "the old text stays"
    );
    app.get(&format!("{path}/versions/3"), &rep.token)
        .await
        .assert_problem(404, "not_found");
    // Tags alone are no new version.
    let tagged = app
        .patch(&path, &writer.token, json!({"tags": ["paper"]}))
        .await;
    assert_eq!(tagged.body["revision"], 2);

    // A stale If-Match, an unknown id, a bad field.
    let stale = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&writer.token)
        .header("if-match", "\"1\"")
        .json(&json!({"title": "Stale"}))
        .send()
        .await
        .unwrap();
    rapport_tests::read(stale)
        .await
        .assert_problem(412, "precondition_failed");
    app.patch(
        &format!("/v1/articles/{}", uuid::Uuid::now_v7()),
        &writer.token,
        json!({"title": "x"}),
    )
    .await
    .assert_problem(404, "not_found");
    let bad = app
        .patch(
            &path,
            &writer.token,
            json!({"kind": "novel", "slug": "dayinjikazhizenmeban-2"}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.error_fields(), ["kind", "slug"]);

    // The workflow, the scope, staff only, and every bad field named.
    let back = app
        .patch(&path, &writer.token, json!({"status": "draft"}))
        .await;
    back.assert_problem(409, "invalid_transition");
    assert_eq!(back.body["allowed"], json!(["archived"]));
    app.patch(&path, &rep.token, json!({"title": "x"}))
        .await
        .assert_problem(403, "forbidden");
    app.post(
        "/v1/articles",
        &rep.token,
        json!({"title": "x", "body": "y", "kind": "faq"}),
    )
    .await
    .assert_problem(403, "forbidden");
    let client = app.client_token(&["tickets:read"]).await;
    app.get("/v1/articles", &client)
        .await
        .assert_problem(403, "forbidden");
    let refused = app
        .post(
            "/v1/articles",
            &writer.token,
            json!({"body": " ", "kind": "novel", "slug": "Not A Slug", "language": "english",
                   "category_id": uuid::Uuid::now_v7(), "status": "archived"}),
        )
        .await;
    refused.assert_problem(422, "validation_failed");
    let mut fields = refused.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "body",
            "category_id",
            "kind",
            "language",
            "slug",
            "status",
            "title"
        ]
    );
    let taken = app
        .post(
            "/v1/articles",
            &writer.token,
            json!({"title": "x", "body": "y", "kind": "faq", "slug": "dayinjikazhizenmeban"}),
        )
        .await;
    taken.assert_problem(422, "validation_failed");
    assert_eq!(taken.error_fields(), ["slug"]);
    assert_eq!(app.audit_count(id).await, 4, "create and three updates");
}

async fn search_finds_fragments_and_words_and_ranks_title_matches_first(app: TestApp) {
    let writer = app.user("service_manager", None).await;
    let agent = app.user("service_agent", None).await;
    let w = &writer.token;
    published(
        &app,
        w,
        "打印机卡纸怎么办",
        "先关机，再打开后盖。",
        json!({"tags": ["printers"]}),
    )
    .await;
    published(
        &app,
        w,
        "Network setup",
        "If the 打印机 is offline, reconnect the printer to the office network.",
        json!({"kind": "faq"}),
    )
    .await;
    published(
        &app,
        w,
        "Printer maintenance",
        "Clean the rollers monthly.",
        json!({"kind": "playbook", "audience": "public"}),
    )
    .await;
    write(
        &app,
        w,
        json!({"title": "Printer draft", "body": "unfinished", "kind": "solution"}),
    )
    .await;

    let search = |q: &str| format!("/v1/articles?q={}", rapport_tests::query_value(q));
    let found = app.get(&search("打印机"), &agent.token).await;
    found.assert_status(200);
    assert_eq!(
        titles(&found),
        ["打印机卡纸怎么办", "Network setup"],
        "title match first"
    );
    assert_eq!(
        titles(&app.get(&search("卡纸"), &agent.token).await),
        ["打印机卡纸怎么办"]
    );
    assert_eq!(
        titles(&app.get(&search("printer"), &agent.token).await),
        ["Printer maintenance", "Network setup", "打印机卡纸怎么办"],
        "a word in a title, then in a body, then the start of a word (a tag); drafts never"
    );
    assert_eq!(
        titles(&app.get(&search("offline"), &agent.token).await),
        ["Network setup"]
    );
    assert_eq!(
        titles(&app.get(&search("dayinji"), &agent.token).await),
        ["打印机卡纸怎么办"],
        "pinyin of a title"
    );
    assert!(titles(&app.get(&search("nothing-like-this"), &agent.token).await).is_empty());
    // The writer finds the draft too.
    assert_eq!(titles(&app.get(&search("printer"), w).await).len(), 4);

    // Filters, alone and with a search; pages of one.
    assert_eq!(
        titles(&app.get("/v1/articles?kind=faq", &agent.token).await),
        ["Network setup"]
    );
    assert_eq!(
        titles(&app.get("/v1/articles?tag=printers", &agent.token).await),
        ["打印机卡纸怎么办"]
    );
    assert_eq!(
        titles(
            &app.get(
                &format!("{}&audience=public", search("printer")),
                &agent.token
            )
            .await
        ),
        ["Printer maintenance"]
    );
    app.get("/v1/articles?kind=novel", &agent.token)
        .await
        .assert_problem(400, "malformed_request");
    let first = app
        .get(&format!("{}&limit=1", search("printer")), &agent.token)
        .await;
    assert_eq!(titles(&first), ["Printer maintenance"]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(
            &format!("{}&limit=1&cursor={cursor}", search("printer")),
            &agent.token,
        )
        .await;
    assert_eq!(titles(&second), ["Network setup"]);
    let cursor = second.body["next_cursor"].as_str().unwrap();
    let third = app
        .get(
            &format!("{}&limit=1&cursor={cursor}", search("printer")),
            &agent.token,
        )
        .await;
    assert_eq!(titles(&third), ["打印机卡纸怎么办"]);
    assert!(third.body["next_cursor"].is_null());
}

async fn categories_form_a_tree_without_loops(app: TestApp) {
    let writer = app.user("marketing", None).await;
    let rep = app.user("sales_rep", None).await;
    let w = &writer.token;
    let app = &app;
    let create = |name: &str, parent: Option<&str>| {
        let body = json!({"name": name, "parent_id": parent});
        async move { app.post("/v1/article-categories", w, body).await }
    };
    let hardware = create("Hardware", None).await;
    hardware.assert_status(201);
    let hardware_id = hardware.body["id"].as_str().unwrap().to_owned();
    let printers = create("Printers", Some(&hardware_id)).await;
    printers.assert_status(201);
    let printers_id = printers.body["id"].as_str().unwrap().to_owned();
    assert_eq!(printers.body["parent_id"], hardware_id);

    let looped = app
        .patch(
            &format!("/v1/article-categories/{hardware_id}"),
            w,
            json!({"parent_id": printers_id}),
        )
        .await;
    looped.assert_problem(422, "validation_failed");
    assert_eq!(looped.error_fields(), ["parent_id"]);
    create("Orphan", Some(&uuid::Uuid::now_v7().to_string()))
        .await
        .assert_problem(422, "validation_failed");
    app.post(
        "/v1/article-categories",
        &rep.token,
        json!({"name": "Mine"}),
    )
    .await
    .assert_problem(403, "forbidden");
    let client = app.client_token(&["tickets:read"]).await;
    app.get("/v1/article-categories", &client)
        .await
        .assert_problem(403, "forbidden");
    let list = app.get("/v1/article-categories", &rep.token).await;
    list.assert_status(200);
    assert_eq!(list.body["data"].as_array().unwrap().len(), 2);

    // Filtering by a category takes the categories below it.
    published(
        app,
        w,
        "Toner",
        "Replace the toner.",
        json!({"category_id": printers_id}),
    )
    .await;
    let under = app
        .get(
            &format!("/v1/articles?category_id={hardware_id}"),
            &rep.token,
        )
        .await;
    assert_eq!(titles(&under), ["Toner"]);

    // A category with something in it stays.
    app.delete(&format!("/v1/article-categories/{hardware_id}"), w)
        .await
        .assert_problem(409, "conflict");
    let renamed = app
        .patch(
            &format!("/v1/article-categories/{printers_id}"),
            w,
            json!({"name": "打印机"}),
        )
        .await;
    renamed.assert_status(200);
    assert_eq!(renamed.body["name"], "打印机");
    let empty = create("Empty", None).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.delete(&format!("/v1/article-categories/{empty}"), w)
        .await
        .assert_status(204);
    app.get(&format!("/v1/article-categories/{empty}"), w)
        .await
        .assert_problem(404, "not_found");
}

async fn suggestions_rank_the_matching_solution_first_and_links_count_uses(app: TestApp) {
    let admin = app.admin_token().await;
    let writer = app.user("service_manager", None).await;
    let agent = app.user("service_agent", None).await;
    let w = &writer.token;
    let solution = published(
        &app,
        w,
        "Printer jams on every second page",
        "Open the rear tray and pull the paper out.",
        json!({}),
    )
    .await;
    published(
        &app,
        w,
        "Invoice questions",
        "Invoices are sent monthly.",
        json!({"kind": "faq"}),
    )
    .await;
    published(
        &app,
        w,
        "Paper sizes",
        "The printer takes A4 paper.",
        json!({"kind": "faq"}),
    )
    .await;
    let draft = write(
        &app,
        w,
        json!({"title": "Printer jams (draft)", "body": "x", "kind": "solution"}),
    )
    .await;

    let customer = app
        .customer(&admin, json!({"name": "Northwind Traders"}))
        .await;
    let ticket = app
        .post(
            "/v1/tickets",
            &admin,
            json!({"customer_id": customer, "subject": "Printer jams again",
                   "description": "The paper jams on page two.", "channel": "email",
                   "category": "incident", "assignee_id": agent.id}),
        )
        .await;
    ticket.assert_status(201);
    let ticket_id = ticket.body["id"].as_str().unwrap();
    let suggested = app
        .get(
            &format!("/v1/tickets/{ticket_id}/suggested-articles"),
            &agent.token,
        )
        .await;
    suggested.assert_status(200);
    let ranked: Vec<&str> = suggested.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["article"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        ranked,
        ["Printer jams on every second page", "Paper sizes"],
        "no draft, no unrelated"
    );

    let links = format!("/v1/tickets/{ticket_id}/articles");
    let linked = app
        .post(&links, &agent.token, json!({"article_id": solution["id"]}))
        .await;
    linked.assert_status(201);
    assert_eq!(linked.body["article"]["id"], solution["id"]);
    app.post(&links, &agent.token, json!({"article_id": solution["id"]}))
        .await
        .assert_status(200);
    let refused = app
        .post(&links, &agent.token, json!({"article_id": draft["id"]}))
        .await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["article_id"]);
    let listed = app.get(&links, &agent.token).await;
    listed.assert_status(200);
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);

    // An integration client reads public articles only, through tickets too.
    let public = published(
        &app,
        w,
        "Printer jam quick fix",
        "Pull the paper out.",
        json!({"audience": "public"}),
    )
    .await;
    let client = app.client_token(&["tickets:read", "tickets:write"]).await;
    let suggested = app
        .get(
            &format!("/v1/tickets/{ticket_id}/suggested-articles"),
            &client,
        )
        .await;
    suggested.assert_status(200);
    let titles: Vec<&str> = suggested.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["article"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Printer jam quick fix"], "no internal article");
    let refused = app
        .post(&links, &client, json!({"article_id": solution["id"]}))
        .await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["article_id"]);
    app.post(&links, &client, json!({"article_id": public["id"]}))
        .await
        .assert_status(201);
    let seen = |reply: &rapport_tests::Reply| -> Vec<String> {
        reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["article"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        seen(&app.get(&links, &client).await),
        [public["id"].as_str().unwrap()],
        "the internal link is not shown to the client"
    );
    assert_eq!(seen(&app.get(&links, &agent.token).await).len(), 2);

    // Resolving the ticket counts a use of its linked article.
    app.patch(
        &format!("/v1/tickets/{ticket_id}"),
        &agent.token,
        json!({"status": "resolved"}),
    )
    .await
    .assert_status(200);
    let article = app
        .get(
            &format!("/v1/articles/{}", solution["id"].as_str().unwrap()),
            &agent.token,
        )
        .await;
    assert_eq!(article.body["solved_tickets"], 1);
    assert!(app.get(&links, &agent.token).await.body["data"][0]["used_at"].is_string());

    // Another agent's ticket is out of view; a rep has no tickets at all.
    let other = app.user("service_agent", None).await;
    app.get(
        &format!("/v1/tickets/{ticket_id}/suggested-articles"),
        &other.token,
    )
    .await
    .assert_problem(404, "not_found");
    app.post(&links, &other.token, json!({"article_id": solution["id"]}))
        .await
        .assert_problem(404, "not_found");
    let rep = app.user("sales_rep", None).await;
    app.get(&links, &rep.token)
        .await
        .assert_problem(403, "forbidden");

    let one = format!("{links}/{}", solution["id"].as_str().unwrap());
    app.delete(&one, &agent.token).await.assert_status(204);
    app.delete(&one, &agent.token)
        .await
        .assert_problem(404, "not_found");
}

async fn public_articles_answer_only_their_keys_and_never_an_internal_one(app: TestApp) {
    let writer = app.user("service_manager", None).await;
    let w = &writer.token;
    let help = published(
        &app,
        w,
        "Reset your password",
        "Hi <script>alert(1)</script> **bold** <img src=x onerror=alert(2)> [x](javascript:alert(3))",
        json!({"audience": "public", "kind": "faq", "customer_id": null}),
    )
    .await;
    assert!(!help["body_html"].as_str().unwrap().contains("<script"));
    published(
        &app,
        w,
        "Internal password policy",
        "Rotate yearly.",
        json!({"kind": "policy"}),
    )
    .await;
    write(
        &app,
        w,
        json!({"title": "Reset draft", "body": "x", "kind": "faq", "audience": "public"}),
    )
    .await;

    let list = app
        .call(Method::GET, "/v1/public/articles", None, None)
        .await;
    list.assert_status(200);
    assert_eq!(titles(&list), ["Reset your password"]);
    let found = app
        .call(Method::GET, "/v1/public/articles?q=password", None, None)
        .await;
    assert_eq!(
        titles(&found),
        ["Reset your password"],
        "internal articles are never found"
    );

    let slug = help["slug"].as_str().unwrap();
    assert_eq!(slug, "reset-your-password");
    let one = app
        .call(
            Method::GET,
            &format!("/v1/public/articles/{slug}"),
            None,
            None,
        )
        .await;
    one.assert_status(200);
    let keys: BTreeSet<&str> = one
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let documented: BTreeSet<&str> = [
        "slug",
        "title",
        "body",
        "body_html",
        "kind",
        "category_id",
        "tags",
        "language",
        "published_at",
        "updated_at",
    ]
    .into();
    assert_eq!(keys, documented);
    let html = one.body["body_html"].as_str().unwrap();
    assert!(html.contains("<strong>bold</strong>"), "{html}");
    for bad in ["<script", "alert(1)", "onerror", "javascript:"] {
        assert!(!html.contains(bad), "{bad} in {html}");
    }
    for hidden in [
        "internal-password-policy",
        "reset-draft",
        "no-such-article",
        "Bad Slug",
    ] {
        app.call(
            Method::GET,
            &format!("/v1/public/articles/{hidden}"),
            None,
            None,
        )
        .await
        .assert_problem(404, "not_found");
    }
}
