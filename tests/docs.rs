//! Docs that run: every shell example in `README.md`, `install/README.md` and
//! `keys/README.md` is executed, so a document can no longer drift from the code.
//!
//! Every fenced block tagged `sh`, `bash`, `shell` or `console` (for `console`, the lines
//! starting with `$ `) runs as a `bash -e -o pipefail` script and must exit 0, unless the
//! line just before its fence is a marker with a reason:
//!
//! ```text
//! <!-- doc-test: skip (needs Docker) -->
//! ```
//!
//! A marker without a reason, a malformed `doc-test` marker, or one that is not directly
//! before a shell block fails the test, as does every unmarked block that fails.
//!
//! Each block runs in a fresh sandbox: an empty `HOME` (so a fresh key store), a work
//! directory that is a git checkout holding the files the examples name, `verun` (the
//! binary under test) and the real `minisign` on `PATH`, and `SSL_CERT_FILE` /
//! `CURL_CA_BUNDLE` naming a test CA. The examples' hosts are served on loopback: before a
//! block runs, `https://example.com/` and `https://github.com/` become
//! `https://localhost:PORT/example.com/` and `.../github.com/` (one HTTPS `TestServer`
//! with that CA), `/root/` becomes the sandbox's home, and the placeholders become real
//! values made at run time: `RW...`, `RWQ...` and any other concrete minisign key become a
//! generated publisher key; verun's release key (`keys/verun-release.pub`) becomes a
//! generated release key (made by `minisign -G`, its secret half at
//! `/root/.verun-release/verun-release.key` as the docs say); `4c0b...e1`, `9b71...0a` and
//! `<sha256 of verun-x86_64-unknown-linux-musl>` become the digests of what is served.
//! The server publishes, signed by those keys, every file the examples fetch, including a
//! release (the `verun` binary under test as `verun-x86_64-unknown-linux-musl`, an
//! `install.sh` stamped from `install/install.sh` as `install/release.sh` stamps it,
//! `SHA256SUMS`, and a `.minisig` for each).
//!
//! The README's OpenPGP and SSH examples run the same way ([`Publishers`], made once per run
//! with `gpg` and `ssh-keygen`, both required like `minisign`): `https://cli.codecov.io/`,
//! `https://keybase.io/`, `https://nodejs.org/` and `https://deb.debian.org/` are served on
//! loopback too, Codecov's fingerprint `27034E7F...` becomes a generated key's, the
//! `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI...` placeholder a generated SSH key,
//! `/usr/share/keyrings/` a directory holding a generated `debian-archive-keyring.gpg`, and
//! the work directory holds the local files those examples name (`release-keys/keys/*.asc`,
//! an upstream tarball with its `.asc` and `signing-key.asc`).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// The documents whose shell examples must run.
const DOCS: [&str; 3] = ["README.md", "install/README.md", "keys/README.md"];
/// Fence languages that are shell examples.
const SHELLS: [&str; 4] = ["sh", "bash", "shell", "console"];
/// verun's real release key, as the docs print it.
const RELEASE_KEY: &str = "RWT4vlvvzgiWZ08oDapNG01BGdA+MO7uDwm0vb5ucqYOXjXGqTEl12lz";
/// The release binary's name.
const ASSET: &str = "verun-x86_64-unknown-linux-musl";
/// Where the examples' release lives (under the loopback server).
const RELEASE_DIR: &str = "/github.com/verun-dev/verun/releases/download/v0.1.0";
/// How long one block may run.
const BLOCK_TIMEOUT: Duration = Duration::from_secs(120);

/// The hosts the examples name, served on loopback under `/HOST/`.
const HOSTS: [&str; 6] = [
    "example.com",
    "github.com",
    "cli.codecov.io",
    "keybase.io",
    "nodejs.org",
    "deb.debian.org",
];
/// Codecov's real fingerprint, as the README prints it.
const CODECOV_FPR: &str = "27034E7FDB850E0BBC2C62FF806BB28AED779869";
/// The README's SSH key placeholder (the first bytes every Ed25519 key blob shares).
const SSH_PLACEHOLDER: &str = "AAAAC3NzaC1lZDI1NTE5AAAAI...";

