# Entry points of the project. Every stack command goes through stack/run (see stack/__main__.py).
.PHONY: up down status restart logs clean credentials dbt test test-unit lint demo

up:            ## install what is missing, start every service, wait until all are healthy
	@stack/run up

down:          ## stop every service this stack started
	@stack/run down

status:        ## health, processes and memory of each service
	@stack/run status

restart:       ## restart one service after a config change: make restart SERVICE=flink
	@stack/run restart $(SERVICE)

logs:          ## last lines of every log, or of one: make logs SERVICE=kafka [FOLLOW=1]
	@stack/run logs $(SERVICE) $(if $(FOLLOW),--follow)

clean:         ## stop everything and delete all data, logs and generated credentials (.stack/)
	@stack/run clean

credentials:   ## the logins `make up` generated (Airflow, Trino, PostgreSQL, S3)
	@stack/run credentials

dbt:           ## dbt on the marts, logged in to Trino: make dbt (= dbt build) or make dbt ARGS="test -s fct_alerts"
	@PYTHONPATH=. .venvs/app/bin/python -m stack.dbt $(ARGS)

demo: up       ## the stack, then the pipeline end to end: history streamed, a model trained and deployed, a week scored
	@PYTHONPATH=. .venvs/app/bin/python -m stack.demo

# Three runs: the UDF driven through PyFlink's Arrow path (tests/udf, the "udf-test" environment); the
# tests that leave every service up, on two workers (each test module on one); then, alone, the
# `disruptive` ones that stop, kill or restart a service. All run; any failing fails the target.
test: up lint  ## all tests (unit, UDF, DAG integrity, integration against the running stack)
	@.venvs/udf-test/bin/python -m pytest tests/udf $(PYTEST_ARGS); udf=$$?; \
	 .venvs/app/bin/python -m pytest -m "not disruptive" -n 2 --dist loadscope $(PYTEST_ARGS); shared=$$?; \
	 .venvs/app/bin/python -m pytest -m disruptive $(PYTEST_ARGS); alone=$$?; \
	 exit $$(( udf || shared || alone ))

lint:          ## ruff (lint and format), the direction of imports, sqlfluff over the dbt models
	@PYTHON_ENVS=app stack/run install >/dev/null && .venvs/app/bin/ruff check . \
	 && .venvs/app/bin/ruff format --check . \
	 && .venvs/app/bin/lint-imports --no-cache \
	 && (cd dbt_project && ../.venvs/app/bin/sqlfluff lint --disable-progress-bar models tests)

test-unit:     ## only the tests that need no running service (seconds)
	@PYTHON_ENVS="app udf-test" stack/run install >/dev/null && .venvs/udf-test/bin/python -m pytest tests/udf $(PYTEST_ARGS) \
	 && .venvs/app/bin/python -m pytest -m "not integration" $(PYTEST_ARGS)
