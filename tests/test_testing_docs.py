"""docs/testing_plugins.md runs as written: its example project and its tests, in pytest.

The page's files (blocks whose first line is ``# <path>``, and the two recorded JSON
files it names) are written into a project folder, and that project's own tests run
in a separate pytest: first with ``--update-golden`` (the author's first run), then as a
check against the images just written, as an author's CI would.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "testing_plugins.md"


def blocks() -> list[tuple[str, str]]:
    """``(language, text)`` of every fenced block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", DOC.read_text(), flags=re.MULTILINE | re.DOTALL)


def files() -> dict[str, str]:
    found: dict[str, str] = {}
    for _language, text in blocks():
        first = text.split("\n", 1)[0]
        match = re.fullmatch(r"# ([\w./-]+\.(?:py|toml))", first)
        if match:
            found[match.group(1)] = text
    return found


def write_project(root: Path) -> Path:
    project = root / "demo-clock"
    for name, text in files().items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    jsons = [text for language, text in blocks() if language == "json"]
    recorded = project / "tests" / "recorded"
    recorded.mkdir(parents=True)
    (recorded / "status.json").write_text(jsons[0])
    (recorded / "recording.json").write_text(jsons[1])
    return project


def test_the_page_spells_out_a_whole_project() -> None:
    assert set(files()) == {
        "pyproject.toml",
        "demo_clock.py",
        "tests/test_in_process.py",
        "tests/test_in_worker.py",
    }
    json.loads([t for lang, t in blocks() if lang == "json"][1])  # the recording parses


def test_every_sdk_testing_helper_is_documented_with_an_example() -> None:
    import sdk.testing

    text = DOC.read_text()
    examples = "".join(files().values())
    for name in sdk.testing.__all__:
        assert re.search(rf"\b{name}\b", text), f"docs/testing_plugins.md never names {name}"
    used = {name for name in sdk.testing.__all__ if re.search(rf"\b{name}\b", examples)}
    # Types and constants are shown in use through the helpers that return or take them.
    shown_through = {"ModeInfo", "RecordingRequests", "Route", "RECORDING_FORMAT",
                     "UPDATE_ENV", "updating_golden", "Frame"}  # fmt: skip
    assert set(sdk.testing.__all__) - used - shown_through == set()


@pytest.mark.slow  # two pytest runs and five workers: ~15 s quiet, 30 s on a busy machine
def test_the_pages_examples_pass_in_the_authors_pytest(tmp_path: Path) -> None:
    """Verify the examples run: in-process, in a real worker, golden images written on the
    first run and matched on the second, recorded HTTP served to the worker."""
    project = write_project(tmp_path)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    first = subprocess.run(
        [*command, "--update-golden"], cwd=project, capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert (project / "tests" / "golden" / "seconds_64x32.png").exists()
    assert "6 passed" in first.stdout
    # The author's next run compares with the images the first one wrote.
    again = [*command[:-1], "tests/test_in_worker.py", "-k", "golden or fake_clock"]
    second = subprocess.run(again, cwd=project, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "1 passed" in second.stdout


def test_the_pytest_switch_is_offered(pytestconfig: pytest.Config) -> None:
    """Verify ``--update-golden`` reaches every pytest where ledhost is installed (the
    ``pytest11`` entry point), this one included."""
    assert pytestconfig.getoption("--update-golden") is False
