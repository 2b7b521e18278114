#!/usr/bin/env bash
# The test command: system packages, lint, types, then the whole suite.
# On SQLite by default; set VOTING_DATABASE_URL=postgresql+psycopg://… to run on PostgreSQL.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
python -m ruff check .
python -m ruff format --check .
python -m mypy
python -m pytest -n "${VOTING_TEST_WORKERS:-2}" "$@"
