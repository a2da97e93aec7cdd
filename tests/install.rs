//! verun's own release and bootstrap path, end to end.
//!
//! `install/release.sh` builds the static, signed release with a throwaway key made at test
//! time; a loopback HTTP server publishes it; the stamped `install.sh` must install the
//! untouched release and refuse every tampered one, leaving nothing behind (no binary, no
//! temporary file, an existing verun untouched).
//!
//! The release has two binaries, x86_64 and aarch64 (both static musl); the installer picks
//! one by `uname -m`, which the aarch64 tests fake (a `uname` first on PATH), and the
//! installed aarch64 binary is run under `qemu-aarch64` when it is installed.
//!
//! Needs `minisign`, the `x86_64-unknown-linux-musl` and `aarch64-unknown-linux-musl` Rust
//! targets, `musl-gcc`, `aarch64-linux-gnu-gcc`, `sh`, `curl` and `sha256sum`; `.ci/run`
//! installs them. Where one is missing the tests say so loudly and
//! pass without running, unless `VERUN_REQUIRE_RELEASE_TEST=1`, which turns that into a
//! failure. The release build uses its own target dir (`target/release-test`), reused across
//! runs, so it neither waits for nor invalidates the ordinary builds.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

const TARGET: &str = "x86_64-unknown-linux-musl";
const ASSET: &str = "verun-x86_64-unknown-linux-musl";
const ARM_TARGET: &str = "aarch64-unknown-linux-musl";
const ARM_ASSET: &str = "verun-aarch64-unknown-linux-musl";
const SOURCE_DATE_EPOCH: &str = "1700000000";
/// 4 MiB: the budget since Sigstore verification (issue 15), as install/release.sh.
const MAX_SIZE: u64 = 4 * 1024 * 1024;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/release-test`: the parent of cargo's per-test tmp dir is the target dir in use.
fn release_target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR has a parent")
        .join("release-test")
}

// ---------------------------------------------------------------------------------------
// Small helpers: temp dirs, PATH lookup, prerequisites
// ---------------------------------------------------------------------------------------

/// A private directory under the system temp dir (never inside the repository, so a secret
/// key kept here is one `release.sh` accepts), removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "verun-install-test-{tag}-{}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).expect("create temp dir");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
        TempDir(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| {
            p.is_file()
                && fs::metadata(p)
                    .map(|m| m.permissions().mode() & 0o111 != 0)
                    .unwrap_or(false)
        })
}

fn musl_target_installed(target: &str) -> bool {
    let Ok(out) = Command::new("rustc").args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&sysroot)
        .join("lib/rustlib")
        .join(target)
        .join("lib")
        .is_dir()
}

fn missing_prerequisites(needs_release: bool) -> Vec<String> {
    let mut missing = Vec::new();
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        missing.push("an x86_64 Linux host (the release is x86_64-unknown-linux-musl)".into());
    }
    for tool in ["sh", "minisign", "sha256sum"] {
        if which(tool).is_none() {
            missing.push(format!("`{tool}`"));
        }
    }
    if which("curl").is_none() && which("wget").is_none() {
        missing.push("`curl` or `wget`".into());
    }
    if needs_release {
        for target in [TARGET, ARM_TARGET] {
            if !musl_target_installed(target) {
                missing.push(format!(
                    "the Rust target {target} (rustup target add {target})"
                ));
            }
        }
        if which("musl-gcc").is_none() {
            missing.push("`musl-gcc` (apt-get install musl-tools)".into());
        }
        if which("aarch64-linux-gnu-gcc").is_none() {
            missing.push("`aarch64-linux-gnu-gcc` (apt-get install gcc-aarch64-linux-gnu)".into());
        }
    }
    missing
}

/// True when the test must not run here; says so loudly (or fails when required).
fn skip(test: &str, needs_release: bool) -> bool {
    let missing = missing_prerequisites(needs_release);
    if missing.is_empty() {
        return false;
    }
    let msg = format!("{test}: missing {}", missing.join(", "));
    if std::env::var_os("VERUN_REQUIRE_RELEASE_TEST").is_some_and(|v| v == "1") {
        panic!("VERUN_REQUIRE_RELEASE_TEST=1 but {msg}");
    }
    loud(&format!(
        "\n!!!!!!!! SKIPPED {msg}\n!!!!!!!! (.ci/run installs these; this test did NOT run)\n"
    ));
    true
}

/// Straight to the process's stderr: the test harness captures `eprintln!` of passing tests,
/// and a skip must be seen.
fn loud(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

fn entries(dir: &Path) -> BTreeSet<String> {
    match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

fn flip_byte(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

fn minisign_keypair(dir: &Path, name: &str) -> (PathBuf, String) {
    let (pub_path, key_path) = (
        dir.join(format!("{name}.pub")),
        dir.join(format!("{name}.key")),
    );
    let out = Command::new("minisign")
        .arg("-G")
        .arg("-W")
        .arg("-p")
        .arg(&pub_path)
        .arg("-s")
        .arg(&key_path)
        .stdin(Stdio::null())
        .output()
        .expect("run minisign -G");
    assert!(
        out.status.success(),
        "minisign -G failed\n{}",
        describe(&out)
    );
    let pubkey = fs::read_to_string(&pub_path)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    (key_path, pubkey)
}

fn minisign_sign(key: &Path, file: &Path, sig: &Path, trusted_comment: &str) {
    let out = Command::new("minisign")
        .arg("-S")
        .arg("-s")
        .arg(key)
        .arg("-m")
        .arg(file)
        .arg("-x")
        .arg(sig)
        .arg("-t")
        .arg(trusted_comment)
        .stdin(Stdio::null())
        .output()
        .expect("run minisign -S");
    assert!(
        out.status.success(),
        "minisign -S failed\n{}",
        describe(&out)
    );
}

// ---------------------------------------------------------------------------------------
// The release, built once per test run and shared by the tests below
// ---------------------------------------------------------------------------------------

struct Release {
    /// OUTDIR as written by release.sh; tests copy it before changing anything.
    out: PathBuf,
    pubkey: String,
    /// The secret key file's content, to prove it appears nowhere in the output.
    secret: Vec<u8>,
    /// A signature of the untouched binary by another key (`file:` right, key wrong).
    sig_other_key: Vec<u8>,
    /// A signature of the untouched binary by the release key, for another file name.
    sig_other_file: Vec<u8>,
}

fn build_release() -> Result<Release, String> {
    let base = release_target_dir();
    let outputs = base.join("install-test-out");
    let _ = fs::remove_dir_all(&outputs);
    fs::create_dir_all(&outputs).map_err(|e| e.to_string())?;
    let out = outputs.join(format!("out-{}", std::process::id()));

    // The throwaway key lives outside the repository and is deleted when this returns.
    let keys = TempDir::new("keys");
    let (key, pubkey) = minisign_keypair(keys.path(), "release");
    let secret = fs::read(&key).map_err(|e| e.to_string())?;

    let started = std::time::Instant::now();
    let result = Command::new("bash")
        .arg(repo().join("install/release.sh"))
        .arg(&out)
        .env("VERUN_RELEASE_KEY", &key)
        .env("VERUN_RELEASE_UNOFFICIAL_KEY", "1")
        .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
        .env("CARGO_TARGET_DIR", &base)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run install/release.sh: {e}"))?;
    if !result.status.success() {
        return Err(format!("install/release.sh failed\n{}", describe(&result)));
    }
    eprintln!(
        "install/release.sh built the test release in {:.0?}; binaries: {ASSET} {} bytes, {ARM_ASSET} {} bytes",
        started.elapsed(),
        fs::metadata(out.join(ASSET)).map(|m| m.len()).unwrap_or(0),
        fs::metadata(out.join(ARM_ASSET))
            .map(|m| m.len())
            .unwrap_or(0)
    );

    // Signatures an attacker could produce (or misuse), made now while the key exists.
    let (other_key, _) = minisign_keypair(keys.path(), "attacker");
    let sig = keys.join("sig");
    minisign_sign(
        &other_key,
        &out.join(ASSET),
        &sig,
        &format!("timestamp:{SOURCE_DATE_EPOCH}\tfile:{ASSET}"),
    );
    let sig_other_key = fs::read(&sig).unwrap();
    minisign_sign(
        &key,
        &out.join(ASSET),
        &sig,
        &format!("timestamp:{SOURCE_DATE_EPOCH}\tfile:install.sh"),
    );
    let sig_other_file = fs::read(&sig).unwrap();

    Ok(Release {
        out,
        pubkey,
        secret,
        sig_other_key,
        sig_other_file,
    })
}

fn release() -> &'static Release {
    static RELEASE: OnceLock<Result<Release, String>> = OnceLock::new();
    match RELEASE.get_or_init(build_release) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    }
}

// ---------------------------------------------------------------------------------------
// A loopback HTTP server (127.0.0.1 only) serving one directory, with a request log
// ---------------------------------------------------------------------------------------

struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn serve(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (root, stop2, requests2) = (root.to_path_buf(), stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = respond(stream, &root, &requests2);
                }
            }
        });
        Server {
            addr,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn respond(stream: TcpStream, root: &Path, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    log.lock().unwrap().push(path.clone());
    let name = path.trim_start_matches('/');
    let body = if name.is_empty() || name.contains('/') || name.contains("..") {
        None
    } else {
        fs::read(root.join(name)).ok()
    };
    let mut stream = stream;
    match body {
        Some(body) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)?;
        }
        None => write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?,
    }
    stream.flush()
}

// ---------------------------------------------------------------------------------------
// One installer run in its own sandbox
// ---------------------------------------------------------------------------------------

/// A copy of the release to serve (and tamper with), an install dir, a TMPDIR and a HOME.
struct Case {
    dir: TempDir,
    server: Server,
}

impl Case {
    fn new(tag: &str, release: &Release) -> Case {
        let dir = TempDir::new(tag);
        for sub in ["served", "tmp", "home"] {
            fs::create_dir(dir.join(sub)).unwrap();
        }
        for entry in fs::read_dir(&release.out).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), dir.join("served").join(entry.file_name())).unwrap();
        }
        let server = Server::serve(&dir.join("served"));
        Case { dir, server }
    }

    fn served(&self, name: &str) -> PathBuf {
        self.dir.join("served").join(name)
    }

    fn install_dir(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// Runs the stamped install.sh (the copy being served) with `path` as PATH if given.
    fn install(&self, path: Option<&Path>, extra_env: &[(&str, &str)]) -> Output {
        run_installer(
            &self.served("install.sh"),
            &self.server.url(),
            self.dir.path(),
            path,
            extra_env,
        )
    }

    fn assert_clean_tmp(&self) {
        let left = entries(&self.dir.join("tmp"));
        assert!(
            left.is_empty(),
            "install.sh left temporary files behind: {left:?}"
        );
    }
}

fn run_installer(
    script: &Path,
    base_url: &str,
    sandbox: &Path,
    path: Option<&Path>,
    extra_env: &[(&str, &str)],
) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg(script)
        .env("VERUN_INSTALL_BASE_URL", base_url)
        .env("VERUN_INSTALL_ALLOW_HTTP", "1")
        .env("VERUN_INSTALL_DIR", sandbox.join("bin"))
        .env("TMPDIR", sandbox.join("tmp"))
        .env("HOME", sandbox.join("home"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null());
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
        "CURL_HOME",
        "WGETRC",
    ] {
        cmd.env_remove(var);
    }
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().expect("run sh install.sh")
}

/// A directory of symlinks to everything on PATH except `hidden`, plus `extra` (name, file):
/// a PATH on which, say, minisign does not exist.
fn path_without(dir: &Path, hidden: &[&str], extra: &[(&str, &Path)]) -> PathBuf {
    let bin = dir.join("fakepath");
    fs::create_dir(&bin).unwrap();
    for (name, target) in extra {
        symlink(target, bin.join(name)).unwrap();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for d in std::env::split_paths(&path) {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for entry in rd.flatten() {
            let name = entry.file_name();
            let name_str = name.to_string_lossy();
            if hidden.contains(&name_str.as_ref())
                || bin.join(&name).exists()
                || fs::symlink_metadata(bin.join(&name)).is_ok()
            {
                continue;
            }
            let _ = symlink(entry.path(), bin.join(&name));
        }
    }
    bin
}

fn assert_refused(out: &Output, code: i32, needle: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\n{}",
        describe(out)
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(needle),
        "stderr should mention {needle:?}\n{}",
        describe(out)
    );
    assert!(
        stderr.contains("hint:"),
        "a refusal should carry a hint\n{}",
        describe(out)
    );
}

fn assert_installed(case: &Case, release: &Release, out: &Output) {
    assert_installed_asset(case, release, out, ASSET);
}

/// `qemu-aarch64`, to run the aarch64 binary on another host (None on an aarch64 host).
fn arm_runner() -> Option<Option<PathBuf>> {
    if cfg!(target_arch = "aarch64") {
        Some(None)
    } else {
        which("qemu-aarch64").map(Some)
    }
}

fn assert_installed_asset(case: &Case, release: &Release, out: &Output, asset: &str) {
    assert!(out.status.success(), "install.sh failed\n{}", describe(out));
    let dest = case.install_dir().join("verun");
    assert_eq!(
        entries(&case.install_dir()),
        BTreeSet::from(["verun".to_string()]),
        "only verun is installed"
    );
    assert_eq!(
        fs::read(&dest).unwrap(),
        fs::read(release.out.join(asset)).unwrap(),
        "installed bytes = release bytes of {asset}"
    );
    assert_eq!(
        fs::metadata(&dest).unwrap().permissions().mode() & 0o7777,
        0o755
    );
    let mut run = if asset == ARM_ASSET {
        match arm_runner() {
            Some(Some(qemu)) => {
                let mut c = Command::new(qemu);
                c.arg(&dest);
                c
            }
            Some(None) => Command::new(&dest),
            None => {
                loud(
                    "note: qemu-aarch64 is not installed: the installed aarch64 verun was not run",
                );
                case.assert_clean_tmp();
                return;
            }
        }
    } else {
        Command::new(&dest)
    };
    let version = run.arg("--version").output().expect("run installed verun");
    assert!(
        version.status.success(),
        "installed verun --version failed\n{}",
        describe(&version)
    );
    assert!(
        text(&version.stdout).contains(env!("CARGO_PKG_VERSION")),
        "--version names {}\n{}",
        env!("CARGO_PKG_VERSION"),
        describe(&version)
    );
    case.assert_clean_tmp();
}

/// After a refusal: no verun in an empty install dir (nor the dir itself), no temp files.
fn assert_nothing_installed(case: &Case) {
    let left = entries(&case.install_dir());
    assert!(
        left.is_empty(),
        "a refused install left files in the install dir: {left:?}"
    );
    case.assert_clean_tmp();
}

// ---------------------------------------------------------------------------------------
// release.sh
// ---------------------------------------------------------------------------------------

#[test]
fn release_outputs_are_static_small_summed_and_signed() {
    if skip("release_outputs_are_static_small_summed_and_signed", true) {
        return;
    }
    let rel = release();
    let names = entries(&rel.out);
    let expected: BTreeSet<String> = [ASSET, ARM_ASSET, "install.sh", "SHA256SUMS"]
        .iter()
        .flat_map(|n| [n.to_string(), format!("{n}.minisig")])
        .collect();
    assert_eq!(
        names, expected,
        "exactly the release files, nothing else (no key, no build leftovers)"
    );

    for (asset, machine) in [(ASSET, "x86-64"), (ARM_ASSET, "ARM aarch64")] {
        let bin = rel.out.join(asset);
        let size = fs::metadata(&bin).unwrap().len();
        loud(&format!(
            "release binary {asset}: {size} bytes (budget {MAX_SIZE})"
        ));
        assert!(size <= MAX_SIZE, "{asset} is {size} bytes, over 4 MiB");
        if which("file").is_some() {
            let info = text(
                &Command::new("file")
                    .arg("-b")
                    .arg(&bin)
                    .output()
                    .unwrap()
                    .stdout,
            );
            assert!(
                !info.contains("dynamically linked"),
                "binary is dynamic: {info}"
            );
            assert!(
                info.contains("statically linked") || info.contains("static-pie linked"),
                "not static: {info}"
            );
            assert!(info.contains(machine), "{asset} is not {machine}: {info}");
        }
    }

    // SHA256SUMS: GNU format, covers the binary and install.sh, and is right.
    let sums = fs::read_to_string(rel.out.join("SHA256SUMS")).unwrap();
    let listed: BTreeSet<&str> = sums
        .lines()
        .map(|l| {
            let (hex, name) = l
                .split_once("  ")
                .expect("GNU format: HEX, two spaces, NAME");
            assert!(
                hex.len() == 64
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            name
        })
        .collect();
    assert_eq!(listed, BTreeSet::from([ASSET, ARM_ASSET, "install.sh"]));
    let check = Command::new("sha256sum")
        .args(["--quiet", "-c", "SHA256SUMS"])
        .current_dir(&rel.out)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "sha256sum -c SHA256SUMS\n{}",
        describe(&check)
    );

    // Every file is signed, prehashed (-H), by the release key, for its own name and time.
    for name in [ASSET, ARM_ASSET, "install.sh", "SHA256SUMS"] {
        let v = Command::new("minisign")
            .args(["-V", "-H", "-Q", "-P", &rel.pubkey, "-m"])
            .arg(rel.out.join(name))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(v.status.success(), "minisign -V {name}\n{}", describe(&v));
        assert_eq!(
            text(&v.stdout).trim_end(),
            format!(
                "timestamp:{SOURCE_DATE_EPOCH}\tfile:{name}\tversion:{}",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    // install.sh is stamped: the key and the binary's sum are in, no placeholder is left.
    let script = fs::read_to_string(rel.out.join("install.sh")).unwrap();
    let bin_line = |asset: &str| {
        sums.lines()
            .find(|l| l.ends_with(&format!("  {asset}")))
            .unwrap()
            .to_string()
    };
    assert!(script.contains(&format!("release_pubkey='{}'", rel.pubkey)));
    assert!(script.contains(&format!(
        "release_sums='{}\n{}'",
        bin_line(ASSET),
        bin_line(ARM_ASSET)
    )));
    assert!(script.contains(&format!("release_version='{}'", env!("CARGO_PKG_VERSION"))));
    for placeholder in [
        "'@VERUN_VERSION@'",
        "'@VERUN_PUBKEY@'",
        "'@VERUN_SHA256SUMS@'",
    ] {
        assert!(
            !script.contains(placeholder),
            "{placeholder} left in the stamped install.sh"
        );
    }
    if which("shellcheck").is_some() {
        let sc = Command::new("shellcheck")
            .args(["-s", "sh"])
            .arg(rel.out.join("install.sh"))
            .output()
            .unwrap();
        assert!(
            sc.status.success(),
            "shellcheck of the stamped install.sh\n{}",
            describe(&sc)
        );
    }

    // The secret key is nowhere in the output.
    let secret_line = text(&rel.secret).lines().nth(1).unwrap().to_string();
    for name in &names {
        let content = text(&fs::read(rel.out.join(name)).unwrap());
        assert!(
            !content.contains(&secret_line),
            "{name} contains the secret key"
        );
    }
}

/// Runs release.sh where it must refuse before building anything.
fn release_sh(out: &Path, key: Option<&Path>) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("install/release.sh"))
        .arg(out)
        .env_remove("VERUN_RELEASE_UNOFFICIAL_KEY")
        .stdin(Stdio::null());
    match key {
        Some(k) => cmd.env("VERUN_RELEASE_KEY", k),
        None => cmd.env_remove("VERUN_RELEASE_KEY"),
    };
    cmd.output().expect("run release.sh")
}

#[test]
fn release_refuses_without_a_key() {
    let dir = TempDir::new("nokey");
    let out = release_sh(&dir.join("out"), None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("VERUN_RELEASE_KEY is not set"),
        "{}",
        describe(&out)
    );
    assert!(entries(&dir.join("out")).is_empty());
}

#[test]
fn release_refuses_a_key_inside_the_repository() {
    // Any file will do: the location is checked before the key is read.
    // Under the checkout's own (git-ignored) target/, whatever CARGO_TARGET_DIR says.
    let inside = repo()
        .join("target")
        .join(format!("install-test-key-check-{}", std::process::id()));
    fs::create_dir_all(&inside).unwrap();
    let key = inside.join("fake.key");
    fs::write(&key, "not a key\n").unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let dir = TempDir::new("keyinrepo");
    let out = release_sh(&dir.join("out"), Some(&key));
    let _ = fs::remove_dir_all(&inside);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("inside the repository"),
        "{}",
        describe(&out)
    );
    assert!(
        !dir.join("out").exists(),
        "nothing is created when refusing"
    );
}

#[test]
fn release_refuses_a_key_inside_outdir() {
    let dir = TempDir::new("keyinout");
    fs::create_dir(dir.join("out")).unwrap();
    let key = dir.join("out/fake.key");
    fs::write(&key, "not a key\n").unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let out = release_sh(&dir.join("out"), Some(&key));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("inside OUTDIR"),
        "{}",
        describe(&out)
    );
}

#[test]
fn release_refuses_a_non_empty_outdir_and_a_readable_key() {
    let dir = TempDir::new("outdirs");
    let key = dir.join("fake.key");
    fs::write(&key, "not a key\n").unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    fs::create_dir(dir.join("out")).unwrap();
    fs::write(dir.join("out/stale.minisig"), "old").unwrap();
    let out = release_sh(&dir.join("out"), Some(&key));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("OUTDIR is not empty"),
        "{}",
        describe(&out)
    );

    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let out = release_sh(&dir.join("fresh"), Some(&key));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("readable by others"),
        "{}",
        describe(&out)
    );
}

#[test]
fn release_refuses_a_key_that_is_not_the_official_one() {
    if skip("release_refuses_a_key_that_is_not_the_official_one", true) {
        return;
    }
    let dir = TempDir::new("unofficial");
    let (key, _) = minisign_keypair(dir.path(), "other");
    let out = release_sh(&dir.join("out"), Some(&key));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not the secret half of keys/verun-release.pub"),
        "{}",
        describe(&out)
    );
    assert!(entries(&dir.join("out")).is_empty(), "nothing written");
}

// ---------------------------------------------------------------------------------------
// install.sh
// ---------------------------------------------------------------------------------------

#[test]
fn installer_installs_the_untouched_release() {
    if skip("installer_installs_the_untouched_release", true) {
        return;
    }
    let rel = release();
    let case = Case::new("untouched", rel);
    let out = case.install(None, &[]);
    assert_installed(&case, rel, &out);
    assert!(
        text(&out.stderr).contains("signature verified with minisign"),
        "{}",
        describe(&out)
    );
    let requests = case.server.requests();
    assert!(
        requests.contains(&format!("/{ASSET}")) && requests.contains(&format!("/{ASSET}.minisig")),
        "{requests:?}"
    );
}

#[test]
fn installer_replaces_an_existing_verun_only_with_a_verified_one() {
    if skip(
        "installer_replaces_an_existing_verun_only_with_a_verified_one",
        true,
    ) {
        return;
    }
    let rel = release();
    let case = Case::new("replace", rel);
    fs::create_dir(case.install_dir()).unwrap();
    let dest = case.install_dir().join("verun");
    fs::write(&dest, "#!/bin/sh\necho old verun\n").unwrap();
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).unwrap();

    flip_byte(&case.served(ASSET));
    let out = case.install(None, &[]);
    assert_refused(&out, 77, "checksum mismatch");
    assert_eq!(
        fs::read_to_string(&dest).unwrap(),
        "#!/bin/sh\necho old verun\n",
        "previous verun untouched"
    );
    assert_eq!(
        entries(&case.install_dir()),
        BTreeSet::from(["verun".to_string()]),
        "no temp file left"
    );
    case.assert_clean_tmp();

    fs::copy(rel.out.join(ASSET), case.served(ASSET)).unwrap();
    let out = case.install(None, &[]);
    assert_installed(&case, rel, &out);
}

#[test]
fn installer_refuses_a_tampered_binary() {
    if skip("installer_refuses_a_tampered_binary", true) {
        return;
    }
    let case = Case::new("tampered", release());
    flip_byte(&case.served(ASSET));
    let out = case.install(None, &[]);
    assert_refused(&out, 77, "checksum mismatch");
    assert_nothing_installed(&case);
}

#[test]
fn installer_refuses_a_truncated_binary() {
    if skip("installer_refuses_a_truncated_binary", true) {
        return;
    }
    let case = Case::new("truncated", release());
    let bytes = fs::read(case.served(ASSET)).unwrap();
    fs::write(case.served(ASSET), &bytes[..bytes.len() / 2]).unwrap();
    let out = case.install(None, &[]);
    assert_refused(&out, 77, "checksum mismatch");
    assert_nothing_installed(&case);
}

#[test]
fn installer_refuses_a_signature_by_another_key_even_when_the_sum_matches() {
    if skip(
        "installer_refuses_a_signature_by_another_key_even_when_the_sum_matches",
        true,
    ) {
        return;
    }
    let rel = release();
    let case = Case::new("otherkey", rel);
    fs::write(case.served(&format!("{ASSET}.minisig")), &rel.sig_other_key).unwrap();
    let out = case.install(None, &[]);
    assert_refused(&out, 77, "bad signature");
    assert_nothing_installed(&case);
}

#[test]
fn installer_refuses_a_corrupted_signature_even_when_the_sum_matches() {
    if skip(
        "installer_refuses_a_corrupted_signature_even_when_the_sum_matches",
        true,
    ) {
        return;
    }
    let case = Case::new("badsig", release());
    let sig_path = case.served(&format!("{ASSET}.minisig"));
    let sig = fs::read_to_string(&sig_path).unwrap();
    let mut lines: Vec<String> = sig.lines().map(str::to_string).collect();
    // Line 2 is the signature itself (base64); change one character in its middle.
    let mid = lines[1].len() / 2;
    let c = lines[1].as_bytes()[mid];
    let swapped = if c == b'A' { 'B' } else { 'A' };
    lines[1].replace_range(mid..=mid, &swapped.to_string());
    fs::write(&sig_path, lines.join("\n") + "\n").unwrap();
    let out = case.install(None, &[]);
    assert_refused(&out, 77, "bad signature");
    assert_nothing_installed(&case);
}

#[test]
fn installer_refuses_a_release_signature_made_for_another_file() {
    if skip(
        "installer_refuses_a_release_signature_made_for_another_file",
        true,
    ) {
        return;
    }
    let rel = release();
    let case = Case::new("otherfile", rel);
    fs::write(
        case.served(&format!("{ASSET}.minisig")),
        &rel.sig_other_file,
    )
    .unwrap();
    let out = case.install(None, &[]);
    assert_refused(&out, 77, "made for another file");
    assert_nothing_installed(&case);
}

#[test]
fn installer_refuses_a_missing_signature_when_minisign_is_present() {
    if skip(
        "installer_refuses_a_missing_signature_when_minisign_is_present",
        true,
    ) {
        return;
    }
    let case = Case::new("nosig", release());
    fs::remove_file(case.served(&format!("{ASSET}.minisig"))).unwrap();
    let out = case.install(None, &[]);
    assert_refused(&out, 77, "signature missing");
    assert_nothing_installed(&case);
}

#[test]
fn installer_without_minisign_relies_on_the_stamped_sum() {
    if skip("installer_without_minisign_relies_on_the_stamped_sum", true) {
        return;
    }
    let rel = release();
    let case = Case::new("nominisign", rel);
    let path = path_without(case.dir.path(), &["minisign", "verun"], &[]);

    // No verifier for signatures: a bad one cannot be detected, the stamped sum still holds.
    fs::write(case.served(&format!("{ASSET}.minisig")), &rel.sig_other_key).unwrap();
    flip_byte(&case.served(ASSET));
    let out = case.install(Some(&path), &[]);
    assert_refused(&out, 77, "checksum mismatch");
    assert_nothing_installed(&case);

    fs::copy(rel.out.join(ASSET), case.served(ASSET)).unwrap();
    let out = case.install(Some(&path), &[]);
    assert_installed(&case, rel, &out);
    assert!(
        text(&out.stderr).contains("minisign not found"),
        "says what it could not check\n{}",
        describe(&out)
    );
}

#[test]
fn installer_checks_the_signature_with_an_installed_verun_when_minisign_is_absent() {
    if skip(
        "installer_checks_the_signature_with_an_installed_verun_when_minisign_is_absent",
        true,
    ) {
        return;
    }
    let rel = release();
    let case = Case::new("withverun", rel);
    let verun = rel.out.join(ASSET);
    let path = path_without(
        case.dir.path(),
        &["minisign", "verun"],
        &[("verun", &verun)],
    );
    // verun keeps rollback state under VERUN_HOME: keep it inside the sandbox.
    let home = case.dir.join("verun-home");
    let env = [("VERUN_HOME", home.to_str().unwrap())];

    fs::write(case.served(&format!("{ASSET}.minisig")), &rel.sig_other_key).unwrap();
    let out = case.install(Some(&path), &env);
    assert_refused(&out, 77, "bad signature");
    assert_nothing_installed(&case);

    fs::copy(
        rel.out.join(format!("{ASSET}.minisig")),
        case.served(&format!("{ASSET}.minisig")),
    )
    .unwrap();
    let out = case.install(Some(&path), &env);
    assert_installed(&case, rel, &out);
    assert!(
        text(&out.stderr).contains("signature verified with the installed verun"),
        "{}",
        describe(&out)
    );
}

#[test]
fn installer_refuses_plain_http_without_the_opt_in() {
    if skip("installer_refuses_plain_http_without_the_opt_in", true) {
        return;
    }
    let case = Case::new("http", release());
    let out = case.install(None, &[("VERUN_INSTALL_ALLOW_HTTP", "")]);
    assert_refused(&out, 64, "refusing plain http");
    assert!(case.server.requests().is_empty(), "nothing was downloaded");
    assert_nothing_installed(&case);
}

#[test]
fn installer_refuses_an_unsupported_platform() {
    if skip("installer_refuses_an_unsupported_platform", true) {
        return;
    }
    let case = Case::new("platform", release());
    let fake_uname = case.dir.join("uname");
    fs::write(
        &fake_uname,
        "#!/bin/sh\ncase \"$1\" in -s) echo FreeBSD ;; -m) echo riscv64 ;; esac\n",
    )
    .unwrap();
    fs::set_permissions(&fake_uname, fs::Permissions::from_mode(0o755)).unwrap();
    let path = path_without(case.dir.path(), &["uname"], &[("uname", &fake_uname)]);
    let out = case.install(Some(&path), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("no prebuilt binary for FreeBSD/riscv64"),
        "{}",
        describe(&out)
    );
    assert!(case.server.requests().is_empty(), "nothing was downloaded");
    assert_nothing_installed(&case);
}

#[test]
fn installer_cut_short_anywhere_runs_nothing() {
    if skip("installer_cut_short_anywhere_runs_nothing", true) {
        return;
    }
    let case = Case::new("cut", release());
    let script = fs::read(case.served("install.sh")).unwrap();
    let cut = case.dir.join("cut.sh");
    // Every line boundary, and the middle of every line.
    let mut points = Vec::new();
    let mut start = 0;
    for (i, b) in script.iter().enumerate() {
        if *b == b'\n' {
            points.push(start + (i - start) / 2);
            points.push(i + 1);
            start = i + 1;
        }
    }
    points.retain(|&p| p < script.len());
    for p in points {
        fs::write(&cut, &script[..p]).unwrap();
        let out = run_installer(&cut, &case.server.url(), case.dir.path(), None, &[]);
        assert!(
            case.server.requests().is_empty(),
            "install.sh cut at byte {p} downloaded something\n{}",
            describe(&out)
        );
        assert!(
            !case.install_dir().exists(),
            "install.sh cut at byte {p} created the install dir"
        );
    }
    case.assert_clean_tmp();
}

#[test]
fn unstamped_template_refuses_to_run() {
    if skip("unstamped_template_refuses_to_run", false) {
        return;
    }
    let dir = TempDir::new("template");
    for sub in ["tmp", "home"] {
        fs::create_dir(dir.join(sub)).unwrap();
    }
    let served = TempDir::new("template-served");
    let server = Server::serve(served.path());
    let out = run_installer(
        &repo().join("install/install.sh"),
        &server.url(),
        dir.path(),
        None,
        &[],
    );
    assert_refused(&out, 77, "unstamped installer template");
    assert!(server.requests().is_empty(), "nothing was downloaded");
    assert!(!dir.join("bin").exists());
}

#[test]
fn scripts_pass_shellcheck() {
    if which("shellcheck").is_none() {
        if std::env::var_os("VERUN_REQUIRE_RELEASE_TEST").is_some_and(|v| v == "1") {
            panic!("VERUN_REQUIRE_RELEASE_TEST=1 but shellcheck is missing");
        }
        loud("\n!!!!!!!! SKIPPED scripts_pass_shellcheck: `shellcheck` is not installed\n");
        return;
    }
    for (shell, script) in [
        ("sh", "install/install.sh"),
        ("bash", "install/release.sh"),
        ("bash", "install/reproduce.sh"),
    ] {
        let out = Command::new("shellcheck")
            .args(["-s", shell])
            .arg(repo().join(script))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "shellcheck {script}\n{}",
            describe(&out)
        );
    }
}

/// A `uname` that says Linux and `machine` for `-m`, first on a PATH of its own.
fn path_with_uname(case: &Case, machine: &str) -> PathBuf {
    let fake_uname = case.dir.join("uname");
    fs::write(
        &fake_uname,
        format!("#!/bin/sh\ncase \"$1\" in -s) echo Linux ;; -m) echo {machine} ;; esac\n"),
    )
    .unwrap();
    fs::set_permissions(&fake_uname, fs::Permissions::from_mode(0o755)).unwrap();
    path_without(case.dir.path(), &["uname"], &[("uname", &fake_uname)])
}

#[test]
fn installer_on_aarch64_installs_the_aarch64_binary() {
    if skip("installer_on_aarch64_installs_the_aarch64_binary", true) {
        return;
    }
    let rel = release();
    for machine in ["aarch64", "arm64"] {
        let case = Case::new(&format!("arm-{machine}"), rel);
        let path = path_with_uname(&case, machine);
        let out = case.install(Some(&path), &[]);
        assert_installed_asset(&case, rel, &out, ARM_ASSET);
        assert!(
            text(&out.stderr).contains("signature verified with minisign"),
            "{}",
            describe(&out)
        );
        let requests = case.server.requests();
        assert!(
            requests.contains(&format!("/{ARM_ASSET}"))
                && requests.contains(&format!("/{ARM_ASSET}.minisig"))
                && !requests.contains(&format!("/{ASSET}")),
            "{requests:?}"
        );
    }
}

#[test]
fn installer_on_aarch64_refuses_a_tampered_or_swapped_binary() {
    if skip(
        "installer_on_aarch64_refuses_a_tampered_or_swapped_binary",
        true,
    ) {
        return;
    }
    let rel = release();
    let case = Case::new("arm-tampered", rel);
    let path = path_with_uname(&case, "aarch64");
    flip_byte(&case.served(ARM_ASSET));
    let out = case.install(Some(&path), &[]);
    assert_refused(&out, 77, "checksum mismatch");
    assert_nothing_installed(&case);
    // The genuine x86_64 binary (and its genuine signature) served as the aarch64 one.
    fs::copy(rel.out.join(ASSET), case.served(ARM_ASSET)).unwrap();
    fs::copy(
        rel.out.join(format!("{ASSET}.minisig")),
        case.served(format!("{ARM_ASSET}.minisig").as_str()),
    )
    .unwrap();
    let out = case.install(Some(&path), &[]);
    assert_refused(&out, 77, "checksum mismatch");
    assert_nothing_installed(&case);
}

#[test]
fn installer_refuses_an_unknown_architecture_on_linux() {
    if skip("installer_refuses_an_unknown_architecture_on_linux", true) {
        return;
    }
    let case = Case::new("arm32", release());
    let path = path_with_uname(&case, "armv7l");
    let out = case.install(Some(&path), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let err = text(&out.stderr);
    assert!(err.contains("no prebuilt binary for Linux/armv7l"), "{err}");
    assert!(
        err.contains("x86_64 and aarch64"),
        "names what is supported: {err}"
    );
    assert!(case.server.requests().is_empty(), "nothing was downloaded");
    assert_nothing_installed(&case);
}

/// The `run:` script of the Action's `install` step, as bash will see it.
fn action_install_script() -> String {
    let yml = fs::read_to_string(repo().join("install/action.yml")).unwrap();
    let mut lines = yml.lines().skip_while(|l| l.trim() != "- id: install");
    let mut script = String::new();
    let mut inside = false;
    for line in lines.by_ref() {
        if !inside {
            inside = line.trim() == "run: |";
            continue;
        }
        if !line.trim().is_empty() && !line.starts_with("        ") {
            break;
        }
        script.push_str(line.strip_prefix("        ").unwrap_or(""));
        script.push('\n');
    }
    assert!(
        script.contains("RUNNER_ARCH"),
        "install step not found:\n{script}"
    );
    script
}

#[test]
fn action_picks_the_binary_by_runner_arch_and_refuses_unknown_ones() {
    let script = action_install_script();
    let dir = TempDir::new("action");
    let run = |os: &str, arch: &str, x64: &str, arm64: &str| {
        Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env("RUNNER_OS", os)
            .env("RUNNER_ARCH", arch)
            .env("RUNNER_TEMP", dir.path())
            .env("GITHUB_PATH", dir.join("path"))
            .env("GITHUB_OUTPUT", dir.join("output"))
            .env("VERUN_VERSION", "0.1.0")
            .env("VERUN_SHA256_X64", x64)
            .env("VERUN_SHA256_ARM64", arm64)
            // Not https: had a check passed that should not, nothing could be downloaded.
            .env("VERUN_BASE_URL", "http://127.0.0.1:9")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let sum = "a".repeat(64);
    for (os, arch, x64, arm64, needle) in [
        (
            "Linux",
            "ARM",
            sum.as_str(),
            sum.as_str(),
            "no prebuilt binary for ARM runners",
        ),
        (
            "Linux",
            "X86",
            sum.as_str(),
            sum.as_str(),
            "no prebuilt binary for X86 runners",
        ),
        (
            "Windows",
            "X64",
            sum.as_str(),
            sum.as_str(),
            "for Linux runners",
        ),
        (
            "Linux",
            "ARM64",
            sum.as_str(),
            "",
            "input 'verun-sha256-arm64' must be 64 hex digits",
        ),
        (
            "Linux",
            "X64",
            "",
            sum.as_str(),
            "input 'verun-sha256' must be 64 hex digits",
        ),
        // Both pass the arch checks and reach the URL check: the asset was chosen.
        (
            "Linux",
            "ARM64",
            "",
            sum.as_str(),
            "must be an https:// URL",
        ),
        ("Linux", "X64", sum.as_str(), "", "must be an https:// URL"),
    ] {
        let out = run(os, arch, x64, arm64);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "{os}/{arch} passed\n{all}");
        assert!(
            all.contains(needle),
            "{os}/{arch}: expected {needle:?}\n{all}"
        );
        assert!(
            !dir.join("path").exists(),
            "{os}/{arch} installed something"
        );
    }
}
