# The platform's two images for docker-compose, built from the same lock files and POM as `make up`:
#   flink   - JobManager and TaskManager: the Flink runtime from the PyFlink wheel, connector jars from
#             Maven Central, the "flink" environment for the Python UDF workers
#   airflow - Airflow, producer and tools ("app" environment) plus what its DAGs run: the dbt CLI
#             ("dbt" environment) and the Flink CLI with the same jars ("flink" environment, Java 17)
#   mlflow  - the MLflow tracking server and model registry ("mlflow" environment)
# Both keep the environments under VENV_DIR=/opt/venvs, so a path in one image means the same in the other
# (the Flink client ships python.executable with every job it submits).

FROM python:3.11-slim-bookworm AS flink
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless maven curl \
 && rm -rf /var/lib/apt/lists/*
ENV VENV_DIR=/opt/venvs
COPY requirements/flink.lock.txt /tmp/flink.lock.txt
RUN python -m venv $VENV_DIR/flink && $VENV_DIR/flink/bin/pip install --no-cache-dir -r /tmp/flink.lock.txt
ENV FLINK_DIST=$VENV_DIR/flink/lib/python3.11/site-packages/pyflink \
    JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    FLINK_LIB_DIR=/opt/flink/lib FLINK_CONF_DIR=/opt/flink/conf FLINK_PLUGINS_DIR=/opt/flink/plugins \
    FLINK_LOG_DIR=/opt/flink/log
COPY stack/maven/flink-connectors.pom.xml /tmp/flink-connectors.pom.xml
RUN mvn -q -B -f /tmp/flink-connectors.pom.xml dependency:copy-dependencies -DexcludeTransitive=true \
      -Dflink.kafka.connector.version=4.0.1-2.0 -Diceberg.flink.runtime=iceberg-flink-runtime-2.0 \
      -Diceberg.version=1.11.0 -Dpostgres.jdbc.version=42.7.8 -Dhadoop.version=3.4.2 \
      -DoutputDirectory=$FLINK_LIB_DIR \
 && mvn -q -B dependency:copy -Dartifact=org.apache.flink:flink-metrics-prometheus:2.0.0 \
      -DoutputDirectory=$FLINK_PLUGINS_DIR/prometheus \
 && cp "$FLINK_DIST"/lib/*.jar "$FLINK_DIST"/opt/flink-python-*.jar $FLINK_LIB_DIR/ \
 && mkdir -p $FLINK_CONF_DIR $FLINK_PLUGINS_DIR $FLINK_LOG_DIR \
 && cp "$FLINK_DIST"/conf/* $FLINK_CONF_DIR/ \
 && printf 'python.executable: %s\npython.client.executable: %s\n' \
      $VENV_DIR/flink/bin/python $VENV_DIR/flink/bin/python >> $FLINK_CONF_DIR/config.yaml \
 && rm -rf /root/.m2
ENV PATH=$FLINK_DIST/bin:$PATH
WORKDIR /opt/fraud-platform

FROM python:3.11-slim-bookworm AS airflow
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless curl \
 && rm -rf /var/lib/apt/lists/*
COPY requirements/app.lock.txt /tmp/app.lock.txt
RUN pip install --no-cache-dir -r /tmp/app.lock.txt
ENV VENV_DIR=/opt/venvs
COPY requirements/dbt.lock.txt /tmp/dbt.lock.txt
RUN python -m venv $VENV_DIR/dbt && $VENV_DIR/dbt/bin/pip install --no-cache-dir -r /tmp/dbt.lock.txt
COPY --from=flink /opt/venvs/flink /opt/venvs/flink
COPY --from=flink /opt/flink /opt/flink
# include/flink_jobs.py runs the CLI with these (FLINK_DIST and JAVA17_HOME take their stack/stack.env defaults).
ENV FLINK_LIB_DIR=/opt/flink/lib FLINK_CONF_DIR=/opt/flink/conf FLINK_PLUGINS_DIR=/opt/flink/plugins
WORKDIR /opt/fraud-platform

FROM python:3.11-slim-bookworm AS mlflow
ENV VENV_DIR=/opt/venvs
COPY requirements/mlflow.lock.txt /tmp/mlflow.lock.txt
RUN python -m venv $VENV_DIR/mlflow && $VENV_DIR/mlflow/bin/pip install --no-cache-dir -r /tmp/mlflow.lock.txt
ENV PATH=$VENV_DIR/mlflow/bin:$PATH
