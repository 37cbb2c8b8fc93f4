//! Conditional and idempotent requests: `If-Match` and `Idempotency-Key`.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use rapport_domain::{Invalid, ValidationErrors};

use crate::error::ApiError;
use crate::i18n::Text;

/// The `If-Match` header: the version the client last read (`"3"`), any version (`*`), or
/// none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IfMatch(Option<i32>);

impl IfMatch {
    /// # Errors
    /// `PreconditionFailed` when the client named a version other than `current`.
    pub fn check(self, current: i32) -> Result<(), ApiError> {
        match self.0 {
            Some(expected) if expected != current => Err(ApiError::PreconditionFailed {
                current_version: Some(current),
            }),
            _ => Ok(()),
        }
    }
}

fn parse_if_match(value: &str) -> Result<IfMatch, ApiError> {
    let value = value.trim();
    if value == "*" {
        return Ok(IfMatch(None));
    }
    // An empty header names nothing to match: a malformed request, not a stale one.
    if value.is_empty() {
        return Err(ApiError::Malformed(Text::new(
            "If-Match is empty: send the ETag you read, or *",
            "If-Match 为空：请发送读取到的 ETag，或 *",
        )));
    }
    // A list of tags matches when any does; clients send one, so take the first.
    let first = value.split(',').next().unwrap_or("").trim();
    let first = first.strip_prefix("W/").unwrap_or(first);
    first
        .trim_matches('"')
        .parse::<i32>()
        .map(|v| IfMatch(Some(v)))
        // A tag that is not one of ours names no version we ever had: stale.
        .or(Ok(IfMatch(Some(-1))))
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            match req.headers().get(header::IF_MATCH).map(|v| v.to_str()) {
                None => Ok(IfMatch(None)),
                Some(Ok(value)) => parse_if_match(value),
                Some(Err(_)) => Err(ApiError::Malformed(Text::new(
                    "If-Match is not ASCII",
                    "If-Match 不是 ASCII 字符串",
                ))),
            },
        )
    }
}

/// The `If-Match` header, for the OpenAPI document.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatchParam {
    /// The `ETag` last read (`"3"`), or `*`: the change is refused with 412 when the record
    /// changed since (or the tag is not one of ours); an empty or non-ASCII value is 400.
    #[serde(rename = "If-Match")]
    #[param(value_type = String, required = false, pattern = "^[ -~]*[!-~][ -~]*$")]
    pub if_match: Option<String>,
}

/// The `Idempotency-Key` header of a creating `POST`, when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl IdempotencyKey {
    pub const HEADER: &'static str = "idempotency-key";

    /// # Errors
    /// `BadParameters` when the key is empty, longer than 255 or not printable ASCII.
    pub fn parse(value: Option<&[u8]>) -> Result<IdempotencyKey, ApiError> {
        let Some(value) = value else {
            return Ok(IdempotencyKey(None));
        };
        let ok = !value.is_empty() && value.len() <= 255 && value.iter().all(u8::is_ascii_graphic);
        if !ok {
            return Err(ApiError::BadParameters(ValidationErrors::single(
                "Idempotency-Key",
                Invalid::InvalidType,
            )));
        }
        Ok(IdempotencyKey(Some(
            String::from_utf8_lossy(value).into_owned(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_if_match_is_read_or_refused(value in any::<String>()) {
            let _ = parse_if_match(&value);
        }

        #[test]
        fn our_etags_name_their_version(version in any::<i32>(), weak in any::<bool>()) {
            let tag = crate::respond::etag(version);
            let sent = if weak { format!("W/{tag}") } else { tag };
            prop_assert_eq!(parse_if_match(&sent).unwrap(), IfMatch(Some(version)));
        }

        #[test]
        fn idempotency_keys_are_1_to_255_visible_ascii(key in proptest::collection::vec(any::<u8>(), 0..300)) {
            let accepted = IdempotencyKey::parse(Some(&key)).is_ok();
            let visible = (1..=255).contains(&key.len()) && key.iter().all(|b| (b'!'..=b'~').contains(b));
            prop_assert_eq!(accepted, visible);
        }
    }

    #[test]
    fn parses_etags() {
        assert_eq!(parse_if_match("\"3\"").unwrap(), IfMatch(Some(3)));
        assert_eq!(parse_if_match("W/\"3\"").unwrap(), IfMatch(Some(3)));
        assert_eq!(parse_if_match("*").unwrap(), IfMatch(None));
        assert!(
            parse_if_match(" ").is_err(),
            "an empty If-Match is malformed"
        );
        assert_eq!(parse_if_match("\"abc\"").unwrap(), IfMatch(Some(-1)));
    }

    #[test]
    fn stale_versions_fail() {
        assert!(IfMatch(Some(2)).check(2).is_ok());
        assert!(matches!(
            IfMatch(Some(1)).check(2),
            Err(ApiError::PreconditionFailed {
                current_version: Some(2)
            })
        ));
        assert!(IfMatch(None).check(7).is_ok());
    }

    #[test]
    fn idempotency_keys_are_printable() {
        assert_eq!(IdempotencyKey::parse(None).unwrap(), IdempotencyKey(None));
        assert!(IdempotencyKey::parse(Some(b"abc-123")).is_ok());
        assert!(IdempotencyKey::parse(Some(b"")).is_err());
        assert!(IdempotencyKey::parse(Some(b"has space")).is_err());
    }
}
