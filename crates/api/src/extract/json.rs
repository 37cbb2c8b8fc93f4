//! `Json<T>`: a JSON body that must say it is JSON (415), fit the limit (413), parse (400),
//! and match the type (422 naming the field, including unknown fields).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use rapport_domain::{Invalid, ValidationErrors};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::extract::read_body;
use crate::i18n::Text;

/// A JSON request body, deserialized with precise errors.
///
/// Extraction itself never fails: actix resolves a handler's extractors together, and a body
/// error must not answer before the auth extractor had its say (an anonymous caller gets 401,
/// not a validation report). The handler takes the body with [`Json::into_inner`] after auth.
#[derive(Debug)]
pub struct Json<T>(Result<T, ApiError>);

impl<T> Json<T> {
    /// # Errors
    /// 400, 413, 415 or 422 when the body was refused.
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

/// Is this media type (lower-case, without parameters) JSON: `application/json` or `+json`?
pub fn is_json_content_type(media_type: &str) -> bool {
    media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| is_json_content_type(&v))
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json(&req) {
                return Ok(Json(Err(ApiError::UnsupportedMediaType)));
            }
            let parsed = match read_body(&req, &mut payload).await {
                Ok(body) => parse_json(&body),
                Err(e) => Err(e),
            };
            Ok(Json(parsed))
        })
    }
}

/// An optional JSON body: `None` when the request has none, parsed like [`Json`] otherwise.
///
/// # Errors
/// As [`Json`].
pub async fn optional_json<T: DeserializeOwned>(
    req: &HttpRequest,
    mut payload: actix_web::web::Payload,
) -> Result<Option<T>, ApiError> {
    let body = read_body(req, &mut payload).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !is_json(req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    parse_json(&body).map(Some)
}

/// Deserializes `body`, turning serde's first error into a 400 (not JSON) or a 422 naming the
/// field (`contacts[1].phones[0].number`).
///
/// # Errors
/// See above.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => not_an_object(),
                Err(e) => malformed(&e),
            },
        );
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => data_error(&path, &inner),
            _ => malformed(&inner),
        }
    })
}

fn malformed(error: &serde_json::Error) -> ApiError {
    ApiError::Malformed(Text::new(
        format!("The body is not valid JSON: {error}"),
        format!("请求体不是有效的 JSON：{error}"),
    ))
}

/// Deserializes a JSON value already parsed (a batch item) as [`parse_json`] does a body.
///
/// # Errors
/// 422 naming the field.
pub fn parse_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if value.is_array() {
        return Err(not_an_object());
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        data_error(&path, err.inner())
    })
}

/// Every body is a JSON object, but serde would also fill a struct from an array, field by
/// field in declaration order (`[null, null]` as a change of nothing): refuse it as the
/// wrong type of body, as it refuses `5`.
fn not_an_object() -> ApiError {
    ApiError::Validation(ValidationErrors::single(
        String::new(),
        Invalid::InvalidType,
    ))
}

fn data_error(path: &str, inner: &serde_json::Error) -> ApiError {
    let (field, invalid) = classify_data_error(path, &inner.to_string());
    ApiError::Validation(ValidationErrors::single(field, invalid))
}

/// Fields the server manages: sending one is refused as `not_allowed` (no mass assignment),
/// not as an unknown field.
const SERVER_FIELDS: &[&str] = &[
    "id",
    "created_at",
    "updated_at",
    "version",
    "deleted_at",
    "erased_at",
    "merged_into_id",
    "first_contact_due_at",
    "first_contacted_at",
    "last_activity_at",
    "completed_at",
    "origin",
    "recorded_by",
    "created_by",
    "customer_id",
    "must_change_password",
    "disabled",
    "client_secret",
];

