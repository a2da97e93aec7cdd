#!/usr/bin/env bash
# Benchmark: verun's wall time against this machine's CPU floor, bare curl and the careful
# manual pipeline (curl the payload, its .minisig and SHA256SUMS, then `sha256sum -c` and
# `minisign -V`), on a random payload served by nginx on loopback (HTTPS with TLS 1.3, and
# plain HTTP).
#
# Usage: [VERUN_BIN=path] benches/fetch.sh [SIZE_MIB=256] [RUNS=7]
#
# The floor of a scenario is what no client can beat on this machine: curl's CPU time for
# the same download plus the CPU time of each digest verun must compute (SHA-256 always;
# BLAKE2b-512 for a prehashed minisign signature; SHA-512 for a --sha512 pin), each measured
# alone on the same bytes with the fastest of coreutils, openssl and verun's own (the CPU of
# `verun verify` with and without that digest), less what `cat` needs to start and read the
# file, divided by the cores the client may use, and never less than curl's wall time:
#
#     floor = max(curl wall, (curl CPU + digest CPU) / cores)
#
# nginx runs on the same two cores, so a second column (+srv) adds the CPU nginx spent
# serving curl's download to the numerator, and is never less than the slowest single
# digest (one stream's digest cannot be split between cores) and, for `-o` to disk, than
# curl followed by an fsync of its file (verun's file is on disk when it returns, curl's
# only in the page cache): what this machine allows.
#
# Scenarios: `fetch -o` to disk and to tmpfs (/dev/shm), `run` (memfd; the payload is a
# script that exits at once, followed by the random bytes; the cache already holds it, and
# once per run a first `run` with an empty VERUN_HOME), each over HTTPS and HTTP, on
# both cores and pinned to one (`taskset -c 0`, nginx moved to the other core: pipelining
# cannot help, cores = 1). Every command runs RUNS times, interleaved; medians, min-max,
# and peak RSS (max over runs). Wall and CPU time come from a small python3 wrapper
# (perf_counter_ns around posix_spawn + wait4's rusage), so the 10 ms steps of GNU time do
# not blur them; GNU time (forked by the wrapper, forking the command) gives the peak RSS.
#
# OpenPGP (https, both cores, to disk): a payload vouched for by a SHA256SUMS with a detached
# gpg signature, and a payload with its own SHA-512 gpg signature, each against bare curl and
# the manual `curl && gpgv && sha256sum -c` pipeline in the same run. Sigstore (https, both
# cores, disk and tmpfs): a payload with a bundle from a private instance made on the spot.
#
# Needs: nginx (nginx-light), curl, openssl, minisign, gnupg, gpgv, python3, GNU time,
# coreutils; installed when missing. Not part of CI: its figures depend on the machine and its load.
set -euo pipefail

size_mib=${1:-256}
runs=${2:-7}
root=$(cd "$(dirname "$0")/.." && pwd)

need() { command -v "$1" >/dev/null 2>&1; }
missing=()
need nginx || missing+=(nginx-light)
need minisign || missing+=(minisign)
need openssl || missing+=(openssl)
need curl || missing+=(curl)
need python3 || missing+=(python3)
need gpg || missing+=(gnupg)
need gpgv || missing+=(gpgv)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# VERUN_BIN=path measures another build (e.g. the static release from install/release.sh).
if [ -n "${VERUN_BIN:-}" ]; then
  verun=$VERUN_BIN
else
  (cd "$root" && cargo build --release --quiet --bin verun)
  verun="$root/target/release/verun"
fi

load_before=$(cut -d" " -f1-3 /proc/loadavg)
work=$(mktemp -d /tmp/verun-bench.XXXXXX)
shm=$(mktemp -d /dev/shm/verun-bench.XXXXXX)
nginx_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  rm -rf "$work" "$shm"
}
trap cleanup EXIT
mkdir -p "$work/www" "$work/out" "$work/home" "$work/nginx" "$work/t"
chmod 755 "$work" "$work/www"  # nginx workers may run as an unprivileged user
[ "$(stat -f -c %T "$shm")" = tmpfs ] || echo "warning: $shm is not on tmpfs" >&2
[ "$(stat -f -c %T "$work")" != tmpfs ] || echo "warning: $work is on tmpfs, not disk" >&2

