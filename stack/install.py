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
    """From Debian, if not there yet: the PostgreSQL server (Airflow metadata, Iceberg catalog) and
    Chromium (the test that renders the report page in a real browser)."""
    wanted = {"postgresql": Path(settings.get("POSTGRES_BIN")) / "postgres", "chromium": Path("/usr/bin/chromium")}
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


def flink_functions() -> Path:
    """The job's Java SQL functions (flink/functions/*.java), compiled against the wheel's Flink into a jar,
    once per source and Flink version; returns its directory."""
    dist = Path(settings.get("FLINK_DIST"))
    sources = sorted(FUNCTIONS_SOURCE.glob("*.java"))
    key = hashlib.sha256(b"".join(p.read_bytes() for p in sources) + settings.get("FLINK_VERSION").encode()).hexdigest()
    target = Path(settings.get("CACHE_DIR")) / f"flink-functions-{key[:16]}"
    if _stamped(target, key):
        return target
    _log("Flink SQL functions (flink/functions, javac)")
    shutil.rmtree(target, ignore_errors=True)
    classes = target / "classes"
    classes.mkdir(parents=True)
    java_bin = Path(settings.get("JAVA17_HOME")) / "bin"
    classpath = ":".join(str(jar) for jar in (dist / "lib").glob("flink-table-api-java-uber-*.jar"))
    _run(
        "Flink SQL functions",
        [str(java_bin / "javac"), "--release", "17", "-cp", classpath, "-d", str(classes), *map(str, sources)],
    )
    _run(
        "Flink SQL functions",
        [str(java_bin / "jar"), "cf", str(target / "fraud-flink-functions.jar"), "-C", str(classes), "."],
    )
    shutil.rmtree(classes)
    _stamp(target, key)
    return target


def flink_lib() -> None:
    """The session cluster's lib/: links to the wheel's runtime jars, flink-python, the connectors and the
    job's own functions. Left alone when it already links exactly those (a running cluster may be reading
    it; a changed jar needs `make restart SERVICE=flink`)."""
    dist = Path(settings.get("FLINK_DIST"))
    lib = Path(settings.get("FLINK_LIB_DIR"))
    jars = [
        *(dist / "lib").glob("*.jar"),
        *(dist / "opt").glob("flink-python-*.jar"),
        *(Path(settings.get("CACHE_DIR")) / "flink-connectors").glob("*.jar"),
        *flink_functions().glob("*.jar"),
    ]
    wanted = {jar.name: jar for jar in jars}
    if lib.is_dir() and {link.name: link.readlink() for link in lib.iterdir()} == wanted:
        return
    shutil.rmtree(lib, ignore_errors=True)
    lib.mkdir(parents=True)
    Path(settings.get("FLINK_PLUGINS_DIR")).mkdir(parents=True, exist_ok=True)
    for name, jar in wanted.items():
        (lib / name).symlink_to(jar)


def s3proxy() -> None:
    version = settings.get("S3PROXY_VERSION")
    target = Path(settings.get("CACHE_DIR")) / "s3proxy"
    if (target / f"s3proxy-{version}-jar-with-dependencies.jar").exists():
        return
    _log(f"S3Proxy {version} (Maven Central)")
    _mvn(
        "S3Proxy",
        None,
        ["dependency:copy"],
        {
            "artifact": f"org.gaul:s3proxy:{version}:jar:jar-with-dependencies",
            "outputDirectory": str(target),
        },
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
    flink_connectors()
    flink_lib()
    s3proxy()
    trino()
    dynalite()
