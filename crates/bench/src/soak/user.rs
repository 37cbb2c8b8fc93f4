//! A virtual user: signs in as one account, then sends one request after another (a closed
//! loop, no pause) until the deadline, each drawn from its role's weighted mix.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::distributions::WeightedIndex;
use rand::prelude::Distribution;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::setup::{Account, Role, World};
use super::stats::{Failure, Kind, Outcome, Stats};
use crate::data::pick;

/// A request taking longer than this is a transport error (and a hung server fails the soak
/// instead of stalling it).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Customers a virtual user remembers having created (it patches and writes on them).
const OWN_KEPT: usize = 500;

/// The mix of a role, in requests per thousand: about four reads to one write, as in a
/// working day (a PATCH is a read and a write). Password sign-ins are few: each is an argon2
/// hash of tens of milliseconds of CPU, and the server runs at most one a core.
fn mix(role: Role) -> Vec<(Kind, u32)> {
    use Kind::*;
    let sales = |report: u32| {
        vec![
            (GetCustomer, 320),
            (ListCustomers, 170),
            (Search, 200),
            (CreateCustomer, 40),
            (PatchCustomer, 60),
            (CreateActivity, 60),
            (CreateTask, 40),
            (ListTasks, 95 - report),
            (Report, report),
            (Refresh, 10),
            (Login, 5),
        ]
    };
    match role {
        Role::SalesRep => sales(0),
        Role::SalesManager | Role::Admin => sales(10),
        Role::ServiceAgent => vec![
            (GetCustomer, 260),
            (ListCustomers, 100),
            (Search, 200),
            (ListTickets, 200),
            (CreateTicket, 60),
            (CreateTask, 50),
            (ListTasks, 115),
            (Refresh, 10),
            (Login, 5),
        ],
    }
}

/// List queries: filters and orders of the customer list, a page each.
const LISTS: [&str; 7] = [
    "/v1/customers?limit=20",
    "/v1/customers?lifecycle_stage=customer&limit=20",
    "/v1/customers?sort=name&limit=20",
    "/v1/customers?sort=-updated_at&limit=50",
    "/v1/customers?grade=vip&sort=-created_at&limit=20",
    "/v1/customers?industry=manufacturing&kind=enterprise&limit=20",
    "/v1/customers?lifecycle_stage=lead&first_contact_overdue=true&limit=20",
];

/// What every virtual user shares.
pub struct Shared {
    pub client: reqwest::Client,
    pub base: String,
    pub password: String,
    /// Requests sent so far by every user (for the progress lines).
    pub sent: AtomicU64,
}

pub struct VirtualUser {
    n: usize,
    account: Account,
    ctx: Arc<Shared>,
    rng: StdRng,
    mix: Vec<Kind>,
    choose: WeightedIndex<u32>,
    access: String,
    refresh: String,
    /// Seeded customers this account sees.
    visible: Vec<Uuid>,
    /// Customers this user created: up to [`OWN_KEPT`], later ones replacing earlier ones at
    /// random.
    own: Vec<Uuid>,
    searches: Arc<Vec<String>>,
    names: Arc<Vec<String>>,
    created: u64,
    /// When the load started (failures say when they happened).
    started: Instant,
    stats: Stats,
}

impl VirtualUser {
    /// Virtual user `n` of `world`, signed in (the sign-in is setup, not recorded).
    ///
    /// # Errors
    /// The sign-in failed.
    pub async fn sign_in(
        n: usize,
        world: &World,
        ctx: Arc<Shared>,
        seed: u64,
    ) -> anyhow::Result<VirtualUser> {
        let account = world.account_for(n).clone();
        let (kinds, weights): (Vec<Kind>, Vec<u32>) = mix(account.role).into_iter().unzip();
        let mut user = VirtualUser {
            n,
            visible: world.visible_to(&account),
            account,
            ctx,
            rng: StdRng::seed_from_u64(seed.wrapping_add(n as u64)),
            mix: kinds,
            choose: WeightedIndex::new(weights)?,
            access: String::new(),
            refresh: String::new(),
            own: Vec::new(),
            searches: world.searches.clone(),
            names: world.names.clone(),
            created: 0,
            started: Instant::now(),
            stats: Stats::default(),
        };
        anyhow::ensure!(
            !user.visible.is_empty(),
            "the {} sees no seeded customer",
            user.account.email
        );
        let reply: Value = user
            .ctx
            .client
            .post(format!("{}/v1/auth/token", user.ctx.base))
            .json(&user.password_grant())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        user.take_tokens(&reply)
            .with_context(|| format!("signing in {}: {reply}", user.account.email))?;
        Ok(user)
    }

