#!/usr/bin/env bash
# release.sh OUTDIR: build verun's static release, check it, checksum it, sign it, and write
# the stamped bootstrap installer. verun asks publishers to ship signed, checksummed,
# reproducible artifacts; this is how verun itself does it.
#
# Writes into OUTDIR (which must be empty or absent):
#   verun-x86_64-unknown-linux-musl            static, stripped binaries (each at most 4 MiB)
#   verun-aarch64-unknown-linux-musl
#   install.sh                                 install/install.sh stamped with the sums and key
#   SHA256SUMS                                 GNU format: binaries and install.sh
#   *.minisig                                  minisign signatures (prehashed) of all the above;
#                                              trusted comments carry timestamp:, file: and
#                                              version: (the last is what `verun self-update`
#                                              reads, from SHA256SUMS.minisig)
#
# Environment:
#   VERUN_RELEASE_KEY             path to the minisign SECRET key (required). It must live
#                                 outside the repository and OUTDIR; it is read by minisign
#                                 only, never copied.
#   VERUN_RELEASE_UNOFFICIAL_KEY  1 to sign with a key that is not keys/verun-release.pub
#                                 (tests and dry runs); the stamped key is then that key's.
#   SOURCE_DATE_EPOCH             build and signature timestamp (default: last commit time,
#                                 or now when there is no commit).
#   CARGO_TARGET_DIR              honoured (default: <repo>/target).
#
# C toolchains (ring has C and assembly), installed with apt when missing and running as
# root: x86_64 uses Debian's musl-gcc (musl-tools); aarch64 uses Debian's
# aarch64-linux-gnu-gcc (gcc-aarch64-linux-gnu) as C compiler and linker: ring's C includes
# no libc headers that differ, and Rust's musl target links its own bundled musl (crt
# objects, libc.a) with -static, so nothing of glibc ends up in the binary (checked below).
# The aarch64 binary's --version is run under qemu-aarch64 (qemu-user) when this host is not
# aarch64 and qemu-aarch64 is installed.
#
# Reproducibility: with the same source, Cargo.lock, rustc/cargo version, musl-tools (gcc)
# version and SOURCE_DATE_EPOCH, the binary is byte-for-byte the same whatever the checkout
# path, CARGO_HOME or target dir (paths are remapped below). Signatures are deterministic
# too (Ed25519, trusted comment from SOURCE_DATE_EPOCH), so same key + same bytes = same
# .minisig. What still differs: a different Rust toolchain or C compiler (ring's C and
# assembly go through musl-gcc / aarch64-linux-gnu-gcc) changes the bytes; the toolchain is pinned only if the repo
# has a rust-toolchain.toml. See install/README.md.
set -euo pipefail

readonly TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
# 3 MiB until 0.1; 3.3 MiB once OpenPGP and SSH verification landed (issue 14: +276 KiB);
# 4 MiB with Sigstore (issue 15: sigstore-verify and its X.509/CMS/JSON stack, less what
# the link flags below and one Ed25519 implementation instead of two gave back).
readonly MAX_SIZE=$((4 * 1024 * 1024))

me='release.sh'
die() {
    printf '%s: error: %s\n' "$me" "$1" >&2
    if [[ -n ${2-} ]]; then printf '%s: hint: %s\n' "$me" "$2" >&2; fi
    exit 1
}
note() { printf '%s: %s\n' "$me" "$*" >&2; }

if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
    printf 'usage: VERUN_RELEASE_KEY=/path/outside/repo/verun-release.key %s OUTDIR\n' "$0" >&2
    exit 64
fi

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

