//! HTTPS: `rapport serve` with a certificate made by the test, HTTP/2 by ALPN, HSTS, and a new
//! certificate taken on SIGHUP without a restart. Runs on SQLite and PostgreSQL.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::{Db, PATIENCE, Rapport, eventually};
use reqwest::{Certificate, Client, StatusCode, Version};

both!(serves_https_and_http2_and_reloads_its_certificate_on_sighup);

const HOST: &str = "rapport.test";

/// Writes a new self-signed certificate for [`HOST`] and its key; answers the certificate.
fn new_certificate(cert: &Path, key: &Path) -> Certificate {
    let made = rcgen::generate_simple_self_signed(vec![HOST.into()]).unwrap();
    std::fs::write(cert, made.cert.pem()).unwrap();
    std::fs::write(key, made.key_pair.serialize_pem()).unwrap();
    Certificate::from_pem(made.cert.pem().as_bytes()).unwrap()
}

/// A client that trusts only `root` and finds [`HOST`] at the server's port.
fn client_trusting(root: &Certificate, server: &Rapport) -> Client {
    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(root.clone())
        .resolve(HOST, SocketAddr::from(([127, 0, 0, 1], port)))
        .timeout(PATIENCE)
        .build()
        .unwrap()
}

fn url(server: &Rapport, path: &str) -> String {
    let port = server.base.rsplit(':').next().unwrap();
    format!("https://{HOST}:{port}{path}")
}

async fn serves_https_and_http2_and_reloads_its_certificate_on_sighup(db: Db) {
    let (cert, key) = (db.dir.join("tls.crt"), db.dir.join("tls.key"));
    let first = new_certificate(&cert, &key);
    let env = [
        ("RAPPORT_TLS_CERT", cert.to_str().unwrap()),
        ("RAPPORT_TLS_KEY", key.to_str().unwrap()),
    ];
    let server = Rapport::serve(&db, &env).await;
    assert!(server.printed("  API:      https://127.0.0.1:"));

    let client = client_trusting(&first, &server);
    let live = client
        .get(url(&server, "/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    assert_eq!(live.version(), Version::HTTP_2);
    assert_eq!(
        live.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let refused = client.get(url(&server, "/v1/me")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    // Plain HTTP on the same port gets no answer.
    assert!(
        common::http()
            .get(format!("{}/health/live", server.base))
            .send()
            .await
            .is_err()
    );

    let second = new_certificate(&cert, &key);
    server.signal("HUP");
    let renewed = client_trusting(&second, &server);
    let served = eventually(async || {
        let live = renewed.get(url(&server, "/health/live")).send().await;
        live.is_ok()
    })
    .await;
    assert!(served, "the new certificate is not served");
    // New connections no longer get the old certificate.
    let old_only = client_trusting(&first, &server);
    assert!(
        old_only
            .get(url(&server, "/health/live"))
            .send()
            .await
            .is_err()
    );

    // A broken file on the next SIGHUP keeps the current certificate.
    std::fs::write(&key, "not a key").unwrap();
    server.signal("HUP");
    let still = client_trusting(&second, &server);
    let logged = eventually(async || server.stderr().contains("TLS certificate not reloaded"));
    assert!(logged.await, "{}", server.stderr());
    assert_eq!(
        still
            .get(url(&server, "/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // Not a graceful stop: actix-web does not close idle HTTP/2 connections when it stops, so
    // the clients' open connections would hold it for its whole 30 s timeout.
    drop(server);
}
