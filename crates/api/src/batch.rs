//! Batch writes (`POST /v1/<resources>/batch`): up to [`MAX_ITEMS`] creates or updates in one
//! request and one transaction, each item answered on its own (its status, id and version, or
//! its problem).
//!
//! A resource's batch handler reads the body as a [`BatchBody`], writes each item with the
//! same function its single-record route uses, hands each outcome to [`Results::push`], and
//! ends with [`Results::finish`]. Those write functions refuse before they write anything, so
//! a refused item leaves nothing behind; a failure of ours (5xx) ends the whole batch, and
//! nothing is written then.

use actix_web::{HttpResponse, ResponseError};
use rapport_domain::Invalid;
use rapport_store::Tx;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit;
use crate::error::{ApiError, Problem};
use crate::i18n::Lang;
use crate::state::AppState;

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

/// Reads one item as `T`, with the precise field errors of a request body.
///
/// # Errors
/// 422 naming the field.
pub fn read_item<T: DeserializeOwned>(item: Value) -> Result<T, ApiError> {
    crate::extract::parse_value(item)
}

/// The request body of a resource's batch: its items are its create body.
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
            Err(e) if e.failure().is_some() || e.status_code().is_server_error() => return Err(e),
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
