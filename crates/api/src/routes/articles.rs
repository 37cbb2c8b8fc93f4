//! Knowledge-base articles and their published versions. Every staff role reads published
//! articles; `knowledge:write` writes them and reads drafts and archived ones too.

use std::collections::HashMap;

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::article::{
    Article as DomainArticle, ArticleKind, ArticleStatus, ArticleVersion as DomainVersion,
    Audience, Language, Slug,
};
use rapport_domain::auth::Scope;
use rapport_domain::markdown::Markdown;
use rapport_domain::name::Title;
use rapport_domain::search::SearchQuery;
use rapport_domain::tag::parse_tags;
use rapport_domain::validation::Errors;
use rapport_store::repos::articles::{self, ArticleFilter};
use rapport_store::repos::{self, Lock, article_categories};
use rapport_store::{Conn, Page};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::scopes::KnowledgeWrite;
use crate::auth::{Authorized, Caller, Principal, Staff};
use crate::error::ApiError;
use crate::extract::{IfMatch, IfMatchParam, Json, Query, code_param};
use crate::feed;
use crate::pagination::{Paged, page_params};
use crate::patch::Patch;
use crate::references;
use crate::respond;
use crate::routes::customers::access;
use crate::schemas;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_articles)
        .service(create_article)
        .service(get_article)
        .service(update_article)
        .service(list_article_versions)
        .service(get_article_version);
}

/// A knowledge-base article.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Article {
    pub id: Uuid,
    /// Its address in the help center: `/v1/public/articles/{slug}` once published for the
    /// `public`.
    #[schema(example = "printer-jams-on-every-second-page")]
    pub slug: String,
    #[schema(example = "Printer jams on every second page")]
    pub title: String,
    /// Markdown, as written.
    pub body: String,
    /// The body rendered to HTML and sanitized: safe to insert into a page as it is.
    pub body_html: String,
    #[schema(schema_with = schemas::article_kind)]
    pub kind: String,
    pub category_id: Option<Uuid>,
    pub tags: Vec<String>,
    /// A language tag.
    #[schema(example = "zh-CN")]
    pub language: String,
    #[schema(schema_with = schemas::audience)]
    pub audience: String,
    /// `draft → published → archived`; an archived article may be published again. Other
    /// moves answer 409 with `allowed`.
    #[schema(schema_with = schemas::article_status)]
    pub status: String,
    /// The customer a success case tells of.
    pub customer_id: Option<Uuid>,
    pub author_id: Option<Uuid>,
    pub reviewer_id: Option<Uuid>,
    /// The number of its latest published version (`/v1/articles/{id}/versions`); 0 until
    /// first published.
    pub revision: i32,
    pub published_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
    /// Tickets resolved with this article linked (`/v1/tickets/{id}/articles`).
    pub solved_tickets: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Article {
    pub fn new(a: DomainArticle, solved_tickets: i64) -> Self {
        Article {
            id: a.id,
            slug: a.slug.as_str().to_owned(),
            title: a.title.into_string(),
            body_html: a.body.html().to_owned(),
            body: a.body.as_str().to_owned(),
            kind: a.kind.as_str().to_owned(),
            category_id: a.category_id,
            tags: a.tags.into_iter().map(|t| t.into_string()).collect(),
            language: a.language.as_str().to_owned(),
            audience: a.audience.as_str().to_owned(),
            status: a.status.as_str().to_owned(),
            customer_id: a.customer_id,
            author_id: a.author_id,
            reviewer_id: a.reviewer_id,
            revision: a.revision,
            published_at: a.published_at,
            archived_at: a.archived_at,
            solved_tickets,
            created_at: a.created_at,
            updated_at: a.updated_at,
            version: a.version,
        }
    }
}

crate::list_type!(ArticleList, Article);

