#!/bin/sh
# verun bootstrap installer.
#
#   curl --proto '=https' --tlsv1.2 -fsSLO https://github.com/verun-dev/verun/releases/download/vX.Y.Z/install.sh
#   sh install.sh
#
# What it does: picks the release binary for this platform, downloads it, checks it against
# the SHA-256 that install/release.sh stamped into this very file, also checks its minisign
# signature under the stamped release key when `minisign` (or an already installed `verun`)
# is available, and only then moves it into place atomically. Any mismatch: non-zero exit,
# nothing installed, temporary files removed.
#
# Environment:
#   VERUN_INSTALL_DIR         where to install (default: $HOME/.local/bin)
#   VERUN_INSTALL_BASE_URL    where the release files are (default: this release on GitHub)
#   VERUN_INSTALL_ALLOW_HTTP  set to 1 to permit an http:// base URL (tests on loopback);
#                             the stamped SHA-256 is still required
#
# Exit status follows verun's own table: 64 usage, 69 download failed, 74 local I/O,
# 77 refused (checksum or signature mismatch, unstamped template), 1 unsupported platform.
#
# Everything below is one function, called on the last line only: if the download of this
# script is cut short, the shell either sees a syntax error or never reaches the call, so a
# partial script runs nothing.

verun_install() {
    set -eu

    # ---- stamped by install/release.sh: do not edit these three lines by hand ----
    release_version='@VERUN_VERSION@'
    release_pubkey='@VERUN_PUBKEY@'
    release_sums='@VERUN_SHA256SUMS@'
    # ---- end of stamp ----

    me='verun-install'

    # error MESSAGE EXIT-CODE [HINT]: one error line, one hint line, then exit.
    # The EXIT trap below removes whatever was downloaded.
    error() {
        printf '%s: error: %s\n' "$me" "$1" >&2
        if [ -n "${3-}" ]; then
            printf '%s: hint: %s\n' "$me" "$3" >&2
        fi
        exit "$2"
    }

    note() {
        printf '%s: %s\n' "$me" "$1" >&2
    }

    usage() {
        cat <<'EOF'
usage: sh install.sh [-h|--help]

Installs the verun release this script was stamped for, after checking the binary's
SHA-256 (stamped into this script) and, when minisign or verun is available, its signature.

environment:
  VERUN_INSTALL_DIR         install directory (default: $HOME/.local/bin)
  VERUN_INSTALL_BASE_URL    release download location (default: the GitHub release)
  VERUN_INSTALL_ALLOW_HTTP  1 to permit an http:// base URL; checks still apply
EOF
    }

    case "${1-}" in
        '') ;;
        -h | --help)
            usage
            return 0
            ;;
        *) error "unexpected argument: $1" 64 "this installer takes no arguments; see 'sh install.sh --help'" ;;
    esac
    if [ "$#" -gt 1 ]; then
        error "unexpected argument: $2" 64 "this installer takes no arguments; see 'sh install.sh --help'"
    fi

    # A template that was never stamped carries no checksum: nothing to verify against.
    case "$release_version$release_pubkey$release_sums" in
        *@VERUN_*)
            error "this is the unstamped installer template (install/install.sh); it has no checksums to verify against" 77 \
                "use the install.sh published with a release, or build one with 'install/release.sh OUTDIR'"
            ;;
    esac

    # ---- platform ----
    os=$(uname -s 2>/dev/null || echo unknown)
    arch=$(uname -m 2>/dev/null || echo unknown)
    case "$os" in
        Linux) os_part='unknown-linux-musl' ;;
        Darwin) os_part='apple-darwin' ;;
        *) os_part='' ;;
    esac
    case "$arch" in
        x86_64 | amd64) arch_part='x86_64' ;;
        aarch64 | arm64) arch_part='aarch64' ;;
        *) arch_part='' ;;
    esac
    target="$arch_part-$os_part"
    asset="verun-$target"
    want_sha=''
    if [ -n "$os_part" ] && [ -n "$arch_part" ]; then
        want_sha=$(printf '%s\n' "$release_sums" | awk -v n="$asset" '$2 == n || $2 == "*" n { print tolower($1); exit }')
    fi
    if [ -z "$want_sha" ]; then
        error "verun $release_version has no prebuilt binary for $os/$arch" 1 \
            "build it from source with cargo (see the README); prebuilt: Linux on x86_64 and aarch64 (arm64)"
    fi
    case "$want_sha" in
        *[!0-9a-f]*) error "stamped checksum for $asset is malformed" 77 "this install.sh is damaged; download it again" ;;
    esac
    if [ "${#want_sha}" -ne 64 ]; then
        error "stamped checksum for $asset is malformed" 77 "this install.sh is damaged; download it again"
    fi

    # ---- where from ----
    base_url="${VERUN_INSTALL_BASE_URL:-https://github.com/verun-dev/verun/releases/download/v$release_version}"
    while :; do
        case "$base_url" in
            */) base_url="${base_url%/}" ;;
            *) break ;;
        esac
    done
    case "$base_url" in
        https://?*) allow_http=0 ;;
        http://?*)
            if [ "${VERUN_INSTALL_ALLOW_HTTP-}" != 1 ]; then
                error "refusing plain http base URL: $base_url" 64 \
                    "use https://, or set VERUN_INSTALL_ALLOW_HTTP=1 (the stamped SHA-256 is still checked)"
            fi
            allow_http=1
            note "warning: downloading over plain http (VERUN_INSTALL_ALLOW_HTTP=1); relying on the stamped checksum"
            ;;
        *) error "unsupported base URL: $base_url" 64 "VERUN_INSTALL_BASE_URL must start with https://" ;;
    esac

    # ---- tools ----
    if command -v curl >/dev/null 2>&1; then
        downloader=curl
    elif command -v wget >/dev/null 2>&1; then
        downloader=wget
        if ! wget --help 2>&1 | grep -q -- '--https-only'; then
            downloader=wget-basic
            note "warning: this wget cannot enforce https/TLS 1.2; relying on the stamped checksum"
        fi
    else
        error "neither curl nor wget is installed" 69 "install curl (or wget) and run this again"
    fi

    if command -v sha256sum >/dev/null 2>&1; then
        hasher='sha256sum'
    elif command -v shasum >/dev/null 2>&1; then
        hasher='shasum'
    else
        error "neither sha256sum nor shasum is installed; cannot verify the download" 77 \
            "install coreutils (sha256sum) or perl's shasum and run this again"
    fi

    # download URL DEST
    download() {
        case "$downloader" in
            curl)
                if [ "$allow_http" = 1 ]; then
                    curl --proto '=http,https' --proto-redir '=http,https' -fsSL --retry 3 -o "$2" "$1" </dev/null
                else
                    curl --proto '=https' --proto-redir '=https' --tlsv1.2 -fsSL --retry 3 -o "$2" "$1" </dev/null
                fi
                ;;
            wget)
                if [ "$allow_http" = 1 ]; then
                    wget -q -O "$2" "$1" </dev/null
                else
                    wget --https-only --secure-protocol=TLSv1_2 -q -O "$2" "$1" </dev/null
                fi
                ;;
            *) wget -q -O "$2" "$1" </dev/null ;;
        esac
    }

    # sha256_of FILE: prints the lowercase hex digest
    sha256_of() {
        if [ "$hasher" = sha256sum ]; then
            sha256sum "$1" | awk '{ print tolower($1) }'
        else
            shasum -a 256 "$1" | awk '{ print tolower($1) }'
        fi
    }

    # ---- destination ----
    if [ -n "${VERUN_INSTALL_DIR-}" ]; then
        install_dir="$VERUN_INSTALL_DIR"
    elif [ -n "${HOME-}" ]; then
        install_dir="$HOME/.local/bin"
    else
        error "HOME is not set and VERUN_INSTALL_DIR is empty" 64 "set VERUN_INSTALL_DIR=/path/to/bin"
    fi
    dest="$install_dir/verun"

    # ---- temporary files, removed on every exit ----
    tmp_dir=''
    staged=''
    cleanup() {
        if [ -n "$staged" ]; then rm -f "$staged"; fi
        if [ -n "$tmp_dir" ]; then rm -rf "$tmp_dir"; fi
    }
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP

    tmp_dir=$(mktemp -d "${TMPDIR:-/tmp}/verun-install.XXXXXX") ||
        error "cannot create a temporary directory in ${TMPDIR:-/tmp}" 74 "set TMPDIR to a writable directory"
    payload="$tmp_dir/$asset"

    # ---- download ----
    note "downloading $base_url/$asset"
    download "$base_url/$asset" "$payload" ||
        error "download failed: $base_url/$asset" 69 "check the network and VERUN_INSTALL_BASE_URL"

    # ---- checksum (always) ----
    got_sha=$(sha256_of "$payload")
    if [ "$got_sha" != "$want_sha" ]; then
        error "checksum mismatch for $asset: expected sha256 $want_sha, got $got_sha" 77 \
            "the download was altered or is not verun $release_version; nothing was installed; report it if it persists"
    fi

    # ---- signature (when a verifier is available) ----
    sig_tool=''
    if command -v minisign >/dev/null 2>&1; then
        sig_tool=minisign
    elif command -v verun >/dev/null 2>&1; then
        sig_tool=verun
    fi
    if [ -n "$sig_tool" ]; then
        download "$base_url/$asset.minisig" "$payload.minisig" ||
            error "signature missing: $base_url/$asset.minisig could not be downloaded" 77 \
                "$sig_tool is installed, so a signature is required; check VERUN_INSTALL_BASE_URL"
        if [ "$sig_tool" = minisign ]; then
            prehashed=''
            if minisign -h 2>&1 | grep -q -- '-H'; then
                prehashed='-H'
            fi
            # -Q prints only the trusted comment, which must name this very file.
            # shellcheck disable=SC2086 # $prehashed is empty or one flag
            trusted=$(minisign -V $prehashed -Q -P "$release_pubkey" -x "$payload.minisig" -m "$payload" 2>/dev/null </dev/null) ||
                error "bad signature for $asset under the verun release key" 77 \
                    "the download was altered, or minisign is too old (need 0.10+); nothing was installed"
            tab=$(printf '\t')
            case "$tab$trusted$tab" in
                *"${tab}file:$asset$tab"*) ;;
                *)
                    error "signature for $asset was made for another file (trusted comment: $trusted)" 77 \
                        "a valid signature was moved onto the wrong download; nothing was installed"
                    ;;
            esac
            note "signature verified with minisign (trusted comment: $trusted)"
        else
            verun verify "$payload" --key "$release_pubkey" --sig "$payload.minisig" \
                --expect-file "$asset" --quiet </dev/null >/dev/null ||
                error "bad signature for $asset under the verun release key (checked by the installed verun)" 77 \
                    "the download was altered; nothing was installed"
            note "signature verified with the installed verun"
        fi
    else
        note "minisign not found: verified by the SHA-256 stamped in this script only"
    fi

    # ---- install atomically: stage in the destination directory, then rename ----
    mkdir -p "$install_dir" ||
        error "cannot create $install_dir" 74 "set VERUN_INSTALL_DIR to a writable directory"
    staged=$(mktemp "$install_dir/.verun.XXXXXX") ||
        error "cannot write to $install_dir" 74 "set VERUN_INSTALL_DIR to a writable directory"
    cp "$payload" "$staged" ||
        error "cannot write to $install_dir" 74 "check free space and permissions"
    # The copy is what will be renamed into place: check it too.
    if [ "$(sha256_of "$staged")" != "$want_sha" ]; then
        error "the staged copy in $install_dir does not match the verified download" 74 "check free space and permissions"
    fi
    chmod 755 "$staged" ||
        error "cannot chmod $staged" 74 "check permissions of $install_dir"
    mv -f "$staged" "$dest" ||
        error "cannot move verun into $dest" 74 "check permissions of $install_dir"
    staged=''

    note "installed verun $release_version to $dest"
    case ":${PATH-}:" in
        *":$install_dir:"*) ;;
        *) note "note: $install_dir is not on PATH; add it, e.g. export PATH=\"$install_dir:\$PATH\"" ;;
    esac
}

verun_install "$@"
