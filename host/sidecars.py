"""The host's helper processes as the config says: the web process and the MQTT bridge.

``ledhost run`` starts the web process when ``[web] enabled`` and the MQTT bridge when
``[mqtt] enabled`` (:mod:`host.supervise.web_child` supervises each). Both settings tables
apply live: after a reload that changes ``[web]`` or ``[mqtt]`` (the file edited, the admin
UI's settings page, ``PUT /api/v1/config/mqtt``), :meth:`Sidecars.apply` starts a helper
newly enabled, stops one disabled, and replaces one whose settings changed (the process
reads its settings when it starts, so a new one is the way to apply them). A change of the
bridge's password in the secrets file replaces the bridge too.

The old process is stopped :data:`GRACE` seconds later, not at once: the request that made
the change may have come through the web process itself, and its answer must get out
first. Its successor starts only once it is gone, so a web process on an unchanged port
never finds the port taken.

Interface: ``Sidecars(on_bridge_exit)``, :meth:`~Sidecars.start`,
:meth:`~Sidecars.apply`, :meth:`~Sidecars.tick`, :meth:`~Sidecars.close`; the running
ones as :attr:`~Sidecars.web` and :attr:`~Sidecars.mqtt`.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from config import HostConfig
from host.ipc.control import default_socket_path

if TYPE_CHECKING:
    # Imported where a helper is made: most signs run neither (~2 ms of every start,
    # issue 15; tests/test_lean_host.py keeps them out).
    from host.supervise.web_child import BridgeChild, ChildProcess

__all__ = ["GRACE", "Sidecars"]

log = logging.getLogger(__name__)

#: Seconds a replaced or disabled helper keeps running after the change.
GRACE: Final = 1.0


class Sidecars:
    """The web process and the MQTT bridge of one running host.

    :param on_bridge_exit: told (a sentence) when the bridge exits, since it cannot report
        its own end (the host's status shows it until the bridge is back); told ``None``
        when a disabled bridge has been stopped (the status then has no broker to show).
    """

    def __init__(self, on_bridge_exit: Callable[[str | None], None]) -> None:
        self.on_bridge_exit = on_bridge_exit
        #: The supervised web process, when ``[web] enabled``.
        self.web: ChildProcess | None = None
        #: The supervised MQTT bridge, when ``[mqtt] enabled`` (docs/mqtt.md).
        self.mqtt: ChildProcess | None = None
        #: Replaced or disabled helpers still running, with when to stop each.
        self.retiring: list[tuple[ChildProcess, float]] = []
        #: Process ids of the last bridges stopped here: a report still queued on a
        #: stopped bridge's connection is read after it has gone, and must not count.
        self.stopped_bridges: deque[int] = deque(maxlen=8)

    def start(self, cfg: HostConfig) -> None:
        """Create the helpers ``cfg`` enables; each starts on the next :meth:`tick`."""
        if cfg.web.enabled:
            self.web = self._web(cfg)
        if cfg.mqtt.enabled:
            self.mqtt = self._bridge(cfg)

    def apply(self, old: HostConfig, new: HostConfig, now: float) -> None:
        """Start, stop or replace the helpers whose settings changed, and log it."""
        done: list[str] = []
        if old.web != new.web:
            self.web, what = self._swap(self.web, self._web(new) if new.web.enabled else None, now)
            done += [f"web process {what}"] if what else []
        if old.mqtt != new.mqtt:
            bridge = self._bridge(new) if new.mqtt.enabled else None
            self.mqtt, what = self._swap(self.mqtt, bridge, now)
            done += [f"MQTT bridge {what}"] if what else []
        for line in done:
            log.info("config: %s", line)

    def _swap(
        self, old: ChildProcess | None, new: ChildProcess | None, now: float
    ) -> tuple[ChildProcess | None, str]:
        if old is None and new is None:
            return None, ""
        if old is not None:
            self.retiring.append((old, now + GRACE))
        if new is not None:
            new.restart_at = now + GRACE  # after the old one has gone (tick stops it first)
        what = "started" if old is None else "stopped" if new is None else "restarted"
        return new, what

    def tick(self, now: float) -> None:
        """Stop the retiring helpers that are due, then let the current ones start or
        restart (never waits: a retiring helper is killed and reaped at once)."""
        if self.retiring:
            from host.supervise.web_child import BridgeChild  # loaded: it made the child

            keep: list[tuple[ChildProcess, float]] = []
            for child, when in self.retiring:
                if now >= when:
                    if isinstance(child, BridgeChild) and child.proc is not None:
                        self.stopped_bridges.append(child.proc.pid)
                    child.close()
                    if isinstance(child, BridgeChild) and self.mqtt is None:
                        self.on_bridge_exit(None)
                else:
                    keep.append((child, when))
            self.retiring = keep
        if self.retiring:
            return  # successors wait until their predecessors are gone
        if self.web is not None:
            self.web.tick(now)
        if self.mqtt is not None:
            self.mqtt.tick(now)

    def close(self) -> None:
        """Kill and reap every helper (the host is stopping)."""
        for child in [c for c, _ in self.retiring] + [self.web, self.mqtt]:
            if child is not None:
                child.close()
        self.retiring.clear()
        self.web = self.mqtt = None

    @staticmethod
    def _socket(cfg: HostConfig) -> str:
        return os.path.expanduser(cfg.control.socket or default_socket_path())

    def _web(self, cfg: HostConfig) -> ChildProcess:
        from host.supervise.web_child import WebChild
        from host.system.webuser import web_identity

        return WebChild(cfg.path, self._socket(cfg), web_identity(cfg))

    def _bridge(self, cfg: HostConfig) -> BridgeChild:
        from host.supervise.web_child import BridgeChild
        from host.system.webuser import bridge_identity

        return BridgeChild(
            cfg.path, self._socket(cfg), cfg.mqtt.password, self.on_bridge_exit,
            bridge_identity(cfg),
        )  # fmt: skip