/// Articles with their counts of solved tickets, read in one statement.
pub(crate) async fn with_uses(
    db: &impl Conn,
    list: Vec<DomainArticle>,
) -> Result<Vec<Article>, ApiError> {
    let ids: Vec<Uuid> = list.iter().map(|a| a.id).collect();
    let uses: HashMap<Uuid, i64> = articles::uses(db, &ids).await?;
    Ok(list
        .into_iter()
        .map(|a| {
            let n = uses.get(&a.id).copied().unwrap_or(0);
            Article::new(a, n)
        })
        .collect())
}

/// How many tickets an article helped resolve.
async fn solved_tickets(db: &impl Conn, id: Uuid) -> Result<i64, ApiError> {
    Ok(articles::uses(db, &[id])
        .await?
        .get(&id)
        .copied()
        .unwrap_or(0))
}

/// A new article.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArticle {
    #[schema(required = true, example = "Printer jams on every second page")]
    pub title: Option<String>,
    /// Markdown, up to 100,000 characters.
    #[schema(
        required = true,
        example = "1. Open the rear tray.\n2. Pull the paper out."
    )]
    pub body: Option<String>,
    #[schema(schema_with = schemas::article_kind, required = true)]
    pub kind: Option<String>,
    /// Default: made from the title (Chinese in pinyin), numbered when taken.
    pub slug: Option<String>,
    pub category_id: Option<Uuid>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// A language tag; default `en`.
    pub language: Option<String>,
    /// Default `internal`.
    #[schema(schema_with = schemas::audience_or_null)]
    pub audience: Option<String>,
    /// `draft` (the default) or `published`.
    #[schema(schema_with = schemas::article_status_or_null)]
    pub status: Option<String>,
    /// The customer a success case tells of (one the caller sees).
    pub customer_id: Option<Uuid>,
    /// A user who writes the knowledge base.
    pub reviewer_id: Option<Uuid>,
}

/// Changes to an article; `null` clears optional fields. A new title or body of a published
/// article is a new version; the old one stays readable.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateArticle {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub body: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::article_kind)]
    pub kind: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub slug: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub category_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>, nullable)]
    pub tags: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub language: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::audience)]
    pub audience: Patch<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::article_status)]
    pub status: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub customer_id: Patch<Uuid>,
    #[serde(default)]
    #[schema(value_type = Option<Uuid>, nullable)]
    pub reviewer_id: Patch<Uuid>,
}

/// Filters of the article list: newest first, or by relevance with `q`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArticleListParams {
    /// Search the title, tags and body: Chinese fragments, words and their beginnings, the
    /// pinyin and inner parts of titles. Best matches first (a title match above a body
    /// match), then newest.
    pub q: Option<String>,
    #[param(schema_with = schemas::article_kind)]
    pub kind: Option<String>,
    /// A category, and the categories below it.
    pub category_id: Option<Uuid>,
    pub tag: Option<String>,
    #[param(schema_with = schemas::audience)]
    pub audience: Option<String>,
    /// Only with `knowledge:write`; others read `published` articles only.
    #[param(schema_with = schemas::article_status)]
    pub status: Option<String>,
    pub language: Option<String>,
    pub customer_id: Option<Uuid>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// The change feed: every article changed at or after this time, oldest change first,
    /// each at its latest version. Changes show once they are 5 seconds old. Walk the pages
    /// with `cursor`; at the end, ask again with the last `updated_at` you saw (keep the
    /// highest `version`). Articles are never deleted (they are archived). Takes the other
    /// filters, not `q`.
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// One published version of an article's text.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ArticleVersion {
    pub article_id: Uuid,
    /// 1 for the first publication, then one more for each new published text.
    pub number: i32,
    pub title: String,
    pub body: String,
    pub body_html: String,
    /// Who published this text.
    pub editor_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<DomainVersion> for ArticleVersion {
    fn from(v: DomainVersion) -> Self {
        ArticleVersion {
            article_id: v.article_id,
            number: v.number,
            title: v.title.into_string(),
            body_html: v.body.html().to_owned(),
            body: v.body.as_str().to_owned(),
            editor_id: v.editor_id,
            created_at: v.created_at,
        }
    }
}

