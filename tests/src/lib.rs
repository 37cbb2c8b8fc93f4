//! Black-box test helpers: the real server on a random port, against a fresh SQLite file or a
//! fresh PostgreSQL database, driven over HTTP like any client.

// A test harness: a failed expectation is a failed test, so panicking is the point.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod document;
pub mod jobs;
pub mod process;
pub mod proxy;
pub mod receiver;
pub mod smtp;

pub use rapport_testdb as pg;

use std::path::PathBuf;
use std::sync::Arc;

use rapport_domain::clock::ShiftedClock;
pub use rapport_server::config::ConfigArgs;
use rapport_server::config::Settings;
use rapport_server::startup::Application;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use uuid::Uuid;

/// The JWT secret of test servers, so tests can forge tokens.
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
pub const ADMIN_EMAIL: &str = "admin@rapport.test";
/// The encryption key of test servers (base64 of 32 bytes of 7): one per process.
pub const ENCRYPTION_KEY: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
/// The password of users that [`TestApp::user`] creates.
pub const USER_PASSWORD: &str = "user-password-for-tests";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server with its own database.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: ShiftedClock,
    pub backend: Backend,
    database_url: String,
    handle: actix_web::dev::ServerHandle,
    _data_dir: TempDir,
    database: Option<pg::TestDatabase>,
}

/// A user made for a test, with its token.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: Uuid,
    pub email: String,
    pub token: String,
}

/// A response, read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The field paths of a validation problem.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errs| {
                errs.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// Asserts an RFC 9457 problem with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> &Self {
        self.assert_status(status);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.body
        );
        assert_eq!(self.body["code"], code, "{}", self.body);
        assert_eq!(self.body["status"], status, "{}", self.body);
        assert!(
            self.body["request_id"].is_string(),
            "no request_id: {}",
            self.body
        );
        self
    }
}

