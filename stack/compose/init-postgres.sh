#!/bin/sh
# docker-compose only: the Iceberg catalog database next to Airflow's (POSTGRES_DB), with its tables.
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -c "create database iceberg_catalog owner $POSTGRES_USER"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname iceberg_catalog -f /iceberg_catalog.sql
