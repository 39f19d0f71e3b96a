"""``ledhost store search|info|list``, ``ledhost install|update|rollback|uninstall``.

Thin: each command reads the config (``--config``, else the embedded one and
``LEDHOST_*`` variables) for the data folder and ``[store]``, calls :mod:`store`, and
prints one line per result (``--json``: JSON). Progress goes to stderr: a bar on a
terminal, one line per stage otherwise. A :class:`~store.errors.StoreError` is one line
and exit status 1.

The "importable by a real worker" check the store needs before switching to a new
version is built here (:func:`worker_verifier`): a describe worker, contained like any
other, started with the new environment's interpreter and path.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from host.errors import HostError

if TYPE_CHECKING:
    from store.operations import Verify

__all__ = ["STORE_COMMANDS", "add_store_parsers", "cmd_store", "worker_verifier", "worker_verify"]

#: The top-level commands this module handles.
STORE_COMMANDS: Final = frozenset({"store", "install", "update", "rollback", "uninstall"})


def add_store_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add the store's commands to ``ledhost``'s subcommands."""
    shared = argparse.ArgumentParser(add_help=False, parents=[common])
    shared.add_argument("--config", type=Path, help="config file (default: the embedded one)")
    shared.add_argument("--json", action="store_true", help="print JSON")

    store = sub.add_parser("store", help="browse the plugin registries and installed plugins")
    actions = store.add_subparsers(dest="store_command", required=True)
    search = actions.add_parser("search", parents=[shared], help="list registry plugins")
    search.add_argument("text", nargs="?", default="", help="words to look for")
    search.add_argument("--refresh", action="store_true", help="fetch the registries now")
    info = actions.add_parser("info", parents=[shared], help="show one registry plugin")
    info.add_argument("plugin_id", metavar="ID")
    actions.add_parser("list", parents=[shared], help="list installed plugins")

    install = sub.add_parser("install", parents=[shared], help="install a plugin")
    install.add_argument("source", metavar="ID|URL|FILE|pypi:NAME")
    install.add_argument("--version", dest="plugin_version", help="install this version")
    update = sub.add_parser("update", parents=[shared], help="update installed plugins")
    update.add_argument("plugin_id", metavar="ID", nargs="?")
    update.add_argument("--all", action="store_true", help="update every installed plugin")
    update.add_argument("--version", dest="plugin_version", help="update to this version")
    rollback = sub.add_parser("rollback", parents=[shared], help="go back to the previous version")
    rollback.add_argument("plugin_id", metavar="ID")
    uninstall = sub.add_parser("uninstall", parents=[shared], help="remove an installed plugin")
    uninstall.add_argument("plugin_id", metavar="ID")


def worker_verifier(cfg: Any) -> Verify:
    """The check that a real worker loads a new environment: a describe worker with the
    worker rules of ``cfg`` (a config file's ``[workers]`` counts). Raises
    :class:`~store.errors.VerifyError` when it cannot load the plugin or finds no mode."""
    from host.app import checked_rules
    from host.cli.probe import describe_plugins
    from host.discovery import installed_spec
    from store.errors import VerifyError

    rules = checked_rules(cfg)

    def verify(entry: Any) -> None:
        spec = installed_spec(entry)
        if spec is None:
            raise VerifyError("its environment has no ledhost.plugins entry point for it")
        result = describe_plugins([spec], rules=rules).get(spec.plugin_id, {})
        if "error" in result:
            raise VerifyError(str(result["error"]))
        if not result.get("modes"):
            raise VerifyError("it registers no mode")

    return verify


def worker_verify(entry: Any) -> None:
    """:func:`worker_verifier` with the embedded config's worker rules."""
    from config import load_config

    worker_verifier(load_config(None, secrets_path=False))(entry)


def cmd_store(ns: argparse.Namespace) -> int:
    """Run one store command; :class:`StoreError` becomes a :class:`HostError` (exit 1)."""
    from store.errors import StoreError

    try:
        return _run(ns)
    except StoreError as exc:
        raise HostError(str(exc)) from None


