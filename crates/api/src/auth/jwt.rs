//! Access tokens: JWTs signed with HS256 (a shared secret) or RS256/EdDSA (a key pair). The
//! algorithm is pinned: a token that names another one, or `none`, is refused.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;

/// Issuer and audience of every token: a token of another system is refused.
const ISSUER: &str = "rapport";
const AUDIENCE: &str = "rapport-api";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, or the client id for an integration.
    pub sub: Uuid,
    /// The role (`integration` for a client).
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<Uuid>,
    /// Space-separated scopes.
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The user's or client's token version when issued (see `User::token_version`).
    pub ver: i32,
    /// The sign-in (refresh-token family) the token belongs to: ending it ends the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// The user signed in with a one-time password: until it is changed, the token opens only
    /// `/v1/me` and the password change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pwd_change: bool,
    pub iss: String,
    pub aud: String,
}

impl Claims {
    /// Claims for a token issued `now` that lives `ttl_secs`.
    pub fn new(
        sub: Uuid,
        role: &str,
        team_id: Option<Uuid>,
        scope: String,
        ver: i32,
        now: DateTime<Utc>,
        ttl_secs: i64,
    ) -> Claims {
        Claims {
            sub,
            role: role.to_owned(),
            team_id,
            scope,
            iat: now.timestamp(),
            exp: now.timestamp() + ttl_secs,
            jti: Uuid::now_v7(),
            ver,
            sid: None,
            pwd_change: false,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
        }
    }
}

/// Signing and verification keys with the one algorithm they are for.
#[derive(Clone)]
pub struct JwtKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// A digest of the signing secret, from which [`JwtKeys::derive_key`] makes keys for other
    /// purposes that every instance shares without one more setting.
    seed: [u8; 32],
}

/// Never prints key material.
impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwtKeys({:?})", self.algorithm)
    }
}

/// A key pair that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the HS256 secret must be at least 32 bytes")]
    SecretTooShort,
    #[error("unsupported algorithm `{0}` (use HS256, RS256 or EdDSA)")]
    UnsupportedAlgorithm(String),
    #[error("invalid key: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
}

impl JwtKeys {
    /// HS256 with a shared secret of at least 32 bytes.
    ///
    /// # Errors
    /// `SecretTooShort`.
    pub fn hs256(secret: &[u8]) -> Result<JwtKeys, KeyError> {
        if secret.len() < 32 {
            return Err(KeyError::SecretTooShort);
        }
        Ok(JwtKeys {
            algorithm: Algorithm::HS256,
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            seed: Sha256::digest(secret).into(),
        })
    }

    /// RS256 or EdDSA from PEM files: the private key signs, the public key verifies.
    ///
    /// # Errors
    /// An unsupported algorithm or a key that does not parse.
    pub fn from_pem(
        algorithm: &str,
        private_pem: &[u8],
        public_pem: &[u8],
    ) -> Result<JwtKeys, KeyError> {
        let (algorithm, encoding, decoding) = match algorithm {
            "RS256" => (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(private_pem)?,
                DecodingKey::from_rsa_pem(public_pem)?,
            ),
            "EdDSA" => (
                Algorithm::EdDSA,
                EncodingKey::from_ed_pem(private_pem)?,
                DecodingKey::from_ed_pem(public_pem)?,
            ),
            other => return Err(KeyError::UnsupportedAlgorithm(other.to_owned())),
        };
        Ok(JwtKeys {
            algorithm,
            encoding,
            decoding,
            seed: Sha256::digest(private_pem).into(),
        })
    }

    /// A 256-bit key for `purpose`, derived from the signing secret (HMAC-SHA256): the same on
    /// every instance, and telling nothing about the secret.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.seed)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// # Errors
    /// `Internal` if signing fails (a broken key).
    pub fn issue(&self, claims: &Claims) -> Result<String, ApiError> {
        encode(&Header::new(self.algorithm), claims, &self.encoding)
            .map_err(|e| ApiError::internal("signing a token", e))
    }

