//! Ids in a request body that must name a record: one that names none (or none the caller
//! sees) is the client's error at its field, `unknown_reference`; any other failure is ours.

use rapport_domain::Invalid;
use rapport_domain::validation::Errors;

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