# Payload: a script that exits at once (for `run`), then random bytes up to SIZE_MIB.
payload=$work/www/payload.bin
{
  printf '#!/bin/sh\nexit 0\n'
  head -c "$((size_mib * 1024 * 1024 - 17))" /dev/urandom
} > "$payload"
(cd "$work/www" && sha256sum payload.bin > SHA256SUMS)
chmod 644 "$payload" "$work/www/SHA256SUMS"
sha=$(cut -d' ' -f1 "$work/www/SHA256SUMS")
sha512=$(sha512sum "$payload" | cut -d' ' -f1)
minisign -G -W -p "$work/key.pub" -s "$work/key.sec" >/dev/null
minisign -S -s "$work/key.sec" -m "$payload" >/dev/null
chmod 644 "$payload.minisig"
pubkey=$(tail -n1 "$work/key.pub")

# OpenPGP: an Ed25519 signing key made here; SHA256SUMS signed (detached, binary), and the
# payload itself signed with SHA-512 (as `gpg --digest-algo SHA512 -b` makes it). Both are
# checked by verun in the same single pass as the download; the manual pipeline runs gpgv.
gnupg=$work/gnupg
mkdir -m 700 "$gnupg"
gpg_q() { gpg --batch --quiet --homedir "$gnupg" --pinentry-mode loopback --passphrase '' "$@" 2>/dev/null; }
gpg_q --quick-gen-key 'verun bench <bench@example.invalid>' ed25519 sign never
gpg_q --armor --export > "$work/cert.asc"
gpg_q --export > "$work/keyring.gpg"
# The list names the same bytes under another name (a hard link), so that the payload's own
# `.sig` sibling (found, and checked: every piece of evidence found must pass) does not
# turn the list scenario into the signature scenario.
ln "$payload" "$work/www/listed.bin"
(cd "$work/www" && sha256sum listed.bin > PGPSUMS)
gpg_q --digest-algo SHA256 --detach-sign -o "$work/www/PGPSUMS.sig" "$work/www/PGPSUMS"
gpg_q --digest-algo SHA512 --detach-sign -o "$work/www/payload.bin.sig" "$payload"
chmod 644 "$work/www/PGPSUMS" "$work/www/PGPSUMS.sig" "$work/www/payload.bin.sig" "$work/cert.asc" "$work/keyring.gpg"

# Sigstore: a private instance made here (examples/sigstore_fixture.rs: Fulcio-like CA, CT
# and Rekor keys, a signed checkpoint) and a v0.3 bundle for the same bytes under another
# name, found as its `.sigstore.json` sibling; verun checks it from the SHA-256 of the pass.
ln "$payload" "$work/www/sigstore.bin"
sigstore_flags=$(cd "$root" && cargo run --quiet --release --example sigstore_fixture -- \
  "$work/www/sigstore.bin" "$work")
chmod 644 "$work/www/sigstore.bin.sigstore.json" "$work/trusted_root.json"
read -r -a sigstore_args <<< "$sigstore_flags"

# A throwaway CA and server certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=bench CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$work/srv.key" -out "$work/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$work/san.ext"
openssl x509 -req -in "$work/srv.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/san.ext" -out "$work/srv.pem" 2>/dev/null

ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1",0))
print(*[x.getsockname()[1] for x in s])')
read -r port_s port_h <<<"$ports"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  root $work/www;
  server {
    listen 127.0.0.1:$port_s ssl;
    ssl_protocols TLSv1.2 TLSv1.3;  # nginx before 1.23.4 leaves TLS 1.3 off by default
    ssl_certificate $work/srv.pem;
    ssl_certificate_key $work/srv.key;
  }
  server {
    listen 127.0.0.1:$port_h;
  }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null --cacert "$work/ca.pem" "https://127.0.0.1:$port_s/SHA256SUMS" && break; sleep 0.1; done
declare -A base=([https]="https://127.0.0.1:$port_s" [http]="http://127.0.0.1:$port_h")

