//! The counter that triggers raise whenever a token may have stopped being valid (see the
//! `auth_epoch` migration).

use sea_orm::{ConnectionTrait, Statement};

use crate::StoreError;

/// The counter's value now.
///
/// # Errors
/// Database failures.
pub async fn current(db: &impl ConnectionTrait) -> Result<i64, StoreError> {
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT value FROM auth_epoch WHERE id = 1",
        ))
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(row.try_get::<i64>("", "value")?)
}
