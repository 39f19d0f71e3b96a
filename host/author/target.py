"""What the author tools run: a project folder, an installed plugin id, or a wheel.

``ledhost check``, ``ledhost dev`` and ``ledhost harness`` (what ``sdk.testing`` drives)
all take the same three kinds of target, and each becomes a
:class:`~host.discovery.PluginSpec`, the description the host starts a worker from, so
the plugin is loaded exactly as the host would load it:

- a **project folder** (``pyproject.toml`` with a ``ledhost.plugins`` entry point): its
  entry points are written as a distribution's metadata into a scratch folder, the way an
  editable install would, and the worker imports the package from the project (``src/``
  if there is one). Each new worker imports the files as they are now, without building,
  which is what makes reloading (``ledhost dev``) a matter of starting a fresh worker;
- an **installed id**: discovery as ``ledhost plugins`` does (builtins, the store,
  ledhost's environment, and ``--plugin-path`` folders);
- a **wheel**: checked as the store checks one (:func:`store.wheels.inspect_wheel`), then
  installed into a scratch environment as the store builds one (:mod:`store.envs`); once
  per scratch folder (a wheel's files never change, so a reload reuses it).

The project's ``pyproject.toml`` is input from whoever wrote the plugin: its name and
version become a folder and file name and its entry points a metadata file, so each is
checked before it is written (no path separators, no line breaks).

Interface: :func:`resolve` (a context manager; the scratch folder goes when it ends) and
:func:`resolve_into` (the caller owns the scratch folder: ``ledhost dev`` calls it again
on every reload). Both return a :class:`Target`.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from config import is_valid_id
from host.discovery import PluginSpec, discover
from host.errors import HostError
from sdk.hookspecs import ENTRY_POINT_GROUP, PERMISSIONS_GROUP

__all__ = ["Target", "TargetError", "resolve", "resolve_into"]

_DIST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?\Z")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*\Z")


class TargetError(HostError):
    """The target cannot be found or loaded; the message says which and why."""


@dataclass(frozen=True)
class Target:
    """A plugin to run and where it came from."""

    spec: PluginSpec
    #: ``"project"``, ``"installed"`` or ``"wheel"``.
    kind: str
    #: What the user named.
    where: str
    #: Problems found before running it (metadata), one line each; ``ledhost check``
    #: reports them, ``dev`` and ``harness`` run the plugin anyway.
    problems: tuple[str, ...] = ()
    #: Folders whose files changing means "reload" (``ledhost dev``); empty for a wheel or
    #: a plugin installed in an environment (a whole site-packages is never watched).
    watch: tuple[Path, ...] = ()


@contextlib.contextmanager
def resolve(
    what: str, *, plugin_paths: tuple[str, ...] = (), store: Path | None = None
) -> Iterator[Target]:
    """:func:`resolve_into` a throwaway scratch folder, removed when the block ends."""
    scratch = Path(tempfile.mkdtemp(prefix="ledhost-target-"))
    scratch.chmod(0o755)  # a worker that dropped root must read the metadata in it
    try:
        yield resolve_into(what, scratch, plugin_paths=plugin_paths, store=store)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def resolve_into(
    what: str, scratch: Path, *, plugin_paths: tuple[str, ...] = (), store: Path | None = None
) -> Target:
    """Turn ``what`` (a folder, a ``.whl`` or a plugin id) into a :class:`Target`.

    :param scratch: a folder of the caller's for generated metadata or the wheel's
        environment; created if missing (readable by a worker that dropped root).
    :param plugin_paths: more folders holding installed distributions, for ids.
    :param store: the store's root, for installed ids.
    :raises TargetError: naming what is wrong.
    """
    path = Path(what)
    if what.endswith(".whl"):
        return _wheel(path, _made(scratch))
    if path.is_dir():
        return _project(path.resolve(), _made(scratch))
    if is_valid_id(what) and not path.exists():
        return _installed(what, plugin_paths, store)
    raise TargetError(
        f"{what}: is neither a plugin project folder, a wheel (.whl) nor an installed plugin id"
    )


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    return folder


def _installed(plugin_id: str, plugin_paths: tuple[str, ...], store: Path | None) -> Target:
    specs = discover(plugin_paths, store=store)
    spec = specs.get(plugin_id)
    if spec is None:
        raise TargetError(
            f"{plugin_id!r} is neither a plugin project folder nor an installed plugin id: "
            f"no plugin {plugin_id!r} is installed (installed: {', '.join(specs) or 'none'})"
        )
    # A plugin found on a --plugin-path folder reloads when that folder's files change;
    # one installed in an environment is not watched: edit its project folder instead.
    watch: tuple[Path, ...] = ()
    if spec.source == "path":
        watch = tuple(Path(p).resolve() for p in spec.paths if Path(p).is_dir())
    return Target(spec, "installed", plugin_id, watch=watch)


def _project(root: Path, scratch: Path) -> Target:
    pyproject = root / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text())
    except FileNotFoundError:
        raise TargetError(f"{root}: no pyproject.toml; is this a plugin project?") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TargetError(f"{pyproject}: {exc}") from None
    project: dict[str, Any] = data["project"] if isinstance(data.get("project"), dict) else {}
    name, version = project.get("name"), project.get("version", "0")
    if not isinstance(name, str) or not _DIST_NAME.match(name):
        raise TargetError(f"{pyproject}: [project] name is missing or not a distribution name")
    if not isinstance(version, str) or not _VERSION.match(version):
        version = "0"  # dynamic or odd versions: running it does not need the real one
    groups: dict[str, Any] = project.get("entry-points") or {}
    if not isinstance(groups, dict):
        raise TargetError(f"{pyproject}: [project.entry-points] must be a table")
    plugins = groups.get(ENTRY_POINT_GROUP)
    if not isinstance(plugins, dict) or not plugins:
        raise TargetError(
            f'{pyproject}: no [project.entry-points."{ENTRY_POINT_GROUP}"] table; '
            'a plugin declares its id and module there, e.g. my-plugin = "my_plugin"'
        )
    if len(plugins) != 1:
        raise TargetError(f"{pyproject}: one plugin per project (found {', '.join(plugins)})")
    problems = []
    if not str(project.get("description") or "").strip():
        problems.append("pyproject.toml: [project] description is empty (the store shows it)")
    requires = [str(r) for r in project.get("dependencies") or []]
    if not any(r.replace(" ", "").lower().startswith("ledhost") for r in requires):
        problems.append(
            "pyproject.toml: no ledhost requirement (e.g. 'ledhost>=0.1,<1'): the store "
            "cannot tell which ledhost versions it runs on"
        )
    site = scratch / "site"
    shutil.rmtree(site, ignore_errors=True)  # a reload after the version changed
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    site.chmod(0o755)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(_entry_points(pyproject, groups))
    specs = discover([str(site)], environment=False)
    (plugin_id,) = plugins
    spec = specs.get(str(plugin_id))
    if spec is None or spec.source != "path":
        raise TargetError(
            f"{pyproject}: plugin id {plugin_id!r} is not valid, or is a builtin's id"
        )
    source = root / "src" if (root / "src").is_dir() else root
    spec = replace(spec, paths=(*spec.paths, str(source)))
    return Target(spec, "project", str(root), tuple(problems), (root,))


def _entry_points(pyproject: Path, groups: dict[str, Any]) -> str:
    """The ``entry_points.txt`` pip would write, refusing what would not survive as one line."""
    lines = []
    for group in (ENTRY_POINT_GROUP, PERMISSIONS_GROUP):
        table = groups.get(group)
        if not isinstance(table, dict):
            continue
        lines.append(f"[{group}]")
        for key, value in table.items():
            if not isinstance(value, str) or any(c in key + value for c in "\r\n[]="):
                raise TargetError(f"{pyproject}: entry point {key!r} in {group} is not valid")
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


def _wheel(path: Path, scratch: Path) -> Target:
    from config import load_config
    from store.envs import create_env, install_into, site_dir
    from store.errors import StoreError
    from store.settings import from_config
    from store.wheels import inspect_wheel

    if not path.is_file():
        raise TargetError(f"{path}: no such wheel")
    env = scratch / "env"
    try:
        info = inspect_wheel(path)
        if not env.exists():
            create_env(env)
            settings = from_config(load_config(None, secrets_path=False).store)
            install_into(settings, env, str(path))
    except StoreError as exc:
        shutil.rmtree(env, ignore_errors=True)
        raise TargetError(str(exc)) from None
    specs = discover([str(site_dir(env))], environment=False)
    found = [specs[p] for p in info.plugins if p in specs and specs[p].source == "path"]
    if not found:
        raise TargetError(f"{path.name}: its plugin {', '.join(info.plugins)} is a builtin's id")
    problems = []
    if not info.requires_ledhost:
        problems.append(f"{path.name}: no 'Requires-Dist: ledhost ...' (host-version check)")
    return Target(found[0], "wheel", str(path), tuple(problems))
