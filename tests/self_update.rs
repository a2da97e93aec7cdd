//! `verun self-update` against releases served on loopback HTTPS: a good release, a
//! tampered one, an older one, one signed by a revoked (or rotated-out, or merely other)
//! key, a truncated binary, a lying `latest` redirect, a rollback. After every refusal the
//! installed binary (a copy of the test binary in a temporary directory) is byte-for-byte
//! unchanged, nothing is left beside it, and the exit code is the documented one.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{
    Reply, TestEnv, TestKey, TestServer, assert_exit, gnu_checksums, now_timestamp,
    run_with_timeout, stderr, stdout, verun_bin,
};

const KEY_NAME: &str = "test-release";

/// The ELF `e_machine` of the binary under test (62 x86_64, 183 aarch64): with
/// `VERUN_TEST_BIN` and `VERUN_TEST_RUNNER` these tests run the aarch64 release binary
/// under qemu-user, and the release served must be for that machine.
fn machine() -> u16 {
    let head = fs::read(verun_bin()).unwrap();
    u16::from_le_bytes([head[18], head[19]])
}

/// The release asset for the binary under test.
fn asset() -> String {
    match machine() {
        62 => "verun-x86_64-unknown-linux-musl".into(),
        183 => "verun-aarch64-unknown-linux-musl".into(),
        other => panic!("no release target for ELF machine {other}"),
    }
}

/// A small "binary": an ELF header for the binary under test's machine, then a marker and
/// padding.
fn fake_binary(marker: &str) -> Vec<u8> {
    let mut b = vec![0u8; 64];
    b[..6].copy_from_slice(b"\x7fELF\x02\x01");
    b[16..18].copy_from_slice(&2u16.to_le_bytes());
    b[18..20].copy_from_slice(&machine().to_le_bytes());
    b.extend_from_slice(format!("verun release {marker}\n").as_bytes());
    b.resize(64 * 1024, b'.');
    b
}

/// One sandbox: a release server, the release key in the store (as `test-release`, scoped to
/// the server's releases), and an installed copy of verun in `root/bin`.
struct Site {
    env: TestEnv,
    server: TestServer,
    key: TestKey,
    bin: PathBuf,
    original: Vec<u8>,
}

impl Site {
    fn new() -> Site {
        Site::with_mode(0o755)
    }

    fn with_mode(mode: u32) -> Site {
        let env = TestEnv::new();
        let server = TestServer::https();
        let key = TestKey::generate();
        let dir = env.root().join("bin");
        fs::create_dir(&dir).unwrap();
        let bin = dir.join("verun");
        fs::copy(verun_bin(), &bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(mode)).unwrap();
        let original = fs::read(&bin).unwrap();
        let site = Site {
            env,
            server,
            key,
            bin,
            original,
        };
        let out = site.env.verun([
            "key",
            "add",
            KEY_NAME,
            "--pubkey",
            &site.key.public_key_base64(),
            "--scope",
            &site.base(),
        ]);
        assert_exit(&out, 0);
        site
    }

    /// `https://127.0.0.1:PORT/releases/`
    fn base(&self) -> String {
        format!("{}/releases/", self.server.base_url_ip())
    }

    /// Publish release `version` signed by `key` at `ts`, with `binary` as this machine's
    /// asset; `/releases/latest` redirects to its tag.
    fn publish(&self, version: &str, key: &TestKey, ts: u64, binary: &[u8]) -> Vec<u8> {
        self.publish_as(version, version, key, ts, binary)
    }

