//! The public links of a campaign email, found by the message's token and nothing else:
//! the open pixel, the tracked links and the unsubscribe link. Rate limited per client
//! address. An unknown token, well formed or not, answers the same 404; nothing internal
//! (ids, names, addresses) is ever answered here.
//!
//! - `GET …/open.gif`: a 1x1 GIF; counts an open.
//! - `GET …/click/{n}`: 302 to the `n`-th link written in the campaign's body (only those: never
//!   an open redirect); counts a click (and an open when none was counted), and moves an
//!   `invited` member to `responded`.
//! - `GET …/unsubscribe`: a page with a one-click button, which changes nothing: mail scanners
//!   fetch the links of a message, and must not unsubscribe anyone.
//! - `POST …/unsubscribe` (the button, and RFC 8058 one-click from the mail client): withdraws
//!   the contact's marketing consent (source `unsubscribe`) and moves the member to
//!   `unsubscribed`, audited as the system with the request's origin; again changes nothing.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::campaign::{Campaign, Member, MemberStatus};
use rapport_domain::campaign_email::{CampaignMessage, links};
use rapport_domain::contact::{Contact as DomainContact, MarketingConsent};
use rapport_domain::customer::Customer;
use rapport_domain::enums::ConsentSource;
use rapport_domain::identity::Actor;
use rapport_store::repos::{self, Lock, campaign_messages, campaigns};
use rapport_store::{Conn, StoreError};
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::audit::{self, Origin};
use crate::auth::secret::sha256_hex;
use crate::client_ip::client_ip;
use crate::error::ApiError;
use crate::routes::customers::types::Contact;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(open_pixel)
        .service(click_link)
        .service(unsubscribe_link)
        .service(one_click_unsubscribe);
}

/// A transparent 1x1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// The per-address limit of the public endpoints.
fn limit(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    match client_ip(req) {
        Some(ip) => state.public_limiter.take_ip(ip),
        None => Ok(()),
    }
}

/// The message a token names, its member and the member's live customer (read with
/// `lock`, the customer first: the order of merges); 404 for any token that names none.
async fn message_of(
    db: &impl Conn,
    token: &str,
    lock: Lock,
) -> Result<(CampaignMessage, Member, Customer), ApiError> {
    let well_formed = token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(ApiError::NotFound);
    }
    let message = campaign_messages::by_token(db, &sha256_hex(token)).await?;
    let unlocked: Member = repos::fetch(db, message.member_id, Lock::No).await?;
    let customer: Customer = repos::fetch(db, unlocked.customer_id, lock).await?;
    let member: Member = repos::fetch(db, message.member_id, lock).await?;
    let live = customer.deleted_at.is_none() && customer.merged_into_id.is_none();
    if !live || member.customer_id != customer.id {
        return Err(ApiError::NotFound);
    }
    Ok((message, member, customer))
}

/// Moves `member` to `to` on `tx`, audited as `origin`.
async fn move_member(
    tx: &rapport_store::Tx,
    state: &AppState,
    origin: &Origin,
    before: &Member,
    to: MemberStatus,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut m = before.clone();
    m.move_to(to, now);
    let saved = repos::save(tx, &m, now).await?;
    audit::record(
        tx,
        state,
        origin,
        audit::Subject::of_customer("campaign_member", saved.id, Some(saved.customer_id)),
        "update",
        json!({"status": {"before": before.status.as_str(), "after": saved.status.as_str()}}),
    )
    .await
}

/// Records a public event of a message on the customer's trail (the contact's campaign email
/// history).
async fn record_event(
    tx: &rapport_store::Tx,
    state: &AppState,
    origin: &Origin,
    message: &CampaignMessage,
    member: &Member,
    action: &str,
) -> Result<(), ApiError> {
    audit::record(
        tx,
        state,
        origin,
        audit::Subject::of_customer("campaign_message", message.id, Some(member.customer_id)),
        action,
        json!({
            "campaign_id": {"before": null, "after": message.campaign_id},
            "member_id": {"before": null, "after": member.id},
            "contact_id": {"before": null, "after": member.contact_id},
        }),
    )
    .await
}

/// The open pixel of a campaign email: counts an open.
#[utoipa::path(
    tag = "public",
    params(("token" = String, Path, description = "The message's token")),
    responses(
        (status = 200, description = "A transparent 1x1 GIF", body = String, content_type = "image/gif"),
        (status = 404, description = "No message has this token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(())
)]
#[get("/public/email/{token}/open.gif")]
async fn open_pixel(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    limit(&req, &state)?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let (message, member, _) = message_of(&tx, &token, Lock::Share).await?;
    campaign_messages::count_open(&tx, message.id, now).await?;
    let origin = Origin::of_request(&req, Actor::System);
    if message.opened_at.is_none() {
        record_event(&tx, &state, &origin, &message, &member, "open").await?;
    }
    audit::commit(tx, &state, &origin).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/gif")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(PIXEL))
}

