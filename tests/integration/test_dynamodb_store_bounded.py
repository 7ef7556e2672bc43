"""dynalite's store stays bounded while its items are rewritten and queried, as the scorer does.

dynalite 4.0.0 left the LevelDB iterator of every Query and Scan open, each holding a snapshot, so LevelDB
kept every version written after the first query: the store grew by everything ever written
(stack/dynamodb/close_iterators.js). A private instance of the stack's launcher on a temporary directory
takes 10 items of 300 KB rewritten 80 times (229 MiB written) with a Query after each round; its
directory must stay under 100 MiB (live data 3 MB plus what LevelDB keeps before compacting, a few 4 MB
files). 2026-12-03: 20 MiB; 1,664 MiB with the launcher's fix switched off.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from include import settings

ITEMS, ITEM_BYTES, ROUNDS = 10, 300_000, 80
STORE_BOUND_MIB = 100
KEY_ID, SECRET = "test-key-id", "test-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _directory_mib(directory: Path) -> float:
    return sum(path.stat().st_size for path in directory.iterdir()) / 2**20


@pytest.fixture
def private_dynalite(tmp_path):
    """The stack's launcher (stack/dynamodb/signed_dynalite.js) on a free port and an empty directory."""
    port, store = _free_port(), tmp_path / "store"
    launcher = settings.REPO_ROOT / "stack" / "dynamodb" / "signed_dynalite.js"
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, CACHE_DIR=settings.get("CACHE_DIR"))
    env.pop("DYNALITE_DIR", None)
    log = (tmp_path / "dynalite.log").open("w")
    process = subprocess.Popen(
        [
            "node",
            str(launcher),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--path",
            str(store),
            "--createTableMs",
            "0",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(endpoint, timeout=2)
                break
            except requests.ConnectionError:
                assert process.poll() is None, (tmp_path / "dynalite.log").read_text()
                assert time.monotonic() < deadline, "the launcher did not listen within 30 s"
                time.sleep(0.2)
        client = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(retries={"max_attempts": 0}),
        )
        yield client, store
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_rewritten_and_queried_items_do_not_grow_the_store(private_dynalite):
    client, store = private_dynalite
    client.create_table(
        TableName="log",
        KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "seq", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "p", "AttributeType": "S"},
            {"AttributeName": "seq", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    payload = os.urandom(ITEM_BYTES)
    for round_number in range(ROUNDS):
        for seq in range(ITEMS):
            client.put_item(
                TableName="log",
                Item={
                    "p": {"S": "p0"},
                    "seq": {"N": str(seq)},
                    "round": {"N": str(round_number)},
                    "blob": {"B": payload},
                },
            )
        page = client.query(
            TableName="log",
            KeyConditionExpression="p = :p",
            ExpressionAttributeValues={":p": {"S": "p0"}},
            Limit=2,  # stops the stream early, as a page does
        )
        assert [item["round"]["N"] for item in page["Items"]] == [str(round_number)] * 2
    written_mib = ITEMS * ITEM_BYTES * ROUNDS / 2**20
    held_mib = _directory_mib(store)
    print(f"written {written_mib:.0f} MiB, store holds {held_mib:.0f} MiB")
    assert held_mib < STORE_BOUND_MIB
