//! HTTP clients: the one `http.request` and `load.http` share, built once per process, and the
//! builder the PD client starts from.
//!
//! TLS is rustls (with the `ring` provider) rather than OpenSSL: with OpenSSL 3, building a
//! client parsed the whole system CA bundle (47–165 ms here), which the first request of every
//! playbook paid even over plain HTTP, and linking libssl slowed every process start. The
//! system's roots are loaded on the first TLS handshake instead, so plain HTTP never touches
//! them and a host without a CA bundle fails only its HTTPS requests, with a clear error.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();

/// The shared client, built on first use.
pub fn client() -> &'static reqwest::Client {
    CLIENT.get_or_init(|| {
        builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client with a rustls configuration builds")
    })
}

/// A client builder with chaosplay's TLS set up, for clients that need settings of their own
/// (the PD client keeps no idle connections). All of them share one verifier, so the roots are
/// loaded once per process.
pub fn builder() -> reqwest::ClientBuilder {
    static TLS: OnceLock<rustls::ClientConfig> = OnceLock::new();
    let tls = TLS.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(SystemRoots {
            provider: provider.clone(),
            verifier: OnceLock::new(),
        });
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports rustls's default TLS versions")
            // "dangerous" only because the verifier is custom: it is the platform's, loaded
            // late (below), and skips nothing.
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth()
    });
    reqwest::Client::builder().tls_backend_preconfigured(tls.clone())
}

/// Verifies server certificates against the system's roots (as a browser or curl would),
/// loading them when the first certificate arrives.
#[derive(Debug)]
struct SystemRoots {
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl SystemRoots {
    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| rustls_platform_verifier::Verifier::new(self.provider.clone()))
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for SystemRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls13_signature(message, cert, dss)
    }

    /// Asked for every ClientHello, before any certificate: answered from the provider so
    /// that it does not load the roots.
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
