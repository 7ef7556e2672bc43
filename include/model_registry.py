"""Fraud models as MLflow registered model versions, with their files where the scoring job reads them.

A version's files keep the job's layout (include/scoring/model.py) under
s3://<MLFLOW_ARTIFACTS_BUCKET>/<name>/<run id>/; MLflow records the version (its `source` is that prefix,
its tag `sha256` the digest of model.joblib as published), the run that trained it and the alias
`champion`: the version the platform job should score with. The job itself never calls MLflow: a deploy
resolves `models:/<name>@champion` to one version's prefix and digest (resolve()) and pins both in the
config it submits, so a running job always scores with one concrete version, named with every score
(`<name>/<version>`).

Why not MLflow's own model format: the job's loader checks the file's digest before it unpickles
anything, and the UDF's environment stays free of MLflow.
"""

from __future__ import annotations

import copy
import functools
import os
from dataclasses import dataclass

import yaml

from include import aws, settings
from include.scoring import model as model_store
from include.scoring.config import CAPACITY, REGISTRY_URI
from include.scoring.model import Model

CHAMPION = "champion"
CAPACITY_TAG = "capacity_alert_threshold"


class RegistryError(RuntimeError):
    pass


@dataclass(frozen=True)
class ModelRef:
    """One registered version: what a deploy pins."""

    name: str
    version: str
    uri: str  # s3://bucket/prefix/ holding model.joblib and metadata.json
    sha256: str
    # The score above which about the training run's budget of cards a day were alerted on its evaluation
    # period (model_lifecycle.capacity_threshold); a deploy alerts from it under the `capacity` policy.
    capacity_threshold: float | None = None

    @property
    def label(self) -> str:
        """The model version the job stores with every score."""
        return f"{self.name}/{self.version}"


def is_registry_uri(uri: str | None) -> bool:
    return bool(uri) and uri.startswith("models:/")


@functools.cache
def client():
    """An MLflow client signed in as the platform (MLflow clients read their login from the environment)."""
    from mlflow import MlflowClient

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        os.environ.setdefault(name, settings.get(name))
    return MlflowClient(tracking_uri=settings.get("MLFLOW_TRACKING_URI"))


def _ref(version) -> ModelRef:
    sha256 = version.tags.get("sha256")
    if not sha256:
        raise RegistryError(f"{version.name} version {version.version} records no sha256: it was never published")
    capacity = version.tags.get(CAPACITY_TAG)
    return ModelRef(version.name, str(version.version), version.source, sha256, float(capacity) if capacity else None)


def resolve(models_uri: str) -> ModelRef | None:
    """`models:/<name>@<alias>` or `models:/<name>/<version>` as the version it names now; None if the
    alias is set on no version (a registry with no champion yet)."""
    from mlflow.exceptions import MlflowException

    match = REGISTRY_URI.match(models_uri)
    if not match:
        raise RegistryError(f"{models_uri!r} is not models:/<name>@<alias> or models:/<name>/<version>")
    name, alias, version = match["name"], match["alias"], match["version"]
    try:
        found = client().get_model_version_by_alias(name, alias) if alias else client().get_model_version(name, version)
    except MlflowException as error:
        if error.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
        if alias:
            return None
        raise RegistryError(f"{models_uri}: no such model version") from None
    return _ref(found)


def pin(scoring_config_text: str, reference: str | None = None) -> tuple[str, ModelRef | None]:
    """A scoring config whose model is a registry reference (or `reference`, in its place), rewritten to
    name the version the reference resolves to now, and that version. Any other config comes back as it
    was, with None."""
    raw = yaml.safe_load(scoring_config_text)
    reference = reference or (raw.get("model") or {}).get("uri")
    if not is_registry_uri(reference):
        return scoring_config_text, None
    ref = resolve(reference)
    return pinned_to(raw, reference, ref), ref


def pinned_to(raw: dict, reference: str, ref: ModelRef | None) -> str:
    """The parsed scoring config `raw` naming version `ref` of `reference`: its S3 prefix and digest, the
    reference kept as `registered_as`, and under the `capacity` policy its own alert threshold. With no
    version (an alias set on none: no champion yet) the config scores with the rules only."""
    raw = copy.deepcopy(raw)
    policy = (raw.get("model") or {}).get("alert_threshold")
    raw["model"] = {
        "uri": ref.uri if ref else None,
        "sha256": ref.sha256 if ref else None,
        "registered_as": reference,
        "alert_threshold": policy,
    }
    pinned = f"{reference} = {ref.label}" if ref else f"{reference} names no version: rules only"
    if ref and policy == CAPACITY:
        if ref.capacity_threshold is None:
            raise RegistryError(f"{ref.label} records no {CAPACITY_TAG}: the capacity policy has no threshold")
        raw["decision"]["alert_threshold"] = ref.capacity_threshold
        pinned += f", alerting from {ref.capacity_threshold:.6g} (its capacity threshold)"
    return f"# Pinned by the deploy: {pinned}\n" + yaml.safe_dump(raw, sort_keys=False)


def champion(name: str) -> ModelRef | None:
    return resolve(f"models:/{name}@{CHAMPION}")


def register(
    name: str, run_id: str, estimator, feature_names: tuple[str, ...], baseline: dict[str, float], metadata: dict
) -> ModelRef:
    """A new version of `name` trained in run `run_id`: registered, then its files published to S3 under
    the prefix the version names (with its label and digest in metadata.json), then tagged with the digest.
    A version without the tag is one whose publication failed: resolve() refuses it."""
    from mlflow.exceptions import MlflowException

    registry = client()
    try:
        registry.create_registered_model(name, description="Fraud probability per card transaction (scoring job).")
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    uri = f"s3://{settings.get('MLFLOW_ARTIFACTS_BUCKET')}/{name}/{run_id}"
    version = registry.create_model_version(name, source=uri, run_id=run_id)
    model = Model(f"{name}/{version.version}", feature_names, estimator, baseline)
    sha256 = model_store.save(model, metadata, uri, aws.s3_client())
    registry.set_model_version_tag(name, version.version, "sha256", sha256)
    return ModelRef(name, str(version.version), uri, sha256)


def load(ref: ModelRef) -> Model:
    """The version's model, after the digest check (include/scoring/model.py)."""
    return model_store.load(ref.uri, aws.s3_client(), ref.sha256)


def record_capacity_threshold(ref: ModelRef, threshold: float) -> ModelRef:
    client().set_model_version_tag(ref.name, ref.version, CAPACITY_TAG, repr(threshold))
    return ModelRef(ref.name, ref.version, ref.uri, ref.sha256, threshold)


def record_judgement(ref: ModelRef, promoted: bool, reason: str) -> None:
    registry = client()
    registry.set_model_version_tag(ref.name, ref.version, "promoted", str(promoted).lower())
    registry.set_model_version_tag(ref.name, ref.version, "judgement", reason)


def make_champion(ref: ModelRef) -> None:
    client().set_registered_model_alias(ref.name, CHAMPION, ref.version)


def prune(name: str, keep: int) -> list[str]:
    """Deletes all but the newest `keep` versions of `name`, except any an alias names, with their files.
    Returns the versions deleted. Keeps the registry and the models bucket bounded: one version a week."""
    registry = client()
    versions = sorted(registry.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version), reverse=True)
    aliased = {str(version) for version in registry.get_registered_model(name).aliases.values()}
    deleted = []
    for version in versions[keep:]:
        if version.version in aliased:
            continue
        model_store.delete(version.source, aws.s3_client())
        registry.delete_model_version(name, version.version)
        deleted.append(str(version.version))
    return deleted
