//! Ids in a request body that must name a record: one that names none (or none the caller
//! sees) is the client's error at its field, `unknown_reference`; any other failure is ours.

use rapport_domain::Invalid;
use rapport_domain::auth::Scope;
use rapport_domain::identity::User;
use rapport_domain::validation::Errors;
use rapport_store::Conn;
use rapport_store::repos::users;
use uuid::Uuid;

use crate::error::ApiError;

/// The record a lookup `found`, or `None` with `unknown_reference` at `field` when it found
/// none. Takes a store lookup or a view check (whose 404 means "not one the caller sees").
///
/// # Errors
/// Any other failure of the lookup.
pub fn known<T, E: Into<ApiError>>(
    field: &str,
    found: Result<T, E>,
    errors: &mut Errors,
) -> Result<Option<T>, ApiError> {
    match found.map_err(Into::into) {
        Ok(record) => Ok(Some(record)),
        Err(ApiError::NotFound) => {
            errors.add(field, Invalid::UnknownReference);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The user `id` when it may be given work that needs `scope` (active, its role holding the
/// scope); `unknown_reference` at `field` when there is no such user, `not_allowed` when it
/// may not.
///
/// # Errors
/// Database failures.
pub async fn user_with(
    db: &impl Conn,
    field: &str,
    id: Uuid,
    scope: Scope,
    errors: &mut Errors,
) -> Result<Option<User>, ApiError> {
    let Some(user) = known(field, users::get(db, id).await, errors)? else {
        return Ok(None);
    };
    if user.disabled || !user.role.scopes().contains(scope) {
        errors.add(field, Invalid::NotAllowed);
        return Ok(None);
    }
    Ok(Some(user))
}
