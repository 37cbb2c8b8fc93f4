//! Duplicate customers: refused at creation when they share an email, a phone or a registration
//! number with a customer the caller can see; listed in candidate groups.

use rapport_tests::{Reply, TestApp, backend_tests};
use serde_json::{Value, json};
use uuid::Uuid;

backend_tests!(
    a_shared_email_in_any_case_is_a_duplicate,
    a_phone_typed_another_way_is_a_duplicate,
    a_shared_registration_number_is_a_duplicate,
    a_similar_name_alone_or_a_deleted_match_is_no_refusal,
    only_customers_the_caller_sees_are_duplicates,
    duplicate_groups_list_shared_emails_and_similar_names,
    duplicate_groups_page_with_a_cursor,
    a_rep_sees_only_groups_among_its_own_customers,
    erased_customers_are_no_duplicates,
    kept_groups_follow_every_write,
);

backend_tests!(
    region = "CN";
    a_national_phone_number_matches_its_international_form,
);

/// A customer body with one contact reachable at `email`.
fn with_email(name: &str, email: &str) -> Value {
    json!({"name": name, "contacts": [{"first_name": "Lei", "emails": [{"address": email}]}]})
}

/// A customer body with one contact reachable at `phone`.
fn with_phone(name: &str, phone: &str) -> Value {
    json!({"name": name, "contacts": [{"first_name": "Lei", "phones": [{"number": phone}]}]})
}

/// Creates a customer without `allow_duplicate`.
async fn create(app: &TestApp, token: &str, body: Value) -> Reply {
    app.post("/v1/customers", token, body).await
}

/// How many live customers `token`'s caller sees.
async fn count(app: &TestApp, token: &str) -> usize {
    let reply = app.get("/v1/customers?limit=200", token).await;
    reply.assert_status(200);
    reply.body["data"].as_array().unwrap().len()
}

/// The ids of the customers of one duplicate group.
fn member_ids(group: &Value) -> Vec<Uuid> {
    group["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// `(reason, value, member ids)` of every group on one page.
fn groups(reply: &Reply) -> Vec<(String, String, Vec<Uuid>)> {
    reply.assert_status(200);
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["reason"].as_str().unwrap().to_owned(),
                g["value"].as_str().unwrap().to_owned(),
                member_ids(g),
            )
        })
        .collect()
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

async fn a_shared_email_in_any_case_is_a_duplicate(app: TestApp) {
    let admin = app.admin_token().await;
    let existing = app
        .customer(&admin, with_email("Acme", "li.lei@example.cn"))
        .await;
    // Another name, and the shared address is the contact's second one, in other case.
    let body = json!({"name": "Totally Different Trading", "contacts": [{
        "first_name": "Wei",
        "emails": [{"address": "wei@other.example"}, {"address": "LI.Lei@Example.CN"}],
    }]});

    let refused = create(&app, &admin, body.clone()).await;
    refused.assert_problem(409, "duplicate");
    assert_eq!(refused.body["duplicate_ids"], json!([existing]));
    assert_eq!(count(&app, &admin).await, 1, "nothing was created");

    let allowed = app
        .post("/v1/customers?allow_duplicate=true", &admin, body)
        .await;
    allowed.assert_status(201);
    assert_ne!(allowed.body["id"], json!(existing));
    assert_eq!(count(&app, &admin).await, 2);
}

async fn a_phone_typed_another_way_is_a_duplicate(app: TestApp) {
    let admin = app.admin_token().await;
    let existing = app
        .customer(&admin, with_phone("Acme", "+8613800138000"))
        .await;

    let refused = create(&app, &admin, with_phone("Globex", "+86 138-0013-8000")).await;
    refused.assert_problem(409, "duplicate");
    assert_eq!(refused.body["duplicate_ids"], json!([existing]));

    // One digit off is another number.
    create(&app, &admin, with_phone("Initech", "+86 138-0013-8001"))
        .await
        .assert_status(201);
    let allowed = app
        .post(
            "/v1/customers?allow_duplicate=true",
            &admin,
            with_phone("Globex", "+86 138-0013-8000"),
        )
        .await;
    allowed.assert_status(201);
    assert_eq!(
        allowed.body["contacts"][0]["phones"][0]["number"],
        "+8613800138000"
    );
    assert_eq!(count(&app, &admin).await, 3);
}

