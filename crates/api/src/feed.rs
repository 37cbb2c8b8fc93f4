//! The change feed of a list (`?updated_since=`): every record changed at or after a time,
//! oldest change first by `(updated_at, id)`, each at its latest version, walked with the
//! list's cursor. Changes show once they are [`SETTLED_AFTER`] old, so that a write still
//! committing is never passed over.

use chrono::{DateTime, Duration, Utc};
use rapport_domain::Invalid;
use rapport_domain::validation::Errors;

use crate::error::ApiError;
use crate::state::AppState;

/// How old a change must be to be in a feed: older than any write still committing.
pub const SETTLED_AFTER: Duration = Duration::seconds(5);

/// The sort name of every feed's cursor.
pub const SORT: &str = "updated_at";

/// The `updated_at` window of a feed since `since`: `[since, now − SETTLED_AFTER]`.
pub fn window(state: &AppState, since: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (since, state.clock.now() - SETTLED_AFTER)
}

/// Refuses another order than the feed's.
pub fn check_sort(sort: Option<&str>, errors: &mut Errors) {
    if sort.is_some_and(|s| s != SORT) {
        errors.add("sort", Invalid::NotOneOf { allowed: &[SORT] });
    }
}

/// A feed's parameters that are nothing else's: refuses, with 400, another order.
///
/// # Errors
/// 400 naming `sort`.
pub fn check(sort: Option<&str>) -> Result<(), ApiError> {
    let mut errors = Errors::default();
    check_sort(sort, &mut errors);
    errors.finish().map_err(ApiError::BadParameters)
}
