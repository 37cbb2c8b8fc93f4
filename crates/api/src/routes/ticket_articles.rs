//! Articles linked to a ticket (a link counts as a use when the ticket is resolved), and the
//! articles suggested for it by its subject, description and category.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::Invalid;
use rapport_domain::article::{Article as DomainArticle, ArticleStatus, suggestion_score};
use rapport_domain::validation::Errors;
use rapport_store::repos::Lock;
use rapport_store::repos::articles::{self, ArticleFilter, Link};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{TicketsRead, TicketsWrite};
use crate::error::ApiError;
use crate::extract::Json;
use crate::references;
use crate::routes::articles::{Article, audience_of, readable, with_uses};
use crate::routes::tickets::visible_ticket;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_ticket_articles)
        .service(link_ticket_article)
        .service(unlink_ticket_article)
        .service(suggest_ticket_articles);
}

/// Suggestions answered at most.
const SUGGESTIONS: usize = 10;
/// Articles holding some of a ticket's terms that are scored, newest first.
const CANDIDATES: u64 = 200;

/// An article linked to a ticket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TicketArticle {
    pub ticket_id: Uuid,
    pub article: Article,
    /// The user or client who linked it.
    pub linked_by: Option<Uuid>,
    pub linked_at: DateTime<Utc>,
    /// When the ticket was resolved with it linked: it counts in the article's
    /// `solved_tickets`.
    pub used_at: Option<DateTime<Utc>>,
}

/// A ticket's linked articles, oldest link first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketArticleList {
    pub data: Vec<TicketArticle>,
}

/// Links an article to a ticket.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkArticle {
    /// A published article.
    #[schema(required = true)]
    pub article_id: Option<Uuid>,
}

/// An article suggested for a ticket, best first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SuggestedArticle {
    /// How well it fits: 3 for each of the ticket's words in its title, 1 for each elsewhere,
    /// 1 more for a `solution`.
    pub score: u32,
    pub article: Article,
}

/// Up to 10 suggestions, best first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestedArticleList {
    pub data: Vec<SuggestedArticle>,
}

fn answer(link: Link, article: Article) -> TicketArticle {
    TicketArticle {
        ticket_id: link.ticket_id,
        article,
        linked_by: link.linked_by,
        linked_at: link.linked_at,
        used_at: link.used_at,
    }
}

/// The articles linked to a ticket (for integration clients, the public ones).
#[utoipa::path(
    tag = "knowledge",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TicketArticleList)),
    security(("oauth2" = ["tickets:read"]))
)]
#[get("/tickets/{id}/articles")]
async fn list_ticket_articles(
    state: web::Data<AppState>,
    auth: Authorized<TicketsRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let db = state.store.conn();
    let (ticket, _) = visible_ticket(db, &auth, id.into_inner(), Lock::No).await?;
    let (links, list): (Vec<Link>, Vec<_>) =
        articles::links_of(db, ticket.id).await?.into_iter().unzip();
    // An integration client sees the links to public articles only.
    let audience = audience_of(&auth);
    let (links, list): (Vec<Link>, Vec<_>) = links
        .into_iter()
        .zip(list)
        .filter(|(_, a)| audience.is_none_or(|only| only == a.audience))
        .unzip();
    let data = links
        .into_iter()
        .zip(with_uses(db, list).await?)
        .map(|(link, article)| answer(link, article))
        .collect();
    Ok(HttpResponse::Ok().json(TicketArticleList { data }))
}

