//! A customer's timeline: activities, stage and grade changes, tasks, tickets, sales records and survey
//! invitations in time order.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::activity::StageChange as DomainStageChange;
use rapport_domain::auth::Scope;
use rapport_domain::grading::GradeChange as DomainGradeChange;
use rapport_domain::ticket::TicketView;
use rapport_store::SortDir;
use rapport_store::repos::activities::{self, ActivityFilter};
use rapport_store::repos::opportunities::{self, OpportunityFilter, OpportunitySort};
use rapport_store::repos::orders::{self, OrderFilter};
use rapport_store::repos::quotes::{self, QuoteFilter};
use rapport_store::repos::tasks::{self, TaskFilter, TaskScope};
use rapport_store::repos::tickets::{self, TicketFilter, TicketSort};
use rapport_store::repos::{grading, stage_changes, survey_invitations, surveys};
use rapport_store::{Cursor, Page, SortValue};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::access;
use crate::auth::Authorized;
use crate::auth::scopes::CustomersRead;
use crate::error::ApiError;
use crate::extract::Query;
use crate::pagination::{Paged, page_params};
use crate::routes::activities::Activity;
use crate::routes::opportunities::Opportunity;
use crate::routes::orders::Order;
use crate::routes::quotes::Quote;
use crate::routes::survey_invitations::Invitation;
use crate::routes::tasks::Task;
use crate::routes::tickets::Ticket;
use crate::schemas;
use crate::state::AppState;

/// A move of a customer from one lifecycle stage to another.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StageChange {
    pub id: Uuid,
    /// `null` when the customer was created in `to`.
    #[schema(schema_with = schemas::lifecycle_stage_or_null)]
    pub from: Option<String>,
    #[schema(schema_with = schemas::lifecycle_stage)]
    pub to: String,
    pub changed_at: DateTime<Utc>,
    pub changed_by: Option<Uuid>,
}

impl From<DomainStageChange> for StageChange {
    fn from(s: DomainStageChange) -> Self {
        StageChange {
            id: s.id,
            from: s.from.map(|f| f.as_str().to_owned()),
            to: s.to.as_str().to_owned(),
            changed_at: s.changed_at,
            changed_by: s.changed_by,
        }
    }
}

/// RFM scores, each 1 to 5.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RfmScores {
    pub recency: i16,
    pub frequency: i16,
    pub monetary: i16,
}

/// A change of a customer's grade: by hand, or by the value grading with its scores.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GradeChange {
    pub id: Uuid,
    /// `null` when the customer was created with `to`.
    #[schema(schema_with = schemas::grade_or_null)]
    pub from: Option<String>,
    #[schema(schema_with = schemas::grade)]
    pub to: String,
    /// The scores that made it, for a change by the value grading; `null` by hand.
    pub scores: Option<RfmScores>,
    pub changed_at: DateTime<Utc>,
    /// The user; `null` for the value grading.
    pub changed_by: Option<Uuid>,
}

impl From<DomainGradeChange> for GradeChange {
    fn from(g: DomainGradeChange) -> Self {
        GradeChange {
            id: g.id,
            from: g.from.map(|f| f.as_str().to_owned()),
            to: g.to.as_str().to_owned(),
            scores: g.scores.map(|s| RfmScores {
                recency: s.recency,
                frequency: s.frequency,
                monetary: s.monetary,
            }),
            changed_at: g.changed_at,
            changed_by: g.changed_by,
        }
    }
}

/// One entry of a timeline: exactly one of `activity`, `stage_change`, `grade_change`, `task`,
/// `ticket`, `opportunity`, `quote`, `order` and `survey_invitation` is set, as `type` says.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// `activity`, `stage_change`, `grade_change`, `task`, `ticket`, `opportunity`, `quote`,
    /// `order` or `survey_invitation`.
    #[serde(rename = "type")]
    #[schema(example = "activity")]
    pub kind: &'static str,
    pub id: Uuid,
    /// When it happened: the activity's time, the stage change's, or the creation of the
    /// task, ticket, opportunity, quote or order.
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<Activity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_change: Option<StageChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grade_change: Option<GradeChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<Task>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opportunity: Option<Opportunity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<Quote>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// A survey invitation, with its answers once answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub survey_invitation: Option<Invitation>,
}

