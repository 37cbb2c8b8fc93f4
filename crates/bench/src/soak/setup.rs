//! The soak's world, made through the API before the load: two sales teams, a user of each
//! role the load plays, and a customer base spread over the teams' owners, each customer with
//! a contact whose email and phone the searches look for.

use std::sync::Arc;

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::data;
use crate::http::server::Server;

/// The roles the virtual users play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    SalesManager,
    SalesRep,
    ServiceAgent,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::SalesManager => "sales_manager",
            Role::SalesRep => "sales_rep",
            Role::ServiceAgent => "service_agent",
        }
    }
}

/// A user the load signs in as.
#[derive(Debug, Clone)]
pub struct Account {
    pub role: Role,
    pub email: String,
    pub id: Uuid,
    pub team: Option<Uuid>,
}

/// A seeded customer and who owns it.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    pub id: Uuid,
    pub owner: Uuid,
    pub team: Uuid,
}

/// Everything the virtual users need to know about the data.
pub struct World {
    /// In this order: the admin, the first team's sales manager and rep, the second team's
    /// rep, and a service agent.
    pub accounts: Vec<Account>,
    pub customers: Vec<Seeded>,
    /// `q` texts that find seeded customers: fragments of Chinese names, English word
    /// prefixes, whole emails, phones typed nationally.
    pub searches: Arc<Vec<String>>,
    /// Names for the customers the load creates.
    pub names: Arc<Vec<String>>,
}

impl World {
    /// The account virtual user `n` signs in as: the sales roles most, as in a sales team's
    /// day, with every role present from five users on.
    pub fn account_for(&self, n: usize) -> &Account {
        // Indices into `accounts`: rep 1, manager, rep 2, agent, admin, rep 1, rep 2, manager.
        const DEAL: [usize; 8] = [2, 1, 3, 4, 0, 2, 3, 1];
        &self.accounts[DEAL[n % DEAL.len()]]
    }

    /// The seeded customers `account` sees (what it reads and writes besides its own).
    pub fn visible_to(&self, account: &Account) -> Vec<Uuid> {
        self.customers
            .iter()
            .filter(|c| match account.role {
                Role::SalesRep => c.owner == account.id,
                Role::SalesManager => Some(c.team) == account.team,
                Role::Admin | Role::ServiceAgent => true,
            })
            .map(|c| c.id)
            .collect()
    }
}

/// Requests in flight while seeding.
const SEED_CONCURRENCY: usize = 8;
/// Names drawn for the customers the load creates (cycled).
const NEW_NAMES: usize = 1_000;

