//! The knowledge base's category tree: every staff role reads it, `knowledge:write` changes
//! it. A category with categories or articles in it is not deleted.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::article::{ArticleCategory as DomainCategory, CategoryName, would_loop};
use rapport_domain::validation::Errors;
use rapport_store::repos::{self, article_categories};
use rapport_store::{Conn, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::scopes::KnowledgeWrite;
use crate::auth::{Authorized, Staff};
use crate::error::{ApiError, ProblemCode};
use crate::extract::{IfMatch, IfMatchParam, Json};
use crate::i18n::Text;
use crate::patch::Patch;
use crate::respond;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_article_categories)
        .service(create_article_category)
        .service(get_article_category)
        .service(update_article_category)
        .service(delete_article_category);
}

/// A node of the category tree.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ArticleCategory {
    pub id: Uuid,
    #[schema(example = "Printers")]
    pub name: String,
    /// The category it is filed under; `null` at the top.
    pub parent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<DomainCategory> for ArticleCategory {
    fn from(c: DomainCategory) -> Self {
        ArticleCategory {
            id: c.id,
            name: c.name.into_string(),
            parent_id: c.parent_id,
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
        }
    }
}

/// Every category, by name (build the tree from `parent_id`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleCategoryList {
    pub data: Vec<ArticleCategory>,
}

/// A new category.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArticleCategory {
    #[schema(required = true, example = "Printers")]
    pub name: Option<String>,
    pub parent_id: Option<Uuid>,
}

/// Changes to a category; a `parent_id` below the category itself is refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArticleCategory {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub parent_id: Patch<Uuid>,
}

/// `unknown_reference` when `parent` is no category, `not_allowed` when it lies below
/// `category` (or is it).
async fn check_parent(
    db: &impl Conn,
    category: Uuid,
    parent: Option<Uuid>,
    errors: &mut Errors,
) -> Result<(), ApiError> {
    let Some(parent) = parent else {
        return Ok(());
    };
    let all = article_categories::all(db).await?;
    if !all.iter().any(|c| c.id == parent) {
        errors.add("parent_id", Invalid::UnknownReference);
    } else if would_loop(category, parent, |id| {
        all.iter().find(|c| c.id == id).and_then(|c| c.parent_id)
    }) {
        errors.add("parent_id", Invalid::NotAllowed);
    }
    Ok(())
}

/// List every category.
#[utoipa::path(
    tag = "knowledge",
    responses((status = 200, body = ArticleCategoryList)),
    security(("oauth2" = []))
)]
#[get("/article-categories")]
async fn list_article_categories(
    state: web::Data<AppState>,
    _staff: Staff,
) -> Result<HttpResponse, ApiError> {
    let data = article_categories::all(state.store.conn())
        .await?
        .into_iter()
        .map(ArticleCategory::from)
        .collect();
    Ok(HttpResponse::Ok().json(ArticleCategoryList { data }))
}

/// Add a category.
#[utoipa::path(
    tag = "knowledge",
    request_body = CreateArticleCategory,
    responses((status = 201, body = ArticleCategory, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["knowledge:write"]))
)]
#[post("/article-categories")]
async fn create_article_category(
    state: web::Data<AppState>,
    auth: Authorized<KnowledgeWrite>,
    body: Json<CreateArticleCategory>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let id = Uuid::now_v7();
    let mut errors = Errors::default();
    let name = match body.name.as_deref() {
        Some(n) => errors.check("name", CategoryName::parse(n)),
        None => {
            errors.add("name", Invalid::Required);
            None
        }
    };
    check_parent(&tx, id, body.parent_id, &mut errors).await?;
    let name = errors.finish_with(name)?;
    let now = state.clock.now();
    let category = DomainCategory {
        id,
        name,
        parent_id: body.parent_id,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    article_categories::insert(&tx, &category).await?;
    let body = ArticleCategory::from(category);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("article_category", body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/article-categories/{}", body.id),
    ))
}

/// Get a category.
#[utoipa::path(
    tag = "knowledge",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ArticleCategory, headers(("ETag" = String)))),
    security(("oauth2" = []))
)]
#[get("/article-categories/{id}")]
async fn get_article_category(
    state: web::Data<AppState>,
    _staff: Staff,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let body =
        ArticleCategory::from(article_categories::get(state.store.conn(), id.into_inner()).await?);
    Ok(respond::ok(&body, body.version))
}

/// Rename a category or move it in the tree.
#[utoipa::path(
    tag = "knowledge",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateArticleCategory,
    responses((status = 200, body = ArticleCategory, headers(("ETag" = String)))),
    security(("oauth2" = ["knowledge:write"]))
)]
#[patch("/article-categories/{id}")]
async fn update_article_category(
    state: web::Data<AppState>,
    auth: Authorized<KnowledgeWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateArticleCategory>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    if !body.parent_id.is_absent() {
        // Moves queue, every category locked in id order first: two crossing moves (A under
        // B, B under A) would each pass the loop check alone and make a loop together.
        let ids: Vec<Uuid> = article_categories::all(&tx)
            .await?
            .iter()
            .map(|c| c.id)
            .collect();
        repos::lock_all::<DomainCategory>(&tx, &ids).await?;
    }
    let before: DomainCategory = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(before.version)?;
    let mut c = before.clone();
    let mut errors = Errors::default();
    body.name
        .required(&mut errors, "name", &mut c.name, CategoryName::parse);
    c.parent_id = body.parent_id.apply_to(c.parent_id);
    if c.parent_id != before.parent_id {
        check_parent(&tx, c.id, c.parent_id, &mut errors).await?;
    }
    errors.finish()?;
    let saved = ArticleCategory::from(repos::save(&tx, &c, state.clock.now()).await?);
    let before = ArticleCategory::from(before);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("article_category", saved.id),
        "update",
        audit::changes(Some(&before), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// Delete an empty category (409 `conflict` while categories or articles are in it).
#[utoipa::path(
    tag = "knowledge",
    params(("id" = Uuid, Path), IfMatchParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "Categories or articles are filed in it", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["knowledge:write"]))
)]
#[delete("/article-categories/{id}")]
async fn delete_article_category(
    state: web::Data<AppState>,
    auth: Authorized<KnowledgeWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let tx = state.store.begin().await?;
    let category: DomainCategory = repos::get_locked(&tx, id.into_inner()).await?;
    if_match.check(category.version)?;
    if article_categories::in_use(&tx, category.id).await? {
        return Err(ApiError::conflict(
            ProblemCode::Conflict,
            Text::new(
                "Categories or articles are filed in this category: move them first.",
                "该分类下还有子分类或文章，请先移走。",
            ),
        ));
    }
    match article_categories::delete(&tx, category.id).await {
        Ok(()) | Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("article_category", category.id),
        "delete",
        audit::changes(Some(&ArticleCategory::from(category)), None),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
