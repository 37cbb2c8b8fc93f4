//! Sending an email campaign (`POST /v1/campaigns/{id}/send`, `campaigns:write`) and what
//! its messages came to: per campaign (`GET /v1/campaigns/{id}/email-stats`) and per member
//! (`GET /v1/campaigns/{id}/messages`, members of customers the caller sees), with
//! `campaigns:read`. Campaigns are seen by every holder of the scope; members follow their
//! customer's visibility.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::campaign::{Campaign, CampaignStatus, CampaignType};
use rapport_domain::campaign_email::{CampaignMessage, EmailCounts, SEND_JOB};
use rapport_domain::job::{Job, JobKind};
use rapport_domain::validation::{Errors, Invalid};
use rapport_store::repos::campaigns::{self, MemberFilter};
use rapport_store::repos::{self, Lock, campaign_messages, jobs};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Authorized;
use crate::auth::scopes::{CampaignsRead, CampaignsWrite};
use crate::error::{ApiError, ProblemCode};
use crate::extract::Query;
use crate::i18n::Text;
use crate::pagination::{Paged, page_params};
use crate::respond;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(send_campaign)
        .service(email_stats)
        .service(list_messages);
}

/// What an email campaign's messages came to. Rates are per sent message (`null` before any
/// is sent).
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailStats {
    pub campaign_id: Uuid,
    /// The campaign's status (`planned`, `active`, `completed`, `cancelled`).
    #[schema(example = "active")]
    pub status: String,
    /// The campaign's version (its `ETag`).
    pub version: i32,
    /// Messages created: one per member with marketing consent and an address at send time.
    pub messages: u64,
    /// Waiting for their turn at the configured rate.
    pub queued: u64,
    /// Taken by the SMTP server.
    pub sent: u64,
    /// Refused for good by the SMTP server.
    pub bounced: u64,
    /// Messages opened (the open pixel loaded, or a link clicked).
    pub opened: u64,
    /// Messages with a link clicked.
    pub clicked: u64,
    /// Messages whose unsubscribe link was used.
    pub unsubscribed: u64,
    /// Every open, and every click, counted.
    pub opens: u64,
    pub clicks: u64,
    /// `opened / sent`, percent, 1 decimal; `null` before any is sent.
    pub open_rate: Option<f64>,
    /// `clicked / sent`, percent, 1 decimal; `null` before any is sent.
    pub click_rate: Option<f64>,
}

impl EmailStats {
    fn new(c: &Campaign, n: EmailCounts) -> EmailStats {
        EmailStats {
            campaign_id: c.id,
            status: c.status.as_str().to_owned(),
            version: c.version,
            messages: n.messages,
            queued: n.queued,
            sent: n.sent,
            bounced: n.bounced,
            opened: n.opened,
            clicked: n.clicked,
            unsubscribed: n.unsubscribed,
            opens: n.opens,
            clicks: n.clicks,
            open_rate: n.open_rate(),
            click_rate: n.click_rate(),
        }
    }
}

fn text(en: &'static str, zh: &'static str) -> Text {
    Text::new(en, zh)
}

/// Send an email campaign: a `planned` one moves to `active` (audited, versioned), and a
/// `campaigns.send` job creates one message per member whose contact holds marketing consent
/// and has an email address when it runs (never twice for a member), sent at
/// `RAPPORT_CAMPAIGN_RATE` a minute. Sending again later reaches members added since. 409
/// `conflict` for a campaign not of type `email` or neither planned nor active, 409
/// `email_not_configured` without `RAPPORT_SMTP_URL`; 422 names a missing `email_subject` or
/// `email_body`.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path)),
    responses(
        (status = 202, description = "Sending: the messages are being queued", body = EmailStats, headers(("ETag" = String))),
        (status = 409, description = "Not an email campaign, not planned or active, or no mail server configured", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`email_subject` or `email_body` missing", body = crate::error::Problem, content_type = "application/problem+json")
    ),
    security(("oauth2" = ["campaigns:write"]))
)]
#[post("/campaigns/{id}/send")]
async fn send_campaign(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsWrite>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let tx = state.store.begin().await?;
    let before: Campaign = repos::fetch(&tx, id.into_inner(), Lock::ForUpdate).await?;
    if before.kind != CampaignType::Email {
        return Err(ApiError::conflict(
            ProblemCode::Conflict,
            text(
                "Only a campaign of type email is sent by email.",
                "只有类型为 email 的活动可以发送邮件。",
            ),
        ));
    }
    if !matches!(
        before.status,
        CampaignStatus::Planned | CampaignStatus::Active
    ) {
        return Err(ApiError::conflict(
            ProblemCode::Conflict,
            text(
                "Only a planned or active campaign is sent.",
                "只有计划中或进行中的活动可以发送。",
            ),
        ));
    }
    let mut errors = Errors::default();
    if before.email_subject.is_none() {
        errors.add("email_subject", Invalid::Required);
    }
    if before.email_body.is_none() {
        errors.add("email_body", Invalid::Required);
    }
    errors.finish()?;
    if !state.settings.send_email {
        return Err(ApiError::conflict_of(ProblemCode::EmailNotConfigured));
    }
    let campaign = if before.status == CampaignStatus::Planned {
        let mut c = before.clone();
        c.move_to(CampaignStatus::Active)
            .map_err(|_| ApiError::conflict_of(ProblemCode::InvalidTransition))?;
        let saved = repos::save(&tx, &c, now).await?;
        audit::record(
            &tx,
            &state,
            &auth.origin,
            audit::Subject::new("campaign", saved.id),
            "update",
            json!({"status": {"before": before.status.as_str(), "after": saved.status.as_str()}}),
        )
        .await?;
        saved
    } else {
        before
    };
    let kind = JobKind::parse(SEND_JOB).map_err(|e| ApiError::internal("the send job kind", e))?;
    let job = Job::new(
        kind,
        json!({ "campaign_id": campaign.id }),
        Some(format!("{SEND_JOB}:{}", campaign.id)),
        now,
        now,
    );
    // A send that ran already runs again (for members added since); one waiting is left be.
    jobs::wake(&tx, &job).await?;
    let counts = campaign_messages::counts(&tx, campaign.id).await?;
    audit::commit(tx, &state, &auth.origin).await?;
    let body = EmailStats::new(&campaign, counts);
    Ok(HttpResponse::Accepted()
        .insert_header(("ETag", respond::etag(campaign.version)))
        .json(body))
}

