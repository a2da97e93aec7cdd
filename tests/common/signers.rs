//! The publishers' own signing tools, driven as their users drive them: GnuPG (`gpg
//! --detach-sign`, `--clearsign`, keys made with `--quick-gen-key`) and OpenSSH's
//! `ssh-keygen -Y sign`. Keys are generated at run time in a private home and never leave
//! it; nothing here is committed. Used by `tests/openpgp_cli.rs`, `tests/ssh_cli.rs` and
//! `examples/publishers.rs`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether `program --version` (or `-V` style probe `args`) runs here.
pub fn tool_available(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A GnuPG home of its own (`--homedir`), with the publishers' keys made in it.
pub struct Gpg {
    home: PathBuf,
}

impl Gpg {
    /// A fresh GnuPG home at `home`: an agent a previous run left there is stopped and the
    /// directory recreated (0700). `None` when `gpg` is not installed.
    pub fn fresh(home: &Path) -> Option<Gpg> {
        if !tool_available("gpg", &["--version"]) {
            return None;
        }
        let g = Gpg {
            home: home.to_path_buf(),
        };
        if home.exists() {
            g.stop_agent();
            let _ = fs::remove_dir_all(home);
        }
        fs::create_dir_all(home).expect("create the GnuPG home");
        fs::set_permissions(home, fs::Permissions::from_mode(0o700)).expect("chmod GnuPG home");
        Some(g)
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Stops the gpg-agent this home started (it outlives the gpg calls).
    pub fn stop_agent(&self) {
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&self.home)
            .args(["--kill", "gpg-agent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// `gpg ARGS` in this home, in batch mode with an empty passphrase, as if the clock
    /// read `at` (Unix seconds; `--faked-system-time`) when given; `stdin` fed in. Panics
    /// with gpg's stderr when it fails; returns its stdout.
    pub fn run(&self, at: Option<u64>, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let mut cmd = Command::new("gpg");
        cmd.arg("--homedir")
            .arg(&self.home)
            .args([
                "--batch",
                "--quiet",
                "--no-tty",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .env_remove("GNUPGHOME");
        if let Some(t) = at {
            cmd.arg("--faked-system-time").arg(format!("{t}!"));
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gpg");
        let mut input = child.stdin.take().expect("gpg stdin");
        let data = stdin.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let out = child.wait_with_output().expect("wait for gpg");
        let _ = feeder.join();
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// The fingerprints `gpg --list-keys KEY` prints: the primary's first, then each
    /// subkey's, in order.
    pub fn fingerprints(&self, key: &str) -> Vec<String> {
        let out = self.run(None, &["--with-colons", "--list-keys", key], b"");
        String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|l| l.strip_prefix("fpr:::::::::"))
            .map(|f| f.trim_end_matches(':').to_string())
            .collect()
    }

    /// `gpg --quick-gen-key UID ALGO USAGE never` at `at`: a primary key with `usage`
    /// (`sign` = [SC], `cert` = [C] only) and no subkey. Returns its fingerprint.
    pub fn generate(&self, uid: &str, algo: &str, usage: &str, at: Option<u64>) -> String {
        self.run(at, &["--quick-gen-key", uid, algo, usage, "never"], b"");
        self.fingerprints(&format!("={uid}"))
            .into_iter()
            .next()
            .expect("the new key's fingerprint")
    }

    /// `gpg --quick-add-key FPR ALGO USAGE never` at `at`; returns the subkey's fingerprint.
    pub fn add_subkey(&self, fpr: &str, algo: &str, usage: &str, at: Option<u64>) -> String {
        self.run(at, &["--quick-add-key", fpr, algo, usage, "never"], b"");
        self.fingerprints(fpr).pop().expect("the new subkey")
    }

    /// `gpg --export [--armor] FPR...`: a certificate, or a keyring of several.
    pub fn export(&self, fprs: &[&str], armor: bool) -> Vec<u8> {
        let mut args = vec!["--export"];
        if armor {
            args.push("--armor");
        }
        args.extend_from_slice(fprs);
        self.run(None, &args, b"")
    }

    /// `gpg --local-user KEY! --detach-sign [--armor]` of `data` at `at`; `key` is the
    /// fingerprint of the primary or of a signing subkey.
    pub fn detach_sign(&self, key: &str, data: &[u8], armor: bool, at: Option<u64>) -> Vec<u8> {
        let user = format!("{key}!");
        let mut args = vec!["--local-user", &user, "--detach-sign", "--output", "-"];
        if armor {
            args.push("--armor");
        }
        self.run(at, &args, data)
    }

    /// `gpg --local-user KEY! --clearsign` of `text` at `at`.
    pub fn clearsign(&self, key: &str, text: &[u8], at: Option<u64>) -> Vec<u8> {
        let user = format!("{key}!");
        self.run(
            at,
            &["--local-user", &user, "--clearsign", "--output", "-"],
            text,
        )
    }
}

/// An SSH key pair made with `ssh-keygen -t TYPE -N ''` in a directory of its own.
pub struct SshKeyPair {
    /// The private key file (`ssh-keygen -f`).
    pub private: PathBuf,
    /// The public key line, `ssh-ed25519 AAAA... COMMENT`.
    pub public: String,
}

/// Whether `ssh-keygen` is installed.
pub fn ssh_keygen_available() -> bool {
    Command::new("ssh-keygen")
        .arg("-?")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

impl SshKeyPair {
    /// `ssh-keygen -t KIND -N '' -C COMMENT -f DIR/NAME`.
    pub fn generate(dir: &Path, name: &str, kind: &str, comment: &str) -> SshKeyPair {
        fs::create_dir_all(dir).expect("key directory");
        let private = dir.join(name);
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-C", comment, "-f"])
            .arg(&private)
            .stdin(Stdio::null())
            .output()
            .expect("run ssh-keygen");
        assert!(
            out.status.success(),
            "ssh-keygen -t {kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let public = fs::read_to_string(format!("{}.pub", private.display()))
            .expect("the public key file")
            .trim()
            .to_string();
        SshKeyPair { private, public }
    }

    /// `ssh-keygen -Y sign -f KEY -n NAMESPACE` of `data`: the armored SSHSIG.
    pub fn sign(&self, namespace: &str, data: &[u8]) -> Vec<u8> {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("data");
        fs::write(&file, data).expect("write the data to sign");
        let out = Command::new("ssh-keygen")
            .args(["-q", "-Y", "sign", "-f"])
            .arg(&self.private)
            .args(["-n", namespace])
            .arg(&file)
            .stdin(Stdio::null())
            .output()
            .expect("run ssh-keygen -Y sign");
        assert!(
            out.status.success(),
            "ssh-keygen -Y sign: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::read(dir.path().join("data.sig")).expect("the .sig ssh-keygen wrote")
    }
}
