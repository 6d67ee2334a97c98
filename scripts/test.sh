#!/usr/bin/env bash
# Run the whole test suite: installs the test dependencies and Debian's chromium and
# chromium-driver (for the browser tests), starts PostgreSQL and Redis when this machine has
# them, and runs pytest. Extra arguments go to pytest (e.g. -k rpt001).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "installing Debian's chromium and chromium-driver for the browser tests"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium chromium-driver >/dev/null
fi

ensure_venv "[test]"

# PostgreSQL and Redis: the suite runs its database tests on both SQLite and PostgreSQL and
# its cache tests on Redis when TEST_DATABASE_URL / TEST_REDIS_URL are set.
source scripts/services.sh
ensure_services

exec .venv/bin/pytest --headless "$@"