/// A temporary folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("rapport-test-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Settings of a test server; `database_url` is filled in by [`TestApp::spawn_with`].
/// `s` percent-encoded for a query string's value.
pub fn query_value(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn test_args(data_dir: &TempDir) -> ConfigArgs {
    ConfigArgs {
        bind: Some("127.0.0.1:0".into()),
        data_dir: Some(data_dir.0.clone()),
        jwt_secret: Some(JWT_SECRET.into()),
        encryption_key: Some(ENCRYPTION_KEY.into()),
        admin_email: Some(ADMIN_EMAIL.into()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        log: Some(std::env::var("RAPPORT_TEST_LOG").unwrap_or_else(|_| "error".into())),
        workers: Some(2),
        // Jobs that are due run at once, and a test that moves the clock sees them run.
        job_poll_ms: Some(50),
        // Tests send bursts from one address; the limits' tests set their own.
        rate_limits: Some("ip=10000000,default=10000000".into()),
        ..ConfigArgs::default()
    }
}

impl TestApp {
    /// A server with default test settings.
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |_| {}).await
    }

    /// A server with settings changed by `adjust` (the database URL is already set).
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut ConfigArgs)) -> TestApp {
        TestApp::spawn_with_jobs(backend, adjust, jobs::handlers()).await
    }

    /// A server that runs the job kinds of `handlers` (the standard ones and the tests' own,
    /// [`jobs::handlers`], unless a test asks for fewer).
    pub async fn spawn_with_jobs(
        backend: Backend,
        adjust: impl FnOnce(&mut ConfigArgs),
        handlers: rapport_server::jobs::Handlers,
    ) -> TestApp {
        let data_dir = TempDir::new();
        let mut args = test_args(&data_dir);
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let db = pg::TestDatabase::create().await;
                args.database_url = Some(db.url.clone().into());
                Some(db)
            }
        };
        adjust(&mut args);
        let settings = Settings::load(&args).expect("test settings");
        rapport_server::telemetry::init(&settings.log, false);
        let clock = ShiftedClock::default();
        let app = Application::build_with_jobs(&settings, Arc::new(clock.clone()), handlers)
            .await
            .expect("server starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        tokio::spawn(app.run());
        TestApp {
            base,
            client: reqwest::Client::new(),
            clock,
            backend,
            database_url: settings.database_url.expose_secret().to_owned(),
            handle,
            _data_dir: data_dir,
            database,
        }
    }

    /// A second instance on this one's database (with `adjust` applied), as behind a load
    /// balancer: same secrets, its own data folder, port and caches. On SQLite both open the
    /// same file.
    pub async fn spawn_beside(&self, adjust: impl FnOnce(&mut ConfigArgs)) -> TestApp {
        let url = self.database_url.clone();
        let mut other = TestApp::spawn_with(Backend::Sqlite, |args| {
            args.database_url = Some(url.into());
            adjust(args);
        })
        .await;
        other.backend = self.backend;
        other
    }

    /// Stops the server as SIGTERM would: requests in flight end, running jobs get their grace
    /// period and are given back. Its database stays until the `TestApp` is dropped.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }

    /// A store of its own on this server's database, for what a test sets up or checks below
    /// the API (jobs of the tests' own kinds).
    pub async fn store(&self) -> rapport_store::Store {
        let options = rapport_store::DbOptions::new(self.database_url.clone());
        rapport_store::Store::connect(&options)
            .await
            .expect("a store on the test database")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request with an optional bearer token and JSON body, and reads the answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request sent")).await
    }

    /// Sends a request with `If-Match: tag` (`"3"`, quotes included).
    pub async fn call_if_match(
        &self,
        method: Method,
        path: &str,
        token: &str,
        tag: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("if-match", tag);
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let reply = self.call(Method::GET, "/metrics", None, None).await;
        reply.assert_status(200);
        reply.body.as_str().expect("metrics are text").to_owned()
    }

    /// The value of an unlabelled metric.
    pub async fn gauge(&self, name: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
    }

    /// Signs in with the password grant.
    pub async fn sign_in(&self, email: &str, password: &str) -> Reply {
        self.call(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"grant_type": "password", "username": email, "password": password})),
        )
        .await
    }

    /// The first admin's access token.
    pub async fn admin_token(&self) -> String {
        let reply = self.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        reply.assert_status(200);
        reply.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Creates a user with `role` (and team) through the API and signs it in.
    pub async fn user(&self, role: &str, team_id: Option<Uuid>) -> TestUser {
        let admin = self.admin_token().await;
        let email = format!("{role}.{}@rapport.test", Uuid::now_v7().simple());
        let created = self
            .post(
                "/v1/users",
                &admin,
                json!({"email": email, "name": format!("Test {role}"), "role": role, "team_id": team_id, "password": USER_PASSWORD}),
            )
            .await;
        created.assert_status(201);
        let id = created.body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("user id");
        let signed_in = self.sign_in(&email, USER_PASSWORD).await;
        signed_in.assert_status(200);
        let token = signed_in.body["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        TestUser { id, email, token }
    }

    /// A fresh token for a test user (after moving the clock past the old one's expiry).
    pub async fn token_of(&self, user: &TestUser) -> String {
        let reply = self.sign_in(&user.email, USER_PASSWORD).await;
        reply.assert_status(200);
        reply.body["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Creates a team through the API.
    pub async fn team(&self, name: &str) -> Uuid {
        let admin = self.admin_token().await;
        let reply = self.post("/v1/teams", &admin, json!({"name": name})).await;
        reply.assert_status(201);
        reply.body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("team id")
    }

    /// Creates an integration client with `scopes` and gets a client-credentials token.
    pub async fn client_token(&self, scopes: &[&str]) -> String {
        let admin = self.admin_token().await;
        let created = self
            .post(
                "/v1/clients",
                &admin,
                json!({"name": "test client", "scopes": scopes}),
            )
            .await;
        created.assert_status(201);
        let reply = self
            .call(
                Method::POST,
                "/v1/auth/token",
                None,
                Some(json!({
                    "grant_type": "client_credentials",
                    "client_id": created.body["client_id"],
                    "client_secret": created.body["client_secret"],
                })),
            )
            .await;
        reply.assert_status(200);
        reply.body["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Creates a customer as `token`'s caller and answers its id.
    pub async fn customer(&self, token: &str, body: Value) -> Uuid {
        let reply = self
            .post("/v1/customers?allow_duplicate=true", token, body)
            .await;
        reply.assert_status(201);
        reply.body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("customer id")
    }

    /// The audit events about one entity, as an admin reads them (up to 200).
    pub async fn audit_events(&self, entity_id: &str) -> Vec<Value> {
        let admin = self.admin_token().await;
        let reply = self
            .get(
                &format!("/v1/audit-events?entity_id={entity_id}&limit=200"),
                &admin,
            )
            .await;
        reply.assert_status(200);
        reply.body["data"].as_array().expect("data").clone()
    }

    /// Counts the audit events of the test's own writes about one entity (through the API, as
    /// an admin).
    pub async fn audit_count(&self, entity_id: &str) -> usize {
        self.audit_events(entity_id)
            .await
            .iter()
            // Not the tests' doing: sign-ins, and the grading that each new server runs once
            // at start (its daily occurrence), which may reach a customer made meanwhile.
            .filter(|e| e["action"] != "sign_in" && e["action"] != "graded")
            .count()
    }

    /// The first column of the first row of `sql`, read below the API (what a test checks
    /// that no route shows).
    pub async fn scalar<T: sea_orm::TryGetable>(&self, sql: &str) -> T {
        use sea_orm::ConnectionTrait;
        let store = self.store().await;
        let db = store.conn();
        let row = db
            .query_one(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql,
            ))
            .await
            .expect("query")
            .expect("a row");
        row.try_get_by_index(0).expect("a value")
    }
}

/// Reads a response: status, headers and JSON body (`Null` when empty, a string when not
/// JSON).
pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Reply {
        status,
        headers,
        body,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the server before its database goes away.
        let handle = self.handle.clone();
        let database = self.database.take();
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                handle.stop(false).await;
                if let Some(db) = database {
                    db.drop_now().await;
                }
            });
        })
        .join()
        .ok();
    }
}