/// Every version of an article, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleVersionList {
    pub data: Vec<ArticleVersion>,
}

/// Does the caller read drafts and archived articles too?
fn writes_knowledge(caller: &Caller) -> bool {
    caller.scopes.contains(Scope::KnowledgeWrite)
}

/// The audience a caller is limited to: integration clients (which reach articles only
/// through tickets) read public articles; staff read internal ones too.
pub(crate) fn audience_of(caller: &Caller) -> Option<Audience> {
    match caller.principal {
        Principal::User { .. } => None,
        Principal::Client { .. } => Some(Audience::Public),
    }
}

/// An article the caller may read, read with `lock`; 404 otherwise.
pub(crate) async fn readable(
    db: &impl Conn,
    caller: &Caller,
    id: Uuid,
    lock: Lock,
) -> Result<DomainArticle, ApiError> {
    let article = repos::fetch::<DomainArticle>(db, id, lock).await?;
    let in_audience = audience_of(caller).is_none_or(|a| a == article.audience);
    if (article.is_published() || writes_knowledge(caller)) && in_audience {
        Ok(article)
    } else {
        Err(ApiError::NotFound)
    }
}

/// The list's filters from its parameters; `published_only` for callers who read nothing
/// else.
pub(crate) async fn list_filter(
    db: &impl Conn,
    p: &ArticleListParams,
    published_only: bool,
) -> Result<ArticleFilter, ApiError> {
    let status = code_param("status", p.status.as_deref(), ArticleStatus::parse)?;
    let status = if published_only {
        match status {
            None | Some(ArticleStatus::Published) => Some(ArticleStatus::Published),
            Some(_) => return Err(ApiError::bad_parameter("status", Invalid::NotAllowed)),
        }
    } else {
        status
    };
    Ok(ArticleFilter {
        status,
        kind: code_param("kind", p.kind.as_deref(), ArticleKind::parse)?,
        audience: code_param("audience", p.audience.as_deref(), Audience::parse)?,
        category_ids: category_subtree(db, p.category_id).await?,
        tag: p.tag.as_deref().map(str::to_lowercase),
        language: p.language.clone(),
        customer_id: p.customer_id,
        changes: None,
    })
}

/// A category and the categories below it, for a filter.
pub(crate) async fn category_subtree(
    db: &impl Conn,
    root: Option<Uuid>,
) -> Result<Option<Vec<Uuid>>, ApiError> {
    let Some(root) = root else {
        return Ok(None);
    };
    let all = article_categories::all(db).await?;
    Ok(Some(article_categories::subtree(&all, root)))
}

/// A page of articles passing `filter`: by relevance with `q`, by change in a change feed,
/// otherwise newest first; and the name of its order (for the cursor).
pub(crate) async fn page_of(
    state: &AppState,
    db: &impl Conn,
    filter: &ArticleFilter,
    q: Option<&str>,
    limit: Option<i64>,
    cursor: Option<&str>,
) -> Result<(Page<DomainArticle>, &'static str), ApiError> {
    if filter.changes.is_some() && q.is_some() {
        return Err(ApiError::bad_parameter("q", Invalid::NotAllowed));
    }
    let query = q.and_then(|q| SearchQuery::parse(q, state.settings.default_region));
    let sort = match (&query, filter.changes) {
        (_, Some(_)) => feed::SORT,
        (Some(_), None) => "search",
        (None, None) => "-created_at",
    };
    let (limit, cursor) = page_params(limit, cursor, sort)?;
    let page = match &query {
        Some(query) => articles::search(db, filter, query, cursor, limit).await?,
        None => articles::list(db, filter, cursor, limit).await?,
    };
    Ok((page, sort))
}

