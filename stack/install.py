"""Installs what the services need, once: Debian packages, Maven Central jars, Trino, dynalite.

Every step is idempotent: it writes a stamp naming what it installed and does nothing when the stamp
matches. Downloads land in CACHE_DIR (under the home directory) and in Maven's ~/.m2 and npm's
~/.npm caches, so a second machine setup or a fresh clone is fast. Python environments are handled
before this module runs, by stack/python-envs.sh.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from include import settings

MAVEN_DIR = settings.REPO_ROOT / "stack" / "maven"


class InstallError(RuntimeError):
    """A step could not install its component; the message names it and shows the tool's output."""


def _log(message: str) -> None:
    print(f"[install] {message}", flush=True)


def _run(component: str, cmd: list[str], **kwargs) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        raise InstallError(f"installing {component} failed: {' '.join(cmd[:4])} ...\n{tail}")


def _stamped(target: Path, key: str) -> bool:
    stamp = target / ".installed"
    return stamp.exists() and stamp.read_text() == key


def _stamp(target: Path, key: str) -> None:
    (target / ".installed").write_text(key)


def _mvn(component: str, pom: str | None, goals: list[str], props: dict[str, str]) -> None:
    """Runs Maven; --strict-checksums fails a download whose checksum does not match Maven Central's."""
    cmd = ["mvn", "-q", "-B", "--strict-checksums"] + (["-f", str(MAVEN_DIR / pom)] if pom else [])
    cmd += [f"-D{k}={v}" for k, v in props.items()] + goals
    _run(component, cmd, cwd=tempfile.gettempdir())


def _maven_jar(component: str, coordinates: str, directory: str, jar_name: str) -> Path:
    """One artifact from Maven Central (`group:artifact:version[:type:classifier]`) into
    CACHE_DIR/<directory>/<jar_name>, unless it is there already."""
    jar = Path(settings.get("CACHE_DIR")) / directory / jar_name
    if not jar.exists():
        _log(f"{component} (Maven Central)")
        _mvn(component, None, ["dependency:copy"], {"artifact": coordinates, "outputDirectory": str(jar.parent)})
    return jar


def check_java() -> None:
    for var, need in (("JAVA17_HOME", "Kafka, Flink, S3Proxy"), ("JAVA25_HOME", "Trino")):
        java = Path(settings.get(var)) / "bin" / "java"
        if not os.access(java, os.X_OK):
            raise InstallError(f"{var}={settings.get(var)} holds no Java ({java} missing); {need} need it")
    if shutil.which("mvn") is None:
        raise InstallError("Maven (mvn) is not installed: the Kafka, Flink and Trino jars come from Maven Central")
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise InstallError("Node.js and npm are not installed: the DynamoDB stand-in (dynalite) needs them")


