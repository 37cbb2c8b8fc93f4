//! Batch writes (`POST /v1/<resources>/batch`): up to [`MAX_ITEMS`] creates or updates in one
//! request and one transaction, each item answered on its own (its status, id and version, or
//! its problem).
//!
//! A resource's batch handler reads the body as a [`BatchBody`] and hands [`run`] (or
//! [`by_id`]) the function that writes one item: the same `create` or `update` its
//! single-record routes use, on the batch's transaction. Each item runs in a savepoint, so a
//! refused item leaves nothing behind; a failure of ours (5xx) ends the whole batch, and
//! nothing is written then.

use actix_web::{HttpResponse, ResponseError};
use rapport_domain::Invalid;
use rapport_domain::email::Email;
use rapport_store::{Conn, StoreError, Tx};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit;
use crate::error::{ApiError, Problem, ProblemCode};
use crate::extract::parse_value;
use crate::i18n::{Lang, Text};
use crate::state::AppState;

const ITEM_SAVEPOINT: &str = "SAVEPOINT batch_item";
const ITEM_KEEP: &str = "RELEASE SAVEPOINT batch_item";
const ITEM_UNDO: &str = "ROLLBACK TO SAVEPOINT batch_item; RELEASE SAVEPOINT batch_item";

/// The most items a batch takes.
pub const MAX_ITEMS: usize = 200;

/// A batch body. Items are read one by one, so that a malformed item is that item's problem
/// rather than the whole request's. Each resource documents its own body type (with `items`
/// of its create type) through [`batch_request!`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    pub items: Vec<Value>,
    pub all_or_none: Option<bool>,
    pub upsert_on: Option<String>,
}

impl BatchBody {
    /// Refuses an empty batch, or one over [`MAX_ITEMS`].
    ///
    /// # Errors
    /// 422 naming `items`.
    pub fn check_size(&self) -> Result<(), ApiError> {
        if self.items.is_empty() {
            return Err(ApiError::invalid("items", Invalid::Required));
        }
        if self.items.len() > MAX_ITEMS {
            return Err(ApiError::invalid(
                "items",
                Invalid::TooLong { max: MAX_ITEMS },
            ));
        }
        Ok(())
    }
}

/// Runs a batch: each item written by `write` on one transaction, in order, then committed
/// (or nothing written, for an `all_or_none` batch with a refused item).
///
/// # Errors
/// 422 for a batch too large or empty, or `batch_failed`; a failure of ours.
pub async fn run(
    state: &AppState,
    origin: &audit::Origin,
    lang: Lang,
    body: BatchBody,
    write: impl AsyncFn(&Tx, Value) -> Result<Written, ApiError>,
) -> Result<HttpResponse, ApiError> {
    body.check_size()?;
    let tx = state.store.begin().await?;
    let mut results = Results::default();
    for (index, item) in body.items.into_iter().enumerate() {
        let outcome = in_savepoint(&tx, async |tx: &Tx| write(tx, item).await).await?;
        results.push(index, outcome)?;
    }
    let all_or_none = body.all_or_none.unwrap_or(false);
    results.finish(tx, state, origin, all_or_none, lang).await
}

/// Runs `write` in a savepoint of `tx`: when it is refused, nothing it wrote is kept, and
/// `tx` goes on.
///
/// # Errors
/// The savepoint's own statements failing (the outcome of `write` is the inner result).
pub async fn in_savepoint<T>(
    tx: &Tx,
    write: impl AsyncFnOnce(&Tx) -> Result<T, ApiError>,
) -> Result<Result<T, ApiError>, ApiError> {
    tx.execute_unprepared(ITEM_SAVEPOINT)
        .await
        .map_err(StoreError::from)?;
    let outcome = write(tx).await;
    let end = if outcome.is_ok() {
        ITEM_KEEP
    } else {
        ITEM_UNDO
    };
    tx.execute_unprepared(end).await.map_err(StoreError::from)?;
    Ok(outcome)
}

