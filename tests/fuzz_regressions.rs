//! Replays every saved fuzz input through the same check the fuzz target runs, on stable
//! Rust, in every `cargo test`: a crash found once can never come back unnoticed.
//!
//! Each fuzz target `fuzz/fuzz_targets/TARGET.rs` is a one-line wrapper around
//! `fuzz/checks/TARGET.rs::check`; this file includes those same check files. For each
//! target it feeds, file by file:
//!
//! - `fuzz/seeds/TARGET/*`: the committed seed corpus;
//! - `fuzz/regressions/TARGET/*`: committed crash inputs. **A new crash input goes here**
//!   (minimised with `cargo +nightly fuzz tmin TARGET fuzz/artifacts/TARGET/crash-...`),
//!   under a name that says what it broke; then fix the code until this test passes;
//! - `fuzz/artifacts/TARGET/*`: what `fuzz/run.sh` found locally (not committed), so a
//!   fresh finding fails here at once.
//!
//! No input may panic (every check's assertions included). All inputs run even when one
//! fails; the test then lists every failing file.

use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[path = "../fuzz/checks/checksums.rs"]
mod checksums;
#[path = "../fuzz/checks/key_store.rs"]
mod key_store;
#[path = "../fuzz/checks/lockfile.rs"]
mod lockfile;
#[path = "../fuzz/checks/minisig_pubkey.rs"]
mod minisig_pubkey;
#[path = "../fuzz/checks/minisig_signature.rs"]
mod minisig_signature;
#[path = "../fuzz/checks/openpgp_armor.rs"]
mod openpgp_armor;
#[path = "../fuzz/checks/openpgp_cleartext.rs"]
mod openpgp_cleartext;
#[path = "../fuzz/checks/openpgp_packets.rs"]
mod openpgp_packets;
#[path = "../fuzz/checks/sanitize.rs"]
mod sanitize;
#[path = "../fuzz/checks/scope.rs"]
mod scope;
#[path = "../fuzz/checks/sigstore_bundle.rs"]
mod sigstore_bundle;
#[path = "../fuzz/checks/sshsig.rs"]
mod sshsig;
#[path = "../fuzz/checks/trusted_comment.rs"]
mod trusted_comment;
#[path = "../fuzz/checks/url_join.rs"]
mod url_join;

/// A fuzz target's check: panics on a finding.
type Check = fn(&[u8]);

/// Every fuzz target and its check.
const TARGETS: &[(&str, Check)] = &[
    ("checksums", checksums::check),
    ("key_store", key_store::check),
    ("lockfile", lockfile::check),
    ("minisig_pubkey", minisig_pubkey::check),
    ("minisig_signature", minisig_signature::check),
    ("openpgp_armor", openpgp_armor::check),
    ("openpgp_cleartext", openpgp_cleartext::check),
    ("openpgp_packets", openpgp_packets::check),
    ("sanitize", sanitize::check),
    ("scope", scope::check),
    ("sigstore_bundle", sigstore_bundle::check),
    ("sshsig", sshsig::check),
    ("trusted_comment", trusted_comment::check),
    ("url_join", url_join::check),
];

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The regular files directly in `dir` (none if it does not exist), sorted.
fn inputs_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Every input saved for `target`: seeds, committed regressions, local artifacts.
fn inputs(target: &str) -> Vec<PathBuf> {
    ["seeds", "regressions", "artifacts"]
        .iter()
        .flat_map(|kind| inputs_in(&fuzz_dir().join(kind).join(target)))
        .collect()
}

fn replay(target: &str) {
    let check = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("no check for fuzz target {target}"));
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "fuzz target {target} has no seed in fuzz/seeds/{target}/"
    );
    let mut failed = Vec::new();
    for file in &files {
        let data = fs::read(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} saved inputs of fuzz target {target} panic (message above):\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

/// The table above names exactly the targets `fuzz/Cargo.toml` builds, so a new target
/// cannot go unreplayed.
#[test]
fn every_fuzz_target_is_replayed() {
    let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut bins: Vec<String> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|section| {
            section.lines().find_map(|l| {
                let v = l.trim().strip_prefix("name")?.trim().strip_prefix('=')?;
                Some(v.trim().trim_matches('"').to_string())
            })
        })
        .collect();
    bins.sort();
    let mut table: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    table.sort();
    assert_eq!(
        bins, table,
        "fuzz/Cargo.toml targets vs this file's TARGETS"
    );
    for name in &bins {
        let target = fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{name}.rs")))
            .unwrap_or_else(|e| panic!("fuzz_targets/{name}.rs: {e}"));
        assert!(
            target.contains(&format!("#[path = \"../checks/{name}.rs\"]"))
                && target.contains("check::check(data)"),
            "fuzz_targets/{name}.rs must run fuzz/checks/{name}.rs::check, the code replayed here"
        );
    }
}

macro_rules! replays {
    ($($test:ident => $target:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            replay($target);
        }
    )*};
}

replays! {
    saved_checksums_inputs_do_not_panic => "checksums",
    saved_key_store_inputs_do_not_panic => "key_store",
    saved_lockfile_inputs_do_not_panic => "lockfile",
    saved_minisig_pubkey_inputs_do_not_panic => "minisig_pubkey",
    saved_minisig_signature_inputs_do_not_panic => "minisig_signature",
    saved_openpgp_armor_inputs_do_not_panic => "openpgp_armor",
    saved_openpgp_cleartext_inputs_do_not_panic => "openpgp_cleartext",
    saved_openpgp_packets_inputs_do_not_panic => "openpgp_packets",
    saved_sanitize_inputs_do_not_panic => "sanitize",
    saved_scope_inputs_do_not_panic => "scope",
    saved_sigstore_bundle_inputs_do_not_panic => "sigstore_bundle",
    saved_sshsig_inputs_do_not_panic => "sshsig",
    saved_trusted_comment_inputs_do_not_panic => "trusted_comment",
    saved_url_join_inputs_do_not_panic => "url_join",
}
