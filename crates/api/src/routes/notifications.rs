//! The caller's notifications: breaches of its team's SLAs, resolutions due soon, tickets
//! assigned to it, overdue leads of its team.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use rapport_domain::notification::Notification as DomainNotification;
use rapport_store::repos::notifications;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::audit;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::Query;
use crate::i18n::Text;
use crate::pagination::{Paged, page_params};
use crate::respond;
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_notifications).service(read_notification);
}

/// Something Rapport tells a user.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Notification {
    pub id: Uuid,
    /// `sla_breached` (to the team's manager), `sla_reminder` (a resolution due soon, to the
    /// assignee), `ticket_assigned` (to the assignee) or `lead_overdue` (a lead not contacted
    /// in time, to the owner's team manager).
    #[schema(example = "sla_breached")]
    pub kind: String,
    #[schema(example = "SLA breached (resolution): The printer jams")]
    pub title: String,
    pub ticket_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub read: bool,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Notifications change once, when read.
    pub updated_at: DateTime<Utc>,
    /// 1, then 2 once read.
    pub version: i32,
}

impl From<DomainNotification> for Notification {
    fn from(n: DomainNotification) -> Self {
        Notification {
            id: n.id,
            kind: n.kind.as_str().to_owned(),
            title: n.title.into_string(),
            ticket_id: n.ticket_id,
            customer_id: n.customer_id,
            read: n.read_at.is_some(),
            read_at: n.read_at,
            created_at: n.created_at,
            updated_at: n.read_at.unwrap_or(n.created_at),
            version: if n.read_at.is_some() { 2 } else { 1 },
        }
    }
}

crate::list_type!(NotificationList, Notification);

/// Paging of the notifications.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationListParams {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

fn users_only() -> ApiError {
    ApiError::forbidden(Text::new(
        "Notifications are for users; integration clients have none.",
        "通知仅面向用户，集成客户端没有通知。",
    ))
}

/// My notifications: unread first, each part newest first.
#[utoipa::path(
    tag = "auth",
    params(NotificationListParams),
    responses((status = 200, body = NotificationList)),
    security(("oauth2" = []))
)]
#[get("/me/notifications")]
async fn list_notifications(
    state: web::Data<AppState>,
    caller: Caller,
    params: Query<NotificationListParams>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user_id().ok_or_else(users_only)?;
    let p = params.into_inner()?;
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), "unread")?;
    let page = notifications::of_user(state.store.conn(), user, cursor, limit).await?;
    Ok(
        HttpResponse::Ok().json(NotificationList::from(Paged::from_page(
            page,
            "unread",
            Notification::from,
        ))),
    )
}

/// Mark one of my notifications read.
#[utoipa::path(
    tag = "auth",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Notification, headers(("ETag" = String)))),
    security(("oauth2" = []))
)]
#[post("/me/notifications/{id}/read")]
async fn read_notification(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let user = caller.user_id().ok_or_else(users_only)?;
    let tx = state.store.begin().await?;
    let read = notifications::mark_read(&tx, user, id.into_inner(), state.clock.now()).await?;
    let body = Notification::from(read);
    audit::record_and_commit(
        tx,
        &state,
        &caller.origin,
        audit::Subject::new("notification", body.id),
        "read",
        serde_json::json!({}),
    )
    .await?;
    Ok(respond::ok(&body, body.version))
}
