//! Success responses with the contract's headers: `ETag` on records, `Location` on creation.

use actix_web::HttpResponse;
use actix_web::http::header;
use serde::Serialize;

/// The strong entity tag of a record version: `"3"`.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// 200 with the record and its `ETag`.
pub fn ok<T: Serialize>(body: &T, version: i32) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// 201 with the record, its `ETag` and its `Location`.
pub fn created<T: Serialize>(body: &T, version: i32, location: String) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::ETAG, etag(version)))
        .insert_header((header::LOCATION, location))
        .json(body)
}
