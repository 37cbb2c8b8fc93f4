//! HTTPS with rustls: the certificate chain and key come from PEM files and are read again on
//! SIGHUP, so a renewed certificate is served without a restart; HTTP/2 is offered by ALPN.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use anyhow::Context;
use rustls::ServerConfig;
use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Where the certificate chain and its private key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The served certificate, replaceable while the server runs.
#[derive(Debug)]
pub struct ReloadingCert {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ReloadingCert {
    /// Reads the files.
    ///
    /// # Errors
    /// A file is missing or holds no usable certificate or key, or they do not match.
    pub fn load(files: &TlsFiles) -> anyhow::Result<Arc<ReloadingCert>> {
        Ok(Arc::new(ReloadingCert {
            current: RwLock::new(Arc::new(certified_key(files)?)),
            files: files.clone(),
        }))
    }

    /// Reads the files again and serves what they hold from the next handshake on. On error
    /// the certificate served so far stays.
    ///
    /// # Errors
    /// As [`ReloadingCert::load`].
    pub fn reload(&self) -> anyhow::Result<()> {
        let fresh = Arc::new(certified_key(&self.files)?);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    /// The rustls configuration that serves it: TLS 1.2 and 1.3, HTTP/2 preferred.
    ///
    /// # Errors
    /// Only if ring's provider lacks the default protocol versions (it does not).
    pub fn server_config(self: &Arc<Self>) -> anyhow::Result<ServerConfig> {
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

fn certified_key(files: &TlsFiles) -> anyhow::Result<CertifiedKey> {
    let reading = |path: &Path| format!("reading {}", path.display());
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .with_context(|| reading(&files.cert))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| reading(&files.cert))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "{} holds no certificate",
        files.cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(&files.key).with_context(|| reading(&files.key))?;
    let signer = ring::sign::any_supported_type(&key)
        .with_context(|| format!("{} is not a usable private key", files.key.display()))?;
    let certified = CertifiedKey::new(chain, signer);
    certified.keys_match().with_context(|| {
        format!(
            "{} is not the key of {}",
            files.key.display(),
            files.cert.display()
        )
    })?;
    Ok(certified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> TlsFiles {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let files = TlsFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, made.cert.pem()).unwrap();
        std::fs::write(&files.key, made.key_pair.serialize_pem()).unwrap();
        files
    }

    #[test]
    fn loads_reloads_and_refuses_a_mismatched_key() {
        let dir = std::env::temp_dir().join(format!("rapport-tls-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = write_pair(&dir, "first");
        let second = write_pair(&dir, "second");
        let cert = ReloadingCert::load(&first).unwrap();
        let served = |c: &ReloadingCert| c.current.read().unwrap().cert[0].clone();
        let before = served(&cert);
        // A key that belongs to another certificate is refused, and the old pair stays.
        std::fs::copy(&second.key, &first.key).unwrap();
        assert!(cert.reload().is_err());
        assert_eq!(served(&cert), before);
        std::fs::copy(&second.cert, &first.cert).unwrap();
        cert.reload().unwrap();
        assert_ne!(served(&cert), before);
        let missing = TlsFiles {
            cert: dir.join("nowhere.crt"),
            key: first.key.clone(),
        };
        let err = ReloadingCert::load(&missing).unwrap_err();
        assert!(format!("{err:#}").contains("nowhere.crt"), "{err:#}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
