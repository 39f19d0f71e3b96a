"""Benchmarks that report ratios against a baseline measured in the same run.

Run them with ``python -m benchmarks [--quick] [--out DIR] [--only NAME ...]`` (see
``benchmarks/README.md``). They are not timed assertions: the test suite only checks that
they still run (``tests/test_benchmarks_smoke.py``).

Each benchmark is a module listed in :data:`REGISTRY` that exposes

- ``NAME``: the key it is registered under (what ``--only`` takes);
- ``TITLE``: one line saying what it measures;
- ``run(quick: bool) -> list[Row]``: measure, and return the rows of the table.

The registry names modules instead of importing them, so importing this package costs
nothing and a benchmark whose module cannot be imported on some machine fails alone, as
its own error row, instead of taking the whole runner down.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from benchmarks._util import Row, Spread

__all__ = ["REGISTRY", "Row", "Spread"]

#: Benchmark ``NAME`` -> importable module, in the order the table lists them. The other
#: parts of the benchmark issue (frame handover, worker start, ...) are added here.
REGISTRY: Final[Mapping[str, str]] = MappingProxyType(
    {
        "handoff": "benchmarks.handoff",
        "compositor": "benchmarks.compositor",
        "memory": "benchmarks.memory",
        "recovery": "benchmarks.recovery",
        "isolation": "benchmarks.isolation",
        "startup": "benchmarks.startup",
        "startcpu": "benchmarks.startcpu",
        "idle": "benchmarks.idle",
        "panel": "benchmarks.panel",
        "hostile_schema": "benchmarks.hostile_schema",
        "control": "benchmarks.control",
        "store": "benchmarks.store",
        "preview": "benchmarks.preview",
        "sync": "benchmarks.sync",
        "writes": "benchmarks.writes",
    }
)
