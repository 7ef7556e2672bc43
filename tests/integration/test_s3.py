"""S3 (S3Proxy locally): put, get, list, multipart upload through boto3; data survives a restart."""

from __future__ import annotations

import hashlib
import os

import pytest

from include import aws


@pytest.fixture
def bucket(unique_name):
    name = unique_name.replace("_", "-")
    client = aws.s3_client()
    client.create_bucket(Bucket=name)
    yield name
    for obj in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=obj["Key"])
    client.delete_bucket(Bucket=name)


def test_put_get_list(bucket):
    client = aws.s3_client()
    for key in ("day=1/a.json", "day=1/b.json", "day=2/c.json"):
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert client.get_object(Bucket=bucket, Key="day=1/b.json")["Body"].read() == b"day=1/b.json"
    listed = client.list_objects_v2(Bucket=bucket, Prefix="day=1/")["Contents"]
    assert [o["Key"] for o in listed] == ["day=1/a.json", "day=1/b.json"]


def _multipart(client, bucket: str, key: str) -> str:
    parts, digest = [], hashlib.sha256()
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    for number in (1, 2, 3):
        body = os.urandom(5 * 1024 * 1024 if number < 3 else 1024)
        digest.update(body)
        etag = client.upload_part(Bucket=bucket, Key=key, PartNumber=number, UploadId=upload, Body=body)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    return digest.hexdigest()


def test_multipart_upload(bucket):
    client = aws.s3_client()
    expected = _multipart(client, bucket, "big.bin")
    body = client.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert len(body) == 2 * 5 * 1024 * 1024 + 1024
    assert hashlib.sha256(body).hexdigest() == expected


@pytest.mark.disruptive
def test_data_survives_a_restart_of_the_server(bucket, restart_service):
    expected = _multipart(aws.s3_client(), bucket, "kept.bin")
    restart_service("s3")
    body = aws.s3_client().get_object(Bucket=bucket, Key="kept.bin")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == expected
