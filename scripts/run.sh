#!/usr/bin/env bash
# Run Customer Dynamics on the embedded default: SQLite in instance/, demo data and demo
# logins on first start (printed once, kept in instance/demo-logins.txt), on http://127.0.0.1:8050.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ""
exec .venv/bin/python app.py
