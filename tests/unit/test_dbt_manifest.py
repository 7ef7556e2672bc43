"""include/dbt_manifest.py: which tests no single-model `dbt build` (buildable indirect selection) runs."""

from __future__ import annotations

from include import dbt_manifest


def _manifest(tests: dict[str, list[str]], parent_map: dict[str, list[str]]) -> dict:
    nodes = {f"test.p.{name}": {"resource_type": "test", "name": name, "depends_on": {"nodes": parents}}
             for name, parents in tests.items()}
    nodes["model.p.stg"] = {"resource_type": "model", "name": "stg", "depends_on": {"nodes": ["source.p.raw"]}}
    return {"nodes": nodes, "parent_map": {**parent_map, **{f"test.p.{n}": p for n, p in tests.items()}}}


def test_tests_on_sources_and_between_unrelated_models_are_outside():
    # raw (source) -> stg -> int -> fct_a ; stg -> fct_b
    parent_map = {"source.p.raw": [], "model.p.stg": ["source.p.raw"], "model.p.int": ["model.p.stg"],
                  "model.p.fct_a": ["model.p.int"], "model.p.fct_b": ["model.p.stg"]}
    manifest = _manifest({
        "not_null_stg": ["model.p.stg"],                          # built with stg
        "sums_match_fct_a_stg": ["model.p.stg", "model.p.fct_a"],  # built with fct_a (stg is upstream)
        "source_unique_raw": ["source.p.raw"],                    # no model builds it
        "stg_matches_raw": ["source.p.raw", "model.p.stg"],        # built with stg
        "relationships_fct_b_fct_a": ["model.p.fct_a", "model.p.fct_b"],  # neither upstream of the other
    }, parent_map)
    assert dbt_manifest.tests_outside_model_builds(manifest) == ["relationships_fct_b_fct_a", "source_unique_raw"]
