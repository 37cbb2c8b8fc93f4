//! A contact's birthday: given on every way a contact is made, changed and forgotten, refused
//! at the part that is wrong, audited, exported and erased.

use chrono::Datelike;
use rapport_domain::clock::Clock;
use rapport_tests::{TestApp, backend_tests};
use serde_json::{Value, json};

backend_tests!(
    birthdays_are_kept_with_or_without_a_year,
    birthdays_are_given_wherever_contacts_are_made,
    a_birthday_is_changed_and_cleared,
    refused_birthdays_name_their_part,
    the_export_holds_the_birthday_and_erasure_forgets_it,
);

/// A customer with no contact; answers its id.
async fn customer(app: &TestApp, token: &str, name: &str) -> String {
    app.customer(token, json!({"name": name})).await.to_string()
}

async fn birthdays_are_kept_with_or_without_a_year(app: TestApp) {
    let admin = app.admin_token().await;
    let id = customer(&app, &admin, "Birthday Ltd").await;
    let contacts = format!("/v1/customers/{id}/contacts");
    let dated = app
        .post(
            &contacts,
            &admin,
            json!({"first_name": "Ann", "birthday": {"month": 5, "day": 17, "year": 1980}}),
        )
        .await;
    dated.assert_status(201);
    assert_eq!(
        dated.body["birthday"],
        json!({"month": 5, "day": 17, "year": 1980})
    );
    let undated = app
        .post(
            &contacts,
            &admin,
            json!({"first_name": "Bob", "birthday": {"month": 2, "day": 29}}),
        )
        .await;
    undated.assert_status(201);
    assert_eq!(
        undated.body["birthday"],
        json!({"month": 2, "day": 29, "year": null}),
        "29 February needs no year"
    );
    let explicit_null_year = app
        .post(
            &contacts,
            &admin,
            json!({"first_name": "Cai", "birthday": {"month": 12, "day": 31, "year": null}}),
        )
        .await;
    explicit_null_year.assert_status(201);
    assert_eq!(explicit_null_year.body["birthday"]["year"], Value::Null);
    let unknown = app
        .post(&contacts, &admin, json!({"first_name": "Dee"}))
        .await;
    unknown.assert_status(201);
    assert_eq!(unknown.body["birthday"], Value::Null);
    let none = app
        .post(
            &contacts,
            &admin,
            json!({"first_name": "Eve", "birthday": null}),
        )
        .await;
    none.assert_status(201);
    assert_eq!(none.body["birthday"], Value::Null);

    // Every answer that holds the contact shows it as stored.
    let ann = dated.body["id"].as_str().unwrap();
    let got = app.get(&format!("/v1/contacts/{ann}"), &admin).await;
    got.assert_status(200);
    assert_eq!(
        got.body["birthday"],
        json!({"month": 5, "day": 17, "year": 1980})
    );
    let list = app.get(&contacts, &admin).await;
    let birthdays: Vec<&Value> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["birthday"])
        .collect();
    assert_eq!(birthdays.len(), 5);
    assert!(birthdays.contains(&&json!({"month": 2, "day": 29, "year": null})));
    let all = app
        .get(&format!("/v1/contacts?customer_id={id}"), &admin)
        .await;
    assert!(
        all.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["birthday"] == json!({"month": 5, "day": 17, "year": 1980}))
    );
    let with_customer = app.get(&format!("/v1/customers/{id}"), &admin).await;
    assert!(
        with_customer.body["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["birthday"] == json!({"month": 5, "day": 17, "year": 1980}))
    );
}

