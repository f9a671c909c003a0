#!/usr/bin/env bash
# Installs the peer programs the integration tests in tests/ run against, when missing:
#   promtool    (`promtool check metrics` on the /metrics page)   tests/tests/bank_metrics.rs
#   prometheus  (a real server scraping the bank example)          tests/tests/prometheus_scrape.rs
#   python3 with `jsonschema` (Grafana's dashboard JSON schemas)   tests/tests/dashboards_schema.rs
# Prometheus and promtool come from Debian/Ubuntu's `prometheus` package; `jsonschema` from pip
# (or Debian's `python3-jsonschema`). Idempotent; needs root (or sudo) to install.
set -euo pipefail

have_all() {
    command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1
}

if have_all; then
    echo "install-test-deps: promtool and prometheus already installed"
else
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-test-deps: apt-get not found; install Prometheus (prometheus and promtool on PATH) by hand:" >&2
        echo "  https://prometheus.io/download/" >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    # The package's post-install script may try to start a prometheus service on :9090; the
    # tests never use it (they run their own server on a free loopback port).
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends prometheus
fi

if ! have_all; then
    echo "install-test-deps: prometheus/promtool still not on PATH after installing" >&2
    exit 1
fi
echo "install-test-deps: $(command -v prometheus): $(prometheus --version 2>&1 | head -n 1)"
echo "install-test-deps: $(command -v promtool): $(promtool --version 2>&1 | head -n 1)"

# python3 and its `jsonschema` module validate the generated Grafana dashboards.
have_jsonschema() {
    command -v python3 >/dev/null 2>&1 && python3 -c "import jsonschema" >/dev/null 2>&1
}
if have_jsonschema; then
    echo "install-test-deps: python3 jsonschema already installed"
else
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
        # The python3 on PATH may not be the system one (pyenv, venv): install for it.
        python3 -m pip install --quiet jsonschema || true
    fi
    if ! have_jsonschema && command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update
        $SUDO apt-get install -y --no-install-recommends python3 python3-jsonschema
    fi
fi
if ! have_jsonschema; then
    echo "install-test-deps: python3 cannot import jsonschema; install it (pip install jsonschema)" >&2
    exit 1
fi
echo "install-test-deps: $(command -v python3): jsonschema $(python3 -c 'import importlib.metadata as m; print(m.version("jsonschema"))')"