// --- the OpenPGP and SSH publishers --------------------------------------------------------

/// What the README's OpenPGP and SSH examples fetch and read, made once per run by `gpg`
/// (Ed25519 keys: quick) and `ssh-keygen`; the gpg-agent is stopped once all is signed.
struct Publishers {
    /// (path on the server, body).
    served: Vec<(String, Vec<u8>)>,
    /// (path below the work directory, contents).
    work_files: Vec<(String, Vec<u8>)>,
    /// What `/usr/share/keyrings/debian-archive-keyring.gpg` holds here.
    debian_keyring: Vec<u8>,
    /// The stand-in for Codecov's fingerprint.
    codecov_fpr: String,
    /// The base64 blob of the SSH key that signs `example.com/install.sh.sig`.
    ssh_blob: String,
}

fn publishers() -> Option<&'static Publishers> {
    static P: std::sync::OnceLock<Option<Publishers>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("docs-gnupg");
        let Some(g) = Gpg::fresh(&home) else {
            skipped(
                "docs: the OpenPGP examples",
                "gpg (GnuPG) is not installed",
                "VERUN_REQUIRE_GPG",
                Need::Oracle,
            );
            return None;
        };
        if !ssh_keygen_available() {
            skipped(
                "docs: the SSH examples",
                "ssh-keygen (OpenSSH) is not installed",
                "VERUN_REQUIRE_SSH_KEYGEN",
                Need::Oracle,
            );
            return None;
        }
        let key = |uid: &str, usage: &str| g.generate(uid, "ed25519", usage, None);
        let mut served = Vec::new();
        let mut work_files = Vec::new();
        // Codecov: a signed SHA256SUM, the certificate at keybase.io.
        let codecov = key("Codecov Uploader <security@codecov.io>", "sign");
        let uploader = script("codecov");
        let sums = gnu_checksums(&[("codecov", &uploader)]);
        let dir = "/cli.codecov.io/latest/linux";
        served.push((format!("{dir}/codecov"), uploader));
        served.push((format!("{dir}/codecov.SHA256SUM.sig"), g.detach_sign(&codecov, sums.as_bytes(), false, None)));
        served.push((format!("{dir}/codecov.SHA256SUM"), sums.into_bytes()));
        served.push(("/keybase.io/codecovsecurity/pgp_keys.asc".into(), g.export(&[&codecov], true)));
        // Node.js: two releasers, one signing through a subkey; both kinds of list signature.
        let alice = key("Alice Releaser <alice@nodejs.test>", "sign");
        let bob = key("Bob Releaser <bob@nodejs.test>", "cert");
        let bob_sub = g.add_subkey(&bob, "ed25519", "sign", None);
        let node = script("node");
        let shasums = gnu_checksums(&[("node-v22.12.0-linux-x64.tar.xz", &node)]);
        let dist = "/nodejs.org/dist/v22.12.0";
        served.push((format!("{dist}/node-v22.12.0-linux-x64.tar.xz"), node));
        served.push((format!("{dist}/SHASUMS256.txt.asc"), g.clearsign(&bob_sub, shasums.as_bytes(), None)));
        served.push((format!("{dist}/SHASUMS256.txt.sig"), g.detach_sign(&alice, shasums.as_bytes(), false, None)));
        served.push((format!("{dist}/SHASUMS256.txt"), shasums.into_bytes()));
        for (name, fpr) in [("alice", &alice), ("bob", &bob)] {
            work_files.push((format!("release-keys/keys/{name}.asc"), g.export(&[fpr], true)));
        }
        // Debian: an InRelease signed twice, by two archive keys' subkeys.
        let (arch1, arch2) = (key("Archive Key 1 <ftpmaster@debian.test>", "cert"), key("Archive Key 2 <ftpmaster@debian.test>", "cert"));
        let subs = [g.add_subkey(&arch1, "ed25519", "sign", None), g.add_subkey(&arch2, "ed25519", "sign", None)];
        let release = b"Origin: Debian\nSuite: stable-security\nSHA256:\n 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef 42 main/binary-amd64/Packages\n";
        // gpg signs one cleartext message with several keys when given several --local-user.
        let both = g.run(
            None,
            &["--local-user", &format!("{}!", subs[0]), "--local-user", &format!("{}!", subs[1]), "--clearsign", "--output", "-"],
            release,
        );
        served.push(("/deb.debian.org/debian-security/dists/bookworm-security/InRelease".into(), both));
        let debian_keyring = g.export(&[&arch1, &arch2], false);
        // An upstream tarball with its armored signature and the upstream signing key.
        let upstream = key("Upstream Maintainer <dist@upstream.test>", "sign");
        let tarball = b"pretend libassuan-2.5.5 tarball\n".to_vec();
        work_files.push(("libassuan_2.5.5.orig.tar.bz2.asc".into(), g.detach_sign(&upstream, &tarball, true, None)));
        work_files.push(("libassuan_2.5.5.orig.tar.bz2".into(), tarball));
        work_files.push(("signing-key.asc".into(), g.export(&[&upstream], true)));
        g.stop_agent();
        // SSH: example.com/install.sh signed with ssh-keygen -Y sign -n file.
        let ssh = SshKeyPair::generate(&home.join("ssh"), "id_ed25519", "ed25519", "release@example.com");
        served.push(("/example.com/install.sh.sig".into(), ssh.sign("file", &script("example.com/install.sh"))));
        let ssh_blob = ssh.public.split_whitespace().nth(1).unwrap().to_string();
        Some(Publishers { served, work_files, debian_keyring, codecov_fpr: codecov, ssh_blob })
    })
    .as_ref()
}