async fn a_national_phone_number_matches_its_international_form(app: TestApp) {
    let admin = app.admin_token().await;
    let existing = app
        .customer(&admin, with_phone("Acme", "+8613800138000"))
        .await;
    let refused = create(&app, &admin, with_phone("Globex", "138 0013 8000")).await;
    refused.assert_problem(409, "duplicate");
    assert_eq!(refused.body["duplicate_ids"], json!([existing]));
}

async fn a_shared_registration_number_is_a_duplicate(app: TestApp) {
    let admin = app.admin_token().await;
    let existing = app
        .customer(
            &admin,
            json!({"name": "Fuzhou Acme", "country": "CN", "registration_number": "91350100M000100Y43"}),
        )
        .await;
    // Spaced and in lower case, it is the same code.
    let body = json!({"name": "Minhou Trading", "country": "CN", "registration_number": "9135 0100 m000 100y43"});

    let refused = create(&app, &admin, body.clone()).await;
    refused.assert_problem(409, "duplicate");
    assert_eq!(refused.body["duplicate_ids"], json!([existing]));
    assert_eq!(count(&app, &admin).await, 1);

    let allowed = app
        .post("/v1/customers?allow_duplicate=true", &admin, body)
        .await;
    allowed.assert_status(201);
    assert_eq!(allowed.body["registration_number"], "91350100M000100Y43");
}

async fn a_similar_name_alone_or_a_deleted_match_is_no_refusal(app: TestApp) {
    let admin = app.admin_token().await;
    let acme = app
        .customer(&admin, with_email("Acme Co., Ltd.", "buyer@acme.example"))
        .await;
    // A similar name is a candidate for the duplicate groups, not a refusal.
    create(&app, &admin, json!({"name": "ACME"}))
        .await
        .assert_status(201);
    // A deleted customer is no duplicate.
    app.delete(&format!("/v1/customers/{acme}"), &admin)
        .await
        .assert_status(204);
    let created = create(&app, &admin, with_email("Acme Again", "buyer@acme.example")).await;
    created.assert_status(201);
    // And the new one is.
    let refused = create(
        &app,
        &admin,
        with_email("Acme Thrice", "buyer@acme.example"),
    )
    .await;
    refused.assert_problem(409, "duplicate");
    assert_eq!(refused.body["duplicate_ids"], json!([created.body["id"]]));
}

async fn only_customers_the_caller_sees_are_duplicates(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app.team("East").await;
    let rep_a = app.user("sales_rep", Some(team)).await;
    let rep_b = app.user("sales_rep", Some(team)).await;
    let body = with_email("Acme", "buyer@acme.example");

    let of_a = app.customer(&rep_a.token, body.clone()).await;
    app.get(&format!("/v1/customers/{of_a}"), &rep_b.token)
        .await
        .assert_problem(404, "not_found");
    // Rep B does not see rep A's customer, so it is not refused because of it.
    let of_b = create(&app, &rep_b.token, body.clone()).await;
    of_b.assert_status(201);
    let of_b: Uuid = of_b.body["id"].as_str().unwrap().parse().unwrap();

    // Each rep is refused because of its own customer only.
    let refused = create(&app, &rep_a.token, body.clone()).await;
    refused.assert_problem(409, "duplicate");
    assert_eq!(refused.body["duplicate_ids"], json!([of_a]));
    let refused = create(&app, &rep_b.token, body.clone()).await;
    refused.assert_problem(409, "duplicate");
    assert_eq!(refused.body["duplicate_ids"], json!([of_b]));

    // Who sees both is told of both.
    let refused = create(&app, &admin, body).await;
    refused.assert_problem(409, "duplicate");
    assert_eq!(
        refused.body["duplicate_ids"],
        json!(sorted(vec![of_a, of_b]))
    );
}