async fn birthdays_are_given_wherever_contacts_are_made(app: TestApp) {
    let admin = app.admin_token().await;
    let inline = app
        .post(
            "/v1/customers",
            &admin,
            json!({"name": "Inline Birthday Ltd", "contacts": [
                {"first_name": "Fei", "birthday": {"month": 3, "day": 8, "year": 1975}},
                {"first_name": "Gao"},
            ]}),
        )
        .await;
    inline.assert_status(201);
    assert_eq!(
        inline.body["contacts"][0]["birthday"],
        json!({"month": 3, "day": 8, "year": 1975})
    );
    assert_eq!(inline.body["contacts"][1]["birthday"], Value::Null);
    let id = inline.body["id"].as_str().unwrap();

    let batch = app
        .post(
            "/v1/contacts/batch",
            &admin,
            json!({"items": [
                {"customer_id": id, "first_name": "Hu", "birthday": {"month": 7, "day": 1}},
                {"customer_id": id, "first_name": "Ji", "birthday": {"month": 6, "day": 31}},
            ]}),
        )
        .await;
    batch.assert_status(200);
    let items = &batch.body["items"];
    assert_eq!(items[0]["status"], 201, "{}", batch.body);
    assert_eq!(items[1]["status"], 422, "{}", batch.body);
    assert_eq!(items[1]["error"]["errors"][0]["field"], "birthday.day");
    let hu = items[0]["id"].as_str().unwrap();
    let got = app.get(&format!("/v1/contacts/{hu}"), &admin).await;
    assert_eq!(
        got.body["birthday"],
        json!({"month": 7, "day": 1, "year": null})
    );

    // A batch upsert changes the birthday of the contact it finds.
    let upsert = app
        .post(
            "/v1/contacts/batch",
            &admin,
            json!({"upsert_on": "email", "items": [
                {"customer_id": id, "first_name": "Ki", "emails": [{"address": "ki@birthday.example"}],
                 "birthday": {"month": 1, "day": 2}},
            ]}),
        )
        .await;
    assert_eq!(upsert.body["items"][0]["status"], 201, "{}", upsert.body);
    let ki = upsert.body["items"][0]["id"].as_str().unwrap().to_owned();
    let upsert = app
        .post(
            "/v1/contacts/batch",
            &admin,
            json!({"upsert_on": "email", "items": [
                {"emails": [{"address": "ki@birthday.example"}], "birthday": {"month": 1, "day": 3, "year": 1990}},
            ]}),
        )
        .await;
    assert_eq!(upsert.body["items"][0]["status"], 200, "{}", upsert.body);
    let got = app.get(&format!("/v1/contacts/{ki}"), &admin).await;
    assert_eq!(
        got.body["birthday"],
        json!({"month": 1, "day": 3, "year": 1990})
    );

    let customers = app
        .post(
            "/v1/customers/batch",
            &admin,
            json!({"items": [
                {"name": "Batch Birthday Ltd", "contacts": [{"first_name": "Lu", "birthday": {"month": 11, "day": 30, "year": 2001}}]},
                {"name": "Bad Birthday Ltd", "contacts": [{"first_name": "Ma", "birthday": {"month": 11, "day": 31}}]},
            ]}),
        )
        .await;
    customers.assert_status(200);
    let items = &customers.body["items"];
    assert_eq!(items[0]["status"], 201, "{}", customers.body);
    assert_eq!(items[1]["status"], 422, "{}", customers.body);
    assert_eq!(
        items[1]["error"]["errors"][0]["field"],
        "contacts[0].birthday.day"
    );
    let made = items[0]["id"].as_str().unwrap();
    let got = app.get(&format!("/v1/customers/{made}"), &admin).await;
    assert_eq!(
        got.body["contacts"][0]["birthday"],
        json!({"month": 11, "day": 30, "year": 2001})
    );
}