/// Runs the batch of a resource with no upsert key: an item with an `id` changes that record
/// (`update`, as its PATCH would), any other is created (`create`).
///
/// # Errors
/// As [`run`], and 422 for an `upsert_on`.
pub async fn by_id<C: DeserializeOwned, U: DeserializeOwned>(
    state: &AppState,
    origin: &audit::Origin,
    lang: Lang,
    body: BatchBody,
    create: impl AsyncFn(&Tx, C) -> Result<Written, ApiError>,
    update: impl AsyncFn(&Tx, Uuid, U) -> Result<Written, ApiError>,
) -> Result<HttpResponse, ApiError> {
    if body.upsert_on.is_some() {
        return Err(ApiError::invalid("upsert_on", Invalid::NotAllowed));
    }
    run(state, origin, lang, body, async |tx: &Tx, item: Value| {
        let Value::Object(mut fields) = item else {
            return Err(ApiError::invalid("", Invalid::InvalidType));
        };
        match fields.remove("id") {
            None | Some(Value::Null) => create(tx, parse_value(Value::Object(fields))?).await,
            Some(id) => {
                let id = parse_value::<Uuid>(id)
                    .map_err(|_| ApiError::invalid("id", Invalid::InvalidType))?;
                update(tx, id, parse_value(Value::Object(fields))?).await
            }
        }
    })
    .await
}

/// The one record an upsert key found, if any.
///
/// # Errors
/// 409 `ambiguous_match` with `matching_ids` when it found more than one.
pub fn one_match(mut found: Vec<Uuid>, what: &str, key: &str) -> Result<Option<Uuid>, ApiError> {
    found.sort();
    found.dedup();
    match found.as_slice() {
        [] => Ok(None),
        [id] => Ok(Some(*id)),
        _ => {
            let mut extra = Map::new();
            extra.insert("matching_ids".into(), json!(found));
            Err(ApiError::Conflict {
                code: ProblemCode::AmbiguousMatch,
                detail: Text::new(
                    format!("{} {what} match this item's `{key}`.", found.len()),
                    format!("有 {} 条记录与该条目的 `{key}` 匹配。", found.len()),
                ),
                extra,
            })
        }
    }
}

/// The normalized addresses of `emails` (`[{"address": ...}]` lists); malformed ones are left
/// to the item's own validation.
pub fn email_addresses<'a>(emails: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    let mut addresses: Vec<String> = emails
        .into_iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|e| e.get("address").and_then(Value::as_str))
        .filter_map(|a| Email::parse(a).ok())
        .map(|e| e.as_str().to_owned())
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

/// The request body of a resource's batch: its items are its create body. With `$upsert_on`,
/// the documentation of the keys it upserts by; with `$item => $create`, an item type that adds
/// `id` to the create body, for a resource changed by id ([`by_id`]).
#[macro_export]
macro_rules! batch_request {
    ($name:ident, $item:ty, $upsert_on:literal) => {
        #[doc = concat!("Up to 200 `", stringify!($item), "`s, created or updated in one request.")]
        #[derive(Debug, utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $name {
            #[schema(min_items = 1, max_items = 200)]
            pub items: Vec<$item>,
            /// `true`: when any item is refused, nothing is written and the answer is 422
            /// `batch_failed` listing the refused items. Default `false`: the good items are
            /// written and each refused one is answered with its problem.
            #[schema(default = false)]
            pub all_or_none: Option<bool>,
            #[doc = $upsert_on]
            pub upsert_on: Option<String>,
        }
    };
    ($name:ident, $item:ident => $create:ty) => {
        #[doc = concat!("A batch item: a `", stringify!($create), "`, or a change to the record `id`.")]
        #[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $item {
            /// The record to change (its fields as its `PATCH` takes them: absent ones are
            /// kept); without it, the item is created.
            pub id: Option<uuid::Uuid>,
            #[serde(flatten)]
            pub fields: $create,
        }

        #[doc = concat!("Up to 200 `", stringify!($item), "`s, created or changed in one request.")]
        #[derive(Debug, utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $name {
            #[schema(min_items = 1, max_items = 200)]
            pub items: Vec<$item>,
            /// `true`: when any item is refused, nothing is written and the answer is 422
            /// `batch_failed` listing the refused items. Default `false`: the good items are
            /// written and each refused one is answered with its problem.
            #[schema(default = false)]
            pub all_or_none: Option<bool>,
        }
    };
}

