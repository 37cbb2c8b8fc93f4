//! Who sees which customer, and who may give it to whom.

use rapport_domain::Invalid;
use rapport_domain::access::AssignmentRefusal;
use rapport_domain::contact::Contact;
use rapport_domain::customer::Customer;
use rapport_domain::validation::Errors;
use rapport_store::repos::{self, Lock, customers, teams, users};
use rapport_store::{Conn, StoreError};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::i18n::Text;
use crate::patch::Patch;

/// A customer the caller can see, deleted or not; 404 otherwise (never 403: a record outside
/// the caller's view does not exist for it).
///
/// # Errors
/// `NotFound`.
pub async fn any_visible(db: &impl Conn, caller: &Caller, id: Uuid) -> Result<Customer, ApiError> {
    read(db, caller, id, Lock::No).await
}

/// A live (not deleted) customer the caller can see; 404 otherwise.
///
/// # Errors
/// `NotFound`.
pub async fn visible(db: &impl Conn, caller: &Caller, id: Uuid) -> Result<Customer, ApiError> {
    live(read(db, caller, id, Lock::No).await?)
}

/// The customer a new record names (`customer_id`, required) and, optionally, one of its
/// contacts (`contact_id`), both checked against the caller's view: a missing or unseen one is
/// a field error in `errors`, not a 404.
///
/// # Errors
/// Database failures.
pub async fn referenced(
    db: &impl Conn,
    caller: &Caller,
    customer_id: Option<Uuid>,
    contact_id: Option<Uuid>,
    errors: &mut Errors,
) -> Result<Option<Customer>, ApiError> {
    let customer = match customer_id {
        None => {
            errors.add("customer_id", Invalid::Required);
            None
        }
        Some(id) => match visible(db, caller, id).await {
            Ok(c) => Some(c),
            Err(ApiError::NotFound) => {
                errors.add("customer_id", Invalid::UnknownReference);
                None
            }
            Err(e) => return Err(e),
        },
    };
    if let Some(c) = &customer {
        check_contact(db, c.id, contact_id, errors).await?;
    }
    Ok(customer)
}