// --- extracting blocks ------------------------------------------------------------------

/// What the line before a block says.
#[derive(Debug, PartialEq)]
enum Marker {
    /// Nothing: the block must run.
    None,
    /// `<!-- doc-test: skip (REASON) -->`.
    Skip(String),
    /// A `doc-test` marker that is not a skip with a reason.
    Bad(String),
}

/// A shell example.
#[derive(Debug)]
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    /// The script to run.
    script: String,
    marker: Marker,
}

fn parse_marker(line: &str) -> Marker {
    let t = line.trim();
    let Some(inner) = t.strip_prefix("<!--") else {
        return Marker::None;
    };
    if !inner.trim_start().starts_with("doc-test") {
        return Marker::None;
    }
    let reason = inner
        .strip_suffix("-->")
        .map(str::trim)
        .and_then(|s| s.strip_prefix("doc-test:"))
        .map(str::trim)
        .and_then(|s| s.strip_prefix("skip"))
        .map(str::trim)
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.strip_suffix(')'))
        .map(str::trim);
    match reason {
        Some(r) if !r.is_empty() => Marker::Skip(r.to_string()),
        _ => Marker::Bad(t.to_string()),
    }
}

/// The shell blocks of `md`, and the problems found while extracting them (markers that
/// are malformed are reported on their block; markers not before a shell block here).
fn shell_blocks(md: &str) -> (Vec<Block>, Vec<String>) {
    let lines: Vec<&str> = md.lines().collect();
    let mut blocks = Vec::new();
    let mut problems = Vec::new();
    let mut prev: Option<(usize, &str)> = None;
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim_start();
        let fence_char = match t.chars().next() {
            Some(c @ ('`' | '~')) if t.starts_with(&c.to_string().repeat(3)) => c,
            _ => {
                if parse_marker(lines[i]) != Marker::None && !next_is_shell_fence(&lines, i + 1) {
                    problems.push(format!(
                        "line {}: doc-test marker is not directly before a shell block",
                        i + 1
                    ));
                }
                if !lines[i].trim().is_empty() {
                    prev = Some((i, lines[i]));
                }
                i += 1;
                continue;
            }
        };
        let fence_len = t.chars().take_while(|&c| c == fence_char).count();
        let lang = t[fence_len..]
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        let open = i;
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() {
            let c = lines[i].trim();
            if c.len() >= fence_len && c.chars().all(|ch| ch == fence_char) {
                break;
            }
            body.push(lines[i]);
            i += 1;
        }
        i += 1;
        if SHELLS.contains(&lang.as_str()) {
            let marker = match prev {
                Some((_, l)) => parse_marker(l),
                None => Marker::None,
            };
            let script = if lang == "console" {
                body.iter()
                    .filter_map(|l| l.trim_start().strip_prefix("$ "))
                    .collect::<Vec<_>>()
                    .join("\n")
            } else {
                body.join("\n")
            };
            blocks.push(Block {
                line: open + 1,
                script,
                marker,
            });
        }
        prev = None;
    }
    (blocks, problems)
}

