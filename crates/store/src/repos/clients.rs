//! Integration clients (OAuth2 client credentials).

use chrono::{DateTime, Utc};
use rapport_domain::auth::ScopeSet;
use rapport_domain::identity::Client;
use rapport_domain::name::OrgName;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::entities::client::{self, Column, Entity};
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, list_cursor, list_order};
use crate::repos::delete_row;
use crate::repos::deletions::{self, Deleted, Kind, Tombstone};
use crate::repos::record::{self, record};
use crate::repos::users::AuthState;
use crate::repos::{corrupt, parse_column};
use crate::{Conn, StoreError};

fn to_domain(m: client::Model) -> Result<Client, StoreError> {
    Ok(Client {
        id: m.id,
        name: parse_column("clients.name", &m.name, OrgName::parse)?,
        scopes: ScopeSet::parse(&m.scopes).map_err(|e| corrupt("clients.scopes", e))?,
        disabled: m.disabled,
        token_version: m.token_version,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

/// The columns a save writes: never the secret.
fn to_active(c: &Client) -> client::ActiveModel {
    client::ActiveModel {
        name: Set(c.name.to_string()),
        scopes: Set(c.scopes.to_string()),
        disabled: Set(c.disabled),
        token_version: Set(c.token_version),
        updated_at: Set(c.updated_at),
        version: Set(c.version),
        ..Default::default()
    }
}

record!(Client, Entity, to_active: |c| Ok(to_active(c)), from_model: to_domain);

/// A client to create; the caller generates the secret and hashes it.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub id: Uuid,
    pub name: OrgName,
    pub scopes: ScopeSet,
    pub secret_hash: String,
    pub created_by: Option<Uuid>,
}

/// # Errors
/// Database failures.
pub async fn insert(
    db: &impl Conn,
    new: NewClient,
    now: DateTime<Utc>,
) -> Result<Client, StoreError> {
    let model = client::ActiveModel {
        id: Set(new.id),
        name: Set(new.name.into_string()),
        secret_hash: Set(new.secret_hash),
        scopes: Set(new.scopes.to_string()),
        disabled: Set(false),
        token_version: Set(0),
        created_by: Set(new.created_by),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    };
    to_domain(Entity::insert(model).exec_with_returning(db).await?)
}

/// # Errors
/// `NotFound` when there is no such client.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Client, StoreError> {
    record::get(db, id).await
}

/// The client and its secret hash, for the client-credentials grant.
///
/// # Errors
/// Database failures; an unknown id is `Ok(None)`.
pub async fn find_credentials(
    db: &impl Conn,
    id: Uuid,
) -> Result<Option<(Client, String)>, StoreError> {
    match Entity::find_by_id(id).one(db).await? {
        Some(m) => {
            let hash = m.secret_hash.clone();
            Ok(Some((to_domain(m)?, hash)))
        }
        None => Ok(None),
    }
}

/// # Errors
/// `NotFound` when there is no such client.
pub async fn auth_state(db: &impl Conn, id: Uuid) -> Result<(AuthState, ScopeSet), StoreError> {
    let (disabled, token_version, scopes) = Entity::find_by_id(id)
        .select_only()
        .column(Column::Disabled)
        .column(Column::TokenVersion)
        .column(Column::Scopes)
        .into_tuple::<(bool, i32, String)>()
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    let scopes = ScopeSet::parse(&scopes).map_err(|e| corrupt("clients.scopes", e))?;
    Ok((
        AuthState {
            disabled,
            token_version,
            // Clients have no sign-in sessions: their tokens end with the secret or version.
            session_revoked: false,
        },
        scopes,
    ))
}

/// Clients in creation order.
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    changes: Option<Changes>,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Client>, StoreError> {
    let own = (Column::Id, SortDir::Asc);
    let select = list_order(
        Entity::find(),
        changes,
        own,
        Column::UpdatedAt,
        Column::Id,
        after,
        limit,
    );
    let rows = select.all(db).await?;
    Page::from_models(rows, limit, to_domain, |c| {
        list_cursor(changes, c.updated_at, SortValue::Id, c.id)
    })
}

/// Replaces the secret and revokes the client's tokens.
///
/// # Errors
/// `NotFound` when there is no such client.
pub async fn set_secret(
    db: &impl Conn,
    id: Uuid,
    secret_hash: String,
    now: DateTime<Utc>,
) -> Result<Client, StoreError> {
    let result = Entity::update_many()
        .col_expr(Column::SecretHash, Expr::value(secret_hash))
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

/// Deletes a client for good, leaving its tombstone for the change feed.
///
/// # Errors
/// `NotFound` when there is no such client.
pub async fn delete(db: &impl Conn, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
    delete_row::<Entity>(db, id).await?;
    deletions::record(db, Deleted::seen_by_all(Kind::Client, id), now).await
}

/// One page of the clients deleted in `changes`, oldest deletion first.
///
/// # Errors
/// Database failures.
pub async fn deleted(
    db: &impl Conn,
    changes: Changes,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Tombstone>, StoreError> {
    deletions::page(db, Kind::Client, Condition::all(), changes, after, limit).await
}
