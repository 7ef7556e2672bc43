"""A trained fraud model, versioned in S3: s3://<bucket>/models/<name>/<version>/{model.joblib,metadata.json}.

`metadata.json` names the features the model was trained on (a subset of features.FEATURES, in order),
the training window and the validation metrics. The scorer loads one version when the job starts;
scoring.yaml `model.uri` says which.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np


@dataclass
class Model:
    version: str
    feature_names: tuple[str, ...]
    estimator: object

    def predict(self, feature_rows: list[dict]) -> np.ndarray:
        """Fraud probability per row; missing features are NaN (the estimator handles them)."""
        matrix = np.array(
            [[np.nan if (v := row.get(name)) is None else v for name in self.feature_names] for row in feature_rows],
            dtype=np.float64,
        )
        return self.estimator.predict_proba(matrix)[:, 1]


def _split(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3":
        raise ValueError(f"model uri must be s3://bucket/prefix/, got {uri!r}")
    return parsed.netloc, parsed.path.strip("/")


def load(uri: str, s3_client) -> Model:
    import joblib

    bucket, prefix = _split(uri)
    metadata = json.loads(s3_client.get_object(Bucket=bucket, Key=f"{prefix}/metadata.json")["Body"].read())
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "model.joblib"
        s3_client.download_file(bucket, f"{prefix}/model.joblib", str(local))
        estimator = joblib.load(local)
    return Model(metadata["version"], tuple(metadata["features"]), estimator)


def save(model: Model, metadata: dict, uri: str, s3_client) -> None:
    import joblib

    bucket, prefix = _split(uri)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "model.joblib"
        joblib.dump(model.estimator, local)
        s3_client.upload_file(str(local), bucket, f"{prefix}/model.joblib")
    document = {**metadata, "version": model.version, "features": list(model.feature_names)}
    s3_client.put_object(Bucket=bucket, Key=f"{prefix}/metadata.json", Body=json.dumps(document, indent=2).encode())
