//! Redirects and schemes, content switching (pipe detection) and mix-and-match.

use super::*;

// --- redirects and schemes ---------------------------------------------------------------------------------

#[test]
pub(super) fn redirect_loops_fail_fast() {
    let s = Scene::https();
    let (_, marker) = s.publish_marker("/install.sh", "loop");
    s.server.route("/a", Reply::redirect(302, "/b"));
    s.server.route("/b", Reply::redirect(301, "/a"));
    s.server.route("/self", Reply::redirect(307, "/self"));
    for path in ["/a", "/self"] {
        let sig = s.url("/install.sh.minisig");
        let m = s.run(path, &["--sig", &sig, "--expect-file", "install.sh"], QUICK);
        assert_refused(&m, 69, &marker, None, Duration::from_secs(5));
        assert!(m.stderr().contains("redirect"), "{}", m.stderr());
    }
    // 11 requests at most: the original and ten redirects.
    assert!(s.server.hits("/self") <= 11, "{}", s.server.hits("/self"));
}

#[test]
pub(super) fn redirect_chains_are_followed_up_to_ten_hops() {
    let s = Scene::https();
    let (_, marker) = s.publish_marker("/install.sh", "chain");
    for i in 0..11 {
        s.server.route(
            format!("/r{i}"),
            Reply::redirect(302, format!("/r{}", i + 1)),
        );
    }
    s.server.route("/r11", Reply::redirect(302, "/install.sh"));
    let sig = s.url("/install.sh.minisig");
    // /r2 → … → /r11 → /install.sh: ten redirects.
    let m = s.run(
        "/r2",
        &["--sig", &sig, "--expect-file", "install.sh"],
        QUICK,
    );
    assert_exit(&m.output, 0);
    assert_ran(&marker);
    fs::remove_file(&marker).unwrap();
    // /r1: eleven.
    let m = s.run(
        "/r1",
        &["--sig", &sig, "--expect-file", "install.sh"],
        QUICK,
    );
    assert_refused(&m, 69, &marker, None, QUICK);
}

#[test]
pub(super) fn redirect_from_https_to_http_is_refused() {
    let s = Scene::https();
    let plain = TestServer::http();
    let (script, marker) = marker_script(&s.env, "downgrade");
    publish_signed(&plain, &s.key, "/install.sh", &script);
    s.serve_signature_of("/install.sh", &script);
    s.server.route(
        "/install.sh",
        Reply::redirect(302, plain.url("/install.sh")),
    );
    for extra in [&[][..], &["--allow-http"][..]] {
        let m = s.run("/install.sh", extra, QUICK);
        assert_refused(&m, 69, &marker, None, QUICK);
        assert!(m.stderr().contains("plain http"), "{}", m.stderr());
    }
    assert_eq!(
        plain.hits("/install.sh"),
        0,
        "verun followed the redirect to http"
    );
}

#[test]
pub(super) fn redirect_to_another_https_host_is_followed() {
    let s = Scene::https();
    let mirror = TestServer::https_with_ca(s.server.ca());
    let (good, marker) = hashing_script(&s.env, "mirror", "mirror");
    mirror.route("/dl/install.sh", Reply::bytes(&good));
    s.serve_signature_of("/install.sh", &good);
    // Another host name (127.0.0.1 instead of localhost) and port.
    let target = format!("{}/dl/install.sh", mirror.base_url_ip());
    s.server.route("/install.sh", Reply::redirect(301, target));
    let m = s.run("/install.sh", &[], QUICK);
    assert_exit(&m.output, 0);
    assert_eq!(recorded_hash(&marker), sha256_hex(&good));
    assert_eq!(mirror.hits("/dl/install.sh"), 1);
}

#[test]
pub(super) fn redirects_to_other_schemes_are_refused() {
    let s = Scene::https();
    let (_, marker) = s.publish_marker("/install.sh", "schemes");
    for (i, location) in [
        "file:///etc/passwd",
        "ftp://127.0.0.1/install.sh",
        "data:text/plain;base64,ZWNobyBwd25lZAo=",
        "gopher://127.0.0.1:70/install.sh",
        "javascript:alert(1)",
    ]
    .into_iter()
    .enumerate()
    {
        let path = format!("/go{i}");
        s.server.route(&path, Reply::redirect(302, location));
        let m = s.run(
            &path,
            &[
                "--sig",
                &s.url("/install.sh.minisig"),
                "--expect-file",
                "install.sh",
            ],
            QUICK,
        );
        // The server's doing, so a download failure: nothing was fetched from the target.
        assert_refused(&m, 69, &marker, None, QUICK);
    }
}

