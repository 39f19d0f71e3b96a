"""Loading one plugin inside its worker: entry point, hook checks, registrations, logs.

Split from :mod:`host.worker.main` so the worker's loop reads on its own. Everything here runs
in the worker process; a problem the plugin cannot recover from is a :class:`BootError`
carrying the exit status the host will see (see :mod:`host.ipc.exitcodes`).
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
import threading
import time
from typing import Final

import pluggy

from host.ipc import exitcodes, protocol
from host.ipc.channel import Channel
from host.ipc.lograte import LogLimits, RateLimiter, truncate
from sdk import registration
from sdk.registration import ActionInfo, ModeInfo

#: Mode and action names: short, safe in URLs, logs and config keys.


class BootError(Exception):
    """The plugin cannot start; carries the exit status to use."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ChannelLogHandler(logging.Handler):
    """Ships log records to the host, which tags, rate-limits and stores them.

    Not ``multiprocessing-logging``: its ``install_mp_handler()`` needs the ``fork`` start
    method and a queue shared with the parent, and it can hang when processes are created
    while threads run (its README says so) -- exactly what a restarting supervisor does.
    The control channel already exists, so records simply travel on it.

    Records beyond the rate are dropped here, before they are formatted, so a plugin that
    logs in a tight loop spends a bucket check per extra record rather than a format, an
    encode and a socket write. The count of dropped records travels in the ``"dropped"``
    field of the next record sent. The host limits again with the same
    :class:`~host.supervise.plugin_logs.RateLimiter` (see :mod:`host.supervise.plugin_logs`
    for why both ends).

    :param channel: the worker's control channel.
    :param limits: rate, burst, reserve and ``max_message``; the host's defaults if omitted.
    """

    def __init__(
        self, channel: Channel[protocol.HostMessage], limits: LogLimits | None = None
    ) -> None:
        super().__init__()
        self.channel = channel
        self.limits: Final = limits if limits is not None else LogLimits()
        self._limiter = RateLimiter(self.limits)
        # Not Handler.lock: this one is held only around the bucket, never during a send,
        # so a record logged from inside Channel.send on the same thread cannot deadlock.
        self._limit_lock = threading.Lock()
        self._dropped = 0

    @property
    def dropped(self) -> int:
        """Records dropped since the last one sent, not yet reported to the host."""
        return self._dropped

    def emit(self, record: logging.LogRecord) -> None:
        """Send ``record`` to the host, or count it as dropped. Never raises."""
        try:
            with self._limit_lock:
                if not self._limiter.allow(time.monotonic(), record.levelno):
                    self._dropped += 1
                    return
                dropped, self._dropped = self._dropped, 0
            message = protocol.Log(
                level=max(0, min(record.levelno, 100)),
                logger=record.name[:200],
                msg=truncate(self._format(record), self.limits.max_message)[:65536],
                time=record.created,
                dropped=dropped,
            )
            try:
                self.channel.send(message)
            except Exception:
                # Report them with the next record that does get through, if any does.
                with self._limit_lock:
                    self._dropped += dropped + 1
        except Exception:  # noqa: BLE001 - a log line must never kill the worker
            # Not handleError(): it prints to stderr, which StreamToLog feeds back here.
            pass

    def _format(self, record: logging.LogRecord) -> str:
        try:
            return self.format(record)
        except Exception as exc:
            # Usually a plugin bug such as log.info("%d", "x"). Losing the line silently
            # would hide it, so send what there is and say why.
            return (
                f"unformattable log record {record.msg!r} % {record.args!r} "
                f"({type(exc).__name__}: {exc})"
            )


