"""DynamoDB (dynalite locally): table, put, get, query through boto3; data survives a restart."""

from __future__ import annotations

import pytest

from include import aws


@pytest.fixture
def table(unique_name):
    client = aws.dynamodb_client()
    client.create_table(
        TableName=unique_name,
        KeySchema=[{"AttributeName": "card_id", "KeyType": "HASH"}, {"AttributeName": "tx_ts", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "card_id", "AttributeType": "S"},
            {"AttributeName": "tx_ts", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=unique_name)
    yield unique_name
    aws.dynamodb_client().delete_table(TableName=unique_name)


def _put_history(client, table: str) -> None:
    for ts in range(5):
        client.put_item(
            TableName=table,
            Item={"card_id": {"S": "card-1"}, "tx_ts": {"N": str(1000 + ts)}, "amount": {"N": f"{10 * ts}.5"}},
        )
    client.put_item(TableName=table, Item={"card_id": {"S": "card-2"}, "tx_ts": {"N": "1000"}, "amount": {"N": "1"}})


def test_put_get_query(table):
    client = aws.dynamodb_client()
    _put_history(client, table)
    item = client.get_item(TableName=table, Key={"card_id": {"S": "card-1"}, "tx_ts": {"N": "1002"}})["Item"]
    assert item["amount"] == {"N": "20.5"}
    result = client.query(
        TableName=table,
        KeyConditionExpression="card_id = :c AND tx_ts >= :t",
        ExpressionAttributeValues={":c": {"S": "card-1"}, ":t": {"N": "1003"}},
    )
    assert [i["tx_ts"]["N"] for i in result["Items"]] == ["1003", "1004"]


@pytest.mark.disruptive
def test_data_survives_a_restart_of_the_server(table, restart_service):
    _put_history(aws.dynamodb_client(), table)
    restart_service("dynamodb")
    client = aws.dynamodb_client()
    assert table in client.list_tables()["TableNames"]
    result = client.query(
        TableName=table, KeyConditionExpression="card_id = :c", ExpressionAttributeValues={":c": {"S": "card-1"}}
    )
    assert [i["amount"]["N"] for i in result["Items"]] == ["0.5", "10.5", "20.5", "30.5", "40.5"]