impl TimelineEntry {
    fn new(kind: &'static str, id: Uuid, at: DateTime<Utc>) -> Self {
        TimelineEntry {
            kind,
            id,
            at,
            activity: None,
            stage_change: None,
            grade_change: None,
            task: None,
            ticket: None,
            opportunity: None,
            quote: None,
            order: None,
            survey_invitation: None,
        }
    }
}

crate::list_type!(Timeline, TimelineEntry);

/// Paging of a timeline.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A customer's timeline, newest first: activities, stage changes, tasks (with `tasks:read`),
/// tickets, survey invitations with their answers, and opportunities, quotes and orders (with
/// `opportunities:read`).
#[utoipa::path(
    tag = "customers",
    params(("id" = Uuid, Path), TimelineParams),
    responses((status = 200, body = Timeline)),
    security(("oauth2" = ["customers:read"]))
)]
#[get("/customers/{id}/timeline")]
pub async fn customer_timeline(
    state: web::Data<AppState>,
    auth: Authorized<CustomersRead>,
    id: web::Path<Uuid>,
    params: Query<TimelineParams>,
) -> Result<HttpResponse, ApiError> {
    let p = params.into_inner()?;
    let (limit, cursor) = page_params(p.limit, p.cursor.as_deref(), "-at")?;
    let db = state.store.conn();
    let customer = access::visible(db, &auth, id.into_inner()).await?;
    let now = state.clock.now();
    // Each source gives its next `limit` entries after the cursor; the newest `limit` of
    // their union are the page, and its last entry is the next cursor for all three.
    let filter = ActivityFilter {
        customer_id: Some(customer.id),
        ..Default::default()
    };
    let acts = activities::list(db, Visibility::All, &filter, cursor.clone(), limit).await?;
    let changes = stage_changes::of_customer(db, customer.id, cursor.clone(), limit).await?;
    let grades = grading::of_customer(db, customer.id, cursor.clone(), limit).await?;
    // Tasks are read with `tasks:read`; without it the timeline holds no tasks.
    let task_page = if auth.scopes.contains(Scope::TasksRead) {
        {
            // The customer is visible, so all of its tasks are.
            let scope = TaskScope::ALL;
            let filter = TaskFilter {
                customer_id: Some(customer.id),
                ..Default::default()
            };
            tasks::list(db, scope, &filter, cursor.clone(), limit).await?
        }
    } else {
        Page {
            items: Vec::new(),
            next: None,
        }
    };
    // Whoever sees the customer sees its tickets here, read only: sales roles too, which
    // hold no ticket scope (internal notes stay under `/v1/tickets`).
    let filter = TicketFilter {
        customer_id: Some(customer.id),
        ..Default::default()
    };
    let cursor_for_invitations = cursor.clone();
    let ticket_page = tickets::list(
        db,
        TicketView::All,
        &filter,
        TicketSort::Newest,
        cursor.clone(),
        limit,
    )
    .await?;
    // Sales records are read with `opportunities:read`.
    let sales = auth.scopes.contains(Scope::OpportunitiesRead);
    let (opp_page, quote_page, order_page) = if sales {
        let by_customer = OpportunityFilter {
            customer_id: Some(customer.id),
            ..Default::default()
        };
        let newest = OpportunitySort::Created(SortDir::Desc);
        let opps = opportunities::list(
            db,
            Visibility::All,
            &by_customer,
            newest,
            cursor.clone(),
            limit,
        );
        let quote_filter = QuoteFilter {
            customer_id: Some(customer.id),
            ..Default::default()
        };
        let order_filter = OrderFilter {
            customer_id: Some(customer.id),
            ..Default::default()
        };
        (
            opps.await?,
            quotes::list(db, Visibility::All, &quote_filter, cursor.clone(), limit).await?,
            orders::list(db, Visibility::All, &order_filter, cursor.clone(), limit).await?,
        )
    } else {
        (Page::empty(), Page::empty(), Page::empty())
    };
    // Survey invitations and their answers: feedback, for whoever sees the customer.
    let invitation_page =
        survey_invitations::of_customer(db, customer.id, cursor_for_invitations, limit).await?;
    let invitation_surveys =
        surveys::get_many(db, invitation_page.items.iter().map(|i| i.survey_id)).await?;
    let more = acts.next.is_some()
        || invitation_page.next.is_some()
        || changes.next.is_some()
        || grades.next.is_some()
        || task_page.next.is_some()
        || ticket_page.next.is_some()
        || opp_page.next.is_some()
        || quote_page.next.is_some()
        || order_page.next.is_some();
    let mut entries: Vec<TimelineEntry> = Vec::new();
    entries.extend(acts.items.into_iter().map(|a| {
        let entry = TimelineEntry::new("activity", a.id, a.occurred_at);
        TimelineEntry {
            activity: Some(Activity::from(a)),
            ..entry
        }
    }));
    entries.extend(changes.items.into_iter().map(|s| {
        let entry = TimelineEntry::new("stage_change", s.id, s.changed_at);
        TimelineEntry {
            stage_change: Some(StageChange::from(s)),
            ..entry
        }
    }));
    entries.extend(grades.items.into_iter().map(|g| {
        let entry = TimelineEntry::new("grade_change", g.id, g.changed_at);
        TimelineEntry {
            grade_change: Some(GradeChange::from(g)),
            ..entry
        }
    }));
    entries.extend(task_page.items.into_iter().map(|t| {
        let entry = TimelineEntry::new("task", t.id, t.created_at);
        TimelineEntry {
            task: Some(Task::new(t, now)),
            ..entry
        }
    }));
    entries.extend(ticket_page.items.into_iter().map(|t| {
        let entry = TimelineEntry::new("ticket", t.id, t.created_at);
        TimelineEntry {
            ticket: Some(Ticket::from(t)),
            ..entry
        }
    }));
    entries.extend(invitation_page.items.into_iter().map(|i| {
        let entry = TimelineEntry::new("survey_invitation", i.id, i.created_at);
        let survey = invitation_surveys.get(&i.survey_id);
        TimelineEntry {
            survey_invitation: Some(Invitation::new(i, survey, now)),
            ..entry
        }
    }));
    entries.extend(opp_page.items.into_iter().map(|o| {
        let entry = TimelineEntry::new("opportunity", o.id, o.created_at);
        TimelineEntry {
            opportunity: Some(Opportunity::from(o)),
            ..entry
        }
    }));
    entries.extend(quote_page.items.into_iter().map(|q| {
        let entry = TimelineEntry::new("quote", q.id, q.created_at);
        TimelineEntry {
            quote: Some(Quote::from(q.as_of(now))),
            ..entry
        }
    }));
    entries.extend(order_page.items.into_iter().map(|o| {
        let entry = TimelineEntry::new("order", o.id, o.created_at);
        TimelineEntry {
            order: Some(Order::from(o)),
            ..entry
        }
    }));
    entries.sort_by_key(|e| std::cmp::Reverse((e.at, e.id)));
    let cursor_of = |e: &TimelineEntry| Cursor {
        value: SortValue::Time(e.at),
        id: e.id,
    };
    let mut page = Page::from_rows(entries, limit, cursor_of);
    // A source that had more than its share of this page continues on the next one.
    if page.next.is_none() && more {
        page.next = page.items.last().map(cursor_of);
    }
    Ok(HttpResponse::Ok().json(Timeline::from(Paged::from_page(page, "-at", |e| e))))
}
