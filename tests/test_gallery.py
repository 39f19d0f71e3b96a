"""The README's gallery can be rebuilt: every shot renders through ``ledhost render``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_gallery_renders_every_shot_with_ledhost_render() -> None:
    """Verify ``docs/gallery/make.py --check`` renders each shot, with data and no note
    (a note means the mode had no content: a recorded answer no longer matches)."""
    result = subprocess.run(
        [sys.executable, "docs/gallery/make.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "renders made" in result.stdout
    for shot in ("clock", "weather-current", "crypto-ticker", "scoreboard-live", "image"):
        assert f"--out out/{shot}.png" in result.stdout, shot
