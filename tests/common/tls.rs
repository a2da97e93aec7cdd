//! Throw-away certificate authorities and server identities for the HTTPS test server.
//!
//! verun must verify TLS against the system roots plus `--cacert` / `SSL_CERT_FILE`, and
//! refuse an untrusted, expired or wrongly named certificate. Tests need real certificates
//! for that, but none may be checked in: a fixed key in the repository would be trusted by
//! nothing and forgotten by everyone. So each test run makes its own CA with `rcgen`
//! (ring backend, no aws-lc), writes the CA certificate to a temporary PEM file for
//! `--cacert PATH`, and signs leaf certificates served through `rustls` (ring provider).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The names a default leaf certificate is valid for: the URL host of
/// [`TestServer::https`](super::server::TestServer::https) and the loopback address.
pub const DEFAULT_NAMES: &[&str] = &["localhost", "127.0.0.1"];

/// A certificate authority created for this test run, with its certificate written to a
/// temporary PEM file that lives as long as the value.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    pem_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    /// Generates a fresh CA (ECDSA P-256) and writes its certificate to `<tempdir>/ca.pem`.
    pub fn new() -> Arc<TestCa> {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "verun test CA (throw-away)");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("generate CA key");
        let cert = params.self_signed(&key).expect("self-sign CA certificate");
        let pem = cert.pem();
        let dir = tempfile::Builder::new()
            .prefix("verun-test-ca-")
            .tempdir()
            .expect("create CA tempdir");
        let pem_path = dir.path().join("ca.pem");
        fs::write(&pem_path, &pem).expect("write CA PEM");
        Arc::new(TestCa {
            issuer: Issuer::new(params, key),
            pem,
            pem_path,
            _dir: dir,
        })
    }

    /// The CA certificate in PEM form.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A file holding [`pem`](Self::pem): pass it as `--cacert PATH` or `SSL_CERT_FILE`.
    pub fn pem_path(&self) -> &Path {
        &self.pem_path
    }

    /// A leaf certificate for `names` (DNS names or IP addresses), signed by this CA and
    /// valid from 1975 to 4096.
    pub fn leaf(&self, names: &[&str]) -> TlsIdentity {
        self.leaf_with(names, false)
    }

    /// Like [`leaf`](Self::leaf), but the certificate expired in 2001.
    pub fn leaf_expired(&self, names: &[&str]) -> TlsIdentity {
        self.leaf_with(names, true)
    }

    fn leaf_with(&self, names: &[&str], expired: bool) -> TlsIdentity {
        let mut params = leaf_params(names);
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().expect("generate leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign leaf");
        TlsIdentity::new(cert.der().clone(), &key)
    }
}

/// A self-signed leaf for `names` that chains to no [`TestCa`]: a client trusting only
/// the test CA (or the system roots) must reject it.
pub fn self_signed_identity(names: &[&str]) -> TlsIdentity {
    let params = leaf_params(names);
    let key = KeyPair::generate().expect("generate key");
    let cert = params.self_signed(&key).expect("self-sign leaf");
    TlsIdentity::new(cert.der().clone(), &key)
}

/// A self-signed certificate for `names` that says it is a CA (as `openssl req -x509`
/// makes by default), presented by the server as its own: what a newcomer passes to
/// `--cacert`, which TLS clients refuse (webpki's `CaUsedAsEndEntity`).
pub fn self_signed_ca_identity(names: &[&str]) -> TlsIdentity {
    let mut params = leaf_params(names);
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
    ];
    let key = KeyPair::generate().expect("generate key");
    let cert = params.self_signed(&key).expect("self-sign");
    TlsIdentity::new(cert.der().clone(), &key)
}

fn leaf_params(names: &[&str]) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names.clone()).expect("leaf params");
    params.is_ca = IsCa::NoCa;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
}

/// What an HTTPS [`TestServer`](super::server::TestServer) presents: a certificate and
/// its key, ready as a rustls server configuration.
#[derive(Clone)]
pub struct TlsIdentity {
    config: Arc<ServerConfig>,
    cert_der: CertificateDer<'static>,
}

impl TlsIdentity {
    fn new(cert: CertificateDer<'static>, key: &KeyPair) -> TlsIdentity {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .expect("server certificate");
        TlsIdentity {
            config: Arc::new(config),
            cert_der: cert,
        }
    }

    /// The leaf certificate (DER).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    pub(crate) fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config)
    }
}
