"""The worker's conversation with the host once it runs: both directions.

From the host: ``activate``, ``deactivate``, ``configure``, ``action`` and ``stop``,
handled on the main thread by :meth:`MessageMixin.handle`. To the host: the plugin's
requests through :class:`sdk.context.Requests` (redraw, interrupt, release, more time),
which may come from any thread. Action results pass through the secret scrubber like
every other text the worker sends back.

Split from :mod:`host.worker.loop` (see :mod:`host.worker.core` for why as a mixin).
"""

from __future__ import annotations

from host.errors import ProtocolError
from host.ipc.channel import Message, field
from host.worker.refresh import RefreshMixin
from host.worker.render import RenderMixin
from host.worker.secrets import read_only

__all__ = ["MessageMixin"]


class MessageMixin(RenderMixin, RefreshMixin):
    """Host messages in, plugin requests out."""

    # -- requests from the plugin (sdk.context.Requests), any thread ---------------------

    def request_redraw(self, mode: str | None) -> None:
        if mode is None or mode == self.active:
            self._redraw.set()
            self._wake()

    def request_interrupt(self, mode: str, priority: int, seconds: float) -> None:
        self.channel.send(
            {"t": "interrupt", "mode": mode, "priority": int(priority), "seconds": float(seconds)}
        )

    def release_interrupt(self, mode: str) -> None:
        self.channel.send({"t": "release", "mode": mode})

    def request_more_time(self, mode: str, seconds: float) -> None:
        self.channel.send({"t": "dwell", "mode": mode, "seconds": float(seconds)})

    # -- messages from the host, main thread ----------------------------------------------

    def handle(self, message: Message) -> bool:
        """Act on one host message; ``False`` means stop."""
        kind = message["t"]
        if kind == "activate":
            mode = field(message, "mode", str)
            self.token = field(message, "token", int)
            self._set_size(message.get("size"))
            self.for_ticker = message.get("ticker") is True
            if mode not in {m["name"] for m in self.modes}:
                self.channel.send(
                    {"t": "error", "hook": "activate", "message": f"no mode {mode!r}"}
                )
                return True
            self.active = mode
            self._render_active(restart=True)
        elif kind == "deactivate":
            self.active = None
            self.next_due = None
        elif kind == "configure":
            config = field(message, "config", dict)
            self.context.config = config
            secrets = message.get("secrets")
            if isinstance(secrets, dict):
                self.scrubber.remember(secrets)
                self.context.secrets = read_only(secrets)
            self._enter("main", "configure")
            try:
                self.pm.hook.configure(context=self.context, config=config)
            except Exception as exc:
                self.report_error("configure", exc)
            finally:
                self._leave("main")
            self._refresh_wake.set()
            self._update_content()
            if self.active is not None:
                self._render_active(restart=False)
        elif kind == "action":
            self._handle_action(message)
        elif kind == "stop":
            return False
        return True

    def _handle_action(self, message: Message) -> None:
        request_id = message.get("id")
        self._enter("main", "handle_action")
        try:
            result = self.pm.hook.handle_action(
                context=self.context,
                name=field(message, "name", str),
                params=message.get("params") or {},
            )
        except Exception as exc:
            self._leave("main")
            self.report_error("handle_action", exc)
            self.channel.send(
                {
                    "t": "action_result",
                    "id": request_id,
                    "ok": False,
                    "error": self.scrubber.text(f"{type(exc).__name__}: {exc}"),
                }
            )
            return
        self._leave("main")
        try:
            self.channel.send(
                {
                    "t": "action_result",
                    "id": request_id,
                    "ok": True,
                    "result": self.scrubber.data(result),
                }
            )
        except (TypeError, ValueError, ProtocolError) as exc:
            # Encoding failed before anything was queued: say so instead of dying.
            error = TypeError(f"handle_action returned something that is not plain data: {exc}")
            self.report_error("handle_action", error)
            self.channel.send(
                {"t": "action_result", "id": request_id, "ok": False, "error": str(error)}
            )