/// List or search the articles the caller reads.
#[utoipa::path(
    tag = "knowledge",
    params(ArticleListParams),
    responses((status = 200, body = ArticleList)),
    security(("oauth2" = []))
)]
#[get("/articles")]
async fn list_articles(
    state: web::Data<AppState>,
    caller: Staff,
    params: Query<ArticleListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let db = state.list_reads(&caller);
    let mut filter = list_filter(db, &p, !writes_knowledge(&caller)).await?;
    filter.changes = p.updated_since.map(|since| feed::changes(&state, since));
    let (page, sort) = page_of(
        &state,
        db,
        &filter,
        p.q.as_deref(),
        p.limit,
        p.cursor.as_deref(),
    )
    .await?;
    let next = page.next;
    let data = with_uses(db, page.items).await?;
    let paged = Paged::from_page(Page { items: data, next }, sort, |a| a);
    Ok(HttpResponse::Ok().json(ArticleList::from(paged)))
}

/// The slug to give an article: `wanted` when given (422 `duplicate` when taken), otherwise
/// made from the title and numbered until free.
async fn free_slug(
    db: &impl Conn,
    id: Uuid,
    wanted: Option<Slug>,
    title: &Title,
    errors: &mut Errors,
) -> Result<Option<Slug>, ApiError> {
    if let Some(slug) = wanted {
        if articles::slug_taken(db, &slug, id).await? {
            errors.add("slug", Invalid::Duplicate);
            return Ok(None);
        }
        return Ok(Some(slug));
    }
    let base = Slug::from_title(title.as_str());
    let mut slug = base.clone();
    let mut n = 1;
    while articles::slug_taken(db, &slug, id).await? {
        n += 1;
        slug = base.numbered(n);
    }
    Ok(Some(slug))
}

/// `unknown_reference` at `category_id` when there is no such category.
async fn check_category(
    db: &impl Conn,
    id: Option<Uuid>,
    errors: &mut Errors,
) -> Result<(), ApiError> {
    if let Some(id) = id {
        references::known("category_id", article_categories::get(db, id).await, errors)?;
    }
    Ok(())
}

/// A reviewer must be an active user who writes the knowledge base.
async fn check_reviewer(
    db: &impl Conn,
    id: Option<Uuid>,
    errors: &mut Errors,
) -> Result<(), ApiError> {
    let Some(id) = id else {
        return Ok(());
    };
    references::user_with(db, "reviewer_id", id, Scope::KnowledgeWrite, errors).await?;
    Ok(())
}

/// The customer a success case names must be one the caller sees.
async fn check_customer(
    db: &impl Conn,
    caller: &Caller,
    id: Option<Uuid>,
    errors: &mut Errors,
) -> Result<(), ApiError> {
    if let Some(id) = id {
        references::known("customer_id", access::visible(db, caller, id).await, errors)?;
    }
    Ok(())
}

fn move_error(e: rapport_domain::article::ArticleMoveError) -> ApiError {
    ApiError::status_refused(("An article", "文章"), e.from, e.to, &e.allowed)
}