rapport_domain::string_enum! {
    /// What became of a batch item.
    pub enum Outcome {
        Created => "created",
        Updated => "updated",
        Failed => "failed",
    }
}

/// What became of one item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemResult {
    /// Its position in `items`, from 0.
    pub index: usize,
    /// The status its own request would have had: 201, 200, or its problem's.
    pub status: u16,
    #[schema(schema_with = crate::schemas::batch_outcome)]
    pub outcome: String,
    /// The record created or updated.
    pub id: Option<Uuid>,
    /// Its version (its `ETag`) after the write.
    pub version: Option<i32>,
    /// Why it was refused.
    pub error: Option<Problem>,
}

/// The answer to a batch: one result per item, in order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchResult {
    pub items: Vec<ItemResult>,
    pub created: usize,
    pub updated: usize,
    pub failed: usize,
}

/// An item written: which record, at which version.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    pub outcome: Outcome,
    pub id: Uuid,
    pub version: i32,
}

impl Written {
    pub fn created(id: Uuid, version: i32) -> Written {
        Written {
            outcome: Outcome::Created,
            id,
            version,
        }
    }

    pub fn updated(id: Uuid, version: i32) -> Written {
        Written {
            outcome: Outcome::Updated,
            id,
            version,
        }
    }
}

/// The outcomes of a batch's items, as they are written.
#[derive(Debug, Default)]
pub struct Results {
    written: Vec<(usize, Written)>,
    refused: Vec<(usize, ApiError)>,
}

impl Results {
    /// Takes item `index`'s outcome.
    ///
    /// # Errors
    /// A failure of ours (5xx): the batch ends, and its transaction is rolled back.
    pub fn push(
        &mut self,
        index: usize,
        outcome: Result<Written, ApiError>,
    ) -> Result<(), ApiError> {
        match outcome {
            Ok(written) => self.written.push((index, written)),
            Err(e) if e.is_ours() => return Err(e),
            Err(e) => self.refused.push((index, e)),
        }
        Ok(())
    }

    /// Commits the written items and answers each item, or, for an `all_or_none` batch with a
    /// refused item, writes nothing and answers 422 `batch_failed`.
    ///
    /// # Errors
    /// That 422, or a failed commit.
    pub async fn finish(
        self,
        tx: Tx,
        state: &AppState,
        origin: &audit::Origin,
        all_or_none: bool,
        lang: Lang,
    ) -> Result<HttpResponse, ApiError> {
        if all_or_none && !self.refused.is_empty() {
            drop(tx);
            return Err(ApiError::BatchFailed(self.refused));
        }
        audit::commit(tx, state, origin).await?;
        let (created, updated) =
            self.written
                .iter()
                .fold((0, 0), |(c, u), (_, w)| match w.outcome {
                    Outcome::Created => (c + 1, u),
                    _ => (c, u + 1),
                });
        let failed = self.refused.len();
        let mut items: Vec<ItemResult> = self
            .written
            .into_iter()
            .map(|(index, w)| ItemResult {
                index,
                status: if w.outcome == Outcome::Created {
                    201
                } else {
                    200
                },
                outcome: w.outcome.as_str().to_owned(),
                id: Some(w.id),
                version: Some(w.version),
                error: None,
            })
            .chain(self.refused.into_iter().map(|(index, e)| ItemResult {
                index,
                status: e.status_code().as_u16(),
                outcome: Outcome::Failed.as_str().to_owned(),
                id: None,
                version: None,
                error: Some(e.to_problem(lang)),
            }))
            .collect();
        items.sort_by_key(|i| i.index);
        Ok(HttpResponse::Ok().json(BatchResult {
            items,
            created,
            updated,
            failed,
        }))
    }
}
