//! The HTTPS client the SDK uses: the SDK's default connector, with a fixed trust store.
//!
//! The SDK's default client reads every CA root the system has when the configuration
//! is loaded (about 6 ms of a cold start on a Debian image, most of the init time). The
//! Identity Store's endpoints, FIPS and VPC endpoints included, serve Amazon Trust
//! Services certificates, so the roots that can sign them ship with the binary
//! (`certs/amazon-trust-services.pem`), and `AWS_CA_BUNDLE` (as the AWS CLI reads it)
//! adds more: a TLS-inspecting proxy's root, say.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::Error;

/// Amazon Root CA 1–4 and Starfield Services Root CA G2, which cross-signs them.
const AMAZON_ROOTS: &str = include_str!("../../certs/amazon-trust-services.pem");

/// The SDK's default HTTPS client (rustls with aws-lc, proxy settings from the
/// environment, the SDK's timeouts) trusting the Amazon roots and `AWS_CA_BUNDLE`.
pub fn https_client(ca_bundle: Option<&str>) -> Result<SharedHttpClient, Error> {
    let mut trust = TrustStore::empty().with_pem_certificate(AMAZON_ROOTS.as_bytes());
    if let Some(path) = ca_bundle {
        let pem = std::fs::read(path)
            .map_err(|e| Error::Configuration(format!("AWS_CA_BUNDLE {path:?} cannot be read: {e}")))?;
        check_roots(&pem).map_err(|why| Error::Configuration(format!("AWS_CA_BUNDLE {path:?} {why}")))?;
        trust = trust.with_pem_certificate(pem);
    }
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| Error::Configuration(format!("TLS settings: {e}")))?;
    Ok(Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    }))
}

/// The connector parses its roots only when it first connects, and panics on one it
/// cannot use; a bundle is checked here instead, so a bad one is a `Configuration`
/// error at init.
fn check_roots(pem: &[u8]) -> Result<usize, String> {
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("is not PEM: {e}"))?;
        webpki::anchor_from_trusted_cert(&cert)
            .map_err(|e| format!("holds a certificate that is not a CA root: {e}"))?;
        count += 1;
    }
    if count == 0 {
        return Err("holds no certificate".into());
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_roots_are_the_five_amazon_trust_services_roots() {
        assert_eq!(check_roots(AMAZON_ROOTS.as_bytes()), Ok(5));
    }

    #[test]
    fn a_ca_bundle_that_is_not_a_certificate_is_a_configuration_error() {
        let dir = std::env::temp_dir().join(format!("turnstile-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.pem");
        std::fs::write(
            &bad,
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        for path in [&bad, &empty, &dir.join("missing.pem")] {
            let err = https_client(Some(path.to_str().unwrap())).unwrap_err();
            assert_eq!(err.error_type(), "Configuration", "{err}");
            assert!(err.to_string().contains("AWS_CA_BUNDLE"), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_ca_bundle_of_roots_is_accepted() {
        let dir = std::env::temp_dir().join(format!("turnstile-ca-ok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("roots.pem");
        std::fs::write(&good, AMAZON_ROOTS).unwrap();
        assert!(https_client(Some(good.to_str().unwrap())).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
