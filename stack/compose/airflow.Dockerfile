# Airflow (and the producer, tests and tools of the "app" environment) for docker-compose, from the
# same lock file as the native stack.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
COPY requirements/app.lock.txt /tmp/app.lock.txt
RUN pip install --no-cache-dir -r /tmp/app.lock.txt
WORKDIR /opt/fraud-platform
