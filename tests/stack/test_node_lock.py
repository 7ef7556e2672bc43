"""dynalite is installed from a lock file (stack/npm, `npm ci`): the version the settings name, and an
integrity hash for every package npm will fetch."""

from __future__ import annotations

import json

from include import settings

NPM_PROJECT = settings.REPO_ROOT / "stack" / "npm"


def test_package_json_pins_the_dynalite_version_of_the_settings():
    pinned = json.loads((NPM_PROJECT / "package.json").read_text())["dependencies"]["dynalite"]
    assert pinned == settings.get("DYNALITE_VERSION")


def test_every_locked_package_has_a_version_and_an_integrity_hash():
    lock = json.loads((NPM_PROJECT / "package-lock.json").read_text())
    packages = {path: meta for path, meta in lock["packages"].items() if path}  # "" is the project itself
    assert packages["node_modules/dynalite"]["version"] == settings.get("DYNALITE_VERSION")
    unverified = sorted(path for path, meta in packages.items() if not meta.get("integrity", "").startswith("sha512-"))
    assert unverified == []