# nginx's processes (master and worker) go to core 1 while a pinned client runs on core 0.
# shellcheck disable=SC2046 # one pid per word
nginx_pids() { echo "$nginx_pid" $(cat /proc/"$nginx_pid"/task/*/children 2>/dev/null); }
BENCH_SERVER_PIDS=$(nginx_pids)
export BENCH_SERVER_PIDS
place_nginx() { for p in $(nginx_pids); do taskset -a -p -c "$1" "$p" >/dev/null; done; }

# measure NAME CMD...: one line "wall_s cpu_s peak_rss_kib server_cpu_s" appended to
# $work/t/NAME. CPU is user + system of the command and everything it waited for; server
# CPU is what nginx used meanwhile (from /proc/PID/task/*/schedstat, in nanoseconds).
cat > "$work/measure.py" <<'PY'
import os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
err = os.open(out + ".err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
null = os.open(os.devnull, os.O_WRONLY)
acts = [(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, err, 2)]
def server_ns():  # CPU time used so far by nginx (every thread of each of its processes)
    total = 0
    for p in os.environ.get("BENCH_SERVER_PIDS", "").split():
        for t in os.listdir(f"/proc/{p}/task"):
            total += int(open(f"/proc/{p}/task/{t}/schedstat").read().split()[0])
    return total
s0 = server_ns()
t0 = time.perf_counter_ns()
# GNU time does the fork: a child forked from python would report python's own RSS as its peak.
pid = os.posix_spawn("/usr/bin/time", ["time", "-f", "%M", "-o", out + ".rss", *cmd], os.environ,
                     file_actions=acts)
_, status, ru = os.wait4(pid, 0)
t1 = time.perf_counter_ns()
s1 = server_ns()
if os.waitstatus_to_exitcode(status) != 0:
    sys.stderr.write(open(out + ".err").read())
    sys.exit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(cmd)}")
with open(out, "a") as f:
    rss = open(out + ".rss").read().split()[-1]
    f.write(f"{(t1 - t0) / 1e9:.4f} {ru.ru_utime + ru.ru_stime:.4f} {rss} {(s1 - s0) / 1e9:.4f}\n")
PY
measure() { local name=$1; shift; python3 "$work/measure.py" "$work/t/$name" "$@"; }

# The CPU of each digest alone, on the payload (in the page cache): the fastest tool wins,
# less what `cat` takes to start and read the same file (verun hashes bytes it already
# holds), so the floor stays a floor.
digest_tools=(
  "sha256 sha256sum" "sha256 openssl dgst -sha256"
  "blake2b b2sum" "blake2b openssl dgst -blake2b512"
  "sha512 sha512sum" "sha512 openssl dgst -sha512"
)
cat "$payload" > /dev/null
for i in $(seq "$runs"); do
  measure tool-cat cat "$payload"
  # verun's own digests (sha2, blake2b_simd) through `verun verify` on the same file:
  # differences between these rows give each digest alone.
  VERUN_HOME="$work/home" measure v-sha256 "$verun" verify "$payload" --sha256 "$sha" -q
  VERUN_HOME="$work/home" measure v-key "$verun" verify "$payload" --key "$pubkey" --sha256 "$sha" -q
  VERUN_HOME="$work/home" measure v-sha512 "$verun" verify "$payload" --sha512 "$sha512" -q
  for t in "${digest_tools[@]}"; do
    read -r d tool <<<"$t"
    # shellcheck disable=SC2086
    measure "tool-${tool// /_}" $tool "$payload"
  done
done

# The commands. Each writes a fresh output; the tmpfs ones write to $shm.
pinned=()
do_curl() { # DEST_DIR PROTO
  rm -f "$1/curl.bin"
  measure "$3" "${pinned[@]}" curl -sSf --cacert "$work/ca.pem" -o "$1/curl.bin" "${base[$2]}/payload.bin"
}
verun_args() { # PROTO
  echo --cacert "$work/ca.pem" --max-size 4G -q
  [ "$1" = http ] && echo --allow-http
  return 0
}
do_fetch() { # DEST_DIR PROTO NAME EVIDENCE...
  local dir=$1 proto=$2 name=$3; shift 3
  rm -f "$dir/verun.bin"
  # shellcheck disable=SC2046
  VERUN_HOME="$work/home" measure "$name" "${pinned[@]}" "$verun" fetch "${base[$proto]}/${file:-payload.bin}" \
    -o "$dir/verun.bin" "$@" $(verun_args "$proto")
}
do_run() { # PROTO NAME EVIDENCE...
  local proto=$1 name=$2; shift 2
  # shellcheck disable=SC2046
  VERUN_HOME="$work/home" measure "$name" "${pinned[@]}" "$verun" run "${base[$proto]}/payload.bin" \
    "$@" $(verun_args "$proto")
}
# shellcheck disable=SC2154 # base_s: set by the caller, for the exported function
manual_pipeline() {
  cd "$work/out" && rm -f payload.bin payload.bin.minisig SHA256SUMS &&
    curl -sSf --cacert "$work/ca.pem" -O "$base_s/payload.bin" &&
    curl -sSf --cacert "$work/ca.pem" -O "$base_s/payload.bin.minisig" &&
    curl -sSf --cacert "$work/ca.pem" -O "$base_s/SHA256SUMS" &&
    sha256sum -c --quiet SHA256SUMS &&
    minisign -Vq -p "$work/key.pub" -m payload.bin
}
export -f manual_pipeline
# The same care for OpenPGP publishers: a signed SHA256SUMS (curl, gpgv, sha256sum -c), and a
# payload signed with SHA-512 (curl, gpgv).
manual_gpg_list() {
  cd "$work/out" && rm -f listed.bin PGPSUMS PGPSUMS.sig &&
    curl -sSf --cacert "$work/ca.pem" -O "$base_s/listed.bin" &&
    curl -sSf --cacert "$work/ca.pem" -O "$base_s/PGPSUMS" &&
    curl -sSf --cacert "$work/ca.pem" -O "$base_s/PGPSUMS.sig" &&
    gpgv -q --keyring "$work/keyring.gpg" PGPSUMS.sig PGPSUMS 2>/dev/null &&
    sha256sum -c --quiet PGPSUMS
}
manual_gpg_payload() {
  cd "$work/out" && rm -f payload.bin payload.bin.sig &&
    curl -sSf --cacert "$work/ca.pem" -O "$base_s/payload.bin" &&
    curl -sSf --cacert "$work/ca.pem" -O "$base_s/payload.bin.sig" &&
    gpgv -q --keyring "$work/keyring.gpg" payload.bin.sig payload.bin 2>/dev/null
}
export -f manual_gpg_list manual_gpg_payload

combos=("https both" "http both" "https pinned" "http pinned")
for i in $(seq "$runs"); do
  for c in "${combos[@]}"; do
    read -r proto cores <<<"$c"
    if [ "$cores" = pinned ]; then pinned=(taskset -c 0); place_nginx 1; else pinned=(); place_nginx 0,1; fi
    k="$proto-$cores"
    do_curl "$work/out" "$proto" "curl-disk-$k"
    # verun's `-o` file is on disk when it returns (fsync before the rename); curl's is still
    # in the page cache. This is curl with the same promise.
    rm -f "$work/out/curl.bin"
    # shellcheck disable=SC2016 # the inner sh expands its own arguments
    measure "curlsync-disk-$k" "${pinned[@]}" sh -c 'curl -sSf --cacert "$1" -o "$2" "$3" && sync "$2"' sh \
      "$work/ca.pem" "$work/out/curl.bin" "${base[$proto]}/payload.bin"
    do_fetch "$work/out" "$proto" "key-disk-$k" --key "$pubkey" --sha256 "$sha"
    do_fetch "$work/out" "$proto" "pin-disk-$k" --sha256 "$sha"
    do_curl "$shm" "$proto" "curl-tmpfs-$k"
    do_fetch "$shm" "$proto" "key-tmpfs-$k" --key "$pubkey" --sha256 "$sha"
    do_fetch "$shm" "$proto" "pin-tmpfs-$k" --sha256 "$sha"
    do_run "$proto" "key-run-$k" --key "$pubkey" --sha256 "$sha"
    do_run "$proto" "pin-run-$k" --sha256 "$sha"
    if [ "$k" = https-both ]; then
      # A first `run` of a payload also copies it into the cache (VERUN_HOME/cache); the
      # other runs find it there already.
      rm -rf "$work/home1"
      # shellcheck disable=SC2046 # verun_args prints one flag per word
      VERUN_HOME="$work/home1" measure "key-run1-$k" "$verun" run "${base[$proto]}/payload.bin" \
        --key "$pubkey" --sha256 "$sha" $(verun_args "$proto")
      do_fetch "$work/out" "$proto" "s512-disk-$k" --sha512 "$sha512"
      work="$work" base_s="${base[https]}" measure "manual-$k" bash -c manual_pipeline
      file=listed.bin do_fetch "$work/out" "$proto" "pgplist-disk-$k" --key "$work/cert.asc" \
        --checksums "${base[$proto]}/PGPSUMS"
      do_fetch "$work/out" "$proto" "pgp512-disk-$k" --key "$work/cert.asc"
      file=listed.bin do_fetch "$shm" "$proto" "pgplist-tmpfs-$k" --key "$work/cert.asc" \
        --checksums "${base[$proto]}/PGPSUMS"
      do_fetch "$shm" "$proto" "pgp512-tmpfs-$k" --key "$work/cert.asc"
      file=sigstore.bin do_fetch "$work/out" "$proto" "sigstore-disk-$k" "${sigstore_args[@]}"
      file=sigstore.bin do_fetch "$shm" "$proto" "sigstore-tmpfs-$k" "${sigstore_args[@]}"
      work="$work" base_s="${base[https]}" measure "manualpgplist-$k" bash -c manual_gpg_list
      work="$work" base_s="${base[https]}" measure "manualpgp512-$k" bash -c manual_gpg_payload
    fi
  done
  echo "run $i/$runs done" >&2
done
place_nginx 0,1
cmp "$work/out/curl.bin" "$work/out/verun.bin"
cmp "$shm/curl.bin" "$shm/verun.bin"

# Figures. col FILE N: column N of every run; med/lo/hi: median, min, max.
col() { cut -d' ' -f"$2" "$work/t/$1"; }
med() { sort -g | awk '{a[NR]=$1} END {printf "%.3f", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
lo() { sort -g | head -1; }
hi() { sort -g | tail -1; }
wall() { col "$1" 1 | med; }
cpu() { col "$1" 2 | med; }
rss_mib() { col "$1" 3 | hi | awk '{printf "%.1f", $1 / 1024}'; }
span() { printf '%.3f-%.3f' "$(col "$1" 1 | lo)" "$(col "$1" 1 | hi)"; }

declare -A dcpu
cat_cpu=$(cpu tool-cat)
for t in "${digest_tools[@]}"; do
  read -r d tool <<<"$t"
  c=$(awk -v a="$(cpu "tool-${tool// /_}")" -v b="$cat_cpu" 'BEGIN { d = a - b; printf "%.3f", (d > 0) ? d : 0 }')
  if [ -z "${dcpu[$d]:-}" ] || awk -v a="$c" -v b="${dcpu[$d]}" 'BEGIN { exit !(a < b) }'; then
    dcpu[$d]=$c
  fi
done
net() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; printf "%.3f", (d > 0) ? d : 0 }'; }
declare -A vcpu=(
  [sha256]=$(net "$(cpu v-sha256)" "$cat_cpu")
  [blake2b]=$(net "$(cpu v-key)" "$(cpu v-sha256)")
  [sha512]=$(net "$(cpu v-sha512)" "$(cpu v-sha256)")
)
for d in sha256 blake2b sha512; do
  if awk -v a="${vcpu[$d]}" -v b="${dcpu[$d]}" 'BEGIN { exit !(a < b) }'; then dcpu[$d]=${vcpu[$d]}; fi
done

model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(sha_ni|avx2|avx512.*|vaes|vpclmulqdq|aes)$' | tr '\n' ' ')
echo
echo "machine: $model, $(nproc) cores; hashing flags: ${flags:-none}"
echo "kernel $(uname -r); load before the runs: $load_before"
echo "verun: $verun ($(stat -c %s "$verun") bytes)"
echo "payload: ${size_mib} MiB, ${runs} runs each; medians (min-max); peak RSS = max over runs"
echo
echo "digest CPU alone on the payload (page cache), median; net = less cat's $cat_cpu s:"
for t in "${digest_tools[@]}"; do
  read -r d tool <<<"$t"
  c=$(cpu "tool-${tool// /_}")
  n=$(awk -v a="$c" -v b="$cat_cpu" 'BEGIN { d = a - b; printf "%.3f", (d > 0) ? d : 0 }')
  printf '  %-28s %6s s  net %6s s  %5.0f MB/s\n' "$tool" "$c" "$n" \
    "$(awk -v c="$n" -v s="$size_mib" 'BEGIN { print (c > 0) ? s * 1048576 / c / 1e6 : 0 }')"
done
printf '  %-28s %6s s  net %6s s  (sha2 SHA-256, less cat)\n' "verun verify --sha256" "$(cpu v-sha256)" "${vcpu[sha256]}"
printf '  %-28s %6s s  net %6s s  (blake2b_simd BLAKE2b, less the row above)\n' "verun verify --key --sha256" "$(cpu v-key)" "${vcpu[blake2b]}"
printf '  %-28s %6s s  net %6s s  (sha2 SHA-512, less verify --sha256)\n' "verun verify --sha512" "$(cpu v-sha512)" "${vcpu[sha512]}"
echo "  floor uses the fastest: sha256 ${dcpu[sha256]} s, blake2b ${dcpu[blake2b]} s, sha512 ${dcpu[sha512]} s"

# floor CURL_NAME DIGEST_SUM CORES: the issue's floor, max(curl wall, (curl CPU + digests) / cores).
floor() {
  awk -v cw="$(wall "$1")" -v cc="$(cpu "$1")" -v d="$2" -v k="$3" \
    'BEGIN { f = (cc + d) / k; if (f < cw) f = cw; printf "%.3f", f }'
}
# floor_srv CURL_NAME DIGEST_SUM DIGEST_MAX CORES SERVER(0/1): the same, with nginx's CPU
# during curl's download added when nginx shares the client's cores, and never less than
# the slowest single digest (one stream's digest cannot be split between cores).
# For `-o disk`, it is also never less than curl's wall with an fsync of its file (DURABLE).
floor_srv() {
  awk -v cw="$(wall "$1")" -v cc="$(cpu "$1")" -v sc="$(col "$1" 4 | med)" -v d="$2" -v m="$3" \
    -v k="$4" -v srv="$5" -v dw="${6:-0}" \
    'BEGIN { f = (cc + srv * sc + d) / k; if (f < cw) f = cw; if (f < m) f = m; if (f < dw) f = dw
             printf "%.3f", f }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# row NAME LABEL CURL_NAME DIGESTS CORES SERVER: DIGESTS is a list like "sha256 blake2b".
declare -A xfloor xsrv  # wall / floor and wall / floor +srv of each row, for the summary
row() {
  local n=$1 label=$2 ref=$3 digests=$4 ncores=$5 srv=$6 durable=0
  local w sum=0 max=0 d f fs
  case $n in *-disk-*) [ -n "$digests" ] && durable=$(wall "curlsync-${n#*-}") ;; esac
  w=$(wall "$n")
  for d in $digests; do
    sum=$(awk -v a="$sum" -v b="${dcpu[$d]}" 'BEGIN { print a + b }')
    max=$(awk -v a="$max" -v b="${dcpu[$d]}" 'BEGIN { print (b > a) ? b : a }')
  done
  f=$(floor "$ref" "$sum" "$ncores")
  fs=$(floor_srv "$ref" "$sum" "$max" "$ncores" "$srv" "$durable")
  # busy: the share of the machine's cores that the client and nginx kept busy.
  local busy
  busy=$(awk -v c="$(cpu "$n")" -v s="$(col "$n" 4 | med)" -v w="$w" -v k="$(nproc)" \
    'BEGIN { printf "%3.0f%%", 100 * (c + s) / (k * w) }')
  printf '  %-36s %6s s (%s)  cpu %5s  srv %5s  busy %4s  rss %4s MiB  %5sx curl  floor %5s %5sx  +srv %5s %5sx\n' \
    "$label" "$w" "$(span "$n")" "$(cpu "$n")" "$(col "$n" 4 | med)" "$busy" "$(rss_mib "$n")" \
    "$(ratio "$w" "$(wall "$ref")")" "$f" "$(ratio "$w" "$f")" "$fs" "$(ratio "$w" "$fs")"
  xfloor[$n]=$(ratio "$w" "$f")
  xsrv[$n]=$(ratio "$w" "$fs")
}
echo
echo "columns: wall median (min-max); client CPU; nginx CPU meanwhile; busy = (client + nginx"
echo "  CPU) / (all cores x wall), how much of the machine the pair kept busy; peak RSS; wall / curl's;"
echo "  floor = max(curl wall, (curl CPU + digest CPU) / cores) and wall / floor;"
echo "  +srv = the same with nginx's CPU added when it shares the cores, and at least the"
echo "  slowest single digest, and for -o disk at least curl's wall with an fsync of its"
echo "  file (verun's file is on disk when it returns), and wall / that"
for c in "${combos[@]}"; do
  read -r proto cores <<<"$c"
  k="$proto-$cores"
  if [ "$cores" = pinned ]; then ncores=1 srv=0; else ncores=$(nproc) srv=1; fi
  echo
  echo "$proto, $([ "$cores" = pinned ] && echo "client pinned to core 0 (nginx on core 1)" || echo "$ncores cores shared with nginx"):"
  row "curl-disk-$k" "curl -o disk" "curl-disk-$k" "" "$ncores" "$srv"
  row "curlsync-disk-$k" "curl -o disk && sync FILE" "curl-disk-$k" "" "$ncores" "$srv"
  row "key-disk-$k" "verun fetch -o disk --key --sha256" "curl-disk-$k" "sha256 blake2b" "$ncores" "$srv"
  row "pin-disk-$k" "verun fetch -o disk --sha256" "curl-disk-$k" "sha256" "$ncores" "$srv"
  if [ "$k" = https-both ]; then
    row "s512-disk-$k" "verun fetch -o disk --sha512" "curl-disk-$k" "sha256 sha512" "$ncores" "$srv"
    row "pgplist-disk-$k" "verun fetch -o disk, OpenPGP-signed list" "curl-disk-$k" "sha256" "$ncores" "$srv"
    row "pgp512-disk-$k" "verun fetch -o disk, OpenPGP SHA-512 sig" "curl-disk-$k" "sha256 sha512" "$ncores" "$srv"
    row "sigstore-disk-$k" "verun fetch -o disk, Sigstore bundle" "curl-disk-$k" "sha256" "$ncores" "$srv"
  fi
  if [ "$k" = https-both ]; then
    row "pgplist-tmpfs-$k" "verun fetch -o tmpfs, OpenPGP-signed list" "curl-tmpfs-$k" "sha256" "$ncores" "$srv"
    row "pgp512-tmpfs-$k" "verun fetch -o tmpfs, OpenPGP SHA-512 sig" "curl-tmpfs-$k" "sha256 sha512" "$ncores" "$srv"
    row "sigstore-tmpfs-$k" "verun fetch -o tmpfs, Sigstore bundle" "curl-tmpfs-$k" "sha256" "$ncores" "$srv"
  fi
  row "curl-tmpfs-$k" "curl -o tmpfs" "curl-tmpfs-$k" "" "$ncores" "$srv"
  row "key-tmpfs-$k" "verun fetch -o tmpfs --key --sha256" "curl-tmpfs-$k" "sha256 blake2b" "$ncores" "$srv"
  row "pin-tmpfs-$k" "verun fetch -o tmpfs --sha256" "curl-tmpfs-$k" "sha256" "$ncores" "$srv"
  row "key-run-$k" "verun run (memfd) --key --sha256" "curl-tmpfs-$k" "sha256 blake2b" "$ncores" "$srv"
  row "pin-run-$k" "verun run (memfd) --sha256" "curl-tmpfs-$k" "sha256" "$ncores" "$srv"
  if [ "$k" = https-both ]; then
    row "key-run1-$k" "  the same, first run (fills cache)" "curl-tmpfs-$k" "sha256 blake2b" "$ncores" "$srv"
  fi
  printf '  %-36s %sx fetch -o disk, %sx fetch -o tmpfs\n' "run / fetch (--key --sha256)" \
    "$(ratio "$(wall "key-run-$k")" "$(wall "key-disk-$k")")" \
    "$(ratio "$(wall "key-run-$k")" "$(wall "key-tmpfs-$k")")"
  printf '  %-36s %sx fetch -o disk, %sx fetch -o tmpfs\n' "run / fetch (--sha256)" \
    "$(ratio "$(wall "pin-run-$k")" "$(wall "pin-disk-$k")")" \
    "$(ratio "$(wall "pin-run-$k")" "$(wall "pin-tmpfs-$k")")"
  if [ "$k" = https-both ]; then
    printf '  %-36s %6s s (%s)  cpu %5s  = %sx verun fetch -o disk --key --sha256\n' \
      "manual: 3x curl, sha256sum, minisign" "$(wall "manual-$k")" "$(span "manual-$k")" \
      "$(cpu "manual-$k")" "$(ratio "$(wall "manual-$k")" "$(wall "key-disk-$k")")"
    printf '  %-36s %6s s (%s)  cpu %5s  = %sx verun (OpenPGP-signed list)\n' \
      "manual: 3x curl, gpgv, sha256sum -c" "$(wall "manualpgplist-$k")" "$(span "manualpgplist-$k")" \
      "$(cpu "manualpgplist-$k")" "$(ratio "$(wall "manualpgplist-$k")" "$(wall "pgplist-disk-$k")")"
    printf '  %-36s %6s s (%s)  cpu %5s  = %sx verun (OpenPGP SHA-512 signature)\n' \
      "manual: 2x curl, gpgv" "$(wall "manualpgp512-$k")" "$(span "manualpgp512-$k")" \
      "$(cpu "manualpgp512-$k")" "$(ratio "$(wall "manualpgp512-$k")" "$(wall "pgp512-disk-$k")")"
  fi
done

# The issue's targets, on the headline scenario (HTTPS, both cores, to disk).
k=https-both
sb=$(awk -v a="${dcpu[sha256]}" -v b="${dcpu[blake2b]}" 'BEGIN { print a + b }')
echo
awk -v kw="$(wall "key-disk-$k")" -v pw="$(wall "pin-disk-$k")" -v cw="$(wall "curl-disk-$k")" \
  -v f="$(floor "curl-disk-$k" "$sb" "$(nproc)")" -v mw="$(wall "manual-$k")" \
  -v rw="$(wall "key-run-$k")" -v tw="$(wall "key-tmpfs-$k")" \
  -v prw="$(wall "pin-run-$k")" -v ptw="$(wall "pin-tmpfs-$k")" -v pdw="$(wall "pin-disk-$k")" \
  -v gl="$(wall "pgplist-disk-$k")" -v gp="$(wall "pgp512-disk-$k")" -v ct="$(wall "curl-tmpfs-$k")" \
  -v glt="$(wall "pgplist-tmpfs-$k")" -v gpt="$(wall "pgp512-tmpfs-$k")" \
  -v ss="$(wall "sigstore-disk-$k")" -v sst="$(wall "sigstore-tmpfs-$k")" \
  -v rss="$(for n in key-disk pin-disk key-tmpfs key-run; do col "$n-$k" 3; done | hi)" '
  function v(ok) { return ok ? "met" : "NOT met" }
  BEGIN {
    printf "targets (https, both cores, -o disk unless said):\n"
    printf "  --key --sha256 <= 1.1x floor:   %.2fx  %s\n", kw / f, v(kw / f <= 1.1)
    printf "  --key --sha256 <= 1.4x curl:    %.2fx  %s\n", kw / cw, v(kw / cw <= 1.4)
    printf "  --sha256 <= 1.1x curl:          %.2fx  %s\n", pw / cw, v(pw / cw <= 1.1)
    printf "  manual / verun >= 3.5x:         %.2fx  %s\n", mw / kw, v(mw / kw >= 3.5)
    printf "  peak RSS <= 16 MiB:             %.1f MiB  %s\n", rss / 1024, v(rss <= 16384)
    printf "  run within 10%% of fetch -o:     %.2fx disk, %.2fx tmpfs  %s  (--key --sha256)\n", rw / kw, rw / tw,
      v(rw / kw <= 1.1 && rw / tw <= 1.1)
    printf "                                  %.2fx disk, %.2fx tmpfs  %s  (--sha256)\n", prw / pdw, prw / ptw,
      v(prw / pdw <= 1.1 && prw / ptw <= 1.1)
    printf "  OpenPGP-signed list <= 1.4x curl:  %.2fx disk, %.2fx tmpfs  %s\n", gl / cw, glt / ct,
      v(gl / cw <= 1.4 && glt / ct <= 1.4)
    printf "  OpenPGP SHA-512 sig <= 1.4x curl:  %.2fx disk, %.2fx tmpfs  %s\n", gp / cw, gpt / ct,
      v(gp / cw <= 1.4 && gpt / ct <= 1.4)
    printf "  Sigstore bundle <= 1.3x curl:      %.2fx disk, %.2fx tmpfs  %s\n", ss / cw, sst / ct,
      v(ss / cw <= 1.3 && sst / ct <= 1.3)
  }'
# What the floor rule says where the targets fail: with nginx's CPU counted (+srv), and on
# one core (pinned), where verun's own work per byte is all that is measured.
echo "the floor rule, --key --sha256 (wall / floor; wall / floor +srv):"
for c in "${combos[@]}"; do
  read -r proto cores <<<"$c"
  kk="$proto-$cores"
  printf '  %-14s -o disk %sx; %sx   -o tmpfs %sx; %sx   run %sx; %sx\n' "$proto $cores" \
    "${xfloor[key-disk-$kk]}" "${xsrv[key-disk-$kk]}" "${xfloor[key-tmpfs-$kk]}" "${xsrv[key-tmpfs-$kk]}" \
    "${xfloor[key-run-$kk]}" "${xsrv[key-run-$kk]}"
done

