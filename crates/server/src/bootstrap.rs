//! First start: the JWT signing key and the first admin.

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use rapport_api::auth::jwt::JwtKeys;
use rapport_api::auth::{password, secret};
use rapport_domain::audit::AuditEvent;
use rapport_domain::auth::Role;
use rapport_domain::clock::Clock;
use rapport_domain::email::Email;
use rapport_domain::identity::{Actor, User};
use rapport_domain::name::PersonName;
use rapport_store::crypto::{self, FieldCipher};
use rapport_store::repos::{audit, users};
use rapport_store::{Store, StoreError};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::config::{AdminSeed, JwtKeySource, Settings};
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
            let secret = secret_file(&data_dir.join("jwt_secret"), || secret::random_token(48))?;
            Ok(JwtKeys::hs256(secret.as_bytes())?)
        }
    }
}

/// Installs the keys that encrypt fields at rest: the configured one, or one generated once
/// into the data folder; and the earlier ones, to read what they sealed.
///
/// # Errors
/// The generated key cannot be written or read back, or another key is installed already.
pub fn encryption_keys(settings: &Settings) -> anyhow::Result<()> {
    let text = match &settings.encryption_key {
        Some(key) => key.expose_secret().to_owned(),
        None => secret_file(&settings.data_dir.join("encryption_key"), || {
            base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
        })?,
    };
    let parse = |text: &str| {
        FieldCipher::parse_key(text).map_err(|why| anyhow::anyhow!("encryption key {why}"))
    };
    let current = parse(&text)?;
    let older = settings
        .encryption_old_keys
        .iter()
        .map(|k| parse(k.expose_secret()))
        .collect::<Result<Vec<_>, _>>()?;
    crypto::install(FieldCipher::new(current, &older))?;
    Ok(())
}

/// The secret kept in `path`: read (warning when others may read it), or made by `make` and
/// written readable only by its owner.
fn secret_file(path: &Path, make: impl FnOnce() -> String) -> anyhow::Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Ok(existing) = std::fs::read_to_string(path) {
        private_files::warn_if_open(path);
        return Ok(existing.trim().to_owned());
    }
    if let Some(dir) = path.parent() {
        private_files::create_dir(dir)?;
    }
    let secret = make();
    // Written whole under a name of this process's, then linked into place: the link is
    // atomic and refuses to replace a file, so an instance starting at the same moment reads
    // either nothing or the whole secret, never a file still being written.
    let draft = path.with_extension(format!("{}.tmp", std::process::id()));
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true).mode(0o600);
        let mut file = options.open(&draft)?;
        file.write_all(secret.as_bytes())?;
        file.sync_all()?;
        std::fs::hard_link(&draft, path)
    })();
    // Err: nothing to remove.
    let _ = std::fs::remove_file(&draft);
    match written {
        Ok(()) => Ok(secret),
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
    let name =
        PersonName::parse("Administrator").map_err(|e| anyhow::anyhow!("admin name: {e}"))?;
    let created = create_user(
        store,
        email,
        name,
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
    name: PersonName,
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
        name,
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
