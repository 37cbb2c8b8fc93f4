//! Marketing campaigns, their cost entries and their members.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rapport_domain::access::Visibility;
use rapport_domain::campaign::{
    BodyTemplate, Campaign, CampaignContent, CampaignStatus, CampaignType, CostDescription,
    CostEntry, Member, MemberStatus, SubjectTemplate,
};
use rapport_domain::currency::CurrencyCode;
use rapport_domain::enums::Channel;
use rapport_domain::money::Money;
use rapport_domain::name::Title;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::entities::campaign::{self, Column, Entity};
use crate::entities::campaign_cost::{self, Column as CostColumn, Entity as Costs};
use crate::entities::campaign_member::{self, Column as MemberColumn, Entity as Members};
use crate::page::{Changes, Cursor, Page, SortDir, SortValue, keyset, list_cursor, list_order};
use crate::repos::deletions::{self, Deleted, Kind, Tombstone};
use crate::repos::record::{self, record};
use crate::repos::{corrupt, customer_visible, delete_row, parse_column, parse_optional};
use crate::{Conn, StoreError};

/// The unique index that makes a contact a member of a campaign once (SQLite names the
/// columns).
pub const MEMBER_TAKEN: &[&str] = &[
    "campaign_members_contact_key",
    "campaign_members.campaign_id, campaign_members.contact_id",
];

fn money(column: &str, minor: i64, currency: &str) -> Result<Money, StoreError> {
    let currency = parse_column(column, currency, CurrencyCode::parse)?;
    Money::from_minor(minor, currency).map_err(|e| corrupt(column, e))
}

