# Sourced by the scripts: a virtual environment in .venv with the project installed.
# Usage: ensure_venv "" | ensure_venv "[test]"
ensure_venv() {
  local extras="$1"
  if ! command -v python3 >/dev/null; then
    echo "python3 (3.11 or newer) is needed" >&2; exit 1
  fi
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "Python 3.11 or newer is needed (found $(python3 --version))" >&2; exit 1
  fi
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
  fi
  .venv/bin/python -m pip install -q -e ".${extras}"
}
