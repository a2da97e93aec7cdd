#!/usr/bin/env bash
# Benchmark: `verun fetch` against a bare `curl -o` and the careful manual pipeline
# (curl the payload, its .minisig and SHA256SUMS, then `sha256sum -c` and `minisign -V`),
# on a random payload served by nginx over HTTPS on loopback. Prints medians, ratios and
# peak RSS. Usage: [VERUN_BIN=path] benches/fetch.sh [SIZE_MIB=256] [RUNS=5]
#
# Needs: nginx (nginx-light), curl, openssl, minisign, GNU time; installed when missing.
set -euo pipefail

size_mib=${1:-256}
runs=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)

need() { command -v "$1" >/dev/null 2>&1; }
missing=()
need nginx || missing+=(nginx-light)
need minisign || missing+=(minisign)
need openssl || missing+=(openssl)
need curl || missing+=(curl)
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

work=$(mktemp -d /tmp/verun-bench.XXXXXX)
nginx_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/www" "$work/out" "$work/home" "$work/nginx"
chmod 755 "$work" "$work/www"  # nginx workers may run as an unprivileged user

# Payload, checksums, signatures (key generated now, thrown away on exit).
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/www/payload.bin"
(cd "$work/www" && sha256sum payload.bin > SHA256SUMS)
chmod 644 "$work/www/payload.bin" "$work/www/SHA256SUMS"
sha=$(cut -d' ' -f1 "$work/www/SHA256SUMS")
minisign -G -W -p "$work/key.pub" -s "$work/key.sec" >/dev/null
minisign -S -s "$work/key.sec" -m "$work/www/payload.bin" >/dev/null
chmod 644 "$work/www/payload.bin.minisig"
pubkey=$(tail -n1 "$work/key.pub")

# A throwaway CA and server certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=bench CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$work/srv.key" -out "$work/srv.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$work/san.ext"
openssl x509 -req -in "$work/srv.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/san.ext" -out "$work/srv.pem" 2>/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
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
  server {
    listen 127.0.0.1:$port ssl;
    ssl_protocols TLSv1.2 TLSv1.3;  # nginx before 1.23.4 leaves TLS 1.3 off by default
    ssl_certificate $work/srv.pem;
    ssl_certificate_key $work/srv.key;
    root $work/www;
  }
}
CONF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null --cacert "$work/ca.pem" "https://127.0.0.1:$port/SHA256SUMS" && break; sleep 0.1; done
base="https://127.0.0.1:$port"

# Each measurement: "wall_seconds peak_rss_kib user_seconds system_seconds". GNU time
# reports wall time in 10 ms steps (3% of a 0.36 s download), so wall time is taken here in
# nanoseconds around it instead; the fork of GNU time is in every row alike.
measure() {
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f '%M %U %S' -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; return 1; }
  t1=$(date +%s%N)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }') $(cat "$work/t")"
}

run_curl() {
  rm -f "$work/out/curl.bin"
  measure curl -sSf --cacert "$work/ca.pem" -o "$work/out/curl.bin" "$base/payload.bin"
}
run_verun() {
  rm -f "$work/out/verun.bin"
  VERUN_HOME="$work/home" measure "$verun" fetch "$base/payload.bin" -o "$work/out/verun.bin" \
    --key "$pubkey" --sha256 "$sha" --cacert "$work/ca.pem" --max-size 4G -q
}
manual_pipeline() {
  cd "$work/out" && rm -f payload.bin payload.bin.minisig SHA256SUMS &&
    curl -sSf --cacert "$work/ca.pem" -O "$base/payload.bin" &&
    curl -sSf --cacert "$work/ca.pem" -O "$base/payload.bin.minisig" &&
    curl -sSf --cacert "$work/ca.pem" -O "$base/SHA256SUMS" &&
    sha256sum -c --quiet SHA256SUMS &&
    minisign -Vq -p "$work/key.pub" -m payload.bin
}
export -f manual_pipeline
run_verun_pin() {
  rm -f "$work/out/verun-pin.bin"
  VERUN_HOME="$work/home" measure "$verun" fetch "$base/payload.bin" -o "$work/out/verun-pin.bin" \
    --sha256 "$sha" --cacert "$work/ca.pem" --max-size 4G -q
}
run_manual() {
  work="$work" base="$base" measure bash -c manual_pipeline
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

: > "$work/curl.t"; : > "$work/verun.t"; : > "$work/pin.t"; : > "$work/manual.t"
for i in $(seq "$runs"); do
  run_curl >> "$work/curl.t"
  run_verun >> "$work/verun.t"
  run_verun_pin >> "$work/pin.t"
  run_manual >> "$work/manual.t"
  echo "run $i/$runs done" >&2
done
cmp "$work/out/curl.bin" "$work/out/verun.bin"

t_curl=$(cut -d' ' -f1 "$work/curl.t" | median)
t_verun=$(cut -d' ' -f1 "$work/verun.t" | median)
t_manual=$(cut -d' ' -f1 "$work/manual.t" | median)
t_pin=$(cut -d' ' -f1 "$work/pin.t" | median)
cpu() { awk '{print $3 + $4}' "$1" | median; }
rss_curl=$(cut -d' ' -f2 "$work/curl.t" | sort -n | tail -1)
rss_verun=$(cut -d' ' -f2 "$work/verun.t" | sort -n | tail -1)

echo
echo "payload: ${size_mib} MiB over HTTPS (nginx, loopback), ${runs} runs each, medians"
printf '%-44s %8s s  cpu %5s s  peak RSS %6s KiB\n' "curl -o (no verification)" "$t_curl" "$(cpu "$work/curl.t")" "$rss_curl"
printf '%-44s %8s s  cpu %5s s  peak RSS %6s KiB\n' "verun fetch (--key prehashed + --sha256)" "$t_verun" "$(cpu "$work/verun.t")" "$rss_verun"
printf '%-44s %8s s  cpu %5s s\n' "verun fetch (--sha256 only)" "$t_pin" "$(cpu "$work/pin.t")"
printf '%-44s %8s s  cpu %5s s\n' "manual: 3x curl + sha256sum -c + minisign -V" "$t_manual" "$(cpu "$work/manual.t")"
awk -v v="$t_verun" -v c="$t_curl" -v m="$t_manual" 'BEGIN {
  printf "verun / curl   = %.2fx   (target <= 1.4x)\n", v / c;
  printf "manual / verun = %.2fx   (target >= 3x)\n", m / v }'
