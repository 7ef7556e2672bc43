"""One Iceberg catalog for all engines: what pyiceberg writes Trino reads, and the other way round."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from include.lakehouse import iceberg_catalog, trino_query


@pytest.fixture
def namespace(unique_name):
    catalog = iceberg_catalog()
    catalog.create_namespace(unique_name)
    yield unique_name
    for table in catalog.list_tables(unique_name):
        catalog.purge_table(table)
    catalog.drop_namespace(unique_name)


def test_table_written_by_pyiceberg_is_read_by_trino(namespace):
    rows = pa.table(
        {
            "tx_id": pa.array([f"tx-{i}" for i in range(50)]),
            "amount": pa.array([Decimal(i) / 4 for i in range(50)], type=pa.decimal128(12, 2)),
        }
    )
    table = iceberg_catalog().create_table(f"{namespace}.from_pyiceberg", schema=rows.schema)
    table.append(rows.slice(0, 20))
    table.append(rows.slice(20))
    got = trino_query(f"select tx_id, amount from {namespace}.from_pyiceberg order by tx_id")
    assert sorted(got) == sorted(zip(rows["tx_id"].to_pylist(), rows["amount"].to_pylist()))


def test_table_written_by_trino_is_read_by_pyiceberg(namespace):
    trino_query(
        f"create table {namespace}.from_trino (tx_id varchar, amount decimal(12, 2)) "
        "with (partitioning = ARRAY['bucket(tx_id, 4)'])"
    )
    trino_query(f"insert into {namespace}.from_trino values ('a', 1.25), ('b', 2.50), ('c', 3.75)")
    got = iceberg_catalog().load_table(f"{namespace}.from_trino").scan().to_arrow().to_pylist()
    assert sorted((r["tx_id"], r["amount"]) for r in got) == [
        ("a", Decimal("1.25")),
        ("b", Decimal("2.50")),
        ("c", Decimal("3.75")),
    ]