fn next_is_shell_fence(lines: &[&str], from: usize) -> bool {
    lines[from.min(lines.len())..]
        .iter()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| {
            let t = l.trim_start();
            let lang = t.trim_start_matches(['`', '~']);
            (t.starts_with("```") || t.starts_with("~~~"))
                && SHELLS.contains(&lang.split_whitespace().next().unwrap_or(""))
        })
}

/// Runs every shell block of `md` (named `name` in messages) with `run`; returns the
/// failures, and prints what ran and what was skipped.
fn check_markdown(
    name: &str,
    md: &str,
    run: &mut dyn FnMut(&Block) -> Result<(), String>,
) -> Vec<String> {
    let (blocks, mut failures) = shell_blocks(md);
    failures.iter_mut().for_each(|f| *f = format!("{name} {f}"));
    let mut ran = 0;
    for b in &blocks {
        match &b.marker {
            Marker::Skip(reason) => {
                println!("{name}:{}: skipped ({reason})", b.line);
            }
            Marker::Bad(m) => failures.push(format!(
                "{name}:{}: malformed marker {m:?}: write <!-- doc-test: skip (REASON) -->",
                b.line
            )),
            Marker::None => {
                ran += 1;
                if let Err(e) = run(b) {
                    failures.push(format!("{name}:{}: the example failed:\n{e}", b.line));
                }
            }
        }
    }
    println!("{name}: {ran} of {} shell blocks ran", blocks.len());
    failures
}

// --- the world the examples run in ------------------------------------------------------

/// The loopback server with everything the examples fetch, and the keys that signed it.
struct World {
    server: TestServer,
    dir: tempfile::TempDir,
    ca: PathBuf,
    bin: PathBuf,
    publisher: TestKey,
    successor: TestKey,
    release: CliKeyPair,
    example_sha: String,
    example_sha512: String,
    asset_sha: String,
    /// The OpenPGP and SSH publishers' files.
    pgp: &'static Publishers,
}

fn script(what: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho \"{what} ran with arguments: $*\"\n").into_bytes()
}

