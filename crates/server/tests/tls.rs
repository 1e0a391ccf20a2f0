//! HTTPS served by Zhiku itself, with certificates this test makes: a hospital CA, the
//! server's certificate for 127.0.0.1, a client certificate the CA signed and one it did not.
//! With `client_ca` set, only the CA's clients get through the handshake.

mod common;

use std::path::Path;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use common::{config, start};

struct Pem {
    cert: String,
    key: String,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(names: &[&str], issuer: &CertifiedIssuer<'static, KeyPair>) -> Pem {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    let cert = params.signed_by(&key, issuer).unwrap();
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn client(ca_pem: &str, identity: Option<&Pem>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(Duration::from_secs(30))
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap());
    if let Some(id) = identity {
        b = b.identity(
            reqwest::Identity::from_pem(format!("{}{}", id.cert, id.key).as_bytes()).unwrap(),
        );
    }
    b.build().unwrap()
}

#[tokio::test]
async fn https_with_client_certificates_lets_in_only_the_hospitals_systems() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    let hospital = ca("Test Hospital CA");
    let stranger = ca("Somebody Else CA");
    let server = leaf(&["127.0.0.1", "localhost"], &hospital);
    let his = leaf(&["his.hospital.test"], &hospital);
    let intruder = leaf(&["intruder.test"], &stranger);
    let ca_pem = hospital.pem();

    let mut cfg = config(dir);
    cfg.server.tls.cert = write(dir, "server.pem", &server.cert);
    cfg.server.tls.key = write(dir, "server.key", &server.key);
    cfg.server.tls.client_ca = write(dir, "hospital-ca.pem", &ca_pem);
    let running = start(cfg, None).await;
    let https = running.url.replace("http://", "https://");

    let ok = client(&ca_pem, Some(&his))
        .get(format!("{https}/healthz"))
        .send()
        .await
        .expect("a client certificate from the hospital CA gets through");
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.version(), reqwest::Version::HTTP_2, "ALPN offers h2");

    let err = client(&ca_pem, None)
        .get(format!("{https}/healthz"))
        .send()
        .await
        .expect_err("no client certificate: no connection");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    let err = client(&ca_pem, Some(&intruder))
        .get(format!("{https}/healthz"))
        .send()
        .await
        .expect_err("a certificate from another CA: no connection");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    // Plain HTTP to the TLS port gets nothing it can read as HTTP.
    let plain = reqwest::Client::new()
        .get(format!("{}/healthz", running.url))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    assert!(plain.map(|r| r.status().as_u16() != 200).unwrap_or(true));
    // A client that does not trust the server's CA refuses it.
    let other = client(&stranger.pem(), Some(&his))
        .get(format!("{https}/healthz"))
        .send()
        .await;
    assert!(other.is_err(), "the server's certificate is checked too");
    running.stop().await;
}

#[tokio::test]
async fn a_bad_certificate_file_is_a_clear_error_before_anything_is_served() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    let mut cfg = config(dir);
    cfg.server.tls.cert = write(dir, "server.pem", "not a certificate\n");
    cfg.server.tls.key = write(dir, "server.key", "not a key\n");
    let engine = std::sync::Arc::new(zhiku_engine::Engine::open(cfg).await.unwrap());
    let listener = zhiku_server::bind("127.0.0.1:0").await.unwrap();
    let err = zhiku_server::serve(engine, listener, std::future::pending())
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("server.pem") && text.contains("TLS"),
        "{text}"
    );
}
