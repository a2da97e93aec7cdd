//! Shared helpers for verun's integration tests.
//!
//! Every integration test drives the real `verun` binary in a sandbox: a fresh temporary
//! directory whose `home/` is `VERUN_HOME` (and `HOME`), with proxy and certificate
//! variables from the developer's shell removed, so no test reads or writes a real key
//! store and none depends on the machine it runs on. Payloads come from a loopback
//! [`TestServer`], signatures from the independent [`TestKey`] signer, and "marker" scripts
//! let a test prove that a payload ran, or, after every refusal, that it did not.
//!
//! Each test binary uses a subset of this module, hence `dead_code` and `unused_imports`
//! are allowed.

#![allow(dead_code, unused_imports)]

pub mod demo;
pub mod server;
pub mod sign;
pub mod signers;
pub mod sigstore_instance;
pub mod site;
pub mod skip;
pub mod tls;

pub use server::{ChunkFault, Reply, Request, TestServer, gzip_stored};
pub use sign::{
    CliKeyPair, ParsedSignature, SignOptions, TestKey, cli_keygen, cli_sign, cli_verify,
    corrupt_signature, default_trusted_comment, key_id_hex, minisign_cli, minisign_or_skip,
    now_timestamp, parse_public_key, parse_signature, replace_trusted_comment, trusted_comment_at,
    verify,
};
pub use signers::{Gpg, SshKeyPair, ssh_keygen_available, tool_available};
pub use site::Site;
pub use skip::{Need, in_ci, skipped};
pub use tls::{TestCa, TlsIdentity, self_signed_ca_identity, self_signed_identity};

use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long [`TestEnv::verun`] lets the binary run before killing it and failing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Environment variables removed from every command: they would route traffic through a
/// proxy, change the trusted roots, or point verun at a real home.
pub const LEAKY_VARS: &[&str] = &[
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CLICOLOR_FORCE",
    "FORCE_COLOR",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
    "XDG_RUNTIME_DIR",
];

/// The path of the `verun` binary under test: `VERUN_TEST_BIN` when set (e.g. the aarch64
/// release binary, run under qemu-user), else the one Cargo built for the integration tests.
/// Panics when neither exists (checked at run time, so helper self-tests still build).
pub fn verun_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("VERUN_TEST_BIN").filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    match option_env!("CARGO_BIN_EXE_verun") {
        Some(path) => PathBuf::from(path),
        None => panic!("no `verun` binary target was built for this test (CARGO_BIN_EXE_verun)"),
    }
}

/// `VERUN_TEST_RUNNER`: the program that runs the binary under test (e.g. `qemu-aarch64`
/// for the aarch64 release binary on an x86_64 host), when set.
pub fn verun_runner() -> Option<PathBuf> {
    std::env::var_os("VERUN_TEST_RUNNER")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The command line that starts `bin` (a verun binary): `[RUNNER] BIN`.
pub fn argv_for(bin: impl AsRef<Path>) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> = verun_runner().into_iter().map(Into::into).collect();
    v.push(bin.as_ref().as_os_str().to_owned());
    v
}

/// The command line that starts the binary under test: `[RUNNER] BIN`. Use it wherever
/// verun is started through another program (`setsid`, `time`, `script`).
pub fn verun_argv() -> Vec<std::ffi::OsString> {
    argv_for(verun_bin())
}

/// A sandbox for one test: `root/home` (VERUN_HOME and HOME), `root/work` (files the test
/// makes, `-o` targets), `root/tmp` (TMPDIR) and `root/markers`. Deleted on drop.
pub struct TestEnv {
    dir: tempfile::TempDir,
    home: PathBuf,
    work: PathBuf,
    tmp: PathBuf,
    markers: PathBuf,
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

impl TestEnv {
    /// A fresh sandbox.
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("verun-test-")
            .tempdir()
            .expect("create test tempdir");
        let root = dir.path().to_path_buf();
        let make = |name: &str| {
            let path = root.join(name);
            fs::create_dir(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
            path
        };
        let home = make("home");
        let work = make("work");
        let tmp = make("tmp");
        let markers = make("markers");
        // A private home, as a real one would be: a key store under it must not be
        // refused for being group- or world-writable.
        fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).expect("chmod home");
        TestEnv {
            dir,
            home,
            work,
            tmp,
            markers,
        }
    }

