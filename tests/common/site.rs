//! [`Site`]: the one fixture most integration tests start from: a sandbox ([`TestEnv`]), a
//! plain-HTTP loopback server (tests pass `--allow-http`) and a publisher's key, with the
//! few ways to publish a signed payload every suite needs. Suites add their own helpers in
//! an `impl Site` block of their own.

use std::path::PathBuf;

use super::{
    Reply, TestEnv, TestKey, TestServer, marker_script_with, now_timestamp, trusted_comment_at,
};

/// A sandbox, a loopback HTTP server and a publisher's key.
pub struct Site {
    /// The sandbox (`VERUN_HOME`, work directory).
    pub env: TestEnv,
    /// The download host.
    pub server: TestServer,
    /// The publisher's minisign key.
    pub key: TestKey,
}

impl Default for Site {
    fn default() -> Self {
        Site::new()
    }
}

impl Site {
    /// A fresh sandbox, server and key.
    pub fn new() -> Site {
        Site {
            env: TestEnv::new(),
            server: TestServer::http(),
            key: TestKey::generate(),
        }
    }

    /// Serve `payload` at `path` and its prehashed signature at `path.minisig`, signed at
    /// `timestamp` with `file:` = the last segment of `path`; returns the URL.
    pub fn publish_at(&self, path: &str, payload: &[u8], timestamp: u64) -> String {
        let name = path.rsplit('/').next().unwrap_or(path);
        self.server.route(path, Reply::bytes(payload));
        let tc = trusted_comment_at(timestamp, name, false);
        self.server.route(
            format!("{path}.minisig"),
            Reply::bytes(self.key.sign_tc(payload, &tc)),
        );
        self.server.url(path)
    }

    /// [`Site::publish_at`] now.
    pub fn publish(&self, path: &str, payload: &[u8]) -> String {
        self.publish_at(path, payload, now_timestamp())
    }

    /// A marker script whose marker is named `name` and which runs `tail` after marking.
    pub fn script(&self, name: &str, tail: &str) -> (Vec<u8>, PathBuf) {
        marker_script_with(&self.env, name, tail)
    }

    /// `--key RW...` for the publisher's key.
    pub fn key_args(&self) -> Vec<String> {
        vec!["--key".into(), self.key.public_key_base64()]
    }
}
