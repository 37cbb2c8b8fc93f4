//! Field-level security on every JSON answer: for a caller whose role sees personal fields
//! masked (`rapport_domain::masking`) and who lacks `customers:pii`, the fields are masked
//! whatever route answered. The contract fixes their shapes (`phones[].number`,
//! `emails[].address`, `addresses[]`, `registration_number`), so records, lists, merges,
//! exports, replays and the audit trail's before/after values are masked alike.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use rapport_domain::auth::Scope;
use rapport_domain::masking::{Masking, mask_email, mask_phone, mask_tail};
use serde_json::Value;

use crate::auth::Caller;
use crate::error::ApiError;

/// What `caller` sees masked.
pub fn masking_of(caller: &Caller) -> Masking {
    if caller.scopes.contains(Scope::CustomersPii) {
        Masking::NONE
    } else {
        Masking::for_role(caller.role())
    }
}

/// Middleware: see the module documentation.
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn mask_personal_fields(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let res = next.call(req).await?;
    let masking = res
        .request()
        .extensions()
        .get::<Caller>()
        .map_or(Masking::NONE, masking_of);
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if masking.is_none() || !json {
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|_| ApiError::internal("reading an answer to mask", "body error"))?;
    let masked = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut value) => {
            mask(&mut value, masking);
            serde_json::to_vec(&value)
                .map_err(|e| ApiError::internal("writing a masked answer", e))?
        }
        Err(_) => bytes.to_vec(),
    };
    let mut res = head.set_body(masked).map_into_boxed_body();
    res.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(ServiceResponse::new(req, res))
}

/// Masks the personal fields anywhere in `value`.
pub fn mask(value: &mut Value, masking: Masking) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                mask_field(key, field, masking);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| mask(item, masking)),
        _ => {}
    }
}

fn mask_field(key: &str, field: &mut Value, m: Masking) {
    // The audit trail's changes: `{"phones": {"before": […], "after": […]}}`.
    if let Value::Object(sides) = field
        && (sides.contains_key("before") || sides.contains_key("after"))
    {
        for side in ["before", "after"] {
            if let Some(value) = sides.get_mut(side) {
                mask_field(key, value, m);
            }
        }
        return;
    }
    let each = |field: &mut Value, inner: &str, how: &dyn Fn(&str) -> String| {
        if let Value::Array(items) = field {
            for item in items {
                if let Some(Value::String(s)) = item.get_mut(inner) {
                    *s = how(s);
                }
            }
        }
    };
    match key {
        "phones" if m.phones => each(field, "number", &mask_phone),
        "emails" if m.emails => each(field, "address", &mask_email),
        "addresses" if m.addresses => {
            for part in ["line1", "line2", "postal_code"] {
                each(field, part, &|s| mask_tail(s, 0));
            }
        }
        "registration_number" if m.registration_numbers => {
            if let Value::String(s) = field {
                *s = mask_tail(s, 4);
            }
        }
        _ => mask(field, m),
    }
}

#[cfg(test)]
mod tests {
    use rapport_domain::auth::Role;
    use serde_json::json;

    use super::*;

    #[test]
    fn masks_the_contracts_personal_fields_wherever_they_are() {
        let mut answer = json!({"data": [{
            "name": "深圳张氏科技有限公司",
            "registration_number": "91350100M000100Y43",
            "addresses": [{"label": "billing", "line1": "88 Peony Road", "city": "Hangzhou",
                           "postal_code": "310000", "country": "CN"}],
            "contacts": [{"first_name": "Lei",
                          "phones": [{"number": "+8613800138000", "label": "mobile"}],
                          "emails": [{"address": "li.lei@example.cn", "label": "work"}]}]
        }], "changes": {"phones": {"before": [{"number": "+14155552671"}], "after": []}}});
        let mut marketing = answer.clone();
        mask(&mut marketing, Masking::for_role(Role::Marketing));
        let contact = &marketing["data"][0]["contacts"][0];
        assert_eq!(contact["phones"][0]["number"], "+86 138****8000");
        assert_eq!(contact["emails"][0]["address"], "li.lei@example.cn");
        assert_eq!(
            marketing["changes"]["phones"]["before"][0]["number"],
            "+1 415****2671"
        );
        assert_eq!(
            marketing["data"][0]["addresses"][0]["line1"],
            "88 Peony Road"
        );

        mask(&mut answer, Masking::for_role(Role::Auditor));
        let customer = &answer["data"][0];
        assert_eq!(
            customer["contacts"][0]["emails"][0]["address"],
            "l***@example.cn"
        );
        assert_eq!(customer["registration_number"], "****0Y43");
        assert_eq!(customer["addresses"][0]["line1"], "****");
        assert_eq!(customer["addresses"][0]["city"], "Hangzhou");
        assert_eq!(customer["name"], "深圳张氏科技有限公司");
        assert_eq!(customer["contacts"][0]["first_name"], "Lei");
    }
}
