#!/usr/bin/env bash
# The test command: install what is missing, lint, type-check, then the whole suite with a
# throwaway PostgreSQL (scripts/with-postgres.sh) and a real Apache Kafka broker (started by
# the pytest session fixture from jars resolved with Maven into ~/.cache/predelinq).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-system.sh
scripts/ensure-venv.sh
.venv/bin/python -m stream_app.brokers --resolve-only >/dev/null
echo "== ruff"; .venv/bin/ruff check stream_app model_registry tests bench examples
echo "== mypy"; .venv/bin/mypy && .venv/bin/mypy --strict examples
echo "== pip-audit"; .venv/bin/python scripts/audit-deps.py
# numba's cache (the repository's __pycache__): compiled once here, so that no test and no
# worker subprocess pays a first compilation of the feature kernels (tens of seconds)
echo "== feature kernels"; .venv/bin/python -c \
  "from stream_app.features.kernels import warm_up; print(f'ready in {warm_up():.1f} s')"
echo "== pytest"
exec scripts/with-postgres.sh .venv/bin/pytest -q -p no:cacheprovider "$@"
