//! User accounts.

use chrono::{DateTime, Utc};
use rapport_domain::auth::Role;
use rapport_domain::email::Email;
use rapport_domain::identity::User;
use rapport_domain::name::PersonName;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::entities::user::{self, Column, Entity};
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, list_cursor, list_order};
use crate::repos::record::{self, record};
use crate::repos::{corrupt, parse_column};
use crate::{Conn, StoreError};

/// The unique index on email; SQLite reports the column instead.
pub const EMAIL_TAKEN: [&str; 2] = ["users_email_key", "users.email"];

/// A user to create. The caller hashes the password.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub email: Email,
    pub name: PersonName,
    pub role: Role,
    pub team_id: Option<Uuid>,
    pub password_hash: String,
    /// Set for a one-time password: when it stops working. The user must change it.
    pub one_time_until: Option<DateTime<Utc>>,
}

/// Filters of the user list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub team_id: Option<Uuid>,
    pub disabled: Option<bool>,
    /// The change feed: records changed in this span, oldest change first.
    pub changes: Option<Changes>,
}

/// What access-token checks need, read in one statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthState {
    pub disabled: bool,
    pub token_version: i32,
    /// The token's sign-in was ended (signed out, or its refresh token reused).
    pub session_revoked: bool,
}

fn to_domain(m: user::Model) -> Result<User, StoreError> {
    Ok(User {
        id: m.id,
        email: Email::parse(&m.email).map_err(|e| corrupt("users.email", e))?,
        name: parse_column("users.name", &m.name, PersonName::parse)?,
        role: m.role.parse().map_err(|e| corrupt("users.role", e))?,
        team_id: m.team_id,
        disabled: m.disabled,
        must_change_password: m.must_change_password,
        password_expires_at: m.password_expires_at,
        token_version: m.token_version,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

/// The columns a save writes: the profile, never the password.
fn to_active(u: &User) -> user::ActiveModel {
    user::ActiveModel {
        email: Set(u.email.as_str().to_owned()),
        name: Set(u.name.to_string()),
        role: Set(u.role.as_str().to_owned()),
        team_id: Set(u.team_id),
        disabled: Set(u.disabled),
        token_version: Set(u.token_version),
        updated_at: Set(u.updated_at),
        version: Set(u.version),
        ..Default::default()
    }
}

record!(User, Entity, to_active: |u| Ok(to_active(u)), from_model: to_domain);

/// # Errors
/// `Conflict` when the email is taken (see [`EMAIL_TAKEN`]).
pub async fn insert(db: &impl Conn, new: NewUser, now: DateTime<Utc>) -> Result<User, StoreError> {
    let model = user::ActiveModel {
        id: Set(new.id),
        email: Set(new.email.into_string()),
        name: Set(new.name.into_string()),
        role: Set(new.role.as_str().to_owned()),
        team_id: Set(new.team_id),
        password_hash: Set(new.password_hash),
        must_change_password: Set(new.one_time_until.is_some()),
        password_expires_at: Set(new.one_time_until),
        disabled: Set(false),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    };
    to_domain(Entity::insert(model).exec_with_returning(db).await?)
}

/// # Errors
/// `NotFound` when there is no such user.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<User, StoreError> {
    record::get(db, id).await
}

/// The user with this email and its password hash, for sign-in.
///
/// # Errors
/// Database failures only; an unknown email is `Ok(None)`.
pub async fn find_credentials(
    db: &impl Conn,
    email: &Email,
) -> Result<Option<(User, String)>, StoreError> {
    match Entity::find()
        .filter(Column::Email.eq(email.as_str()))
        .one(db)
        .await?
    {
        Some(m) => {
            let hash = m.password_hash.clone();
            Ok(Some((to_domain(m)?, hash)))
        }
        None => Ok(None),
    }
}

/// # Errors
/// `NotFound` when there is no such user.
pub async fn password_hash(db: &impl Conn, id: Uuid) -> Result<String, StoreError> {
    Entity::find_by_id(id)
        .select_only()
        .column(Column::PasswordHash)
        .into_tuple::<String>()
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)
}

/// # Errors
/// `NotFound` when there is no such user.
pub async fn auth_state(
    db: &impl Conn,
    id: Uuid,
    session: Option<Uuid>,
) -> Result<AuthState, StoreError> {
    use crate::entities::refresh_token::{Column as R, Entity as RefreshTokens};
    // Whether the session was revoked comes in the same statement, as a subquery.
    let revoked = Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(RefreshTokens)
            .and_where(Expr::col(R::FamilyId).eq(session.unwrap_or_default()))
            .and_where(Expr::col(R::RevokedAt).is_not_null())
            .to_owned(),
    );
    let (disabled, token_version, session_revoked) = Entity::find_by_id(id)
        .select_only()
        .column(Column::Disabled)
        .column(Column::TokenVersion)
        .expr_as(revoked, "session_revoked")
        .into_tuple::<(bool, i32, bool)>()
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(AuthState {
        disabled,
        token_version,
        session_revoked: session.is_some() && session_revoked,
    })
}

