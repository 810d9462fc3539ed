//! The functions' HTTPS client over real TLS: it trusts the roots it is given (the
//! Amazon roots and `AWS_CA_BUNDLE`) and refuses a server signed by any other.
//!
//! A TLS server on 127.0.0.1 presents `tls/server.pem` for `localhost`, issued by
//! `tls/ca.pem`, a test CA whose private key was discarded once the certificate was
//! made (`tls/*.cnf` are the openssl settings used). It answers one Identity Store
//! GetUserId over HTTP/1.1.

use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_identitystore::types::{AlternateIdentifier, UniqueAttribute};
use aws_smithy_types::Document;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tls").join(name)
}

/// Serves GetUserId answers over TLS until the test ends; returns the endpoint.
async fn identity_store_over_tls() -> String {
    let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A handshake the client refuses ends here; that is the point of one test.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"UserId":"u-over-tls","IdentityStoreId":"d-1234567890"}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://localhost:{port}")
}

async fn get_user_id(endpoint: &str, ca_bundle: Option<&str>) -> Result<String, String> {
    let http = turnstile::https_client(ca_bundle).map_err(|e| e.to_string())?;
    let client = turnstile::testing::local_client(endpoint, Some(http)).await;
    let id = AlternateIdentifier::UniqueAttribute(
        UniqueAttribute::builder()
            .attribute_path("userName")
            .attribute_value(Document::String("someone".into()))
            .build()
            .unwrap(),
    );
    client
        .get_user_id()
        .identity_store_id("d-1234567890")
        .alternate_identifier(id)
        .send()
        .await
        .map(|out| out.user_id)
        .map_err(|e| format!("{:?}", aws_smithy_types::error::display::DisplayErrorContext(e)))
}

#[tokio::test]
async fn a_server_whose_root_is_in_aws_ca_bundle_is_trusted() {
    let endpoint = identity_store_over_tls().await;
    let ca = fixture("ca.pem");
    let user = get_user_id(&endpoint, Some(ca.to_str().unwrap())).await;
    assert_eq!(user.as_deref(), Ok("u-over-tls"));
}

#[tokio::test]
async fn a_server_signed_by_any_other_root_is_refused() {
    let endpoint = identity_store_over_tls().await;
    let err = get_user_id(&endpoint, None).await.unwrap_err();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}
