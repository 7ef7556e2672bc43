"""Clients for the lakehouse: the shared Iceberg catalog through pyiceberg, and Trino."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from pyiceberg.catalog.sql import SqlCatalog

from include import settings


def iceberg_catalog() -> SqlCatalog:
    """The JDBC catalog Flink and Trino use (same PostgreSQL rows, same S3 warehouse)."""
    s = settings.all_settings()
    database = s["ICEBERG_CATALOG_JDBC_URL"].removeprefix("jdbc:postgresql://")  # host:port/database
    return SqlCatalog(
        s["ICEBERG_CATALOG_NAME"],
        **{
            "uri": f"postgresql+psycopg2://{quote(s['POSTGRES_USER'])}:{quote(s['POSTGRES_PASSWORD'])}@{database}",
            "warehouse": s["ICEBERG_WAREHOUSE"],
            "s3.endpoint": s["S3_ENDPOINT"],
            "s3.access-key-id": s["AWS_ACCESS_KEY_ID"],
            "s3.secret-access-key": s["AWS_SECRET_ACCESS_KEY"],
            "s3.region": s["AWS_REGION"],
            "s3.path-style-access": "true",
        },
    )


def trino_connection():
    """A connection as TRINO_USER, with its password, over HTTPS trusting the stack's certificate."""
    import requests
    import trino

    s = settings.all_settings()
    url = urlsplit(s["TRINO_URL"])
    session = requests.Session()
    session.verify = s["TRINO_CA_FILE"] or True
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment replace a session's `verify`;
    # this session trusts the certificate it was given, whatever the environment says.
    session.trust_env = False
    return trino.dbapi.connect(
        host=url.hostname,
        port=url.port,
        http_scheme=url.scheme,
        user=s["TRINO_USER"],
        auth=trino.auth.BasicAuthentication(s["TRINO_USER"], s["TRINO_PASSWORD"]),
        http_session=session,
        catalog=s["ICEBERG_CATALOG_NAME"],
    )


def trino_query(sql: str, params: tuple | None = None) -> list[tuple]:
    with trino_connection() as conn:
        cursor = conn.cursor()
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]