fn to_domain(m: campaign::Model) -> Result<Campaign, StoreError> {
    let budget = match (m.budget_minor, m.budget_currency.as_deref()) {
        (Some(minor), Some(currency)) => Some(money("campaigns.budget", minor, currency)?),
        (None, None) => None,
        _ => return Err(corrupt("campaigns.budget", "amount without currency")),
    };
    Ok(Campaign {
        id: m.id,
        name: parse_column("campaigns.name", &m.name, Title::parse)?,
        kind: parse_column("campaigns.type", &m.r#type, CampaignType::parse)?,
        channel: parse_optional("campaigns.channel", m.channel.as_deref(), Channel::parse)?,
        content: parse_optional(
            "campaigns.content",
            m.content.as_deref(),
            CampaignContent::parse,
        )?,
        starts_at: m.starts_at,
        ends_at: m.ends_at,
        budget,
        owner_id: m.owner_id,
        status: parse_column("campaigns.status", &m.status, CampaignStatus::parse)?,
        email_subject: parse_optional(
            "campaigns.email_subject",
            m.email_subject.as_deref(),
            SubjectTemplate::parse,
        )?,
        email_body: parse_optional(
            "campaigns.email_body",
            m.email_body.as_deref(),
            BodyTemplate::parse,
        )?,
        created_by: m.created_by,
        created_at: m.created_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn to_active(c: &Campaign) -> Result<campaign::ActiveModel, StoreError> {
    Ok(campaign::ActiveModel {
        id: Set(c.id),
        name: Set(c.name.to_string()),
        r#type: Set(c.kind.as_str().to_owned()),
        channel: Set(c.channel.map(|ch| ch.as_str().to_owned())),
        content: Set(c.content.as_ref().map(ToString::to_string)),
        starts_at: Set(c.starts_at),
        ends_at: Set(c.ends_at),
        budget_minor: Set(c.budget.map(|b| b.minor())),
        budget_currency: Set(c.budget.map(|b| b.currency().as_str().to_owned())),
        owner_id: Set(c.owner_id),
        status: Set(c.status.as_str().to_owned()),
        email_subject: Set(c.email_subject.as_ref().map(|t| t.as_str().to_owned())),
        email_body: Set(c.email_body.as_ref().map(|t| t.as_str().to_owned())),
        created_by: Set(c.created_by),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
        version: Set(c.version),
    })
}

record!(Campaign, Entity, to_active: to_active, from_model: to_domain);

fn member_to_domain(m: campaign_member::Model) -> Result<Member, StoreError> {
    Ok(Member {
        id: m.id,
        campaign_id: m.campaign_id,
        customer_id: m.customer_id,
        contact_id: m.contact_id,
        status: parse_column("campaign_members.status", &m.status, MemberStatus::parse)?,
        added_at: m.added_at,
        responded_at: m.responded_at,
        updated_at: m.updated_at,
        version: m.version,
    })
}

fn member_to_active(m: &Member) -> Result<campaign_member::ActiveModel, StoreError> {
    Ok(campaign_member::ActiveModel {
        id: Set(m.id),
        campaign_id: Set(m.campaign_id),
        customer_id: Set(m.customer_id),
        contact_id: Set(m.contact_id),
        status: Set(m.status.as_str().to_owned()),
        added_at: Set(m.added_at),
        responded_at: Set(m.responded_at),
        updated_at: Set(m.updated_at),
        version: Set(m.version),
    })
}

record!(Member, Members, to_active: member_to_active, from_model: member_to_domain);

fn cost_to_domain(m: campaign_cost::Model) -> Result<CostEntry, StoreError> {
    Ok(CostEntry {
        id: m.id,
        campaign_id: m.campaign_id,
        amount: money("campaign_costs.amount", m.amount_minor, &m.currency)?,
        description: parse_optional(
            "campaign_costs.description",
            m.description.as_deref(),
            CostDescription::parse,
        )?,
        incurred_on: m.incurred_on,
        created_by: m.created_by,
        created_at: m.created_at,
    })
}

/// # Errors
/// Database failures.
pub async fn insert(db: &impl Conn, c: &Campaign) -> Result<(), StoreError> {
    Entity::insert(to_active(c)?)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// # Errors
/// `NotFound` when there is none.
pub async fn get(db: &impl Conn, id: Uuid) -> Result<Campaign, StoreError> {
    record::get(db, id).await
}

/// Filters of the campaign list.
#[derive(Debug, Clone, Default)]
pub struct CampaignFilter {
    pub status: Option<CampaignStatus>,
    pub kind: Option<CampaignType>,
    pub owner_id: Option<Uuid>,
    /// The change feed: campaigns changed in this span, oldest change first.
    pub changes: Option<Changes>,
}

/// Campaigns, newest first.
///
/// # Errors
/// Database failures.
pub async fn list(
    db: &impl Conn,
    filter: &CampaignFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Campaign>, StoreError> {
    let mut select = Entity::find();
    if let Some(status) = filter.status {
        select = select.filter(Column::Status.eq(status.as_str()));
    }
    if let Some(kind) = filter.kind {
        select = select.filter(Column::Type.eq(kind.as_str()));
    }
    if let Some(owner) = filter.owner_id {
        select = select.filter(Column::OwnerId.eq(owner));
    }
    let own = (Column::CreatedAt, SortDir::Desc);
    let select = list_order(
        select,
        filter.changes,
        own,
        Column::UpdatedAt,
        Column::Id,
        after,
        limit,
    );
    let rows = select.all(db).await?;
    Page::from_models(rows, limit, to_domain, |c| {
        list_cursor(
            filter.changes,
            c.updated_at,
            SortValue::Time(c.created_at),
            c.id,
        )
    })
}

/// Deletes a campaign for good, with its members and cost entries, leaving its tombstone for
/// the change feed. Customers and opportunities that name it keep its id.
///
/// # Errors
/// `NotFound` when there is no such campaign.
pub async fn delete(db: &impl Conn, id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
    Members::delete_many()
        .filter(MemberColumn::CampaignId.eq(id))
        .exec(db)
        .await?;
    Costs::delete_many()
        .filter(CostColumn::CampaignId.eq(id))
        .exec(db)
        .await?;
    delete_row::<Entity>(db, id).await?;
    deletions::record(db, Deleted::seen_by_all(Kind::Campaign, id), now).await
}

/// One page of the campaigns deleted in `changes`, oldest deletion first.
///
/// # Errors
/// Database failures.
pub async fn deleted(
    db: &impl Conn,
    changes: Changes,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Tombstone>, StoreError> {
    deletions::page(db, Kind::Campaign, Condition::all(), changes, after, limit).await
}

/// Adds a cost entry.
///
/// # Errors
/// Database failures.
pub async fn add_cost(db: &impl Conn, c: &CostEntry) -> Result<(), StoreError> {
    Costs::insert(campaign_cost::ActiveModel {
        id: Set(c.id),
        campaign_id: Set(c.campaign_id),
        amount_minor: Set(c.amount.minor()),
        currency: Set(c.amount.currency().as_str().to_owned()),
        description: Set(c.description.as_ref().map(ToString::to_string)),
        incurred_on: Set(c.incurred_on),
        created_by: Set(c.created_by),
        created_at: Set(c.created_at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The cost entry `id` of campaign `campaign_id`.
///
/// # Errors
/// `NotFound` when there is none.
pub async fn get_cost(
    db: &impl Conn,
    campaign_id: Uuid,
    id: Uuid,
) -> Result<CostEntry, StoreError> {
    let row = Costs::find_by_id(id)
        .filter(CostColumn::CampaignId.eq(campaign_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound)?;
    cost_to_domain(row)
}

/// A campaign's cost entries, the latest incurred first.
///
/// # Errors
/// Database failures.
pub async fn costs(
    db: &impl Conn,
    campaign_id: Uuid,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<CostEntry>, StoreError> {
    let select = Costs::find().filter(CostColumn::CampaignId.eq(campaign_id));
    let rows = keyset(
        select,
        CostColumn::IncurredOn,
        CostColumn::Id,
        SortDir::Desc,
        after,
        limit,
    )
    .all(db)
    .await?;
    Page::from_models(rows, limit, cost_to_domain, |c| Cursor {
        value: SortValue::Date(c.incurred_on),
        id: c.id,
    })
}

/// Deletes a cost entry of campaign `campaign_id`.
///
/// # Errors
/// `NotFound` when there is none.
pub async fn delete_cost(db: &impl Conn, campaign_id: Uuid, id: Uuid) -> Result<(), StoreError> {
    let done = Costs::delete_many()
        .filter(CostColumn::Id.eq(id))
        .filter(CostColumn::CampaignId.eq(campaign_id))
        .exec(db)
        .await?;
    if done.rows_affected == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Adds a member unless its contact is a member of the campaign already; answers whether it
/// was added (two concurrent adds of one contact add it once).
///
/// # Errors
/// Database failures.
pub async fn add_member(db: &impl Conn, m: &Member) -> Result<bool, StoreError> {
    let added = Members::insert(member_to_active(m)?)
        .on_conflict(
            OnConflict::columns([MemberColumn::CampaignId, MemberColumn::ContactId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(added > 0)
}

/// The member `id` of campaign `campaign_id`.
///
/// # Errors
/// `NotFound` when there is none.
pub async fn get_member(db: &impl Conn, campaign_id: Uuid, id: Uuid) -> Result<Member, StoreError> {
    let member: Member = record::get(db, id).await?;
    if member.campaign_id != campaign_id {
        return Err(StoreError::NotFound);
    }
    Ok(member)
}

/// Which of `contact_ids` are members of the campaign already.
///
/// # Errors
/// Database failures.
pub async fn members_among(
    db: &impl Conn,
    campaign_id: Uuid,
    contact_ids: &[Uuid],
) -> Result<HashSet<Uuid>, StoreError> {
    let mut out = HashSet::new();
    for chunk in contact_ids.chunks(1000) {
        let ids: Vec<Uuid> = Members::find()
            .select_only()
            .column(MemberColumn::ContactId)
            .filter(MemberColumn::CampaignId.eq(campaign_id))
            .filter(MemberColumn::ContactId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        out.extend(ids);
    }
    Ok(out)
}

/// Filters of a campaign's member list.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub status: Option<MemberStatus>,
    /// The change feed: members changed in this span, oldest change first.
    pub changes: Option<Changes>,
}

/// The members of a campaign whose customer is live and in `visibility`, the latest added
/// first.
///
/// # Errors
/// Database failures.
pub async fn list_members(
    db: &impl Conn,
    campaign_id: Uuid,
    visibility: Visibility,
    filter: &MemberFilter,
    after: Option<Cursor>,
    limit: u64,
) -> Result<Page<Member>, StoreError> {
    let mut select = Members::find()
        .filter(MemberColumn::CampaignId.eq(campaign_id))
        .filter(customer_visible(MemberColumn::CustomerId, visibility));
    if let Some(status) = filter.status {
        select = select.filter(MemberColumn::Status.eq(status.as_str()));
    }
    let own = (MemberColumn::AddedAt, SortDir::Desc);
    let select = list_order(
        select,
        filter.changes,
        own,
        MemberColumn::UpdatedAt,
        MemberColumn::Id,
        after,
        limit,
    );
    let rows = select.all(db).await?;
    Page::from_models(rows, limit, member_to_domain, |m| {
        list_cursor(
            filter.changes,
            m.updated_at,
            SortValue::Time(m.added_at),
            m.id,
        )
    })
}

/// Removes a member from its campaign.
///
/// # Errors
/// `NotFound` when there is no such member.
pub async fn delete_member(db: &impl Conn, id: Uuid) -> Result<(), StoreError> {
    delete_row::<Members>(db, id).await
}

/// The memberships of a contact, in every campaign.
///
/// # Errors
/// Database failures.
pub async fn memberships_of_contact(
    db: &impl Conn,
    contact_id: Uuid,
) -> Result<Vec<Member>, StoreError> {
    Members::find()
        .filter(MemberColumn::ContactId.eq(contact_id))
        .all(db)
        .await?
        .into_iter()
        .map(member_to_domain)
        .collect()
}

/// Moves the memberships of a customer's contacts to another customer (a merge moves the
/// contacts).
///
/// # Errors
/// Database failures.
pub async fn move_members(db: &impl Conn, from: Uuid, to: Uuid) -> Result<(), StoreError> {
    use sea_orm::sea_query::Expr;
    Members::update_many()
        .col_expr(MemberColumn::CustomerId, Expr::value(to))
        .filter(MemberColumn::CustomerId.eq(from))
        .exec(db)
        .await?;
    Ok(())
}

/// What the campaign report counts: campaigns whose period overlaps `[from, to)` (a campaign
/// runs from `starts_at`, or its creation, to `ends_at`, or on), of a type and status.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub kind: Option<CampaignType>,
    pub status: Option<CampaignStatus>,
}

/// One campaign's figures: counts over the records the caller sees, sums of money by
/// currency in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignFigures {
    pub campaign_id: Uuid,
    pub name: String,
    pub kind: CampaignType,
    pub status: CampaignStatus,
    pub members: i64,
    /// Members who responded, attended or converted.
    pub responses: i64,
    /// Live customers that name the campaign.
    pub leads: i64,
    pub opportunities: i64,
    pub won: i64,
    pub won_minor: std::collections::BTreeMap<CurrencyCode, i128>,
    pub cost_minor: std::collections::BTreeMap<CurrencyCode, i128>,
    /// Its email messages to those members (`campaign_messages`).
    pub email: EmailFigures,
}

/// What a campaign's email messages came to: sent, bounced, and of the sent ones those
/// opened and clicked at least once; unsubscribes through their link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmailFigures {
    pub sent: i64,
    pub bounced: i64,
    pub opened: i64,
    pub clicked: i64,
    pub unsubscribed: i64,
}

impl std::ops::AddAssign for EmailFigures {
    fn add_assign(&mut self, o: EmailFigures) {
        self.sent += o.sent;
        self.bounced += o.bounced;
        self.opened += o.opened;
        self.clicked += o.clicked;
        self.unsubscribed += o.unsubscribed;
    }
}

/// One campaign's email counts, as the report's query answers them.
#[derive(Debug, sea_orm::FromQueryResult)]
struct EmailRow {
    campaign_id: Uuid,
    sent: Option<i64>,
    bounced: Option<i64>,
    opened: Option<i64>,
    clicked: Option<i64>,
    unsubscribed: Option<i64>,
}

/// A sum of minor units read as text (it may outgrow an i64).
fn sum_of(column: &str, text: Option<String>) -> Result<i128, StoreError> {
    text.map_or(Ok(0), |t| t.parse::<i128>().map_err(|e| corrupt(column, e)))
}

/// The campaign report's figures, one entry per campaign in `filter`, oldest campaign first:
/// a handful of GROUP BY queries (members, leads, deals, won sums, costs), no row loaded
/// but the campaigns'. Members, leads and deals count only customers `visibility` sees;
/// costs count whole.
///
/// # Errors
/// Database failures.
pub async fn report(
    db: &impl Conn,
    visibility: Visibility,
    filter: &ReportFilter,
) -> Result<Vec<CampaignFigures>, StoreError> {
    use sea_orm::sea_query::Expr;
    use sea_orm::{QueryOrder, QueryTrait};

    use crate::entities::{campaign_message as message, customer, opportunity};
    use crate::stats::count_where;

    let mut select = Entity::find();
    if let Some(from) = filter.from {
        select = select.filter(
            Condition::any()
                .add(Column::EndsAt.is_null())
                .add(Column::EndsAt.gt(from)),
        );
    }
    if let Some(to) = filter.to {
        select = select.filter(
            Condition::any().add(Column::StartsAt.lt(to)).add(
                Condition::all()
                    .add(Column::StartsAt.is_null())
                    .add(Column::CreatedAt.lt(to)),
            ),
        );
    }
    if let Some(kind) = filter.kind {
        select = select.filter(Column::Type.eq(kind.as_str()));
    }
    if let Some(status) = filter.status {
        select = select.filter(Column::Status.eq(status.as_str()));
    }
    let ids = || select.clone().select_only().column(Column::Id).into_query();
    let rows: Vec<(Uuid, String, String, String)> = select
        .clone()
        .select_only()
        .column(Column::Id)
        .column(Column::Name)
        .column(Column::Type)
        .column(Column::Status)
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut at = std::collections::HashMap::new();
    for (id, name, kind, status) in rows {
        at.insert(id, out.len());
        out.push(CampaignFigures {
            campaign_id: id,
            name,
            kind: parse_column("campaigns.type", &kind, CampaignType::parse)?,
            status: parse_column("campaigns.status", &status, CampaignStatus::parse)?,
            members: 0,
            responses: 0,
            leads: 0,
            opportunities: 0,
            won: 0,
            won_minor: std::collections::BTreeMap::new(),
            cost_minor: std::collections::BTreeMap::new(),
            email: EmailFigures::default(),
        });
    }
    if out.is_empty() {
        return Ok(out);
    }

    let responses: Vec<&str> = MemberStatus::RESPONSES.iter().map(|s| s.as_str()).collect();
    let members: Vec<(Uuid, i64, Option<i64>)> = Members::find()
        .select_only()
        .column(MemberColumn::CampaignId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(count_where(MemberColumn::Status.is_in(responses)), "r")
        .filter(MemberColumn::CampaignId.in_subquery(ids()))
        .filter(customer_visible(MemberColumn::CustomerId, visibility))
        .group_by(MemberColumn::CampaignId)
        .into_tuple()
        .all(db)
        .await?;
    for (id, n, r) in members {
        if let Some(f) = at.get(&id).map(|i| &mut out[*i]) {
            f.members = n;
            f.responses = r.unwrap_or(0);
        }
    }

    // Email: the messages of the members counted above.
    let visible_members = Members::find()
        .select_only()
        .column(MemberColumn::Id)
        .filter(MemberColumn::CampaignId.in_subquery(ids()))
        .filter(customer_visible(MemberColumn::CustomerId, visibility))
        .into_query();
    let email: Vec<EmailRow> = message::Entity::find()
        .select_only()
        .column(message::Column::CampaignId)
        .column_as(count_where(message::Column::Status.eq("sent")), "sent")
        .column_as(
            count_where(message::Column::Status.eq("bounced")),
            "bounced",
        )
        .column_as(
            count_where(
                message::Column::Status
                    .eq("sent")
                    .and(message::Column::OpenedAt.is_not_null()),
            ),
            "opened",
        )
        .column_as(
            count_where(
                message::Column::Status
                    .eq("sent")
                    .and(message::Column::ClickedAt.is_not_null()),
            ),
            "clicked",
        )
        .column_as(
            count_where(message::Column::UnsubscribedAt.is_not_null()),
            "unsubscribed",
        )
        .filter(message::Column::CampaignId.in_subquery(ids()))
        .filter(message::Column::MemberId.in_subquery(visible_members))
        .group_by(message::Column::CampaignId)
        .into_model::<EmailRow>()
        .all(db)
        .await?;
    for e in email {
        if let Some(f) = at.get(&e.campaign_id).map(|i| &mut out[*i]) {
            f.email = EmailFigures {
                sent: e.sent.unwrap_or(0),
                bounced: e.bounced.unwrap_or(0),
                opened: e.opened.unwrap_or(0),
                clicked: e.clicked.unwrap_or(0),
                unsubscribed: e.unsubscribed.unwrap_or(0),
            };
        }
    }

    let leads: Vec<(Option<Uuid>, i64)> =
        crate::repos::customers::visible_only(customer::Entity::find(), visibility)
            .select_only()
            .column(customer::Column::CampaignId)
            .column_as(Expr::cust("COUNT(*)"), "n")
            .filter(customer::Column::CampaignId.in_subquery(ids()))
            .filter(customer::Column::DeletedAt.is_null())
            .group_by(customer::Column::CampaignId)
            .into_tuple()
            .all(db)
            .await?;
    for (id, n) in leads {
        if let Some(f) = id.and_then(|id| at.get(&id)).map(|i| &mut out[*i]) {
            f.leads = n;
        }
    }

    let deals = || {
        opportunity::Entity::find()
            .filter(opportunity::Column::CampaignId.in_subquery(ids()))
            .filter(customer_visible(
                opportunity::Column::CustomerId,
                visibility,
            ))
    };
    let counts: Vec<(Option<Uuid>, i64, Option<i64>)> = deals()
        .select_only()
        .column(opportunity::Column::CampaignId)
        .column_as(Expr::cust("COUNT(*)"), "n")
        .column_as(count_where(opportunity::Column::Status.eq("won")), "w")
        .group_by(opportunity::Column::CampaignId)
        .into_tuple()
        .all(db)
        .await?;
    for (id, n, w) in counts {
        if let Some(f) = id.and_then(|id| at.get(&id)).map(|i| &mut out[*i]) {
            f.opportunities = n;
            f.won = w.unwrap_or(0);
        }
    }
    let won: Vec<(Option<Uuid>, Option<String>, Option<String>)> = deals()
        .select_only()
        .column(opportunity::Column::CampaignId)
        .column(opportunity::Column::Currency)
        .column_as(Expr::cust("CAST(SUM(amount_minor) AS TEXT)"), "total")
        .filter(opportunity::Column::Status.eq("won"))
        .filter(opportunity::Column::AmountMinor.is_not_null())
        .group_by(opportunity::Column::CampaignId)
        .group_by(opportunity::Column::Currency)
        .into_tuple()
        .all(db)
        .await?;
    for (id, currency, total) in won {
        let column = "opportunities (campaign report)";
        let (Some(f), Some(currency)) = (id.and_then(|id| at.get(&id)), currency) else {
            continue;
        };
        let currency = parse_column(column, &currency, CurrencyCode::parse)?;
        *out[*f].won_minor.entry(currency).or_default() += sum_of(column, total)?;
    }

    let costs: Vec<(Uuid, String, Option<String>)> = Costs::find()
        .select_only()
        .column(CostColumn::CampaignId)
        .column(CostColumn::Currency)
        .column_as(Expr::cust("CAST(SUM(amount_minor) AS TEXT)"), "total")
        .filter(CostColumn::CampaignId.in_subquery(ids()))
        .group_by(CostColumn::CampaignId)
        .group_by(CostColumn::Currency)
        .into_tuple()
        .all(db)
        .await?;
    for (id, currency, total) in costs {
        let column = "campaign_costs (campaign report)";
        let Some(f) = at.get(&id) else { continue };
        let currency = parse_column(column, &currency, CurrencyCode::parse)?;
        *out[*f].cost_minor.entry(currency).or_default() += sum_of(column, total)?;
    }
    Ok(out)
}