/// Write an article, as a draft or published at once.
#[utoipa::path(
    tag = "knowledge",
    request_body = CreateArticle,
    responses((status = 201, body = Article, headers(("Location" = String), ("ETag" = String)))),
    security(("oauth2" = ["knowledge:write"]))
)]
#[post("/articles")]
async fn create_article(
    state: web::Data<AppState>,
    auth: Authorized<KnowledgeWrite>,
    body: Json<CreateArticle>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let now = state.clock.now();
    let id = Uuid::now_v7();
    let mut errors = Errors::default();
    let title = match body.title.as_deref() {
        Some(t) => errors.check("title", Title::parse(t)),
        None => {
            errors.add("title", Invalid::Required);
            None
        }
    };
    let text = match body.body.as_deref() {
        Some(b) => errors.check("body", Markdown::parse(b)),
        None => {
            errors.add("body", Invalid::Required);
            None
        }
    };
    let kind = match body.kind.as_deref() {
        Some(k) => errors.check("kind", ArticleKind::parse(k)),
        None => {
            errors.add("kind", Invalid::Required);
            None
        }
    };
    let wanted_slug = errors
        .check_opt("slug", body.slug.as_deref(), Slug::parse)
        .flatten();
    let language = errors.check(
        "language",
        Language::parse(body.language.as_deref().unwrap_or("en")),
    );
    let audience = errors.check(
        "audience",
        Audience::parse(body.audience.as_deref().unwrap_or("internal")),
    );
    let status = match body.status.as_deref().map(ArticleStatus::parse).transpose() {
        Ok(None | Some(ArticleStatus::Draft)) => Some(ArticleStatus::Draft),
        Ok(Some(ArticleStatus::Published)) => Some(ArticleStatus::Published),
        Ok(Some(ArticleStatus::Archived)) => {
            errors.add("status", Invalid::NotAllowed);
            None
        }
        Err(e) => {
            errors.add("status", e);
            None
        }
    };
    let tags = parse_tags(&body.tags, "tags", &mut errors);
    // The writer is taken once the text is parsed and rendered: on SQLite it is one for all.
    let tx = state.store.begin().await?;
    check_category(&tx, body.category_id, &mut errors).await?;
    check_reviewer(&tx, body.reviewer_id, &mut errors).await?;
    check_customer(&tx, &auth, body.customer_id, &mut errors).await?;
    let slug = match &title {
        Some(title) if errors.is_empty() => {
            free_slug(&tx, id, wanted_slug, title, &mut errors).await?
        }
        _ => None,
    };
    let (title, text, kind, slug, language, audience, status) = errors.finish_with((|| {
        Some((title?, text?, kind?, slug?, language?, audience?, status?))
    })())?;
    let mut article = DomainArticle {
        id,
        slug,
        title,
        body: text,
        kind,
        category_id: body.category_id,
        tags,
        language,
        audience,
        status: ArticleStatus::Draft,
        customer_id: body.customer_id,
        author_id: auth.user_id(),
        reviewer_id: body.reviewer_id,
        revision: 0,
        published_at: None,
        archived_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    if status == ArticleStatus::Published {
        article.move_to(status, now).map_err(move_error)?;
    }
    let version = article.new_version(None, auth.user_id(), now);
    articles::insert(&tx, &article).await?;
    if let Some(version) = &version {
        articles::insert_version(&tx, version).await?;
    }
    let body = Article::new(article, 0);
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("article", body.id),
        "create",
        audit::changes(None, Some(&body)),
    )
    .await?;
    Ok(respond::created(
        &body,
        body.version,
        format!("/v1/articles/{}", body.id),
    ))
}

/// Get an article: a published one, or any with `knowledge:write`.
#[utoipa::path(
    tag = "knowledge",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Article, headers(("ETag" = String)))),
    security(("oauth2" = []))
)]
#[get("/articles/{id}")]
async fn get_article(
    state: web::Data<AppState>,
    caller: Staff,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let db = state.store.conn();
    let article = readable(db, &caller, id.into_inner(), Lock::No).await?;
    let solved = solved_tickets(db, article.id).await?;
    let body = Article::new(article, solved);
    Ok(respond::ok(&body, body.version))
}