async fn a_birthday_is_changed_and_cleared(app: TestApp) {
    let admin = app.admin_token().await;
    let id = customer(&app, &admin, "Changing Birthday Ltd").await;
    let created = app
        .post(
            &format!("/v1/customers/{id}/contacts"),
            &admin,
            json!({"first_name": "Ann", "birthday": {"month": 5, "day": 17}}),
        )
        .await;
    created.assert_status(201);
    let ann = created.body["id"].as_str().unwrap();
    let path = format!("/v1/contacts/{ann}");

    let changed = app
        .patch(
            &path,
            &admin,
            json!({"birthday": {"month": 5, "day": 18, "year": 1981}}),
        )
        .await;
    changed.assert_status(200);
    assert_eq!(
        changed.body["birthday"],
        json!({"month": 5, "day": 18, "year": 1981})
    );
    assert_eq!(changed.body["version"], 2);

    // A change of something else keeps it.
    let renamed = app.patch(&path, &admin, json!({"title": "CFO"})).await;
    renamed.assert_status(200);
    assert_eq!(
        renamed.body["birthday"],
        json!({"month": 5, "day": 18, "year": 1981})
    );

    let cleared = app.patch(&path, &admin, json!({"birthday": null})).await;
    cleared.assert_status(200);
    assert_eq!(cleared.body["birthday"], Value::Null);
    let got = app.get(&path, &admin).await;
    assert_eq!(got.body["birthday"], Value::Null);

    // Each change is in the contact's audit trail, like its other fields.
    let events = app.audit_events(ann).await;
    let change_of = |action: &str, after: Value| {
        events.iter().any(|e| {
            e["action"] == action
                && e["entity_type"] == "contact"
                && e["changes"]["birthday"]["after"] == after
        })
    };
    assert!(
        change_of("create", json!({"month": 5, "day": 17, "year": null})),
        "{events:?}"
    );
    assert!(
        change_of("update", json!({"month": 5, "day": 18, "year": 1981})),
        "{events:?}"
    );
    let clearing = events
        .iter()
        .find(|e| e["action"] == "update" && e["changes"]["birthday"]["after"].is_null())
        .unwrap_or_else(|| panic!("no clearing event: {events:?}"));
    assert_eq!(
        clearing["changes"]["birthday"]["before"],
        json!({"month": 5, "day": 18, "year": 1981})
    );
    let title = events
        .iter()
        .find(|e| e["action"] == "update" && e["changes"]["title"].is_object())
        .unwrap_or_else(|| panic!("no title change: {events:?}"));
    assert!(
        title["changes"].get("birthday").is_none(),
        "a change of the title alone says nothing of the birthday"
    );
}

