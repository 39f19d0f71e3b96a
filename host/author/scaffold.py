"""``ledhost plugin new``: a complete, installable plugin project from a template.

The template is real files under ``host/author/template/`` (package data): a
``pyproject.toml`` with the ``ledhost.plugins`` entry point and the ledhost requirement
the store reads as its host-version check, a package with hooks (modes, a config schema
that makes a good form, ``refresh_data``, ``render_frame``), a test through
:mod:`sdk.testing` and a README. Files are rendered with :class:`string.Template` from
values checked here first (:func:`check_plugin_id`, :func:`check_mode`), never from raw
input, so a name can neither break out of a string in the generated code nor name a path.

The project passes its own tests as it is: its golden image (the reviewed picture its
real-worker test compares with) is rendered by :func:`make_golden` right after the files
are written, in a real worker, with the config and fake clock the test uses
(:data:`GOLDEN_CONFIG`, :data:`GOLDEN_NOW`, substituted into the test from here, so the
two cannot drift).

Interface for later parts: :func:`new_project` (returns the files written),
:func:`make_golden` and :func:`check_plugin_id` (the one rule for a new plugin's id).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import string
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from config import is_valid_id
from config.schema import is_valid_mode
from host import __version__
from host.errors import HostError
from host.namesafe import OWN_PACKAGES
from sdk.hookspecs import ENTRY_POINT_GROUP

__all__ = [
    "GOLDEN_CONFIG",
    "GOLDEN_NOW",
    "NewProject",
    "ScaffoldError",
    "check_mode",
    "check_plugin_id",
    "make_golden",
    "new_project",
]

#: The template's folder (package data).
TEMPLATE: Final = Path(__file__).parent / "template"
#: Names a plugin id may not take beyond ledhost's packages and the standard library:
#: they name ledhost itself or its commands, and would confuse every message.
RESERVED_IDS: Final = frozenset({"ledhost", "plugin", "plugins", "builtin", "test", "tests"})
#: The config and fake clock of the generated test's golden image (2024-03-01 12:00:15
#: UTC; without the time, whose face depends on the machine's time zone).
GOLDEN_CONFIG: Final = {"message": "Hi Ada", "show_time": False}
GOLDEN_NOW: Final = 1709294415.0
#: The golden image's panel size.
GOLDEN_SIZE: Final = (64, 32)


class ScaffoldError(HostError):
    """The project cannot be created as asked (bad name, folder exists)."""


@dataclass(frozen=True)
class NewProject:
    """What :func:`new_project` made."""

    #: The project folder.
    root: Path
    plugin_id: str
    #: The import name of the plugin's package (``ledhost_<id>``).
    package: str
    #: The distribution name (``ledhost-<id>``).
    distribution: str
    mode: str
    #: Every file written, relative to :attr:`root`.
    files: tuple[str, ...]


def _builtin_ids() -> frozenset[str]:
    """The builtin plugins' ids, from ledhost's own entry points (no plugin code runs)."""
    try:
        dist = importlib.metadata.distribution("ledhost")
    except importlib.metadata.PackageNotFoundError:
        return frozenset()
    return frozenset(ep.name for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP)


def check_plugin_id(name: str) -> str:
    """Return ``name`` if it can be a new plugin's id; else raise saying why.

    The id rule is the one discovery and the store apply (:func:`config.is_valid_id`);
    on top, a new plugin may not take a builtin's id (the builtin would always win), a
    name of ledhost's own packages or of the standard library (its package is
    ``ledhost_<id>``, but a plugin named ``sdk`` or ``os`` reads as one and invites a
    module of that name), nor a word that means ledhost itself.

    :raises ScaffoldError: naming the problem and the rule.
    """
    if not is_valid_id(name):
        raise ScaffoldError(
            f"{name!r} is not a valid plugin id: ids are 1-64 of a-z, 0-9, '_', '-' "
            "starting with a letter (e.g. 'bus-times')"
        )
    module = name.replace("-", "_")
    if module in OWN_PACKAGES or name in RESERVED_IDS:
        raise ScaffoldError(f"{name!r} names ledhost itself or one of its packages; pick another")
    if module in sys.stdlib_module_names:
        raise ScaffoldError(
            f"{name!r} is the name of a Python standard library module; pick another"
        )
    if name in _builtin_ids():
        raise ScaffoldError(
            f"{name!r} is a builtin plugin's id; a plugin with it would never run (the "
            "builtin always wins); pick another"
        )
    return name


def check_mode(name: str) -> str:
    """Return ``name`` if it is a valid mode name (:func:`config.is_valid_mode`).

    :raises ScaffoldError: naming the rule.
    """
    if not is_valid_mode(name):
        raise ScaffoldError(
            f"{name!r} is not a valid mode name: 1-32 of a-z, 0-9, '_', '-' "
            "starting with a letter or digit"
        )
    return name


def _ledhost_spec() -> str:
    """The ledhost versions a new plugin declares: this major version, from this minor on
    (the SDK is stable within a major version)."""
    major, minor = (int(part) for part in __version__.split(".")[:2])
    return f">={major}.{minor},<{major + 1}"


def new_project(name: str, folder: Path, mode: str = "main") -> NewProject:
    """Create the project ``ledhost-<name>`` inside ``folder``.

    The project folder is claimed with one ``mkdir`` (it must not exist: nothing is ever
    overwritten) and removed again if writing fails half way.

    :raises ScaffoldError: a bad name or mode, a missing parent, an existing project.
    """
    plugin_id = check_plugin_id(name)
    mode = check_mode(mode)
    package = "ledhost_" + plugin_id.replace("-", "_")
    values = {
        "plugin_id": plugin_id,
        "package": package,
        "package_short": plugin_id.replace("-", "_"),
        "dist": f"ledhost-{plugin_id}",
        "mode": mode,
        "title": plugin_id.replace("-", " ").replace("_", " ").title(),
        "ledhost_spec": _ledhost_spec(),
        "golden_config": _python_literal(GOLDEN_CONFIG),
        "golden_now": repr(GOLDEN_NOW),
    }
    if not folder.is_dir():
        raise ScaffoldError(f"{folder} is not a folder")
    root = folder / values["dist"]
    try:
        root.mkdir()
    except FileExistsError:
        raise ScaffoldError(f"{root} already exists; nothing was changed") from None
    written: list[str] = []
    try:
        for source in sorted(TEMPLATE.rglob("*.tmpl")):
            relative = _target(source.relative_to(TEMPLATE), values)
            text = string.Template(source.read_text()).substitute(values)
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "x", encoding="utf-8") as out:  # never follows a planted file
                out.write(text)
            written.append(relative.as_posix())
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return NewProject(root, plugin_id, package, values["dist"], mode, tuple(written))


def _python_literal(options: dict[str, object]) -> str:
    """``options`` as Python source the way ruff formats it (double quotes)."""

    def literal(value: object) -> str:
        return json.dumps(value) if isinstance(value, str) else repr(value)

    return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in options.items()) + "}"


def golden_path(project: NewProject) -> Path:
    """Where the generated test looks for its golden image."""
    width, height = GOLDEN_SIZE
    return project.root / "tests" / "golden" / f"{project.mode}_{width}x{height}.png"


def make_golden(project: NewProject) -> Path:
    """Render the new project's golden image in a real worker, as its test will.

    Without it the project's first test run would fail until the author made the image
    (``--update-golden``): the scaffold must pass its own tests as it is. The author still
    reviews the picture (the command says where it is).

    :raises sdk.testing.WorkerError: the worker could not run the plugin here.
    """
    from PIL import Image

    from sdk.testing import WorkerRunner

    path = golden_path(project)
    before = set(project.root.rglob("__pycache__"))
    try:
        with WorkerRunner(project.root, size=GOLDEN_SIZE, config=dict(GOLDEN_CONFIG)) as runner:
            (frame,) = runner.render(project.mode, now=GOLDEN_NOW)
    finally:
        # The worker's imports leave bytecode; the new project should hold only its files.
        for cache in set(project.root.rglob("__pycache__")) - before:
            shutil.rmtree(cache, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame.pixels).save(path, optimize=True)
    return path


def _target(relative: Path, values: dict[str, str]) -> Path:
    """Where a template file goes: ``package/`` is the package; the test is named after
    the plugin; ``.tmpl`` is dropped."""
    parts = list(relative.with_suffix("").parts)
    if parts[0] == "package":
        parts[0] = values["package"]
    if parts[-1] == "test_plugin.py":
        parts[-1] = f"test_{values['package_short']}.py"
    return Path(os.path.join(*parts))
