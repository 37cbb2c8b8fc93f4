//! `Query<T>`: query parameters, with a 400 naming the parameter when one does not parse.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use rapport_domain::{Invalid, ValidationErrors};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Query parameters. Unknown parameters are ignored (caches and proxies add their own).
///
/// Like [`crate::extract::Json`], extraction never fails, so that auth answers first.
#[derive(Debug)]
pub struct Query<T>(Result<T, ApiError>);

impl<T> Query<T> {
    /// # Errors
    /// 400 naming the parameter that does not parse.
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Query(parse_query(req.query_string()))))
    }
}

/// Parses a form body the way query strings are parsed.
///
/// # Errors
/// As [`parse_query`].
pub fn parse_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    parse_query(&String::from_utf8_lossy(body))
}

/// # Errors
/// `BadParameters` naming the first parameter that does not parse.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        let field = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map_or(path, str::to_owned);
        let invalid = if message.starts_with("missing field") {
            Invalid::Required
        } else {
            Invalid::InvalidType
        };
        ApiError::BadParameters(ValidationErrors::single(field, invalid))
    })
}

/// An optional code-list parameter (`status=open`): absent, or a value `parse` takes; 400
/// naming `field` otherwise.
///
/// # Errors
/// 400 naming `field`.
pub fn code_param<T>(
    field: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Result<T, Invalid>,
) -> Result<Option<T>, ApiError> {
    value
        .map(parse)
        .transpose()
        .map_err(|e| ApiError::bad_parameter(field, e))
}

/// An optional user parameter (`assignee_id`, `owner_id`): a user id, or `me` for the calling
/// user; 400 naming `field` for anything else, and for `me` from an integration client.
///
/// # Errors
/// 400 naming `field`.
pub fn user_param(
    field: &str,
    value: Option<&str>,
    caller: Option<uuid::Uuid>,
) -> Result<Option<uuid::Uuid>, ApiError> {
    match value {
        None => Ok(None),
        Some("me") => caller
            .map(Some)
            .ok_or_else(|| ApiError::bad_parameter(field, Invalid::NotAllowed)),
        Some(id) => id
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_parameter(field, Invalid::InvalidUuid)),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::Deserialize;

    use super::*;
    use crate::routes::customers::list::{CustomerFilterParams, CustomerPageParams};

    proptest! {
        /// The customer list's filters and page parameters (the widest query of the API):
        /// any query string is read or refused as 400 naming a parameter.
        #[test]
        fn any_query_is_read_or_refused(
            query in prop_oneof![
                any::<String>(),
                "((q|kind|grade|tag|owner_id|created_after|inactive_days|deleted|limit|sort|cursor|updated_since)=[ -~]{0,30}&?){0,6}",
            ],
        ) {
            for result in [
                parse_query::<CustomerFilterParams>(&query).map(|_| ()),
                parse_query::<CustomerPageParams>(&query).map(|_| ()),
            ] {
                if let Err(error) = result {
                    prop_assert!(matches!(error, ApiError::BadParameters(_)), "{:?}", error);
                }
            }
        }
    }

    #[derive(Debug, Deserialize)]
    struct Params {
        limit: Option<u32>,
        #[allow(dead_code)]
        q: Option<String>,
    }

    #[test]
    fn parses_and_ignores_unknown() {
        let p: Params = parse_query("limit=20&utm=x").unwrap();
        assert_eq!(p.limit, Some(20));
    }

    #[test]
    fn names_the_bad_parameter() {
        match parse_query::<Params>("limit=lots") {
            Err(ApiError::BadParameters(errors)) => assert_eq!(errors.errors()[0].field, "limit"),
            other => panic!("{other:?}"),
        }
    }
}