fn write_private(path: &Path, data: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

impl World {
    fn new() -> Option<World> {
        minisign_or_skip("docs: the shell examples (they call minisign)")?;
        let pgp = publishers()?;
        let dir = tempfile::Builder::new()
            .prefix("verun-docs-")
            .tempdir()
            .unwrap();
        let server = TestServer::https();
        let ca = server.ca_pem_path().to_path_buf();
        let publisher = TestKey::generate();
        let successor = TestKey::generate();
        let keydir = dir.path().join("release-key");
        fs::create_dir(&keydir).unwrap();
        let release = cli_keygen(&keydir, "verun-release").expect("minisign -G");
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(verun_bin(), bin.join("verun")).unwrap();

        // The publisher's scripts, each with its signature.
        let example = script("example.com/install.sh");
        for path in [
            "/example.com/install.sh",
            "/example.com/releases/install.sh",
            "/example.com/tool/install.sh",
            "/example.com/other.sh",
        ] {
            let body = if path == "/example.com/install.sh" {
                example.clone()
            } else {
                script(&path[1..])
            };
            publish_signed(&server, &publisher, path, &body);
        }
        // A release binary with a signed SHA256SUMS and no signature of its own.
        let tool = script("tool");
        let sums = gnu_checksums(&[("tool-linux", &tool)]);
        server.route("/example.com/v1.2/tool-linux", Reply::bytes(&tool));
        server.route("/example.com/v1.2/SHA256SUMS", Reply::bytes(&sums));
        server.route(
            "/example.com/v1.2/SHA256SUMS.minisig",
            Reply::bytes(publisher.sign(sums.as_bytes(), "SHA256SUMS")),
        );

        let mut world = World {
            server,
            dir,
            ca,
            bin,
            publisher,
            successor,
            release,
            example_sha: sha256_hex(&example),
            example_sha512: sha512_hex(&example),
            asset_sha: String::new(),
            pgp,
        };
        world.publish_release();
        for (path, body) in &pgp.served {
            world.server.route(path.as_str(), Reply::bytes(body));
        }
        let keyrings = world.dir.path().join("keyrings");
        fs::create_dir(&keyrings).unwrap();
        fs::write(
            keyrings.join("debian-archive-keyring.gpg"),
            &pgp.debian_keyring,
        )
        .unwrap();
        Some(world)
    }

    /// A verun release as `install/release.sh` makes one, signed with the release key:
    /// the binary under test, a stamped `install.sh`, `SHA256SUMS`, and their signatures.
    fn publish_release(&mut self) {
        let out = self.dir.path().join("release");
        fs::create_dir(&out).unwrap();
        let binary = fs::read(verun_bin()).unwrap();
        self.asset_sha = sha256_hex(&binary);
        fs::write(out.join(ASSET), &binary).unwrap();
        let pubkey = self.release.public_key_base64();
        let template =
            fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("install/install.sh"))
                .unwrap();
        let mut stamped = 0;
        let installer: String = template
            .lines()
            .map(|l| {
                let indent = &l[..l.len() - l.trim_start().len()];
                let line = match l.trim() {
                    "release_version='@VERUN_VERSION@'" => {
                        format!("{indent}release_version='0.1.0'")
                    }
                    "release_pubkey='@VERUN_PUBKEY@'" => {
                        format!("{indent}release_pubkey='{pubkey}'")
                    }
                    "release_sums='@VERUN_SHA256SUMS@'" => {
                        format!("{indent}release_sums='{}  {ASSET}'", self.asset_sha)
                    }
                    _ => return format!("{}\n", self.rewrite_urls(l)),
                };
                stamped += 1;
                format!("{line}\n")
            })
            .collect();
        assert_eq!(stamped, 3, "install/install.sh's placeholders changed");
        fs::write(out.join("install.sh"), &installer).unwrap();
        let sums = gnu_checksums(&[(ASSET, &binary), ("install.sh", installer.as_bytes())]);
        fs::write(out.join("SHA256SUMS"), &sums).unwrap();
        for name in [ASSET, "install.sh", "SHA256SUMS"] {
            let file = out.join(name);
            let tc = format!("timestamp:{}\tfile:{name}", now_timestamp());
            let sig = cli_sign(&self.release, &file, false, Some(&tc)).expect("minisign -S");
            for (n, path) in [(name.to_string(), &file), (format!("{name}.minisig"), &sig)] {
                self.server.route(
                    format!("{RELEASE_DIR}/{n}"),
                    Reply::bytes(fs::read(path).unwrap()),
                );
            }
        }
    }

    fn rewrite_urls(&self, text: &str) -> String {
        let base = self.server.base_url();
        HOSTS.iter().fold(text.to_string(), |t, host| {
            t.replace(&format!("https://{host}/"), &format!("{base}/{host}/"))
        })
    }

    /// The block as it runs here (see the module documentation).
    fn rewrite(&self, script: &str, home: &Path) -> String {
        let release = self.release.public_key_base64();
        let publisher = self.publisher.public_key_base64();
        let s = self
            .rewrite_urls(script)
            .replace("/root/", &format!("{}/", home.display()))
            .replace(RELEASE_KEY, &release)
            .replace("4c0b...e1", &self.example_sha)
            .replace("9b71...0a", &self.example_sha512)
            .replace(&format!("<sha256 of {ASSET}>"), &self.asset_sha)
            .replace(CODECOV_FPR, &self.pgp.codecov_fpr)
            .replace(SSH_PLACEHOLDER, &self.pgp.ssh_blob)
            .replace(
                "/usr/share/keyrings/",
                &format!("{}/keyrings/", self.dir.path().display()),
            );
        replace_keys(&s, &release, &publisher)
    }

    /// A fresh sandbox: `home/` (empty, 0700), `work/` (a git checkout with the files the
    /// examples name).
    fn sandbox(&self) -> tempfile::TempDir {
        let sb = tempfile::Builder::new()
            .prefix("verun-docs-block-")
            .tempdir()
            .unwrap();
        let home = sb.path().join("home");
        let work = sb.path().join("work");
        fs::create_dir_all(home.join(".local/bin")).unwrap();
        fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
        fs::create_dir_all(work.join("keys")).unwrap();
        fs::create_dir(sb.path().join("tmp")).unwrap();
        // The release signing host: the current secret key where the docs keep it.
        let secret_dir = home.join(".verun-release");
        write_private(
            &secret_dir.join("verun-release.key"),
            &fs::read(&self.release.secret_key_path).unwrap(),
        );
        fs::set_permissions(&secret_dir, fs::Permissions::from_mode(0o700)).unwrap();
        // The checkout's keys/verun-release.pub is the (generated) release key.
        fs::write(
            work.join("keys/verun-release.pub"),
            self.release.public_key_file(),
        )
        .unwrap();
        // The publisher's files of the local examples.
        let put = |name: &str, data: &[u8]| fs::write(work.join(name), data).unwrap();
        put("example.pub", self.publisher.public_key_file().as_bytes());
        put("minisign.pub", self.publisher.public_key_file().as_bytes());
        let next = self.successor.public_key_file();
        put("example-2.pub", next.as_bytes());
        put(
            "example-2.pub.minisig",
            self.publisher
                .sign(next.as_bytes(), "example-2.pub")
                .as_bytes(),
        );
        let tarball = b"a release tarball";
        put("tool.tar.gz", tarball);
        put(
            "tool.tar.gz.minisig",
            self.publisher.sign(tarball, "tool.tar.gz").as_bytes(),
        );
        put(
            "SHA256SUMS.from-elsewhere",
            gnu_checksums(&[("tool.tar.gz", tarball)]).as_bytes(),
        );
        for (name, data) in &self.pgp.work_files {
            let path = work.join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, data).unwrap();
        }
        let git = |args: &[&str]| {
            let out = self
                .command("git", sb.path())
                .args(args)
                .output()
                .expect("git");
            assert!(out.status.success(), "git {args:?}: {out:?}");
        };
        git(&["init", "-q"]);
        git(&["add", "keys/verun-release.pub"]);
        git(&["commit", "-q", "-m", "keys: the release key"]);
        sb
    }

    /// `program` in sandbox `sb`'s environment (cwd `work/`).
    fn command(&self, program: &str, sb: &Path) -> Command {
        let home = sb.join("home");
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display()),
            )
            .env("HOME", &home)
            .env("TMPDIR", sb.join("tmp"))
            .env("SSL_CERT_FILE", &self.ca)
            .env("CURL_CA_BUNDLE", &self.ca)
            .env("CI", "true")
            .env("NO_COLOR", "1")
            .env("LANG", "C.UTF-8")
            .env("GIT_AUTHOR_NAME", "Doc Test")
            .env("GIT_AUTHOR_EMAIL", "docs@verun.invalid")
            .env("GIT_COMMITTER_NAME", "Doc Test")
            .env("GIT_COMMITTER_EMAIL", "docs@verun.invalid")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .current_dir(sb.join("work"))
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// Runs `block` in a fresh sandbox.
    fn run(&self, block: &Block) -> Result<(), String> {
        let sb = self.sandbox();
        let script = self.rewrite(&block.script, &sb.path().join("home"));
        let path = sb.path().join("block.sh");
        fs::write(&path, &script).unwrap();
        let mut cmd = self.command("bash", sb.path());
        cmd.args(["-e", "-o", "pipefail"]).arg(&path);
        let out = run_with_timeout(&mut cmd, BLOCK_TIMEOUT);
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{}\n--- as run ---\n{script}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                out.status,
                stdout(&out),
                stderr(&out)
            ))
        }
    }
}

