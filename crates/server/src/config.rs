//! Configuration: command-line flags and environment variables (the names of the API
//! contract's "Operating" table), over an optional TOML file, over defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use rapport_api::client_ip::TrustedProxies;
use rapport_api::middleware::browser::CorsOrigins;

use rapport_store::crypto::FieldCipher;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::jobs::RunnerOptions;
use crate::tls::TlsFiles;

/// Options shared by every subcommand. Each is also an environment variable and a key of the
/// TOML file given with `--config`.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// TOML file with any of the settings below (snake_case keys, e.g. `bind = "0.0.0.0:8080"`).
    #[arg(long, env = "RAPPORT_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "RAPPORT_BIND", global = true)]
    pub bind: Option<String>,
    /// `sqlite://...` or `postgres://...` [default: SQLite file in the data folder]
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true, value_parser = secret)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL replica for reads that may lag (lists, search) [default: the primary]
    #[arg(long, env = "DATABASE_READ_URL", global = true, hide_env_values = true, value_parser = secret)]
    pub database_read_url: Option<SecretString>,
    /// Where the SQLite file and generated secrets live [default: ./data]
    #[arg(long, env = "RAPPORT_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// HS256 secret, at least 32 bytes [default: generated once, kept in the data folder]
    #[arg(
        long,
        env = "RAPPORT_JWT_SECRET",
        global = true,
        hide_env_values = true,
        value_parser = secret
    )]
    pub jwt_secret: Option<SecretString>,
    /// JWT algorithm: HS256, RS256 or EdDSA [default: HS256]
    #[arg(long, env = "RAPPORT_JWT_ALGORITHM", global = true)]
    pub jwt_algorithm: Option<String>,
    /// PEM private key file for RS256/EdDSA
    #[arg(long, env = "RAPPORT_JWT_PRIVATE_KEY_FILE", global = true)]
    pub jwt_private_key_file: Option<PathBuf>,
    /// PEM public key file for RS256/EdDSA
    #[arg(long, env = "RAPPORT_JWT_PUBLIC_KEY_FILE", global = true)]
    pub jwt_public_key_file: Option<PathBuf>,
    /// Access token lifetime in seconds [default: 900]
    #[arg(long, env = "RAPPORT_ACCESS_TOKEN_TTL", global = true)]
    pub access_token_ttl: Option<i64>,
    /// Refresh token lifetime in seconds [default: 2592000, 30 days]
    #[arg(long, env = "RAPPORT_REFRESH_TOKEN_TTL", global = true)]
    pub refresh_token_ttl: Option<i64>,
    /// The longest a sign-in lasts however often it is refreshed, in seconds [default: 7776000,
    /// 90 days]
    #[arg(long, env = "RAPPORT_SESSION_MAX_AGE", global = true)]
    pub session_max_age: Option<i64>,
    /// How long a one-time password works, in seconds [default: 259200, 72 hours]
    #[arg(long, env = "RAPPORT_ONE_TIME_PASSWORD_TTL", global = true)]
    pub one_time_password_ttl: Option<i64>,
    /// Create this admin at start when no user exists
    #[arg(long, env = "RAPPORT_ADMIN_EMAIL", global = true)]
    pub admin_email: Option<String>,
    /// Password of that admin (no one-time password is printed then)
    #[arg(
        long,
        env = "RAPPORT_ADMIN_PASSWORD",
        global = true,
        hide_env_values = true,
        value_parser = secret
    )]
    pub admin_password: Option<SecretString>,
    /// Region for phone numbers written without a country code [default: US]
    #[arg(long, env = "RAPPORT_DEFAULT_REGION", global = true)]
    pub default_region: Option<String>,
    /// Hours within which a new lead must be contacted [default: 24]
    #[arg(long, env = "RAPPORT_LEAD_FOLLOW_UP_HOURS", global = true)]
    pub lead_follow_up_hours: Option<i64>,
    /// Minutes before a ticket's resolution is due when its assignee is reminded; 0: never
    /// [default: 60]
    #[arg(long, env = "RAPPORT_SLA_REMINDER_MINUTES", global = true)]
    pub sla_reminder_minutes: Option<i64>,
    /// Days after its resolution within which a ticket may be reopened [default: 7]
    #[arg(long, env = "RAPPORT_TICKET_REOPEN_DAYS", global = true)]
    pub ticket_reopen_days: Option<i64>,
    /// Days a deleted customer can be restored; then the housekeeping job erases it (its
    /// personal data, irreversibly; amounts stay for reports) [default: 30]
    #[arg(long, env = "RAPPORT_DELETED_RETENTION_DAYS", global = true)]
    pub deleted_retention_days: Option<i64>,
    /// Value grading: the RFM score sum (3 to 15) from which a customer is `vip` [default: 13]
    #[arg(long, env = "RAPPORT_GRADING_VIP_SCORE", global = true)]
    pub grading_vip_score: Option<i16>,
    /// Value grading: the RFM score sum from which a customer is `standard` (below:
    /// `potential`) [default: 7]
    #[arg(long, env = "RAPPORT_GRADING_STANDARD_SCORE", global = true)]
    pub grading_standard_score: Option<i16>,
    /// Value grading: the months of purchases that count [default: 24]
    #[arg(long, env = "RAPPORT_GRADING_MONTHS", global = true)]
    pub grading_months: Option<u32>,
    /// Log filter, e.g. `info` or `rapport=debug,info` [default: info]
    #[arg(long, env = "RAPPORT_LOG", global = true)]
    pub log: Option<String>,
    /// Log format: `text` or `json` [default: text]
    #[arg(long, env = "RAPPORT_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// Database pool size [default: 1 for SQLite, 10 for PostgreSQL]
    #[arg(long, env = "RAPPORT_DB_MAX_CONNECTIONS", global = true)]
    pub db_max_connections: Option<u32>,
    /// Seconds a request waits for the database (a pooled connection, or a new one) before
    /// it answers 503 [default: 5]
    #[arg(long, env = "RAPPORT_DB_TIMEOUT", global = true)]
    pub db_timeout: Option<u64>,
    /// Largest accepted request body in bytes [default: 1048576]
    #[arg(long, env = "RAPPORT_MAX_BODY_BYTES", global = true)]
    pub max_body_bytes: Option<usize>,
    /// Largest accepted import file (CSV) in bytes [default: 67108864]
    #[arg(long, env = "RAPPORT_MAX_IMPORT_BYTES", global = true)]
    pub max_import_bytes: Option<usize>,
    /// HTTP worker threads [default: one per CPU core]
    #[arg(long, env = "RAPPORT_WORKERS", global = true)]
    pub workers: Option<usize>,
    /// Background jobs this instance runs at once; 0 runs none (an instance that only serves
    /// HTTP) [default: 4]
    #[arg(long, env = "RAPPORT_JOB_WORKERS", global = true)]
    pub job_workers: Option<usize>,
    /// Seconds a running job stays its worker's without a renewal: a job whose process died
    /// runs again after at most this long [default: 60]
    #[arg(long, env = "RAPPORT_JOB_LEASE", global = true)]
    pub job_lease: Option<u64>,
    /// Milliseconds between an idle worker's looks for due jobs [default: 1000]
    #[arg(long, env = "RAPPORT_JOB_POLL_MS", global = true)]
    pub job_poll_ms: Option<u64>,
    /// Comma-separated CIDRs of reverse proxies whose `Forwarded` / `X-Forwarded-For` headers
    /// name the client (for login limits and the audit trail) [default: none]
    #[arg(long, env = "RAPPORT_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,
    /// Comma-separated origins allowed to call the API from a browser, e.g.
    /// `https://app.example.cn` [default: none]
    #[arg(long, env = "RAPPORT_CORS_ORIGINS", global = true)]
    pub cors_origins: Option<String>,
    /// Key that encrypts registration numbers and kept answers at rest: 32 bytes in base64
    /// (`openssl rand -base64 32`) [default: generated once, kept in the data folder]
    #[arg(
        long,
        env = "RAPPORT_ENCRYPTION_KEY",
        global = true,
        hide_env_values = true,
        value_parser = secret
    )]
    pub encryption_key: Option<SecretString>,
    /// Comma-separated earlier encryption keys: still read, re-sealed by `rapport rotate-key`
    #[arg(
        long,
        env = "RAPPORT_ENCRYPTION_OLD_KEYS",
        global = true,
        hide_env_values = true,
        value_parser = secret
    )]
    pub encryption_old_keys: Option<SecretString>,
    /// PEM certificate chain: serve HTTPS (and HTTP/2) with it; reloaded on SIGHUP
    #[arg(long, env = "RAPPORT_TLS_CERT", global = true)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of RAPPORT_TLS_CERT
    #[arg(long, env = "RAPPORT_TLS_KEY", global = true)]
    pub tls_key: Option<PathBuf>,
    /// Outgoing mail server for survey invitations, e.g. smtp://127.0.0.1:2525 (smtps:// for
    /// TLS; user:password@ in the URL) [default: no email sent]
    #[arg(long, env = "RAPPORT_SMTP_URL", global = true, hide_env_values = true, value_parser = secret)]
    pub smtp_url: Option<SecretString>,
    /// The sender of outgoing mail [default: rapport@localhost]
    #[arg(long, env = "RAPPORT_SMTP_FROM", global = true)]
    pub smtp_from: Option<String>,
    /// The link a survey invitation gives, with `{token}` where its token goes
    /// [default: http://<RAPPORT_BIND>/v1/public/surveys/{token}]
    #[arg(long, env = "RAPPORT_SURVEY_URL", global = true)]
    pub survey_url: Option<String>,
    /// Where people reach this server from outside: the start of the tracked links, open
    /// pixel and unsubscribe link of campaign emails [default: http://<RAPPORT_BIND>]
    #[arg(long, env = "RAPPORT_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Campaign emails sent a minute, at most (1 to 100000) [default: 600]
    #[arg(long, env = "RAPPORT_CAMPAIGN_RATE", global = true)]
    pub campaign_rate: Option<u32>,
    /// Let webhooks post to loopback, private and link-local addresses (a receiver on this
    /// machine or the local network); refused otherwise, as a guard against server-side
    /// request forgery [default: false]
    #[arg(long, env = "RAPPORT_WEBHOOKS_ALLOW_PRIVATE", global = true)]
    pub webhooks_allow_private: Option<bool>,
    /// Requests a minute on /v1, comma-separated: `ip=6000` per client address, `default=1200`
    /// per caller, a role (`sales_rep=600`, `integration=3000`) or one client
    /// (`client:<id>=5000`) [default: ip=6000,default=1200]
    #[arg(long, env = "RAPPORT_RATE_LIMITS", global = true)]
    pub rate_limits: Option<String>,
}

