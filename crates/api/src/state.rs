//! What every handler shares: the store, the clock, the keys and the settings.

use std::sync::Arc;

use rapport_domain::clock::Clock;
use rapport_domain::customer::LeadFollowUp;
use rapport_domain::phone::Region;
use rapport_store::DatabaseConnection;
use rapport_store::Store;

use crate::auth::Caller;
use crate::auth::jwt::JwtKeys;
use crate::auth::password::Passwords;
use crate::auth::rate_limit::LoginLimiter;
use crate::auth::token_checks::TokenChecks;
use crate::client_ip::TrustedProxies;
use crate::middleware::browser::CorsOrigins;
use crate::middleware::rate_limit::RequestLimiter;
use crate::recent_writers::RecentWriters;

/// Settings of the API that come from the configuration.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Lifetime of an access token.
    pub access_token_ttl_secs: i64,
    /// Lifetime of a refresh token.
    pub refresh_token_ttl_secs: i64,
    /// The longest a sign-in lasts, however often its tokens are refreshed.
    pub session_max_age_secs: i64,
    /// How long a one-time password works.
    pub one_time_password_ttl_secs: i64,
    /// Region for phone numbers written without a country code.
    pub default_region: Region,
    /// How soon a new lead must be contacted.
    pub lead_follow_up: LeadFollowUp,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Largest accepted file of an import (`/v1/imports/...`).
    pub max_import_bytes: usize,
    /// Proxies whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
    /// Origins allowed to call from a browser.
    pub cors_origins: CorsOrigins,
    /// How long after its resolution a ticket may be reopened.
    pub ticket_reopen_days: i64,
    /// The link a survey invitation gives, `{token}` standing for its token.
    pub survey_url: String,
    /// Whether invitations are emailed (an SMTP server is configured).
    pub send_email: bool,
    /// May webhooks post to loopback, private and link-local addresses?
    pub webhooks_allow_private: bool,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            session_max_age_secs: 90 * 24 * 3600,
            one_time_password_ttl_secs: 72 * 3600,
            default_region: Region::parse("US")
                .unwrap_or_else(|_| unreachable!("US has phone numbers")),
            lead_follow_up: LeadFollowUp::default(),
            max_body_bytes: AppState::DEFAULT_BODY_LIMIT,
            max_import_bytes: AppState::DEFAULT_IMPORT_LIMIT,
            trusted_proxies: TrustedProxies::default(),
            cors_origins: CorsOrigins::default(),
            ticket_reopen_days: 7,
            survey_url: "http://127.0.0.1:8080/v1/public/surveys/{token}".into(),
            send_email: false,
            webhooks_allow_private: false,
        }
    }
}

/// Shared application state (`web::Data<AppState>`).
pub struct AppState {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub jwt: JwtKeys,
    pub settings: ApiSettings,
    pub login_limiter: LoginLimiter,
    /// Requests to the public survey endpoints, per client address.
    pub public_limiter: LoginLimiter,
    /// Requests to `/v1`, per caller and per client address.
    pub request_limiter: RequestLimiter,
    pub passwords: Passwords,
    /// Token checks this instance has read (shared with [`crate::auth::token_checks::watch`]).
    pub token_checks: Arc<TokenChecks>,
    /// With a replica only: callers that changed something a moment ago, whose lists read the
    /// primary.
    pub recent_writers: Option<RecentWriters>,
    /// The runtime that built the server and outlives its workers: requests run in its
    /// context (see [`crate::middleware::io_home`]).
    pub io_home: tokio::runtime::Handle,
}

/// Parses a comma-separated setting, skipping blanks; a bad entry is answered as written.
pub(crate) fn parse_comma_list<T>(
    list: &str,
    one: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| one(entry).ok_or_else(|| entry.to_owned()))
        .collect()
}

impl AppState {
    /// 1 MiB: generous for JSON records, small enough to refuse abuse early.
    pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
    /// 64 MiB: a CSV of some 400,000 customers with a contact each.
    pub const DEFAULT_IMPORT_LIMIT: usize = 64 * 1024 * 1024;

    /// The largest body a request to `path` may send: an import's file, or a JSON record.
    pub fn body_limit(&self, path: &str) -> usize {
        if path.starts_with("/v1/imports/") {
            self.settings.max_import_bytes
        } else {
            self.settings.max_body_bytes
        }
    }

    /// Where a list or a search reads: the replica when there is one, unless `caller`
    /// changed something within [`crate::recent_writers::WINDOW`] and would not find it there.
    pub fn list_reads(&self, caller: &Caller) -> &DatabaseConnection {
        match &self.recent_writers {
            Some(writers) if !writers.wrote_recently(caller.principal_id()) => self.store.replica(),
            _ => self.store.conn(),
        }
    }

    /// When a one-time password given now stops working.
    pub fn one_time_password_expiry(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now() + chrono::Duration::seconds(self.settings.one_time_password_ttl_secs)
    }
}
