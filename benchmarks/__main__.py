"""``python -m benchmarks``: run the registered benchmarks, print a table, write JSON.

Exit status: 0 when every benchmark ran and every check passed; 1 when a correctness
check failed or a benchmark raised (its error is a row of the table and in the JSON);
2 for a usage error. No exit status depends on a timing: these machines are too noisy
for thresholds, so the figures are for people reading ratios, not for CI to judge.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from benchmarks import REGISTRY
from benchmarks._util import Row, check_row, format_table, machine_info, progress
from benchmarks.goals import judge

#: Where results go unless ``--out`` says otherwise (gitignored).
DEFAULT_OUT: Final = Path(__file__).resolve().parent / "out"
#: Bumped when the layout of ``results.json`` changes incompatibly.
SCHEMA_VERSION: Final = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Run ledhost's benchmarks. Figures are medians over repeats with their spread; "
            "claims are ratios against a baseline measured in the same run."
        ),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer sizes and shorter runs (a smoke test; well under two minutes)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"folder for results.json (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        metavar="NAME",
        help=f"run only these benchmarks (of: {', '.join(REGISTRY)})",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    return parser


def _load(name: str) -> ModuleType:
    module = importlib.import_module(REGISTRY[name])
    for attr in ("NAME", "TITLE", "run"):
        if not hasattr(module, attr):
            raise TypeError(f"benchmark module {module.__name__} has no {attr}; see benchmarks/")
    if module.NAME != name:
        raise TypeError(
            f"benchmark module {module.__name__} says NAME={module.NAME!r} but is registered "
            f"as {name!r} in benchmarks/__init__.py; make them match"
        )
    return module


def run_benchmark(name: str, quick: bool) -> tuple[dict[str, Any], list[Row]]:
    """Run one benchmark; an exception becomes a failed row instead of ending the run."""
    started = time.monotonic()
    title = ""
    error: str | None = None
    try:
        module = _load(name)
        title = module.TITLE
        progress(f"{name}: {title}")
        rows: list[Row] = list(module.run(quick))
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        error = "".join(traceback.format_exception_only(exc)).strip()
        traceback.print_exc(file=sys.stderr)
        rows = [check_row(name, "ran to the end", False, error)]
    elapsed = time.monotonic() - started
    summary = {
        "title": title,
        "elapsed_s": round(elapsed, 2),
        "error": error,
        "rows": [row.to_json() for row in rows],
    }
    return summary, rows


def _write_json(path: Path, data: dict[str, Any]) -> None:
    # Through ledhost's one atomic-write helper: an interrupted run never leaves a
    # half-written results.json.
    from config.atomic import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent=2) + "\n")


def compile_ledhost() -> str:
    """Compile ledhost's own packages to bytecode first, as ``pip install`` does.

    An editable install (``pip install -e``) compiles nothing, and where
    ``PYTHONDONTWRITEBYTECODE`` is set (this machine's shells) no process writes what it
    compiled: every host, zygote and worker then compiled each changed module from
    source at start (61 modules, ~160 ms of the host's start-up here). A user's install
    has bytecode; so do the processes measured here.
    """
    import compileall

    from benchmarks.isolation import ROOT

    packages = [ROOT / name for name in ("config", "host", "sdk", "plugins_builtin", "store")]
    ok = all(compileall.compile_dir(p, quiet=1) for p in packages if p.is_dir())
    return "compiled at start (as pip install does)" if ok else "compile failed for some"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        for name, module in REGISTRY.items():
            print(f"{name}\t{module}")
        return 0
    names: list[str] = list(dict.fromkeys(args.only or REGISTRY))
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(REGISTRY)}")

    compiled = compile_ledhost()
    machine = machine_info()
    machine["bytecode"] = compiled
    started = time.monotonic()
    results: dict[str, Any] = {}
    all_rows: list[Row] = []
    for name in names:
        summary, rows = run_benchmark(name, args.quick)
        results[name] = summary
        all_rows.extend(rows)
    data: dict[str, Any] = {"quick": args.quick, "benchmarks": results}
    verdicts = [v for v in judge(data) if v.goal.benchmark in names]
    unjudged = [v for v in verdicts if v.state == "no row"]
    passed = all(row.passed is not False for row in all_rows) and not unjudged

    print(format_table(all_rows))
    if verdicts:
        print("\ngoals (issue 15; readings, not pass/fail: see benchmarks/goals.py)")
        for verdict in verdicts:
            print(f"  {verdict.line()}")
    out = args.out / "results.json"
    _write_json(
        out,
        {
            "schema": SCHEMA_VERSION,
            "quick": args.quick,
            "machine": machine,
            "elapsed_s": round(time.monotonic() - started, 2),
            "passed": passed,
            "benchmarks": results,
            "goals": [
                {
                    "what": v.goal.what,
                    "benchmark": v.goal.benchmark,
                    "case": v.goal.case,
                    "limit": v.goal.limit,
                    "op": v.goal.op,
                    "state": v.state,
                    "measured": v.measured,
                    "margin": v.margin,
                }
                for v in verdicts
            ],  # fmt: skip
        },
    )
    print(f"\nwrote {out}")
    if not passed:
        failed = [f"{r.benchmark}: {r.case}" for r in all_rows if r.passed is False]
        failed += [f"goal without its row: {v.goal.benchmark}: {v.goal.case}" for v in unjudged]
        print(f"FAILED: {'; '.join(failed)}", file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