async fn refused_birthdays_name_their_part(app: TestApp) {
    let admin = app.admin_token().await;
    let id = customer(&app, &admin, "Refused Birthday Ltd").await;
    let contacts = format!("/v1/customers/{id}/contacts");
    let next_year = app.clock.now().year() + 1;
    let cases = [
        (
            json!({"month": 13, "day": 1}),
            "birthday.month",
            "out_of_range",
        ),
        (
            json!({"month": 0, "day": 1}),
            "birthday.month",
            "out_of_range",
        ),
        (
            json!({"month": 4, "day": 31}),
            "birthday.day",
            "out_of_range",
        ),
        (
            json!({"month": 2, "day": 30}),
            "birthday.day",
            "out_of_range",
        ),
        (
            json!({"month": 2, "day": 29, "year": 2023}),
            "birthday.year",
            "invalid_date",
        ),
        (
            json!({"month": 1, "day": 1, "year": next_year}),
            "birthday.year",
            "out_of_range",
        ),
        (
            json!({"month": 1, "day": 1, "year": 1899}),
            "birthday.year",
            "out_of_range",
        ),
        (json!({"month": 1}), "birthday.day", "required"),
        (
            json!({"month": "May", "day": 1}),
            "birthday.month",
            "invalid_type",
        ),
        (
            json!({"month": 5, "day": 17, "hour": 9}),
            "birthday.hour",
            "unknown_field",
        ),
    ];
    for (birthday, field, code) in cases {
        let reply = app
            .post(
                &contacts,
                &admin,
                json!({"first_name": "Nope", "birthday": birthday}),
            )
            .await;
        reply.assert_problem(422, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{birthday}: {}", reply.body);
        assert_eq!(reply.body["errors"][0]["code"], code, "{birthday}");
    }
    // Every refused part at once, with the contact's other refused fields.
    let reply = app
        .post(
            &contacts,
            &admin,
            json!({"first_name": "Nope", "phones": [{"number": "12"}],
                   "birthday": {"month": 13, "day": 32, "year": 1800}}),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(
        reply.error_fields(),
        [
            "phones[0].number",
            "birthday.month",
            "birthday.day",
            "birthday.year"
        ]
    );
    let list = app.get(&contacts, &admin).await;
    assert_eq!(list.body["data"], json!([]), "nothing was written");

    // Inline contacts are named at their index.
    let reply = app
        .post(
            "/v1/customers",
            &admin,
            json!({"name": "Inline Refused Ltd", "contacts": [
                {"first_name": "Ok"},
                {"first_name": "Nope", "birthday": {"month": 2, "day": 29, "year": 2023}},
            ]}),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["contacts[1].birthday.year"]);

    // A change is refused the same way, and keeps what was stored.
    let created = app
        .post(
            &contacts,
            &admin,
            json!({"first_name": "Ann", "birthday": {"month": 5, "day": 17, "year": 1980}}),
        )
        .await;
    created.assert_status(201);
    let path = format!("/v1/contacts/{}", created.body["id"].as_str().unwrap());
    for (birthday, field) in [
        (json!({"month": 13, "day": 1}), "birthday.month"),
        (json!({"month": 4, "day": 31}), "birthday.day"),
        (
            json!({"month": 2, "day": 29, "year": 2023}),
            "birthday.year",
        ),
        (
            json!({"month": 1, "day": 1, "year": next_year}),
            "birthday.year",
        ),
    ] {
        let reply = app
            .patch(&path, &admin, json!({"birthday": birthday}))
            .await;
        reply.assert_problem(422, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{birthday}");
    }
    let got = app.get(&path, &admin).await;
    assert_eq!(
        got.body["birthday"],
        json!({"month": 5, "day": 17, "year": 1980})
    );
    assert_eq!(got.body["version"], 1);
}

async fn the_export_holds_the_birthday_and_erasure_forgets_it(app: TestApp) {
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/v1/customers",
            &admin,
            json!({"name": "Exported Birthday Ltd", "contacts": [
                {"first_name": "Nan", "birthday": {"month": 9, "day": 23, "year": 1967}},
            ]}),
        )
        .await;
    created.assert_status(201);
    let id = created.body["id"].as_str().unwrap();
    let contact = created.body["contacts"][0]["id"].as_str().unwrap();
    let export = app.get(&format!("/v1/customers/{id}/export"), &admin).await;
    export.assert_status(200);
    assert_eq!(
        export.body["contacts"][0]["birthday"],
        json!({"month": 9, "day": 23, "year": 1967})
    );

    let erased = app
        .post(&format!("/v1/customers/{id}/erase"), &admin, json!({}))
        .await;
    erased.assert_status(200);
    assert_eq!(erased.body["contacts"][0]["birthday"], Value::Null);
    let got = app.get(&format!("/v1/contacts/{contact}"), &admin).await;
    assert_eq!(got.body["birthday"], Value::Null);
    let export = app.get(&format!("/v1/customers/{id}/export"), &admin).await;
    export.assert_status(200);
    assert_eq!(export.body["contacts"][0]["birthday"], Value::Null);
    // Nor does the audit trail remember it.
    let trail = export.body["audit_events"].to_string();
    assert!(!trail.contains("1967"), "{trail}");
    let created_event = export.body["audit_events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entity_id"] == contact && e["action"] == "create")
        .unwrap_or_else(|| panic!("no create event: {trail}"));
    assert_eq!(
        created_event["changes"]["birthday"]["after"],
        json!({"month": "[erased]", "day": "[erased]", "year": "[erased]"})
    );
}
