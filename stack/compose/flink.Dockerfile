# Flink for docker-compose, built the way `make up` builds it natively: the Flink runtime from the
# PyFlink wheel (requirements/flink.lock.txt), connector jars from Maven Central through the same POM.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless maven curl \
 && rm -rf /var/lib/apt/lists/*
COPY requirements/flink.lock.txt /tmp/flink.lock.txt
RUN pip install --no-cache-dir -r /tmp/flink.lock.txt
COPY stack/maven/flink-connectors.pom.xml /tmp/flink-connectors.pom.xml
RUN PYFLINK=$(python -c 'import os, pyflink; print(os.path.dirname(pyflink.__file__))') \
 && mvn -q -B -f /tmp/flink-connectors.pom.xml dependency:copy-dependencies -DexcludeTransitive=true \
      -Dflink.kafka.connector.version=4.0.1-2.0 -Diceberg.flink.runtime=iceberg-flink-runtime-2.0 \
      -Diceberg.version=1.11.0 -Dpostgres.jdbc.version=42.7.8 -Dhadoop.version=3.4.2 \
      -DoutputDirectory=/opt/flink/lib \
 && cp "$PYFLINK"/lib/*.jar "$PYFLINK"/opt/flink-python-*.jar /opt/flink/lib/ \
 && ln -s "$PYFLINK/bin" /opt/flink/bin && mkdir -p /opt/flink/conf /opt/flink/log \
 && cp "$PYFLINK"/conf/* /opt/flink/conf/ \
 && rm -rf /root/.m2
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    FLINK_LIB_DIR=/opt/flink/lib FLINK_CONF_DIR=/opt/flink/conf FLINK_LOG_DIR=/opt/flink/log \
    PATH=/opt/flink/bin:$PATH
RUN printf 'python.executable: /usr/local/bin/python\npython.client.executable: /usr/local/bin/python\n' \
      >> /opt/flink/conf/config.yaml
WORKDIR /opt/fraud-platform
