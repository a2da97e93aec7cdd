#!/usr/bin/env bash
# reproduce.sh [KEEP-DIR]: build the release twice, from two copies of the source at
# different paths, each into its own fresh, empty target directory, and compare the SHA-256
# of every artifact (both binaries, install.sh, SHA256SUMS and every .minisig). Any
# difference fails (exit 1) and is listed. With KEEP-DIR, the first build's release files
# are moved there (CI runs the aarch64 binary's tests from it).
#
# Environment:
#   VERUN_RELEASE_KEY   the minisign secret key to sign both builds with (default: a
#                       throwaway key generated in a private temporary directory, so the
#                       signatures are compared too: Ed25519 is deterministic)
#   SOURCE_DATE_EPOCH   default: the last commit's time (the same for both builds)
#
# To check a published release instead, build its tag once and compare with its SHA256SUMS
# (see install/README.md, "Reproducibility").
set -euo pipefail

me='reproduce.sh'
die() {
    printf '%s: error: %s\n' "$me" "$1" >&2
    if [[ -n ${2-} ]]; then printf '%s: hint: %s\n' "$me" "$2" >&2; fi
    exit 1
}
note() { printf '%s: %s\n' "$me" "$*" >&2; }

if [[ $# -gt 1 || ${1-} == -h || ${1-} == --help ]]; then
    printf 'usage: %s [KEEP-DIR]\n' "$0" >&2
    exit 64
fi
keep=${1-}
if [[ -n $keep && -e $keep && -n $(find "$keep" -mindepth 1 -maxdepth 1 -print -quit 2>/dev/null) ]]; then
    die "KEEP-DIR is not empty: $keep"
fi

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
for tool in git tar sha256sum minisign; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/verun-reproduce.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
chmod 700 "$work"

if [[ -z ${VERUN_RELEASE_KEY-} ]]; then
    mkdir -m 700 "$work/key"
    minisign -G -W -p "$work/key/throwaway.pub" -s "$work/key/throwaway.key" >/dev/null
    chmod 600 "$work/key/throwaway.key"
    export VERUN_RELEASE_KEY="$work/key/throwaway.key" VERUN_RELEASE_UNOFFICIAL_KEY=1
fi
if [[ -z ${SOURCE_DATE_EPOCH-} ]]; then
    SOURCE_DATE_EPOCH=$(git -C "$repo_root" log -1 --format=%ct)
fi
export SOURCE_DATE_EPOCH

# Two copies of the tracked files as they are in the work tree, at paths of different
# lengths, so a leaked path would change the bytes.
copy_tree() {
    mkdir -p "$1"
    (cd "$repo_root" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$1"
}
src_a="$work/a/verun"
src_b="$work/build-number-two/checkout/verun-src"
copy_tree "$src_a"
copy_tree "$src_b"

build() { # SRC TARGET-DIR OUT
    local start=$SECONDS
    CARGO_TARGET_DIR=$2 "$1/install/release.sh" "$3" 2> >(sed "s/^/[$(basename "$3")] /" >&2)
    note "$(basename "$3"): built in $((SECONDS - start)) s"
}
build "$src_a" "$work/a/target" "$work/out-a"
build "$src_b" "$work/build-number-two/tgt" "$work/out-b"

(cd "$work/out-a" && find . -type f | sort) >"$work/files-a"
(cd "$work/out-b" && find . -type f | sort) >"$work/files-b"
diff -u "$work/files-a" "$work/files-b" >&2 || die "the two builds published different files"

failed=0
while IFS= read -r f; do
    a=$(sha256sum <"$work/out-a/$f" | cut -d' ' -f1)
    b=$(sha256sum <"$work/out-b/$f" | cut -d' ' -f1)
    if [[ $a == "$b" ]]; then
        printf '%s  %s  identical\n' "$a" "${f#./}"
    else
        printf '%s  %s  DIFFERS (second build: %s)\n' "$a" "${f#./}" "$b"
        failed=1
    fi
done <"$work/files-a"
((failed == 0)) || die "the release is not reproducible: see the files marked DIFFERS" \
    "compare them with diffoscope; check for paths, timestamps or toolchain differences"
note "both builds are byte-identical ($(wc -l <"$work/files-a") files)"

if [[ -n $keep ]]; then
    mkdir -p "$keep"
    mv "$work/out-a"/* "$keep"/
    note "kept the first build's release in $keep"
fi