async fn duplicate_groups_list_shared_emails_and_similar_names(app: TestApp) {
    let admin = app.admin_token().await;
    let acme = app
        .customer(&admin, with_email("Acme Co., Ltd.", "buyer@acme.example"))
        .await;
    let acme_short = app.customer(&admin, json!({"name": "ACME"})).await;
    let globex = app
        .customer(&admin, with_email("Globex", "BUYER@acme.example"))
        .await;
    app.customer(&admin, json!({"name": "Initech"})).await;

    let reply = app.get("/v1/customers/duplicates", &admin).await;
    assert_eq!(
        groups(&reply),
        [
            (
                "email".to_owned(),
                "buyer@acme.example".to_owned(),
                vec![acme, globex]
            ),
            ("name".to_owned(), "acme".to_owned(), vec![acme, acme_short]),
        ]
    );
    assert_eq!(reply.body["next_cursor"], json!(null));
    // The members are whole customers.
    assert_eq!(reply.body["data"][1]["customers"][1]["name"], "ACME");

    // A merged or deleted customer leaves its groups.
    app.delete(&format!("/v1/customers/{acme_short}"), &admin)
        .await
        .assert_status(204);
    let reply = app.get("/v1/customers/duplicates", &admin).await;
    assert_eq!(
        groups(&reply),
        [(
            "email".to_owned(),
            "buyer@acme.example".to_owned(),
            vec![acme, globex]
        )]
    );
}

async fn duplicate_groups_page_with_a_cursor(app: TestApp) {
    let admin = app.admin_token().await;
    let bodies = [
        with_email("Alpha", "shared@alpha.example"),
        with_email("Bravo", "shared@alpha.example"),
        with_phone("Charlie", "+8613800138000"),
        with_phone("Delta", "+86 138 0013 8000"),
        json!({"name": "Echo", "country": "CN", "registration_number": "91350100M000100Y43"}),
        json!({"name": "Foxtrot", "country": "CN", "registration_number": "91350100M000100Y43"}),
        json!({"name": "Golf Co., Ltd."}),
        json!({"name": "GOLF"}),
        json!({"name": "Hotel Inc."}),
        json!({"name": "hotel"}),
    ];
    for body in bodies {
        app.customer(&admin, body).await;
    }
    let all = groups(&app.get("/v1/customers/duplicates", &admin).await);
    let reasons: Vec<&str> = all.iter().map(|(r, _, _)| r.as_str()).collect();
    assert_eq!(
        reasons,
        ["email", "name", "name", "phone", "registration_number"]
    );

    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/v1/customers/duplicates?limit=1&cursor={c}"),
            None => "/v1/customers/duplicates?limit=1".to_owned(),
        };
        let page = app.get(&path, &admin).await;
        let on_page = groups(&page);
        assert_eq!(on_page.len(), 1, "{}", page.body);
        walked.extend(on_page);
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(walked, all, "each group exactly once, in order");
}

async fn a_rep_sees_only_groups_among_its_own_customers(app: TestApp) {
    let admin = app.admin_token().await;
    let team = app.team("East").await;
    let rep_a = app.user("sales_rep", Some(team)).await;
    let rep_b = app.user("sales_rep", Some(team)).await;
    let a1 = app
        .customer(&rep_a.token, with_email("Alpha", "shared@alpha.example"))
        .await;
    let a2 = app
        .customer(&rep_a.token, with_email("Bravo", "shared@alpha.example"))
        .await;
    let a3 = app
        .customer(&rep_a.token, json!({"name": "Umbrella Ltd"}))
        .await;
    let b1 = app
        .customer(&rep_b.token, with_email("Charlie", "shared@alpha.example"))
        .await;
    let b2 = app
        .customer(&rep_b.token, json!({"name": "UMBRELLA"}))
        .await;

    let of_a = groups(&app.get("/v1/customers/duplicates", &rep_a.token).await);
    assert_eq!(
        of_a,
        [(
            "email".to_owned(),
            "shared@alpha.example".to_owned(),
            vec![a1, a2]
        )]
    );
    let of_b = groups(&app.get("/v1/customers/duplicates", &rep_b.token).await);
    assert!(
        of_b.is_empty(),
        "rep B has no two customers alike: {of_b:?}"
    );

    let all = groups(&app.get("/v1/customers/duplicates", &admin).await);
    assert_eq!(
        all,
        [
            (
                "email".to_owned(),
                "shared@alpha.example".to_owned(),
                vec![a1, a2, b1]
            ),
            ("name".to_owned(), "umbrella".to_owned(), vec![a3, b2]),
        ]
    );
}