# is_inside PATH DIR: PATH is DIR or below it (both already resolved)
is_inside() { [[ $1 == "$2" || $1 == "$2"/* ]]; }

# ---- the secret key: where it comes from, where it must not be ----
[[ -n ${VERUN_RELEASE_KEY-} ]] ||
    die "VERUN_RELEASE_KEY is not set" "point it at the minisign secret key, kept outside the repository (see keys/README.md)"
[[ -f $VERUN_RELEASE_KEY ]] ||
    die "VERUN_RELEASE_KEY does not name a file: $VERUN_RELEASE_KEY"
key_path=$(realpath -e -- "$VERUN_RELEASE_KEY")
is_inside "$key_path" "$repo_root" &&
    die "the secret key is inside the repository ($key_path); refusing" "move it out (e.g. /root/.verun-release/) so it can never be committed"

# ---- OUTDIR: created if absent, must be empty, must not hold the key ----
outdir_arg=$1
mkdir -p -- "$outdir_arg"
outdir=$(cd -- "$outdir_arg" && pwd -P)
is_inside "$key_path" "$outdir" &&
    die "the secret key is inside OUTDIR ($key_path); refusing" "OUTDIR is published: keep the key elsewhere"
if [[ -n $(find "$outdir" -mindepth 1 -maxdepth 1 -print -quit) ]]; then
    die "OUTDIR is not empty: $outdir" "use a fresh directory so no stale file or signature is published"
fi

key_mode=$(stat -c '%a' -- "$key_path")
if (( 8#$key_mode & 8#077 )); then
    die "the secret key is readable by others (mode $key_mode): $key_path" "chmod 600 '$key_path'"
fi

# ---- tools ----
for tool in cargo rustc minisign sha256sum realpath; do
    command -v "$tool" >/dev/null || die "$tool is not installed" "see install/README.md for the release prerequisites"
done

sysroot=$(rustc --print sysroot)
for target in "${TARGETS[@]}"; do
    if [[ ! -d $sysroot/lib/rustlib/$target/lib ]]; then
        command -v rustup >/dev/null || die "the Rust target $target is not installed and rustup is missing"
        note "installing Rust target $target"
        rustup target add "$target"
    fi
done
# need_tool COMMAND DEBIAN-PACKAGE: install the package when the command is missing.
need_tool() {
    command -v "$1" >/dev/null && return 0
    if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
        note "installing $2"
        apt-get install -y "$2" || { apt-get update && apt-get install -y "$2"; }
    else
        die "$1 is not installed" "install $2 (Debian/Ubuntu: sudo apt-get install -y $2)"
    fi
}
need_tool musl-gcc musl-tools
need_tool aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu

work=$(mktemp -d "${TMPDIR:-/tmp}/verun-release.XXXXXX")
trap 'rm -rf -- "$work"' EXIT

# ---- the public half of the signing key (derived, so it always matches what we sign with) ----
# For a password-protected key minisign asks for the password here and once per signed file.
minisign -R -s "$key_path" -p "$work/release.pub" >/dev/null ||
    die "cannot read the secret key $key_path" "is it a minisign secret key? (minisign -G)"
pubkey=$(sed -n 2p "$work/release.pub")
[[ $pubkey =~ ^RW[A-Za-z0-9+/]{54}$ ]] || die "minisign produced an unexpected public key: $pubkey"
official=$(sed -n 2p "$repo_root/keys/verun-release.pub" 2>/dev/null || true)
if [[ $pubkey != "$official" ]]; then
    if [[ ${VERUN_RELEASE_UNOFFICIAL_KEY-} == 1 ]]; then
        note "warning: signing with $pubkey, NOT the official keys/verun-release.pub (VERUN_RELEASE_UNOFFICIAL_KEY=1)"
    else
        die "VERUN_RELEASE_KEY is not the secret half of keys/verun-release.pub" \
            "use the release key, or set VERUN_RELEASE_UNOFFICIAL_KEY=1 for a test release"
    fi
fi

# ---- reproducible build settings ----
if [[ -z ${SOURCE_DATE_EPOCH-} ]]; then
    SOURCE_DATE_EPOCH=$(git -C "$repo_root" log -1 --format=%ct 2>/dev/null || true)
    if [[ -z $SOURCE_DATE_EPOCH ]]; then
        SOURCE_DATE_EPOCH=$(date +%s)
        note "warning: no git commit; SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH (now): this release is not reproducible by timestamp"
    fi
fi
[[ $SOURCE_DATE_EPOCH =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH is not a number: $SOURCE_DATE_EPOCH"
export SOURCE_DATE_EPOCH
if [[ -n $(git -C "$repo_root" status --porcelain --untracked-files=no 2>/dev/null || true) ]]; then
    note "warning: the work tree has uncommitted changes; this build cannot be reproduced from a commit"
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo_root/target}"
mkdir -p -- "$CARGO_TARGET_DIR"
CARGO_TARGET_DIR=$(cd -- "$CARGO_TARGET_DIR" && pwd -P)
cargo_home=$(realpath -m -- "${CARGO_HOME:-$HOME/.cargo}")

# The release profile (size-tuned, with the hashing crates optimised for speed) is
# Cargo.toml's [profile.release]: one source of truth for releases, benches and users'
# `cargo build --release`. Profile variables from the environment would change it, so they
# are cleared.
while IFS= read -r var; do unset "$var"; done < <(env | sed -n 's/^\(CARGO_PROFILE_RELEASE_[A-Z_]*\)=.*/\1/p')

# Paths must not leak into the binary: remap the checkout, cargo's registry and the target
# dir (the last matching remap wins, so the target dir, which may sit inside the checkout,
# comes last). CARGO_ENCODED_RUSTFLAGS (0x1f-separated) survives spaces in paths and
# replaces any RUSTFLAGS from the environment, so the flags are fixed by this script.
if [[ -n ${RUSTFLAGS-} || -n ${CARGO_ENCODED_RUSTFLAGS-} ]]; then
    note "note: ignoring RUSTFLAGS/CARGO_ENCODED_RUSTFLAGS from the environment; release flags are fixed here"
fi
unset RUSTFLAGS
sep=$'\x1f'
CARGO_ENCODED_RUSTFLAGS="-Ctarget-feature=+crt-static"
CARGO_ENCODED_RUSTFLAGS+="$sep--remap-path-prefix=$cargo_home=/cargo"
CARGO_ENCODED_RUSTFLAGS+="$sep--remap-path-prefix=$repo_root=/build/verun"
CARGO_ENCODED_RUSTFLAGS+="$sep--remap-path-prefix=$CARGO_TARGET_DIR=/build/target"
# Linked by the toolchain's own lld (rust-lld, through its gcc-ld wrapper, so the same
# linker on every machine): safe identical-code folding (only what no code takes the address
# of), relative relocations packed (RELR; musl's static-pie start-up applies them), and no
# .eh_frame_hdr (panic = "abort": nothing unwinds; a backtrace, when asked for, falls back
# to .eh_frame). About 200 KB less than GNU ld's output (x86_64, issue 15: RELR 115 KB,
# no .eh_frame_hdr 61 KB, the rest folded code).
gcc_ld="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/gcc-ld"
[[ -x $gcc_ld/ld.lld ]] || die "the toolchain's lld is missing ($gcc_ld/ld.lld)" "install the Rust toolchain with rustup (rust-lld ships with it)"
for flag in -fuse-ld=lld "-B$gcc_ld" -Wl,--icf=safe -Wl,-z,pack-relative-relocs -Wl,--no-eh-frame-hdr -Wl,-O2; do
    CARGO_ENCODED_RUSTFLAGS+="$sep-Clink-arg=$flag"
done
export CARGO_ENCODED_RUSTFLAGS
# The C compiler (and, for aarch64, the linker) per target, and the same path remapping for
# C code built by cc-rs (ring).
c_prefix_map=''
if [[ "$cargo_home$repo_root$CARGO_TARGET_DIR" != *[[:space:]]* ]]; then
    c_prefix_map="-ffile-prefix-map=$cargo_home=/cargo -ffile-prefix-map=$repo_root=/build/verun -ffile-prefix-map=$CARGO_TARGET_DIR=/build/target"
fi
# cc_for TARGET: the C compiler used for it
cc_for() {
    case $1 in
        x86_64-unknown-linux-musl) echo musl-gcc ;;
        aarch64-unknown-linux-musl) echo aarch64-linux-gnu-gcc ;;
        *) die "no C toolchain known for $1" ;;
    esac
}
for target in "${TARGETS[@]}"; do
    tvar=${target//-/_}
    export "CC_$tvar=$(cc_for "$target")"
    if [[ -n $c_prefix_map ]]; then export "CFLAGS_$tvar=$c_prefix_map"; fi
done
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc
export TZ=UTC LC_ALL=C

note "toolchain: $(rustc -V) / $(cargo -V) / musl-gcc (gcc $(musl-gcc -dumpfullversion 2>/dev/null || musl-gcc -dumpversion))" \
    "$(dpkg-query -W -f='/ musl ${Version}' musl 2>/dev/null || true)" \
    "/ aarch64-linux-gnu-gcc $(aarch64-linux-gnu-gcc -dumpfullversion 2>/dev/null || aarch64-linux-gnu-gcc -dumpversion)"
note "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, CARGO_TARGET_DIR=$CARGO_TARGET_DIR"

# ---- build ----
pkgid=$(cargo pkgid --manifest-path "$repo_root/Cargo.toml" --locked)
version=${pkgid##*[#@]}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] || die "cannot read the crate version from '$pkgid'"

if git -C "$repo_root" rev-parse -q --verify HEAD >/dev/null 2>&1 &&
    [[ $(git -C "$repo_root" rev-parse -q --verify "refs/tags/v$version^{commit}" 2>/dev/null || true) != \
        "$(git -C "$repo_root" rev-parse HEAD)" ]]; then
    note "warning: HEAD is not tagged v$version; build releases from their tag"
fi

# ---- build and check each target: static, small, runs ----
binaries=()
for target in "${TARGETS[@]}"; do
    cargo build --release --locked --target "$target" --bin verun --manifest-path "$repo_root/Cargo.toml"
    built="$CARGO_TARGET_DIR/$target/release/verun"
    [[ -f $built ]] || die "cargo did not produce $built"
    asset="verun-$target"
    bin="$outdir/$asset"
    install -m 0755 -- "$built" "$bin"
    binaries+=("$asset")

    case $target in
        x86_64-*) want_machine='x86-64' elf_machine='Advanced Micro Devices X86-64' ;;
        aarch64-*) want_machine='aarch64' elf_machine='AArch64' ;;
    esac
    checked_static=0
    if command -v file >/dev/null; then
        info=$(file -b -- "$bin")
        case $info in
            *"dynamically linked"*) die "$asset is dynamically linked: $info" "the musl target must link statically (crt-static)" ;;
            *"statically linked"* | *"static-pie linked"*) checked_static=1 ;;
            *) die "file(1) cannot tell whether $asset is static: $info" ;;
        esac
        [[ $info == *"$want_machine"* ]] || die "$asset is not a $want_machine binary: $info"
    fi
    if command -v readelf >/dev/null; then
        if readelf -lW -- "$bin" | grep -q 'INTERP' || readelf -dW -- "$bin" | grep -q '(NEEDED)'; then
            die "$asset needs a dynamic loader or shared libraries" "the musl target must link statically (crt-static)"
        fi
        readelf -hW -- "$bin" | grep -q "Machine:[[:space:]]*$elf_machine" ||
            die "$asset is not an $elf_machine ELF binary"
        checked_static=1
    fi
    if command -v ldd >/dev/null && [[ $target == "$(uname -m)"-* ]]; then
        if ldd_out=$(ldd -- "$bin" 2>&1); then
            case $ldd_out in
                *"statically linked"*) ;;
                *) die "ldd lists shared libraries for $asset: $ldd_out" ;;
            esac
        fi
        checked_static=1
    fi
    ((checked_static)) || die "cannot check that $asset is static" "install file(1), binutils (readelf) or ldd"

    size=$(stat -c '%s' -- "$bin")
    if ((size > MAX_SIZE)); then
        die "$asset is $size bytes, over the 4 MiB ($MAX_SIZE bytes) budget" "trim dependencies or features; see [profile.release] in Cargo.toml"
    fi
    note "$asset: $size bytes ($((size * 100 / MAX_SIZE))% of the 4 MiB budget), static"

    if [[ $(uname -s) == Linux && $target == "$(uname -m)"-* ]]; then
        "$bin" --version >/dev/null || die "$asset does not run (--version failed)"
    elif [[ $(uname -s) == Linux && $target == aarch64-* ]] && command -v qemu-aarch64 >/dev/null; then
        qemu-aarch64 "$bin" --version >/dev/null || die "$asset does not run under qemu-aarch64 (--version failed)"
    else
        note "note: $asset not run (no $target host or emulator here)"
    fi