/// Link a published article to a ticket: when the ticket is resolved, the article counts
/// one solved ticket. Linking it again answers the link as it is (200).
#[utoipa::path(
    tag = "knowledge",
    params(("id" = Uuid, Path)),
    request_body = LinkArticle,
    responses(
        (status = 201, body = TicketArticle),
        (status = 200, description = "Linked already", body = TicketArticle)
    ),
    security(("oauth2" = ["tickets:write"]))
)]
#[post("/tickets/{id}/articles")]
async fn link_ticket_article(
    state: web::Data<AppState>,
    auth: Authorized<TicketsWrite>,
    id: web::Path<Uuid>,
    body: Json<LinkArticle>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let tx = state.store.begin().await?;
    let (ticket, _) = visible_ticket(&tx, &auth, id.into_inner(), Lock::ForUpdate).await?;
    let mut errors = Errors::default();
    let article = match body.article_id {
        None => {
            errors.add("article_id", Invalid::Required);
            None
        }
        Some(article_id) => {
            let found = readable(&tx, &auth, article_id, Lock::No).await;
            match references::known("article_id", found, &mut errors)? {
                Some(a) if a.status != ArticleStatus::Published => {
                    errors.add("article_id", Invalid::NotAllowed);
                    None
                }
                found => found,
            }
        }
    };
    let article = errors.finish_with(article)?;
    let link = Link {
        ticket_id: ticket.id,
        article_id: article.id,
        linked_by: auth.actor().id(),
        linked_at: state.clock.now(),
        used_at: None,
    };
    let created = articles::link(&tx, &link).await?;
    let link = if created {
        link
    } else {
        articles::get_link(&tx, ticket.id, article.id).await?
    };
    let article = with_uses(&tx, vec![article]).await?.remove(0);
    let body = answer(link, article);
    if !created {
        return Ok(HttpResponse::Ok().json(body));
    }
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("ticket", ticket.id, Some(ticket.customer_id)),
        "link_article",
        serde_json::json!({"article_id": body.article.id}),
    )
    .await?;
    Ok(HttpResponse::Created().json(body))
}

/// Unlink an article from a ticket.
#[utoipa::path(
    tag = "knowledge",
    params(("id" = Uuid, Path), ("article_id" = Uuid, Path)),
    responses((status = 204, description = "Unlinked")),
    security(("oauth2" = ["tickets:write"]))
)]
#[delete("/tickets/{id}/articles/{article_id}")]
async fn unlink_ticket_article(
    state: web::Data<AppState>,
    auth: Authorized<TicketsWrite>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, article_id) = path.into_inner();
    let tx = state.store.begin().await?;
    let (ticket, _) = visible_ticket(&tx, &auth, id, Lock::ForUpdate).await?;
    articles::unlink(&tx, ticket.id, article_id).await?;
    audit::record_and_commit(
        tx,
        &state,
        &auth.origin,
        audit::Subject::of_customer("ticket", ticket.id, Some(ticket.customer_id)),
        "unlink_article",
        serde_json::json!({"article_id": article_id}),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Published articles that fit a ticket, best first: those sharing the most of the words of
/// its subject, description and category, in their title above elsewhere, solutions first
/// among equals. Integration clients get public articles only.
#[utoipa::path(
    tag = "knowledge",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SuggestedArticleList)),
    security(("oauth2" = ["tickets:read"]))
)]
#[get("/tickets/{id}/suggested-articles")]
async fn suggest_ticket_articles(
    state: web::Data<AppState>,
    auth: Authorized<TicketsRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (ticket, _) = visible_ticket(state.store.conn(), &auth, id.into_inner(), Lock::No).await?;
    let db = state.list_reads(&auth);
    let description = ticket.description.as_ref().map_or("", |d| d.as_str());
    let wanted = articles::wanted_terms(&[
        ticket.subject.as_str(),
        description,
        ticket.category.as_str(),
    ]);
    let filter = ArticleFilter {
        status: Some(ArticleStatus::Published),
        audience: audience_of(&auth),
        ..ArticleFilter::default()
    };
    let mut scored: Vec<(u32, DomainArticle)> =
        articles::holding_any(db, &filter, &wanted, CANDIDATES)
            .await?
            .into_iter()
            .map(|c| {
                let score = suggestion_score(&wanted, c.article.kind, &c.title_terms, &c.terms);
                (score, c.article)
            })
            .filter(|(score, _)| *score > 0)
            .collect();
    // Best first; the sort is stable, so among equals the newest (the candidates' order).
    scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    scored.truncate(SUGGESTIONS);
    let (scores, list): (Vec<u32>, Vec<DomainArticle>) = scored.into_iter().unzip();
    let data = scores
        .into_iter()
        .zip(with_uses(db, list).await?)
        .map(|(score, article)| SuggestedArticle { score, article })
        .collect();
    Ok(HttpResponse::Ok().json(SuggestedArticleList { data }))
}
