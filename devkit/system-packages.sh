#!/usr/bin/env bash
# Debian packages the tests drive for real, installed when missing (a no-op once they are there):
#   pgbouncer       the transaction-mode pooler of the Supabase tests (tests/production)
#   chromium        the headless browser of the UI tests (driven by Playwright's Python package)
#   docker-compose  renders docker-compose.yaml (tests/test_docker_compose.py); no engine is needed
#   redis-server    the Celery broker of tests/production when no Redis answers at 127.0.0.1:6379
# Needs root (or sudo) and apt; elsewhere it says what is missing and fails, so no test is skipped
# silently.
set -euo pipefail

declare -A wanted=([pgbouncer]=pgbouncer [chromium]=chromium [docker-compose]=docker-compose
                   [redis-server]=redis-server)
missing=()
for binary in "${!wanted[@]}"; do
    command -v "$binary" >/dev/null 2>&1 || [ -x "/usr/sbin/$binary" ] || missing+=("${wanted[$binary]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing Debian packages the tests need: ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get is not available: install ${missing[*]} with your package manager." >&2
    exit 1
fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
        echo "Not root and no sudo: install ${missing[*]} (apt-get install -y ${missing[*]})." >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