#[test]
pub(super) fn other_schemes_on_the_command_line_are_usage_errors() {
    let env = TestEnv::new();
    let (_, marker) = marker_script(&env, "cli-schemes");
    let key = TestKey::generate().public_key_base64();
    for url in [
        "file:///etc/passwd",
        "ftp://127.0.0.1/install.sh",
        "data:text/plain;base64,ZWNobyBwd25lZAo=",
        "gopher://127.0.0.1/install.sh",
        "FILE:///bin/sh",
    ] {
        for cmd in ["run", "fetch"] {
            let mut args = vec![
                cmd.to_string(),
                url.to_string(),
                "--key".into(),
                key.clone(),
            ];
            if cmd == "fetch" {
                args.extend(["-o".to_string(), env.path("out").display().to_string()]);
            }
            let m = measure(&env, &args, QUICK);
            assert_refused(
                &m,
                64,
                &marker,
                Some(&env.path("out")),
                Duration::from_secs(5),
            );
        }
    }
    // `http://` without --allow-http is a usage error too.
    let m = measure(
        &env,
        &[
            "run".into(),
            "http://127.0.0.1:9/x.sh".into(),
            "--key".into(),
            key,
        ],
        QUICK,
    );
    assert_refused(&m, 64, &marker, None, Duration::from_secs(5));
}

// --- content switching (pipe detection) --------------------------------------------------------------------

/// A server that serves one script to verun and another to everyone else (or the reverse)
/// gains nothing: the signature decides, and what ran hashes to what was signed.
#[test]
pub(super) fn content_switched_by_user_agent_the_signature_decides() {
    let s = Scene::https();
    let (good, marker) = hashing_script(&s.env, "ua", "good");
    let (evil, _) = hashing_script(&s.env, "ua", "evil");
    s.serve_signature_of("/install.sh", &good);

    // verun gets the evil script: refused.
    s.server.route(
        "/install.sh",
        Reply::by_user_agent([("verun", Reply::bytes(&evil))], Reply::bytes(&good)),
    );
    let m = s.run("/install.sh", &[], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);

    // verun gets the good one (curl would get evil): the good bytes run.
    s.server.route(
        "/install.sh",
        Reply::by_user_agent([("curl", Reply::bytes(&evil))], Reply::bytes(&good)),
    );
    let m = s.run("/install.sh", &[], QUICK);
    assert_exit(&m.output, 0);
    assert_eq!(recorded_hash(&marker), sha256_hex(&good));
    let agents: Vec<String> = s
        .server
        .requests()
        .iter()
        .filter_map(|r| r.user_agent().map(str::to_string))
        .collect();
    assert!(agents.iter().all(|a| a.starts_with("verun/")), "{agents:?}");
}

#[test]
pub(super) fn content_switched_by_request_count_the_signature_decides() {
    let s = Scene::https();
    let (good, marker) = hashing_script(&s.env, "count", "good");
    let (evil, _) = hashing_script(&s.env, "count", "evil");
    s.serve_signature_of("/install.sh", &good);

    // First request good, later ones evil.
    s.server.route(
        "/install.sh",
        Reply::sequence([Reply::bytes(&good), Reply::bytes(&evil)]),
    );
    let m = s.run("/install.sh", &[], QUICK);
    assert_exit(&m.output, 0);
    assert_eq!(recorded_hash(&marker), sha256_hex(&good));
    fs::remove_file(&marker).unwrap();
    let m = s.run("/install.sh", &[], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);

    // First request evil, later ones good.
    s.server.route(
        "/install.sh",
        Reply::sequence([Reply::bytes(&evil), Reply::bytes(&good)]),
    );
    let m = s.run("/install.sh", &[], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);
    let m = s.run("/install.sh", &[], QUICK);
    assert_exit(&m.output, 0);
    assert_eq!(recorded_hash(&marker), sha256_hex(&good));
    fs::remove_file(&marker).unwrap();
    // verun downloads the payload once per run: nothing to switch between.
    assert_eq!(s.server.hits("/install.sh"), 4);

    // The signature switched too: first an attacker's (for the evil script), then the
    // publisher's.
    let attacker = TestKey::generate();
    s.server.route(
        "/install.sh.minisig",
        Reply::sequence([
            Reply::bytes(attacker.sign(&evil, "install.sh")),
            Reply::bytes(s.key.sign(&good, "install.sh")),
        ]),
    );
    s.server.route(
        "/install.sh",
        Reply::sequence([Reply::bytes(&evil), Reply::bytes(&good)]),
    );
    let m = s.run("/install.sh", &[], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);
    // The payload was not even requested the first time (the untrusted signature was
    // refused first), so the second run gets the evil script, now with the real
    // signature: refused again.
    let m = s.run("/install.sh", &[], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);
}

