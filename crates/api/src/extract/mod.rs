//! Request extractors that fail with problem+json errors naming the field.

mod body;
mod json;
mod preconditions;
mod query;

pub use body::read_body;
pub use json::{Json, is_json_content_type, optional_json, parse_json, parse_value};
pub use preconditions::{IdempotencyKey, IfMatch, IfMatchParam};
pub use query::{Query, code_param, parse_form, parse_query, user_param};

use actix_web::HttpRequest;
use actix_web::error::PathError;
use actix_web::web::{Data, PathConfig};

use crate::app::OpenApiJson;
use crate::error::ApiError;

/// Path parameters that do not parse (a malformed id) name no resource: 404. Unless the path
/// is a literal one that lacks the method (`PATCH /v1/customers/batch`, which only a
/// `/customers/{id}` route took): 405, as if no route had.
pub fn path_config() -> PathConfig {
    PathConfig::default().error_handler(|_err: PathError, req| no_such(req).into())
}

/// The refusal of a request that no route serves: 405 with the methods its path takes, or 404.
pub fn no_such(req: &HttpRequest) -> ApiError {
    let allow = req
        .app_data::<Data<OpenApiJson>>()
        .and_then(|doc| doc.allowed.of(req.path()));
    match allow {
        Some(allow) if !allow.split(", ").any(|m| m == req.method().as_str()) => {
            ApiError::MethodNotAllowed { allow }
        }
        _ => ApiError::NotFound,
    }
}
