"""include/scoring/model.py: a model file is loaded only if its sha256 is the one recorded when it was
published (and the one the scoring config pins)."""

from __future__ import annotations

import pytest

from include.scoring import model as model_store
from tests.unit.scoring_fakes import InMemoryS3

URI = "s3://warehouse/models/fraud/v1"


@pytest.fixture
def published() -> tuple[InMemoryS3, str]:
    s3 = InMemoryS3()
    estimator = {"weights": [0.1, 0.2]}  # any picklable object stands in for the estimator
    sha256 = model_store.save(model_store.Model("v1", ("amount",), estimator), {"trained": "today"}, URI, s3)
    return s3, sha256


def test_the_published_model_loads_with_or_without_its_pin(published):
    s3, sha256 = published
    assert model_store.load(URI, s3).estimator == {"weights": [0.1, 0.2]}
    assert model_store.load(URI, s3, expected_sha256=sha256).version == "v1"


def test_a_model_file_replaced_after_publication_is_not_loaded(published):
    s3, _ = published
    s3.objects["warehouse", "models/fraud/v1/model.joblib"] += b"\x00"
    with pytest.raises(model_store.ModelIntegrityError, match="published as"):
        model_store.load(URI, s3)


def test_a_pin_other_than_the_published_digest_is_refused(published):
    s3, _ = published
    with pytest.raises(model_store.ModelIntegrityError, match="pins"):
        model_store.load(URI, s3, expected_sha256="0" * 64)


def test_a_model_published_without_a_digest_is_refused(published):
    s3, _ = published
    s3.objects["warehouse", "models/fraud/v1/metadata.json"] = b'{"version": "v1", "features": ["amount"]}'
    with pytest.raises(model_store.ModelIntegrityError, match="records no sha256"):
        model_store.load(URI, s3)