// --- mix-and-match ---------------------------------------------------------------------------------------------

#[test]
pub(super) fn checksum_list_of_another_release_is_refused() {
    let s = Scene::https();
    let (v1, marker) = marker_script_with(&s.env, "mix", "# release 1");
    let (v2, _) = marker_script_with(&s.env, "mix", "# release 2");
    // Release 1's payload with its own valid signature, release 2's signed list.
    s.server.route("/install.sh", Reply::bytes(&v1));
    s.serve_signature_of("/install.sh", &v1);
    let list2 = gnu_checksums(&[("install.sh", &v2)]);
    s.server.route("/SHA256SUMS", Reply::bytes(&list2));
    s.serve_signature_of("/SHA256SUMS", list2.as_bytes());
    let sums = s.url("/SHA256SUMS");
    let m = s.run("/install.sh", &["--checksums", &sums], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);
    assert!(m.stderr().contains("SHA-256 mismatch"), "{}", m.stderr());

    // The same with release 2's list unsigned but from an independent origin, no key.
    let elsewhere = TestServer::https_with_ca(s.server.ca());
    elsewhere.route("/SHA256SUMS", Reply::bytes(&list2));
    let args = vec![
        "run".to_string(),
        s.url("/install.sh"),
        "--cacert".into(),
        s.server.ca_pem_path().display().to_string(),
        "--checksums".into(),
        elsewhere.url("/SHA256SUMS"),
    ];
    let m = measure(&s.env, &args, QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);

    // Release 1's signature served with release 2's payload.
    s.server.route("/install.sh", Reply::bytes(&v2));
    let m = s.run("/install.sh", &[], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);
}

#[test]
pub(super) fn validly_signed_file_under_another_name_is_refused() {
    let s = Scene::https();
    let (evil, marker) = marker_script(&s.env, "renamed");
    // The publisher really signed uninstall.sh; it is served as install.sh.
    s.server.route("/install.sh", Reply::bytes(&evil));
    s.server.route(
        "/install.sh.minisig",
        Reply::bytes(s.key.sign(&evil, "uninstall.sh")),
    );
    let m = s.run("/install.sh", &[], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);
    assert!(m.stderr().contains("file:uninstall.sh"), "{}", m.stderr());
    let out = s.env.path("install.sh");
    let m = s.fetch("/install.sh", &out, &[], QUICK);
    assert_refused(&m, 77, &marker, Some(&out), QUICK);

    // A signed checksum list of another product, served as this product's list.
    let (script, _) = marker_script(&s.env, "renamed");
    s.serve_signature_of("/install.sh", &script);
    s.server.route("/install.sh", Reply::bytes(&script));
    let list = gnu_checksums(&[("install.sh", &script)]);
    s.server.route("/SHA256SUMS", Reply::bytes(&list));
    s.server.route(
        "/SHA256SUMS.minisig",
        Reply::bytes(s.key.sign(list.as_bytes(), "OTHER-SHA256SUMS")),
    );
    let sums = s.url("/SHA256SUMS");
    let m = s.run("/install.sh", &["--checksums", &sums], QUICK);
    assert_refused(&m, 77, &marker, None, QUICK);

    // Control: with the publisher's real name expected, the binding holds.
    s.server.route(
        "/install.sh.minisig",
        Reply::bytes(s.key.sign(&evil, "uninstall.sh")),
    );
    s.server.route("/install.sh", Reply::bytes(&evil));
    let m = s.run("/install.sh", &["--expect-file", "uninstall.sh"], QUICK);
    assert_exit(&m.output, 0);
    assert_ran(&marker);
}
