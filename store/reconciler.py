"""The reconciler's plan: from desired and actual state to a list of operations. Pure.

:func:`plan` compares the ``[store.plugins]`` table (:mod:`config.desired`) with what is
installed (:func:`store.inventory.installed`), the tombstones of removed plugins, the
remembered failures (:mod:`store.failures`) and half-done environments, and returns what
to do, one :class:`Operation` each, in the order to do it. :mod:`store.apply` carries them
out through the queue (:mod:`store.queue`). No I/O, no clock (``now`` is passed in), no
environment (STYLE.md rules 17 and 18): the tables in ``tests/test_store_plan.py`` are
its specification.

The decisions, per plugin of the desired table:

=====================================================  ====================================
state                                                  operation
=====================================================  ====================================
a half-done environment (an install killed midway)     ``cleanup`` it, first, any plugin
a builtin plugin's id                                  ``skip``: the builtin always runs
the entry's source cannot be read                      ``skip``, naming the problem
removed by ``ledhost uninstall`` (tombstone)           ``skip``: never reinstalled from the
                                                       config; ``ledhost install ID`` does
failed unrecoverably for this same entry               ``skip`` until the entry or the
                                                       registry changes
failed recently for this same entry                    ``skip`` until the backoff passes
not installed                                          ``install``
installed from another source                          ``install`` from the new one
installed version outside the entry's specifier        ``rollback`` when the kept previous
                                                       version fits, else ``update``
                                                       (``install`` for a wheel URL/file)
installed and fitting                                  nothing
=====================================================  ====================================

A plugin installed but not in the table is **left alone**: editing the config never
uninstalls (that loses the plugin's environment on a typo, and a plugin installed with
``ledhost install`` needs no entry); ``ledhost uninstall ID`` removes one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, final

from config.desired import REGISTRY, DesiredPlugin
from store.failures import Failure

__all__ = [
    "Action",
    "Desired",
    "InstalledLike",
    "Operation",
    "SourceLike",
    "fingerprint",
    "plan",
]


class Action(StrEnum):
    """What an operation does. The reconciler plans the first five; the CLI runs the
    others through the same queue."""

    INSTALL = "install"
    UPDATE = "update"
    ROLLBACK = "rollback"
    CLEANUP = "cleanup"
    SKIP = "skip"
    UNINSTALL = "uninstall"


@final
@dataclass(frozen=True, slots=True)
class Operation:
    """One step of a plan, and one entry of the history (:mod:`store.queue`)."""

    action: Action
    plugin_id: str
    #: The source as written (``"registry"``, a URL, a file, ``pypi:NAME``); install only.
    source: str = ""
    #: A specifier (install, update), a version (cleanup: the half-done env's), or ``""``.
    version: str = ""
    #: Why, in words for the user; for a skip, also how to change it.
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        """Plain data for the history and ``--json``."""
        return {
            "action": str(self.action),
            "plugin_id": self.plugin_id,
            "source": self.source,
            "version": self.version,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Operation:
        """The inverse of :meth:`to_dict`.

        :raises ValueError: not an operation (a damaged history line).
        """
        try:
            fields = {k: data.get(k, "") for k in ("source", "version", "reason")}
            if not all(isinstance(v, str) for v in fields.values()):
                raise TypeError
            return cls(Action(data["action"]), str(data["plugin_id"]), **fields)
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"not an operation: {dict(data)!r:.200}") from None


class SourceLike(Protocol):
    """What :class:`store.sources.Source` offers the plan."""

    @property
    def kind(self) -> str: ...
    @property
    def ref(self) -> str: ...


class InstalledLike(Protocol):
    """What :class:`store.inventory.Installed` offers the plan."""

    @property
    def version(self) -> str: ...
    @property
    def source(self) -> SourceLike: ...
    @property
    def previous(self) -> str | None: ...


@final
@dataclass(frozen=True, slots=True)
class Desired:
    """One ``[store.plugins]`` entry with its source read (:mod:`store.apply` reads it)."""

    entry: DesiredPlugin
    #: The parsed source; ``None`` when it could not be read (then ``problem`` says why).
    source: SourceLike | None
    problem: str = ""


def fingerprint(entry: DesiredPlugin) -> str:
    """What a failure remembers of the entry it failed for: a change means a new try."""
    return f"{entry.source}|{entry.version}"


def plan(
    desired: Mapping[str, Desired],
    actual: Mapping[str, InstalledLike],
    tombstones: Collection[str],
    failures: Mapping[str, Failure],
    now: float,
    *,
    half_done: Mapping[str, Sequence[str]] | None = None,
    registry: str | None = None,
    builtins: Collection[str] = (),
) -> list[Operation]:
    """Return the operations that bring ``actual`` to ``desired``, in order.

    :param desired: the ``[store.plugins]`` entries by plugin id, in config order.
    :param actual: the complete installed environments by plugin id.
    :param tombstones: ids removed by ``ledhost uninstall`` and not installed again.
    :param failures: remembered failures by plugin id.
    :param now: the current time (seconds since the epoch), for the backoff.
    :param half_done: versions of environments without their completion marker, by id.
    :param registry: the registry index's revision now (``None``: unknown); an
        unrecoverable failure under another revision is tried again.
    :param builtins: the ids of ledhost's own plugins: a builtin id always runs the
        builtin, so a store copy would never run; such an entry is skipped.
    :returns: cleanups first, then per desired plugin at most one operation; skips
        carry the reason and the way out.
    """
    ops = [
        Operation(Action.CLEANUP, pid, version=v, reason="an install or update was cut short")
        for pid, versions in sorted((half_done or {}).items())
        for v in sorted(versions)
    ]
    for plugin_id, want in desired.items():
        if plugin_id in builtins:
            ops.append(
                _skip(
                    plugin_id,
                    f"{plugin_id} is a builtin plugin: it needs no "
                    f"entry (delete [store.plugins].{plugin_id})",
                )
            )
            continue
        op = _plan_one(plugin_id, want, actual.get(plugin_id), tombstones, failures, now, registry)
        if op is not None:
            ops.append(op)
    return ops


def _plan_one(
    plugin_id: str,
    want: Desired,
    have: InstalledLike | None,
    tombstones: Collection[str],
    failures: Mapping[str, Failure],
    now: float,
    registry: str | None,
) -> Operation | None:
    entry = want.entry
    if want.source is None:
        return _skip(plugin_id, f"[store.plugins].{plugin_id}: {want.problem}")
    if have is None and plugin_id in tombstones:
        return _skip(
            plugin_id,
            "removed with `ledhost uninstall`, so the config entry does not bring it back; "
            f"`ledhost install {plugin_id}` does (or delete [store.plugins].{plugin_id})",
        )
    failure = failures.get(plugin_id)
    if failure is not None and failure.fingerprint == fingerprint(entry):
        if failure.permanent and (registry is None or failure.registry in (None, registry)):
            return _skip(
                plugin_id,
                f"failed: {failure.error}; not retried until [store.plugins].{plugin_id} or "
                f"the registry changes (`ledhost install {plugin_id}` tries now)",
            )
        if not failure.permanent and now < failure.retry_at():
            when = datetime.fromtimestamp(failure.retry_at(), UTC).strftime("%Y-%m-%d %H:%M")
            return _skip(
                plugin_id,
                f"failed {failure.count} time(s), last: {failure.error}; next try after "
                f"{when} UTC (`ledhost install {plugin_id}` tries now)",
            )
    install = Operation(Action.INSTALL, plugin_id, entry.source, entry.version)
    if have is None:
        return _with(install, "not installed")
    if not _same_source(plugin_id, want.source, have.source):
        return _with(install, f"installed from {have.source.kind} {have.source.ref!r}")
    if entry.allows(have.version):
        return None
    why = f"installed {have.version} is outside {entry.version}"
    if have.previous is not None and entry.allows(have.previous):
        return Operation(Action.ROLLBACK, plugin_id, version=have.previous, reason=why)
    if want.source.kind in ("url", "file"):
        return _with(install, why)
    return Operation(Action.UPDATE, plugin_id, entry.source, entry.version, why)


def _same_source(plugin_id: str, want: SourceLike, have: SourceLike) -> bool:
    if want.kind == REGISTRY:
        return have.kind == REGISTRY and have.ref == plugin_id
    return (want.kind, want.ref) == (have.kind, have.ref)


def _skip(plugin_id: str, reason: str) -> Operation:
    return Operation(Action.SKIP, plugin_id, reason=reason)


def _with(op: Operation, reason: str) -> Operation:
    return Operation(op.action, op.plugin_id, op.source, op.version, reason)
