#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a short time (FUZZ_SECONDS each, default 20): a
# smoke test that no input found in that time makes a parser of outside input panic. Installs
# cargo-fuzz when missing. Uses the pinned toolchain: `--sanitizer none` needs no nightly (the
# targets are safe Rust; coverage guidance still applies).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-20}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
log="$(mktemp)"
for target in $(cargo fuzz list); do
    echo "fuzz-smoke: $target for ${seconds}s"
    status=0
    cargo fuzz run "$target" --sanitizer none -- -max_total_time="$seconds" >"$log" 2>&1 || status=$?
    grep -E "^(Done|#[0-9]+ +DONE)" "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log" >&2
        echo "fuzz-smoke: $target failed (exit $status); crashing inputs are in fuzz/artifacts/$target" >&2
        exit 1
    fi
done
rm -f "$log"
