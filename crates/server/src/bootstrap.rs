//! First start: the JWT signing key and the first admin.

use std::path::Path;

use anyhow::Context;
use rapport_api::auth::jwt::JwtKeys;
use rapport_api::auth::{password, secret};
use rapport_domain::audit::AuditEvent;
use rapport_domain::auth::Role;
use rapport_domain::clock::Clock;
use rapport_domain::email::Email;
use rapport_domain::identity::{Actor, User};
use rapport_store::repos::{audit, users};
use rapport_store::{Store, StoreError};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::config::{AdminSeed, JwtKeySource};
use crate::private_files;

/// The signing keys: configured, or a secret generated once into the data folder so that
/// tokens survive restarts.
///
/// # Errors
/// A key file cannot be read or parsed, or the generated secret cannot be written.
pub fn jwt_keys(source: &JwtKeySource, data_dir: &Path) -> anyhow::Result<JwtKeys> {
    match source {
        JwtKeySource::Secret(secret) => Ok(JwtKeys::hs256(secret.expose_secret().as_bytes())?),
        JwtKeySource::KeyPair {
            algorithm,
            private_key,
            public_key,
        } => {
            let private = std::fs::read(private_key)
                .with_context(|| format!("reading {}", private_key.display()))?;
            let public = std::fs::read(public_key)
                .with_context(|| format!("reading {}", public_key.display()))?;
            Ok(JwtKeys::from_pem(algorithm, &private, &public)?)
        }
        JwtKeySource::Generated => {
            let path = data_dir.join("jwt_secret");
            let secret = match std::fs::read_to_string(&path) {
                Ok(existing) => {
                    private_files::warn_if_open(&path);
                    existing.trim().to_owned()
                }
                Err(_) => write_secret(&path)?,
            };
            Ok(JwtKeys::hs256(secret.as_bytes())?)
        }
    }
}

/// Writes a new random secret readable only by its owner.
fn write_secret(path: &Path) -> anyhow::Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        private_files::create_dir(dir)?;
    }
    let secret = secret::random_token(48);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true).mode(0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes())?;
            file.sync_all()?;
            Ok(secret)
        }
        // Another instance wrote it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(path)?.trim().to_owned())
        }
        Err(e) => Err(e).with_context(|| format!("writing {}", path.display())),
    }
}

/// The admin created at first start, and its one-time password when it got one.
pub struct FirstAdmin {
    pub user: User,
    pub one_time_password: Option<String>,
}

/// Creates the first admin when there is no user at all.
///
/// # Errors
/// Database failures.
pub async fn first_admin(
    store: &Store,
    seed: &AdminSeed,
    one_time_ttl: chrono::Duration,
    clock: &dyn Clock,
) -> anyhow::Result<Option<FirstAdmin>> {
    if users::count(store.conn()).await? > 0 {
        return Ok(None);
    }
    let one_time = seed.password.is_none().then(secret::one_time_password);
    let chosen = seed
        .password
        .as_ref()
        .map(|p| p.expose_secret().to_owned())
        .or_else(|| one_time.clone())
        .unwrap_or_default();
    let email = Email::parse(&seed.email).map_err(|e| anyhow::anyhow!("admin email: {e}"))?;
    let created = create_user(
        store,
        email,
        "Administrator",
        Role::Admin,
        &chosen,
        one_time.is_some().then(|| clock.now() + one_time_ttl),
        clock,
    )
    .await;
    match created {
        Ok(user) => Ok(Some(FirstAdmin {
            user,
            one_time_password: one_time,
        })),
        // Another instance starting at the same time created it.
        Err(e)
            if matches!(
                e.downcast_ref::<StoreError>(),
                Some(StoreError::Conflict(_))
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Creates a user and its audit event (actor: system) in one transaction.
///
/// # Errors
/// `StoreError::Conflict` when the email is taken; database failures.
pub async fn create_user(
    store: &Store,
    email: Email,
    name: &str,
    role: Role,
    password_text: &str,
    one_time_until: Option<chrono::DateTime<chrono::Utc>>,
    clock: &dyn Clock,
) -> anyhow::Result<User> {
    let password_text = password_text.to_owned();
    let hash =
        tokio::task::spawn_blocking(move || password::hash_blocking(&password_text)).await??;
    let now = clock.now();
    let new = users::NewUser {
        id: Uuid::now_v7(),
        email,
        name: name.to_owned(),
        role,
        team_id: None,
        password_hash: hash,
        one_time_until,
    };
    let tx = store.begin().await?;
    let user = users::insert(&tx, new, now).await?;
    let event = AuditEvent {
        id: Uuid::now_v7(),
        occurred_at: now,
        actor: Actor::System,
        entity_type: "user".into(),
        entity_id: user.id,
        customer_id: None,
        action: "create".into(),
        request_id: None,
        ip: None,
        changes: serde_json::json!({
            "email": {"before": null, "after": user.email.as_str()},
            "role": {"before": null, "after": user.role.as_str()},
        }),
    };
    audit::record(&tx, event).await?;
    rapport_store::commit(tx).await?;
    Ok(user)
}
