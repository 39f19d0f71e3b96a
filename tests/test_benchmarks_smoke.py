"""The benchmark runner still works: ``python -m benchmarks --quick`` as CI would run it.

No timing thresholds (DESIGN.md: performance is reported as ratios by the benchmarks, not
asserted by tests on a shared, noisy machine). What is checked is the shape of the
results: every expected case is there with a median, a spread and a ratio to the copy it
is measured against, and every kernel check passed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parent.parent

#: The paced cases at the headline size (benchmarks/compositor.py ``paced_cases``).
PACED = ("timer", "copy", "identity", "colour", "crossfade", "slide", "strip")
#: What each paced section's ratios are against: the plain copy, measured in the same rounds.
BASELINES = {"paced": "128x64 paced cpu: copy", "paced-share": "128x64 paced share: copy"}

# About 15 s: seven paced cases of 1.5 s each at 60 fps, paced on purpose (see the module).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "compositor", "--out", out],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "128x64 paced cpu: crossfade+b50" in done.stdout  # the table was printed
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    return data


def _rows(results: dict[str, Any], section: str) -> dict[str, dict[str, Any]]:
    rows = results["benchmarks"]["compositor"]["rows"]
    return {r["params"]["kernel"]: r for r in rows if r["params"].get("section") == section}


def test_results_describe_the_machine_and_the_run(results: dict[str, Any]) -> None:
    """Verify results.json says what it was measured on, and that this was a quick run."""
    assert results["quick"] is True
    assert results["passed"] is True
    assert list(results["benchmarks"]) == ["compositor"]
    assert results["benchmarks"]["compositor"]["error"] is None
    machine = results["machine"]
    for key in ("platform", "cpu_model", "cores", "python", "numpy", "date"):
        assert machine[key], key


@pytest.mark.parametrize("section", ["paced", "paced-share"])
def test_every_paced_case_has_a_median_spread_and_ratio_to_the_copy(
    results: dict[str, Any], section: str
) -> None:
    rows = _rows(results, section)
    assert set(rows) == set(PACED)
    for kernel, row in rows.items():
        assert row["params"]["size"] == "128x64"
        value = row["value"]
        assert value["low"] <= value["median"] <= value["high"], kernel
        assert value["n"] >= 4, kernel
        if kernel == "copy" or (kernel == "timer" and section == "paced"):
            assert row["ratio"] is None, kernel  # the baseline, and the bracket subtracted
        else:
            assert row["ratio"]["median"] > 0, kernel
            assert row["baseline"] == BASELINES[section], kernel


def test_tight_loop_kernels_are_reported_against_the_copy(results: dict[str, Any]) -> None:
    rows = _rows(results, "tight")
    assert {"copy", "xf_u16", "b_lut", "c_lut3", "strip_band", "compose_xf"} <= set(rows)
    assert all(r["baseline"] == "128x64 tight: copy" for k, r in rows.items() if k != "copy")


def test_every_kernel_check_ran_and_passed(results: dict[str, Any]) -> None:
    rows = results["benchmarks"]["compositor"]["rows"]
    checks = {r["case"]: r for r in rows if r["unit"] == "check"}
    assert {
        "128x64 check: crossfade, all 257 alphas",
        "128x64 check: brightness 0-100",
        "128x64 check: colour LUTs (gamma, brightness, tint)",
        "128x64 check: compose crossfade + colour",
        "128x64 check: self-test, naive uint8 blend is caught",
        "128x64 check: tight alternatives match the chosen kernels",
    } <= set(checks)
    failed = {case: r["note"] for case, r in checks.items() if r["passed"] is not True}
    assert not failed


def test_an_unknown_benchmark_is_a_usage_error_naming_the_choices() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "nosuch"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown benchmark nosuch; choose from" in done.stderr and "compositor" in done.stderr