    /// Sends requests until `deadline`; what it recorded.
    pub async fn run(mut self, started: Instant, deadline: Instant) -> Stats {
        self.started = started;
        while Instant::now() < deadline {
            let kind = self.mix[self.choose.sample(&mut self.rng)];
            // A failure is recorded where it happens; the loop goes on.
            let _ = self.step(kind).await;
        }
        self.stats
    }

    async fn step(&mut self, kind: Kind) -> Option<()> {
        match kind {
            Kind::GetCustomer => {
                let id = self.any_customer();
                self.send(
                    kind,
                    Method::GET,
                    &format!("/v1/customers/{id}"),
                    None,
                    None,
                )
                .await?;
            }
            Kind::ListCustomers => {
                let path = *pick(&mut self.rng, &LISTS);
                self.send(kind, Method::GET, path, None, None).await?;
            }
            Kind::Search => {
                let text = pick(&mut self.rng, &self.searches[..]).clone();
                let q: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
                let path = format!("/v1/customers?q={q}&limit=20");
                self.send(kind, Method::GET, &path, None, None).await?;
            }
            Kind::CreateCustomer => self.create_customer().await?,
            Kind::PatchCustomer => {
                if self.own.is_empty() {
                    return self.create_customer().await;
                }
                // Read, then write with the version read: activities and tasks change a
                // customer's version too, so the one a create answered goes stale. Only this
                // user knows its own customers, so nothing else writes in between.
                let id = *pick(&mut self.rng, &self.own);
                let path = format!("/v1/customers/{id}");
                let read = self
                    .send(Kind::GetCustomer, Method::GET, &path, None, None)
                    .await?;
                let version = json(&read)?["version"].as_i64()?;
                let body = json!({
                    "description": format!("Soak step {}", self.rng.r#gen::<u32>()),
                    "grade": pick(&mut self.rng, &["vip", "standard", "potential"]),
                });
                self.send(kind, Method::PATCH, &path, Some(&body), Some(version))
                    .await?;
            }
            Kind::CreateActivity => {
                let id = self.any_customer();
                let body = json!({
                    "customer_id": id,
                    "kind": pick(&mut self.rng, &["call", "email", "meeting", "note"]),
                    "summary": "Followed up during the soak",
                });
                self.send(kind, Method::POST, "/v1/activities", Some(&body), None)
                    .await?;
            }
            Kind::CreateTask => {
                let id = self.any_customer();
                let due = chrono::Utc::now() + chrono::TimeDelta::days(self.rng.gen_range(1..30));
                let body = json!({
                    "title": "Call back about the offer",
                    "customer_id": id,
                    "due_at": due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                });
                self.send(kind, Method::POST, "/v1/tasks", Some(&body), None)
                    .await?;
            }
            Kind::ListTasks => {
                let path = if self.rng.gen_bool(0.5) {
                    "/v1/tasks?assignee_id=me&limit=20"
                } else {
                    "/v1/tasks?assignee_id=me&overdue=true&limit=20"
                };
                self.send(kind, Method::GET, path, None, None).await?;
            }
            Kind::ListTickets => {
                let path = if self.rng.gen_bool(0.5) {
                    "/v1/tickets?limit=20"
                } else {
                    "/v1/tickets?status=open&sort=-created_at&limit=20"
                };
                self.send(kind, Method::GET, path, None, None).await?;
            }
            Kind::CreateTicket => {
                let id = self.any_customer();
                let body = json!({
                    "customer_id": id,
                    "subject": "The invoice shows the wrong amount",
                    "channel": pick(&mut self.rng, &["phone", "email", "web"]),
                    "category": pick(&mut self.rng, &["inquiry", "request", "incident"]),
                });
                self.send(kind, Method::POST, "/v1/tickets", Some(&body), None)
                    .await?;
            }
            Kind::Report => {
                self.send(
                    kind,
                    Method::GET,
                    "/v1/reports/customer-distribution?by=industry,grade",
                    None,
                    None,
                )
                .await?;
            }
            Kind::Login => self.login().await?,
            Kind::Refresh => {
                let body = json!({"grant_type": "refresh_token", "refresh_token": self.refresh});
                let reply = self.token(kind, &body).await?;
                self.take_tokens(&reply)?;
            }
        }
        Some(())
    }

    /// Signs in with the password: a new access and refresh token.
    async fn login(&mut self) -> Option<()> {
        let body = self.password_grant();
        let reply = self.token(Kind::Login, &body).await?;
        self.take_tokens(&reply)
    }

    fn password_grant(&self) -> Value {
        json!({
            "grant_type": "password",
            "username": self.account.email,
            "password": self.ctx.password,
        })
    }

    fn take_tokens(&mut self, reply: &Value) -> Option<()> {
        self.access = reply["access_token"].as_str()?.to_owned();
        self.refresh = reply["refresh_token"].as_str()?.to_owned();
        Some(())
    }

    async fn token(&mut self, kind: Kind, body: &Value) -> Option<Value> {
        let answer = self
            .send(kind, Method::POST, "/v1/auth/token", Some(body), None)
            .await?;
        json(&answer)
    }

    async fn create_customer(&mut self) -> Option<()> {
        self.created += 1;
        let (n, k) = (self.n, self.created);
        let name = pick(&mut self.rng, &self.names[..]).clone();
        let body = json!({
            "name": name,
            "kind": "sme",
            "lifecycle_stage": "prospect",
            "country": "CN",
            "contacts": [{
                "first_name": "Mei", "last_name": format!("Soak{n}"),
                "emails": [{"address": format!("soak{n}.{k}@load.soak.example"), "label": "work"}],
                "phones": [{"number": format!("+86 158 {n:02}{:06}", k % 1_000_000), "label": "mobile"}],
            }],
        });
        let answer = self
            .send(
                Kind::CreateCustomer,
                Method::POST,
                "/v1/customers",
                Some(&body),
                None,
            )
            .await?;
        let id = json(&answer)?["id"].as_str()?.parse().ok()?;
        if self.own.len() < OWN_KEPT {
            self.own.push(id);
        } else {
            let at = self.rng.gen_range(0..OWN_KEPT);
            self.own[at] = id;
        }
        Some(())
    }

    /// A customer this user may read and write on: a seeded one it sees, sometimes one it
    /// created.
    fn any_customer(&mut self) -> Uuid {
        if !self.own.is_empty() && self.rng.gen_bool(0.2) {
            return *pick(&mut self.rng, &self.own);
        }
        *pick(&mut self.rng, &self.visible)
    }

    /// Sends one request with the user's token and reads the whole answer; records its
    /// latency and status. The body of a 2xx (parsed only by the callers that need it: the
    /// load generator shares the cores with the server), `None` on anything else.
    async fn send(
        &mut self,
        kind: Kind,
        method: Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<i64>,
    ) -> Option<Vec<u8>> {
        let mut request = self
            .ctx
            .client
            .request(method.clone(), format!("{}{path}", self.ctx.base))
            .timeout(REQUEST_TIMEOUT);
        if kind != Kind::Login && kind != Kind::Refresh {
            request = request.bearer_auth(&self.access);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(version) = if_match {
            request = request.header(reqwest::header::IF_MATCH, format!("\"{version}\""));
        }
        let start = Instant::now();
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                response.bytes().await.map(|bytes| (status, bytes))
            }
            Err(e) => Err(e),
        };
        let elapsed = start.elapsed();
        self.ctx.sent.fetch_add(1, Ordering::Relaxed);
        let failure = |status: Option<u16>, body: String| Failure {
            at: start.duration_since(self.started),
            request: format!(
                "{} {method} {path} (as {})",
                kind.name(),
                self.account.email
            ),
            status,
            body,
        };
        match answer {
            Ok((status, bytes)) => {
                self.stats.record(kind, elapsed, &Outcome::Answered(status));
                if (200..300).contains(&status) {
                    return Some(bytes.to_vec());
                }
                let text: String = String::from_utf8_lossy(&bytes).chars().take(600).collect();
                let failure = failure(Some(status), text);
                self.stats.keep_failure(failure);
                None
            }
            Err(e) => {
                self.stats.record(kind, elapsed, &Outcome::Transport);
                let failure = failure(None, format!("{e:#}"));
                self.stats.keep_failure(failure);
                None
            }
        }
    }
}

fn json(body: &[u8]) -> Option<Value> {
    serde_json::from_slice(body).ok()
}
