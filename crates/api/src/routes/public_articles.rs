//! The help center's articles, without authentication: published `public` articles only,
//! and only what a reader of the help center needs (no ids of people, no internal fields).

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use rapport_domain::article::{
    Article as DomainArticle, ArticleKind, ArticleStatus, Audience, Slug,
};
use rapport_store::repos::articles::{self, ArticleFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{Query, code_param};
use crate::pagination::Paged;
use crate::routes::articles::{category_subtree, page_of};
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_public_articles)
        .service(get_public_article);
}

/// A published article of the help center.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicArticle {
    #[schema(example = "printer-jams-on-every-second-page")]
    pub slug: String,
    pub title: String,
    /// Markdown, as written.
    pub body: String,
    /// The body rendered to HTML and sanitized.
    pub body_html: String,
    #[schema(schema_with = schemas::article_kind)]
    pub kind: String,
    pub category_id: Option<Uuid>,
    pub tags: Vec<String>,
    pub language: String,
    pub published_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<DomainArticle> for PublicArticle {
    fn from(a: DomainArticle) -> Self {
        PublicArticle {
            slug: a.slug.as_str().to_owned(),
            title: a.title.into_string(),
            body_html: a.body.html().to_owned(),
            body: a.body.as_str().to_owned(),
            kind: a.kind.as_str().to_owned(),
            category_id: a.category_id,
            tags: a.tags.into_iter().map(|t| t.into_string()).collect(),
            language: a.language.as_str().to_owned(),
            published_at: a.published_at,
            updated_at: a.updated_at,
        }
    }
}

crate::list_type!(PublicArticleList, PublicArticle);

/// Filters of the help center's list: newest first, or by relevance with `q`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicArticleListParams {
    /// Search the title, tags and body, best matches first.
    pub q: Option<String>,
    #[param(schema_with = schemas::article_kind)]
    pub kind: Option<String>,
    /// A category, and the categories below it.
    pub category_id: Option<Uuid>,
    pub tag: Option<String>,
    pub language: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List or search the help center's articles. No authentication.
#[utoipa::path(
    tag = "public",
    params(PublicArticleListParams),
    responses((status = 200, body = PublicArticleList)),
    security(())
)]
#[get("/public/articles")]
async fn list_public_articles(
    state: web::Data<AppState>,
    params: Query<PublicArticleListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let db = state.store.replica();
    let filter = ArticleFilter {
        status: Some(ArticleStatus::Published),
        audience: Some(Audience::Public),
        kind: code_param("kind", p.kind.as_deref(), ArticleKind::parse)?,
        category_ids: category_subtree(db, p.category_id).await?,
        tag: p.tag.as_deref().map(str::to_lowercase),
        language: p.language,
        customer_id: None,
        changes: None,
    };
    let (page, sort) = page_of(
        &state,
        db,
        &filter,
        p.q.as_deref(),
        p.limit,
        p.cursor.as_deref(),
    )
    .await?;
    Ok(
        HttpResponse::Ok().json(PublicArticleList::from(Paged::from_page(
            page,
            sort,
            PublicArticle::from,
        ))),
    )
}

/// A help-center article by its slug. No authentication; 404 for anything but a published
/// `public` article.
#[utoipa::path(
    tag = "public",
    params(("slug" = String, Path)),
    responses((status = 200, body = PublicArticle)),
    security(())
)]
#[get("/public/articles/{slug}")]
async fn get_public_article(
    state: web::Data<AppState>,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = Slug::parse(&slug).map_err(|_| ApiError::NotFound)?;
    let article = articles::by_slug(state.store.conn(), &slug).await?;
    if article.status != ArticleStatus::Published || article.audience != Audience::Public {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::Ok().json(PublicArticle::from(article)))
}
