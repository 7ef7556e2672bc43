#!/usr/bin/env bash
# Creates the Python environments from their lock files (requirements/*.lock.txt):
#   app   - Airflow, producer, tests, stack tool      flink - PyFlink client and UDF workers
#   dbt   - dbt-core + dbt-trino                      udf-test - flink + pytest, hypothesis (tests/udf)
#   mlflow - the MLflow tracking server and model registry (a stack service)
# Each is built once per lock file content under $CACHE_DIR/venvs/<env>-<hash>, and $VENV_DIR/<env> (.venvs/
# in the checkout) links to it: a second clone, or CI, reuses it instead of spending ~40 s rebuilding it.
# Nothing writes into a built environment afterwards; a changed lock file gets a new one.
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

# --require-hashes: every distribution must match a sha256 its lock file records (the locks are compiled
# with `uv pip compile --generate-hashes`), so a substituted or tampered wheel fails the install.
sync_flags="--compile-bytecode --require-hashes"
mkdir -p "$VENV_DIR" "$CACHE_DIR/venvs"
for env in ${PYTHON_ENVS:-app flink dbt mlflow udf-test}; do
  lock="$REPO_ROOT/requirements/$env.lock.txt"
  hash="$( (cat "$lock"; echo "$PYTHON_VERSION $sync_flags") | sha256sum | cut -c1-16)"
  built="$CACHE_DIR/venvs/$env-$hash"
  if [ ! -e "$built/.complete" ]; then
    echo "[install] Python environment '$env' from requirements/$env.lock.txt"
    rm -rf "$built"
    "$uv" venv --quiet --python "$PYTHON_VERSION" "$built"
    "$uv" pip sync --quiet $sync_flags --python "$built/bin/python" "$lock"
    touch "$built/.complete"
  fi
  link="$VENV_DIR/$env"
  if [ "$(readlink "$link" 2>/dev/null)" != "$built" ]; then
    rm -rf "$link"   # a link to the environment of an earlier lock file, or an environment built in place
    ln -s "$built" "$link"
  fi
done
