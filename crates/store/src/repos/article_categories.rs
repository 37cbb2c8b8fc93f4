//! The knowledge base's category tree.

use rapport_domain::article::{ArticleCategory, CategoryName};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::entities::article;
use crate::entities::article_category::{self, Column, Entity};
use crate::repos::parse_column;
use crate::repos::record::{self, record};
use crate::{Conn, StoreError};

fn to_domain(m: article_category::Model) -> Result<ArticleCategory, StoreError> {
    Ok(ArticleCategory {
        id: m.id,
        name: parse_column("article_categories.name", &m.name, CategoryName::parse)?,
        parent_id: m.parent_id,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(c: &ArticleCategory) -> article_category::ActiveModel {
    article_category::ActiveModel {
        id: Set(c.id),
        name: Set(c.name.to_string()),
        parent_id: Set(c.parent_id),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
        version: Set(c.version),
    }
}

record!(ArticleCategory, Entity, to_active: |c| Ok(to_active(c)), from_model: to_domain);

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, category: &ArticleCategory) -> Result<(), StoreError> {
    Entity::insert(to_active(category))
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is no such category.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<ArticleCategory, StoreError> {
    record::get(db, id).await
}

/// Every category, by name (a knowledge base has tens or hundreds).
///
/// # Errors
/// Database failures.
pub async fn all(db: &impl Conn) -> Result<Vec<ArticleCategory>, StoreError> {
    Entity::find()
        .order_by_asc(Column::Name)
        .order_by_asc(Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// Does anything hang off the category (a category below it, or an article in it)?
///
/// # Errors
/// Database failures.
pub async fn in_use(db: &impl Conn, id: Uuid) -> Result<bool, StoreError> {
    let children = Entity::find()
        .filter(Column::ParentId.eq(id))
        .count(db)
        .await?;
    let articles = article::Entity::find()
        .filter(article::Column::CategoryId.eq(id))
        .count(db)
        .await?;
    Ok(children + articles > 0)
}

/// # Errors
/// `NotFound` when there is no such category.
pub async fn delete(db: &impl Conn, id: Uuid) -> Result<(), StoreError> {
    let deleted = Entity::delete_by_id(id).exec(db).await?;
    if deleted.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The ids of a category and of every category below it.
pub fn subtree(all: &[ArticleCategory], root: Uuid) -> Vec<Uuid> {
    let mut ids = vec![root];
    let mut at = 0;
    while at < ids.len() {
        let parent = ids[at];
        for child in all.iter().filter(|c| c.parent_id == Some(parent)) {
            // A loop in the tree (which moves refuse) would otherwise never end.
            if !ids.contains(&child.id) {
                ids.push(child.id);
            }
        }
        at += 1;
    }
    ids
}