/// An erased customer keeps no name, email or number: nothing to be a duplicate by.
async fn erased_customers_are_no_duplicates(app: TestApp) {
    let admin = app.admin_token().await;
    let mut erased = Vec::new();
    for name in ["Acme", "Globex"] {
        let id = app
            .customer(&admin, with_email(name, "buyer@acme.example"))
            .await;
        app.post(&format!("/v1/customers/{id}/erase"), &admin, json!({}))
            .await
            .assert_status(200);
        erased.push(id);
    }
    let reply = app.get("/v1/customers/duplicates", &admin).await;
    assert!(groups(&reply).is_empty(), "{}", reply.body);
    create(&app, &admin, with_email("Initech", "buyer@acme.example"))
        .await
        .assert_status(201);
}

/// The email groups and name groups listed to the admin, as (reason, value, members).
async fn listed(app: &TestApp, token: &str) -> Vec<(String, String, Vec<Uuid>)> {
    groups(&app.get("/v1/customers/duplicates", token).await)
}

async fn kept_groups_follow_every_write(app: TestApp) {
    let admin = app.admin_token().await;
    let email_group =
        |ids: Vec<Uuid>| ("email".to_owned(), "x@kept.example".to_owned(), sorted(ids));
    let a = app
        .customer(&admin, with_email("Alpha", "x@kept.example"))
        .await;
    let made = app
        .post(
            "/v1/customers?allow_duplicate=true",
            &admin,
            with_email("Bravo", "x@kept.example"),
        )
        .await;
    made.assert_status(201);
    let b: Uuid = made.body["id"].as_str().unwrap().parse().unwrap();
    let b_contact = made.body["contacts"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed(&app, &admin).await, [email_group(vec![a, b])]);

    // An edited contact takes its customer out of the group, and back.
    let edit = |address: &str| json!({"emails": [{"address": address}]});
    app.patch(
        &format!("/v1/contacts/{b_contact}"),
        &admin,
        edit("y@kept.example"),
    )
    .await
    .assert_status(200);
    assert_eq!(listed(&app, &admin).await, []);
    app.patch(
        &format!("/v1/contacts/{b_contact}"),
        &admin,
        edit("x@kept.example"),
    )
    .await
    .assert_status(200);
    assert_eq!(listed(&app, &admin).await, [email_group(vec![a, b])]);

    // Deleted, it leaves; restored, it is back.
    app.delete(&format!("/v1/customers/{b}"), &admin)
        .await
        .assert_status(204);
    assert_eq!(listed(&app, &admin).await, []);
    app.post(&format!("/v1/customers/{b}/restore"), &admin, json!({}))
        .await
        .assert_status(200);
    assert_eq!(listed(&app, &admin).await, [email_group(vec![a, b])]);

    // A third joins; merged into the first, the group is the two left.
    let c = app
        .customer(&admin, with_email("Charlie", "x@kept.example"))
        .await;
    assert_eq!(listed(&app, &admin).await, [email_group(vec![a, b, c])]);
    app.post(
        &format!("/v1/customers/{a}/merge"),
        &admin,
        json!({"duplicate_ids": [c]}),
    )
    .await
    .assert_status(200);
    assert_eq!(listed(&app, &admin).await, [email_group(vec![a, b])]);

    // Names group too, and a renamed customer leaves its name's group.
    let zulu = app.customer(&admin, json!({"name": "Zulu Ltd."})).await;
    let zulu_too = app.customer(&admin, json!({"name": "ZULU"})).await;
    let name_group = (
        "name".to_owned(),
        "zulu".to_owned(),
        sorted(vec![zulu, zulu_too]),
    );
    assert_eq!(
        listed(&app, &admin).await,
        [email_group(vec![a, b]), name_group]
    );
    app.patch(
        &format!("/v1/customers/{zulu_too}"),
        &admin,
        json!({"name": "Yankee"}),
    )
    .await
    .assert_status(200);
    assert_eq!(listed(&app, &admin).await, [email_group(vec![a, b])]);

    // Erased, a customer is nobody's duplicate.
    app.post(&format!("/v1/customers/{b}/erase"), &admin, json!({}))
        .await
        .assert_status(200);
    assert_eq!(listed(&app, &admin).await, []);
}
