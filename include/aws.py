"""boto3 clients for DynamoDB and S3, with endpoints and credentials from the platform settings.

Locally the endpoints are dynalite and S3Proxy on loopback; on AWS, export DYNAMODB_ENDPOINT and
S3_ENDPOINT (and the keys) empty and the same code talks to the real services with boto3's default
credential chain.
"""

from __future__ import annotations

import boto3
from botocore.config import Config

from include import settings


def _client(service: str, endpoint_setting: str, **client_config):
    s = settings.all_settings()
    return boto3.client(
        service,
        endpoint_url=s.get(endpoint_setting) or None,
        region_name=s["AWS_REGION"],
        aws_access_key_id=s.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=s.get("AWS_SECRET_ACCESS_KEY") or None,
        config=Config(**client_config) if client_config else None,
    )


def dynamodb_client(**client_config):
    return _client("dynamodb", "DYNAMODB_ENDPOINT", **client_config)


def s3_client(**client_config):
    return _client("s3", "S3_ENDPOINT", **client_config)
