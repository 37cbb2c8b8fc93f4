//! Field-level security: marketing sees contact phones masked, auditors every personal field,
//! in every answer; `customers:pii` unmasks; a masked value is never taken back as input.

use rapport_tests::{TestApp, backend_tests};
use serde_json::{Value, json};

backend_tests!(
    marketing_sees_phones_masked_everywhere,
    auditors_see_personal_fields_masked_even_in_the_audit_trail,
    masked_values_cannot_be_written_back,
);

const PHONE: &str = "+8613800138000";
const MASKED_PHONE: &str = "+86 138****8000";
const EMAIL: &str = "meiling.xu@qilin-lantern.example";

/// A customer with a contact, a registration number and an address: (customer, contact) ids.
async fn qilin(app: &TestApp) -> (String, String) {
    let admin = app.admin_token().await;
    let created = app
        .post(
            "/v1/customers",
            &admin,
            json!({"name": "Qilin Lantern Works", "country": "CN",
                   "registration_number": "91350100M000100Y43",
                   "addresses": [{"label": "billing", "line1": "88 Peony Road",
                                  "city": "Hangzhou", "postal_code": "310012", "country": "CN"}],
                   "contacts": [{"first_name": "Meiling", "last_name": "Xu",
                                 "emails": [{"address": EMAIL}],
                                 "phones": [{"number": "+86 138-0013-8000"}]}]}),
        )
        .await;
    created.assert_status(201);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let contact = created.body["contacts"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, contact)
}

/// Every phone number anywhere in `value`.
fn phones(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let text = value.to_string();
    for piece in text.split("\"number\":\"").skip(1) {
        found.push(piece.split('"').next().unwrap().to_owned());
    }
    found
}

async fn marketing_sees_phones_masked_everywhere(app: TestApp) {
    let (id, contact) = qilin(&app).await;
    let marketing = app.user("marketing", None).await;
    for path in [
        format!("/v1/customers/{id}"),
        format!("/v1/customers/{id}/contacts"),
        format!("/v1/contacts/{contact}"),
    ] {
        let reply = app.get(&path, &marketing.token).await;
        reply.assert_status(200);
        assert_eq!(
            phones(&reply.body),
            [MASKED_PHONE],
            "{path}: {}",
            reply.body
        );
        // Only phones: emails and the rest stay as they are.
        assert!(reply.body.to_string().contains(EMAIL), "{path}");
    }
    // Lists (a search by the phone included) never show it either.
    for path in ["/v1/customers", "/v1/customers?q=13800138000"] {
        let reply = app.get(path, &marketing.token).await;
        reply.assert_status(200);
        assert_eq!(reply.body["data"][0]["id"], json!(id), "{path}");
        assert!(!reply.body.to_string().contains("13800138000"), "{path}");
    }
    // Those who may see them see them.
    let admin = app.admin_token().await;
    let full = app.get(&format!("/v1/customers/{id}"), &admin).await;
    assert_eq!(phones(&full.body), [PHONE]);
    let rep_view = app.client_token(&["customers:read", "customers:pii"]).await;
    let unmasked = app.get(&format!("/v1/contacts/{contact}"), &rep_view).await;
    assert_eq!(phones(&unmasked.body), [PHONE]);
}

async fn auditors_see_personal_fields_masked_even_in_the_audit_trail(app: TestApp) {
    let (id, _) = qilin(&app).await;
    let auditor = app.user("auditor", None).await;
    let customer = app
        .get(&format!("/v1/customers/{id}"), &auditor.token)
        .await;
    customer.assert_status(200);
    let body = &customer.body;
    assert_eq!(body["registration_number"], "****0Y43");
    assert_eq!(body["addresses"][0]["line1"], "****");
    assert_eq!(body["addresses"][0]["city"], "Hangzhou");
    assert_eq!(
        body["contacts"][0]["emails"][0]["address"],
        "m***@qilin-lantern.example"
    );
    assert_eq!(body["contacts"][0]["phones"][0]["number"], MASKED_PHONE);
    let trail = app
        .get(
            &format!("/v1/audit-events?customer_id={id}&limit=200"),
            &auditor.token,
        )
        .await;
    trail.assert_status(200);
    let text = trail.body.to_string();
    assert!(!trail.body["data"].as_array().unwrap().is_empty());
    for secret in [PHONE, EMAIL, "91350100M000100Y43", "88 Peony Road"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

async fn masked_values_cannot_be_written_back(app: TestApp) {
    let (id, contact) = qilin(&app).await;
    let admin = app.admin_token().await;
    let refused = app
        .patch(
            &format!("/v1/contacts/{contact}"),
            &admin,
            json!({"phones": [{"number": MASKED_PHONE}], "emails": [{"address": "m***@qilin-lantern.example"}]}),
        )
        .await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(
        refused.error_fields(),
        ["emails[0].address", "phones[0].number"]
    );
    assert!(
        refused.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["code"] == "masked_value"),
        "{}",
        refused.body
    );
    app.patch(
        &format!("/v1/customers/{id}"),
        &admin,
        json!({"registration_number": "****0Y43"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let kept = app.get(&format!("/v1/contacts/{contact}"), &admin).await;
    assert_eq!(phones(&kept.body), [PHONE]);
}
