//! Refresh tokens: stored as SHA-256 hashes, rotated on each use, revoked by family when a used
//! one comes back (a sign it was stolen).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::refresh_token::{self, Column, Entity};
use crate::{Conn, StoreError};

/// A stored refresh token (its hash, never the token).
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    /// The scope granted at sign-in.
    pub scope: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the sign-in began: the family's first token.
    pub session_started_at: DateTime<Utc>,
}

/// A refresh token to store. The caller keeps the token and gives its hash.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub token_hash: String,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub scope: String,
    pub expires_at: DateTime<Utc>,
    pub session_started_at: DateTime<Utc>,
}

fn to_domain(m: refresh_token::Model) -> RefreshToken {
    RefreshToken {
        id: m.id,
        family_id: m.family_id,
        user_id: m.user_id,
        scope: m.scope,
        expires_at: m.expires_at,
        used_at: m.used_at,
        revoked_at: m.revoked_at,
        session_started_at: m.session_started_at.unwrap_or(m.created_at),
    }
}

/// # Errors
/// Database failures.
pub async fn insert(
    db: &impl Conn,
    new: NewRefreshToken,
    now: DateTime<Utc>,
) -> Result<RefreshToken, StoreError> {
    let model = refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(new.token_hash),
        family_id: Set(new.family_id),
        user_id: Set(new.user_id),
        scope: Set(new.scope),
        expires_at: Set(new.expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
        session_started_at: Set(Some(new.session_started_at)),
    };
    Ok(to_domain(
        Entity::insert(model).exec_with_returning(db).await?,
    ))
}

/// # Errors
/// Database failures; an unknown hash is `Ok(None)`.
pub async fn find_by_hash(
    db: &impl Conn,
    token_hash: &str,
) -> Result<Option<RefreshToken>, StoreError> {
    Ok(Entity::find()
        .filter(Column::TokenHash.eq(token_hash))
        .one(db)
        .await?
        .map(to_domain))
}

/// Marks the token used, if nobody else did first. Returns whether this call won: two
/// concurrent refreshes with one token get one new token, not two.
///
/// # Errors
/// Database failures.
pub async fn mark_used(db: &impl Conn, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let result = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::UsedAt.is_null())
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Revokes every token of a family.
///
/// # Errors
/// Database failures.
pub async fn revoke_family(
    db: &impl Conn,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let result = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::FamilyId.eq(family_id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Revokes every token of a user (disabled, password reset).
///
/// # Errors
/// Database failures.
pub async fn revoke_user(
    db: &impl Conn,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let result = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Deletes tokens that expired before `before`. Idempotent: safe on several instances.
///
/// # Errors
/// Database failures.
pub async fn purge_expired(db: &impl Conn, before: DateTime<Utc>) -> Result<u64, StoreError> {
    let result = Entity::delete_many()
        .filter(Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