    /// The sandbox root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `VERUN_HOME` and `HOME`.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The directory for test files; also the commands' working directory.
    pub fn work(&self) -> &Path {
        &self.work
    }

    /// `TMPDIR` of the commands: check it for leftovers.
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// `work()/rel`.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.work.join(rel)
    }

    /// Writes `contents` to `work()/rel` (creating parent directories); returns the path.
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent directory");
        }
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Reads `work()/rel`.
    pub fn read(&self, rel: impl AsRef<Path>) -> Vec<u8> {
        let path = self.path(rel);
        fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    /// A command for the real binary: `VERUN_HOME`/`HOME`=home, `TMPDIR`=tmp,
    /// `CI=true`, `NO_COLOR=1`, [`LEAKY_VARS`] and every other `VERUN_*` removed,
    /// stdin null, current directory `work()`.
    pub fn cmd(&self) -> Command {
        self.command_for(verun_bin())
    }

    /// [`command`](Self::command) for a verun binary `bin` (a copy of the one under test),
    /// through `VERUN_TEST_RUNNER` when set.
    pub fn command_for(&self, bin: impl AsRef<Path>) -> Command {
        let argv = argv_for(bin);
        let mut cmd = self.command(&argv[0]);
        cmd.args(&argv[1..]);
        cmd
    }

    /// [`cmd`](Self::cmd) with `args`.
    pub fn verun_cmd<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.cmd();
        cmd.args(args);
        cmd
    }

    /// Runs verun with `args` (timeout [`DEFAULT_TIMEOUT`]) and returns its output.
    pub fn verun<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_with_timeout(&mut self.verun_cmd(args), DEFAULT_TIMEOUT)
    }

    /// Any program, in the same sandboxed environment as [`cmd`](Self::cmd).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        for var in LEAKY_VARS {
            cmd.env_remove(var);
        }
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("VERUN_") {
                cmd.env_remove(name);
            }
        }
        cmd.env("VERUN_HOME", &self.home)
            .env("HOME", &self.home)
            .env("TMPDIR", &self.tmp)
            .env("CI", "true")
            .env("NO_COLOR", "1")
            .current_dir(&self.work)
            .stdin(Stdio::null());
        cmd
    }
}

/// Runs `cmd` with stdout and stderr captured, killing it (and its process group) and
/// panicking with what it printed so far if it outlives `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    run_inner(cmd, None, timeout)
}

/// [`run_with_timeout`] with `input` on stdin.
pub fn run_with_input(cmd: &mut Command, input: &[u8], timeout: Duration) -> Output {
    run_inner(cmd, Some(input.to_vec()), timeout)
}

fn run_inner(cmd: &mut Command, input: Option<Vec<u8>>, timeout: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    // Its own process group, so a timeout also kills the payloads it started.
    cmd.process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let pid = child.id();
    if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = capture(child.stdout.take().expect("stdout pipe"));
    let stderr = capture(child.stderr.take().expect("stderr pipe"));

    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() >= deadline {
            kill_group(pid);
            let _ = child.kill();
            let _ = child.wait();
            thread::sleep(Duration::from_millis(100));
            panic!(
                "{cmd:?} still running after {timeout:?}; killed it.\n--- stdout ---\n{}\n--- stderr ---\n{}",
                String::from_utf8_lossy(&stdout.snapshot()),
                String::from_utf8_lossy(&stderr.snapshot()),
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    // A payload may have left a background process holding the pipes open.
    if !stdout.wait(Duration::from_secs(2)) || !stderr.wait(Duration::from_secs(1)) {
        kill_group(pid);
        stdout.wait(Duration::from_secs(1));
        stderr.wait(Duration::from_secs(1));
    }
    Output {
        status,
        stdout: stdout.snapshot(),
        stderr: stderr.snapshot(),
    }
}

fn kill_group(pid: u32) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -KILL -- -{pid} 2>/dev/null"))
        .stdin(Stdio::null())
        .status();
}

/// A pipe read on its own thread into a shared buffer.
struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    done: thread::JoinHandle<()>,
}

fn capture(mut pipe: impl Read + Send + 'static) -> Capture {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&buf);
    let done = thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&chunk[..n]),
            }
        }
    });
    Capture { buf, done }
}

