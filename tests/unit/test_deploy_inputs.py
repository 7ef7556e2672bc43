"""include/deploy_inputs.py: the deploy DAG's params name only the platform's configs and savepoints."""

from __future__ import annotations

import pytest

from include import deploy_inputs, settings

ROOT = settings.get("FLINK_SAVEPOINT_DIR").rstrip("/")


def test_a_versioned_scoring_config_is_taken_by_path_or_by_name():
    default = deploy_inputs.SCORING_CONFIG_DIR / "scoring.yaml"
    assert deploy_inputs.scoring_config(str(default)) == default.resolve()
    assert deploy_inputs.scoring_config("scoring.yaml") == default.resolve()


@pytest.mark.parametrize(
    "given",
    [
        "/etc/passwd",
        "../../../etc/passwd",
        str(deploy_inputs.SCORING_CONFIG_DIR / ".." / ".." / "docker-compose.yml"),
        str(deploy_inputs.SCORING_CONFIG_DIR / "config.py"),
        str(settings.REPO_ROOT / ".stack" / "secrets" / "credentials.env"),
        "",
    ],
)
def test_any_other_file_is_refused(given):
    with pytest.raises(deploy_inputs.RefusedInput, match="not one of the versioned configs"):
        deploy_inputs.scoring_config(given)


def test_a_savepoint_under_the_platform_directory_is_taken():
    given = f"{ROOT}/savepoint-1a2b3c-0123456789ab"
    assert deploy_inputs.savepoint(given) == given


@pytest.mark.parametrize(
    "given",
    [
        ROOT,
        f"{ROOT}/../checkpoints/x",
        f"{ROOT}/savepoint-1/../../../../etc",
        f"{ROOT}-other/savepoint-1",
        "file:///etc/savepoint-1",
        "/tmp/savepoint-1",
        f"s3://warehouse/{ROOT.removeprefix('file:///')}/savepoint-1",
        "",
    ],
)
def test_a_savepoint_anywhere_else_is_refused(given):
    with pytest.raises(deploy_inputs.RefusedInput, match="not under the platform's savepoint directory"):
        deploy_inputs.savepoint(given)


def test_without_a_version_the_config_names_the_model():
    assert deploy_inputs.model_reference(None, "models:/fraud@champion") == "models:/fraud@champion"
    assert deploy_inputs.model_reference(None, None) is None


def test_a_version_is_one_of_the_model_the_config_names():
    assert deploy_inputs.model_reference(3, "models:/fraud@champion") == "models:/fraud/3"
    assert deploy_inputs.model_reference(1, "models:/fraud/7") == "models:/fraud/1"


@pytest.mark.parametrize(
    ("version", "configured"),
    [(3, None), (3, "s3://models/fraud/abc"), (0, "models:/fraud@champion"), (True, "models:/fraud@champion")],
)
def test_a_version_without_a_registered_model_or_not_a_version_number_is_refused(version, configured):
    with pytest.raises(deploy_inputs.RefusedInput):
        deploy_inputs.model_reference(version, configured)