def _run(ns: argparse.Namespace) -> int:
    from config import load_config
    from store import operations
    from store.inventory import installed
    from store.layout import StorePaths
    from store.settings import from_config
    from store.sources import parse_source

    cfg = load_config(ns.config, secrets_path=False)
    paths = StorePaths.for_data_dir(cfg.paths.data_dir)
    settings = from_config(cfg.store)
    progress = _Progress(sys.stderr, quiet=ns.json)
    worker_check = worker_verifier(cfg)
    if ns.command == "store":
        return _browse(ns, paths, settings)
    if ns.command == "install":
        source = parse_source(ns.source, ns.plugin_version)
        entry = operations.install(paths, settings, source, verify=worker_check, progress=progress)
        return _done(ns, [entry.to_dict()], "installed")
    if ns.command == "update":
        if bool(ns.all) == bool(ns.plugin_id):
            raise HostError("name one plugin to update, or --all")
        ids = sorted(installed(paths)) if ns.all else [ns.plugin_id]
        results = [
            operations.update(
                paths,
                settings,
                pid,
                version=ns.plugin_version,
                verify=worker_check,
                progress=progress,
            ).to_dict()
            for pid in ids
        ]
        return _done(ns, results, "current")
    if ns.command == "rollback":
        return _done(ns, [operations.rollback(paths, ns.plugin_id).to_dict()], "rolled back to")
    operations.uninstall(paths, ns.plugin_id)
    if ns.json:
        print(json.dumps({"uninstalled": ns.plugin_id}))
    else:
        print(f"uninstalled {ns.plugin_id} (a running ledhost stops it at its next reload)")
    return 0


def _done(ns: argparse.Namespace, rows: list[dict[str, Any]], verb: str) -> int:
    if ns.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{verb} {row['id']} {row['version']} (from {row['source']['ref']})")
    return 0


def _browse(ns: argparse.Namespace, paths: Any, settings: Any) -> int:
    from store.inventory import installed
    from store.registry import load_catalog

    if ns.store_command == "list":
        rows = [entry.to_dict() for entry in installed(paths).values()]
        rows += _environment_rows({row["id"] for row in rows})
        if ns.json:
            print(json.dumps(rows, indent=2))
        for row in [] if ns.json else rows:
            prev = f"  (previous {row['previous']})" if row["previous"] else ""
            src = row["source"]
            print(f"{row['id']:<20} {row['version']:<10} {src['kind']}:{src['ref']}{prev}")
        return 0
    catalog = load_catalog(paths, settings, refresh=getattr(ns, "refresh", False))
    for line in catalog.stale + catalog.errors + catalog.problems:
        print(f"ledhost: warning: {line}", file=sys.stderr)
    if ns.store_command == "info":
        entry = catalog.plugins.get(ns.plugin_id)
        if entry is None:
            raise HostError(f"no plugin {ns.plugin_id!r} in the configured registries")
        data = entry.to_dict()
        for version in data["versions"]:
            version["blocked"] = catalog.blocked_reason(entry.id, version["version"])
        if ns.json:
            print(json.dumps(data, indent=2))
        else:
            print(f"{entry.id}: {entry.name} by {entry.author} ({entry.category})")
            print(f"  {entry.description}")
            for v in data["versions"]:
                flag = f"  BLOCKED: {v['blocked']}" if v["blocked"] else ""
                print(f"  {v['version']:<10} ledhost {v['requires_ledhost'] or 'any'}{flag}")
        return 0
    words = ns.text.lower().split()
    found = [
        entry
        for entry in catalog.plugins.values()
        if all(
            w in " ".join((entry.id, entry.name, entry.description, *entry.tags)).lower()
            for w in words
        )
    ]
    if ns.json:
        print(json.dumps({"plugins": [e.to_dict() for e in found], "stale": catalog.stale}))
    else:
        for entry in found:
            newest = entry.versions[0].version
            print(f"{entry.id:<20} {newest:<10} {entry.description}")
    return 0 if not catalog.errors or catalog.plugins else 1


def _environment_rows(known: set[str]) -> list[dict[str, Any]]:
    """Plugins pip-installed into ledhost's own environment: listed, never changed."""
    from host.discovery import discover

    return [
        {
            "id": spec.plugin_id,
            "version": spec.version,
            "distribution": spec.distribution,
            "source": {"kind": "environment", "ref": spec.distribution},
            "previous": None,
        }
        for spec in discover().values()
        if spec.source == "environment" and spec.plugin_id not in known
    ]


class _Progress:
    """Stage lines, and a byte bar for downloads when stderr is a terminal."""

    def __init__(self, stream: Any, *, quiet: bool) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.quiet = quiet

    def __call__(self, event: Any) -> None:
        if self.quiet:
            return
        if event.stage == "download" and not event.message:
            if self.tty:
                total = event.total_bytes
                share = event.done_bytes / total if total else 0.0
                bar = "#" * int(share * 30)
                size = f"{event.done_bytes // 1024} KB"
                self.stream.write(f"\r  download [{bar:<30}] {size}")
                self.stream.flush()
            return
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(f"{event.stage}: {event.message}\n")
        self.stream.flush()