def debian_packages() -> None:
    """From Debian, if not there yet: the PostgreSQL server (Airflow metadata, Iceberg catalog), Chromium
    (the test that renders the report page in a real browser) and the monitoring: Prometheus (with
    promtool, which the rules' unit tests run), Alertmanager and the node exporter. Their packages would
    start them as system services where an init system runs; the stack starts its own (supervisord.conf)."""
    wanted = {
        "postgresql": Path(settings.get("POSTGRES_BIN")) / "postgres",
        "chromium": Path("/usr/bin/chromium"),
        "prometheus": Path("/usr/bin/promtool"),
        "prometheus-alertmanager": Path("/usr/bin/prometheus-alertmanager"),
        "prometheus-node-exporter": Path("/usr/bin/prometheus-node-exporter"),
    }
    missing = [package for package, binary in wanted.items() if not binary.exists()]
    if not missing:
        return
    _log(f"Debian packages: {' '.join(missing)} (apt-get install)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run("apt packages", ["apt-get", "update", "-q"], env=env)
    _run("apt packages", ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)
    for package, binary in wanted.items():
        if not binary.exists():
            raise InstallError(f"{package} installed but {binary} is missing")


def kafka() -> None:
    version = settings.get("KAFKA_VERSION")
    target = Path(settings.get("CACHE_DIR")) / f"kafka-{version}"
    if _stamped(target, version):
        return
    _log(f"Kafka {version} broker jars (Maven Central)")
    shutil.rmtree(target, ignore_errors=True)
    _mvn(
        "Kafka",
        "kafka.pom.xml",
        ["dependency:copy-dependencies"],
        {
            "kafka.version": version,
            "includeScope": "runtime",
            "outputDirectory": str(target / "libs"),
        },
    )
    _stamp(target, version)


def jmx_exporter() -> None:
    """Prometheus' JMX exporter agent, loaded by the Kafka broker's JVM (stack/supervisord.conf)."""
    version = settings.get("JMX_EXPORTER_VERSION")
    _maven_jar(
        f"Prometheus JMX exporter agent {version}",
        f"io.prometheus.jmx:jmx_prometheus_javaagent:{version}",
        "jmx-exporter",
        f"jmx_prometheus_javaagent-{version}.jar",
    )


def flink_connectors() -> None:
    props = {
        "flink.kafka.connector.version": settings.get("FLINK_KAFKA_CONNECTOR_VERSION"),
        "iceberg.flink.runtime": settings.get("ICEBERG_FLINK_RUNTIME"),
        "iceberg.version": settings.get("ICEBERG_VERSION"),
        "postgres.jdbc.version": settings.get("POSTGRES_JDBC_VERSION"),
        "hadoop.version": settings.get("HADOOP_VERSION"),
    }
    key = " ".join(f"{k}={v}" for k, v in sorted(props.items()))
    target = Path(settings.get("CACHE_DIR")) / "flink-connectors"
    if _stamped(target, key):
        return
    _log("Flink connector jars: Kafka SQL connector, Iceberg runtime + AWS bundle, JDBC driver")
    shutil.rmtree(target, ignore_errors=True)
    _mvn(
        "Flink connectors",
        "flink-connectors.pom.xml",
        ["dependency:copy-dependencies"],
        {
            **props,
            "excludeTransitive": "true",
            "outputDirectory": str(target),
        },
    )
    _stamp(target, key)


FUNCTIONS_SOURCE = settings.REPO_ROOT / "flink" / "functions"
REPORTER_SOURCE = settings.REPO_ROOT / "stack" / "flink_reporter"


def _java_jar(component: str, name: str, source: Path, classpath: list[Path]) -> Path:
    """source/**/*.java compiled against `classpath` (with source/META-INF, if any) into CACHE_DIR/<name>-<hash>/
    <name>.jar, once per source, class path and Flink version; returns the jar."""
    sources = sorted(source.rglob("*.java"))
    resources = sorted(p for p in (source / "META-INF").rglob("*") if p.is_file())
    digest = hashlib.sha256(settings.get("FLINK_VERSION").encode())
    for path in (*sources, *resources):
        digest.update(str(path.relative_to(source)).encode() + path.read_bytes())
    for jar in classpath:
        digest.update(jar.name.encode())
    key = digest.hexdigest()
    target = Path(settings.get("CACHE_DIR")) / f"{name}-{key[:16]}"
    if _stamped(target, key):
        return target / f"{name}.jar"
    _log(f"{component} ({source.relative_to(settings.REPO_ROOT)}, javac)")
    shutil.rmtree(target, ignore_errors=True)
    classes = target / "classes"
    classes.mkdir(parents=True)
    java_bin = Path(settings.get("JAVA17_HOME")) / "bin"
    javac = [str(java_bin / "javac"), "--release", "17", "-cp", ":".join(map(str, classpath)), "-d", str(classes)]
    _run(component, [*javac, *map(str, sources)])
    if resources:
        shutil.copytree(source / "META-INF", classes / "META-INF")
    _run(component, [str(java_bin / "jar"), "cf", str(target / f"{name}.jar"), "-C", str(classes), "."])
    shutil.rmtree(classes)
    _stamp(target, key)
    return target / f"{name}.jar"


def flink_functions() -> Path:
    """The job's Java SQL functions (flink/functions/*.java), compiled against the wheel's Flink."""
    dist = Path(settings.get("FLINK_DIST"))
    classpath = sorted((dist / "lib").glob("flink-table-api-java-uber-*.jar"))
    return _java_jar("Flink SQL functions", "fraud-flink-functions", FUNCTIONS_SOURCE, classpath)


def flink_metrics_reporter() -> list[Path]:
    """Flink's Prometheus reporter jar (Maven Central) and the stack's loopback-and-login server for it
    (stack/flink_reporter): the two jars of the cluster's `prometheus` plugin."""
    version = settings.get("FLINK_METRICS_PROMETHEUS_VERSION")
    reporter = _maven_jar(
        f"Flink Prometheus metrics reporter {version}",
        f"org.apache.flink:flink-metrics-prometheus:{version}",
        "flink-metrics-prometheus",
        f"flink-metrics-prometheus-{version}.jar",
    )
    dist = Path(settings.get("FLINK_DIST"))
    classpath = [reporter, *sorted((dist / "lib").glob("flink-dist-*.jar"))]
    return [reporter, _java_jar("Flink Prometheus reporter login", "fraud-flink-reporter", REPORTER_SOURCE, classpath)]


def flink_lib() -> None:
    """The session cluster's lib/: links to the wheel's runtime jars, flink-python, the connectors and the
    job's own functions; and plugins/prometheus/: the metrics reporter. Left alone when they already link
    exactly those (a running cluster may be reading them; a changed jar needs `make restart SERVICE=flink`)."""
    dist = Path(settings.get("FLINK_DIST"))
    jars = [
        *(dist / "lib").glob("*.jar"),
        *(dist / "opt").glob("flink-python-*.jar"),
        *(Path(settings.get("CACHE_DIR")) / "flink-connectors").glob("*.jar"),
        flink_functions(),
    ]
    _link_jars(Path(settings.get("FLINK_LIB_DIR")), jars)
    _link_jars(Path(settings.get("FLINK_PLUGINS_DIR")) / "prometheus", flink_metrics_reporter())


def _link_jars(directory: Path, jars: list[Path]) -> None:
    wanted = {jar.name: jar for jar in jars}
    if directory.is_dir() and {link.name: link.readlink() for link in directory.iterdir()} == wanted:
        return
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for name, jar in wanted.items():
        (directory / name).symlink_to(jar)


def s3proxy() -> None:
    version = settings.get("S3PROXY_VERSION")
    _maven_jar(
        f"S3Proxy {version}",
        f"org.gaul:s3proxy:{version}:jar:jar-with-dependencies",
        "s3proxy",
        f"s3proxy-{version}-jar-with-dependencies.jar",
    )


def trino() -> None:
    """trino-server-core (coordinator, no connectors) plus the Iceberg plugin only: 540 MB, not 820."""
    version = settings.get("TRINO_VERSION")
    root = Path(settings.get("CACHE_DIR")) / "trino"
    server = root / f"trino-server-core-{version}"
    if _stamped(server, version):
        return
    _log(f"Trino {version} server core + Iceberg plugin (Maven Central)")
    downloads = root / "downloads"
    _mvn(
        "Trino",
        None,
        ["dependency:copy"],
        {
            "artifact": f"io.trino:trino-server-core:{version}:tar.gz",
            "outputDirectory": str(downloads),
        },
    )
    _mvn(
        "Trino Iceberg plugin",
        None,
        ["dependency:copy"],
        {
            "artifact": f"io.trino:trino-iceberg:{version}:zip",
            "outputDirectory": str(downloads),
        },
    )
    shutil.rmtree(server, ignore_errors=True)
    _run("Trino", ["tar", "xzf", str(downloads / f"trino-server-core-{version}.tar.gz"), "-C", str(root)])
    with zipfile.ZipFile(downloads / f"trino-iceberg-{version}.zip") as plugin:
        plugin.extractall(server / "plugin")
    (server / "plugin" / f"trino-iceberg-{version}").rename(server / "plugin" / "iceberg")
    shutil.rmtree(downloads)  # Maven's ~/.m2 keeps a copy
    _stamp(server, version)


NPM_PROJECT = settings.REPO_ROOT / "stack" / "npm"


def dynalite() -> None:
    """dynalite and every package under it exactly as stack/npm/package-lock.json records them, each
    checked against its integrity hash (`npm ci`). To upgrade: change the version in package.json and
    DYNALITE_VERSION, then `npm install --package-lock-only` in stack/npm."""
    version = settings.get("DYNALITE_VERSION")
    lock = (NPM_PROJECT / "package-lock.json").read_bytes()
    pinned = json.loads((NPM_PROJECT / "package.json").read_text())["dependencies"]["dynalite"]
    if pinned != version:
        raise InstallError(f"stack/npm/package.json pins dynalite {pinned}, DYNALITE_VERSION is {version}")
    target = Path(settings.get("CACHE_DIR")) / "node"
    key = hashlib.sha256(lock).hexdigest()
    if _stamped(target, key):
        return
    _log(f"dynalite {version} (npm ci, stack/npm/package-lock.json)")
    target.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(NPM_PROJECT / name, target / name)
    _run("dynalite", ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(target)])
    _stamp(target, key)


def everything() -> None:
    check_java()
    debian_packages()
    kafka()
    jmx_exporter()
    flink_connectors()
    flink_lib()
    s3proxy()
    trino()
    dynalite()