    /// Checks the signature, algorithm, issuer, audience and expiry (against `now`, the
    /// server's clock).
    ///
    /// # Errors
    /// `Unauthorized`, whatever the reason (the reason goes to the debug log only).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, ApiError> {
        let mut validation = Validation::new(self.algorithm);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        // Expiry is checked below against the server's clock, which tests can move.
        validation.validate_exp = false;
        let claims = decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| {
                tracing::debug!(reason = %e, "token refused");
                ApiError::Unauthorized
            })?
            .claims;
        if claims.exp <= now.timestamp() {
            tracing::debug!("token refused: expired");
            return Err(ApiError::Unauthorized);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use std::process::Command;

    fn keys() -> JwtKeys {
        JwtKeys::hs256(&[7; 32]).unwrap()
    }

    fn claims(now: DateTime<Utc>) -> Claims {
        Claims::new(
            Uuid::now_v7(),
            "admin",
            None,
            "audit:read".into(),
            0,
            now,
            900,
        )
    }

    #[test]
    fn round_trips() {
        let now = Utc::now();
        let c = claims(now);
        let token = keys().issue(&c).unwrap();
        assert_eq!(keys().verify(&token, now).unwrap(), c);
    }

    #[test]
    fn refuses_expired_tampered_wrong_key_and_none() {
        let now = Utc::now();
        let token = keys().issue(&claims(now)).unwrap();
        assert!(
            keys()
                .verify(&token, now + chrono::Duration::seconds(901))
                .is_err()
        );

        let other = JwtKeys::hs256(&[8; 32]).unwrap();
        assert!(other.verify(&token, now).is_err());

        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["role"] = "admin2".into();
        parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
        assert!(keys().verify(&parts.join("."), now).is_err());

        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", token.split('.').nth(1).unwrap());
        assert!(keys().verify(&unsigned, now).is_err());
    }

    #[test]
    fn key_pairs_from_openssl_round_trip_and_refuse_other_keys() {
        let dir = std::env::temp_dir().join(format!("rapport-jwt-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let rsa_args = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
        let (rsa_private, rsa_public) = openssl_key_pair(&dir, "rsa", &rsa_args);
        let (ed_private, ed_public) = openssl_key_pair(&dir, "ed25519", &["-algorithm", "ed25519"]);
        std::fs::remove_dir_all(&dir).ok();
        let rsa = JwtKeys::from_pem("RS256", &rsa_private, &rsa_public).unwrap();
        let ed = JwtKeys::from_pem("EdDSA", &ed_private, &ed_public).unwrap();

        let now = Utc::now();
        for keys in [&rsa, &ed] {
            let c = claims(now);
            let token = keys.issue(&c).unwrap();
            assert_eq!(keys.verify(&token, now).unwrap(), c, "{keys:?}");
        }
        let rsa_token = rsa.issue(&claims(now)).unwrap();
        assert!(ed.verify(&rsa_token, now).is_err());
        assert!(keys().verify(&rsa_token, now).is_err());
        let ed_token = ed.issue(&claims(now)).unwrap();
        assert!(rsa.verify(&ed_token, now).is_err());
        // Algorithm confusion: an HS256 token keyed with the public key, which anyone has.
        let forged = JwtKeys::hs256(&rsa_public)
            .unwrap()
            .issue(&claims(now))
            .unwrap();
        assert!(rsa.verify(&forged, now).is_err());
    }

    /// A PEM private and public key made by the `openssl` tool (a missing tool fails the test).
    fn openssl_key_pair(
        dir: &std::path::Path,
        name: &str,
        algorithm: &[&str],
    ) -> (Vec<u8>, Vec<u8>) {
        let private = dir.join(format!("{name}.pem"));
        let public = dir.join(format!("{name}.pub.pem"));
        let mut generate = Command::new("openssl");
        generate
            .arg("genpkey")
            .args(algorithm)
            .arg("-out")
            .arg(&private);
        openssl(&mut generate);
        let mut extract = Command::new("openssl");
        extract
            .args(["pkey", "-pubout", "-in"])
            .arg(&private)
            .arg("-out")
            .arg(&public);
        openssl(&mut extract);
        (
            std::fs::read(&private).unwrap(),
            std::fs::read(&public).unwrap(),
        )
    }

    fn openssl(command: &mut Command) {
        let out = command
            .output()
            .expect("the openssl command-line tool is installed");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{command:?}: {stderr}");
    }

    #[test]
    fn refuses_short_secrets() {
        assert!(matches!(
            JwtKeys::hs256(b"short"),
            Err(KeyError::SecretTooShort)
        ));
    }
}
