//! The record a rule fires on, read as the API answers it: the JSON its conditions and
//! templates read (customer fields under `customer`), and who it belongs to.

use rapport_domain::automation::condition::RecordType;
use rapport_domain::campaign::Member as DomainMember;
use rapport_domain::contact::Contact as DomainContact;
use rapport_domain::opportunity::Opportunity as DomainOpportunity;
use rapport_domain::quote::{Order as DomainOrder, Quote as DomainQuote};
use rapport_domain::survey::Invitation as DomainInvitation;
use rapport_domain::ticket::Ticket as DomainTicket;
use rapport_store::repos::{self, Lock, customers, surveys};
use rapport_store::{Conn, StoreError};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;
use crate::routes;

/// A record as a rule sees it.
#[derive(Debug, Clone)]
pub struct Subject {
    pub record_type: RecordType,
    pub id: Uuid,
    /// The record's JSON as the API answers it, with its customer's under `customer`.
    pub json: Value,
    pub customer_id: Uuid,
    /// Its owner: an opportunity's owner, a ticket's assignee, when it has one; else its
    /// customer's owner.
    pub owner_id: Option<Uuid>,
    /// The customer's team.
    pub team_id: Option<Uuid>,
    /// Its contact: a contact itself, a member's, an invitation's or an opportunity's or
    /// ticket's when it names one.
    pub contact_id: Option<Uuid>,
}

fn to_json(value: &impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::internal("a record as JSON", e))
}

/// What the record is besides its customer.
struct Own {
    json: Value,
    customer_id: Uuid,
    owner_id: Option<Option<Uuid>>,
    contact_id: Option<Uuid>,
}

/// The record `id` of `record_type`, `None` when it is gone (or its customer is deleted). A
/// click names its campaign message: the member it was sent to is the record.
///
/// # Errors
/// Database failures.
pub async fn load(
    db: &impl Conn,
    record_type: RecordType,
    id: Uuid,
) -> Result<Option<Subject>, ApiError> {
    match read_own(db, record_type, id).await {
        Ok(own) => with_customer(db, record_type, id, own).await,
        Err(ApiError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

fn own(
    json: Value,
    customer_id: Uuid,
    owner_id: Option<Option<Uuid>>,
    contact_id: Option<Uuid>,
) -> Own {
    Own {
        json,
        customer_id,
        owner_id,
        contact_id,
    }
}

async fn read_own(db: &impl Conn, record_type: RecordType, id: Uuid) -> Result<Own, ApiError> {
    Ok(match record_type {
        // The customer itself is read as every record's customer is.
        RecordType::Customer => own(Value::Null, id, None, None),
        RecordType::Contact => {
            let c: DomainContact = repos::fetch(db, id, Lock::No).await?;
            let (customer, contact) = (c.customer_id, c.id);
            let body = routes::customers::types::Contact::from(c);
            own(to_json(&body)?, customer, None, Some(contact))
        }
        RecordType::Opportunity => {
            let o: DomainOpportunity = repos::fetch(db, id, Lock::No).await?;
            let (customer, owner, contact) = (o.customer_id, o.owner_id, o.contact_id);
            let body = routes::opportunities::Opportunity::from(o);
            own(to_json(&body)?, customer, Some(owner), contact)
        }
        RecordType::Quote => {
            let q: DomainQuote = repos::fetch(db, id, Lock::No).await?;
            let customer = q.customer_id;
            own(
                to_json(&routes::quotes::Quote::from(q))?,
                customer,
                None,
                None,
            )
        }
        RecordType::Order => {
            let o: DomainOrder = repos::fetch(db, id, Lock::No).await?;
            let customer = o.customer_id;
            own(
                to_json(&routes::orders::Order::from(o))?,
                customer,
                None,
                None,
            )
        }
        RecordType::Ticket => {
            let t: DomainTicket = repos::fetch(db, id, Lock::No).await?;
            let (customer, assignee, contact) = (t.customer_id, t.assignee_id, t.contact_id);
            let body = routes::tickets::Ticket::from(t);
            own(to_json(&body)?, customer, Some(assignee), contact)
        }
        RecordType::CampaignMember => {
            let m: DomainMember = repos::fetch(db, id, Lock::No).await?;
            let (customer, contact) = (m.customer_id, m.contact_id);
            let body = routes::campaigns::members::Member::from(m);
            own(to_json(&body)?, customer, None, Some(contact))
        }
        RecordType::SurveyInvitation => {
            let i: DomainInvitation = repos::fetch(db, id, Lock::No).await?;
            let survey = surveys::get(db, i.survey_id).await.ok();
            let (customer, contact, at) = (i.customer_id, i.contact_id, i.updated_at);
            let body = routes::survey_invitations::Invitation::new(i, survey.as_ref(), at);
            own(to_json(&body)?, customer, None, Some(contact))
        }
    })
}

async fn with_customer(
    db: &impl Conn,
    record_type: RecordType,
    id: Uuid,
    own: Own,
) -> Result<Option<Subject>, ApiError> {
    let customer = match customers::get(db, own.customer_id).await {
        Ok(c) if c.deleted_at.is_none() => c,
        Ok(_) | Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let (owner_id, team_id) = (customer.owner_id, customer.team_id);
    let customer_json = to_json(&routes::customers::types::Customer::from(customer))?;
    let json = match own.json {
        Value::Null => customer_json,
        Value::Object(mut fields) => {
            fields.insert("customer".to_owned(), customer_json);
            Value::Object(fields)
        }
        other => other,
    };
    Ok(Some(Subject {
        record_type,
        id,
        json,
        customer_id: own.customer_id,
        owner_id: own.owner_id.flatten().or(owner_id),
        team_id,
        contact_id: own.contact_id,
    }))
}
