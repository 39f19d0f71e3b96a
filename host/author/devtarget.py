"""What ``ledhost dev`` runs: a plugin project folder (not installed) or an installed id.

A worker loads a plugin by entry point, which needs installed metadata. A project folder
being edited has none until ``pip install -e .``, so :func:`project_spec` writes what pip
would (a ``.dist-info`` with ``METADATA`` and ``entry_points.txt``, read from the
project's ``pyproject.toml``) into a scratch folder, and the worker gets that folder and
the project's source root on its ``sys.path``. Each new worker imports the files as they
are now, which is what makes reloading a matter of starting a fresh worker.

Interface (for other author tools): :func:`resolve_target` ``(target, shim_dir,
plugin_paths, store) -> DevTarget``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host.discovery import PluginSpec, discover
from host.errors import HostError
from sdk.hookspecs import ENTRY_POINT_GROUP, PERMISSIONS_GROUP

__all__ = ["DevTarget", "project_spec", "resolve_target"]

_DIST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?\Z")


@dataclass(frozen=True)
class DevTarget:
    """A plugin to run, and the folders whose files changing means "reload"."""

    spec: PluginSpec
    #: Folders to watch (empty for an installed plugin outside any project).
    watch: tuple[Path, ...]


def _table(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    value: Any = document
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def project_spec(folder: Path, shim_dir: Path, plugin_id: str | None = None) -> DevTarget:
    """The plugin a project folder declares, runnable without installing it.

    :param shim_dir: an empty scratch folder for the generated ``.dist-info``.
    :param plugin_id: which of the project's plugins, if it declares several.
    :raises HostError: no readable ``pyproject.toml``, or no ``ledhost.plugins`` entry point.
    """
    pyproject = folder / "pyproject.toml"
    try:
        document = tomllib.loads(pyproject.read_text())
    except FileNotFoundError:
        raise HostError(f"{folder}: no pyproject.toml (is this a plugin project?)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HostError(f"{pyproject}: {exc}") from None
    project = _table(document, "project")
    name = project.get("name")
    if not isinstance(name, str) or not _DIST_NAME.match(name):
        raise HostError(f"{pyproject}: [project] name is missing or not a distribution name")
    version = project.get("version", "0.0.0")
    if not isinstance(version, str) or "\n" in version:
        version = "0.0.0"  # dynamic versions: the dev run does not need the real one
    entry_points = _table(project, "entry-points")
    plugins = entry_points.get(ENTRY_POINT_GROUP)
    if not isinstance(plugins, dict) or not plugins:
        raise HostError(
            f'{pyproject}: no [project.entry-points."{ENTRY_POINT_GROUP}"] table; add one '
            'naming your plugin id and module, e.g. my_plugin = "my_plugin"'
        )
    lines = []
    for group in (ENTRY_POINT_GROUP, PERMISSIONS_GROUP):
        table = entry_points.get(group)
        if not isinstance(table, dict):
            continue
        lines.append(f"[{group}]")
        for key, value in table.items():
            if not isinstance(value, str) or "\n" in key or "\n" in value:
                raise HostError(f"{pyproject}: entry point {key!r} in {group} is not a string")
            lines.append(f"{key} = {value}")
    info = shim_dir / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    source_root = folder / "src" if (folder / "src").is_dir() else folder
    specs = {
        k: v
        for k, v in discover([str(shim_dir), str(source_root)], environment=False).items()
        if v.source == "path"
    }
    chosen = plugin_id or next(iter(plugins))
    if chosen not in specs:
        raise HostError(
            f"{pyproject} declares no plugin {chosen!r} (it declares: {', '.join(sorted(plugins))})"
        )
    return DevTarget(specs[chosen], (folder.resolve(),))


def resolve_target(
    target: str,
    shim_dir: Path,
    plugin_paths: tuple[str, ...] = (),
    store: Path | None = None,
) -> DevTarget:
    """``target`` is a project folder (``.`` by default) or an installed plugin's id.

    :raises HostError: naming what was looked for and what exists.
    """
    path = Path(target)
    if path.is_dir():
        return project_spec(path.resolve(), shim_dir)
    specs = discover(plugin_paths, store=store)
    spec = specs.get(target)
    if spec is None:
        known = ", ".join(specs) or "none"
        raise HostError(
            f"{target!r} is neither a plugin project folder nor an installed plugin id "
            f"(installed: {known})"
        )
    # A plugin found on a --plugin-path folder reloads when that folder's files change;
    # one installed in an environment (a whole site-packages) is not watched: edit its
    # project folder instead (``ledhost dev PATH``).
    watch: tuple[Path, ...] = ()
    if spec.source == "path":
        watch = tuple(Path(p).resolve() for p in spec.paths if Path(p).is_dir())
    return DevTarget(spec, watch)