/// The TOML file: the same settings as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<String>,
    database_url: Option<SecretString>,
    database_read_url: Option<SecretString>,
    data_dir: Option<PathBuf>,
    jwt_secret: Option<SecretString>,
    jwt_algorithm: Option<String>,
    jwt_private_key_file: Option<PathBuf>,
    jwt_public_key_file: Option<PathBuf>,
    access_token_ttl: Option<i64>,
    refresh_token_ttl: Option<i64>,
    session_max_age: Option<i64>,
    one_time_password_ttl: Option<i64>,
    admin_email: Option<String>,
    admin_password: Option<SecretString>,
    default_region: Option<String>,
    lead_follow_up_hours: Option<i64>,
    ticket_reopen_days: Option<i64>,
    deleted_retention_days: Option<i64>,
    sla_reminder_minutes: Option<i64>,
    grading_vip_score: Option<i16>,
    grading_standard_score: Option<i16>,
    grading_months: Option<u32>,
    log: Option<String>,
    log_format: Option<String>,
    db_max_connections: Option<u32>,
    db_timeout: Option<u64>,
    max_body_bytes: Option<usize>,
    max_import_bytes: Option<usize>,
    workers: Option<usize>,
    job_workers: Option<usize>,
    job_lease: Option<u64>,
    job_poll_ms: Option<u64>,
    trusted_proxies: Option<String>,
    cors_origins: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    smtp_url: Option<SecretString>,
    smtp_from: Option<String>,
    survey_url: Option<String>,
    public_url: Option<String>,
    campaign_rate: Option<u32>,
    webhooks_allow_private: Option<bool>,
    rate_limits: Option<String>,
    encryption_key: Option<SecretString>,
    encryption_old_keys: Option<SecretString>,
}