/// Creates the teams, the users (with `password`) and `customers` customers as the admin.
///
/// # Errors
/// A request is refused or fails.
pub async fn build(
    server: &Server,
    admin: &str,
    admin_email: &str,
    password: &str,
    customers: usize,
    seed: u64,
) -> anyhow::Result<World> {
    let id_of = |reply: &Value, what: &str| -> anyhow::Result<Uuid> {
        reply["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("the created {what} has no id: {reply}"))
    };
    let me = server.call(Method::GET, "/v1/me", admin, None).await?;
    let mut accounts = vec![Account {
        role: Role::Admin,
        email: admin_email.to_owned(),
        id: id_of(&me, "admin")?,
        team: None,
    }];
    let mut teams = Vec::new();
    for name in ["Soak East", "Soak West"] {
        let team = server
            .call(
                Method::POST,
                "/v1/teams",
                admin,
                Some(&json!({"name": name})),
            )
            .await?;
        teams.push(id_of(&team, "team")?);
    }
    let users = [
        (Role::SalesManager, "manager", Some(teams[0])),
        (Role::SalesRep, "rep.east", Some(teams[0])),
        (Role::SalesRep, "rep.west", Some(teams[1])),
        (Role::ServiceAgent, "agent", None),
    ];
    for (role, who, team) in users {
        let email = format!("{who}@soak.rapport.example");
        let body = json!({
            "email": email, "name": format!("Soak {who}"), "role": role.name(),
            "team_id": team, "password": password,
        });
        let user = server
            .call(Method::POST, "/v1/users", admin, Some(&body))
            .await?;
        accounts.push(Account {
            role,
            email,
            id: id_of(&user, "user")?,
            team,
        });
    }
    server
        .call(
            Method::PATCH,
            &format!("/v1/teams/{}", teams[0]),
            admin,
            Some(&json!({"manager_id": accounts[1].id})),
        )
        .await?;

    // Owners: two fifths the east rep's, one fifth the manager's, two fifths the west rep's.
    let owners = [
        &accounts[2],
        &accounts[2],
        &accounts[1],
        &accounts[3],
        &accounts[3],
    ];
    let names = data::new_names(seed, customers);
    let mut searches = Vec::new();
    let mut plans = Vec::with_capacity(customers);
    let mut rng = StdRng::seed_from_u64(seed);
    for (i, name) in names.iter().enumerate() {
        let owner = owners[i % owners.len()];
        let team = owner.team.context("the owners are in a team")?;
        let email = format!("contact{i}@seed.soak.example");
        let national = format!("139 {:04} {:04}", i / 10_000, i % 10_000);
        if i % 10 == 0 {
            searches.push(name_fragment(name));
            searches.push(if i % 20 == 0 {
                email.clone()
            } else {
                national.clone()
            });
        }
        let body = json!({
            "name": name,
            "kind": if rng.gen_bool(0.4) { "enterprise" } else { "sme" },
            "industry": data::pick(&mut rng, &["manufacturing", "information_technology", "wholesale_retail", "finance", "healthcare"]),
            "grade": data::pick(&mut rng, &["vip", "standard", "standard", "potential"]),
            "lifecycle_stage": data::pick(&mut rng, &["lead", "prospect", "customer", "customer"]),
            "country": "CN",
            "owner_id": owner.id,
            "team_id": team,
            "contacts": [{
                "first_name": "Lei", "last_name": format!("Seed{i}"),
                "emails": [{"address": email, "label": "work"}],
                "phones": [{"number": format!("+86 {national}"), "label": "mobile"}],
            }],
        });
        plans.push((body, owner.id, team));
    }
    let seeded = seed_customers(server, admin, plans).await?;
    Ok(World {
        accounts,
        customers: seeded,
        searches: Arc::new(searches),
        names: Arc::new(data::new_names(seed.wrapping_add(1), NEW_NAMES)),
    })
}

/// Creates the customers, [`SEED_CONCURRENCY`] at a time.
async fn seed_customers(
    server: &Server,
    admin: &str,
    plans: Vec<(Value, Uuid, Uuid)>,
) -> anyhow::Result<Vec<Seeded>> {
    let plans = Arc::new(plans);
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..SEED_CONCURRENCY {
        let plans = plans.clone();
        let client = reqwest::Client::new();
        let url = server.url("/v1/customers");
        let admin = admin.to_owned();
        workers.spawn(async move {
            let mut made = Vec::new();
            for (body, owner, team) in plans.iter().skip(worker).step_by(SEED_CONCURRENCY) {
                let response = client
                    .post(&url)
                    .bearer_auth(&admin)
                    .json(body)
                    .send()
                    .await?;
                let status = response.status();
                let reply: Value = response.json().await?;
                anyhow::ensure!(status.is_success(), "seeding a customer: {status}: {reply}");
                let id = reply["id"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .context("a created customer has no id")?;
                made.push(Seeded {
                    id,
                    owner: *owner,
                    team: *team,
                });
            }
            anyhow::Ok(made)
        });
    }
    let mut seeded = Vec::with_capacity(plans.len());
    while let Some(made) = workers.join_next().await {
        seeded.extend(made??);
    }
    Ok(seeded)
}

/// What a person types to find a company: two characters from inside a Chinese name (after
/// the city), the first four letters of an English one.
fn name_fragment(name: &str) -> String {
    if name.is_ascii() {
        name.chars().take(4).collect::<String>().to_lowercase()
    } else {
        name.chars().skip(2).take(2).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_of_names() {
        assert_eq!(name_fragment("Acme Robotics Ltd"), "acme");
        assert_eq!(name_fragment("深圳张氏科技有限公司"), "张氏");
    }
}
