//! The served OpenAPI document, read by the tests that walk every operation: a route added
//! later is checked without anyone remembering to add it to a list.

use reqwest::Method;
use serde_json::Value;

use crate::TestApp;

/// Public on purpose: the token endpoints; and, outside `/v1`, health, metrics and the
/// document; and the help center and other pages under `/v1/public/`.
const PUBLIC: [&str; 2] = ["/v1/auth/token", "/v1/auth/revoke"];

/// Whether an operation on `path` answers without a token.
pub fn is_public(path: &str) -> bool {
    !path.starts_with("/v1") || PUBLIC.contains(&path) || path.starts_with("/v1/public/")
}

/// The served document.
pub async fn fetch(app: &TestApp) -> Value {
    app.client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
}

/// One documented operation.
#[derive(Debug, Clone)]
pub struct Operation {
    pub method: Method,
    /// As documented: `/v1/customers/{id}`.
    pub template: String,
    /// The OAuth2 scopes it needs; empty for staff operations without one.
    pub scopes: Vec<String>,
}

impl Operation {
    /// `GET /v1/customers/{id}`, for messages.
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.template)
    }
}

/// Every operation that needs a token.
pub fn secured_operations(doc: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    for (template, item) in doc["paths"].as_object().unwrap() {
        if is_public(template) {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            let scopes = op["security"][0]["oauth2"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            ops.push(Operation {
                method: method.to_uppercase().parse().unwrap(),
                template: template.clone(),
                scopes,
            });
        }
    }
    assert!(ops.len() > 10, "the document lists the operations");
    ops
}

/// The template with each path parameter filled by `fill(name)`, or else with a value that
/// names nothing: a fresh id, version number 999,999, or an unknown slug. Every parameter is
/// filled, so the handler is reached (a left `{stage_id}` would fail to parse and answer 404
/// before it).
pub fn concrete_with(template: &str, fill: impl Fn(&str) -> Option<String>) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        path.push_str(&rest[..start]);
        let name = &rest[start + 1..end - 1];
        path.push_str(&fill(name).unwrap_or_else(|| match name {
            "number" => "999999".to_owned(),
            "slug" => "no-such-article".to_owned(),
            _ => uuid::Uuid::now_v7().to_string(),
        }));
        rest = &rest[end..];
    }
    path.push_str(rest);
    path
}

/// The template with every path parameter naming nothing (see [`concrete_with`]).
pub fn concrete(template: &str) -> String {
    concrete_with(template, |_| None)
}