/// How access tokens are signed.
#[derive(Debug, Clone)]
pub enum JwtKeySource {
    /// A configured HS256 secret.
    Secret(SecretString),
    /// Generate one secret and keep it in the data folder.
    Generated,
    /// RS256 or EdDSA key files.
    KeyPair {
        algorithm: String,
        private_key: PathBuf,
        public_key: PathBuf,
    },
}

/// The first admin to create when no user exists.
#[derive(Debug, Clone)]
pub struct AdminSeed {
    pub email: String,
    pub password: Option<SecretString>,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    /// May hold the database password.
    pub database_url: SecretString,
    /// A PostgreSQL replica for lists and search (may hold a password too).
    pub database_read_url: Option<SecretString>,
    pub data_dir: PathBuf,
    pub jwt: JwtKeySource,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub session_max_age: i64,
    pub one_time_password_ttl: i64,
    pub admin: AdminSeed,
    pub default_region: rapport_domain::phone::Region,
    pub lead_follow_up_hours: i64,
    pub ticket_reopen_days: i64,
    /// How long a deleted customer stays restorable before it is erased.
    pub deleted_retention: chrono::Duration,
    pub sla_reminder_minutes: i64,
    pub grading: rapport_domain::grading::GradingRules,
    pub log: String,
    pub log_json: bool,
    pub db_max_connections: Option<u32>,
    /// How long a request waits for the database before it answers 503.
    pub db_timeout: std::time::Duration,
    pub max_body_bytes: usize,
    pub max_import_bytes: usize,
    pub workers: Option<usize>,
    /// How this instance runs background jobs.
    pub jobs: RunnerOptions,
    pub trusted_proxies: TrustedProxies,
    pub cors_origins: CorsOrigins,
    /// Serve HTTPS with these files.
    pub tls: Option<TlsFiles>,
    /// The encryption key (none: the one generated in the data folder) and earlier ones.
    /// Base64, checked to hold 32 bytes.
    pub encryption_key: Option<SecretString>,
    pub encryption_old_keys: Vec<SecretString>,
    /// Where outgoing mail goes; none: no email is sent.
    pub smtp: Option<Smtp>,
    /// The link of a survey invitation, `{token}` standing for its token.
    pub survey_url: String,
    /// Where people reach this server from outside (no trailing slash): campaign emails'
    /// public links start with it.
    pub public_url: String,
    /// Campaign emails sent a minute, at most.
    pub campaign_rate: u32,
    /// May webhooks post to loopback, private and link-local addresses?
    pub webhooks_allow_private: bool,
    /// Requests a minute per client address, caller, role and client.
    pub rate_limits: rapport_api::middleware::rate_limit::RequestQuota,
}

