#!/usr/bin/env bash
# The test command: installs the peer programs the tests run against (Prometheus and
# promtool) when they are missing, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
cargo test --workspace --locked "$@"
