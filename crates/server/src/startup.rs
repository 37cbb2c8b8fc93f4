//! Building and running the server: database, migrations, keys, first admin, HTTP.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{HttpServer, web};
use anyhow::Context;
use rapport_api::app::{OpenApiJson, app};
use rapport_api::auth::password::Passwords;
use rapport_api::auth::rate_limit::{LoginLimiter, LoginQuota};
use rapport_api::auth::token_checks::TokenChecks;
use rapport_api::middleware::rate_limit::RequestLimiter;
use rapport_api::middleware::telemetry::Metrics;
use rapport_api::recent_writers::RecentWriters;
use rapport_api::{ApiSettings, AppState};
use rapport_domain::clock::Clock;
use rapport_domain::customer::LeadFollowUp;
use rapport_store::Store;

use crate::bootstrap::{self, FirstAdmin};
use crate::config::Settings;
use crate::database;
use crate::jobs::{self, Background, Handlers};
use crate::tls::ReloadingCert;

/// A built server, bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    store: Store,
    background: Background,
    /// Set when this start created the first admin.
    pub first_admin: Option<FirstAdmin>,
    /// The served certificate, when serving HTTPS.
    pub tls: Option<Arc<ReloadingCert>>,
}

impl Application {
    /// Connects, migrates, loads keys, creates the first admin when needed, and binds.
    ///
    /// # Errors
    /// Any step failing, with what it was doing.
    pub async fn build(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        let sla_reminder = chrono::Duration::minutes(settings.sla_reminder_minutes);
        let handlers =
            jobs::standard_handlers(sla_reminder, settings.grading, settings.deleted_retention)?;
        Application::build_with_jobs(settings, clock, handlers).await
    }

    /// Like [`Application::build`], with the job kinds of `handlers` (the standard ones and
    /// more, for a test's own kinds).
    ///
    /// # Errors
    /// Any step failing, with what it was doing.
    pub async fn build_with_jobs(
        settings: &Settings,
        clock: Arc<dyn Clock>,
        handlers: Handlers,
    ) -> anyhow::Result<Application> {
        let handlers = jobs::with_mail(handlers, settings.smtp.as_ref(), &settings.survey_url)
            .context("configuring the SMTP server")?;
        let handlers = jobs::with_campaign_mail(
            handlers,
            settings.smtp.as_ref(),
            &settings.public_url,
            settings.campaign_rate,
        )
        .context("configuring the SMTP server for campaigns")?
        .with(
            rapport_domain::webhook::DELIVER_JOB,
            jobs::webhooks::Deliver::new(settings.webhooks_allow_private),
        )?;
        let store = database::connect(settings).await?;
        database::migrate(&store).await?;
        let jwt = bootstrap::jwt_keys(&settings.jwt, &settings.data_dir)?;
        let first_admin = bootstrap::first_admin(
            &store,
            &settings.admin,
            chrono::Duration::seconds(settings.one_time_password_ttl),
            clock.as_ref(),
        )
        .await?;

        let token_checks = Arc::new(TokenChecks::default());
        let state = web::Data::new(AppState {
            store: store.clone(),
            clock: clock.clone(),
            jwt,
            settings: ApiSettings {
                access_token_ttl_secs: settings.access_token_ttl,
                refresh_token_ttl_secs: settings.refresh_token_ttl,
                session_max_age_secs: settings.session_max_age,
                one_time_password_ttl_secs: settings.one_time_password_ttl,
                default_region: settings.default_region,
                lead_follow_up: LeadFollowUp {
                    hours: settings.lead_follow_up_hours,
                },
                max_body_bytes: settings.max_body_bytes,
                max_import_bytes: settings.max_import_bytes,
                trusted_proxies: settings.trusted_proxies.clone(),
                cors_origins: settings.cors_origins.clone(),
                ticket_reopen_days: settings.ticket_reopen_days,
                survey_url: settings.survey_url.clone(),
                send_email: settings.smtp.is_some(),
                webhooks_allow_private: settings.webhooks_allow_private,
            },
            login_limiter: LoginLimiter::new(LoginQuota::default()),
            public_limiter: LoginLimiter::new(LoginQuota::public()),
            request_limiter: RequestLimiter::new(settings.rate_limits.clone()),
            passwords: Passwords::per_core().context("starting the password hashing threads")?,
            token_checks: token_checks.clone(),
            recent_writers: store.has_replica().then(RecentWriters::default),
            io_home: tokio::runtime::Handle::current(),
        });
        // Imports write each row as the API does: their job needs the API's state.
        let handlers = handlers.with(jobs::imports::RUN, jobs::imports::Run::new(state.clone()))?;
        // So do automation rules' actions.
        let handlers = handlers.with(
            jobs::automation::RUN,
            jobs::automation::Run::new(state.clone()),
        )?;
        // And their emails, with SMTP only (as the survey emails).
        let handlers = jobs::with_automation_mail(handlers, &state, settings.smtp.as_ref())
            .context("configuring the SMTP server for automation emails")?;
        let metrics = web::Data::new(Metrics::new()?);
        let openapi = web::Data::new(OpenApiJson::new(rapport_api::openapi::document_json()));

        let tls = settings.tls.as_ref().map(ReloadingCert::load).transpose()?;
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || app(state.clone(), metrics.clone(), openapi.clone()));
        let mut server = match &tls {
            Some(cert) => server.listen_rustls_0_23(listener, cert.server_config()?)?,
            None => server.listen(listener)?,
        };
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        // Signals are the caller's: `rapport serve` installs its handlers before it announces
        // itself, so a SIGTERM right after the banner still stops the server gracefully.
        let server = server.shutdown_timeout(30).disable_signals().run();
        let background = Background::spawn(
            store.clone(),
            clock,
            token_checks,
            handlers,
            jobs::standard_schedules()?,
            settings.jobs,
        );
        Ok(Application {
            port,
            server,
            store,
            background,
            first_admin,
            tls,
        })
    }

    /// The port it listens on (useful when binding port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM, finishing in-flight requests and jobs, then closes the
    /// pool.
    ///
    /// # Errors
    /// The server failed.
    pub async fn run(self) -> anyhow::Result<()> {
        let result = self.server.await;
        self.background.stop().await;
        if let Err(e) = self.store.close().await {
            tracing::warn!(error = %e, "closing the database pool failed");
        }
        result.context("serving HTTP")
    }

    /// A handle to stop the server (graceful) from elsewhere, e.g. a test.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}