/// Checks that `contact_id` is a contact of `customer_id`.
///
/// # Errors
/// Database failures.
pub async fn check_contact(
    db: &impl Conn,
    customer_id: Uuid,
    contact_id: Option<Uuid>,
    errors: &mut Errors,
) -> Result<(), ApiError> {
    if let Some(id) = contact_id {
        match repos::contacts::get(db, id).await {
            Ok(c) if c.customer_id == customer_id => {}
            Ok(_) | Err(StoreError::NotFound) => {
                errors.add("contact_id", Invalid::UnknownReference)
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A record that belongs to one customer and is seen with it.
pub trait OfCustomer: repos::record::Record {
    fn customer_id(&self) -> Uuid;
}

macro_rules! of_customer {
    ($($record:ty),+) => {
        $(impl OfCustomer for $record {
            fn customer_id(&self) -> Uuid {
                self.customer_id
            }
        })+
    };
}

of_customer!(
    Contact,
    rapport_domain::activity::Activity,
    rapport_domain::opportunity::Opportunity,
    rapport_domain::quote::Quote,
    rapport_domain::quote::Order,
    rapport_domain::campaign::Member
);

/// A record of a live customer the caller can see, read with `lock`; 404 otherwise
/// (contacts, activities, opportunities, quotes, orders).
///
/// # Errors
/// `NotFound`.
pub async fn of_customer<R: OfCustomer>(
    db: &impl Conn,
    caller: &Caller,
    id: Uuid,
    lock: Lock,
) -> Result<R, ApiError> {
    Ok(of_customer_with(db, caller, id, lock).await?.0)
}

/// Like [`of_customer`], with the customer.
///
/// # Errors
/// `NotFound`.
pub async fn of_customer_with<R: OfCustomer>(
    db: &impl Conn,
    caller: &Caller,
    id: Uuid,
    lock: Lock,
) -> Result<(R, Customer), ApiError> {
    let record = repos::fetch::<R>(db, id, lock).await?;
    let customer = visible(db, caller, record.customer_id()).await?;
    Ok((record, customer))
}

/// A live customer the caller can see with its contacts, read in one statement; 404
/// otherwise.
///
/// # Errors
/// `NotFound`.
pub async fn visible_with_contacts(
    db: &impl Conn,
    caller: &Caller,
    id: Uuid,
) -> Result<(Customer, Vec<Contact>), ApiError> {
    let (customer, contacts) = customers::with_contacts(db, id).await.map_err(not_found)?;
    Ok((live(in_view(caller, customer)?)?, contacts))
}

/// Like [`any_visible`], for a change in this transaction: the row stays locked until it ends.
///
/// # Errors
/// `NotFound`.
pub async fn any_to_change(
    db: &impl Conn,
    caller: &Caller,
    id: Uuid,
) -> Result<Customer, ApiError> {
    read(db, caller, id, Lock::ForUpdate).await
}

/// Like [`visible`], for a change in this transaction: the row stays locked until it ends.
///
/// # Errors
/// `NotFound`.
pub async fn to_change(db: &impl Conn, caller: &Caller, id: Uuid) -> Result<Customer, ApiError> {
    live(read(db, caller, id, Lock::ForUpdate).await?)
}

async fn read(db: &impl Conn, caller: &Caller, id: Uuid, lock: Lock) -> Result<Customer, ApiError> {
    let customer = repos::fetch::<Customer>(db, id, lock)
        .await
        .map_err(not_found)?;
    in_view(caller, customer)
}

/// The customer if the caller can see it; 404 otherwise.
fn in_view(caller: &Caller, customer: Customer) -> Result<Customer, ApiError> {
    if caller
        .visibility()
        .allows(customer.owner_id, customer.team_id)
    {
        Ok(customer)
    } else {
        Err(ApiError::NotFound)
    }
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound,
        e => e.into(),
    }
}

fn live(customer: Customer) -> Result<Customer, ApiError> {
    if customer.deleted_at.is_some() {
        return Err(ApiError::NotFound);
    }
    Ok(customer)
}

fn refusal(field: &str, refusal: AssignmentRefusal, errors: &mut Errors) -> Result<(), ApiError> {
    match refusal {
        AssignmentRefusal::NotPermitted => Err(ApiError::forbidden(Text::new(
            "Reassigning a customer's owner needs a sales manager or an admin.",
            "只有销售经理或管理员可以更改客户的负责人。",
        ))),
        AssignmentRefusal::OutsideTeam => {
            errors.add(field, Invalid::NotAllowed);
            Ok(())
        }
    }
}

/// Checks that `owner` is an enabled user the caller may give customers to; answers its team.
async fn check_owner(
    db: &impl Conn,
    caller: &Caller,
    owner: Uuid,
    errors: &mut Errors,
) -> Result<Option<Uuid>, ApiError> {
    match users::get(db, owner).await {
        Ok(user) if !user.disabled => {
            if let Err(r) = caller.assigner().may_assign_owner(owner, user.team_id) {
                refusal("owner_id", r, errors)?;
            }
            Ok(user.team_id)
        }
        Ok(_) | Err(StoreError::NotFound) => {
            errors.add("owner_id", Invalid::UnknownReference);
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

async fn check_team(
    db: &impl Conn,
    caller: &Caller,
    team: Option<Uuid>,
    errors: &mut Errors,
) -> Result<(), ApiError> {
    if let Some(id) = team {
        match teams::get(db, id).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                errors.add("team_id", Invalid::UnknownReference);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
    }
    if let Err(r) = caller.assigner().may_assign_team(team) {
        refusal("team_id", r, errors)?;
    }
    Ok(())
}

/// The owner and team of a new customer (or of a record owned like one): as given, or the
/// caller and the owner's team.
///
/// # Errors
/// 403 when a sales rep gives the customer to someone else; field errors go to `errors`.
pub async fn on_create(
    db: &impl Conn,
    caller: &Caller,
    owner: Option<Uuid>,
    team: Option<Uuid>,
    errors: &mut Errors,
) -> Result<(Option<Uuid>, Option<Uuid>), ApiError> {
    let owner = owner.or(caller.user_id());
    let owner_team = match owner {
        Some(id) => check_owner(db, caller, id, errors).await?,
        None => None,
    };
    let team = team.or(owner_team).or(caller.assigner().team_id);
    check_team(db, caller, team, errors).await?;
    Ok((owner, team))
}

/// The owner and team of a customer (or of a record owned like one: an opportunity) after a
/// change of the `current` ones: a new owner brings its team unless a team is given.
///
/// # Errors
/// 403 when a sales rep reassigns; field errors go to `errors`.
pub async fn on_update(
    db: &impl Conn,
    caller: &Caller,
    current: (Option<Uuid>, Option<Uuid>),
    owner: Patch<Uuid>,
    team: Patch<Uuid>,
    errors: &mut Errors,
) -> Result<(Option<Uuid>, Option<Uuid>), ApiError> {
    let (current_owner, current_team) = current;
    let new_owner = owner.apply_to(current_owner);
    let owner_changed = new_owner != current_owner;
    let mut owner_team = current_team;
    if owner_changed {
        match new_owner {
            Some(id) => owner_team = check_owner(db, caller, id, errors).await?,
            None => {
                if let Err(r) = caller.assigner().may_assign_owner(Uuid::nil(), None) {
                    refusal("owner_id", r, errors)?;
                }
            }
        }
    }
    let team_given = !team.is_absent();
    let new_team = if team_given {
        team.apply_to(current_team)
    } else if owner_changed && new_owner.is_some() {
        owner_team
    } else {
        current_team
    };
    if new_team != current_team {
        check_team(db, caller, new_team, errors).await?;
    }
    Ok((new_owner, new_team))
}
