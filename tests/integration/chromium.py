"""Headless Chromium (Debian's, installed by stack/install.py) for the tests that open a page as a person
would: its DOM after scripts ran, and a screenshot."""

from __future__ import annotations

import subprocess
from pathlib import Path

from include import settings


def _command(profile: Path, window: str) -> list[str]:
    return [
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={window}",
    ]


def dump_dom(url: str, profile: Path, window: str = "1100,2400") -> str:
    result = subprocess.run(
        [*_command(profile, window), "--dump-dom", url], capture_output=True, text=True, timeout=120
    )
    return result.stdout


def screenshot(url: str, path: Path, profile: Path, window: str = "1100,2400") -> subprocess.CompletedProcess:
    path.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [*_command(profile, window), f"--screenshot={path}", url], capture_output=True, text=True, timeout=120
    )


def output_dir() -> Path:
    """Where browser tests keep their screenshots for a person to look at: .stack/test-output (kept
    until `make clean`; each test overwrites its own files)."""
    return Path(settings.get("STACK_HOME")) / "test-output"
