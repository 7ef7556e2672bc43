"""A trained fraud model, versioned in S3: s3://<bucket>/models/<name>/<version>/{model.joblib,metadata.json}.

`metadata.json` names the features the model was trained on (a subset of features.FEATURES, in order),
their baseline values (what the alerts' model reasons are measured against), the training window, the
validation metrics and the sha256 of `model.joblib` as it was published. The
scorer loads one version when the job starts; scoring.yaml `model.uri` says which, and `model.sha256`
may pin its digest too. Unpickling runs code, so a file whose digest differs from the recorded one is
never loaded.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

MODEL_REASONS = 3  # features an alert names as the model's reasons


@dataclass
class Model:
    version: str
    feature_names: tuple[str, ...]
    estimator: object
    # A typical genuine transaction: each feature's median over the training set's genuine ones. The
    # reasons of an alert are the features whose value, set back to this, lowers the score most.
    baseline: dict[str, float] = field(default_factory=dict)

    def _matrix(self, feature_rows: list[dict]) -> np.ndarray:
        return np.array(
            [[np.nan if (v := row.get(name)) is None else v for name in self.feature_names] for row in feature_rows],
            dtype=np.float64,
        )

    def predict(self, feature_rows: list[dict]) -> np.ndarray:
        """Fraud probability per row; missing features are NaN (the estimator handles them)."""
        return self.estimator.predict_proba(self._matrix(feature_rows))[:, 1]

    def contributions(
        self, feature_rows: list[dict], scores: list[float], top: int = MODEL_REASONS
    ) -> list[list[tuple[str, float]]]:
        """For each row, the `top` features that raise its score most, each with how much: the score minus
        the score with only that feature set to its baseline value. One prediction call for all rows
        (one variant per row and feature with a baseline): the scorer asks for its batch's alerts only."""
        names = [name for name in self.feature_names if name in self.baseline]
        if not names or not feature_rows:
            return [[] for _ in feature_rows]
        columns = [self.feature_names.index(name) for name in names]
        variants = np.repeat(self._matrix(feature_rows), len(names), axis=0)  # row-major: row i, feature j
        variants[np.arange(len(variants)), np.tile(columns, len(feature_rows))] = np.tile(
            [self.baseline[name] for name in names], len(feature_rows)
        )
        drops = np.asarray(scores)[:, np.newaxis] - self.estimator.predict_proba(variants)[:, 1].reshape(
            len(feature_rows), len(names)
        )
        named = []
        for row_drops in drops.tolist():
            ranked = sorted(zip(names, row_drops, strict=True), key=lambda pair: -pair[1])
            named.append([(name, drop) for name, drop in ranked[:top] if drop > 0])
        return named


def _split(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3":
        raise ValueError(f"model uri must be s3://bucket/prefix/, got {uri!r}")
    return parsed.netloc, parsed.path.strip("/")


class ModelIntegrityError(RuntimeError):
    """The model file is not the one that was published (or pinned): it is not loaded."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def metadata(uri: str, s3_client) -> dict:
    """What was recorded with the model at `uri` when it was published (metadata.json)."""
    bucket, prefix = _split(uri)
    return json.loads(s3_client.get_object(Bucket=bucket, Key=f"{prefix}/metadata.json")["Body"].read())


def load(uri: str, s3_client, expected_sha256: str | None = None) -> Model:
    """The model at `uri`, after checking that its file's sha256 is the one recorded at publication (and
    `expected_sha256`, the scoring config's pin, when given)."""
    import joblib

    bucket, prefix = _split(uri)
    published = metadata(uri, s3_client)
    recorded = published.get("sha256")
    if not recorded:
        raise ModelIntegrityError(f"{uri}: metadata.json records no sha256; publish the model again")
    if expected_sha256 and expected_sha256 != recorded:
        raise ModelIntegrityError(f"{uri}: published as sha256 {recorded}, the scoring config pins {expected_sha256}")
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "model.joblib"
        s3_client.download_file(bucket, f"{prefix}/model.joblib", str(local))
        actual = _sha256(local)
        if actual != recorded:
            raise ModelIntegrityError(f"{uri}: model.joblib has sha256 {actual}, published as {recorded}; not loaded")
        estimator = joblib.load(local)
    return Model(published["version"], tuple(published["features"]), estimator, published.get("baseline", {}))


def save(model: Model, metadata: dict, uri: str, s3_client) -> str:
    """Publishes the model and its metadata (with the file's sha256, which it returns)."""
    import joblib

    bucket, prefix = _split(uri)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "model.joblib"
        joblib.dump(model.estimator, local)
        sha256 = _sha256(local)
        s3_client.upload_file(str(local), bucket, f"{prefix}/model.joblib")
    document = {
        **metadata,
        "version": model.version,
        "features": list(model.feature_names),
        "baseline": model.baseline,
        "sha256": sha256,
    }
    s3_client.put_object(Bucket=bucket, Key=f"{prefix}/metadata.json", Body=json.dumps(document, indent=2).encode())
    return sha256


def delete(uri: str, s3_client) -> None:
    """Removes a published model's files (a pruned registry version's)."""
    bucket, prefix = _split(uri)
    s3_client.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": f"{prefix}/{name}"} for name in ("model.joblib", "metadata.json")]}
    )