/// A tracked link of a campaign email: 302 to the `n`-th link written in the campaign's body
/// (counted from 0). Counts a click, and an open when none was counted; an `invited` member
/// becomes `responded`.
#[utoipa::path(
    tag = "public",
    params(
        ("token" = String, Path, description = "The message's token"),
        ("n" = u32, Path, description = "The link's index in the campaign's body")
    ),
    responses(
        (status = 302, description = "To the link, in `Location`", headers(("Location" = String))),
        (status = 404, description = "No message has this token, or its campaign no such link", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(())
)]
#[get("/public/email/{token}/click/{n}")]
async fn click_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    limit(&req, &state)?;
    let (token, n) = path.into_inner();
    let n: usize = n.parse().map_err(|_| ApiError::NotFound)?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let (message, member, _) = message_of(&tx, &token, Lock::ForUpdate).await?;
    let campaign: Campaign = campaigns::get(&tx, message.campaign_id).await?;
    let target = campaign
        .email_body
        .as_ref()
        .map(links)
        .and_then(|l| l.into_iter().nth(n))
        .ok_or(ApiError::NotFound)?;
    campaign_messages::count_click(&tx, message.id, now).await?;
    let origin = Origin::of_request(&req, Actor::System);
    if message.clicked_at.is_none() {
        record_event(&tx, &state, &origin, &message, &member, "click").await?;
    }
    if member.status == MemberStatus::Invited {
        move_member(&tx, &state, &origin, &member, MemberStatus::Responded, now).await?;
    }
    audit::commit(tx, &state, &origin).await?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, target))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
             <body>{body}</body></html>\n"
        ))
}

/// The unsubscribe link of a campaign email (`GET`, one click) and its RFC 8058 one-click
/// `POST` from the mail client (any body is ignored): both withdraw the contact's marketing
/// consent and move the member to `unsubscribed`, audited, and answer a page saying so.
/// Doing it again changes nothing.
#[utoipa::path(
    tag = "public",
    params(("token" = String, Path, description = "The message's token")),
    responses(
        (status = 200, description = "An HTML page confirming it", body = String, content_type = "text/html"),
        (status = 404, description = "No message has this token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(())
)]
#[get("/public/email/{token}/unsubscribe")]
async fn unsubscribe_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    unsubscribe(&req, &state, &token).await
}

/// The mail client's one-click unsubscribe (RFC 8058, `List-Unsubscribe-Post`): as the link.
#[utoipa::path(
    tag = "public",
    params(("token" = String, Path, description = "The message's token")),
    responses(
        (status = 200, description = "An HTML page confirming it", body = String, content_type = "text/html"),
        (status = 404, description = "No message has this token", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(())
)]
#[post("/public/email/{token}/unsubscribe")]
async fn one_click_unsubscribe(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    unsubscribe(&req, &state, &token).await
}

/// Withdraws consent for the message of `token`, once.
async fn unsubscribe(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
) -> Result<HttpResponse, ApiError> {
    limit(req, state)?;
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let (message, member, _) = message_of(&tx, token, Lock::ForUpdate).await?;
    let origin = Origin::of_request(req, Actor::System);
    let contact = match repos::fetch::<DomainContact>(&tx, member.contact_id, Lock::ForUpdate).await
    {
        Ok(c) => Some(c),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(before) = contact
        && before.marketing_consent.is_none_or(|c| c.granted)
    {
        let mut c = before.clone();
        c.marketing_consent = Some(MarketingConsent {
            granted: false,
            at: now,
            source: ConsentSource::Unsubscribe,
        });
        let saved = repos::save(&tx, &c, now).await?;
        let (before, saved) = (Contact::from(before), Contact::from(saved));
        audit::record(
            &tx,
            state,
            &origin,
            audit::Subject::of_customer("contact", saved.id, Some(saved.customer_id)),
            "update",
            audit::changes(Some(&before), Some(&saved)),
        )
        .await?;
    }
    if member.status != MemberStatus::Unsubscribed {
        move_member(
            &tx,
            state,
            &origin,
            &member,
            MemberStatus::Unsubscribed,
            now,
        )
        .await?;
    }
    if message.unsubscribed_at.is_none() {
        campaign_messages::count_unsubscribe(&tx, message.id, now).await?;
        record_event(&tx, state, &origin, &message, &member, "unsubscribe").await?;
    }
    audit::commit(tx, state, &origin).await?;
    Ok(page(
        "Unsubscribed",
        "<p>You are unsubscribed: you will get no more marketing email from us.</p>\
         <p>您已退订，不会再收到我们的营销邮件。</p>",
    ))
}