/// Change an article: its fields, or its status along `draft → published → archived`. A new
/// title or body of a published article (or a publication) keeps a new version.
#[utoipa::path(
    tag = "knowledge",
    params(("id" = Uuid, Path), IfMatchParam),
    request_body = UpdateArticle,
    responses(
        (status = 200, body = Article, headers(("ETag" = String))),
        (status = 409, description = "A status move the workflow does not allow (`allowed`)", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["knowledge:write"]))
)]
#[patch("/articles/{id}")]
async fn update_article(
    state: web::Data<AppState>,
    auth: Authorized<KnowledgeWrite>,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: Json<UpdateArticle>,
) -> Result<HttpResponse, ApiError> {
    let mut body = body.into_inner()?;
    // Rendered before the writer is taken: on SQLite it is one for all.
    let mut errors = Errors::default();
    let text = match std::mem::take(&mut body.body) {
        Patch::Value(b) => errors.check("body", Markdown::parse(&b)),
        Patch::Null => {
            errors.add("body", Invalid::Required);
            None
        }
        Patch::Absent => None,
    };
    let tx = state.store.begin().await?;
    let before = readable(&tx, &auth, id.into_inner(), Lock::ForUpdate).await?;
    if_match.check(before.version)?;
    let now = state.clock.now();
    let mut a = before.clone();
    body.title
        .required(&mut errors, "title", &mut a.title, Title::parse);
    if let Some(text) = text {
        a.body = text;
    }
    body.kind
        .required(&mut errors, "kind", &mut a.kind, ArticleKind::parse);
    body.slug
        .required(&mut errors, "slug", &mut a.slug, Slug::parse);
    if a.slug != before.slug && articles::slug_taken(&tx, &a.slug, a.id).await? {
        errors.add("slug", Invalid::Duplicate);
    }
    a.category_id = body.category_id.apply_to(a.category_id);
    if a.category_id != before.category_id {
        check_category(&tx, a.category_id, &mut errors).await?;
    }
    body.tags.collection(&mut errors, &mut a.tags, |tags, e| {
        Some(parse_tags(&tags, "tags", e))
    });
    body.language
        .required(&mut errors, "language", &mut a.language, Language::parse);
    body.audience
        .required(&mut errors, "audience", &mut a.audience, Audience::parse);
    a.customer_id = body.customer_id.apply_to(a.customer_id);
    if a.customer_id != before.customer_id {
        check_customer(&tx, &auth, a.customer_id, &mut errors).await?;
    }
    a.reviewer_id = body.reviewer_id.apply_to(a.reviewer_id);
    if a.reviewer_id != before.reviewer_id {
        check_reviewer(&tx, a.reviewer_id, &mut errors).await?;
    }
    let mut status = a.status;
    body.status
        .required(&mut errors, "status", &mut status, ArticleStatus::parse);
    errors.finish()?;
    if status != a.status {
        a.move_to(status, now).map_err(move_error)?;
    }
    let latest = match a.revision {
        0 => None,
        number => Some(articles::version(&tx, a.id, number).await?),
    };
    let version = a.new_version(latest.as_ref(), auth.user_id(), now);
    let saved = repos::save(&tx, &a, now).await?;
    if !saved.found_as(&before) {
        articles::index(&tx, &saved).await?;
    }
    if let Some(version) = &version {
        articles::insert_version(&tx, version).await?;
    }
    // A change of the article changes none of its uses.
    let solved = solved_tickets(&tx, saved.id).await?;
    let (saved, before) = (Article::new(saved, solved), Article::new(before, solved));
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::new("article", saved.id),
        "update",
        audit::changes(Some(&before), Some(&saved)),
    )
    .await?;
    Ok(respond::ok(&saved, saved.version))
}

/// An article's published versions, newest first.
#[utoipa::path(
    tag = "knowledge",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ArticleVersionList)),
    security(("oauth2" = []))
)]
#[get("/articles/{id}/versions")]
async fn list_article_versions(
    state: web::Data<AppState>,
    caller: Staff,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let db = state.store.conn();
    let article = readable(db, &caller, id.into_inner(), Lock::No).await?;
    let data = articles::versions(db, article.id)
        .await?
        .into_iter()
        .map(ArticleVersion::from)
        .collect();
    Ok(HttpResponse::Ok().json(ArticleVersionList { data }))
}

/// One published version of an article.
#[utoipa::path(
    tag = "knowledge",
    params(("id" = Uuid, Path), ("number" = i32, Path)),
    responses((status = 200, body = ArticleVersion)),
    security(("oauth2" = []))
)]
#[get("/articles/{id}/versions/{number}")]
async fn get_article_version(
    state: web::Data<AppState>,
    caller: Staff,
    path: web::Path<(Uuid, i32)>,
) -> Result<HttpResponse, ApiError> {
    let (id, number) = path.into_inner();
    let db = state.store.conn();
    let article = readable(db, &caller, id, Lock::No).await?;
    let version = articles::version(db, article.id, number).await?;
    Ok(HttpResponse::Ok().json(ArticleVersion::from(version)))
}