class StreamToLog:
    """Turns a plugin's ``print()`` into log records instead of host console noise."""

    def __init__(self, logger: logging.Logger, level: int) -> None:
        self.logger = logger
        self.level = level
        self._partial = ""

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if line.strip():
                self.logger.log(self.level, line)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def load_plugin(
    pm: pluggy.PluginManager,
    plugin_id: str,
    distribution: str = "",
    location: str = "",
    entry_point: str = "",
    version: str = "",
) -> protocol.Distribution | None:
    """Register the one entry point named ``plugin_id`` and validate its hooks.

    With ``distribution`` and ``location`` (what discovery chose), the entry point comes
    from exactly that distribution: with ``sys.path`` order deciding, a worker could load
    another distribution offering the same id than the one the host listed. With its
    ``entry_point`` value (and ``version``) too, as discovery read them from that
    distribution, the worker loads that value without reading every distribution's
    metadata again: loading imports the same module either way, and a forked worker
    copies fewer of the zygote's pages. Without any, the first found on ``sys.path``
    (pluggy's own loader).

    :returns: the distribution loaded, as the hello reports it (``None`` if unknown).
    :raises BootError: not found, failed to import, or hooks that do not match the specs.
    """
    from sdk.hookspecs import ENTRY_POINT_GROUP

    try:
        if distribution and entry_point:
            ep = importlib.metadata.EntryPoint(plugin_id, entry_point, ENTRY_POINT_GROUP)
            pm.register(ep.load(), name=plugin_id)
            loaded: protocol.Distribution | None = protocol.Distribution(
                name=distribution[:200], version=version[:200]
            )
        elif distribution:
            found = _chosen_entry_point(plugin_id, distribution, location)
            pm.register(found[0].load(), name=plugin_id)
            loaded = found[1]
        else:
            count = pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=plugin_id)
            if count == 0:
                raise BootError(
                    f"no entry point named {plugin_id!r} in group {ENTRY_POINT_GROUP!r}",
                    exitcodes.IMPORT_FAILED,
                )
            loaded = distribution_of(pm)
    except BootError:
        raise
    except pluggy.PluginValidationError as exc:
        raise BootError(f"invalid hook implementation: {exc}", exitcodes.HOOKS_INVALID) from exc
    except Exception as exc:
        raise BootError(
            f"importing the plugin failed: {type(exc).__name__}: {exc}", exitcodes.IMPORT_FAILED
        ) from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise BootError(f"unknown hook: {exc}", exitcodes.HOOKS_INVALID) from exc
    return loaded


def _chosen_entry_point(
    plugin_id: str, distribution: str, location: str
) -> tuple[importlib.metadata.EntryPoint, protocol.Distribution]:
    """The ``plugin_id`` entry point of the distribution named, found at ``location``."""
    from sdk.hookspecs import ENTRY_POINT_GROUP

    wanted = _normalise(distribution)
    dists = (
        importlib.metadata.distributions(path=[location])
        if location
        else importlib.metadata.distributions()
    )
    for dist in dists:
        if _normalise(dist.metadata["Name"] or "") != wanted:
            continue
        for ep in dist.entry_points:
            if ep.group == ENTRY_POINT_GROUP and ep.name == plugin_id:
                name, version = str(dist.metadata["Name"]), str(dist.version)
                return ep, protocol.Distribution(name=name[:200], version=version[:200])
    raise BootError(
        f"no entry point named {plugin_id!r} in group {ENTRY_POINT_GROUP!r} of "
        f"{distribution} (at {location or 'sys.path'})",
        exitcodes.IMPORT_FAILED,
    )


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def make_plugin_manager() -> pluggy.PluginManager:
    """A fresh manager with ledhost's hookspecs (pluggy's eggsample pattern)."""
    from sdk import hookspecs

    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def collect_modes(pm: pluggy.PluginManager) -> list[ModeInfo]:
    """Run ``register_modes`` and check what was registered (:mod:`sdk.registration`).

    :raises BootError: naming the bad registration (exit status ``HOOKS_INVALID``).
    """
    try:
        return registration.collect_modes(
            lambda register: pm.hook.register_modes(register=register)
        )
    except registration.RegistrationError as exc:
        raise BootError(str(exc), exitcodes.HOOKS_INVALID) from exc


def collect_actions(pm: pluggy.PluginManager) -> list[ActionInfo]:
    """Run ``register_actions`` and check what was registered (:mod:`sdk.registration`).

    :raises BootError: naming the bad registration (exit status ``HOOKS_INVALID``).
    """
    try:
        return registration.collect_actions(
            lambda register: pm.hook.register_actions(register=register)
        )
    except registration.RegistrationError as exc:
        raise BootError(str(exc), exitcodes.HOOKS_INVALID) from exc


def exception_text(exc: BaseException) -> str:
    """How a plugin's exception is shown to the user.

    A :class:`sdk.PluginError` is a message the plugin wrote for the user, so it is shown
    as is; anything else is a bug, shown with its type so it can be searched for.
    """
    from sdk.errors import PluginError

    if isinstance(exc, PluginError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def distribution_of(pm: pluggy.PluginManager) -> protocol.Distribution | None:
    """The distribution the plugin was loaded from, as the hello reports it."""
    for _plugin, dist in pm.list_plugin_distributions():
        return protocol.Distribution(
            name=str(dist.metadata["Name"])[:200], version=str(dist.version)[:200]
        )
    return None