/// Names the field and the reason of a serde data error. `path` is where serde was (`.` at
/// the top); the message says what it found.
fn classify_data_error(path: &str, message: &str) -> (String, Invalid) {
    let path = if path == "." { "" } else { path };
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(name) = quoted("unknown field `") {
        // serde_path_to_error's path already ends at the unknown key.
        let field = if path.ends_with(&name) {
            path.to_owned()
        } else {
            join(path, &name)
        };
        let invalid = if SERVER_FIELDS.contains(&name.as_str()) {
            Invalid::NotAllowed
        } else {
            Invalid::UnknownField
        };
        return (field, invalid);
    }
    if let Some(name) = quoted("missing field `") {
        return (join(path, &name), Invalid::Required);
    }
    if message.starts_with("unknown variant") {
        return (path.to_owned(), Invalid::NotOneOf { allowed: &[] });
    }
    (path.to_owned(), Invalid::InvalidType)
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Phone {
        number: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Contact {
        name: String,
        #[serde(default)]
        phones: Vec<Phone>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        #[serde(default)]
        contacts: Vec<Contact>,
    }

    fn field_of(body: &str) -> (String, &'static str) {
        match parse_json::<Body>(body.as_bytes()) {
            Err(ApiError::Validation(errors)) => {
                let e = &errors.errors()[0];
                (e.field.clone(), e.invalid.code())
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn names_unknown_fields_where_they_are() {
        assert_eq!(
            field_of(r#"{"name":"a","nmae":"b"}"#),
            ("nmae".into(), "unknown_field")
        );
        assert_eq!(
            field_of(
                r#"{"name":"a","contacts":[{"name":"b"},{"name":"c","phones":[{"number":"1","x":2}]}]}"#
            ),
            ("contacts[1].phones[0].x".into(), "unknown_field")
        );
    }

    #[test]
    fn server_fields_are_not_allowed() {
        assert_eq!(
            field_of(r#"{"name":"a","version":3}"#),
            ("version".into(), "not_allowed")
        );
    }

    #[test]
    fn names_missing_and_mistyped_fields() {
        assert_eq!(field_of(r#"{}"#), ("name".into(), "required"));
        assert_eq!(
            field_of(r#"{"name":"a","contacts":[{}]}"#),
            ("contacts[0].name".into(), "required")
        );
        assert_eq!(field_of(r#"{"name":5}"#), ("name".into(), "invalid_type"));
    }

    proptest::proptest! {
        /// Any body is read, or refused as 400 (not JSON) or 422 (not the type).
        #[test]
        fn any_body_is_read_or_refused(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            let refused = parse_json::<Body>(&body).err();
            proptest::prop_assert!(
                matches!(refused, None | Some(ApiError::Malformed(_) | ApiError::Validation(_))),
                "{:?}", refused
            );
        }

        #[test]
        fn any_customer_body_is_read_or_refused(
            body in r#"\{"name":"[ -~]{0,20}"(,"(kind|contacts|tags|addresses|external_ids|owner_id)":(null|\[\]|\{\}|"[ -~]{0,10}"|[0-9]{1,20}|\[\{"[a-z_]{1,10}":[ -~]{0,10}\}\]))*\}"#,
        ) {
            let _ = parse_json::<crate::routes::customers::types::CreateCustomer>(body.as_bytes());
        }
    }

    /// A body at the size limit (1 MiB by default) and one nested past serde_json's depth
    /// limit are read or refused without running out of stack.
    #[test]
    fn large_and_deep_bodies_are_read_or_refused() {
        let name = "x".repeat(1024 * 1024 - 16);
        let big = format!(r#"{{"name":"{name}"}}"#);
        assert!(parse_json::<Body>(big.as_bytes()).is_ok());
        for deep in [
            "[".repeat(100_000),
            format!(r#"{{"name":"a","contacts":{}"#, "[".repeat(100_000)),
        ] {
            assert!(matches!(
                parse_json::<Body>(deep.as_bytes()),
                Err(ApiError::Malformed(_) | ApiError::Validation(_))
            ));
        }
    }

    #[test]
    fn an_array_is_not_a_body() {
        assert_eq!(field_of("[null, null]"), (String::new(), "invalid_type"));
        assert_eq!(field_of(r#" ["a"]"#), (String::new(), "invalid_type"));
        assert!(matches!(
            parse_json::<Body>(b"[null,"),
            Err(ApiError::Malformed(_))
        ));
        let item = serde_json::json!(["a"]);
        assert!(matches!(
            parse_value::<Body>(item),
            Err(ApiError::Validation(_))
        ));
    }

    #[test]
    fn malformed_json_is_400() {
        assert!(matches!(
            parse_json::<Body>(b"{\"name\":"),
            Err(ApiError::Malformed(_))
        ));
        assert!(matches!(
            parse_json::<Body>(b"not json"),
            Err(ApiError::Malformed(_))
        ));
    }
}