done

# ---- stamp the installer with the binaries' sums and the release key ----
bin_sums=$(cd -- "$outdir" && sha256sum -- "${binaries[@]}")
while IFS= read -r line; do
    [[ $line =~ ^[0-9a-f]{64}\ \ [A-Za-z0-9._-]+$ ]] || die "unexpected sha256sum output: $line"
done <<<"$bin_sums"

declare -A stamped=([version]=0 [pubkey]=0 [sums]=0)
{
    while IFS= read -r line || [[ -n $line ]]; do
        if [[ $line =~ ^([[:space:]]*)release_version=\'@VERUN_VERSION@\'$ ]]; then
            printf "%srelease_version='%s'\n" "${BASH_REMATCH[1]}" "$version"
            stamped[version]=$((stamped[version] + 1))
        elif [[ $line =~ ^([[:space:]]*)release_pubkey=\'@VERUN_PUBKEY@\'$ ]]; then
            printf "%srelease_pubkey='%s'\n" "${BASH_REMATCH[1]}" "$pubkey"
            stamped[pubkey]=$((stamped[pubkey] + 1))
        elif [[ $line =~ ^([[:space:]]*)release_sums=\'@VERUN_SHA256SUMS@\'$ ]]; then
            printf "%srelease_sums='%s'\n" "${BASH_REMATCH[1]}" "$bin_sums"
            stamped[sums]=$((stamped[sums] + 1))
        else
            printf '%s\n' "$line"
        fi
    done <"$repo_root/install/install.sh"
} >"$outdir/install.sh"
for field in version pubkey sums; do
    [[ ${stamped[$field]} == 1 ]] ||
        die "install/install.sh has ${stamped[$field]} '$field' placeholder lines, expected exactly 1"
done
chmod 0644 -- "$outdir/install.sh"

# ---- SHA256SUMS (GNU format), then signatures ----
(cd -- "$outdir" && sha256sum -- "${binaries[@]}" install.sh >SHA256SUMS)

for name in "${binaries[@]}" install.sh SHA256SUMS; do
    minisign -S -s "$key_path" -m "$outdir/$name" -x "$outdir/$name.minisig" \
        -c "verun $version release signature" \
        -t "timestamp:$SOURCE_DATE_EPOCH"$'\t'"file:$name"$'\t'"version:$version" >/dev/null ||
        die "minisign could not sign $name"
    # Check what we publish: prehashed (-H), under the key we stamped.
    minisign -V -H -q -P "$pubkey" -m "$outdir/$name" -x "$outdir/$name.minisig" ||
        die "the fresh signature of $name does not verify"
done
(cd -- "$outdir" && sha256sum --quiet -c SHA256SUMS) || die "SHA256SUMS does not verify"

touch -d "@$SOURCE_DATE_EPOCH" -- "$outdir"/*

note "release $version written to $outdir:"
(cd -- "$outdir" && ls -l -- *) >&2
note "public key: $pubkey"