/// The outgoing mail server.
#[derive(Debug, Clone)]
pub struct Smtp {
    /// `smtp://host:port` (`smtps://` for TLS); may hold a password.
    pub url: SecretString,
    pub from: String,
}

impl Smtp {
    /// A connection pool to the server, shared by clones (every kind that emails through
    /// the same settings can share one), and the sender.
    ///
    /// # Errors
    /// The URL or the sender cannot be used.
    pub fn mailer(
        &self,
    ) -> anyhow::Result<(
        lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
        lettre::message::Mailbox,
    )> {
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(
            self.url.expose_secret(),
        )?
        .build();
        Ok((transport, self.from.parse()?))
    }
}

/// A configuration that cannot be used, with what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    ParseFile {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("{name}: {message}")]
    Invalid { name: &'static str, message: String },
}

/// Reads a secret flag or variable straight into a type whose `Debug` prints no secret.
fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

fn invalid(name: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        message: message.into(),
    }
}

impl Settings {
    /// Layers the flags and environment over the file over the defaults, and validates.
    ///
    /// # Errors
    /// The file cannot be read or parsed, or a value is invalid.
    pub fn load(args: &ConfigArgs) -> Result<Settings, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let bind_text = args
            .bind
            .clone()
            .or(file.bind)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let bind = bind_text.parse::<SocketAddr>().map_err(|e| {
            invalid(
                "RAPPORT_BIND",
                format!("`{bind_text}` is not an address:port ({e})"),
            )
        })?;
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| default_sqlite_url(&data_dir).into());
        let url = database_url.expose_secret();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        let database_read_url = args
            .database_read_url
            .clone()
            .or(file.database_read_url)
            .filter(|u| !u.expose_secret().trim().is_empty());
        if let Some(read) = &database_read_url {
            let postgres = |u: &str| u.starts_with("postgres://") || u.starts_with("postgresql://");
            if !postgres(url) || !postgres(read.expose_secret()) {
                return Err(invalid(
                    "DATABASE_READ_URL",
                    "is a PostgreSQL replica of a PostgreSQL DATABASE_URL (SQLite reads in parallel by itself)",
                ));
            }
        }
        let jwt = jwt_source(
            args.jwt_secret.clone().or(file.jwt_secret),
            args.jwt_algorithm.clone().or(file.jwt_algorithm),
            args.jwt_private_key_file
                .clone()
                .or(file.jwt_private_key_file),
            args.jwt_public_key_file
                .clone()
                .or(file.jwt_public_key_file),
        )?;
        let access_token_ttl = args
            .access_token_ttl
            .or(file.access_token_ttl)
            .unwrap_or(900);
        let refresh_token_ttl = args
            .refresh_token_ttl
            .or(file.refresh_token_ttl)
            .unwrap_or(30 * 24 * 3600);
        if !(30..=86_400).contains(&access_token_ttl) {
            return Err(invalid(
                "RAPPORT_ACCESS_TOKEN_TTL",
                "must be 30 to 86400 seconds",
            ));
        }
        if !(300..=31_536_000).contains(&refresh_token_ttl) {
            return Err(invalid(
                "RAPPORT_REFRESH_TOKEN_TTL",
                "must be 300 seconds to 365 days",
            ));
        }
        let session_max_age = args
            .session_max_age
            .or(file.session_max_age)
            .unwrap_or(90 * 24 * 3600);
        if !(300..=31_536_000).contains(&session_max_age) {
            return Err(invalid(
                "RAPPORT_SESSION_MAX_AGE",
                "must be 300 seconds to 365 days",
            ));
        }
        let one_time_password_ttl = args
            .one_time_password_ttl
            .or(file.one_time_password_ttl)
            .unwrap_or(72 * 3600);
        if !(60..=31_536_000).contains(&one_time_password_ttl) {
            return Err(invalid(
                "RAPPORT_ONE_TIME_PASSWORD_TTL",
                "must be 60 seconds to 365 days",
            ));
        }
        let admin = AdminSeed {
            email: args
                .admin_email
                .clone()
                .or(file.admin_email)
                .unwrap_or_else(|| "admin@rapport.local".into()),
            password: args.admin_password.clone().or(file.admin_password),
        };
        rapport_domain::email::Email::parse(&admin.email)
            .map_err(|e| invalid("RAPPORT_ADMIN_EMAIL", format!("not a valid email ({e})")))?;
        if let Some(password) = &admin.password {
            rapport_domain::password::Password::parse(password.expose_secret()).map_err(|_| {
                invalid(
                    "RAPPORT_ADMIN_PASSWORD",
                    "use at least 10 characters, not all the same",
                )
            })?;
        }
        let default_region = args
            .default_region
            .clone()
            .or(file.default_region)
            .unwrap_or_else(|| "US".into());
        let default_region =
            rapport_domain::phone::Region::parse(&default_region).map_err(|_| {
                invalid(
                    "RAPPORT_DEFAULT_REGION",
                    format!("`{default_region}` is not a region with phone numbers"),
                )
            })?;
        let lead_follow_up_hours = args
            .lead_follow_up_hours
            .or(file.lead_follow_up_hours)
            .unwrap_or(24);
        if !(1..=24 * 365).contains(&lead_follow_up_hours) {
            return Err(invalid(
                "RAPPORT_LEAD_FOLLOW_UP_HOURS",
                "must be 1 to 8760 hours",
            ));
        }
        let ticket_reopen_days = args
            .ticket_reopen_days
            .or(file.ticket_reopen_days)
            .unwrap_or(7);
        if !(0..=365).contains(&ticket_reopen_days) {
            return Err(invalid(
                "RAPPORT_TICKET_REOPEN_DAYS",
                "must be 0 to 365 days",
            ));
        }
        let deleted_retention_days = args
            .deleted_retention_days
            .or(file.deleted_retention_days)
            .unwrap_or(30);
        if !(1..=3650).contains(&deleted_retention_days) {
            return Err(invalid(
                "RAPPORT_DELETED_RETENTION_DAYS",
                "must be 1 to 3650 days",
            ));
        }
        let sla_reminder_minutes = args
            .sla_reminder_minutes
            .or(file.sla_reminder_minutes)
            .unwrap_or(60);
        if !(0..=7 * 24 * 60).contains(&sla_reminder_minutes) {
            return Err(invalid(
                "RAPPORT_SLA_REMINDER_MINUTES",
                "must be 0 to 10080 minutes",
            ));
        }
        let defaults = rapport_domain::grading::GradingRules::default();
        let grading = rapport_domain::grading::GradingRules::new(
            args.grading_vip_score
                .or(file.grading_vip_score)
                .unwrap_or(defaults.vip_from),
            args.grading_standard_score
                .or(file.grading_standard_score)
                .unwrap_or(defaults.standard_from),
            args.grading_months
                .or(file.grading_months)
                .unwrap_or(defaults.months),
        )
        .map_err(|e| {
            invalid(
                "RAPPORT_GRADING_VIP_SCORE, RAPPORT_GRADING_STANDARD_SCORE, RAPPORT_GRADING_MONTHS",
                e.0,
            )
        })?;
        let log_format = args
            .log_format
            .clone()
            .or(file.log_format)
            .unwrap_or_else(|| "text".into());
        let log_json = match log_format.as_str() {
            "text" => false,
            "json" => true,
            other => {
                return Err(invalid(
                    "RAPPORT_LOG_FORMAT",
                    format!("`{other}`: use text or json"),
                ));
            }
        };
        let db_max_connections = args.db_max_connections.or(file.db_max_connections);
        if db_max_connections == Some(0) {
            return Err(invalid("RAPPORT_DB_MAX_CONNECTIONS", "must be at least 1"));
        }
        let db_timeout = args.db_timeout.or(file.db_timeout).unwrap_or(5);
        if !(1..=300).contains(&db_timeout) {
            return Err(invalid("RAPPORT_DB_TIMEOUT", "must be 1 to 300 seconds"));
        }
        let max_body_bytes = args
            .max_body_bytes
            .or(file.max_body_bytes)
            .unwrap_or(1024 * 1024);
        if max_body_bytes < 1024 {
            return Err(invalid("RAPPORT_MAX_BODY_BYTES", "must be at least 1024"));
        }
        let max_import_bytes = args
            .max_import_bytes
            .or(file.max_import_bytes)
            .unwrap_or(64 * 1024 * 1024);
        if max_import_bytes < 1024 {
            return Err(invalid("RAPPORT_MAX_IMPORT_BYTES", "must be at least 1024"));
        }
        let workers = args.workers.or(file.workers);
        if workers == Some(0) {
            return Err(invalid("RAPPORT_WORKERS", "must be at least 1"));
        }
        let job_workers = args.job_workers.or(file.job_workers).unwrap_or(4);
        if job_workers > 256 {
            return Err(invalid("RAPPORT_JOB_WORKERS", "must be 0 to 256"));
        }
        let job_lease = args.job_lease.or(file.job_lease).unwrap_or(60);
        if !(1..=3600).contains(&job_lease) {
            return Err(invalid("RAPPORT_JOB_LEASE", "must be 1 to 3600 seconds"));
        }
        let job_poll_ms = args.job_poll_ms.or(file.job_poll_ms).unwrap_or(1000);
        if !(10..=60_000).contains(&job_poll_ms) {
            return Err(invalid(
                "RAPPORT_JOB_POLL_MS",
                "must be 10 to 60000 milliseconds",
            ));
        }
        let jobs = RunnerOptions {
            workers: job_workers,
            lease: Duration::from_secs(job_lease),
            poll: Duration::from_millis(job_poll_ms),
        };
        let trusted_proxies = parse_list(
            "RAPPORT_TRUSTED_PROXIES",
            args.trusted_proxies.clone().or(file.trusted_proxies),
            TrustedProxies::parse,
            "is neither a CIDR nor an IP address",
        )?;
        let cors_origins = parse_list(
            "RAPPORT_CORS_ORIGINS",
            args.cors_origins.clone().or(file.cors_origins),
            CorsOrigins::parse,
            "is not an origin like https://app.example.cn",
        )?;
        let tls = match (
            args.tls_cert.clone().or(file.tls_cert),
            args.tls_key.clone().or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(invalid(
                    "RAPPORT_TLS_KEY",
                    "is needed with RAPPORT_TLS_CERT",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "RAPPORT_TLS_CERT",
                    "is needed with RAPPORT_TLS_KEY",
                ));
            }
        };
        let key = |name: &'static str, text: &str| {
            FieldCipher::parse_key(text)
                .map(|_| SecretString::from(text.trim()))
                .map_err(|why| invalid(name, why))
        };
        let encryption_key = args
            .encryption_key
            .clone()
            .or(file.encryption_key)
            .map(|k| key("RAPPORT_ENCRYPTION_KEY", k.expose_secret()))
            .transpose()?;
        let encryption_old_keys = args
            .encryption_old_keys
            .clone()
            .or(file.encryption_old_keys)
            .map(|list| {
                list.expose_secret()
                    .split(',')
                    .filter(|k| !k.trim().is_empty())
                    .map(|k| key("RAPPORT_ENCRYPTION_OLD_KEYS", k))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        let smtp = args
            .smtp_url
            .clone()
            .or(file.smtp_url)
            .map(|url| {
                let text = url.expose_secret();
                if text.starts_with("smtp://") || text.starts_with("smtps://") {
                    Ok(Smtp {
                        url,
                        from: args
                            .smtp_from
                            .clone()
                            .or(file.smtp_from.clone())
                            .unwrap_or_else(|| "rapport@localhost".into()),
                    })
                } else {
                    Err(invalid(
                        "RAPPORT_SMTP_URL",
                        "must be smtp://host:port or smtps://host:port",
                    ))
                }
            })
            .transpose()?;
        let survey_url = args
            .survey_url
            .clone()
            .or(file.survey_url)
            .unwrap_or_else(|| format!("http://{bind}/v1/public/surveys/{{token}}"));
        if !survey_url.contains("{token}") {
            return Err(invalid("RAPPORT_SURVEY_URL", "must hold `{token}`"));
        }
        let public_url = args
            .public_url
            .clone()
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{bind}"))
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://"))
            || public_url.contains(char::is_whitespace)
        {
            return Err(invalid(
                "RAPPORT_PUBLIC_URL",
                "must be an http:// or https:// address",
            ));
        }
        let campaign_rate = args.campaign_rate.or(file.campaign_rate).unwrap_or(600);
        if !(1..=100_000).contains(&campaign_rate) {
            return Err(invalid(
                "RAPPORT_CAMPAIGN_RATE",
                "must be 1 to 100000 emails a minute",
            ));
        }
        let rate_limits = rapport_api::middleware::rate_limit::RequestQuota::parse(
            &args
                .rate_limits
                .clone()
                .or(file.rate_limits)
                .unwrap_or_default(),
        )
        .map_err(|e| invalid("RAPPORT_RATE_LIMITS", &e))?;
        Ok(Settings {
            bind,
            database_url,
            database_read_url,
            data_dir,
            jwt,
            access_token_ttl,
            refresh_token_ttl,
            session_max_age,
            one_time_password_ttl,
            admin,
            default_region,
            lead_follow_up_hours,
            ticket_reopen_days,
            deleted_retention: chrono::Duration::days(deleted_retention_days),
            sla_reminder_minutes,
            grading,
            log: args
                .log
                .clone()
                .or(file.log)
                .unwrap_or_else(|| "info".into()),
            log_json,
            db_max_connections,
            db_timeout: std::time::Duration::from_secs(db_timeout),
            max_body_bytes,
            max_import_bytes,
            workers,
            jobs,
            trusted_proxies,
            cors_origins,
            tls,
            encryption_key,
            encryption_old_keys,
            smtp,
            survey_url,
            public_url,
            campaign_rate,
            webhooks_allow_private: args
                .webhooks_allow_private
                .or(file.webhooks_allow_private)
                .unwrap_or(false),
            rate_limits,
        })
    }

    /// Is the database the default SQLite file (so the data folder must exist)?
    pub fn uses_sqlite(&self) -> bool {
        self.database_url.expose_secret().starts_with("sqlite:")
    }
}

