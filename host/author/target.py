"""What ``ledhost check`` runs: a project folder, an installed plugin id, or a wheel.

Each becomes a :class:`~host.discovery.PluginSpec`, the description the host starts a
worker from, so the check's worker loads the plugin exactly as the host would:

- a **project folder** (``pyproject.toml`` with a ``ledhost.plugins`` entry point): its
  entry points are written as a distribution's metadata into a throwaway folder, the way
  an editable install would, and the worker imports the package from the project (``src/``
  if there is one), so the check sees the files as they are now, without building;
- an **installed id**: discovery as ``ledhost plugins`` does (builtins, the store,
  ledhost's environment);
- a **wheel**: checked as the store checks one (:func:`store.wheels.inspect_wheel`), then
  installed into a throwaway environment as the store builds one (:mod:`store.envs`).

Interface: :func:`resolve` (a context manager; the throwaway folders go when it ends).
"""

from __future__ import annotations

import contextlib
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

__all__ = ["Target", "TargetError", "resolve"]


class TargetError(HostError):
    """The thing to check cannot be found or loaded; the message says which and why."""


@dataclass(frozen=True)
class Target:
    """A plugin to check and where it came from."""

    spec: PluginSpec
    #: ``"project"``, ``"installed"`` or ``"wheel"``.
    kind: str
    #: What the user named.
    where: str
    #: Problems found before running it (metadata), one line each.
    problems: tuple[str, ...] = ()


@contextlib.contextmanager
def resolve(what: str, *, store: Path | None = None) -> Iterator[Target]:
    """Turn ``what`` (a folder, a ``.whl`` or a plugin id) into a :class:`Target`.

    :param store: the store's root, for installed ids.
    :raises TargetError: naming what is wrong.
    """
    path = Path(what)
    scratch = Path(tempfile.mkdtemp(prefix="ledhost-check-"))
    scratch.chmod(0o755)  # a worker that dropped root must read the metadata in it
    try:
        if what.endswith(".whl"):
            yield _wheel(path, scratch)
        elif path.is_dir():
            yield _project(path.resolve(), scratch)
        elif is_valid_id(what) and not path.exists():
            yield _installed(what, store)
        else:
            raise TargetError(
                f"{what}: not a project folder, a wheel (.whl) or an installed plugin id"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _installed(plugin_id: str, store: Path | None) -> Target:
    specs = discover(store=store)
    spec = specs.get(plugin_id)
    if spec is None:
        raise TargetError(f"no plugin {plugin_id!r} is installed (installed: {', '.join(specs)})")
    return Target(spec, "installed", plugin_id)


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
    if not isinstance(name, str) or not name:
        raise TargetError(f"{pyproject}: [project] has no name")
    groups: dict[str, Any] = project.get("entry-points") or {}
    if not isinstance(groups, dict):
        raise TargetError(f"{pyproject}: [project.entry-points] must be a table")
    plugins = groups.get(ENTRY_POINT_GROUP)
    if not isinstance(plugins, dict) or not plugins:
        raise TargetError(
            f'{pyproject}: no [project.entry-points."{ENTRY_POINT_GROUP}"] table; '
            "a plugin declares its id and module there"
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
    dist = name.replace("-", "_")
    info = scratch / "site" / f"{dist}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    text = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in table.items()) + "\n"
        for group, table in groups.items()
        if group in (ENTRY_POINT_GROUP, PERMISSIONS_GROUP) and isinstance(table, dict)
    )
    (info / "entry_points.txt").write_text(text)
    specs = discover([str(scratch / "site")], environment=False)
    (plugin_id,) = plugins
    spec = specs.get(str(plugin_id))
    if spec is None or spec.source != "path":
        raise TargetError(
            f"{pyproject}: plugin id {plugin_id!r} is not valid, or is a builtin's id"
        )
    source = root / "src" if (root / "src").is_dir() else root
    return Target(
        replace(spec, paths=(*spec.paths, str(source))), "project", str(root), tuple(problems)
    )


def _wheel(path: Path, scratch: Path) -> Target:
    from config import load_config
    from store.envs import create_env, install_into, site_dir
    from store.errors import StoreError
    from store.settings import from_config
    from store.wheels import inspect_wheel

    if not path.is_file():
        raise TargetError(f"{path}: no such wheel")
    try:
        info = inspect_wheel(path)
        env = scratch / "env"
        create_env(env)
        install_into(from_config(load_config(None, secrets_path=False).store), env, str(path))
    except StoreError as exc:
        raise TargetError(str(exc)) from None
    specs = discover([str(site_dir(env))], environment=False)
    found = [specs[p] for p in info.plugins if p in specs and specs[p].source == "path"]
    if not found:
        raise TargetError(f"{path.name}: its plugin {', '.join(info.plugins)} is a builtin's id")
    problems = []
    if not info.requires_ledhost:
        problems.append(f"{path.name}: no 'Requires-Dist: ledhost ...' (host-version check)")
    return Target(found[0], "wheel", str(path), tuple(problems))