    /// Like [`publish`](Self::publish), but the list's signed `version:` is `signed_as`.
    fn publish_as(
        &self,
        version: &str,
        signed_as: &str,
        key: &TestKey,
        ts: u64,
        binary: &[u8],
    ) -> Vec<u8> {
        let dir = format!("/releases/download/v{version}");
        let asset = asset();
        let sums = gnu_checksums(&[(asset.as_str(), binary), ("install.sh", b"#!/bin/sh\n")]);
        let sums_sig = key.sign_tc(
            sums.as_bytes(),
            &format!("timestamp:{ts}\tfile:SHA256SUMS\tversion:{signed_as}"),
        );
        let bin_sig = key.sign_tc(
            binary,
            &format!("timestamp:{ts}\tfile:{asset}\tversion:{signed_as}"),
        );
        self.server
            .route(format!("{dir}/SHA256SUMS"), Reply::bytes(sums.as_bytes()));
        self.server
            .route(format!("{dir}/SHA256SUMS.minisig"), Reply::bytes(sums_sig));
        self.server
            .route(format!("{dir}/{asset}"), Reply::bytes(binary));
        self.server
            .route(format!("{dir}/{asset}.minisig"), Reply::bytes(bin_sig));
        self.latest(version);
        binary.to_vec()
    }

    fn latest(&self, version: &str) {
        self.server.route(
            "/releases/latest",
            Reply::redirect(302, format!("/releases/tag/v{version}")),
        );
        self.server.route(
            format!("/releases/tag/v{version}"),
            Reply::bytes("<html>release page</html>"),
        );
    }

    fn binary_path(&self, version: &str) -> String {
        format!("/releases/download/v{version}/{}", asset())
    }

    /// Run the installed copy: `self-update ARGS`.
    fn update(&self, args: &[&str]) -> Output {
        self.update_with(&self.bin, args)
    }

    fn update_with(&self, bin: &Path, args: &[&str]) -> Output {
        let mut cmd = self.env.command_for(bin);
        cmd.arg("self-update")
            .args(args)
            .env("VERUN_RELEASE_BASE", self.base())
            .env("VERUN_RELEASE_KEY_NAME", KEY_NAME)
            .env("SSL_CERT_FILE", self.server.ca_pem_path());
        run_with_timeout(&mut cmd, common::DEFAULT_TIMEOUT)
    }

    /// The installed binary is the original, with its mode, and nothing is beside it.
    fn assert_unchanged(&self, out: &Output) {
        assert!(
            fs::read(&self.bin).unwrap() == self.original,
            "the installed binary changed: {}",
            stderr(out)
        );
        self.assert_alone();
    }

    fn assert_alone(&self) {
        let names: Vec<String> = fs::read_dir(self.bin.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["verun"], "leftovers beside the binary");
    }

    fn key_cmd(&self, args: &[&str]) -> Output {
        self.env
            .verun(std::iter::once("key").chain(args.iter().copied()))
    }
}

fn assert_refusal(out: &Output, code: i32, mentions: &str) {
    assert_exit(out, code);
    let err = stderr(out);
    assert!(err.contains("verun: error: "), "{err}");
    assert!(err.contains("verun: hint: "), "{err}");
    assert!(
        err.to_lowercase().contains(&mentions.to_lowercase()),
        "stderr does not mention {mentions:?}: {err}"
    );
}

