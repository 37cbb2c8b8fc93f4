//! Every error the API answers, as RFC 9457 `application/problem+json`.
//!
//! Handlers return [`ApiError`]; its `error_response` sets the status and headers, and the
//! [`crate::middleware::problem`] middleware writes the body, because only it knows the
//! request id and the caller's language. It is also where a failure of ours is logged, once,
//! with its whole chain of causes ([`Failure`]).

mod code;
mod failure;

pub use code::ProblemCode;
pub use failure::{BoxError, Chain, Failure};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use rapport_domain::ValidationErrors;
use rapport_domain::auth::Scope;
use rapport_store::StoreError;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::i18n::{self, Lang, Text};

/// What went wrong, by kind; each maps to one status and one stable `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed JSON, bad query or path parameter.
    #[error("malformed request: {0}")]
    Malformed(Text),
    /// 400: query parameters or headers that do not parse, each named.
    #[error("{0}")]
    BadParameters(ValidationErrors),
    /// 400 with a specific code (`unsupported_grant_type`, …).
    #[error("bad request: {code}: {detail}")]
    BadRequest { code: ProblemCode, detail: Text },
    /// 401: no or bad credentials (`WWW-Authenticate: Bearer`).
    #[error("unauthorized")]
    Unauthorized,
    /// 401 from the token endpoint: the same answer for an unknown user and a wrong password.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 401 from the token endpoint: the right one-time password, past its expiry.
    #[error("password expired")]
    PasswordExpired,
    /// 403: signed in with a one-time password, which must be changed first.
    #[error("password change required")]
    PasswordChangeRequired,
    /// 403: the token lacks the scope (or the role may not do this).
    #[error("forbidden")]
    Forbidden {
        scope: Option<Scope>,
        detail: Option<Text>,
    },
    /// 404: unknown, or outside the caller's view.
    #[error("not found")]
    NotFound,
    /// 405: the path takes other methods, named in `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    /// 409: a duplicate, or a state that forbids the change. `extra` members are added to the
    /// problem (`duplicate_ids`, `allowed_stages`, …).
    #[error("conflict: {code}: {detail}")]
    Conflict {
        code: ProblemCode,
        detail: Text,
        extra: Map<String, Value>,
    },
    /// 410: the resource existed and is gone for good (an expired invitation).
    #[error("gone: {0}")]
    Gone(ProblemCode),
    /// 412: `If-Match` names an older version, or the record changed while the request ran.
    #[error("stale If-Match")]
    PreconditionFailed { current_version: Option<i32> },
    /// 413.
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    /// 415.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 422: one entry per refused field.
    #[error("{0}")]
    Validation(ValidationErrors),
    /// 422 with a specific code (`idempotency_key_reused`, …).
    #[error("unprocessable: {code}: {detail}")]
    Unprocessable { code: ProblemCode, detail: Text },
    /// 422: an `all_or_none` batch whose items at these indexes were refused; nothing was
    /// written.
    #[error("batch refused: {} items", .0.len())]
    BatchFailed(Vec<(usize, ApiError)>),
    /// 429 (`Retry-After`).
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// 503: the database is unreachable.
    #[error("service unavailable")]
    Unavailable(#[source] Failure),
    /// 503 (`Retry-After`): a bounded resource (password hashing) is saturated.
    #[error("busy")]
    Busy { retry_after_secs: u64 },
    /// 500: logged with the request id, never answered.
    #[error("internal error")]
    Internal(#[source] Failure),
}

impl ApiError {
    /// The stable machine-readable code.
    pub fn code(&self) -> ProblemCode {
        use ProblemCode as C;
        match self {
            ApiError::Malformed(_) | ApiError::BadParameters(_) => C::MalformedRequest,
            ApiError::BadRequest { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Unprocessable { code, .. } => *code,
            ApiError::Unauthorized => C::Unauthorized,
            ApiError::InvalidCredentials => C::InvalidCredentials,
            ApiError::PasswordExpired => C::PasswordExpired,
            ApiError::PasswordChangeRequired => C::PasswordChangeRequired,
            ApiError::Forbidden { .. } => C::Forbidden,
            ApiError::NotFound => C::NotFound,
            ApiError::MethodNotAllowed { .. } => C::MethodNotAllowed,
            ApiError::Gone(code) => *code,
            ApiError::PreconditionFailed { .. } => C::PreconditionFailed,
            ApiError::PayloadTooLarge { .. } => C::PayloadTooLarge,
            ApiError::UnsupportedMediaType => C::UnsupportedMediaType,
            ApiError::Validation(_) => C::ValidationFailed,
            ApiError::BatchFailed(_) => C::BatchFailed,
            ApiError::RateLimited { .. } => C::RateLimited,
            ApiError::Unavailable(_) => C::ServiceUnavailable,
            ApiError::Busy { .. } => C::ServerBusy,
            ApiError::Internal(_) => C::InternalError,
        }
    }

    /// A 500 for a failure of ours: `context` and the error are logged, never answered.
    pub fn internal(context: &'static str, err: impl Into<BoxError>) -> Self {
        ApiError::Internal(Failure::caused_by(context, err))
    }

    /// A conflict without extra members.
    pub fn conflict(code: ProblemCode, detail: Text) -> Self {
        ApiError::Conflict {
            code,
            detail,
            extra: Map::new(),
        }
    }

    /// A 409 whose detail is its code's own (`i18n::detail`): for refusals that need no words
    /// of the handler's.
    pub fn conflict_of(code: ProblemCode) -> Self {
        let text = |lang| i18n::detail(code, lang).unwrap_or_default();
        ApiError::conflict(code, Text::new(text(Lang::En), text(Lang::ZhCn)))
    }

    /// 409 `invalid_transition`: a move from `from` to `to` that the rules refuse, with the
    /// moves they allow from there under `allowed_field`.
    pub fn invalid_transition(
        detail: Text,
        from: &str,
        to: &str,
        allowed_field: &str,
        allowed: &[&str],
    ) -> Self {
        let mut extra = Map::new();
        extra.insert("from".into(), Value::from(from));
        extra.insert("to".into(), Value::from(to));
        extra.insert(allowed_field.into(), Value::from(allowed.to_vec()));
        ApiError::Conflict {
            code: ProblemCode::InvalidTransition,
            detail,
            extra,
        }
    }

    /// 409 `invalid_transition` for a status move the workflow of a `what` (its name in `en`
    /// and `zh-CN`: "A quote", "报价单") refuses, with the moves it allows under `allowed`.
    pub fn status_refused<S: std::fmt::Display>(
        what: (&str, &str),
        from: S,
        to: S,
        allowed: &[S],
    ) -> Self {
        let allowed: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        ApiError::invalid_transition(
            crate::i18n::Text::new(
                format!("{} cannot move from `{from}` to `{to}`.", what.0),
                format!("{}不能从 `{from}` 变更为 `{to}`。", what.1),
            ),
            &from.to_string(),
            &to.to_string(),
            "allowed",
            &allowed,
        )
    }

    /// The failure behind a 500 or a 503, to be logged.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            ApiError::Internal(failure) | ApiError::Unavailable(failure) => Some(failure),
            _ => None,
        }
    }

    /// Is it a failure of ours (5xx) rather than a refusal of the request? A batch or an import
    /// stops at one: the same write may well succeed later.
    pub fn is_ours(&self) -> bool {
        self.failure().is_some() || self.status_code().is_server_error()
    }

    /// A 403 for a missing scope.
    pub fn missing_scope(scope: Scope) -> Self {
        ApiError::Forbidden {
            scope: Some(scope),
            detail: None,
        }
    }

    /// A 403 for a rule of the role (not a scope).
    pub fn forbidden(detail: Text) -> Self {
        ApiError::Forbidden {
            scope: None,
            detail: Some(detail),
        }
    }

    /// A 400 naming one query parameter.
    pub fn bad_parameter(field: impl Into<String>, invalid: rapport_domain::Invalid) -> Self {
        ApiError::BadParameters(ValidationErrors::single(field, invalid))
    }

    /// A 422 for one field.
    pub fn invalid(field: impl Into<String>, invalid: rapport_domain::Invalid) -> Self {
        ApiError::Validation(ValidationErrors::single(field, invalid))
    }

    /// The problem document in `lang`, without the request id (the middleware adds it).
    pub fn to_problem(&self, lang: Lang) -> Problem {
        let code = self.code();
        let status = self.status_code().as_u16();
        let mut problem = Problem::new(status, code, lang);
        match self {
            ApiError::Malformed(detail)
            | ApiError::BadRequest { detail, .. }
            | ApiError::Unprocessable { detail, .. } => {
                problem.detail = Some(detail.get(lang).to_owned());
            }
            ApiError::Conflict { detail, extra, .. } => {
                problem.detail = Some(detail.get(lang).to_owned());
                problem.extra = extra.clone();
            }
            ApiError::Forbidden {
                scope: Some(scope), ..
            } => {
                problem.detail = Some(match lang {
                    Lang::En => format!("This operation needs the `{scope}` scope."),
                    Lang::ZhCn => format!("此操作需要 `{scope}` 权限范围。"),
                });
                problem
                    .extra
                    .insert("required_scope".into(), scope.as_str().into());
            }
            ApiError::Forbidden {
                detail: Some(detail),
                ..
            } => {
                problem.detail = Some(detail.get(lang).to_owned());
            }
            ApiError::PreconditionFailed {
                current_version: Some(version),
            } => {
                problem
                    .extra
                    .insert("current_version".into(), (*version).into());
            }
            ApiError::PayloadTooLarge { limit } => {
                problem.extra.insert("limit_bytes".into(), (*limit).into());
            }
            ApiError::Validation(errors) | ApiError::BadParameters(errors) => {
                problem.errors = Some(
                    errors
                        .errors()
                        .iter()
                        .map(|e| ProblemField {
                            field: e.field.clone(),
                            code: e.invalid.code().to_owned(),
                            message: i18n::field_message(&e.invalid, lang),
                        })
                        .collect(),
                );
            }
            ApiError::RateLimited { retry_after_secs } => {
                problem
                    .extra
                    .insert("retry_after".into(), (*retry_after_secs).into());
            }
            ApiError::BatchFailed(refused) => {
                let items: Vec<Value> = refused
                    .iter()
                    .map(|(index, e)| {
                        serde_json::json!({
                            "index": index,
                            "status": e.status_code().as_u16(),
                            "error": e.to_problem(lang),
                        })
                    })
                    .collect();
                problem.extra.insert("items".into(), Value::Array(items));
            }
            _ => {}
        }
        problem
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Malformed(_) | ApiError::BadRequest { .. } | ApiError::BadParameters(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Unauthorized | ApiError::InvalidCredentials | ApiError::PasswordExpired => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden { .. } | ApiError::PasswordChangeRequired => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::Unprocessable { .. } | ApiError::BatchFailed(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Status and headers only; the problem middleware renders the body in the caller's
    /// language. Without it (it is always installed) the English problem is answered.
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized | ApiError::InvalidCredentials | ApiError::PasswordExpired => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::RateLimited { retry_after_secs } | ApiError::Busy { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            ApiError::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            _ => {}
        }
        response
            .content_type(PROBLEM_JSON)
            .json(self.to_problem(Lang::En))
    }
}

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "https://rapport.dev/problems/validation_failed",
    "title": "Validation failed",
    "status": 422,
    "detail": "One or more fields are invalid.",
    "code": "validation_failed",
    "request_id": "0193a8f2-8a7e-7c3e-9d1a-2f8f3c1e4b5a",
    "errors": [{"field": "contacts[0].phones[0].number", "code": "invalid_phone", "message": "Not a valid phone number."}]
}))]
pub struct Problem {
    /// A URI naming the problem type: `https://rapport.dev/problems/<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable machine-readable code (listed in the document).
    pub code: String,
    /// The `X-Request-Id` of the request: quote it when reporting a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For `validation_failed`: every refused field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ProblemField>>,
    /// Extension members of some problems: `duplicate_ids`, `allowed_stages`,
    /// `current_version`, `required_scope`, `retry_after`, `limit_bytes`.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
}

