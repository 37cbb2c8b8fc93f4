//! List pages: `limit` and an opaque `cursor` in, `{"data": [...], "next_cursor": ...}` out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rapport_domain::{Invalid, ValidationErrors};
use rapport_store::{Cursor, Page, SortValue};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 200;

/// A cursor also names the sort it belongs to, so that one from another sort is refused
/// instead of silently skipping rows.
#[derive(Serialize, Deserialize)]
struct Envelope {
    s: String,
    c: Cursor,
}

/// Validates `limit` (1..=200, default 50) and decodes `cursor` for the list sorted by `sort`.
///
/// # Errors
/// `BadParameters` naming `limit` or `cursor`.
pub fn page_params(
    limit: Option<i64>,
    cursor: Option<&str>,
    sort: &str,
) -> Result<(u64, Option<Cursor>), ApiError> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(l) if (1..=MAX_LIMIT as i64).contains(&l) => l.unsigned_abs(),
        Some(_) => {
            return Err(ApiError::BadParameters(ValidationErrors::single(
                "limit",
                Invalid::OutOfRange {
                    min: 1,
                    max: MAX_LIMIT as i64,
                },
            )));
        }
    };
    let cursor = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(decode(raw, sort).ok_or_else(|| {
            ApiError::BadParameters(ValidationErrors::single("cursor", Invalid::InvalidType))
        })?),
    };
    Ok((limit, cursor))
}

fn decode(raw: &str, sort: &str) -> Option<Cursor> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    let envelope: Envelope = serde_json::from_slice(&bytes).ok()?;
    (envelope.s == sort && fits(sort, &envelope.c.value)).then_some(envelope.c)
}

/// Does a cursor value have the type of its sort's key? A hand-made cursor that does not
/// would compare a time with a text in SQL.
fn fits(sort: &str, value: &SortValue) -> bool {
    match sort.trim_start_matches('-') {
        "id" => matches!(value, SortValue::Id),
        "name" | "duplicates" => matches!(value, SortValue::Text(_)),
        "search" | "unread" => matches!(value, SortValue::Ranked(..)),
        "amount" => matches!(value, SortValue::Int(_)),
        "expected_close_date" | "incurred_on" => matches!(value, SortValue::Date(_)),
        _ => matches!(value, SortValue::Time(_)),
    }
}

fn encode(cursor: Cursor, sort: &str) -> String {
    let envelope = Envelope {
        s: sort.to_owned(),
        c: cursor,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&envelope).unwrap_or_default())
}

/// One page of a list, before it gets its named response type (see [`list_type!`]).
#[derive(Debug)]
pub struct Paged<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    /// Maps a store page to a response page of the list sorted by `sort`.
    pub fn from_page<U>(page: Page<U>, sort: &str, map: impl FnMut(U) -> T) -> Paged<T> {
        Paged {
            data: page.items.into_iter().map(map).collect(),
            next_cursor: page.next.map(|c| encode(c, sort)),
        }
    }
}

/// Declares the named list type of a resource (`UserList` of `User`), so that generated
/// clients get one type per list with its items referenced, not inlined.
#[macro_export]
macro_rules! list_type {
    ($name:ident, $item:ty) => {
        #[doc = concat!("One page of `", stringify!($item), "`s: `{\"data\": [...], \"next_cursor\": ...}`.")]
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub data: Vec<$item>,
            /// Pass as `cursor` to get the next page; `null` on the last page.
            pub next_cursor: Option<String>,
        }

        impl From<$crate::pagination::Paged<$item>> for $name {
            fn from(p: $crate::pagination::Paged<$item>) -> Self {
                $name { data: p.data, next_cursor: p.next_cursor }
            }
        }
    };
    // The list of a resource deleted for good: its change feed also answers the deletions.
    ($name:ident, $item:ty, with_deletions) => {
        #[doc = concat!("One page of `", stringify!($item), "`s: `{\"data\": [...], \"next_cursor\": ...}`, and in the change feed (`updated_since`) `deleted`.")]
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub struct $name {
            pub data: Vec<$item>,
            /// Pass as `cursor` to get the next page; `null` on the last page.
            pub next_cursor: Option<String>,
            /// Only in the change feed (`updated_since`): the records deleted for good in the
            /// span of this page, in the feed's order with `data`.
            #[serde(skip_serializing_if = "Option::is_none")]
            #[schema(nullable = false)]
            pub deleted: Option<Vec<$crate::feed::Deletion>>,
        }

        impl $name {
            /// A page, and in a change feed the deletions in its span
            /// (`crate::feed::with_deletions`).
            pub fn new(
                p: $crate::pagination::Paged<$item>,
                deleted: Option<Vec<$crate::feed::Deletion>>,
            ) -> Self {
                $name { data: p.data, next_cursor: p.next_cursor, deleted }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;

    const SORTS: [&str; 7] = [
        "id",
        "-created_at",
        "name",
        "search",
        "amount",
        "expected_close_date",
        "unread",
    ];

    proptest! {
        #[test]
        fn any_cursor_is_read_or_refused(
            raw in prop_oneof![any::<String>(), "[A-Za-z0-9_-]{0,200}"],
            sort in proptest::sample::select(SORTS.to_vec()),
        ) {
            let _ = page_params(None, Some(&raw), sort);
        }

        #[test]
        fn any_json_in_a_cursor_is_read_or_refused(
            json in prop_oneof![
                any::<String>(),
                r#"\{"s":"(name|id|-created_at)","c":\{"value":\{"[A-Za-z]{1,8}":[ -~]{0,20}\},"id":"[ -~]{0,40}"\}\}"#,
            ],
            sort in proptest::sample::select(SORTS.to_vec()),
        ) {
            let raw = URL_SAFE_NO_PAD.encode(json.as_bytes());
            let _ = page_params(None, Some(&raw), sort);
        }

        #[test]
        fn limits_outside_1_to_200_are_refused(limit in any::<i64>()) {
            prop_assert_eq!(page_params(Some(limit), None, "id").is_ok(), (1..=200).contains(&limit));
        }
    }

    #[test]
    fn cursors_round_trip_within_their_sort() {
        let cursor = Cursor {
            value: SortValue::Text("acme".into()),
            id: Uuid::now_v7(),
        };
        let raw = encode(cursor.clone(), "name");
        assert_eq!(
            page_params(None, Some(&raw), "name").unwrap(),
            (50, Some(cursor))
        );
        assert!(page_params(None, Some(&raw), "-created_at").is_err());
        assert!(page_params(None, Some("garbage"), "name").is_err());
    }

    #[test]
    fn cursors_of_the_wrong_type_are_refused() {
        let forged = encode(
            Cursor {
                value: SortValue::Text("x".into()),
                id: Uuid::now_v7(),
            },
            "-created_at",
        );
        assert!(page_params(None, Some(&forged), "-created_at").is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(page_params(Some(200), None, "id").unwrap().0, 200);
        assert!(page_params(Some(0), None, "id").is_err());
        assert!(page_params(Some(201), None, "id").is_err());
    }
}
