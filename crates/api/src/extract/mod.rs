//! Request extractors that fail with problem+json errors naming the field.

mod body;
mod json;
mod preconditions;
mod query;

pub use body::read_body;
pub use json::{Json, is_json_content_type, optional_json, parse_json, parse_value};
pub use preconditions::{IdempotencyKey, IfMatch, IfMatchParam};
pub use query::{Query, code_param, parse_form, parse_query, user_param};

use actix_web::error::PathError;
use actix_web::web::PathConfig;

use crate::error::ApiError;

/// Path parameters that do not parse (a malformed id) name no resource: 404.
pub fn path_config() -> PathConfig {
    PathConfig::default().error_handler(|_err: PathError, _req| ApiError::NotFound.into())
}
