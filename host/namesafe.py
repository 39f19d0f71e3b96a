"""ledhost's own top-level package names always mean ledhost's own files, here and in workers.

ledhost's packages (:data:`OWN_PACKAGES`) live in the one top-level namespace every
distribution installed beside it shares. A plugin's wheel that ships a ``config`` package
of its own (issue 16: every ``ledhost`` command then died with an ImportError before any
of our code could say why), or a plugin path holding an ``sdk``, would otherwise be
imported in place of ours by whichever comes first on ``sys.path``: in an editable
install ours come last of all (setuptools' editable finder sits behind the path finder).

:class:`OwnPackagesFinder`, first on ``sys.meta_path``, answers for exactly those names
from ledhost's own folder, whatever ``sys.path`` says; every other import is left to the
usual finders, so a plugin environment's own libraries keep winning in its worker.
:func:`install` puts it there: the ``ledhost`` entry point (:mod:`host.cli.entry`) does
before it imports anything else, a worker does before a plugin path reaches ``sys.path``
(:mod:`host.worker.loop`), and a spawned worker's first line does (see
:func:`host.supervise.spawner.worker_command`). :func:`shadowed` says which names a
``sys.path`` lookup would have found elsewhere, so the self-check
(:mod:`store.selfcheck`) can name the distribution and the fix.

What it cannot help: a namesake ``host`` found before ours (``python -m host`` and the
console script import ``host`` before any code of ours runs), and, when ledhost is not
installed editable, a wheel that wrote its ``config/`` into ledhost's own folder (the
same folder: nothing left to choose between). The self-check names both; the store's
install refuses such wheels in the first place.

Standard library only, and nothing of ``host`` but the package itself: it is imported by
a spawned worker's first line, before anything else of ours may be trusted.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Final

#: ledhost's top-level packages (``[tool.setuptools.packages.find]`` in pyproject.toml;
#: ``tests/test_namesafe.py`` keeps the two equal).
OWN_PACKAGES: Final = ("config", "host", "plugins_builtin", "sdk", "store", "web")


def ledhost_root() -> str:
    """The folder holding ledhost's top-level packages (a checkout or a site-packages)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class OwnPackagesFinder(importlib.abc.MetaPathFinder):
    """Finds :data:`OWN_PACKAGES` in ledhost's folder only; declines every other name.

    Submodules need nothing of it: ``config.loader`` is looked up in ``config.__path__``,
    which is ours once ``config`` is.
    """

    def __init__(self, root: str) -> None:
        #: The folder the names are looked up in.
        self.root: Final = root

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in OWN_PACKAGES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, [self.root])
        if spec is None:
            # Never fall through to the other finders: they would find the namesake.
            raise ModuleNotFoundError(
                f"ledhost's own package {fullname!r} is missing from {self.root}: "
                "reinstall ledhost",
                name=fullname,
            )
        return spec

    def __repr__(self) -> str:
        return f"OwnPackagesFinder({self.root!r})"


def install(root: str | None = None) -> OwnPackagesFinder:
    """Put an :class:`OwnPackagesFinder` first on ``sys.meta_path`` (once per process).

    Modules already imported stay as they are: call it before anything imports a name
    that could be shadowed (a forked worker inherits the host's, already right).

    :param root: ledhost's folder; :func:`ledhost_root` if omitted.
    :returns: the finder in place (the one already there, if any).
    """
    for finder in sys.meta_path:
        if isinstance(finder, OwnPackagesFinder):
            if sys.meta_path[0] is not finder:
                sys.meta_path.remove(finder)
                sys.meta_path.insert(0, finder)
            return finder
    finder = OwnPackagesFinder(root or ledhost_root())
    sys.meta_path.insert(0, finder)
    return finder


def shadowed(search_path: Sequence[str] | None = None, root: str | None = None) -> dict[str, str]:
    """Which of our names ``search_path`` (``sys.path``) finds before ledhost's own folder.

    Nothing is imported: only where a plain path lookup would load each name from.

    :returns: ``{name: where the other one is}``, empty when all is well.
    """
    root = os.path.realpath(root or ledhost_root())
    found: dict[str, str] = {}
    for name in OWN_PACKAGES:
        spec = importlib.machinery.PathFinder.find_spec(
            name, list(sys.path if search_path is None else search_path)
        )
        if spec is None:
            continue  # only the editable finder knows it, and that finds ours
        where = _package_dir(spec)
        if where is not None and os.path.dirname(os.path.realpath(where)) != root:
            found[name] = where
    return found


def _package_dir(spec: importlib.machinery.ModuleSpec) -> str | None:
    """The folder of a package (or the file of a module) a spec names."""
    locations = spec.submodule_search_locations
    if locations:
        return str(next(iter(locations)))
    return spec.origin if spec.origin not in (None, "built-in", "frozen") else None