/// Replaces every concrete minisign key in `s` (`RW` and 54 more base64 characters, other
/// than `release`) and the placeholders `RWQ...` and `RW...` with `publisher`.
fn replace_keys(s: &str, release: &str, publisher: &str) -> String {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    let s = s.replace("RWQ...", publisher).replace("RW...", publisher);
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find("RW") {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let len = from.chars().take_while(|&c| is_b64(c)).count();
        let boundary = !before.chars().last().is_some_and(is_b64);
        if boundary && len == 56 && &from[..56] != release && &from[..56] != publisher {
            out.push_str(publisher);
            rest = &from[56..];
        } else {
            out.push_str(&from[..2]);
            rest = &from[2..];
        }
    }
    out.push_str(rest);
    out
}

fn doc(name: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn check_doc(name: &str) {
    let Some(world) = World::new() else { return };
    let failures = check_markdown(name, &doc(name), &mut |b| world.run(b));
    assert!(
        failures.is_empty(),
        "{} problem(s) with the shell examples of {name}:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// --- the documents ----------------------------------------------------------------------

#[test]
fn readme_shell_examples_run() {
    check_doc("README.md");
}

#[test]
fn install_readme_shell_examples_run() {
    check_doc("install/README.md");
}

#[test]
fn keys_readme_shell_examples_run() {
    check_doc("keys/README.md");
}

/// Every skip in the three documents says why, and every document has blocks that run.
#[test]
fn every_skipped_example_says_why() {
    for name in DOCS {
        let (blocks, problems) = shell_blocks(&doc(name));
        assert!(problems.is_empty(), "{name}: {problems:?}");
        for b in &blocks {
            assert!(
                !matches!(b.marker, Marker::Bad(_)),
                "{name}:{}: {:?}",
                b.line,
                b.marker
            );
        }
        assert!(
            blocks.iter().any(|b| b.marker == Marker::None),
            "{name}: no shell example runs"
        );
    }
}

/// The procedure of keys/README.md's "Rotation" section, end to end: the maintainers'
/// block (new key, signed by the current one, moved into place in one commit) yields a
/// `keys/verun-release.pub` + `.minisig` that the users' `verun key rotate` accepts. (The
/// users' block itself rotates the compiled-in key, whose secret no test has; here the same
/// command runs against a store key holding the generated current key.)
#[test]
fn the_key_rotation_procedure_is_accepted_by_key_rotate() {
    let Some(world) = World::new() else { return };
    let md = doc("keys/README.md");
    let section = md
        .split("\n## Rotation")
        .nth(1)
        .expect("keys/README.md has a Rotation section");
    let (blocks, _) = shell_blocks(section);
    let maintainers = blocks
        .iter()
        .find(|b| b.script.contains("minisign -G"))
        .expect("the rotation's key generation block");
    let is_rotate = |l: &&str| l.trim_start().starts_with("verun key rotate ");
    let users = blocks
        .iter()
        .find(|b| b.script.lines().any(|l| is_rotate(&l)))
        .expect("the users' rotate block");
    let sb = world.sandbox();
    let home = sb.path().join("home");
    let run = |script: &str| {
        let path = sb.path().join("step.sh");
        fs::write(&path, world.rewrite(script, &home)).unwrap();
        let mut cmd = world.command("bash", sb.path());
        cmd.args(["-e", "-o", "pipefail"]).arg(&path);
        let out = run_with_timeout(&mut cmd, BLOCK_TIMEOUT);
        assert!(
            out.status.success(),
            "{script}\nstdout: {}\nstderr: {}",
            stdout(&out),
            stderr(&out)
        );
    };
    // A user who trusts the current (generated) release key under the name the docs use
    // for the built-in one.
    let rotate = users
        .script
        .lines()
        .find(is_rotate)
        .unwrap()
        .replace("verun-release ", "release-test ");
    run(&format!(
        "verun key add release-test --file keys/verun-release.pub --scope https://github.com/verun-dev/verun/releases/\n\
         cp keys/verun-release.pub old.pub\n\
         {}\n\
         cd keys\n\
         {rotate}\n\
         new_id=$(sed -n 's/^untrusted comment: minisign public key //p' verun-release.pub)\n\
         verun key show release-test | tee show.txt | grep -q \"$new_id\"\n",
        maintainers.script
    ));
}

// --- the harness itself -----------------------------------------------------------------

fn bash(b: &Block) -> Result<(), String> {
    let out = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", &b.script])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn an_unmarked_failing_example_fails_the_harness() {
    let md = "text\n\n```sh\ntrue\n```\n\n```bash\ntrue\nfalse\ntrue\n```\n";
    let failures = check_markdown("t.md", md, &mut bash);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].starts_with("t.md:7:"), "{failures:?}");
    // A pipeline fails when any part fails.
    assert_eq!(
        check_markdown("t.md", "```sh\nfalse | cat\n```\n", &mut bash).len(),
        1
    );
    // console: only `$ ` lines run.
    assert_eq!(
        check_markdown(
            "t.md",
            "```console\n$ true\nfalse-is-output\n```\n",
            &mut bash
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        check_markdown("t.md", "```console\n$ false\n```\n", &mut bash).len(),
        1
    );
}

#[test]
fn a_skip_marker_needs_a_reason_and_a_block() {
    let skip = "<!-- doc-test: skip (needs Docker) -->\n```sh\nexit 3\n```\n";
    assert_eq!(
        check_markdown("t.md", skip, &mut bash),
        Vec::<String>::new()
    );
    for bad in [
        "<!-- doc-test: skip -->\n```sh\ntrue\n```\n",
        "<!-- doc-test: skip () -->\n```sh\ntrue\n```\n",
        "<!-- doc-test: skip (  ) -->\n```sh\ntrue\n```\n",
        "<!-- doc-test: ignore (why) -->\n```sh\ntrue\n```\n",
        "<!-- doc-test: skip (no block follows) -->\n\ntext\n",
        "<!-- doc-test: skip (before yaml) -->\n```yaml\na: 1\n```\n",
    ] {
        assert!(
            !check_markdown("t.md", bad, &mut bash).is_empty(),
            "accepted: {bad:?}"
        );
    }
    // Not shell: not run.
    assert_eq!(
        check_markdown("t.md", "```yaml\nfalse\n```\n```\nfalse\n```\n", &mut bash),
        Vec::<String>::new()
    );
}

#[test]
fn placeholders_and_hosts_are_rewritten() {
    let rel = "RW".to_string() + &"R".repeat(54);
    let publ = "RW".to_string() + &"P".repeat(54);
    let other = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";
    let s = replace_keys(
        &format!("-k RW... --key RWQ... -P {rel} {other} xRW {other}x/"),
        &rel,
        &publ,
    );
    assert_eq!(
        s,
        format!("-k {publ} --key {publ} -P {rel} {publ} xRW {other}x/")
    );
}

/// Lower-case hex SHA-512 of `data` (for `--sha512` examples).
fn sha512_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha512::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