/// Users in creation order (ids are UUIDv7).
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    filter: &UserFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<User>, StoreError> {
    let mut select = Entity::find();
    if let Some(role) = filter.role {
        select = select.filter(Column::Role.eq(role.as_str()));
    }
    if let Some(team_id) = filter.team_id {
        select = select.filter(Column::TeamId.eq(team_id));
    }
    if let Some(disabled) = filter.disabled {
        select = select.filter(Column::Disabled.eq(disabled));
    }
    let own = (Column::Id, SortDir::Asc);
    let select = list_order(
        select,
        filter.changes,
        own,
        Column::UpdatedAt,
        Column::Id,
        after,
        limit,
    );
    let rows = select.all(db).await?;
    Page::from_models(rows, limit, to_domain, |u| {
        list_cursor(filter.changes, u.updated_at, SortValue::Id, u.id)
    })
}

/// The ids of the enabled users among `ids` or of `roles`, oldest first.
///
/// # Errors
/// Database failures.
pub async fn enabled_among(
    db: &impl Conn,
    ids: &[Uuid],
    roles: &[Role],
) -> Result<Vec<Uuid>, StoreError> {
    if ids.is_empty() && roles.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(
            Condition::any()
                .add(Column::Id.is_in(ids.iter().copied()))
                .add(Column::Role.is_in(roles.iter().map(|r| r.as_str()))),
        )
        .filter(Column::Disabled.eq(false))
        .order_by_asc(Column::Id)
        .into_tuple()
        .all(db)
        .await?)
}

/// # Errors
/// Database failures.
pub async fn count(db: &impl Conn) -> Result<u64, StoreError> {
    Ok(Entity::find().count(db).await?)
}

/// # Errors
/// Database failures.
pub async fn count_in_team(db: &impl Conn, team_id: Uuid) -> Result<u64, StoreError> {
    Ok(Entity::find()
        .filter(Column::TeamId.eq(team_id))
        .count(db)
        .await?)
}

/// Replaces the password hash and revokes every token of the user.
///
/// # Errors
/// `NotFound` when there is no such user.
pub async fn set_password(
    db: &impl Conn,
    id: Uuid,
    password_hash: String,
    one_time_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<User, StoreError> {
    let result = Entity::update_many()
        .col_expr(Column::PasswordHash, Expr::value(password_hash))
        .col_expr(
            Column::MustChangePassword,
            Expr::value(one_time_until.is_some()),
        )
        .col_expr(Column::PasswordExpiresAt, Expr::value(one_time_until))
        .col_expr(Column::TokenVersion, Expr::col(Column::TokenVersion).add(1))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::Version, Expr::col(Column::Version).add(1))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    get(db, id).await
}
