#!/usr/bin/env bash
# Creates or updates the three Python environments from their lock files (requirements/*.lock.txt):
#   app   - Airflow, producer, tests, stack tool      flink - PyFlink client and UDF workers
#   dbt   - dbt-core + dbt-trino
# Idempotent: an environment whose lock file has not changed is left alone (a stamp holds its hash).
# uv does the work; its wheel cache (~/.cache/uv) makes a rebuild take seconds.
# Bytecode is compiled at install: uv does not by default, and with PYTHONDONTWRITEBYTECODE set (as on
# this machine) every Python process would compile Airflow, PyFlink and dbt from source again, which
# more than doubled the start of each Airflow CLI call, Flink client and UDF worker.
set -euo pipefail
: "${REPO_ROOT:?}" "${CACHE_DIR:?}" "${VENV_DIR:?}" "${UV_VERSION:?}" "${PYTHON_VERSION:?}"

uv="$CACHE_DIR/uv-$UV_VERSION/bin/uv"
if [ ! -x "$uv" ]; then
  echo "[install] uv $UV_VERSION"
  python3 -m venv "$CACHE_DIR/uv-$UV_VERSION"
  "$CACHE_DIR/uv-$UV_VERSION/bin/pip" install --quiet "uv==$UV_VERSION"
fi

for env in ${PYTHON_ENVS:-app flink dbt}; do
  lock="$REPO_ROOT/requirements/$env.lock.txt"
  target="$VENV_DIR/$env"
  want="$(sha256sum "$lock" | cut -d' ' -f1) compiled"
  if [ "$(cat "$target/.lock-sha256" 2>/dev/null)" = "$want" ]; then
    continue
  fi
  echo "[install] Python environment '$env' from requirements/$env.lock.txt"
  [ -x "$target/bin/python" ] || "$uv" venv --quiet --python "$PYTHON_VERSION" "$target"
  "$uv" pip sync --quiet --compile-bytecode --python "$target/bin/python" "$lock"
  echo "$want" > "$target/.lock-sha256"
done
