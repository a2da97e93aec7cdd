//! A private Sigstore instance on the spot (the one `tests/sigstore_private.rs` uses): a
//! trusted root and a bundle for a file, so a benchmark (`benches/fetch.sh`) or a person can
//! try `--bundle` on any payload without the public-good instance.
//!
//! `cargo run --example sigstore_fixture -- FILE OUT_DIR` writes `OUT_DIR/trusted_root.json`
//! and `FILE.sigstore.json` (a v0.3 message-signature bundle with SCT, SET, inclusion proof
//! and signed checkpoint, by `releaser@verun.test` from `https://oidc.verun.test`), then
//! prints the flags that verify it. Every key is made now and thrown away: nothing it signs
//! is trusted anywhere else.

#[allow(dead_code)]
#[path = "../tests/common/sigstore_instance.rs"]
mod sigstore_instance;

use sigstore_instance::{BundleSpec, DEFAULT_IDENTITY, DEFAULT_ISSUER, Instance, RootSpec};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, out] = args.as_slice() else {
        eprintln!("usage: sigstore_fixture FILE OUT_DIR");
        std::process::exit(64);
    };
    let payload = std::fs::read(file).unwrap_or_else(|e| {
        eprintln!("sigstore_fixture: cannot read {file}: {e}");
        std::process::exit(74);
    });
    let instance = Instance::new();
    let out = std::path::Path::new(out);
    let root =
        instance.write_trusted_root(&out.join("trusted_root.json"), &RootSpec::public_good());
    let bundle = format!("{file}.sigstore.json");
    instance.write_bundle(std::path::Path::new(&bundle), &payload, &BundleSpec::new());
    println!(
        "--trusted-root {} --cert-identity {DEFAULT_IDENTITY} --cert-oidc-issuer {DEFAULT_ISSUER}",
        root.display()
    );
}