impl Capture {
    fn snapshot(&self) -> Vec<u8> {
        self.buf.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until the pipe reached end of file; `false` on timeout.
    fn wait(&self, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while !self.done.is_finished() {
            if Instant::now() >= until {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

// --- output assertions -----------------------------------------------------------------

/// stdout as (lossy) UTF-8.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr as (lossy) UTF-8.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit code, printing stdout and stderr when it differs (or when the process
/// died from a signal).
#[track_caller]
pub fn assert_exit(output: &Output, expected: i32) {
    let actual = output.status.code();
    assert!(
        actual == Some(expected),
        "expected exit code {expected}, got {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        match (actual, output.status.signal()) {
            (Some(code), _) => code.to_string(),
            (None, Some(signal)) => format!("signal {signal}"),
            (None, None) => "nothing".to_string(),
        },
        stdout(output),
        stderr(output),
    );
}

// --- markers: did the payload run? ------------------------------------------------------

/// A shell payload that, when run, writes `ran` and then one `arg:<ARG>` line per argument
/// to a marker file, and prints `verun-test-payload <name> ran` on stdout. Returns the
/// script and the marker path (under `root/markers`, not `work()`).
pub fn marker_script(env: &TestEnv, name: &str) -> (Vec<u8>, PathBuf) {
    marker_script_with(env, name, "exit 0")
}

/// [`marker_script`] followed by `tail` (shell code, e.g. `exit 3` or `kill -TERM $$`).
pub fn marker_script_with(env: &TestEnv, name: &str, tail: &str) -> (Vec<u8>, PathBuf) {
    assert!(
        !name.contains(['/', '\'']),
        "marker name {name:?} must be a plain file name"
    );
    let marker = env.markers.join(format!("{name}.ran"));
    let quoted = marker.display().to_string();
    assert!(!quoted.contains('\''), "marker path with a quote");
    let script = format!(
        "#!/bin/sh\n\
         printf 'ran\\n' > '{quoted}'\n\
         for a in \"$@\"; do printf 'arg:%s\\n' \"$a\" >> '{quoted}'; done\n\
         echo 'verun-test-payload {name} ran'\n\
         {tail}\n"
    );
    (script.into_bytes(), marker)
}

/// Asserts the payload behind `marker` ran; returns the arguments it got.
#[track_caller]
pub fn assert_ran(marker: &Path) -> Vec<String> {
    let text = fs::read_to_string(marker).unwrap_or_else(|e| {
        panic!(
            "the payload did not run: no marker at {} ({e})",
            marker.display()
        )
    });
    assert!(
        text.starts_with("ran\n"),
        "marker {} holds {text:?}",
        marker.display()
    );
    marker_args(marker)
}

/// Asserts the payload behind `marker` did NOT run.
#[track_caller]
pub fn assert_not_ran(marker: &Path) {
    assert!(
        !marker.exists(),
        "the payload RAN although it must not have: marker {} exists",
        marker.display()
    );
}

/// The arguments recorded in a marker file (empty if it does not exist).
pub fn marker_args(marker: &Path) -> Vec<String> {
    fs::read_to_string(marker)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("arg:").map(str::to_string))
        .collect()
}

// --- files ------------------------------------------------------------------------------

/// Asserts nothing exists at `path` (not even a dangling symlink).
#[track_caller]
pub fn assert_no_file(path: &Path) {
    assert!(
        fs::symlink_metadata(path).is_err(),
        "{} exists but must not",
        path.display()
    );
}

/// The names in `dir` (not recursive, hidden files included), sorted; empty if `dir` does
/// not exist. For asserting nothing half-written was left next to an `-o` target.
pub fn leftover_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Asserts `dir` holds exactly `expected` (names, any order).
#[track_caller]
pub fn assert_dir_holds(dir: &Path, expected: &[&str]) {
    let mut expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(
        leftover_files(dir),
        expected,
        "unexpected contents of {}",
        dir.display()
    );
}

// --- fixtures -----------------------------------------------------------------------------

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A GNU `sha256sum` list: `HEX  NAME` lines.
pub fn gnu_checksums(entries: &[(&str, &[u8])]) -> String {
    entries
        .iter()
        .map(|(name, data)| format!("{}  {name}\n", sha256_hex(data)))
        .collect()
}

/// A BSD (`sha256sum --tag`) list: `SHA256 (NAME) = HEX` lines.
pub fn bsd_checksums(entries: &[(&str, &[u8])]) -> String {
    entries
        .iter()
        .map(|(name, data)| format!("SHA256 ({name}) = {}\n", sha256_hex(data)))
        .collect()
}

/// A sandbox and a loopback HTTPS server, with the `--cacert` flags that make verun trust
/// the server's test CA.
pub fn https_site() -> (TestEnv, TestServer, Vec<String>) {
    let env = TestEnv::new();
    let server = TestServer::https();
    let cacert = vec![
        "--cacert".to_string(),
        server.ca_pem_path().to_str().unwrap().to_string(),
    ];
    (env, server, cacert)
}

/// Owned arguments from string slices.
pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Serves `payload` at `path` and `key`'s prehashed signature of it (trusted comment
/// `file:` = the last segment of `path`) at `path.minisig`; returns the payload URL.
pub fn publish_signed(server: &TestServer, key: &TestKey, path: &str, payload: &[u8]) -> String {
    let file_name = path.rsplit('/').next().unwrap_or(path);
    server.route(path, Reply::bytes(payload));
    server.route(
        format!("{path}.minisig"),
        Reply::bytes(key.sign(payload, file_name)),
    );
    server.url(path)
}

// --- terminal hygiene ---------------------------------------------------------------------

/// Invisible or reordering characters that must never reach a terminal raw, listed here
/// independently of verun's own tables: the format characters (General Category Cf), the
/// line and paragraph separators, and the other default-ignorable code points (variation
/// selectors, Hangul fillers, combining grapheme joiner, tags).
pub const INVISIBLE_RANGES: &[(u32, u32)] = &[
    (0x00ad, 0x00ad),
    (0x034f, 0x034f),
    (0x0600, 0x0605),
    (0x061c, 0x061c),
    (0x06dd, 0x06dd),
    (0x070f, 0x070f),
    (0x0890, 0x0891),
    (0x08e2, 0x08e2),
    (0x115f, 0x1160),
    (0x17b4, 0x17b5),
    (0x180b, 0x180f),
    (0x200b, 0x200f),
    (0x2028, 0x202e),
    (0x2060, 0x206f),
    (0x3164, 0x3164),
    (0xfe00, 0xfe0f),
    (0xfeff, 0xfeff),
    (0xffa0, 0xffa0),
    (0xfff9, 0xfffb),
    (0x110bd, 0x110bd),
    (0x110cd, 0x110cd),
    (0x13430, 0x1343f),
    (0x1bca0, 0x1bca3),
    (0x1d173, 0x1d17a),
    (0xe0000, 0xe0fff),
];

/// The raw control bytes and characters in `output`, as (byte offset, code point): C0
/// controls except `\n` and `\t`, DEL, C1 (U+0080–U+009F, also as bare bytes outside valid
/// UTF-8, which 8-bit terminals read as C1), and [`INVISIBLE_RANGES`].
pub fn raw_controls(output: &[u8]) -> Vec<(usize, u32)> {
    let mut found = Vec::new();
    let mut offset = 0;
    for chunk in output.utf8_chunks() {
        for (i, c) in chunk.valid().char_indices() {
            let cp = c as u32;
            let control = (cp < 0x20 && c != '\n' && c != '\t') || (0x7f..=0x9f).contains(&cp);
            let invisible = INVISIBLE_RANGES
                .iter()
                .any(|&(lo, hi)| (lo..=hi).contains(&cp));
            if control || invisible {
                found.push((offset + i, cp));
            }
        }
        offset += chunk.valid().len();
        for (i, &b) in chunk.invalid().iter().enumerate() {
            if (0x80..=0x9f).contains(&b) {
                found.push((offset + i, u32::from(b)));
            }
        }
        offset += chunk.invalid().len();
    }
    found
}

/// Asserts `output` (verun's stderr) holds no [`raw_controls`]; `what` names the call.
#[track_caller]
pub fn assert_no_raw_controls(output: &[u8], what: &str) {
    let found = raw_controls(output);
    assert!(
        found.is_empty(),
        "raw control or invisible characters on verun's stderr for {what}: {}\n{}",
        found
            .iter()
            .take(10)
            .map(|(at, cp)| format!("U+{cp:04X} at byte {at}"))
            .collect::<Vec<_>>()
            .join(", "),
        String::from_utf8_lossy(output).escape_debug()
    );
}
