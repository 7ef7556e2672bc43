#!/bin/sh
# docker-compose only: the Iceberg catalog database next to Airflow's (POSTGRES_DB), with its tables, and
# MLflow's two (runs and registry; its users).
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -c "create database iceberg_catalog owner $POSTGRES_USER"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname iceberg_catalog -f /iceberg_catalog.sql
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -c "create database mlflow owner $POSTGRES_USER"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -c "create database mlflow_auth owner $POSTGRES_USER"
