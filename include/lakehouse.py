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


def trino_connection(user: str = "fraud-platform"):
    import trino

    url = urlsplit(settings.get("TRINO_URL"))
    return trino.dbapi.connect(
        host=url.hostname,
        port=url.port,
        http_scheme=url.scheme,
        user=user,
        catalog=settings.get("ICEBERG_CATALOG_NAME"),
    )


def trino_query(sql: str, params: tuple | None = None) -> list[tuple]:
    with trino_connection() as conn:
        cursor = conn.cursor()
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]
