//! Reading a request body with a size limit.

use actix_web::HttpRequest;
use actix_web::web::{self, Bytes, BytesMut};
use futures_util::StreamExt;

use crate::error::ApiError;
use crate::i18n::Text;
use crate::state::AppState;

/// Reads the whole body, refusing it (413) once it passes the limit configured for its path
/// ([`AppState::body_limit`]), whether or not the client announced its length.
///
/// # Errors
/// `PayloadTooLarge`, or `Malformed` when the connection breaks mid-body.
pub async fn read_body(
    req: &HttpRequest,
    payload: &mut (
             impl futures_util::Stream<Item = Result<Bytes, actix_web::error::PayloadError>> + Unpin
         ),
) -> Result<Bytes, ApiError> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(AppState::DEFAULT_BODY_LIMIT, |s| s.body_limit(req.path()));
    let announced = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::Malformed(Text::new(
                format!("could not read the body: {e}"),
                format!("无法读取请求体：{e}"),
            ))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