/// What an email campaign's messages came to: sent, bounced, opened, clicked, unsubscribed,
/// and the open and click rates.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EmailStats)),
    security(("oauth2" = ["campaigns:read"]))
)]
#[get("/campaigns/{id}/email-stats")]
async fn email_stats(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsRead>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let db = state.list_reads(&auth);
    let campaign = campaigns::get(db, id.into_inner()).await?;
    let counts = campaign_messages::counts(db, campaign.id).await?;
    Ok(HttpResponse::Ok().json(EmailStats::new(&campaign, counts)))
}

/// A member of an email campaign and its message (`status` and the times `null` while it
/// has none: not sent yet, or skipped for want of consent or an address).
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberMessage {
    pub member_id: Uuid,
    pub customer_id: Uuid,
    pub contact_id: Uuid,
    /// The member's status (`invited`, `responded`, …, `unsubscribed`).
    #[schema(example = "invited")]
    pub member_status: String,
    /// `queued`, `sent` or `bounced`; `null` without a message.
    #[schema(example = "sent")]
    pub status: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub bounced_at: Option<DateTime<Utc>>,
    pub opened_at: Option<DateTime<Utc>>,
    pub opens: i32,
    pub clicked_at: Option<DateTime<Utc>>,
    pub clicks: i32,
    pub unsubscribed_at: Option<DateTime<Utc>>,
    pub added_at: DateTime<Utc>,
}

crate::list_type!(MemberMessageList, MemberMessage);

impl MemberMessage {
    fn new(m: rapport_domain::campaign::Member, msg: Option<&CampaignMessage>) -> Self {
        MemberMessage {
            member_id: m.id,
            customer_id: m.customer_id,
            contact_id: m.contact_id,
            member_status: m.status.as_str().to_owned(),
            status: msg.map(|x| x.status.as_str().to_owned()),
            sent_at: msg.and_then(|x| x.sent_at),
            bounced_at: msg.and_then(|x| x.bounced_at),
            opened_at: msg.and_then(|x| x.opened_at),
            opens: msg.map_or(0, |x| x.open_count),
            clicked_at: msg.and_then(|x| x.clicked_at),
            clicks: msg.map_or(0, |x| x.click_count),
            unsubscribed_at: msg.and_then(|x| x.unsubscribed_at),
            added_at: m.added_at,
        }
    }
}

/// Paging of the member messages.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageListParams {
    /// 1 to 200 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The members of an email campaign (of customers the caller sees), the latest added first,
/// each with its message's status and counts.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path), MessageListParams),
    responses((status = 200, body = MemberMessageList)),
    security(("oauth2" = ["campaigns:read"]))
)]
#[get("/campaigns/{id}/messages")]
async fn list_messages(
    state: web::Data<AppState>,
    auth: Authorized<CampaignsRead>,
    id: web::Path<Uuid>,
    params: Query<MessageListParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let sort = "-added_at";
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), sort)?;
    let db = state.list_reads(&auth);
    let campaign = campaigns::get(db, id.into_inner()).await?;
    let page = campaigns::list_members(
        db,
        campaign.id,
        auth.visibility(),
        &MemberFilter::default(),
        cursor,
        limit,
    )
    .await?;
    let ids: Vec<Uuid> = page.items.iter().map(|m| m.id).collect();
    let messages = campaign_messages::of_members(db, campaign.id, &ids).await?;
    Ok(
        HttpResponse::Ok().json(MemberMessageList::from(Paged::from_page(page, sort, |m| {
            let msg = messages.get(&m.id);
            MemberMessage::new(m, msg)
        }))),
    )
}
