#!/usr/bin/env bash
# Run every fuzz target for a bounded time.
#
#   fuzz/run.sh              30 s per target
#   fuzz/run.sh SECONDS      SECONDS per target
#   fuzz/run.sh --smoke      5 s per target; where nightly or cargo-fuzz is missing it
#                            skips loudly (exit 0), or fails (exit 69) when CI=true or
#                            VERUN_REQUIRE_FUZZ=1 (.ci/run installs cargo-fuzz first)
#   fuzz/run.sh SECONDS TARGET...   only these targets
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). Seeds come
# from fuzz/seeds/TARGET (committed); the growing corpus from fuzz/corpus/TARGET and crashes
# in fuzz/artifacts/TARGET (both ignored by git). Exits non-zero when any target crashed:
# minimise the crash into fuzz/regressions/TARGET/ (see fuzz/regressions/README.md), where
# tests/fuzz_regressions.rs replays it in every `cargo test`, then fix it.
set -euo pipefail
cd "$(dirname "$0")"

smoke=0
secs=30
if [[ $# -gt 0 ]]; then
    case "$1" in
        --smoke) smoke=1; secs=5 ;;
        ''|*[!0-9]*) echo "usage: fuzz/run.sh [SECONDS|--smoke] [TARGET...]" >&2; exit 64 ;;
        *) secs=$1 ;;
    esac
    shift
fi

missing=""
cargo +nightly --version >/dev/null 2>&1 || missing="the nightly toolchain"
cargo fuzz --version >/dev/null 2>&1 || missing="${missing:+$missing and }cargo-fuzz"
required=0
if [[ "${CI:-}" == "true" || "${VERUN_REQUIRE_FUZZ:-}" == "1" ]]; then
    required=1
fi
if [[ -n "$missing" ]]; then
    if [[ $smoke -eq 1 && $required -eq 0 ]]; then
        echo "fuzz smoke: SKIPPED ($missing not installed; rustup toolchain install nightly; cargo install cargo-fuzz)"
        exit 0
    fi
    echo "fuzz/run.sh: $missing not installed (rustup toolchain install nightly; cargo install cargo-fuzz)" >&2
    exit 69
fi

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "fuzz: building ${#targets[@]} targets"
mkdir -p artifacts
cargo +nightly fuzz build -O >/dev/null 2>artifacts/build.log || { cat artifacts/build.log >&2; exit 1; }

failed=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "seeds/$t"
    log="artifacts/$t.log"
    start=$SECONDS
    # -rss_limit_mb: a parser that balloons on hostile input is a finding too.
    if cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=1024 -max_len=65536 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
        echo "fuzz: $t: ok ($((SECONDS - start)) s, $runs runs, corpus $(ls "corpus/$t" | wc -l))"
    else
        echo "fuzz: $t: FAILED after $((SECONDS - start)) s; see fuzz/$log and fuzz/artifacts/$t/"
        grep -E "panicked|ERROR: libFuzzer|SUMMARY" "$log" | head -5 || true
        failed+=("$t")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: ${#failed[@]} of ${#targets[@]} targets crashed: ${failed[*]}"
    exit 1
fi
echo "fuzz: ${#targets[@]} passed, 0 failed"