/// Generates one test per backend from `async fn name(app: TestApp)`:
/// `name::sqlite` and `name::postgres`. With `region = "CN";` first, the servers read phone
/// numbers without a country code as Chinese; with `settings = |args| ...;` first, that closure
/// adjusts the servers' [`ConfigArgs`]; with `smtp;` first, each test starts an SMTP sink
/// ([`smtp::SmtpSink`]) before its server, which sends its email there, and is
/// `async fn name(app: TestApp, sink: SmtpSink)`.
#[macro_export]
macro_rules! backend_tests {
    (smtp; $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let (app, sink) = $crate::smtp::app_with_sink($crate::Backend::Sqlite).await;
                    super::$name(app, sink).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let (app, sink) = $crate::smtp::app_with_sink($crate::Backend::Postgres).await;
                    super::$name(app, sink).await;
                }
            }
        )*
    };
    (region = $region:literal; $($name:ident),* $(,)?) => {
        $crate::backend_tests!(
            settings = |a| a.default_region = Some($region.into());
            $($name),*
        );
    };
    (settings = $adjust:expr; $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::TestApp::spawn_with($crate::Backend::Sqlite, $adjust).await;
                    super::$name(app).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let app = $crate::TestApp::spawn_with($crate::Backend::Postgres, $adjust).await;
                    super::$name(app).await;
                }
            }
        )*
    };
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::TestApp::spawn($crate::Backend::Sqlite).await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::TestApp::spawn($crate::Backend::Postgres).await).await;
                }
            }
        )*
    };
}
