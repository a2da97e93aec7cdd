//! Regression: an unsigned checksum list counts as an independent anchor only when no server
//! that served it also served the payload — redirects included. Found in review: origins
//! were compared on the URLs as given, so a payload redirected to the list's host (or a list
//! redirected to the payload's host) passed as "independent".

mod common;
use common::*;

use std::sync::Arc;

struct Setup {
    env: TestEnv,
    a: TestServer,
    b: TestServer,
    payload: Vec<u8>,
    marker: std::path::PathBuf,
}

fn setup() -> Setup {
    let env = TestEnv::new();
    let ca = TestCa::new();
    let a = TestServer::https_with_ca(&ca);
    let b = TestServer::https_with_ca(&Arc::clone(&ca));
    let (payload, marker) = marker_script(&env, "tool.sh");
    Setup {
        env,
        a,
        b,
        payload,
        marker,
    }
}

fn run(s: &Setup, url: &str, list: &str) -> std::process::Output {
    s.env.verun([
        "run",
        url,
        "--checksums",
        list,
        "--cacert",
        s.a.ca_pem_path().to_str().unwrap(),
    ])
}

#[test]
fn independent_list_from_another_origin_is_an_anchor() {
    let s = setup();
    s.a.route("/tool.sh", Reply::bytes(&s.payload));
    s.b.route(
        "/SHA256SUMS",
        Reply::bytes(gnu_checksums(&[("tool.sh", &s.payload)])),
    );
    let out = run(&s, &s.a.url("/tool.sh"), &s.b.url("/SHA256SUMS"));
    assert_exit(&out, 0);
    assert_ran(&s.marker);
}

#[test]
fn payload_redirected_to_the_lists_origin_is_refused() {
    let s = setup();
    s.a.route("/tool.sh", Reply::redirect(302, s.b.url("/tool.sh")));
    s.b.route("/tool.sh", Reply::bytes(&s.payload));
    s.b.route(
        "/SHA256SUMS",
        Reply::bytes(gnu_checksums(&[("tool.sh", &s.payload)])),
    );
    let out = run(&s, &s.a.url("/tool.sh"), &s.b.url("/SHA256SUMS"));
    assert_exit(&out, 77);
    assert!(stderr(&out).contains("no trust anchor"), "{}", stderr(&out));
    assert_not_ran(&s.marker);
}

#[test]
fn list_redirected_to_the_payloads_origin_is_refused() {
    let s = setup();
    s.a.route("/tool.sh", Reply::bytes(&s.payload));
    s.a.route(
        "/SHA256SUMS",
        Reply::bytes(gnu_checksums(&[("tool.sh", &s.payload)])),
    );
    s.b.route("/SHA256SUMS", Reply::redirect(302, s.a.url("/SHA256SUMS")));
    let out = run(&s, &s.a.url("/tool.sh"), &s.b.url("/SHA256SUMS"));
    assert_exit(&out, 77);
    assert!(stderr(&out).contains("no trust anchor"), "{}", stderr(&out));
    assert_not_ran(&s.marker);
}