impl Problem {
    /// A problem with the default title and detail of `code`.
    pub fn new(status: u16, code: ProblemCode, lang: Lang) -> Problem {
        Problem {
            type_uri: format!("https://rapport.dev/problems/{code}"),
            title: i18n::title(code, lang).to_owned(),
            status,
            detail: i18n::detail(code, lang).map(str::to_owned),
            code: code.as_str().to_owned(),
            request_id: None,
            errors: None,
            extra: Map::new(),
        }
    }
}

/// One refused field of a `validation_failed` problem.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemField {
    /// Where in the request: `name`, `contacts[1].phones[0].number`, or a query parameter.
    pub field: String,
    /// Stable machine-readable code (`required`, `invalid_phone`, `unknown_field`, …).
    pub code: String,
    /// A message for people, in the language of `Accept-Language`.
    pub message: String,
}

/// Every problem `code`, for the OpenAPI document.
pub const PROBLEM_CODES: &[&str] = ProblemCode::NAMES;

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(msg) => {
                // The database's message names tables and constraints: log it, answer plainly.
                tracing::warn!(error = %msg, "unmapped unique constraint");
                ApiError::conflict(
                    ProblemCode::Conflict,
                    Text::new(
                        "The write conflicts with an existing record.",
                        "该写入与已有记录冲突。",
                    ),
                )
            }
            // Another request changed the record after this one read it: as stale as a stale
            // If-Match, and answered the same on both databases.
            StoreError::Stale => ApiError::PreconditionFailed {
                current_version: None,
            },
            err @ StoreError::Unavailable(_) => {
                ApiError::Unavailable(Failure::caused_by("reaching the database", err))
            }
            // Nothing was written, and the same request succeeds again: 503 with Retry-After.
            err @ StoreError::Contended(_) => {
                ApiError::Unavailable(Failure::caused_by("a conflicting transaction", err))
            }
            err @ StoreError::Db(_) => {
                ApiError::Internal(Failure::caused_by("querying the database", err))
            }
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::Validation(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_leak_their_message() {
        let err = ApiError::internal("reading users_password", "secret table users_password");
        for lang in [Lang::En, Lang::ZhCn] {
            let text = serde_json::to_string(&err.to_problem(lang)).unwrap();
            assert!(!text.contains("users_password"), "{text}");
        }
    }

    #[test]
    fn failures_keep_their_cause_for_the_log() {
        let err = ApiError::internal("loading a customer", StoreError::NotFound);
        assert_eq!(err.code(), ProblemCode::InternalError);
        let chain = Chain(err.failure().unwrap()).to_string();
        assert_eq!(chain, "loading a customer: not found");
        assert!(ApiError::NotFound.failure().is_none());
    }

    #[test]
    fn details_follow_the_callers_language() {
        let err = ApiError::conflict(ProblemCode::Duplicate, Text::new("Taken.", "已被占用。"));
        assert_eq!(err.to_problem(Lang::En).detail.as_deref(), Some("Taken."));
        assert_eq!(
            err.to_problem(Lang::ZhCn).detail.as_deref(),
            Some("已被占用。")
        );
        assert_eq!(err.to_problem(Lang::ZhCn).code, "duplicate");
    }

    #[test]
    fn validation_lists_fields_in_the_callers_language() {
        let err = ApiError::invalid(
            "contacts[0].phones[0].number",
            rapport_domain::Invalid::InvalidPhone,
        );
        let problem = err.to_problem(Lang::ZhCn);
        let fields = problem.errors.unwrap();
        assert_eq!(fields[0].field, "contacts[0].phones[0].number");
        assert_eq!(fields[0].code, "invalid_phone");
        assert_eq!(fields[0].message, "电话号码无效。");
    }
}