/// A comma-separated list setting: empty when unset; a bad entry names the variable and itself.
fn parse_list<T: Default>(
    name: &'static str,
    value: Option<String>,
    parse: impl FnOnce(&str) -> Result<T, String>,
    problem: &str,
) -> Result<T, ConfigError> {
    value.map_or_else(
        || Ok(T::default()),
        |list| parse(&list).map_err(|entry| invalid(name, format!("`{entry}` {problem}"))),
    )
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::ParseFile {
        path: path.to_owned(),
        source,
    })
}

/// `sqlite://<data_dir>/rapport.db?mode=rwc` (rwc: create the file when missing).
pub fn default_sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("rapport.db").display()
    )
}

fn jwt_source(
    secret: Option<SecretString>,
    algorithm: Option<String>,
    private_key: Option<PathBuf>,
    public_key: Option<PathBuf>,
) -> Result<JwtKeySource, ConfigError> {
    let algorithm = algorithm.unwrap_or_else(|| "HS256".into());
    match algorithm.as_str() {
        "HS256" => match secret {
            Some(s) if s.expose_secret().len() < 32 => {
                Err(invalid("RAPPORT_JWT_SECRET", "must be at least 32 bytes"))
            }
            Some(s) => Ok(JwtKeySource::Secret(s)),
            None => Ok(JwtKeySource::Generated),
        },
        "RS256" | "EdDSA" => match (private_key, public_key) {
            (Some(private_key), Some(public_key)) => Ok(JwtKeySource::KeyPair {
                algorithm,
                private_key,
                public_key,
            }),
            _ => Err(invalid(
                "RAPPORT_JWT_ALGORITHM",
                "RS256 and EdDSA need RAPPORT_JWT_PRIVATE_KEY_FILE and RAPPORT_JWT_PUBLIC_KEY_FILE",
            )),
        },
        other => Err(invalid(
            "RAPPORT_JWT_ALGORITHM",
            format!("`{other}`: use HS256, RS256 or EdDSA"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_run_on_sqlite_in_the_data_folder() {
        let s = Settings::load(&ConfigArgs::default()).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert!(s.uses_sqlite());
        assert!(s.database_url.expose_secret().contains("rapport.db"));
        assert!(matches!(s.jwt, JwtKeySource::Generated));
        assert_eq!(s.default_region.as_str(), "US");
        assert_eq!(s.lead_follow_up_hours, 24);
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert_eq!(s.campaign_rate, 600);
    }

    #[test]
    fn refuses_bad_values_naming_the_variable() {
        let bad = |args: ConfigArgs, name: &str| {
            let err = Settings::load(&args).unwrap_err().to_string();
            assert!(err.contains(name), "{err}");
        };
        let cases = [
            (
                ConfigArgs {
                    campaign_rate: Some(0),
                    ..Default::default()
                },
                "RAPPORT_CAMPAIGN_RATE",
            ),
            (
                ConfigArgs {
                    public_url: Some("ftp://mail.example".into()),
                    ..Default::default()
                },
                "RAPPORT_PUBLIC_URL",
            ),
            (
                ConfigArgs {
                    bind: Some("nowhere".into()),
                    ..Default::default()
                },
                "RAPPORT_BIND",
            ),
            (
                ConfigArgs {
                    jwt_secret: Some("short".into()),
                    ..Default::default()
                },
                "RAPPORT_JWT_SECRET",
            ),
            (
                ConfigArgs {
                    default_region: Some("XX".into()),
                    ..Default::default()
                },
                "RAPPORT_DEFAULT_REGION",
            ),
            (
                ConfigArgs {
                    database_url: Some("mysql://x".into()),
                    ..Default::default()
                },
                "DATABASE_URL",
            ),
            (
                // A replica only exists beside a PostgreSQL primary.
                ConfigArgs {
                    database_read_url: Some("postgres://replica/rapport".into()),
                    ..Default::default()
                },
                "DATABASE_READ_URL",
            ),
            (
                ConfigArgs {
                    jwt_algorithm: Some("RS256".into()),
                    ..Default::default()
                },
                "RAPPORT_JWT_ALGORITHM",
            ),
            (
                ConfigArgs {
                    trusted_proxies: Some("10.0.0.0/8, proxy.internal".into()),
                    ..Default::default()
                },
                "proxy.internal",
            ),
            (
                ConfigArgs {
                    cors_origins: Some("https://app.example.cn/login".into()),
                    ..Default::default()
                },
                "RAPPORT_CORS_ORIGINS",
            ),
            (
                ConfigArgs {
                    tls_cert: Some("cert.pem".into()),
                    ..Default::default()
                },
                "RAPPORT_TLS_KEY",
            ),
            (
                ConfigArgs {
                    encryption_key: Some("c2hvcnQ=".into()),
                    ..Default::default()
                },
                "RAPPORT_ENCRYPTION_KEY",
            ),
        ];
        for (args, name) in cases {
            bad(args, name);
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let args = ConfigArgs {
            database_url: Some("postgres://rapport:db-pass-1234@db:5432/rapport".into()),
            jwt_secret: Some("jwt-secret-jwt-secret-jwt-secret-0123".into()),
            admin_password: Some("admin-password-5678".into()),
            encryption_key: Some("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=".into()),
            encryption_old_keys: Some("AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=".into()),
            ..Default::default()
        };
        let settings = Settings::load(&args).unwrap();
        for shown in [format!("{args:?}"), format!("{settings:?}")] {
            for secret in [
                "db-pass-1234",
                "jwt-secret-jwt",
                "admin-password-5678",
                "AQEBAQEB",
                "AgICAgIC",
            ] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
        }
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = std::env::temp_dir().join(format!("rapport-config-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rapport.toml");
        std::fs::write(&path, "bind = \"0.0.0.0:9000\"\ndefault_region = \"CN\"\n").unwrap();
        let args = ConfigArgs {
            config: Some(path.clone()),
            bind: Some("127.0.0.1:9001".into()),
            ..Default::default()
        };
        let s = Settings::load(&args).unwrap();
        assert_eq!(s.bind.port(), 9001);
        assert_eq!(s.default_region.as_str(), "CN");
        std::fs::write(&path, "bnid = \"x\"\n").unwrap();
        let err = Settings::load(&ConfigArgs {
            config: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("bnid"), "{err}");
    }

    fn uuid_like() -> u128 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    }
}