#[test]
fn a_good_release_replaces_the_binary_atomically_keeping_its_mode() {
    let s = Site::with_mode(0o750);
    let new = s.publish("0.2.0", &s.key, now_timestamp(), &fake_binary("0.2.0"));
    let out = s.update(&[]);
    assert_exit(&out, 0);
    assert!(
        fs::read(&s.bin).unwrap() == new,
        "not the new release's bytes"
    );
    let mode = fs::metadata(&s.bin).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o750, "the mode was not kept");
    s.assert_alone();
    assert!(
        stderr(&out).contains("from verun 0.1.0 to 0.2.0"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_reports_a_newer_verified_release_and_changes_nothing() {
    let s = Site::new();
    s.publish("0.2.0", &s.key, now_timestamp(), &fake_binary("0.2.0"));
    let out = s.update(&["--check"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("0.2.0 is available"),
        "{}",
        stdout(&out)
    );
    s.assert_unchanged(&out);
    assert_eq!(
        s.server.hits(&s.binary_path("0.2.0")),
        0,
        "--check downloaded the binary"
    );
}

#[test]
fn the_same_version_is_up_to_date_and_downloads_nothing() {
    let s = Site::new();
    let v = env!("CARGO_PKG_VERSION");
    s.publish(v, &s.key, now_timestamp(), &fake_binary(v));
    let out = s.update(&[]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("up to date"), "{}", stderr(&out));
    s.assert_unchanged(&out);
    assert_eq!(s.server.hits(&s.binary_path(v)), 0);
}

#[test]
fn a_tampered_binary_is_refused_and_the_installed_one_is_unchanged() {
    let s = Site::new();
    let good = fake_binary("0.2.0");
    s.publish("0.2.0", &s.key, now_timestamp(), &good);
    let mut evil = good.clone();
    evil[100] ^= 1;
    s.server.route(s.binary_path("0.2.0"), Reply::bytes(&evil));
    let out = s.update(&[]);
    assert_refusal(&out, 77, "signature");
    s.assert_unchanged(&out);
}

#[test]
fn a_tampered_checksum_list_is_refused_and_the_installed_one_is_unchanged() {
    let s = Site::new();
    let good = fake_binary("0.2.0");
    s.publish("0.2.0", &s.key, now_timestamp(), &good);
    let evil = fake_binary("evil");
    let sums = gnu_checksums(&[(asset().as_str(), evil.as_slice())]);
    s.server.route(
        "/releases/download/v0.2.0/SHA256SUMS",
        Reply::bytes(sums.as_bytes()),
    );
    s.server.route(s.binary_path("0.2.0"), Reply::bytes(&evil));
    let out = s.update(&[]);
    assert_refusal(&out, 77, "SHA256SUMS");
    s.assert_unchanged(&out);
}

#[test]
fn an_older_release_is_refused_unless_allow_downgrade() {
    let s = Site::new();
    let old = s.publish("0.0.9", &s.key, now_timestamp(), &fake_binary("0.0.9"));
    let out = s.update(&[]);
    assert_refusal(&out, 77, "downgrade");
    s.assert_unchanged(&out);
    let out = s.update(&["--version", "0.0.9"]);
    assert_refusal(&out, 77, "downgrade");
    s.assert_unchanged(&out);
    // The refusal was the version: allowed on purpose, the same release installs.
    let out = s.update(&["--version", "0.0.9", "--allow-downgrade"]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("warning: --allow-downgrade"));
    assert!(fs::read(&s.bin).unwrap() == old);
}

#[test]
fn a_release_signed_by_a_revoked_key_is_refused() {
    let s = Site::new();
    s.publish("0.2.0", &s.key, now_timestamp(), &fake_binary("0.2.0"));
    assert_exit(&s.key_cmd(&["revoke", KEY_NAME]), 0);
    let out = s.update(&[]);
    assert_refusal(&out, 77, "revoked");
    s.assert_unchanged(&out);
    let out = s.update(&["--check"]);
    assert_refusal(&out, 77, "revoked");
}

#[test]
fn a_rotated_out_release_key_is_refused_and_its_successor_accepted() {
    let s = Site::new();
    let next = TestKey::generate();
    let pub_path = s.env.write("next.pub", next.public_key_file());
    let sig = s.key.sign(&fs::read(&pub_path).unwrap(), "next.pub");
    let sig_path = s.env.write("next.pub.minisig", sig);
    let out = s.key_cmd(&[
        "rotate",
        KEY_NAME,
        "--new",
        pub_path.to_str().unwrap(),
        "--sig",
        sig_path.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    s.publish("0.2.0", &s.key, now_timestamp(), &fake_binary("0.2.0"));
    let out = s.update(&[]);
    assert_refusal(&out, 77, "rotated out");
    s.assert_unchanged(&out);
    let new = s.publish("0.2.0", &next, now_timestamp(), &fake_binary("0.2.0"));
    let out = s.update(&[]);
    assert_exit(&out, 0);
    assert!(fs::read(&s.bin).unwrap() == new);
}

#[test]
fn a_release_signed_by_another_trusted_key_is_refused() {
    let s = Site::new();
    let other = TestKey::generate();
    assert_exit(
        &s.key_cmd(&[
            "add",
            "other",
            "--pubkey",
            &other.public_key_base64(),
            "--global",
        ]),
        0,
    );
    s.publish("0.2.0", &other, now_timestamp(), &fake_binary("0.2.0"));
    let out = s.update(&[]);
    assert_refusal(&out, 77, "not by verun's release key");
    s.assert_unchanged(&out);
}

#[test]
fn a_truncated_binary_is_refused_and_the_installed_one_is_unchanged() {
    let s = Site::new();
    let good = fake_binary("0.2.0");
    s.publish("0.2.0", &s.key, now_timestamp(), &good);
    let half = &good[..good.len() / 2];
    // Served whole as far as HTTP can tell: the signature and the SHA-256 do not match (77).
    s.server.route(s.binary_path("0.2.0"), Reply::bytes(half));
    let out = s.update(&[]);
    assert_refusal(&out, 77, "does not match");
    s.assert_unchanged(&out);
    // Cut short against its Content-Length: a failed download (69).
    s.server.route(
        s.binary_path("0.2.0"),
        Reply::truncated(half, good.len() as u64),
    );
    let out = s.update(&[]);
    assert_exit(&out, 69);
    s.assert_unchanged(&out);
}

#[test]
fn the_latest_redirect_is_only_a_hint_checked_against_the_signed_version() {
    let s = Site::new();
    // The directory v0.3.0 holds a genuinely signed 0.2.0 release.
    s.publish_as(
        "0.3.0",
        "0.2.0",
        &s.key,
        now_timestamp(),
        &fake_binary("0.2.0"),
    );
    let out = s.update(&[]);
    assert_refusal(&out, 77, "signed as version 0.2.0");
    s.assert_unchanged(&out);
}

#[test]
fn a_release_without_a_signed_version_is_refused() {
    let s = Site::new();
    let bin = fake_binary("0.2.0");
    s.publish("0.2.0", &s.key, now_timestamp(), &bin);
    let sums = gnu_checksums(&[(asset().as_str(), bin.as_slice())]);
    s.server.route(
        "/releases/download/v0.2.0/SHA256SUMS.minisig",
        Reply::bytes(s.key.sign(sums.as_bytes(), "SHA256SUMS")),
    );
    s.server.route(
        "/releases/download/v0.2.0/SHA256SUMS",
        Reply::bytes(sums.as_bytes()),
    );
    let out = s.update(&[]);
    assert_refusal(&out, 77, "version:");
    s.assert_unchanged(&out);
}

#[test]
fn a_release_signed_before_one_already_installed_is_refused() {
    let s = Site::new();
    let t = now_timestamp();
    s.publish("0.3.0", &s.key, t, &fake_binary("0.3.0"));
    // A second copy, so the first can be replaced and the state (VERUN_HOME) kept.
    let spare = s.env.root().join("spare");
    fs::create_dir(&spare).unwrap();
    let spare_bin = spare.join("verun");
    fs::copy(verun_bin(), &spare_bin).unwrap();
    assert_exit(&s.update(&[]), 0);
    // A newer version number, signed an hour earlier than the release installed before.
    s.publish("0.3.1", &s.key, t - 3600, &fake_binary("0.3.1"));
    let before = fs::read(&spare_bin).unwrap();
    let out = s.update_with(&spare_bin, &[]);
    assert_refusal(&out, 77, "rollback");
    assert!(
        fs::read(&spare_bin).unwrap() == before,
        "the binary changed"
    );
}

#[test]
fn a_bad_version_argument_is_a_usage_error() {
    let s = Site::new();
    let out = s.update(&["--version", "latest"]);
    assert_refusal(&out, 64, "--version");
    s.assert_unchanged(&out);
    assert!(
        s.server.requests().is_empty(),
        "usage errors reach the network"
    );
}

#[test]
fn a_plain_http_release_base_is_refused() {
    let s = Site::new();
    let mut cmd = s.env.command_for(&s.bin);
    cmd.args(["self-update", "--check"])
        .env("VERUN_RELEASE_BASE", "http://127.0.0.1:9/releases");
    let out = run_with_timeout(&mut cmd, common::DEFAULT_TIMEOUT);
    assert_refusal(&out, 64, "https");
}

#[test]
fn a_binary_in_a_package_manager_directory_is_refused() {
    // /usr/lib is a package manager's directory: the test needs to write there (root).
    let dir = PathBuf::from(format!(
        "/usr/lib/verun-self-update-test-{}",
        std::process::id()
    ));
    if fs::create_dir(&dir).is_err() {
        eprintln!(
            "SKIPPED a_binary_in_a_package_manager_directory_is_refused: cannot write /usr/lib"
        );
        return;
    }
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(dir.clone());
    let s = Site::new();
    s.publish("0.2.0", &s.key, now_timestamp(), &fake_binary("0.2.0"));
    let bin = dir.join("verun");
    fs::copy(verun_bin(), &bin).unwrap();
    let before = fs::read(&bin).unwrap();
    let out = s.update_with(&bin, &[]);
    assert_refusal(&out, 77, "package manager");
    assert!(fs::read(&bin).unwrap() == before);
    assert!(
        s.server.requests().is_empty(),
        "refused only after reaching the network"
    );
}

#[test]
fn a_signed_binary_for_another_machine_is_refused() {
    let s = Site::new();
    let mut other = fake_binary("0.2.0");
    // e_machine of some other architecture (RISC-V), validly signed.
    other[18..20].copy_from_slice(&243u16.to_le_bytes());
    s.publish("0.2.0", &s.key, now_timestamp(), &other);
    let out = s.update(&[]);
    assert_refusal(&out, 77, "not an ELF executable");
    s.assert_unchanged(&out);
}

/// A tmpfs at `dir`, unmounted on drop; `None`, said loudly, where mounting is not allowed,
/// unless `VERUN_REQUIRE_MOUNT_TEST=1` (set by `.ci/run`), which makes that a failure.
struct Mounted(PathBuf);

impl Mounted {
    fn tmpfs(dir: &Path) -> Option<Mounted> {
        fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=512m,mode=0755", "tmpfs"])
            .arg(dir)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Mounted(dir.to_path_buf())),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                };
                if std::env::var_os("VERUN_REQUIRE_MOUNT_TEST").is_some_and(|v| v == "1") {
                    panic!("VERUN_REQUIRE_MOUNT_TEST=1 but a tmpfs cannot be mounted: {why}");
                }
                eprintln!(
                    "\n!!!!!!!! SKIPPED: cannot mount a tmpfs ({why}); this test did NOT run\n"
                );
                None
            }
        }
    }

    fn read_only(&self) {
        let st = std::process::Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success(), "remount read-only failed");
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_directory_verun_cannot_write_is_refused_before_the_download() {
    let s = Site::new();
    s.publish("0.2.0", &s.key, now_timestamp(), &fake_binary("0.2.0"));
    let Some(disk) = Mounted::tmpfs(&s.env.root().join("ro")) else {
        return;
    };
    let bin = disk.0.join("verun");
    fs::copy(verun_bin(), &bin).unwrap();
    let before = fs::read(&bin).unwrap();
    // Even root cannot write to a read-only file system.
    disk.read_only();
    let out = s.update_with(&bin, &[]);
    assert_refusal(&out, 74, "cannot write");
    assert!(fs::read(&bin).unwrap() == before);
    assert!(
        s.server.requests().is_empty(),
        "refused only after reaching the network"
    );
}

#[test]
fn run_as_root_the_new_binary_keeps_the_old_owner() {
    use std::os::unix::fs::MetadataExt;
    if !Path::new("/proc/self").exists() || fs::metadata("/proc/self").unwrap().uid() != 0 {
        eprintln!("SKIPPED run_as_root_the_new_binary_keeps_the_old_owner: not root");
        return;
    }
    let s = Site::new();
    std::os::unix::fs::chown(&s.bin, Some(4321), Some(4322)).unwrap();
    let new = s.publish("0.2.0", &s.key, now_timestamp(), &fake_binary("0.2.0"));
    let out = s.update(&[]);
    assert_exit(&out, 0);
    assert!(fs::read(&s.bin).unwrap() == new);
    let meta = fs::metadata(&s.bin).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4321, 4322), "owner not kept");
}
